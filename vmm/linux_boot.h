/* Loading a Linux bzImage through the x86 boot protocol
 * (Documentation/arch/x86/boot.rst) and its 64-bit entry: the
 * protected-mode code goes to 1 MiB, the "zero page" (struct boot_params)
 * carries the setup header, memory map, command line and initrd, and the
 * boot CPU starts at startup_64 in long mode on identity page tables.
 * Pure: no KVM, only a struct guest_mem, so unit tests drive all of it. */
#ifndef SKIFF_VMM_LINUX_BOOT_H
#define SKIFF_VMM_LINUX_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "mm/guest_mem.h"
#include "mm/memmap.h"

/* Where a bzImage's boot data goes. The zero page reuses PVH's start_info
 * page (a kernel is booted one way or the other); the command line is at
 * BOOT_CMDLINE_ADDR as for PVH. All of it is consumed before Linux reserves
 * and reuses low memory. */
#define LINUX_BOOT_PARAMS_ADDR 0x6000ULL
#define LINUX_PAGE_TABLES_ADDR 0x9000ULL /* PML4, PDPT, 4 PDs: 0x9000-0xefff */
#define LINUX_PAGE_TABLES_SIZE 0x6000ULL
#define LINUX_IDENTITY_MAP_END 0x100000000ULL /* 2 MiB pages up to 4 GiB */
#define LINUX_LOAD_ADDR 0x100000ULL	      /* protected-mode code, "code32_start" */
#define LINUX_ENTRY64_OFFSET 0x200	      /* startup_64, fixed by the ABI */

/* Setup header fields and flags (boot.rst, "The Real-Mode Kernel Header"). */
#define LINUX_SETUP_HEADER_OFFSET 0x1f1
#define LINUX_BOOT_FLAG 0xaa55
#define LINUX_HDRS_MAGIC 0x53726448U /* "HdrS" */
#define LINUX_MIN_PROTOCOL 0x020c    /* 2.12: xloadflags, so XLF_KERNEL_64 */
#define LINUX_LOADED_HIGH 0x01
#define LINUX_CAN_USE_HEAP 0x80
#define LINUX_XLF_KERNEL_64 0x01
#define LINUX_LOADER_UNDEFINED 0xff
#define LINUX_E820_MAX 128

/* The setup header, at 0x1f1 in the image and in boot_params. */
struct linux_setup_header {
	uint8_t setup_sects;
	uint16_t root_flags;
	uint32_t syssize;
	uint16_t ram_size;
	uint16_t vid_mode;
	uint16_t root_dev;
	uint16_t boot_flag;
	uint16_t jump;
	uint32_t header;
	uint16_t version;
	uint32_t realmode_swtch;
	uint16_t start_sys_seg;
	uint16_t kernel_version;
	uint8_t type_of_loader;
	uint8_t loadflags;
	uint16_t setup_move_size;
	uint32_t code32_start;
	uint32_t ramdisk_image;
	uint32_t ramdisk_size;
	uint32_t bootsect_kludge;
	uint16_t heap_end_ptr;
	uint8_t ext_loader_ver;
	uint8_t ext_loader_type;
	uint32_t cmd_line_ptr;
	uint32_t initrd_addr_max;
	uint32_t kernel_alignment;
	uint8_t relocatable_kernel;
	uint8_t min_alignment;
	uint16_t xloadflags;
	uint32_t cmdline_size;
	uint32_t hardware_subarch;
	uint64_t hardware_subarch_data;
	uint32_t payload_offset;
	uint32_t payload_length;
	uint64_t setup_data;
	uint64_t pref_address;
	uint32_t init_size;
	uint32_t handover_offset;
	uint32_t kernel_info_offset;
} __attribute__((packed));

struct linux_e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

