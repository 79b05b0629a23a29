#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mm/guest_mem.h"
#include "mm/memmap.h"
#include "vmm/boot_layout.h"
#include "vmm/linux_boot.h"
#include "vmm/x86_cpu.h"

/* A bzImage described by its setup header, turned into bytes by
 * image_build. The default is a well-formed relocatable 64-bit kernel:
 *
 *   0x0000 boot sector; setup header at 0x1f1, ending at 0x26c
 *   0x0400 protected-mode code (setup_sects 1), 0x1000 bytes
 *   end    0x1400
 *
 * It unpacks itself at pref_address (16 MiB) and needs init_size (8 MiB)
 * from there, so its RAM ends at 24 MiB. */
#define CODE_OFF 0x400
#define CODE_SIZE 0x1000
#define IMG_SIZE (CODE_OFF + CODE_SIZE)
#define PREF_ADDR (16 * GUEST_MIB)
#define INIT_SIZE (8 * GUEST_MIB)
#define RAM_END (PREF_ADDR + INIT_SIZE)
#define HDR_END_DEFAULT 0x26c

struct model {
	struct linux_setup_header hdr;
	uint8_t jump_disp; /* the header ends at 0x202 + this */
	size_t size;
};

static void model_default(struct model *m)
{
	memset(m, 0, sizeof(*m));
	m->hdr.setup_sects = 1;
	m->hdr.syssize = CODE_SIZE / 16;
	m->hdr.boot_flag = LINUX_BOOT_FLAG;
	m->hdr.header = LINUX_HDRS_MAGIC;
	m->hdr.version = 0x020f;
	m->hdr.loadflags = LINUX_LOADED_HIGH;
	m->hdr.code32_start = 0x100000;
	m->hdr.initrd_addr_max = 0x7fffffff;
	m->hdr.kernel_alignment = 0x200000;
	m->hdr.relocatable_kernel = 1;
	m->hdr.min_alignment = 21;
	m->hdr.xloadflags = LINUX_XLF_KERNEL_64 | 0x2; /* and CAN_BE_LOADED_ABOVE_4G */
	m->hdr.cmdline_size = 0x7ff;
	m->hdr.pref_address = PREF_ADDR;
	m->hdr.init_size = INIT_SIZE;
	m->jump_disp = HDR_END_DEFAULT - 0x202;
	m->size = IMG_SIZE;
}

static uint8_t pattern(size_t offset)
{
	return (uint8_t)(offset * 7 + 3);
}

/* Serialises the model into an allocation of exactly m->size bytes, so the
 * sanitizer build catches any read past the end of the file. */
static uint8_t *image_build(const struct model *m)
{
	uint8_t *image = malloc(m->size ? m->size : 1);
	uint8_t hdr[sizeof(m->hdr)];

	assert_non_null(image);
	for (size_t i = 0; i < m->size; i++)
		image[i] = pattern(i);
	memcpy(hdr, &m->hdr, sizeof(hdr));
	hdr[0x201 - LINUX_SETUP_HEADER_OFFSET] = m->jump_disp;
	for (size_t i = 0; i < sizeof(hdr) && LINUX_SETUP_HEADER_OFFSET + i < m->size; i++)
		image[LINUX_SETUP_HEADER_OFFSET + i] = hdr[i];
	return image;
}

static int parse_model(const struct model *m, struct linux_kernel *k, char *err, size_t n)
{
	uint8_t *image = image_build(m);
	int rc = linux_parse(image, m->size, k, err, n);

	free(image);
	return rc;
}

static void parse_ok(const struct model *m, struct linux_kernel *k)
{
	char err[256] = "";

	if (parse_model(m, k, err, sizeof(err)))
		fail_msg("image refused: %s", err);
}

/* The image is refused and the message contains `problem`. */
static void assert_refused(const struct model *m, const char *problem)
{
	struct linux_kernel k;
	char err[256] = "";

	if (parse_model(m, &k, err, sizeof(err)) != -1)
		fail_msg("image accepted; expected '%s'", problem);
	if (!strstr(err, problem))
		fail_msg("error '%s' does not name '%s'", err, problem);
}

