#include "vmm/linux_boot.h"

#include <elf.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "vmm/boot_layout.h"

_Static_assert(sizeof(struct linux_setup_header) == 0x26c - LINUX_SETUP_HEADER_OFFSET,
	       "setup header layout");
_Static_assert(offsetof(struct linux_boot_params, e820_entries) == 0x1e8, "e820_entries");
_Static_assert(offsetof(struct linux_boot_params, hdr) == LINUX_SETUP_HEADER_OFFSET, "hdr");
_Static_assert(offsetof(struct linux_boot_params, e820_table) == 0x2d0, "e820_table");
_Static_assert(sizeof(struct linux_boot_params) == 0x1000, "the zero page is one page");

/* The image's header is read at fixed offsets; these are the ones the
 * checks below need before the whole header is known to be there. */
#define LINUX_OFF_BOOT_FLAG 0x1fe
#define LINUX_OFF_JUMP_DISP 0x201 /* the header ends at 0x202 + this byte */
#define LINUX_OFF_HEADER 0x202
#define LINUX_HDR_MIN_END 0x264 /* through init_size, which protocol 2.12 has */

#define LINUX_SECTOR 512
#define LINUX_DEFAULT_SETUP_SECTS 4 /* setup_sects 0 means 4 */
#define LINUX_MAX_ALIGNMENT (1ULL << 30)
/* boot.rst's sample layout: the setup heap ends at 0xe000 in the real-mode
 * segment. Only the 16-bit setup code reads it; Skiff never runs that. */
#define LINUX_HEAP_END_PTR (0xe000 - 0x200)
#define LINUX_VID_MODE_NORMAL 0xffff

#define PTE_PRESENT 0x1ULL
#define PTE_WRITE 0x2ULL
#define PTE_LARGE 0x80ULL
#define PT_ENTRIES 512
#define PT_PAGE 0x1000ULL
#define LARGE_PAGE (2ULL << 20)
#define PD_PAGES (LINUX_IDENTITY_MAP_END / (LARGE_PAGE * PT_ENTRIES))

_Static_assert((2 + PD_PAGES) * PT_PAGE == LINUX_PAGE_TABLES_SIZE, "page table area");

static int linux_fail(char *err, size_t err_size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int linux_fail(char *err, size_t err_size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_size, fmt, ap);
	va_end(ap);
	return -1;
}

static uint16_t read16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t read32(const uint8_t *p)
{
	return (uint32_t)read16(p) | (uint32_t)read16(p + 2) << 16;
}

static unsigned long long mib_up(uint64_t bytes)
{
	return (unsigned long long)((bytes + GUEST_MIB - 1) >> 20);
}

enum kernel_format linux_detect_format(const uint8_t *image, size_t size)
{
	if (size >= SELFMAG && memcmp(image, ELFMAG, SELFMAG) == 0)
		return KERNEL_FORMAT_ELF;
	if (size >= LINUX_OFF_BOOT_FLAG + 2 &&
	    read16(image + LINUX_OFF_BOOT_FLAG) == LINUX_BOOT_FLAG)
		return KERNEL_FORMAT_BZIMAGE;
	if (size >= LINUX_OFF_HEADER + 4 && read32(image + LINUX_OFF_HEADER) == LINUX_HDRS_MAGIC)
		return KERNEL_FORMAT_BZIMAGE;
	return KERNEL_FORMAT_UNKNOWN;
}

