#include "devices/bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void bus_init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
}

void bus_destroy(struct bus *bus)
{
	free(bus->ranges);
	bus->ranges = NULL;
	bus->nr_ranges = bus->cap = 0;
}

/* Index of the first range whose end lies above addr. */
static size_t bus_lower_bound(const struct bus *bus, uint64_t addr)
{
	size_t lo = 0, hi = bus->nr_ranges;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &bus->ranges[mid];
		if (r->base + r->len <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct bus_ops *ops,
		 void *opaque)
{
	uint64_t end;

	if (len == 0 || !ops || __builtin_add_overflow(base, len, &end))
		return -EINVAL;
	size_t at = bus_lower_bound(bus, base);
	if (at < bus->nr_ranges && bus->ranges[at].base < end)
		return -EEXIST;
	if (bus->nr_ranges == bus->cap) {
		size_t cap = bus->cap ? bus->cap * 2 : 16;
		struct bus_range *grown = realloc(bus->ranges, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		bus->ranges = grown;
		bus->cap = cap;
	}
	memmove(&bus->ranges[at + 1], &bus->ranges[at],
		(bus->nr_ranges - at) * sizeof(bus->ranges[0]));
	bus->ranges[at] = (struct bus_range){base, len, ops, opaque};
	bus->nr_ranges++;
	return 0;
}

const struct bus_range *bus_find(const struct bus *bus, uint64_t addr, uint32_t len)
{
	uint64_t end;

	if (len == 0 || __builtin_add_overflow(addr, (uint64_t)len, &end))
		return NULL;
	size_t at = bus_lower_bound(bus, addr);
	if (at == bus->nr_ranges)
		return NULL;
	const struct bus_range *r = &bus->ranges[at];
	if (addr < r->base || end > r->base + r->len)
		return NULL;
	return r;
}

bool bus_read(const struct bus *bus, uint64_t addr, uint8_t *data, uint32_t len)
{
	const struct bus_range *r = bus_find(bus, addr, len);

	if (!r || !r->ops->read) {
		memset(data, 0xff, len);
		return r != NULL;
	}
	memset(data, 0, len);
	r->ops->read(r->opaque, addr - r->base, data, len);
	return true;
}

bool bus_write(const struct bus *bus, uint64_t addr, const uint8_t *data, uint32_t len)
{
	const struct bus_range *r = bus_find(bus, addr, len);

	if (!r)
		return false;
	if (r->ops->write)
		r->ops->write(r->opaque, addr - r->base, data, len);
	return true;
}