static void assert_error_names(int rc, const char *err, const char *problem)
{
	assert_int_equal(rc, -1);
	if (!strstr(err, problem))
		fail_msg("error '%s' does not name '%s'", err, problem);
}

/* Format detection */

static void formats_are_told_apart_by_content(void **state)
{
	static const uint8_t elf[64] = {0x7f, 'E', 'L', 'F', 2, 1};
	static const uint8_t random[0x300] = {0x12, 0x34};
	struct model m;

	model_default(&m);
	uint8_t *bz = image_build(&m);
	assert_int_equal(linux_detect_format(elf, sizeof(elf)), KERNEL_FORMAT_ELF);
	assert_int_equal(linux_detect_format(bz, m.size), KERNEL_FORMAT_BZIMAGE);
	assert_int_equal(linux_detect_format(random, sizeof(random)), KERNEL_FORMAT_UNKNOWN);
	assert_int_equal(linux_detect_format(elf, 3), KERNEL_FORMAT_UNKNOWN);
	assert_int_equal(linux_detect_format(bz, 0), KERNEL_FORMAT_UNKNOWN);
	/* Only the boot flag, or only "HdrS": a bzImage whose parse will say
	 * what is wrong, not "unknown format". */
	assert_int_equal(linux_detect_format(bz, 0x200), KERNEL_FORMAT_BZIMAGE);
	bz[0x1fe] = 0;
	assert_int_equal(linux_detect_format(bz, m.size), KERNEL_FORMAT_BZIMAGE);
	free(bz);
}

/* Valid images */

static void valid_image_gives_code_entry_and_ram_end(void **state)
{
	struct model m;
	struct linux_kernel k;

	model_default(&m);
	parse_ok(&m, &k);
	assert_int_equal(k.code_offset, CODE_OFF);
	assert_int_equal(k.code_size, CODE_SIZE);
	assert_int_equal(k.entry, 0x100200);
	assert_int_equal(k.ram_end, RAM_END);
	assert_int_equal(k.raw_hdr_len, HDR_END_DEFAULT - LINUX_SETUP_HEADER_OFFSET);
	assert_int_equal(k.hdr.version, 0x020f);
	assert_int_equal(k.hdr.cmdline_size, 0x7ff);
	assert_int_equal(k.initrd_size, 0);
}

static void setup_sects_zero_means_four(void **state)
{
	struct model m;
	struct linux_kernel k;

	model_default(&m);
	m.hdr.setup_sects = 0;
	m.size = 5 * 512 + CODE_SIZE;
	parse_ok(&m, &k);
	assert_int_equal(k.code_offset, 5 * 512);
}

static void signed_image_with_trailing_bytes_is_accepted(void **state)
{
	struct model m;
	struct linux_kernel k;

	/* Debian's vmlinuz carries a signature after the syssize bytes. */
	model_default(&m);
	m.size = IMG_SIZE + 0x800;
	parse_ok(&m, &k);
	assert_int_equal(k.code_size, CODE_SIZE);
}

static void relocatable_kernel_unpacks_at_aligned_load_address(void **state)
{
	struct model m;
	struct linux_kernel k;

	/* pref_address below the aligned load address: 1 MiB rounds up to the
	 * 2 MiB alignment, as startup_64 computes. */
	model_default(&m);
	m.hdr.pref_address = 0;
	parse_ok(&m, &k);
	assert_int_equal(k.ram_end, 2 * GUEST_MIB + INIT_SIZE);
	m.hdr.kernel_alignment = 0x1000;
	parse_ok(&m, &k);
	assert_int_equal(k.ram_end, GUEST_MIB + INIT_SIZE);
}