/* Magic, protocol version and header length; copies the header into k. */
static int linux_read_header(const uint8_t *image, size_t size, struct linux_kernel *k, char *err,
			     size_t n)
{
	if (size < LINUX_OFF_HEADER + 4)
		return linux_fail(err, n,
				  "truncated: %zu bytes ends before the setup header's 'HdrS' "
				  "magic at 0x202",
				  size);
	if (read32(image + LINUX_OFF_HEADER) != LINUX_HDRS_MAGIC)
		return linux_fail(err, n,
				  "bad magic: no 'HdrS' at offset 0x202 (not a bzImage, or one "
				  "older than boot protocol 2.00)");
	if (read16(image + LINUX_OFF_BOOT_FLAG) != LINUX_BOOT_FLAG)
		return linux_fail(err, n, "bad magic: boot flag 0x%04x at 0x1fe, expected 0xaa55",
				  read16(image + LINUX_OFF_BOOT_FLAG));

	uint16_t version = read16(image + LINUX_OFF_HEADER + 4);
	if (version < LINUX_MIN_PROTOCOL)
		return linux_fail(err, n,
				  "boot protocol %u.%02u is too old: Skiff needs 2.12 or later "
				  "(Linux 3.8+) for the 64-bit entry",
				  version >> 8, version & 0xff);

	size_t hdr_end = LINUX_OFF_HEADER + image[LINUX_OFF_JUMP_DISP];
	if (hdr_end < LINUX_HDR_MIN_END)
		return linux_fail(err, n,
				  "setup header ends at 0x%zx, before init_size (0x260) which "
				  "protocol 2.12 has",
				  hdr_end);
	if (hdr_end > size)
		return linux_fail(err, n,
				  "truncated: the setup header ends at 0x%zx, the file has %zu "
				  "bytes",
				  hdr_end, size);
	if (hdr_end > LINUX_HDR_AREA_END)
		hdr_end = LINUX_HDR_AREA_END; /* a newer header: boot_params holds this much */
	k->raw_hdr_len = hdr_end - LINUX_SETUP_HEADER_OFFSET;
	memcpy(k->raw_hdr, image + LINUX_SETUP_HEADER_OFFSET, k->raw_hdr_len);
	memcpy(&k->hdr, k->raw_hdr,
	       k->raw_hdr_len < sizeof(k->hdr) ? k->raw_hdr_len : sizeof(k->hdr));
	return 0;
}

/* The protected-mode code is all in the file and holds the 64-bit entry.
 * (It starts at 0x400 or later, past any setup header.) */
static int linux_check_code(const struct linux_kernel *k, size_t size, char *err, size_t n)
{
	uint64_t end = k->code_offset + k->code_size;

	if (k->code_size == 0)
		return linux_fail(err, n, "syssize is 0: there is no protected-mode kernel");
	if (end > size)
		return linux_fail(err, n,
				  "truncated: the setup header announces %llu bytes of setup "
				  "and kernel, the file has %zu",
				  (unsigned long long)end, size);
	if (k->code_size <= LINUX_ENTRY64_OFFSET)
		return linux_fail(err, n,
				  "the kernel code (%llu bytes) ends before the 64-bit entry at "
				  "+0x200",
				  (unsigned long long)k->code_size);
	return 0;
}

static int linux_check_flags(const struct linux_setup_header *h, char *err, size_t n)
{
	if (!(h->loadflags & LINUX_LOADED_HIGH))
		return linux_fail(err, n,
				  "loadflags lack LOADED_HIGH: a zImage, which loads below 1 MiB; "
				  "Skiff boots bzImages");
	if (!(h->xloadflags & LINUX_XLF_KERNEL_64))
		return linux_fail(err, n,
				  "not 64-bit capable: xloadflags 0x%x lacks XLF_KERNEL_64 (a "
				  "32-bit kernel?)",
				  h->xloadflags);
	return 0;
}

/* The address the kernel unpacks itself to: its load address aligned up to
 * kernel_alignment but not below pref_address (LOAD_PHYSICAL_ADDR) when
 * relocatable, pref_address otherwise (startup_64 computes the same). */
static int linux_runtime_start(const struct linux_setup_header *h, uint64_t *start, char *err,
			       size_t n)
{
	uint64_t align = h->kernel_alignment;

	if (!h->relocatable_kernel) {
		if (h->pref_address < LINUX_LOAD_ADDR)
			return linux_fail(err, n, "pref_address 0x%llx is below 1 MiB",
					  (unsigned long long)h->pref_address);
		*start = h->pref_address;
		return 0;
	}
	if (align < GUEST_PAGE_SIZE || align > LINUX_MAX_ALIGNMENT || (align & (align - 1)))
		return linux_fail(err, n,
				  "kernel_alignment 0x%llx is not a power of two from 4 KiB to "
				  "1 GiB",
				  (unsigned long long)align);
	*start = (LINUX_LOAD_ADDR + align - 1) & ~(align - 1);
	if (*start < h->pref_address)
		*start = h->pref_address;
	return 0;
}

