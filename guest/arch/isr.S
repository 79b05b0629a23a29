/* Interrupt entry stubs: one per vector, each ISR_STUB_SIZE bytes apart so
 * the IDT can be filled as isr_stubs + vector * ISR_STUB_SIZE. Each stub
 * makes the stack look the same (a dummy error code where the CPU pushes
 * none, then the vector number) and jumps to isr_common, which saves the
 * general registers and calls interrupt_dispatch(struct interrupt_frame *). */

#include "arch/layout.h"

	.text
	.code64
	.balign ISR_STUB_SIZE
	.globl isr_stubs
isr_stubs:
	.set vector, 0
	.rept NR_VECTORS
	.balign ISR_STUB_SIZE
	/* The exceptions for which the CPU pushes an error code. */
	.if vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21 || vector == 29 || vector == 30
	pushq $vector
	.else
	pushq $0
	pushq $vector
	.endif
	jmp isr_common
	.set vector, vector + 1
	.endr
	/* linker.ld checks that no stub outgrew ISR_STUB_SIZE. */
	.balign ISR_STUB_SIZE
	.globl isr_stubs_end
isr_stubs_end:

/* The push order here is the reverse of struct interrupt_frame's fields
 * (arch/interrupts.h). 15 registers + vector + error code + the CPU's 5
 * words keep %rsp 16-byte aligned at the call. */
isr_common:
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, %rdi
	cld
	call interrupt_dispatch
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	addq $16, %rsp          /* vector and error code */
	iretq

	.section .note.GNU-stack, "", @progbits