static void fixed_kernel_unpacks_at_pref_address(void **state)
{
	struct model m;
	struct linux_kernel k;

	model_default(&m);
	m.hdr.relocatable_kernel = 0;
	m.hdr.kernel_alignment = 0; /* not looked at */
	m.hdr.pref_address = 32 * GUEST_MIB;
	parse_ok(&m, &k);
	assert_int_equal(k.ram_end, 32 * GUEST_MIB + INIT_SIZE);
}

static void tiny_init_size_still_covers_loaded_code(void **state)
{
	struct model m;
	struct linux_kernel k;

	model_default(&m);
	m.hdr.pref_address = 0;
	m.hdr.kernel_alignment = 0x1000;
	m.hdr.init_size = 0x100;
	parse_ok(&m, &k);
	assert_int_equal(k.ram_end, 0x100000 + CODE_SIZE);
}

static void newer_longer_header_is_kept_up_to_0x290(void **state)
{
	struct model m;
	struct linux_kernel k;

	model_default(&m);
	m.jump_disp = 0xff; /* header "ends" at 0x301 */
	parse_ok(&m, &k);
	assert_int_equal(k.raw_hdr_len, LINUX_HDR_AREA_END - LINUX_SETUP_HEADER_OFFSET);
	assert_int_equal(k.raw_hdr[0x280 - LINUX_SETUP_HEADER_OFFSET], pattern(0x280));
}

/* Refused images */

static void file_cut_before_hdrs_magic_is_refused(void **state)
{
	struct model m;

	model_default(&m);
	m.size = 0x205;
	assert_refused(&m, "truncated");
	m.size = 0x200;
	assert_refused(&m, "truncated");
	m.size = 0;
	assert_refused(&m, "truncated");
}

static void missing_hdrs_magic_is_refused(void **state)
{
	struct model m;

	model_default(&m);
	m.hdr.header = 0x53726447; /* "GdrS" */
	assert_refused(&m, "bad magic: no 'HdrS'");
	m.hdr.header = 0;
	assert_refused(&m, "bad magic");
}

static void wrong_boot_flag_is_refused(void **state)
{
	struct model m;

	model_default(&m);
	m.hdr.boot_flag = 0x55aa;
	assert_refused(&m, "boot flag 0x55aa");
}

static void protocol_older_than_2_12_is_refused(void **state)
{
	struct model m;

	model_default(&m);
	m.hdr.version = 0x020b;
	assert_refused(&m, "boot protocol 2.11 is too old");
	m.hdr.version = 0x0200;
	assert_refused(&m, "boot protocol 2.00 is too old");
	m.hdr.version = 0x020c;
	struct linux_kernel k;
	parse_ok(&m, &k);
}

static void header_without_init_size_is_refused(void **state)
{
	struct model m;

	model_default(&m);
	m.jump_disp = 0x5c; /* ends at 0x25e, inside pref_address */
	assert_refused(&m, "before init_size");
	m.jump_disp = 0;
	assert_refused(&m, "before init_size");
}

static void header_past_end_of_file_is_refused(void **state)
{
	struct model m;

	model_default(&m);
	m.size = 0x260;
	assert_refused(&m, "truncated: the setup header ends at 0x26c");
}

static void kernel_code_past_end_of_file_is_refused(void **state)
{
	struct model m;

	model_default(&m);
	m.size = IMG_SIZE - 1;
	assert_refused(&m, "truncated: the setup header announces");
	model_default(&m);
	m.hdr.syssize = 0xffffffff; /* 64 GiB: no wrap, just refused */
	assert_refused(&m, "truncated");
	model_default(&m);
	m.hdr.setup_sects = 0xff; /* setup runs past the end */
	assert_refused(&m, "truncated");
}

static void empty_or_tiny_kernel_code_is_refused(void **state)
{
	struct model m;

	model_default(&m);
	m.hdr.syssize = 0;
	assert_refused(&m, "syssize is 0");
	m.hdr.syssize = 0x200 / 16;
	assert_refused(&m, "before the 64-bit entry");
}

