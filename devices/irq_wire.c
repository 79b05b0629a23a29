#include "devices/irq_wire.h"

#include <errno.h>
#include <string.h>

void irq_wire_init(struct irq_wire *wire, struct irq_line pin)
{
	memset(wire, 0, sizeof(*wire));
	pthread_mutex_init(&wire->lock, NULL);
	wire->pin = pin;
}

void irq_wire_exit(struct irq_wire *wire)
{
	pthread_mutex_destroy(&wire->lock);
}

static void irq_wire_source_set(void *ctx, unsigned gsi, int level)
{
	struct irq_wire_source *source = ctx;
	struct irq_wire *wire = source->wire;

	pthread_mutex_lock(&wire->lock);
	uint32_t before = wire->asserted;
	if (level)
		wire->asserted |= source->bit;
	else
		wire->asserted &= ~source->bit;
	/* Driven under the lock, so the pin sees the OR's changes in the
	 * order they happened: two sources racing cannot leave it stale. */
	if (!before != !wire->asserted)
		irq_line_set(&wire->pin, wire->asserted != 0);
	pthread_mutex_unlock(&wire->lock);
}

int irq_wire_add_source(struct irq_wire *wire, struct irq_line *line)
{
	int rc = -ENOSPC;

	pthread_mutex_lock(&wire->lock);
	if (wire->nr_sources < IRQ_WIRE_MAX_SOURCES) {
		struct irq_wire_source *source = &wire->sources[wire->nr_sources];
		source->wire = wire;
		source->bit = 1u << wire->nr_sources++;
		*line = (struct irq_line){irq_wire_source_set, source, wire->pin.gsi};
		rc = 0;
	}
	pthread_mutex_unlock(&wire->lock);
	return rc;
}

int irq_wire_level(struct irq_wire *wire)
{
	pthread_mutex_lock(&wire->lock);
	int level = wire->asserted != 0;
	pthread_mutex_unlock(&wire->lock);
	return level;
}
