/* The application-processor start-up trampoline. arch/smp.c copies the
 * bytes between trampoline_start and trampoline_end to TRAMPOLINE_ADDR
 * (below 1 MiB), fills in the mailbox and sends INIT-SIPI-SIPI; the AP
 * starts here in real mode at CS:IP = (TRAMPOLINE_ADDR >> 4):0.
 *
 * The code runs from the copy, not from where it was linked, so every
 * address it uses is written as TRAMPOLINE_ADDR + (label - trampoline_start).
 * Real mode -> 32-bit protected mode -> long mode, using the kernel's own
 * GDT and page tables, then call the C entry with the mailbox's stack and
 * CPU index. */

#include "arch/layout.h"

#define TRAMP(label) (TRAMPOLINE_ADDR + (label) - trampoline_start)

	.section .rodata.trampoline, "a", @progbits
	.balign 16
	.globl trampoline_start, trampoline_end, trampoline_mailbox
	.code16
trampoline_start:
	cli
	cld
	xorw %ax, %ax
	movw %ax, %ds
	lgdtl TRAMP(trampoline_gdt_pointer)
	movl %cr0, %eax
	orl $CR0_PE, %eax
	movl %eax, %cr0
	ljmpl $GDT_CODE32, $TRAMP(trampoline_protected)

	.code32
trampoline_protected:
	movw $GDT_DATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw %ax, %fs
	movw %ax, %gs

	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl TRAMP(mailbox_cr3), %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl TRAMP(mailbox_efer_bits), %eax
	wrmsr
	movl %cr0, %eax
	orl $(CR0_PG | CR0_WP), %eax
	movl %eax, %cr0
	ljmpl $GDT_CODE64, $TRAMP(trampoline_long)

	.code64
trampoline_long:
	movq TRAMP(mailbox_stack_top), %rsp
	movq TRAMP(mailbox_cpu_index), %rdi
	movq TRAMP(mailbox_entry), %rax
	xorl %ebp, %ebp
	/* call, not jmp, so the C function sees an ABI-aligned stack. */
	call *%rax
1:	cli
	hlt
	jmp 1b

	.balign 8
trampoline_gdt_pointer:
	.word GDT_LIMIT
	.long gdt

/* Written by the BSP before each start-up; layout matches struct
 * trampoline_mailbox in arch/smp.c. */
	.balign 8
trampoline_mailbox:
mailbox_cr3:
	.long 0
mailbox_efer_bits:
	.long 0
mailbox_stack_top:
	.quad 0
mailbox_cpu_index:
	.quad 0
mailbox_entry:
	.quad 0
trampoline_end:

	.section .note.GNU-stack, "", @progbits
