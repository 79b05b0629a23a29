/* The memory map a guest is given at boot (E820 types). */
#ifndef SKIFF_MM_MEMMAP_H
#define SKIFF_MM_MEMMAP_H

#include <stdint.h>

#include "mm/guest_mem.h"

#define MEMMAP_RAM 1
#define MEMMAP_RESERVED 2

struct memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

/* Fills out[] from the RAM layout, reserving [reserved_start, reserved_end)
 * inside the first region. Returns the number of entries, or 0 when max is
 * too small. */
unsigned memmap_build(const struct guest_mem_region *regions, unsigned nr_regions,
		      uint64_t reserved_start, uint64_t reserved_end, struct memmap_entry *out,
		      unsigned max);

#endif
