#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "devices/bus.h"

struct probe {
	uint64_t last_offset;
	uint32_t last_len;
	uint8_t last_write[8];
	int reads, writes;
};

static void probe_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	struct probe *p = opaque;

	p->reads++;
	p->last_offset = offset;
	p->last_len = len;
	for (uint32_t i = 0; i < len; i++)
		assert_int_equal(data[i], 0); /* arrives zero-filled */
	data[0] = 0x5a;
}

static void probe_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct probe *p = opaque;

	p->writes++;
	p->last_offset = offset;
	p->last_len = len;
	memcpy(p->last_write, data, len);
}

static const struct bus_ops probe_ops = {"probe", probe_read, probe_write};

static void overlapping_range_is_refused(void **state)
{
	struct bus bus;
	struct probe p = {0};

	bus_init(&bus, "pio");
	assert_int_equal(bus_register(&bus, 0x3f8, 8, &probe_ops, &p), 0);
	assert_int_equal(bus_register(&bus, 0x3f8, 8, &probe_ops, &p), -EEXIST);
	assert_int_equal(bus_register(&bus, 0x3f0, 9, &probe_ops, &p), -EEXIST);
	assert_int_equal(bus_register(&bus, 0x3ff, 1, &probe_ops, &p), -EEXIST);
	assert_int_equal(bus_register(&bus, 0x3f0, 0x20, &probe_ops, &p), -EEXIST);
	/* Adjacent ranges on both sides are fine. */
	assert_int_equal(bus_register(&bus, 0x3f0, 8, &probe_ops, &p), 0);
	assert_int_equal(bus_register(&bus, 0x400, 8, &probe_ops, &p), 0);
	assert_int_equal(bus.nr_ranges, 3);
	bus_destroy(&bus);
}

static void empty_and_wrapping_ranges_are_refused(void **state)
{
	struct bus bus;
	struct probe p = {0};

	bus_init(&bus, "mmio");
	assert_int_equal(bus_register(&bus, 0x1000, 0, &probe_ops, &p), -EINVAL);
	assert_int_equal(bus_register(&bus, UINT64_MAX - 1, 4, &probe_ops, &p), -EINVAL);
	assert_int_equal(bus_register(&bus, 0x1000, 4, NULL, &p), -EINVAL);
	assert_int_equal(bus.nr_ranges, 0);
	bus_destroy(&bus);
}

static void access_reaches_device_at_its_offset(void **state)
{
	struct bus bus;
	struct probe p = {0};
	uint8_t data[4] = {1, 2, 3, 4};

	bus_init(&bus, "pio");
	assert_int_equal(bus_register(&bus, 0x3f8, 8, &probe_ops, &p), 0);
	assert_true(bus_write(&bus, 0x3fd, data, 2));
	assert_int_equal(p.last_offset, 5);
	assert_int_equal(p.last_len, 2);
	assert_memory_equal(p.last_write, data, 2);
	memset(data, 0xee, sizeof(data));
	assert_true(bus_read(&bus, 0x3f8, data, 4));
	assert_int_equal(data[0], 0x5a);
	assert_int_equal(data[1], 0); /* zero-filled, not stale 0xee */
	bus_destroy(&bus);
}

static void access_straddling_range_end_is_unclaimed(void **state)
{
	struct bus bus;
	struct probe p = {0};
	uint8_t data[4] = {0};

	bus_init(&bus, "pio");
	assert_int_equal(bus_register(&bus, 0x3f8, 8, &probe_ops, &p), 0);
	assert_false(bus_read(&bus, 0x3fe, data, 4));
	assert_int_equal(p.reads, 0);
	assert_int_equal(data[0], 0xff); /* an undriven bus reads all ones */
	assert_false(bus_write(&bus, UINT64_MAX - 1, data, 4));
	assert_int_equal(p.writes, 0);
	bus_destroy(&bus);
}

static void lookup_finds_right_device_among_many(void **state)
{
	struct bus bus;
	struct probe p[64];

	memset(p, 0, sizeof(p));
	bus_init(&bus, "mmio");
	/* Registered out of order; lookup must still hit each one. */
	for (int i = 63; i >= 0; i--)
		assert_int_equal(bus_register(&bus, 0x10000 + i * 0x100, 0x80, &probe_ops, &p[i]),
				 0);
	for (int i = 0; i < 64; i++) {
		const struct bus_range *r = bus_find(&bus, 0x10000 + i * 0x100 + 0x7f, 1);
		assert_non_null(r);
		assert_ptr_equal(r->opaque, &p[i]);
		assert_null(bus_find(&bus, 0x10000 + i * 0x100 + 0x80, 1)); /* gap */
	}
	bus_destroy(&bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(overlapping_range_is_refused),
		cmocka_unit_test(empty_and_wrapping_ranges_are_refused),
		cmocka_unit_test(access_reaches_device_at_its_offset),
		cmocka_unit_test(access_straddling_range_end_is_unclaimed),
		cmocka_unit_test(lookup_finds_right_device_among_many),
	};
	return cmocka_run_group_tests_name("bus", tests, NULL, NULL);
}