/* All the RAM the kernel needs before it reads the memory map lies below
 * k->ram_end, which must be inside the identity-mapped 4 GiB. */
static int linux_compute_ram_end(struct linux_kernel *k, char *err, size_t n)
{
	uint64_t start = 0, end;

	if (k->hdr.init_size == 0)
		return linux_fail(err, n, "init_size is 0");
	if (linux_runtime_start(&k->hdr, &start, err, n))
		return -1;
	if (__builtin_add_overflow(start, (uint64_t)k->hdr.init_size, &end) ||
	    end > LINUX_IDENTITY_MAP_END)
		return linux_fail(err, n,
				  "the kernel wants RAM up to 0x%llx (pref_address 0x%llx, "
				  "init_size 0x%x), beyond the 4 GiB Skiff maps for it",
				  (unsigned long long)start + k->hdr.init_size,
				  (unsigned long long)k->hdr.pref_address, k->hdr.init_size);
	k->ram_end = end > LINUX_LOAD_ADDR + k->code_size ? end : LINUX_LOAD_ADDR + k->code_size;
	return 0;
}

int linux_parse(const uint8_t *image, size_t size, struct linux_kernel *k, char *err,
		size_t err_size)
{
	memset(k, 0, sizeof(*k));
	if (linux_read_header(image, size, k, err, err_size))
		return -1;
	unsigned setup_sects = k->hdr.setup_sects ? k->hdr.setup_sects : LINUX_DEFAULT_SETUP_SECTS;
	k->code_offset = (uint64_t)(setup_sects + 1) * LINUX_SECTOR;
	k->code_size = (uint64_t)k->hdr.syssize * 16;
	k->entry = LINUX_LOAD_ADDR + LINUX_ENTRY64_OFFSET;
	if (linux_check_code(k, size, err, err_size) || linux_check_flags(&k->hdr, err, err_size))
		return -1;
	return linux_compute_ram_end(k, err, err_size);
}

int linux_check_ram(const struct linux_kernel *k, uint64_t low_ram_end, char *err, size_t err_size)
{
	if (k->ram_end <= low_ram_end)
		return 0;
	return linux_fail(err, err_size,
			  "the kernel needs %llu MiB of RAM to unpack itself, the guest has "
			  "%llu MiB below 3 GiB (raise --mem)",
			  mib_up(k->ram_end), (unsigned long long)(low_ram_end >> 20));
}

int linux_check_cmdline(const struct linux_kernel *k, const char *cmdline, char *err,
			size_t err_size)
{
	size_t len = strlen(cmdline);

	if (len <= k->hdr.cmdline_size)
		return 0;
	return linux_fail(err, err_size, "%zu bytes is longer than this kernel's limit of %u", len,
			  k->hdr.cmdline_size);
}

int linux_place_initrd(struct linux_kernel *k, uint64_t low_ram_end, uint64_t size, char *err,
		       size_t err_size)
{
	uint64_t top = (uint64_t)k->hdr.initrd_addr_max + 1;

	if (top > low_ram_end)
		top = low_ram_end;
	if (size > top || ((top - size) & ~(GUEST_PAGE_SIZE - 1)) < k->ram_end)
		return linux_fail(err, err_size,
				  "%llu MiB does not fit in guest RAM between the kernel (up to "
				  "%llu MiB) and %llu MiB (the end of RAM below 3 GiB, or the "
				  "kernel's initrd_addr_max); raise --mem",
				  mib_up(size), mib_up(k->ram_end),
				  (unsigned long long)(top >> 20));
	k->initrd_addr = (top - size) & ~(GUEST_PAGE_SIZE - 1);
	k->initrd_size = size;
	return 0;
}

