/* What the PVH loader told us, copied out of hvm_start_info before
 * anything touches low memory (where loaders put it). */
#ifndef GUEST_KERNEL_BOOTINFO_H
#define GUEST_KERNEL_BOOTINFO_H

#include <stdbool.h>
#include <stdint.h>

#define HVM_START_MAGIC 0x336ec578U
#define BOOTINFO_CMDLINE_MAX 4096
#define BOOTINFO_MEMMAP_MAX 128

/* E820 memory types. */
#define MEMMAP_RAM 1
#define MEMMAP_RESERVED 2
#define MEMMAP_ACPI 3
#define MEMMAP_NVS 4
#define MEMMAP_UNUSABLE 5
#define MEMMAP_PMEM 7

struct memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

struct bootinfo {
	bool valid; /* the magic matched */
	uint32_t start_info_paddr;
	uint32_t version;
	uint64_t rsdp_paddr; /* 0: scan for it */
	char cmdline[BOOTINFO_CMDLINE_MAX];
	unsigned nr_memmap;
	struct memmap_entry memmap[BOOTINFO_MEMMAP_MAX];
};

extern struct bootinfo bootinfo;

void bootinfo_capture(uint32_t start_info_paddr);

#endif
