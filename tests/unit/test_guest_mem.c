#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mm/guest_mem.h"
#include "mm/memmap.h"
#include "vmm/boot_layout.h"

static void ram_below_hole_is_one_region_at_zero(void **state)
{
	struct guest_mem_region r[GUEST_MEM_MAX_REGIONS];

	memset(r, 0xee, sizeof(r));
	assert_int_equal(guest_mem_layout(256 * GUEST_MIB, r), 1);
	assert_int_equal(r[0].gpa, 0);
	assert_int_equal(r[0].size, 256 * GUEST_MIB);
	assert_int_equal(r[0].memfd_offset, 0);
}

static void ram_of_exactly_3gib_fills_up_to_hole_in_one_region(void **state)
{
	struct guest_mem_region r[GUEST_MEM_MAX_REGIONS];

	assert_int_equal(guest_mem_layout(3 * GUEST_GIB, r), 1);
	assert_int_equal(r[0].gpa, 0);
	assert_int_equal(r[0].size, GUEST_MMIO_HOLE_START);
}

static void ram_above_hole_continues_at_4gib(void **state)
{
	struct guest_mem_region r[GUEST_MEM_MAX_REGIONS];

	assert_int_equal(guest_mem_layout(3 * GUEST_GIB + GUEST_PAGE_SIZE, r), 2);
	assert_int_equal(r[0].gpa, 0);
	assert_int_equal(r[0].size, GUEST_MMIO_HOLE_START);
	assert_int_equal(r[0].memfd_offset, 0);
	assert_int_equal(r[1].gpa, GUEST_HIGH_RAM_START);
	assert_int_equal(r[1].size, GUEST_PAGE_SIZE);
	assert_int_equal(r[1].memfd_offset, GUEST_MMIO_HOLE_START);

	assert_int_equal(guest_mem_layout(8 * GUEST_GIB, r), 2);
	assert_int_equal(r[1].gpa, 4 * GUEST_GIB);
	assert_int_equal(r[1].size, 5 * GUEST_GIB);
	/* Every byte of RAM appears exactly once. */
	assert_int_equal(r[0].size + r[1].size, 8 * GUEST_GIB);
}

static void init_refuses_empty_and_unaligned_sizes(void **state)
{
	struct guest_mem mem;

	assert_int_equal(guest_mem_init(&mem, 0), -EINVAL);
	assert_int_equal(mem.memfd, -1);
	assert_null(mem.mapping);
	assert_int_equal(guest_mem_init(&mem, 16 * GUEST_MIB + 1), -EINVAL);
	assert_int_equal(guest_mem_init(&mem, GUEST_PAGE_SIZE / 2), -EINVAL);
	guest_mem_destroy(&mem); /* harmless on a failed init */
}

static void small_ram_round_trips_bytes_through_memfd(void **state)
{
	struct guest_mem mem;
	uint8_t out[64], in[64];

	assert_int_equal(guest_mem_init(&mem, 16 * GUEST_MIB), 0);
	assert_true(mem.memfd >= 0);
	assert_int_equal(mem.nr_regions, 1);
	assert_ptr_equal(mem.regions[0].hva, mem.mapping);

	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 7 + 1);
	assert_true(guest_mem_write(&mem, 0x123456, out, sizeof(out)));
	memset(in, 0, sizeof(in));
	assert_true(guest_mem_read(&mem, 0x123456, in, sizeof(in)));
	assert_memory_equal(in, out, sizeof(out));
	/* The bytes really are where the pointer says, in the one mapping. */
	assert_memory_equal(mem.mapping + 0x123456, out, sizeof(out));
	assert_ptr_equal(guest_mem_ptr(&mem, 0x123456, 1), mem.mapping + 0x123456);
	/* Fresh RAM reads as zeros. */
	assert_true(guest_mem_read(&mem, 16 * GUEST_MIB - sizeof(in), in, sizeof(in)));
	for (size_t i = 0; i < sizeof(in); i++)
		assert_int_equal(in[i], 0);
	/* The memfd is the backing store: what the guest wrote is in it. */
	uint8_t via_fd[64];
	assert_int_equal(pread(mem.memfd, via_fd, sizeof(via_fd), 0x123456), sizeof(via_fd));
	assert_memory_equal(via_fd, out, sizeof(out));

	guest_mem_destroy(&mem);
	assert_int_equal(mem.memfd, -1);
	assert_null(mem.mapping);
	assert_int_equal(mem.nr_regions, 0);
}

static void ptr_allows_last_byte_and_refuses_one_past_end(void **state)
{
	struct guest_mem mem;
	const uint64_t size = 16 * GUEST_MIB;

	assert_int_equal(guest_mem_init(&mem, size), 0);
	assert_ptr_equal(guest_mem_ptr(&mem, size - 1, 1), mem.mapping + size - 1);
	assert_ptr_equal(guest_mem_ptr(&mem, 0, size), mem.mapping);
	assert_null(guest_mem_ptr(&mem, size, 1));
	assert_null(guest_mem_ptr(&mem, size - 1, 2));
	assert_null(guest_mem_ptr(&mem, 0, size + 1));
	assert_null(guest_mem_ptr(&mem, GUEST_HIGH_RAM_START, 1)); /* no high RAM here */
	uint8_t b = 0x5a;
	assert_false(guest_mem_write(&mem, size, &b, 1));
	assert_false(guest_mem_read(&mem, size - 1, &b, 2));
	assert_int_equal(b, 0x5a); /* a refused read leaves dst alone */
	guest_mem_destroy(&mem);
}