void linux_build_boot_params(const struct linux_kernel *k, const struct memmap_entry *memmap,
			     unsigned nr_memmap, struct linux_boot_params *bp)
{
	struct linux_setup_header *h = &bp->hdr;

	memset(bp, 0, sizeof(*bp));
	memcpy((uint8_t *)bp + LINUX_SETUP_HEADER_OFFSET, k->raw_hdr, k->raw_hdr_len);
	h->vid_mode = LINUX_VID_MODE_NORMAL;
	h->type_of_loader = LINUX_LOADER_UNDEFINED;
	h->loadflags |= LINUX_CAN_USE_HEAP;
	h->heap_end_ptr = LINUX_HEAP_END_PTR;
	h->code32_start = (uint32_t)LINUX_LOAD_ADDR;
	h->cmd_line_ptr = (uint32_t)BOOT_CMDLINE_ADDR;
	/* Below 3 GiB, so the ext_ high halves stay 0. */
	h->ramdisk_image = (uint32_t)k->initrd_addr;
	h->ramdisk_size = (uint32_t)k->initrd_size;
	h->setup_data = 0;
	h->hardware_subarch = 0; /* a PC */
	if (nr_memmap > LINUX_E820_MAX)
		nr_memmap = LINUX_E820_MAX;
	for (unsigned i = 0; i < nr_memmap; i++)
		bp->e820_table[i] =
			(struct linux_e820_entry){memmap[i].addr, memmap[i].size, memmap[i].type};
	bp->e820_entries = (uint8_t)nr_memmap;
}

int linux_write_page_tables(const struct guest_mem *mem)
{
	uint64_t *pml4 = guest_mem_ptr(mem, LINUX_PAGE_TABLES_ADDR, LINUX_PAGE_TABLES_SIZE);

	if (!pml4)
		return -1;
	uint64_t *pdpt = pml4 + PT_ENTRIES, *pd = pml4 + 2 * PT_ENTRIES;
	memset(pml4, 0, LINUX_PAGE_TABLES_SIZE);
	pml4[0] = (LINUX_PAGE_TABLES_ADDR + PT_PAGE) | PTE_PRESENT | PTE_WRITE;
	for (uint64_t i = 0; i < PD_PAGES; i++)
		pdpt[i] = (LINUX_PAGE_TABLES_ADDR + (2 + i) * PT_PAGE) | PTE_PRESENT | PTE_WRITE;
	for (uint64_t i = 0; i < PD_PAGES * PT_ENTRIES; i++)
		pd[i] = i * LARGE_PAGE | PTE_PRESENT | PTE_WRITE | PTE_LARGE;
	return 0;
}

int linux_load(const struct linux_kernel *k, const uint8_t *image, const uint8_t *initrd,
	       const struct guest_mem *mem, const struct memmap_entry *memmap, unsigned nr_memmap,
	       const char *cmdline, char *err, size_t err_size)
{
	struct linux_boot_params bp;
	size_t cmdline_len = strlen(cmdline) + 1;

	if (cmdline_len > BOOT_CMDLINE_MAX)
		return linux_fail(err, err_size, "kernel command line too long");
	if (!guest_mem_write(mem, LINUX_LOAD_ADDR, image + k->code_offset, k->code_size))
		return linux_fail(err, err_size, "the kernel does not fit in guest RAM");
	if (k->initrd_size && !guest_mem_write(mem, k->initrd_addr, initrd, k->initrd_size))
		return linux_fail(err, err_size, "the initrd does not fit in guest RAM");
	linux_build_boot_params(k, memmap, nr_memmap, &bp);
	if (!guest_mem_write(mem, BOOT_CMDLINE_ADDR, cmdline, cmdline_len) ||
	    !guest_mem_write(mem, LINUX_BOOT_PARAMS_ADDR, &bp, sizeof(bp)) ||
	    linux_write_page_tables(mem))
		return linux_fail(err, err_size, "guest RAM too small for boot data");
	return 0;
}
