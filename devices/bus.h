/* An address space (port I/O or MMIO) split into device ranges.
 *
 * Ranges are registered while the VM is being built, before any vCPU runs,
 * and never change afterwards; dispatch therefore takes no lock. A device
 * that keeps state serialises its own accesses. */
#ifndef SKIFF_DEVICES_BUS_H
#define SKIFF_DEVICES_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bus_ops {
	const char *name;
	/* offset is relative to the start of the registered range; len is 1,
	 * 2, 4 or 8 and offset+len lies inside the range. read fills data,
	 * which arrives zero-filled. */
	void (*read)(void *opaque, uint64_t offset, uint8_t *data, uint32_t len);
	void (*write)(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len);
};

struct bus_range {
	uint64_t base;
	uint64_t len;
	const struct bus_ops *ops;
	void *opaque;
};

struct bus {
	const char *name;	  /* "pio" or "mmio", for messages */
	struct bus_range *ranges; /* sorted by base, never overlapping */
	size_t nr_ranges;
	size_t cap;
};

void bus_init(struct bus *bus, const char *name);
void bus_destroy(struct bus *bus);

/* Returns 0, -EEXIST when [base, base+len) overlaps a registered range,
 * -EINVAL for an empty or wrapping range, -ENOMEM. */
int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct bus_ops *ops,
		 void *opaque);

/* The range holding the whole access [addr, addr+len), or NULL. */
const struct bus_range *bus_find(const struct bus *bus, uint64_t addr, uint32_t len);

/* Dispatch one access. An access no device claims reads as all ones (an
 * undriven bus) and its writes are dropped; both return false. */
bool bus_read(const struct bus *bus, uint64_t addr, uint8_t *data, uint32_t len);
bool bus_write(const struct bus *bus, uint64_t addr, const uint8_t *data, uint32_t len);

#endif
