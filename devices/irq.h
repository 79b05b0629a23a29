/* An interrupt line from a device to the interrupt controller. Devices see
 * only this, so they can be driven by tests without KVM. */
#ifndef SKIFF_DEVICES_IRQ_H
#define SKIFF_DEVICES_IRQ_H

#include <stdint.h>

struct irq_line {
	void (*set_level)(void *ctx, unsigned gsi, int level);
	void *ctx;
	unsigned gsi;
};

static inline void irq_line_set(const struct irq_line *line, int level)
{
	if (line->set_level)
		line->set_level(line->ctx, line->gsi, level);
}

/* Message-signalled interrupts: a device owns routes, each turning a
 * trigger into the MSI (address, data) last programmed. With KVM a route is
 * a GSI routing entry plus an irqfd, so triggering is one eventfd write. */
struct msi_controller {
	int (*alloc)(void *ctx); /* a new route id, or -errno */
	int (*update)(void *ctx, int route, uint64_t addr, uint32_t data);
	void (*trigger)(void *ctx, int route);
	void *ctx;
};

#endif