static void zimage_is_refused(void **state)
{
	struct model m;

	model_default(&m);
	m.hdr.loadflags = 0;
	assert_refused(&m, "zImage");
}

static void kernel_without_64bit_entry_is_refused(void **state)
{
	struct model m;

	model_default(&m);
	m.hdr.xloadflags = 0x2;
	assert_refused(&m, "not 64-bit capable");
	m.hdr.xloadflags = 0;
	assert_refused(&m, "XLF_KERNEL_64");
}

static void bad_kernel_alignment_is_refused(void **state)
{
	static const uint32_t bad[] = {0, 0x800, 3 << 20, 0x80000000u, 0x200001};
	struct model m;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		model_default(&m);
		m.hdr.kernel_alignment = bad[i];
		assert_refused(&m, "kernel_alignment");
	}
}

static void fixed_kernel_below_1mib_is_refused(void **state)
{
	struct model m;

	model_default(&m);
	m.hdr.relocatable_kernel = 0;
	m.hdr.pref_address = 0x10000;
	assert_refused(&m, "below 1 MiB");
}

static void zero_init_size_is_refused(void **state)
{
	struct model m;

	model_default(&m);
	m.hdr.init_size = 0;
	assert_refused(&m, "init_size is 0");
}

static void kernel_beyond_4gib_is_refused(void **state)
{
	struct model m;

	model_default(&m);
	m.hdr.pref_address = 0xff000000;
	m.hdr.init_size = 32 << 20;
	assert_refused(&m, "beyond the 4 GiB");
	m.hdr.pref_address = UINT64_MAX - 0x1000; /* start + init_size wraps */
	assert_refused(&m, "beyond the 4 GiB");
	m.hdr.relocatable_kernel = 0;
	assert_refused(&m, "beyond the 4 GiB");
}

/* RAM, command line, initrd */

static void kernel_needing_more_ram_than_guest_has_is_refused(void **state)
{
	struct model m;
	struct linux_kernel k;
	char err[256] = "";

	model_default(&m);
	parse_ok(&m, &k);
	assert_error_names(linux_check_ram(&k, RAM_END - GUEST_PAGE_SIZE, err, sizeof(err)), err,
			   "needs 24 MiB");
	assert_int_equal(linux_check_ram(&k, RAM_END, err, sizeof(err)), 0);
}

static void cmdline_longer_than_cmdline_size_is_refused(void **state)
{
	struct model m;
	struct linux_kernel k;
	char err[256] = "";
	char line[64];

	model_default(&m);
	m.hdr.cmdline_size = 10;
	parse_ok(&m, &k);
	memset(line, 'x', sizeof(line));
	line[10] = '\0';
	assert_int_equal(linux_check_cmdline(&k, line, err, sizeof(err)), 0);
	line[10] = 'x';
	line[11] = '\0';
	assert_error_names(linux_check_cmdline(&k, line, err, sizeof(err)), err, "limit of 10");
}

static void initrd_goes_to_highest_page_below_end_of_ram(void **state)
{
	struct model m;
	struct linux_kernel k;
	char err[256] = "";

	model_default(&m);
	parse_ok(&m, &k);
	assert_int_equal(linux_place_initrd(&k, 64 * GUEST_MIB, 0x1801, err, sizeof(err)), 0);
	assert_int_equal(k.initrd_addr, 64 * GUEST_MIB - 0x2000);
	assert_int_equal(k.initrd_size, 0x1801);
	/* RAM below 3 GiB ends below initrd_addr_max (2 GiB - 1) here. */
	assert_int_equal(linux_place_initrd(&k, GUEST_GIB, GUEST_PAGE_SIZE, err, sizeof(err)), 0);
	assert_int_equal(k.initrd_addr, GUEST_GIB - GUEST_PAGE_SIZE);
}

