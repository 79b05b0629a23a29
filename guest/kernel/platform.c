#include "kernel/platform.h"

#include "arch/cpu.h"
#include "arch/ioapic.h"
#include "arch/lapic.h"
#include "lib/string.h"

#define BDA_EBDA_SEGMENT 0x40e
#define EBDA_LOWEST 0x80000
#define EBDA_END 0xa0000

struct platform platform;

void platform_add_cpu(uint8_t apic_id)
{
	for (unsigned i = 0; i < platform.nr_cpus; i++) {
		if (platform.cpu_apic_ids[i] == apic_id) {
			platform.cpus_ignored++;
			return;
		}
	}
	if (platform.nr_cpus == MAX_CPUS) {
		platform.cpus_ignored++;
		return;
	}
	platform.cpu_apic_ids[platform.nr_cpus++] = apic_id;
}

void platform_add_ioapic(uint8_t id, uint32_t base, uint32_t gsi_base)
{
	if (platform.nr_ioapics == PLATFORM_MAX_IOAPICS)
		return;
	platform.ioapics[platform.nr_ioapics++] =
		(struct platform_ioapic){.id = id, .base = base, .gsi_base = gsi_base};
}

void platform_set_isa_irq(uint8_t irq, uint32_t gsi, uint16_t flags)
{
	if (irq < NR_ISA_IRQS)
		platform.isa_irqs[irq] = (struct isa_irq_route){gsi, flags};
}

bool checksum_ok(const void *table, uint32_t len)
{
	const uint8_t *p = table;
	uint8_t sum = 0;

	for (uint32_t i = 0; i < len; i++)
		sum += p[i];
	return sum == 0;
}

uint64_t bios_ebda_paddr(void)
{
	uint64_t ebda = (uint64_t) * (volatile uint16_t *)phys_to_virt(BDA_EBDA_SEGMENT) << 4;

	/* Without a BIOS the word is whatever the VMM left there (Skiff: 0). */
	return ebda >= EBDA_LOWEST && ebda < EBDA_END ? ebda : 0;
}

/* Back to a blank slate when a parser gave up half way. */
static void platform_reset(void)
{
	memset(&platform, 0, sizeof(platform));
	platform.lapic_base = LAPIC_DEFAULT_BASE;
	/* ISA IRQs are identity-mapped, edge, active high unless overridden. */
	for (uint8_t irq = 0; irq < NR_ISA_IRQS; irq++)
		platform.isa_irqs[irq] = (struct isa_irq_route){irq, 0};
}

void platform_discover(bool use_acpi, uint64_t rsdp_paddr)
{
	platform_reset();
	if (use_acpi && acpi_discover(rsdp_paddr)) {
		platform.source = "ACPI MADT";
		return;
	}
	platform_reset();
	if (mptable_discover()) {
		platform.source = "MP table";
		return;
	}
	/* Nothing to go on: this CPU alone, and the IOAPIC where PCs have it. */
	platform_reset();
	platform.source = "no tables";
	platform_add_cpu(lapic_id());
	platform_add_ioapic(0, IOAPIC_DEFAULT_BASE, 0);
}
