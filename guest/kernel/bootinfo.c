#include "kernel/bootinfo.h"

#include "arch/cpu.h"
#include "lib/string.h"

/* The layout fixed by the PVH ABI (Xen's hvm/start_info.h). Fields from
 * memmap_paddr on exist from version 1. */
struct hvm_start_info {
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

struct bootinfo bootinfo;

static void capture_cmdline(uint64_t paddr)
{
	if (!paddr)
		return;
	const char *src = phys_to_virt(paddr);
	strlcpy(bootinfo.cmdline, src, sizeof(bootinfo.cmdline));
}

/* Empty entries are dropped: some loaders (qboot on QEMU's microvm) count
 * a zeroed slot at the end of the map. */
static void capture_memmap(uint64_t paddr, uint32_t entries)
{
	const struct memmap_entry *src = phys_to_virt(paddr);

	if (!paddr)
		return;
	for (uint32_t i = 0; i < entries && bootinfo.nr_memmap < BOOTINFO_MEMMAP_MAX; i++) {
		if (src[i].size)
			bootinfo.memmap[bootinfo.nr_memmap++] = src[i];
	}
}

void bootinfo_capture(uint32_t start_info_paddr)
{
	const struct hvm_start_info *si = phys_to_virt(start_info_paddr);

	bootinfo.start_info_paddr = start_info_paddr;
	if (!start_info_paddr || si->magic != HVM_START_MAGIC)
		return;
	bootinfo.valid = true;
	bootinfo.version = si->version;
	bootinfo.rsdp_paddr = si->rsdp_paddr;
	capture_cmdline(si->cmdline_paddr);
	if (si->version >= 1)
		capture_memmap(si->memmap_paddr, si->memmap_entries);
}
