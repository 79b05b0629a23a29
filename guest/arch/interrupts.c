#include "arch/interrupts.h"

#include "arch/cpu.h"
#include "arch/layout.h"
#include "arch/lapic.h"
#include "kernel/console.h"
#include "kernel/cpus.h"

struct idt_gate {
	uint16_t offset_low;
	uint16_t selector;
	uint8_t ist;
	uint8_t type_attr;
	uint16_t offset_mid;
	uint32_t offset_high;
	uint32_t reserved;
} __attribute__((packed));

struct idt_pointer {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

#define IDT_INTERRUPT_GATE 0x8e /* present, ring 0, 64-bit interrupt gate (IF cleared) */
#define NR_EXCEPTIONS 32

extern const char isr_stubs[];

static struct idt_gate idt[NR_VECTORS] __attribute__((aligned(16)));
static interrupt_handler handlers[NR_VECTORS];
static const char *handler_names[NR_VECTORS];
static uint64_t counts[NR_VECTORS];

static const char *const exception_names[NR_EXCEPTIONS] = {
	"#DE divide error",
	"#DB debug",
	"NMI",
	"#BP breakpoint",
	"#OF overflow",
	"#BR bound range exceeded",
	"#UD invalid opcode",
	"#NM device not available",
	"#DF double fault",
	"coprocessor segment overrun",
	"#TS invalid TSS",
	"#NP segment not present",
	"#SS stack-segment fault",
	"#GP general protection fault",
	"#PF page fault",
	"reserved",
	"#MF x87 floating-point error",
	"#AC alignment check",
	"#MC machine check",
	"#XM SIMD floating-point error",
	"#VE virtualization exception",
	"#CP control protection",
	"reserved",
	"reserved",
	"reserved",
	"reserved",
	"reserved",
	"reserved",
	"#HV hypervisor injection",
	"#VC VMM communication",
	"#SX security exception",
	"reserved",
};

static void idt_set_gate(unsigned vector, uint64_t handler)
{
	idt[vector] = (struct idt_gate){
		.offset_low = (uint16_t)handler,
		.selector = GDT_CODE64,
		.type_attr = IDT_INTERRUPT_GATE,
		.offset_mid = (uint16_t)(handler >> 16),
		.offset_high = (uint32_t)(handler >> 32),
	};
}

void idt_load(void)
{
	struct idt_pointer ptr = {sizeof(idt) - 1, (uint64_t)idt};

	__asm__ volatile("lidt %0" : : "m"(ptr));
}

void idt_init(void)
{
	for (unsigned v = 0; v < NR_VECTORS; v++)
		idt_set_gate(v, (uint64_t)(isr_stubs + v * ISR_STUB_SIZE));
	idt_load();
}

void interrupt_register(uint8_t vector, interrupt_handler handler, const char *name)
{
	handler_names[vector] = name;
	handlers[vector] = handler;
}

uint64_t interrupt_count(uint8_t vector)
{
	return __atomic_load_n(&counts[vector], __ATOMIC_RELAXED);
}

const char *interrupt_name(uint8_t vector)
{
	return handler_names[vector];
}

/* Reports the exception and stops this CPU: the guest has no way to
 * recover from a fault in its own code, and halting keeps the evidence on
 * the console instead of escalating to a triple fault. */
static __attribute__((noreturn)) void exception_halt(const struct interrupt_frame *f)
{
	int cpu = cpus_current_index();

	console_emergency_printf(
		"\nskiff-guest: cpu %d: exception %llu (%s) error 0x%llx\n"
		"  rip 0x%016llx cr2 0x%016llx rsp 0x%016llx rflags 0x%llx cs 0x%llx\n"
		"  rax 0x%016llx rbx 0x%016llx rcx 0x%016llx rdx 0x%016llx\n"
		"  rsi 0x%016llx rdi 0x%016llx rbp 0x%016llx\n"
		"skiff-guest: cpu %d halted\n",
		cpu, (unsigned long long)f->vector, exception_names[f->vector],
		(unsigned long long)f->error_code, (unsigned long long)f->rip,
		(unsigned long long)read_cr2(), (unsigned long long)f->rsp,
		(unsigned long long)f->rflags, (unsigned long long)f->cs,
		(unsigned long long)f->rax, (unsigned long long)f->rbx, (unsigned long long)f->rcx,
		(unsigned long long)f->rdx, (unsigned long long)f->rsi, (unsigned long long)f->rdi,
		(unsigned long long)f->rbp, cpu);
	cpu_halt_forever();
}

void interrupt_dispatch(struct interrupt_frame *frame);

void interrupt_dispatch(struct interrupt_frame *frame)
{
	uint64_t vector = frame->vector;

	if (vector < NR_EXCEPTIONS)
		exception_halt(frame);
	__atomic_fetch_add(&counts[vector], 1, __ATOMIC_RELAXED);
	/* The 8259s are masked and their LINT0 input is off, so these can only
	 * be spurious; they are not LAPIC interrupts and take no EOI. The
	 * LAPIC's own spurious vector takes no EOI either. */
	if ((vector >= VECTOR_PIC_BASE && vector < VECTOR_PIC_BASE + 16) ||
	    vector == VECTOR_SPURIOUS)
		return;
	if (handlers[vector])
		handlers[vector](frame);
	lapic_eoi();
}

void trigger_triple_fault(void)
{
	struct idt_pointer empty = {0, 0};

	irq_disable();
	__asm__ volatile("lidt %0\n\tud2" : : "m"(empty));
	cpu_halt_forever();
}
