#include "mm/memmap.h"

static int memmap_add(struct memmap_entry *out, unsigned *n, unsigned max, uint64_t addr,
		      uint64_t size, uint32_t type)
{
	if (size == 0)
		return 0;
	if (*n == max)
		return -1;
	out[(*n)++] = (struct memmap_entry){addr, size, type};
	return 0;
}

unsigned memmap_build(const struct guest_mem_region *regions, unsigned nr_regions,
		      uint64_t reserved_start, uint64_t reserved_end, struct memmap_entry *out,
		      unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < nr_regions; i++) {
		uint64_t start = regions[i].gpa, end = regions[i].gpa + regions[i].size;
		int err = 0;

		if (reserved_start >= start && reserved_end <= end) {
			err |= memmap_add(out, &n, max, start, reserved_start - start, MEMMAP_RAM);
			err |= memmap_add(out, &n, max, reserved_start,
					  reserved_end - reserved_start, MEMMAP_RESERVED);
			err |= memmap_add(out, &n, max, reserved_end, end - reserved_end,
					  MEMMAP_RAM);
		} else {
			err |= memmap_add(out, &n, max, start, end - start, MEMMAP_RAM);
		}
		if (err)
			return 0;
	}
	return n;
}