static void initrd_stays_below_initrd_addr_max(void **state)
{
	struct model m;
	struct linux_kernel k;
	char err[256] = "";

	model_default(&m);
	parse_ok(&m, &k);
	/* 3 GiB of low RAM, initrd_addr_max 2 GiB - 1. */
	assert_int_equal(linux_place_initrd(&k, 3 * GUEST_GIB, 0x1000, err, sizeof(err)), 0);
	assert_int_equal(k.initrd_addr, 2 * GUEST_GIB - 0x1000);
	/* An old-style limit (896 MiB), not page-aligned. */
	m.hdr.initrd_addr_max = 0x37ffffff - 0x800;
	parse_ok(&m, &k);
	assert_int_equal(linux_place_initrd(&k, 3 * GUEST_GIB, 0x1000, err, sizeof(err)), 0);
	assert_int_equal(k.initrd_addr, 0x37ffe000);
	assert_true(k.initrd_addr + k.initrd_size - 1 <= m.hdr.initrd_addr_max);
}

static void initrd_overlapping_the_kernel_is_refused(void **state)
{
	struct model m;
	struct linux_kernel k;
	char err[256] = "";

	model_default(&m);
	parse_ok(&m, &k);
	/* 32 MiB of RAM, the kernel's ends at 24: 8 MiB fit exactly. */
	assert_int_equal(linux_place_initrd(&k, 32 * GUEST_MIB, 8 * GUEST_MIB, err, sizeof(err)),
			 0);
	assert_int_equal(k.initrd_addr, RAM_END);
	assert_error_names(
		linux_place_initrd(&k, 32 * GUEST_MIB, 8 * GUEST_MIB + 1, err, sizeof(err)), err,
		"does not fit");
	/* The kernel's RAM ends 0x10 bytes into a page: an initrd that would
	 * start above it, once page-aligned, starts inside it. */
	m.hdr.init_size = INIT_SIZE + 0x10;
	parse_ok(&m, &k);
	assert_error_names(
		linux_place_initrd(&k, 32 * GUEST_MIB, 8 * GUEST_MIB - 0x800, err, sizeof(err)),
		err, "raise --mem");
}

static void initrd_larger_than_ram_is_refused(void **state)
{
	struct model m;
	struct linux_kernel k;
	char err[256] = "";

	model_default(&m);
	parse_ok(&m, &k);
	assert_error_names(
		linux_place_initrd(&k, 256 * GUEST_MIB, 300 * GUEST_MIB, err, sizeof(err)), err,
		"300 MiB does not fit");
	assert_error_names(linux_place_initrd(&k, 256 * GUEST_MIB, UINT64_MAX, err, sizeof(err)),
			   err, "does not fit");
	assert_int_equal(k.initrd_size, 0); /* nothing placed */
}

/* The zero page */

