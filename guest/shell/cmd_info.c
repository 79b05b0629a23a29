/* info: what the guest knows about its machine, in a fixed format that
 * tests parse (docs/guest.md). */
#include <stdbool.h>
#include <stdint.h>

#include "arch/cpu.h"
#include "arch/layout.h"
#include "arch/paging.h"
#include "drivers/virtio_pci.h"
#include "kernel/bootinfo.h"
#include "kernel/console.h"
#include "kernel/cpus.h"
#include "kernel/memmap.h"
#include "lib/string.h"
#include "shell/commands.h"

#define MIB (1024ULL * 1024)

#define CPUID1_ECX_PCID (1u << 17)
#define CPUID1_ECX_HYPERVISOR (1u << 31)
#define CPUID_EXT_EDX_NX (1u << 20)
#define CPUID_EXT_EDX_1G_PAGES (1u << 26)
#define CPUID_HYPERVISOR_LEAF 0x40000000

static void print_memory(void)
{
	kprintf("mem: %llu MiB\n", (unsigned long long)((memmap_ram_bytes() + MIB - 1) / MIB));
	kprintf("memmap:\n");
	for (unsigned i = 0; i < bootinfo.nr_memmap; i++) {
		const struct memmap_entry *e = &bootinfo.memmap[i];
		char type_buf[16];
		kprintf("  0x%016llx-0x%016llx %s\n", (unsigned long long)e->addr,
			(unsigned long long)(e->addr + e->size - 1),
			memmap_type_name(e->type, type_buf, sizeof(type_buf)));
	}
}

/* The 12-byte vendor signature of CPUID leaf 0x40000000, or "" if the
 * CPU does not say it runs under a hypervisor. */
static void hypervisor_signature(char out[13])
{
	out[0] = '\0';
	if (!(cpuid(1, 0).ecx & CPUID1_ECX_HYPERVISOR))
		return;
	struct cpuid_regs r = cpuid(CPUID_HYPERVISOR_LEAF, 0);
	memcpy(out, &r.ebx, 4);
	memcpy(out + 4, &r.ecx, 4);
	memcpy(out + 8, &r.edx, 4);
	out[12] = '\0';
}

static const char *yes_no(bool b)
{
	return b ? "yes" : "no";
}

static void print_mmu(void)
{
	uint32_t max_ext = cpuid(0x80000000, 0).eax;
	uint32_t ext_edx = max_ext >= 0x80000001 ? cpuid(0x80000001, 0).edx : 0;
	bool pcid = cpuid(1, 0).ecx & CPUID1_ECX_PCID;
	char hypervisor[13];

	hypervisor_signature(hypervisor);
	kprintf("mmu: %d-level paging, cr0=0x%llx cr3=0x%llx cr4=0x%llx efer=0x%llx, "
		"nx=%s 1g-pages=%s pcid=%s%s%s\n",
		PAGING_LEVELS, (unsigned long long)read_cr0(), (unsigned long long)read_cr3(),
		(unsigned long long)read_cr4(), (unsigned long long)rdmsr(MSR_EFER),
		yes_no(ext_edx & CPUID_EXT_EDX_NX), yes_no(ext_edx & CPUID_EXT_EDX_1G_PAGES),
		yes_no(pcid), hypervisor[0] ? ", hypervisor: " : "", hypervisor);
}

/* "virtio: blk0 net0", a stopped device as "blk0(stopped)". */
static void print_virtio(void)
{
	kprintf("virtio:");
	for (unsigned i = 0; i < virtio_count(); i++) {
		struct virtio_dev *dev = virtio_get(i);
		virtio_check(dev);
		kprintf(" %s%s", dev->name, dev->stopped ? "(stopped)" : "");
	}
	kprintf("%s\n", virtio_count() ? "" : " none");
}

void cmd_info(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	kprintf("cpus: %u online\n", cpus_online());
	print_memory();
	print_mmu();
	kprintf("cmdline: %s\n", bootinfo.cmdline);
	print_virtio();
}
