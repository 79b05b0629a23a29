/* Intel MultiProcessor Specification 1.4 tables: how the guest finds its
 * CPUs and the IOAPIC without ACPI. */
#ifndef SKIFF_VMM_MPTABLE_H
#define SKIFF_VMM_MPTABLE_H

#include <stddef.h>
#include <stdint.h>

#define MPTABLE_MAX_CPUS 254 /* xAPIC IDs 0-253; the IOAPIC takes the next */
#define MPTABLE_ISA_IRQS 16
/* PCI slots 1-31 of bus 0; slot 0 is the host bridge. INTA# of a slot is
 * wired to one of IOAPIC pins 16-23. */
#define MPTABLE_PCI_SLOTS 31
#define MPTABLE_PCI_INTX_GSI(slot) (16u + (slot) % 8u)

/* Bytes mptable_write needs for ncpus. */
size_t mptable_size(unsigned ncpus);

/* Writes the floating pointer and the configuration table into buf, which
 * the guest sees at guest-physical address gpa. Returns the bytes written,
 * or 0 when ncpus is out of range or buf is too small. */
size_t mptable_write(uint8_t *buf, size_t buf_size, uint32_t gpa, unsigned ncpus);

/* The byte sum the spec requires to be zero over a table. */
uint8_t mptable_checksum(const uint8_t *bytes, size_t len);

#endif
