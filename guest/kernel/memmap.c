#include "kernel/memmap.h"

#include "kernel/bootinfo.h"
#include "lib/format.h"

uint64_t memmap_ram_bytes(void)
{
	uint64_t total = 0;

	for (unsigned i = 0; i < bootinfo.nr_memmap; i++) {
		if (bootinfo.memmap[i].type == MEMMAP_RAM)
			total += bootinfo.memmap[i].size;
	}
	return total;
}

const char *memmap_type_name(uint32_t type, char *buf, unsigned size)
{
	switch (type) {
	case MEMMAP_RAM:
		return "usable";
	case MEMMAP_RESERVED:
		return "reserved";
	case MEMMAP_ACPI:
		return "acpi";
	case MEMMAP_NVS:
		return "nvs";
	case MEMMAP_UNUSABLE:
		return "unusable";
	case MEMMAP_PMEM:
		return "pmem";
	default:
		snprintf(buf, size, "type-%u", type);
		return buf;
	}
}
