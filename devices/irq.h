/* An interrupt line from a device to the interrupt controller. Devices see
 * only this, so they can be driven by tests without KVM. */
#ifndef SKIFF_DEVICES_IRQ_H
#define SKIFF_DEVICES_IRQ_H

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

#endif
