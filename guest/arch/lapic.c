#include "arch/lapic.h"

#include "arch/cpu.h"
#include "arch/interrupts.h"
#include "arch/layout.h"
#include "arch/paging.h"

#define MSR_APIC_BASE 0x1b
#define APIC_BASE_ENABLE (1u << 11)
#define APIC_BASE_X2APIC (1u << 10)

#define REG_ID 0x020
#define REG_TPR 0x080
#define REG_EOI 0x0b0
#define REG_SVR 0x0f0
#define REG_ESR 0x280
#define REG_ICR_LOW 0x300
#define REG_ICR_HIGH 0x310
#define REG_LVT_TIMER 0x320
#define REG_LVT_LINT0 0x350
#define REG_LVT_LINT1 0x360
#define REG_LVT_ERROR 0x370
#define REG_TIMER_INITIAL 0x380
#define REG_TIMER_CURRENT 0x390
#define REG_TIMER_DIVIDE 0x3e0

#define SVR_ENABLE 0x100
#define LVT_MASKED (1u << 16)
#define LVT_TIMER_PERIODIC (1u << 17)
#define LVT_DELIVERY_NMI (4u << 8)
#define TIMER_DIVIDE_BY_16 0x3

#define ICR_INIT 0x00000500
#define ICR_STARTUP 0x00000600
#define ICR_LEVEL_ASSERT 0x00004000
#define ICR_DELIVERY_PENDING 0x00001000
#define ICR_SPIN_LIMIT 100000 /* reads; emulated LAPICs clear the bit at once */

static uint64_t lapic_base = LAPIC_DEFAULT_BASE;

static uint32_t lapic_read(uint32_t reg)
{
	return *(volatile uint32_t *)phys_to_virt(lapic_base + reg);
}

static void lapic_write(uint32_t reg, uint32_t value)
{
	*(volatile uint32_t *)phys_to_virt(lapic_base + reg) = value;
}

/* Firmware may hand over in x2APIC mode, where the MMIO window is dead.
 * x2APIC can only be left through the disabled state. */
static void lapic_force_xapic_mode(uint32_t base)
{
	uint64_t msr = rdmsr(MSR_APIC_BASE);

	if (msr & APIC_BASE_X2APIC) {
		msr &= ~(uint64_t)(APIC_BASE_X2APIC | APIC_BASE_ENABLE);
		wrmsr(MSR_APIC_BASE, msr);
	}
	msr = (msr & 0xfffULL & ~(uint64_t)APIC_BASE_X2APIC) | base | APIC_BASE_ENABLE;
	wrmsr(MSR_APIC_BASE, msr);
}

static void lapic_error_interrupt(struct interrupt_frame *frame)
{
	(void)frame;
	/* The ESR latches on a write; nothing to do but clear it. */
	lapic_write(REG_ESR, 0);
}

/* The settings every CPU makes: accept all priorities, local interrupt 0
 * (the 8259 path) off, LINT1 as NMI, errors to their own vector, and the
 * spurious vector with the enable bit. */
static void lapic_enable_local(void)
{
	lapic_write(REG_TPR, 0);
	lapic_write(REG_LVT_LINT0, LVT_MASKED);
	lapic_write(REG_LVT_LINT1, LVT_DELIVERY_NMI);
	lapic_write(REG_LVT_ERROR, VECTOR_LAPIC_ERROR);
	lapic_write(REG_LVT_TIMER, LVT_MASKED);
	lapic_write(REG_ESR, 0);
	lapic_write(REG_SVR, SVR_ENABLE | VECTOR_SPURIOUS);
}

void lapic_init_bsp(uint32_t base)
{
	lapic_base = base ? base : LAPIC_DEFAULT_BASE;
	paging_map_uncached(lapic_base);
	lapic_force_xapic_mode((uint32_t)lapic_base);
	interrupt_register(VECTOR_LAPIC_ERROR, lapic_error_interrupt, "lapic error");
	lapic_enable_local();
}

void lapic_init_ap(void)
{
	lapic_force_xapic_mode((uint32_t)lapic_base);
	lapic_enable_local();
}

uint8_t lapic_id(void)
{
	return (uint8_t)(lapic_read(REG_ID) >> 24);
}

void lapic_eoi(void)
{
	lapic_write(REG_EOI, 0);
}

static bool lapic_send_ipi(uint8_t apic_id, uint32_t command)
{
	lapic_write(REG_ESR, 0);
	lapic_write(REG_ICR_HIGH, (uint32_t)apic_id << 24);
	lapic_write(REG_ICR_LOW, command); /* this write sends it */
	for (long i = 0; i < ICR_SPIN_LIMIT; i++) {
		if (!(lapic_read(REG_ICR_LOW) & ICR_DELIVERY_PENDING))
			return true;
		cpu_relax();
	}
	return false;
}

bool lapic_send_init(uint8_t apic_id)
{
	return lapic_send_ipi(apic_id, ICR_INIT | ICR_LEVEL_ASSERT);
}

bool lapic_send_startup(uint8_t apic_id, uint8_t page)
{
	return lapic_send_ipi(apic_id, ICR_STARTUP | ICR_LEVEL_ASSERT | page);
}

void lapic_timer_start_oneshot(uint32_t count)
{
	lapic_write(REG_TIMER_DIVIDE, TIMER_DIVIDE_BY_16);
	lapic_write(REG_LVT_TIMER, LVT_MASKED | VECTOR_LAPIC_TIMER);
	lapic_write(REG_TIMER_INITIAL, count);
}

uint32_t lapic_timer_current(void)
{
	return lapic_read(REG_TIMER_CURRENT);
}

void lapic_timer_start_periodic(uint32_t count, uint8_t vector)
{
	lapic_write(REG_TIMER_DIVIDE, TIMER_DIVIDE_BY_16);
	lapic_write(REG_LVT_TIMER, LVT_TIMER_PERIODIC | vector);
	lapic_write(REG_TIMER_INITIAL, count);
}

void lapic_timer_stop(void)
{
	lapic_write(REG_LVT_TIMER, LVT_MASKED);
	lapic_write(REG_TIMER_INITIAL, 0);
}