/* The zero page, with only the fields Skiff fills named. */
#define LINUX_HDR_AREA_END 0x290 /* the setup header may grow up to here */
struct linux_boot_params {
	uint8_t _legacy[0xc0];
	uint32_t ext_ramdisk_image;
	uint32_t ext_ramdisk_size;
	uint32_t ext_cmd_line_ptr;
	uint8_t _pad1[0x1e8 - 0xcc];
	uint8_t e820_entries;
	uint8_t _pad2[LINUX_SETUP_HEADER_OFFSET - 0x1e9]; /* sentinel at 0x1ef stays 0 */
	struct linux_setup_header hdr;
	uint8_t _pad3[0x2d0 - LINUX_SETUP_HEADER_OFFSET - sizeof(struct linux_setup_header)];
	struct linux_e820_entry e820_table[LINUX_E820_MAX];
	uint8_t _pad4[0x1000 - 0x2d0 - LINUX_E820_MAX * sizeof(struct linux_e820_entry)];
} __attribute__((packed));

enum kernel_format {
	KERNEL_FORMAT_UNKNOWN,
	KERNEL_FORMAT_ELF,     /* a PVH ELF kernel, for vmm/pvh.c */
	KERNEL_FORMAT_BZIMAGE, /* a Linux boot sector or setup header */
};

/* A checked bzImage, and where its initrd goes. */
struct linux_kernel {
	struct linux_setup_header hdr; /* as in the image; zeros past its end */
	uint8_t raw_hdr[LINUX_HDR_AREA_END - LINUX_SETUP_HEADER_OFFSET];
	size_t raw_hdr_len; /* header bytes the image has, copied to boot_params */
	uint64_t code_offset;
	uint64_t code_size;
	uint64_t entry; /* startup_64 */
	/* The kernel's RAM before it reads the memory map: from 1 MiB to the
	 * end of init_size bytes at the address it unpacks itself to. */
	uint64_t ram_end;
	uint64_t initrd_addr, initrd_size; /* set by linux_place_initrd */
};

/* Tells a PVH ELF kernel from a bzImage by its first bytes. */
enum kernel_format linux_detect_format(const uint8_t *image, size_t size);

/* Checks every header field Skiff uses. Returns 0, or -1 with a message
 * naming the problem in err. */
int linux_parse(const uint8_t *image, size_t size, struct linux_kernel *k, char *err,
		size_t err_size);

/* The kernel needs RAM up to k->ram_end, inside RAM that ends at low_ram_end. */
int linux_check_ram(const struct linux_kernel *k, uint64_t low_ram_end, char *err, size_t err_size);

/* The command line must fit the kernel's cmdline_size. */
int linux_check_cmdline(const struct linux_kernel *k, const char *cmdline, char *err,
			size_t err_size);

/* Places an initrd of `size` bytes at the highest page-aligned address
 * below min(initrd_addr_max, low_ram_end) above the kernel; sets
 * k->initrd_addr and k->initrd_size. Returns 0 or -1 with err set. */
int linux_place_initrd(struct linux_kernel *k, uint64_t low_ram_end, uint64_t size, char *err,
		       size_t err_size);

/* The zero page for the kernel: its setup header plus what the loader
 * fills in. memmap holds nr_memmap entries (at most LINUX_E820_MAX). */
void linux_build_boot_params(const struct linux_kernel *k, const struct memmap_entry *memmap,
			     unsigned nr_memmap, struct linux_boot_params *bp);

/* Identity page tables for [0, 4 GiB) with 2 MiB pages at
 * LINUX_PAGE_TABLES_ADDR; the PML4's address is CR3. Returns 0 or -1. */
int linux_write_page_tables(const struct guest_mem *mem);

/* Copies the kernel and initrd into guest RAM and writes the zero page,
 * command line and page tables. The checks above must have passed.
 * Returns 0 or -1 with err set. */
int linux_load(const struct linux_kernel *k, const uint8_t *image, const uint8_t *initrd,
	       const struct guest_mem *mem, const struct memmap_entry *memmap, unsigned nr_memmap,
	       const char *cmdline, char *err, size_t err_size);

#endif
