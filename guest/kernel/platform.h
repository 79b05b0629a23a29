/* What the firmware tables say about the machine: the CPUs (by local APIC
 * ID), the IOAPICs and how ISA IRQs map onto global system interrupts.
 * Filled from the ACPI MADT, or failing that from an MP table. */
#ifndef GUEST_KERNEL_PLATFORM_H
#define GUEST_KERNEL_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/layout.h"

#define PLATFORM_MAX_IOAPICS 8
#define NR_ISA_IRQS 16

struct platform_ioapic {
	uint8_t id;
	uint32_t base;
	uint32_t gsi_base;
};

struct isa_irq_route {
	uint32_t gsi;
	uint16_t flags; /* IRQ_FLAGS_* from arch/ioapic.h */
};

struct platform {
	const char *source; /* "ACPI MADT", "MP table" or "no tables" */
	uint32_t lapic_base;
	unsigned nr_cpus;
	uint8_t cpu_apic_ids[MAX_CPUS];
	unsigned cpus_ignored; /* disabled, duplicate, or over MAX_CPUS */
	unsigned nr_ioapics;
	struct platform_ioapic ioapics[PLATFORM_MAX_IOAPICS];
	struct isa_irq_route isa_irqs[NR_ISA_IRQS];
};

extern struct platform platform;

/* Fills platform; use_acpi false skips ACPI (cmdline acpi=off), which
 * exercises the MP table path as under Skiff. */
void platform_discover(bool use_acpi, uint64_t rsdp_paddr);

/* Used by the table parsers. */
void platform_add_cpu(uint8_t apic_id);
void platform_add_ioapic(uint8_t id, uint32_t base, uint32_t gsi_base);
void platform_set_isa_irq(uint8_t irq, uint32_t gsi, uint16_t flags);

/* ACPI (kernel/acpi.c) and MP table (kernel/mptable.c) readers; true when
 * the tables were found, valid, and listed at least one CPU. */
bool acpi_discover(uint64_t rsdp_paddr);
bool mptable_discover(void);

/* Shared by both: the byte sum of a table is 0 when its checksum is right. */
bool checksum_ok(const void *table, uint32_t len);
/* Physical address of the extended BIOS data area, or 0 if none is given. */
uint64_t bios_ebda_paddr(void);

#endif
