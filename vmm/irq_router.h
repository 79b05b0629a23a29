/* KVM's GSI routing table, owned in one place: the default PIC/IOAPIC
 * routes plus one MSI route per device vector, each with an irqfd so a
 * device interrupts the guest by writing an eventfd from any thread. */
#ifndef SKIFF_VMM_IRQ_ROUTER_H
#define SKIFF_VMM_IRQ_ROUTER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/irq.h"

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
};

void irq_router_init(struct irq_router *router, int vm_fd);
void irq_router_exit(struct irq_router *router);
struct msi_controller irq_router_msi_controller(struct irq_router *router);

/* Level-triggered line (INTx, ISA IRQs) through KVM_IRQ_LINE. */
void irq_router_set_line(void *router, unsigned gsi, int level);

/* Makes KVM signal fd on guest writes to [addr, addr+len) in MMIO space
 * instead of exiting to us (len 0: any width). */
int irq_router_add_ioeventfd(struct irq_router *router, uint64_t addr, unsigned len, int fd);

#endif
