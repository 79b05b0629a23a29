/* The VM's PCI side: the host bridge, the virtio devices the config asks
 * for, and their wiring to KVM (ioeventfds, irqfds) and the I/O thread. */
#ifndef SKIFF_VMM_VM_PCI_H
#define SKIFF_VMM_VM_PCI_H

#include <stddef.h>

#include "devices/irq.h"
#include "devices/pci.h"
#include "vmm/irq_router.h"

struct vm;

/* The 32-bit PCI hole: BARs go between the top of low RAM and the IOAPIC. */
#define VM_PCI_MMIO_BASE 0xc0000000ULL
#define VM_PCI_MMIO_END 0xfec00000ULL
#define VM_PCI_PIO_BASE 0xc000
#define VM_PCI_PIO_END 0x10000

/* Returns 0 or an exit status with err set. */
int vm_pci_create(struct vm *vm, char *err, size_t err_size);
void vm_pci_destroy(struct vm *vm);

/* Where the next PCI function goes and the INTx line it drives. */
struct vm_pci_slot {
	unsigned slot;
	struct irq_line intx; /* a source of its own on the slot's pin */
};

/* Picks the next free slot and wires a line for it to the IOAPIC pin the
 * MP table names for that slot. The slot and the pin come from here
 * together: the caller builds the device with next->intx and puts it in
 * next->slot with pci_host_add_at, which refuses any other slot, so the
 * pin a device raises is always the one the guest was told. Returns 0 or
 * a negative errno. */
int vm_pci_next_slot(struct pci_host *pci, struct irq_router *irqs, struct vm_pci_slot *next);

#endif
