/* The VM's PCI side: the host bridge, the virtio devices the config asks
 * for, and their wiring to KVM (ioeventfds, irqfds) and the I/O thread. */
#ifndef SKIFF_VMM_VM_PCI_H
#define SKIFF_VMM_VM_PCI_H

#include <stddef.h>

struct vm;

/* The 32-bit PCI hole: BARs go between the top of low RAM and the IOAPIC. */
#define VM_PCI_MMIO_BASE 0xc0000000ULL
#define VM_PCI_MMIO_END 0xfec00000ULL
#define VM_PCI_PIO_BASE 0xc000
#define VM_PCI_PIO_END 0x10000

/* Returns 0 or an exit status with err set. */
int vm_pci_create(struct vm *vm, char *err, size_t err_size);
void vm_pci_destroy(struct vm *vm);

#endif
