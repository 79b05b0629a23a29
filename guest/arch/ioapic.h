/* I/O APICs: routing a global system interrupt (GSI) to a CPU vector. */
#ifndef GUEST_ARCH_IOAPIC_H
#define GUEST_ARCH_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>

#define IOAPIC_DEFAULT_BASE 0xfec00000U

/* Polarity and trigger as ACPI and the MP table encode them (MPS INTI
 * flags): bits 0-1 polarity, bits 2-3 trigger; 0 means "as the bus says",
 * which for ISA is active high, edge. */
#define IRQ_FLAGS_POLARITY_MASK 0x3
#define IRQ_FLAGS_ACTIVE_LOW 0x3
#define IRQ_FLAGS_TRIGGER_MASK 0xc
#define IRQ_FLAGS_LEVEL 0xc

/* Registers an IOAPIC, maps it uncached and masks all its inputs. */
void ioapic_add(uint32_t base, uint32_t gsi_base);
/* Routes gsi to vector on the CPU with dest_apic_id, unmasked. false when
 * no IOAPIC serves that GSI. */
bool ioapic_route(uint32_t gsi, uint8_t vector, uint8_t dest_apic_id, uint16_t flags);
unsigned ioapic_count(void);

#endif