static void boot_params_carry_header_and_loader_fields(void **state)
{
	static const struct memmap_entry memmap[] = {
		{0, 0x9fc00, MEMMAP_RAM},
		{0x9fc00, 0x60400, MEMMAP_RESERVED},
		{0x100000, 0xff00000, MEMMAP_RAM},
	};
	struct model m;
	struct linux_kernel k;
	struct linux_boot_params bp;
	char err[256] = "";

	model_default(&m);
	parse_ok(&m, &k);
	assert_int_equal(linux_place_initrd(&k, 256 * GUEST_MIB, 0x3000, err, sizeof(err)), 0);
	memset(&bp, 0xa5, sizeof(bp)); /* stale bytes must not survive */
	linux_build_boot_params(&k, memmap, 3, &bp);

	assert_int_equal(bp.hdr.header, LINUX_HDRS_MAGIC);
	assert_int_equal(bp.hdr.version, 0x020f);
	assert_int_equal(bp.hdr.kernel_alignment, 0x200000);
	assert_int_equal(bp.hdr.init_size, INIT_SIZE);
	assert_int_equal(bp.hdr.type_of_loader, 0xff);
	assert_int_equal(bp.hdr.loadflags, LINUX_LOADED_HIGH | LINUX_CAN_USE_HEAP);
	assert_int_equal(bp.hdr.heap_end_ptr, 0xde00);
	assert_int_equal(bp.hdr.vid_mode, 0xffff);
	assert_int_equal(bp.hdr.code32_start, 0x100000);
	assert_int_equal(bp.hdr.cmd_line_ptr, BOOT_CMDLINE_ADDR);
	assert_int_equal(bp.hdr.ramdisk_image, 256 * GUEST_MIB - 0x3000);
	assert_int_equal(bp.hdr.ramdisk_size, 0x3000);
	assert_int_equal(bp.ext_ramdisk_image, 0);
	assert_int_equal(bp.ext_ramdisk_size, 0);
	assert_int_equal(bp.ext_cmd_line_ptr, 0);
	assert_int_equal(bp.hdr.setup_data, 0);
	/* Zeroed by the loader: the kernel then trusts the rest of the page. */
	assert_int_equal(((uint8_t *)&bp)[0x1ef], 0); /* sentinel */
	assert_int_equal(((uint8_t *)&bp)[0x270], 0); /* past the image's header */
	assert_int_equal(bp.e820_entries, 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(bp.e820_table[i].addr, memmap[i].addr);
		assert_int_equal(bp.e820_table[i].size, memmap[i].size);
		assert_int_equal(bp.e820_table[i].type, memmap[i].type);
	}
	assert_int_equal(bp.e820_table[3].size, 0);
}

static void boot_params_without_initrd_have_no_ramdisk(void **state)
{
	struct model m;
	struct linux_kernel k;
	struct linux_boot_params bp;

	model_default(&m);
	parse_ok(&m, &k);
	linux_build_boot_params(&k, NULL, 0, &bp);
	assert_int_equal(bp.hdr.ramdisk_image, 0);
	assert_int_equal(bp.hdr.ramdisk_size, 0);
	assert_int_equal(bp.e820_entries, 0);
}

static void e820_table_is_capped_at_128_entries(void **state)
{
	static struct memmap_entry memmap[200];
	struct model m;
	struct linux_kernel k;
	struct linux_boot_params bp;

	for (unsigned i = 0; i < 200; i++)
		memmap[i] = (struct memmap_entry){i * 0x100000ULL, 0x100000, MEMMAP_RAM};
	model_default(&m);
	parse_ok(&m, &k);
	linux_build_boot_params(&k, memmap, 200, &bp);
	assert_int_equal(bp.e820_entries, LINUX_E820_MAX);
	assert_int_equal(bp.e820_table[127].addr, 127 * 0x100000ULL);
}

/* Page tables and GDT */

/* Walks the guest's 4-level page tables; returns the physical address, or
 * UINT64_MAX when va is not mapped. */
static uint64_t translate(const struct guest_mem *mem, uint64_t cr3, uint64_t va)
{
	static const unsigned shifts[] = {39, 30, 21, 12};
	uint64_t table = cr3;

	for (unsigned level = 0; level < 4; level++) {
		uint64_t entry;
		uint64_t index = (va >> shifts[level]) & 511;

		assert_true(guest_mem_read(mem, table + index * 8, &entry, sizeof(entry)));
		if (!(entry & 1))
			return UINT64_MAX;
		uint64_t frame = entry & 0x000ffffffffff000ULL;
		if (level > 0 && level < 3 && (entry & 0x80)) {
			uint64_t page_mask = (1ULL << shifts[level]) - 1;
			return (frame & ~page_mask) | (va & page_mask);
		}
		table = frame;
	}
	return table | (va & 0xfff);
}

