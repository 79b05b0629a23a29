/* PVH entry. The VMM (or QEMU's PVH option ROM) jumps to pvh_start32 in
 * 32-bit protected mode with paging off, flat segments and %ebx holding the
 * physical address of struct hvm_start_info. This file loads our own GDT,
 * zeroes .bss, identity-maps the first 4 GiB with 2 MiB pages, enters long
 * mode and calls kernel_main(start_info_paddr). */

#include "arch/layout.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define PTE_PRESENT 0x001
#define PTE_WRITE 0x002
#define PTE_LARGE 0x080
#define IDENTITY_MAP_GIB 4

/* The ELF note that makes this a PVH kernel: name "Xen", type 18, and the
 * 32-bit physical entry address as its descriptor. */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4                 /* name size, "Xen\0" */
	.long 4                 /* descriptor size */
	.long XEN_ELFNOTE_PHYS32_ENTRY
	.asciz "Xen"
	.long pvh_start32

	.section .text.entry32, "ax", @progbits
	.code32
	.globl pvh_start32
pvh_start32:
	cli
	cld
	/* Kept in .data: the .bss clearing below must not wipe it. */
	movl %ebx, boot_start_info_paddr

	lgdt gdt_pointer
	ljmp $GDT_CODE32, $1f
1:	movw $GDT_DATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw %ax, %fs
	movw %ax, %gs

	/* Loaders zero .bss, but nothing in the PVH ABI promises it. */
	movl $__bss_start, %edi
	movl $__bss_end, %ecx
	subl %edi, %ecx
	xorl %eax, %eax
	rep stosb
	movl $bsp_stack_top, %esp

	call check_long_mode
	call build_identity_map

	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl boot_efer_bits, %eax
	wrmsr
	movl %cr0, %eax
	orl $(CR0_PG | CR0_WP | CR0_PE), %eax
	movl %eax, %cr0
	ljmp $GDT_CODE64, $long_mode_start

/* Stops with a message on COM1 if the CPU cannot run 64-bit code, and
 * chooses the EFER bits (LME, plus NXE when available) that every CPU sets. */
check_long_mode:
	movl $0x80000000, %eax
	cpuid
	cmpl $0x80000001, %eax
	jb no_long_mode
	movl $0x80000001, %eax
	cpuid
	btl $29, %edx
	jnc no_long_mode
	movl $EFER_LME, %eax
	btl $20, %edx
	jnc 1f
	orl $EFER_NXE, %eax
1:	movl %eax, boot_efer_bits
	ret

no_long_mode:
	movl $no_long_mode_msg, %esi
1:	lodsb
	testb %al, %al
	jz 2f
	movw $0x3f8, %dx
	outb %al, %dx
	jmp 1b
2:	cli
	hlt
	jmp 2b

/* pml4[0] -> pdpt; pdpt[0..3] -> pd[0..3]; each pd entry maps 2 MiB.
 * The upper halves of all entries stay zero (cleared with .bss). The
 * LAPIC/IOAPIC pages are made uncached later, from C (arch/paging.c). */
build_identity_map:
	movl $(pdpt + PTE_PRESENT + PTE_WRITE), %eax
	movl %eax, pml4

	movl $pdpt, %edi
	movl $(pd + PTE_PRESENT + PTE_WRITE), %eax
	movl $IDENTITY_MAP_GIB, %ecx
1:	movl %eax, (%edi)
	addl $0x1000, %eax
	addl $8, %edi
	loop 1b

	movl $pd, %edi
	movl $(PTE_PRESENT + PTE_WRITE + PTE_LARGE), %eax
	movl $(IDENTITY_MAP_GIB * 512), %ecx
2:	movl %eax, (%edi)
	addl $0x200000, %eax
	addl $8, %edi
	loop 2b
	ret

	.code64
long_mode_start:
	movw $GDT_DATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	xorl %eax, %eax
	movw %ax, %fs
	movw %ax, %gs
	movq $bsp_stack_top, %rsp
	xorl %ebp, %ebp
	movl boot_start_info_paddr, %edi
	call kernel_main
1:	cli
	hlt
	jmp 1b

	.section .rodata
no_long_mode_msg:
	.asciz "skiff-guest: this CPU has no long mode; halting\r\n"

	.section .data
	.balign 16
/* The only GDT, shared by every CPU and by the AP trampoline. The accessed
 * bits are preset so the CPU never needs to write to it. */
	.globl gdt, gdt_end
gdt:
	.quad 0                         /* null */
	.quad 0x00cf9b000000ffff        /* GDT_CODE32: flat 4 GiB, 32-bit */
	.quad 0x00cf93000000ffff        /* GDT_DATA: flat 4 GiB, writable */
	.quad 0x00af9b000000ffff        /* GDT_CODE64: long mode */
gdt_end:
	.if gdt_end - gdt != GDT_ENTRIES * 8
	.error "GDT_ENTRIES in arch/layout.h does not match the table"
	.endif

	.balign 8
	.globl gdt_pointer
gdt_pointer:
	.word GDT_LIMIT
	.quad gdt

	.balign 4
	.globl boot_start_info_paddr, boot_efer_bits
boot_start_info_paddr:
	.long 0
boot_efer_bits:
	.long 0

	.section .bss
	.balign 4096
	.globl pml4, pdpt, pd
pml4:
	.skip 4096
pdpt:
	.skip 4096
pd:
	.skip 4096 * IDENTITY_MAP_GIB

	.balign 16
	.globl bsp_stack_top
bsp_stack:
	.skip STACK_SIZE
bsp_stack_top:

	.section .note.GNU-stack, "", @progbits