static void ptr_refuses_length_that_wraps_address_space(void **state)
{
	struct guest_mem mem;

	assert_int_equal(guest_mem_init(&mem, 16 * GUEST_MIB), 0);
	/* gpa + len overflows to a small end that would pass a naive check. */
	assert_null(guest_mem_ptr(&mem, 0x1000, UINT64_MAX - 0xfff + 0x10));
	assert_null(guest_mem_ptr(&mem, 0x1000, UINT64_MAX));
	assert_null(guest_mem_ptr(&mem, UINT64_MAX, 2));
	assert_null(guest_mem_ptr(&mem, UINT64_MAX - 3, 8));
	assert_null(guest_mem_ptr(&mem, 0, UINT64_MAX));
	guest_mem_destroy(&mem);
}

/* 3 GiB + 8 MiB: both regions, with MAP_NORESERVE so only touched pages
 * cost anything. */
static void ram_split_by_hole_maps_both_regions_to_one_memfd(void **state)
{
	struct guest_mem mem;
	const uint64_t size = 3 * GUEST_GIB + 8 * GUEST_MIB;
	const uint64_t high_end = GUEST_HIGH_RAM_START + 8 * GUEST_MIB;

	assert_int_equal(guest_mem_init(&mem, size), 0);
	assert_int_equal(mem.nr_regions, 2);
	assert_ptr_equal(mem.regions[1].hva, mem.mapping + GUEST_MMIO_HOLE_START);

	/* Last byte below the hole and first byte above it are RAM. */
	assert_ptr_equal(guest_mem_ptr(&mem, GUEST_MMIO_HOLE_START - 1, 1),
			 mem.mapping + GUEST_MMIO_HOLE_START - 1);
	assert_ptr_equal(guest_mem_ptr(&mem, GUEST_HIGH_RAM_START, 1),
			 mem.mapping + GUEST_MMIO_HOLE_START);
	/* The hole itself, and anything reaching into it, is not. */
	assert_null(guest_mem_ptr(&mem, GUEST_MMIO_HOLE_START, 1));
	assert_null(guest_mem_ptr(&mem, BOOT_IOAPIC_ADDR, 4));
	assert_null(guest_mem_ptr(&mem, BOOT_LAPIC_ADDR, 4));
	assert_null(guest_mem_ptr(&mem, GUEST_HIGH_RAM_START - 1, 1));
	assert_null(guest_mem_ptr(&mem, GUEST_MMIO_HOLE_START - 4, 8));
	assert_null(guest_mem_ptr(&mem, GUEST_HIGH_RAM_START - 4, 8));
	/* A range spanning the whole hole is contiguous in the memfd but
	 * must still be refused. */
	assert_null(guest_mem_ptr(&mem, GUEST_MMIO_HOLE_START - 1,
				  GUEST_HIGH_RAM_START - GUEST_MMIO_HOLE_START + 2));
	/* High RAM's ends. */
	assert_non_null(guest_mem_ptr(&mem, high_end - 1, 1));
	assert_null(guest_mem_ptr(&mem, high_end, 1));
	assert_null(guest_mem_ptr(&mem, high_end - 1, 2));
	/* A gpa that equals a memfd offset of high RAM is in the hole, not a
	 * way into high RAM. */
	assert_null(guest_mem_ptr(&mem, size - 1, 1));

	uint32_t v = 0xfeedf00d, back = 0;
	assert_true(guest_mem_write(&mem, GUEST_HIGH_RAM_START + 0x10, &v, sizeof(v)));
	assert_true(guest_mem_read(&mem, GUEST_HIGH_RAM_START + 0x10, &back, sizeof(back)));
	assert_int_equal(back, v);
	assert_memory_equal(mem.mapping + GUEST_MMIO_HOLE_START + 0x10, &v, sizeof(v));
	guest_mem_destroy(&mem);
}

/* memmap_build */

static void memmap_carves_reserved_area_out_of_low_ram(void **state)
{
	struct guest_mem_region r[GUEST_MEM_MAX_REGIONS];
	struct memmap_entry e[BOOT_MEMMAP_MAX_ENTRIES];
	unsigned nr = guest_mem_layout(256 * GUEST_MIB, r);

	assert_int_equal(memmap_build(r, nr, BOOT_RESERVED_START, BOOT_RESERVED_END, e,
				      BOOT_MEMMAP_MAX_ENTRIES),
			 3);
	assert_int_equal(e[0].addr, 0);
	assert_int_equal(e[0].size, BOOT_RESERVED_START);
	assert_int_equal(e[0].type, MEMMAP_RAM);
	assert_int_equal(e[1].addr, BOOT_RESERVED_START);
	assert_int_equal(e[1].size, BOOT_RESERVED_END - BOOT_RESERVED_START);
	assert_int_equal(e[1].type, MEMMAP_RESERVED);
	assert_int_equal(e[2].addr, BOOT_RESERVED_END);
	assert_int_equal(e[2].size, 256 * GUEST_MIB - BOOT_RESERVED_END);
	assert_int_equal(e[2].type, MEMMAP_RAM);
}