static void page_tables_map_first_4gib_identically(void **state)
{
	static const uint64_t probes[] = {0,	      0x6000,	  0x100200,   0x1000000, 0x7fffffff,
					  0xbffff000, 0xfec00000, 0xfee00000, 0xffffffff};
	struct guest_mem mem;

	assert_int_equal(guest_mem_init(&mem, 16 * GUEST_MIB), 0);
	memset(mem.mapping + LINUX_PAGE_TABLES_ADDR, 0xff, LINUX_PAGE_TABLES_SIZE);
	assert_int_equal(linux_write_page_tables(&mem), 0);
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		assert_int_equal(translate(&mem, LINUX_PAGE_TABLES_ADDR, probes[i]), probes[i]);
	assert_int_equal(translate(&mem, LINUX_PAGE_TABLES_ADDR, 0x100000000ULL), UINT64_MAX);
	assert_int_equal(translate(&mem, LINUX_PAGE_TABLES_ADDR, 0xffffffff80000000ULL),
			 UINT64_MAX);
	/* The tables stay below the MP table and the bundled guest's 0x8000
	 * trampoline is left alone. */
	assert_true(LINUX_PAGE_TABLES_ADDR >= 0x9000);
	assert_true(LINUX_PAGE_TABLES_ADDR + LINUX_PAGE_TABLES_SIZE <= BOOT_RESERVED_START);
	guest_mem_destroy(&mem);
}

static void page_tables_need_guest_ram(void **state)
{
	struct guest_mem mem;

	assert_int_equal(guest_mem_init(&mem, 0xa000), 0); /* ends inside the tables */
	assert_int_equal(linux_write_page_tables(&mem), -1);
	guest_mem_destroy(&mem);
}

static void gdt_has_boot_cs_and_ds_where_boot_rst_says(void **state)
{
	struct guest_mem mem;
	uint64_t gdt[6];

	assert_int_equal(guest_mem_init(&mem, 16 * GUEST_MIB), 0);
	assert_int_equal(x86_cpu_write_linux_gdt(&mem), 0);
	assert_true(guest_mem_read(&mem, BOOT_GDT_ADDR, gdt, sizeof(gdt)));
	uint64_t cs = gdt[0x10 / 8], ds = gdt[0x18 / 8];
	assert_true(cs & (1ULL << 47));	       /* present */
	assert_true(cs & (1ULL << 53));	       /* L: 64-bit code */
	assert_false(cs & (1ULL << 54));       /* D/B clear with L */
	assert_true(cs & (1ULL << 43));	       /* code */
	assert_true(cs & (1ULL << 41));	       /* readable */
	assert_false(ds & (1ULL << 43));       /* data */
	assert_true(ds & (1ULL << 41));	       /* writable */
	assert_int_equal(ds & 0xffff, 0xffff); /* 4 GiB flat */
	assert_int_equal((ds >> 48) & 0xf, 0xf);
	assert_true(ds & (1ULL << 55)); /* 4 KiB granularity */
	guest_mem_destroy(&mem);
}

/* Loading */

static void load_places_kernel_initrd_cmdline_and_zero_page(void **state)
{
	static const uint8_t initrd[0x1800] = {1, 2, 3, [0x17ff] = 9};
	static const struct memmap_entry memmap[] = {{0x100000, 0x3f00000, MEMMAP_RAM}};
	const char *cmdline = "console=ttyS0 reboot=k";
	struct model m;
	struct linux_kernel k;
	struct linux_boot_params bp, expected;
	struct guest_mem mem;
	char err[256] = "";

	model_default(&m);
	uint8_t *image = image_build(&m);
	assert_int_equal(linux_parse(image, m.size, &k, err, sizeof(err)), 0);
	assert_int_equal(guest_mem_init(&mem, 64 * GUEST_MIB), 0);
	assert_int_equal(linux_place_initrd(&k, 64 * GUEST_MIB, sizeof(initrd), err, sizeof(err)),
			 0);
	assert_int_equal(linux_load(&k, image, initrd, &mem, memmap, 1, cmdline, err, sizeof(err)),
			 0);

	assert_memory_equal(mem.mapping + 0x100000, image + CODE_OFF, CODE_SIZE);
	assert_memory_equal(mem.mapping + k.initrd_addr, initrd, sizeof(initrd));
	assert_string_equal((char *)mem.mapping + BOOT_CMDLINE_ADDR, cmdline);
	linux_build_boot_params(&k, memmap, 1, &expected);
	memcpy(&bp, mem.mapping + LINUX_BOOT_PARAMS_ADDR, sizeof(bp));
	assert_memory_equal(&bp, &expected, sizeof(bp));
	assert_int_equal(translate(&mem, LINUX_PAGE_TABLES_ADDR, k.entry), k.entry);
	/* startup_64 is where the code's byte 0x200 landed. */
	assert_int_equal(mem.mapping[k.entry], pattern(CODE_OFF + 0x200));
	guest_mem_destroy(&mem);
	free(image);
}

