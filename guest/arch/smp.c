#include "arch/smp.h"

#include <stdint.h>

#include "arch/cpu.h"
#include "arch/interrupts.h"
#include "arch/lapic.h"
#include "arch/layout.h"
#include "arch/paging.h"
#include "kernel/clock.h"
#include "kernel/console.h"
#include "kernel/cpus.h"
#include "lib/string.h"

/* Matches the mailbox at the end of arch/trampoline.S. */
struct trampoline_mailbox {
	uint32_t cr3;
	uint32_t efer_bits;
	uint64_t stack_top;
	uint64_t cpu_index;
	uint64_t entry;
} __attribute__((packed));

/* The INIT-SIPI-SIPI timings from the MP specification. */
#define INIT_DELAY_US 10000
#define SIPI_DELAY_US 200
/* Long: the APs may be vCPU threads of a host that is itself emulated. */
#define AP_ONLINE_TIMEOUT_US 10000000ULL

extern const char trampoline_start[], trampoline_end[], trampoline_mailbox[];
extern uint32_t boot_efer_bits; /* arch/entry.S */

static uint8_t ap_stacks[MAX_CPUS][STACK_SIZE] __attribute__((aligned(16)));

static struct trampoline_mailbox *mailbox(void)
{
	return phys_to_virt(TRAMPOLINE_ADDR + (uint64_t)(trampoline_mailbox - trampoline_start));
}

static __attribute__((noreturn)) void ap_main(uint64_t cpu_index)
{
	idt_load();
	lapic_init_ap();
	cpus_mark_online((unsigned)cpu_index);
	/* Nothing to do yet but answer interrupts (IPIs, later workloads). */
	for (;;)
		irq_enable_and_halt();
}

static void install_trampoline(void)
{
	memcpy(phys_to_virt(TRAMPOLINE_ADDR), trampoline_start,
	       (size_t)(trampoline_end - trampoline_start));
	struct trampoline_mailbox *mb = mailbox();
	mb->cr3 = (uint32_t)paging_root();
	mb->efer_bits = boot_efer_bits;
	mb->entry = (uint64_t)ap_main;
}

static bool wait_online(unsigned index, uint64_t timeout_us)
{
	uint64_t deadline = clock_ns() + timeout_us * 1000;

	while (!cpus_is_online(index)) {
		if (clock_ns() > deadline)
			return false;
		cpu_relax();
	}
	return true;
}

static bool start_ap(unsigned index)
{
	uint8_t apic_id = cpus_apic_id(index);
	struct trampoline_mailbox *mb = mailbox();

	mb->stack_top = (uint64_t)(ap_stacks[index] + STACK_SIZE);
	mb->cpu_index = index;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);

	if (!lapic_send_init(apic_id))
		return false;
	clock_delay_us(INIT_DELAY_US);
	for (int sipi = 0; sipi < 2 && !cpus_is_online(index); sipi++) {
		lapic_send_startup(apic_id, TRAMPOLINE_SIPI_VECTOR);
		clock_delay_us(SIPI_DELAY_US);
	}
	if (wait_online(index, AP_ONLINE_TIMEOUT_US))
		return true;
	/* Back to wait-for-SIPI, so a late start cannot run on the mailbox
	 * (and stack) of the next CPU. */
	lapic_send_init(apic_id);
	return false;
}

void smp_start_aps(void)
{
	unsigned failed = 0;

	if (cpus_count() < 2)
		return;
	install_trampoline();
	for (unsigned i = 0; i < cpus_count(); i++) {
		if (i == cpus_bsp_index() || start_ap(i))
			continue;
		kprintf("skiff-guest: cpu %u (apic id %u) did not come online\n", i,
			cpus_apic_id(i));
		failed++;
	}
	if (failed)
		kprintf("skiff-guest: %u of %u CPUs failed to start\n", failed, cpus_count());
}
