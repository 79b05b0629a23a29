/* The bundled guest kernel, linked into the skiff binary so that
 * `skiff run` with no --kernel needs no file beside it. */
	.section .rodata.skiff_bundled_guest, "a"
	.balign 16
	.globl skiff_bundled_guest_start
skiff_bundled_guest_start:
	.incbin SKIFF_BUNDLED_GUEST
	.globl skiff_bundled_guest_end
skiff_bundled_guest_end:

	.section .note.GNU-stack, "", @progbits
