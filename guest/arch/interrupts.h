/* The IDT, interrupt dispatch and exception reporting. */
#ifndef GUEST_ARCH_INTERRUPTS_H
#define GUEST_ARCH_INTERRUPTS_H

#include <stdint.h>

/* What arch/isr.S leaves on the stack: the registers it pushed (in reverse
 * order), the vector and error code from the stub, then the CPU's frame. */
struct interrupt_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error_code;
	uint64_t rip, cs, rflags, rsp, ss;
};

typedef void (*interrupt_handler)(struct interrupt_frame *frame);

/* Fills the IDT and loads it on the calling CPU (the BSP). */
void idt_init(void);
/* Loads the already-filled IDT on an AP. */
void idt_load(void);
/* Installs the handler for an external or IPI vector (32-255); name is for
 * the irqs command. The dispatcher sends the LAPIC EOI after it returns. */
void interrupt_register(uint8_t vector, interrupt_handler handler, const char *name);
/* How often vector was taken (on all CPUs), and its handler's name (NULL
 * if it has no handler). */
uint64_t interrupt_count(uint8_t vector);
const char *interrupt_name(uint8_t vector);
/* Loads an empty IDT and raises an exception: the CPU cannot deliver it,
 * nor the double fault that follows, and shuts down (a triple fault). */
__attribute__((noreturn)) void trigger_triple_fault(void);

#endif
