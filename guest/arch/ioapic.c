#include "arch/ioapic.h"

#include "arch/cpu.h"
#include "arch/paging.h"

#define MAX_IOAPICS 8

#define REG_SELECT 0x00
#define REG_WINDOW 0x10
#define IOAPIC_VERSION 0x01
#define IOAPIC_REDIRECTION(n) (0x10 + 2 * (n))

#define RTE_ACTIVE_LOW (1u << 13)
#define RTE_LEVEL (1u << 15)
#define RTE_MASKED (1u << 16)

struct ioapic {
	uint64_t base;
	uint32_t gsi_base;
	unsigned nr_inputs;
};

static struct ioapic ioapics[MAX_IOAPICS];
static unsigned nr_ioapics;

static uint32_t ioapic_read(const struct ioapic *io, uint32_t reg)
{
	*(volatile uint32_t *)phys_to_virt(io->base + REG_SELECT) = reg;
	return *(volatile uint32_t *)phys_to_virt(io->base + REG_WINDOW);
}

static void ioapic_write(const struct ioapic *io, uint32_t reg, uint32_t value)
{
	*(volatile uint32_t *)phys_to_virt(io->base + REG_SELECT) = reg;
	*(volatile uint32_t *)phys_to_virt(io->base + REG_WINDOW) = value;
}

static void ioapic_set_entry(const struct ioapic *io, unsigned input, uint32_t low, uint32_t high)
{
	/* Masked while half written, so a stray edge cannot use a mixed entry. */
	ioapic_write(io, IOAPIC_REDIRECTION(input), RTE_MASKED);
	ioapic_write(io, IOAPIC_REDIRECTION(input) + 1, high);
	ioapic_write(io, IOAPIC_REDIRECTION(input), low);
}

void ioapic_add(uint32_t base, uint32_t gsi_base)
{
	if (nr_ioapics == MAX_IOAPICS)
		return;
	struct ioapic *io = &ioapics[nr_ioapics++];
	io->base = base;
	io->gsi_base = gsi_base;
	paging_map_uncached(base);
	io->nr_inputs = ((ioapic_read(io, IOAPIC_VERSION) >> 16) & 0xff) + 1;
	for (unsigned i = 0; i < io->nr_inputs; i++)
		ioapic_set_entry(io, i, RTE_MASKED, 0);
}

bool ioapic_route(uint32_t gsi, uint8_t vector, uint8_t dest_apic_id, uint16_t flags)
{
	for (unsigned i = 0; i < nr_ioapics; i++) {
		const struct ioapic *io = &ioapics[i];
		if (gsi < io->gsi_base || gsi >= io->gsi_base + io->nr_inputs)
			continue;
		uint32_t low = vector; /* fixed delivery, physical destination */
		if ((flags & IRQ_FLAGS_POLARITY_MASK) == IRQ_FLAGS_ACTIVE_LOW)
			low |= RTE_ACTIVE_LOW;
		if ((flags & IRQ_FLAGS_TRIGGER_MASK) == IRQ_FLAGS_LEVEL)
			low |= RTE_LEVEL;
		ioapic_set_entry(io, gsi - io->gsi_base, low, (uint32_t)dest_apic_id << 24);
		return true;
	}
	return false;
}

unsigned ioapic_count(void)
{
	return nr_ioapics;
}