static void memmap_lists_high_ram_after_the_hole(void **state)
{
	struct guest_mem_region r[GUEST_MEM_MAX_REGIONS];
	struct memmap_entry e[BOOT_MEMMAP_MAX_ENTRIES];
	unsigned nr = guest_mem_layout(4 * GUEST_GIB, r);

	assert_int_equal(memmap_build(r, nr, BOOT_RESERVED_START, BOOT_RESERVED_END, e,
				      BOOT_MEMMAP_MAX_ENTRIES),
			 4);
	assert_int_equal(e[2].addr, BOOT_RESERVED_END);
	assert_int_equal(e[2].addr + e[2].size, GUEST_MMIO_HOLE_START);
	assert_int_equal(e[3].addr, GUEST_HIGH_RAM_START);
	assert_int_equal(e[3].size, GUEST_GIB);
	assert_int_equal(e[3].type, MEMMAP_RAM);
	/* Sorted and non-overlapping, as guests expect of an E820 map. */
	for (unsigned i = 1; i < 4; i++)
		assert_true(e[i - 1].addr + e[i - 1].size <= e[i].addr);
}

static void memmap_refuses_too_small_output(void **state)
{
	struct guest_mem_region r[GUEST_MEM_MAX_REGIONS];
	struct memmap_entry e[4];
	unsigned nr = guest_mem_layout(4 * GUEST_GIB, r);

	memset(e, 0, sizeof(e));
	assert_int_equal(memmap_build(r, nr, BOOT_RESERVED_START, BOOT_RESERVED_END, e, 3), 0);
	/* The fourth slot was never written: no overflow past max. */
	assert_int_equal(e[3].addr, 0);
	assert_int_equal(e[3].size, 0);
	assert_int_equal(memmap_build(r, nr, BOOT_RESERVED_START, BOOT_RESERVED_END, e, 0), 0);
	assert_int_equal(memmap_build(r, nr, BOOT_RESERVED_START, BOOT_RESERVED_END, e, 4), 4);
}

static void memmap_skips_empty_pieces_around_reserved_area(void **state)
{
	struct guest_mem_region r[GUEST_MEM_MAX_REGIONS];
	struct memmap_entry e[BOOT_MEMMAP_MAX_ENTRIES];
	unsigned nr = guest_mem_layout(16 * GUEST_MIB, r);

	/* Reserved area at the very start and at the very end of RAM. */
	assert_int_equal(memmap_build(r, nr, 0, 0x1000, e, BOOT_MEMMAP_MAX_ENTRIES), 2);
	assert_int_equal(e[0].type, MEMMAP_RESERVED);
	assert_int_equal(e[1].addr, 0x1000);
	assert_int_equal(memmap_build(r, nr, 16 * GUEST_MIB - 0x1000, 16 * GUEST_MIB, e,
				      BOOT_MEMMAP_MAX_ENTRIES),
			 2);
	assert_int_equal(e[0].type, MEMMAP_RAM);
	assert_int_equal(e[0].size, 16 * GUEST_MIB - 0x1000);
	assert_int_equal(e[1].type, MEMMAP_RESERVED);
	/* A reserved area outside RAM adds nothing. */
	assert_int_equal(
		memmap_build(r, nr, 32 * GUEST_MIB, 33 * GUEST_MIB, e, BOOT_MEMMAP_MAX_ENTRIES), 1);
	assert_int_equal(e[0].size, 16 * GUEST_MIB);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ram_below_hole_is_one_region_at_zero),
		cmocka_unit_test(ram_of_exactly_3gib_fills_up_to_hole_in_one_region),
		cmocka_unit_test(ram_above_hole_continues_at_4gib),
		cmocka_unit_test(init_refuses_empty_and_unaligned_sizes),
		cmocka_unit_test(small_ram_round_trips_bytes_through_memfd),
		cmocka_unit_test(ptr_allows_last_byte_and_refuses_one_past_end),
		cmocka_unit_test(ptr_refuses_length_that_wraps_address_space),
		cmocka_unit_test(ram_split_by_hole_maps_both_regions_to_one_memfd),
		cmocka_unit_test(memmap_carves_reserved_area_out_of_low_ram),
		cmocka_unit_test(memmap_lists_high_ram_after_the_hole),
		cmocka_unit_test(memmap_refuses_too_small_output),
		cmocka_unit_test(memmap_skips_empty_pieces_around_reserved_area),
	};
	return cmocka_run_group_tests_name("guest_mem", tests, NULL, NULL);
}
