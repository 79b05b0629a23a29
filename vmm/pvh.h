/* Loading a PVH ELF kernel: an ELF32 or ELF64 x86 image whose
 * XEN_ELFNOTE_PHYS32_ENTRY note gives the 32-bit protected-mode entry point,
 * and the hvm_start_info block it receives in %ebx. */
#ifndef SKIFF_VMM_PVH_H
#define SKIFF_VMM_PVH_H

#include <stddef.h>
#include <stdint.h>

#include "mm/guest_mem.h"
#include "mm/memmap.h"

#define PVH_MAX_SEGMENTS 16
#define PVH_XEN_ELFNOTE_PHYS32_ENTRY 18
#define PVH_START_INFO_MAGIC 0x336ec578U

struct pvh_segment {
	uint64_t paddr;
	uint64_t file_offset;
	uint64_t file_size;
	uint64_t mem_size;
};

struct pvh_kernel {
	uint32_t entry;
	unsigned nr_segments;
	struct pvh_segment segments[PVH_MAX_SEGMENTS];
};

/* Layouts fixed by the PVH boot ABI (xen/include/public/arch-x86/hvm/start_info.h). */
struct pvh_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
} __attribute__((packed));

struct pvh_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
} __attribute__((packed));

/* Checks the image and records its loadable segments and entry point.
 * Returns 0, or -1 with a message naming the problem in err. */
int pvh_parse(const uint8_t *image, size_t image_size, struct pvh_kernel *kernel, char *err,
	      size_t err_size);

/* Copies the segments into guest RAM (zeroing the bss part). Every segment
 * must lie in RAM at or above min_paddr. Returns 0 or -1 with err set. */
int pvh_load(const struct pvh_kernel *kernel, const uint8_t *image, const struct guest_mem *mem,
	     uint64_t min_paddr, char *err, size_t err_size);

/* Writes hvm_start_info, the memory map and the command line at the
 * addresses of vmm/boot_layout.h. Returns 0 or -1 with err set. */
int pvh_write_start_info(const struct guest_mem *mem, const struct memmap_entry *memmap,
			 unsigned nr_entries, const char *cmdline, char *err, size_t err_size);

#endif
