/* KVM's GSI routing table, owned in one place: the default PIC/IOAPIC
 * routes plus one MSI route per device vector, each with an irqfd so a
 * device interrupts the guest by writing an eventfd from any thread. And
 * the interrupt pins, GSIs 0-23 (the UART's ISA IRQ 4, the PCI INTx
 * pins): each a wired-OR of its devices' lines, driven with KVM_IRQ_LINE.
 * No other code calls KVM_IRQ_LINE. */
#ifndef SKIFF_VMM_IRQ_ROUTER_H
#define SKIFF_VMM_IRQ_ROUTER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/ioeventfd.h"
#include "devices/irq.h"
#include "devices/irq_wire.h"

#define IRQ_ROUTER_IOAPIC_PINS 24
#define IRQ_ROUTER_MAX_MSI 256

struct irq_router_msi {
	uint32_t gsi;
	int eventfd;
	uint64_t addr;
	uint32_t data;
};

struct irq_router {
	int vm_fd;
	pthread_mutex_t lock;
	unsigned nr_msi;
	struct irq_router_msi msi[IRQ_ROUTER_MAX_MSI];
	/* KVM_IRQ_LINE has one userspace source per GSI, so devices sharing
	 * a pin are ORed here before KVM sees the pin's level. */
	struct irq_wire pins[IRQ_ROUTER_IOAPIC_PINS];
	/* KVM_CAP_IOEVENTFD_ANY_LENGTH: an ioeventfd matches writes of any
	 * width; without it only 2-byte writes, the width virtio drivers
	 * use. Probed by irq_router_init. */
	bool ioeventfd_any_length;
};

void irq_router_init(struct irq_router *router, int vm_fd);
void irq_router_exit(struct irq_router *router);
struct msi_controller irq_router_msi_controller(struct irq_router *router);

/* Fills *line with a line of its own on pin gsi, which other devices'
 * lines may share (PCI INTx): an ISA IRQ below 16, which reaches the PICs
 * and the IOAPIC, or an IOAPIC pin above. Returns 0, -EINVAL for a GSI
 * that is no IOAPIC pin, or -ENOSPC. */
int irq_router_line(struct irq_router *router, unsigned gsi, struct irq_line *line);

/* KVM ioeventfds in MMIO space, for devices' doorbells. */
struct ioeventfd_controller irq_router_ioeventfd_controller(struct irq_router *router);

#endif
