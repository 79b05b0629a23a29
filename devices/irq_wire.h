/* A level-triggered interrupt wire that several devices drive, as PCI
 * INTx pins are on a real board: a wired-OR. Each source keeps its own
 * level; the wire is asserted while any source is, and only a change of
 * that OR reaches the pin behind it (with KVM, one KVM_IRQ_LINE), so one
 * device lowering its line cannot hide another that still asserts. */
#ifndef SKIFF_DEVICES_IRQ_WIRE_H
#define SKIFF_DEVICES_IRQ_WIRE_H

#include <pthread.h>
#include <stdint.h>

#include "devices/irq.h"

#define IRQ_WIRE_MAX_SOURCES 32 /* one bit each in irq_wire.asserted */

struct irq_wire;

/* What a source's irq_line points at. */
struct irq_wire_source {
	struct irq_wire *wire;
	uint32_t bit;
};

struct irq_wire {
	pthread_mutex_t lock; /* sources change from any thread */
	struct irq_line pin;  /* driven with the OR; starts low */
	uint32_t asserted;    /* one bit per source */
	unsigned nr_sources;
	struct irq_wire_source sources[IRQ_WIRE_MAX_SOURCES];
};

void irq_wire_init(struct irq_wire *wire, struct irq_line pin);
void irq_wire_exit(struct irq_wire *wire);

/* Fills *line with a new source of its own on wire, for one device; its
 * gsi is the pin's. Returns 0, or -ENOSPC when the wire has no more. */
int irq_wire_add_source(struct irq_wire *wire, struct irq_line *line);

/* Whether any source asserts the wire. */
int irq_wire_level(struct irq_wire *wire);

#endif