static void load_refuses_kernel_larger_than_ram(void **state)
{
	struct model m;
	struct linux_kernel k;
	struct guest_mem mem;
	char err[256] = "";

	model_default(&m);
	uint8_t *image = image_build(&m);
	assert_int_equal(linux_parse(image, m.size, &k, err, sizeof(err)), 0);
	assert_int_equal(guest_mem_init(&mem, 0x100000), 0); /* ends where the kernel starts */
	assert_error_names(linux_load(&k, image, NULL, &mem, NULL, 0, "", err, sizeof(err)), err,
			   "does not fit");
	guest_mem_destroy(&mem);
	free(image);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(formats_are_told_apart_by_content),
		cmocka_unit_test(valid_image_gives_code_entry_and_ram_end),
		cmocka_unit_test(setup_sects_zero_means_four),
		cmocka_unit_test(signed_image_with_trailing_bytes_is_accepted),
		cmocka_unit_test(relocatable_kernel_unpacks_at_aligned_load_address),
		cmocka_unit_test(fixed_kernel_unpacks_at_pref_address),
		cmocka_unit_test(tiny_init_size_still_covers_loaded_code),
		cmocka_unit_test(newer_longer_header_is_kept_up_to_0x290),
		cmocka_unit_test(file_cut_before_hdrs_magic_is_refused),
		cmocka_unit_test(missing_hdrs_magic_is_refused),
		cmocka_unit_test(wrong_boot_flag_is_refused),
		cmocka_unit_test(protocol_older_than_2_12_is_refused),
		cmocka_unit_test(header_without_init_size_is_refused),
		cmocka_unit_test(header_past_end_of_file_is_refused),
		cmocka_unit_test(kernel_code_past_end_of_file_is_refused),
		cmocka_unit_test(empty_or_tiny_kernel_code_is_refused),
		cmocka_unit_test(zimage_is_refused),
		cmocka_unit_test(kernel_without_64bit_entry_is_refused),
		cmocka_unit_test(bad_kernel_alignment_is_refused),
		cmocka_unit_test(fixed_kernel_below_1mib_is_refused),
		cmocka_unit_test(zero_init_size_is_refused),
		cmocka_unit_test(kernel_beyond_4gib_is_refused),
		cmocka_unit_test(kernel_needing_more_ram_than_guest_has_is_refused),
		cmocka_unit_test(cmdline_longer_than_cmdline_size_is_refused),
		cmocka_unit_test(initrd_goes_to_highest_page_below_end_of_ram),
		cmocka_unit_test(initrd_stays_below_initrd_addr_max),
		cmocka_unit_test(initrd_overlapping_the_kernel_is_refused),
		cmocka_unit_test(initrd_larger_than_ram_is_refused),
		cmocka_unit_test(boot_params_carry_header_and_loader_fields),
		cmocka_unit_test(boot_params_without_initrd_have_no_ramdisk),
		cmocka_unit_test(e820_table_is_capped_at_128_entries),
		cmocka_unit_test(page_tables_map_first_4gib_identically),
		cmocka_unit_test(page_tables_need_guest_ram),
		cmocka_unit_test(gdt_has_boot_cs_and_ds_where_boot_rst_says),
		cmocka_unit_test(load_places_kernel_initrd_cmdline_and_zero_page),
		cmocka_unit_test(load_refuses_kernel_larger_than_ram),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
