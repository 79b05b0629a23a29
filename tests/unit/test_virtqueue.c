#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "devices/virtio/virtqueue.h"
#include "mm/guest_mem.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the driver side below writes rings in host order"
#endif

/* The driver side of a queue on a real 1 MiB guest RAM: rings at
 * page-aligned places, room for indirect tables after them, data buffers
 * from `data` to the end of RAM. Every pop runs with everything outside the
 * rings and indirect tables mapped PROT_NONE, so a pop that read or wrote a
 * buffer (or anything else) would crash the test. */
#define RAM_SIZE GUEST_MIB
#define EVENT_IDX 1u
#define INDIRECT 2u

struct drv {
	struct guest_mem mem;
	struct virtq vq;
	uint16_t size;
	uint64_t desc, avail, used, itab, data;
	uint16_t avail_idx; /* the driver's next avail->idx */
	bool guard;
	uint8_t *snap;
};

struct seg {
	uint64_t addr;
	uint32_t len;
	bool write;
};

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static uint8_t *hva(struct drv *d, uint64_t gpa)
{
	return d->mem.mapping + gpa;
}

static void drv_setup_at(struct drv *d, uint16_t size, unsigned features, uint16_t start)
{
	memset(d, 0, sizeof(*d));
	assert_int_equal(guest_mem_init(&d->mem, RAM_SIZE), 0);
	memset(d->mem.mapping, 0xa5, RAM_SIZE);
	d->size = size;
	d->desc = 0x1000;
	d->avail = align_up(d->desc + VIRTQ_DESC_BYTES(size), 0x1000);
	d->used = align_up(d->avail + VIRTQ_AVAIL_BYTES(size), 0x1000);
	d->itab = align_up(d->used + VIRTQ_USED_BYTES(size), 0x1000);
	d->data = d->itab + 0x8000;
	assert_true(d->data < RAM_SIZE);
	/* The driver zeroes its rings before handing them over. */
	memset(hva(d, d->desc), 0, d->itab - d->desc);
	d->avail_idx = start;
	memcpy(hva(d, d->avail + 2), &start, 2);
	memcpy(hva(d, d->used + 2), &start, 2);

	d->vq.mem = &d->mem;
	d->vq.size = size;
	d->vq.desc_gpa = d->desc;
	d->vq.avail_gpa = d->avail;
	d->vq.used_gpa = d->used;
	d->vq.event_idx = features & EVENT_IDX;
	d->vq.indirect = features & INDIRECT;
	d->vq.last_avail_idx = start;
	d->vq.used_idx = start;
	assert_int_equal(virtq_activate(&d->vq), 0);
	assert_null(d->vq.error);
	assert_true(d->vq.ready);
	d->guard = true;
}

static void drv_setup(struct drv *d, uint16_t size, unsigned features)
{
	drv_setup_at(d, size, features, 0);
}

static void drv_teardown(struct drv *d)
{
	free(d->snap);
	guest_mem_destroy(&d->mem);
}

/* Everything but [desc, data) inaccessible while the device looks. */
static void drv_guard(struct drv *d, int prot)
{
	if (!d->guard)
		return;
	assert_int_equal(mprotect(d->mem.mapping, d->desc, prot), 0);
	assert_int_equal(mprotect(hva(d, d->data), RAM_SIZE - d->data, prot), 0);
}

static int drv_pop(struct drv *d, struct virtq_chain *c)
{
	drv_guard(d, PROT_NONE);
	int r = virtq_pop(&d->vq, c);
	drv_guard(d, PROT_READ | PROT_WRITE);
	return r;
}

static void drv_desc(struct drv *d, uint64_t table, unsigned i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	struct virtq_desc desc = {addr, len, flags, next};

	assert_true(guest_mem_write(&d->mem, table + 16ULL * i, &desc, sizeof(desc)));
}

/* Segments as descriptors first, first+1, ... of a table, chained. */
static void drv_chain(struct drv *d, uint64_t table, unsigned first, const struct seg *s,
		      unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		uint16_t flags =
			(s[k].write ? VIRTQ_DESC_F_WRITE : 0) | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0);
		drv_desc(d, table, first + k, s[k].addr, s[k].len, flags,
			 (uint16_t)(k + 1 < n ? first + k + 1 : 0));
	}
}

static void drv_set_avail_idx(struct drv *d, uint16_t idx)
{
	__atomic_store_n((uint16_t *)(void *)hva(d, d->avail + 2), idx, __ATOMIC_RELEASE);
}

static void drv_publish(struct drv *d, uint16_t head)
{
	memcpy(hva(d, d->avail + 4 + 2ULL * (d->avail_idx & (d->size - 1))), &head, 2);
	d->avail_idx++;
	drv_set_avail_idx(d, d->avail_idx);
}

static void drv_add(struct drv *d, unsigned first, const struct seg *s, unsigned n)
{
	drv_chain(d, d->desc, first, s, n);
	drv_publish(d, (uint16_t)first);
}

static uint16_t rd16(struct drv *d, uint64_t gpa)
{
	uint16_t v;

	assert_true(guest_mem_read(&d->mem, gpa, &v, 2));
	return v;
}

static void wr16(struct drv *d, uint64_t gpa, uint16_t v)
{
	assert_true(guest_mem_write(&d->mem, gpa, &v, 2));
}

static uint16_t used_idx(struct drv *d)
{
	return rd16(d, d->used + 2);
}

static struct virtq_used_elem used_elem(struct drv *d, uint16_t idx)
{
	struct virtq_used_elem e;

	assert_true(
		guest_mem_read(&d->mem, d->used + 4 + 8ULL * (idx & (d->size - 1)), &e, sizeof(e)));
	return e;
}

static uint64_t used_event_gpa(struct drv *d)
{
	return d->avail + 4 + 2ULL * d->size;
}

static uint64_t avail_event_gpa(struct drv *d)
{
	return d->used + 4 + 8ULL * d->size;
}

static void drv_snapshot(struct drv *d)
{
	if (!d->snap)
		d->snap = malloc(RAM_SIZE);
	assert_non_null(d->snap);
	memcpy(d->snap, d->mem.mapping, RAM_SIZE);
}

static void drv_assert_untouched(struct drv *d)
{
	for (uint64_t i = 0; i < RAM_SIZE; i++)
		if (d->mem.mapping[i] != d->snap[i])
			fail_msg("guest byte 0x%llx changed: 0x%02x -> 0x%02x",
				 (unsigned long long)i, d->snap[i], d->mem.mapping[i]);
}

static void assert_error_names(const struct virtq *vq, const char *what)
{
	if (!vq->error)
		fail_msg("no error set; expected '%s'", what);
	if (!strstr(vq->error, what))
		fail_msg("error '%s' does not mention '%s'", vq->error, what);
}

/* The verdict every attack test wants: the pop is refused, the error names
 * the problem, no guest byte changed, and the queue stays dead. */
static void expect_violation(struct drv *d, const char *what)
{
	struct virtq_chain c;
	uint16_t last_avail = d->vq.last_avail_idx;

	drv_snapshot(d);
	assert_int_equal(drv_pop(d, &c), -1);
	assert_error_names(&d->vq, what);
	const char *first = d->vq.error;

	assert_int_equal(d->vq.last_avail_idx, last_avail);
	assert_int_equal(drv_pop(d, &c), -1);
	assert_ptr_equal(d->vq.error, first);
	assert_int_equal(virtq_push(&d->vq, 0, 0), -1);
	virtq_set_notifications(&d->vq, false);
	virtq_set_notifications(&d->vq, true);
	assert_false(virtq_needs_interrupt(&d->vq));
	drv_assert_untouched(d);
}

static void expect_one_buf(struct drv *d, const struct virtq_buf *b, uint64_t gpa, uint32_t len)
{
	assert_ptr_equal(b->hva, hva(d, gpa));
	assert_int_equal(b->gpa, gpa);
	assert_int_equal(b->len, len);
}

/* ---- activation: size and ring areas ---------------------------------- */

static void expect_activate_refused(struct virtq *vq, const char *what)
{
	assert_int_equal(virtq_activate(vq), -1);
	assert_error_names(vq, what);
	assert_false(vq->ready);
}

static void ring_setup_raw(struct drv *d, uint16_t size)
{
	memset(d, 0, sizeof(*d));
	assert_int_equal(guest_mem_init(&d->mem, RAM_SIZE), 0);
	d->vq.mem = &d->mem;
	d->vq.size = size;
	d->vq.desc_gpa = 0x1000;
	d->vq.avail_gpa = 0x2000;
	d->vq.used_gpa = 0x3000;
}

static void size_zero_is_refused(void **state)
{
	struct drv d;

	ring_setup_raw(&d, 0);
	expect_activate_refused(&d.vq, "size is 0");
	drv_teardown(&d);
}

static void size_not_power_of_two_is_refused(void **state)
{
	const uint16_t bad[] = {3, 6, 100, 255, 257, 32767};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct drv d;

		ring_setup_raw(&d, bad[i]);
		expect_activate_refused(&d.vq, "not a power of 2");
		drv_teardown(&d);
	}
}

static void size_larger_than_32768_is_refused(void **state)
{
	const uint16_t bad[] = {32769, 40000, 65535};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct drv d;

		ring_setup_raw(&d, bad[i]);
		expect_activate_refused(&d.vq, "larger than 32768");
		drv_teardown(&d);
	}
}

static void sizes_1_and_32768_are_accepted(void **state)
{
	struct drv d;
	struct virtq_chain c;

	drv_setup(&d, 1, 0);
	drv_add(&d, 0, (struct seg[]){{d.data, 8, false}}, 1);
	assert_int_equal(drv_pop(&d, &c), 1);
	assert_int_equal(virtq_push(&d.vq, 0, 0), 0);
	drv_add(&d, 0, (struct seg[]){{d.data, 8, true}}, 1);
	assert_int_equal(drv_pop(&d, &c), 1);
	assert_int_equal(c.nr_in, 1);
	drv_teardown(&d);

	drv_setup(&d, VIRTQ_MAX_SIZE, 0);
	drv_add(&d, VIRTQ_MAX_SIZE - 1, (struct seg[]){{d.data, 8, false}}, 1);
	assert_int_equal(drv_pop(&d, &c), 1);
	assert_int_equal(c.head, VIRTQ_MAX_SIZE - 1);
	drv_teardown(&d);
}

static void ring_area_outside_ram_is_refused(void **state)
{
	const struct {
		uint64_t desc, avail, used;
		const char *what;
	} bad[] = {
		{RAM_SIZE, 0x2000, 0x3000, "descriptor table is not in RAM"},
		/* straddling the end of RAM by one entry */
		{RAM_SIZE - 16 * 7, 0x2000, 0x3000, "descriptor table is not in RAM"},
		{UINT64_MAX - 15, 0x2000, 0x3000, "descriptor table is not in RAM"},
		{GUEST_MMIO_HOLE_START, 0x2000, 0x3000, "descriptor table is not in RAM"},
		{0x1000, RAM_SIZE, 0x3000, "available ring is not in RAM"},
		/* flags, idx and ring fit; used_event hangs over the end */
		{0x1000, RAM_SIZE - (4 + 2 * 8), 0x3000, "available ring is not in RAM"},
		{0x1000, UINT64_MAX - 1, 0x3000, "available ring is not in RAM"},
		{0x1000, 0x2000, RAM_SIZE, "used ring is not in RAM"},
		/* avail_event hangs over the end */
		{0x1000, 0x2000, RAM_SIZE - (4 + 8 * 8), "used ring is not in RAM"},
		{0x1000, 0x2000, UINT64_MAX - 3, "used ring is not in RAM"},
	};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct drv d;

		ring_setup_raw(&d, 8);
		d.vq.desc_gpa = bad[i].desc;
		d.vq.avail_gpa = bad[i].avail;
		d.vq.used_gpa = bad[i].used;
		expect_activate_refused(&d.vq, bad[i].what);
		drv_teardown(&d);
	}
}

static void ring_areas_ending_at_end_of_ram_are_accepted(void **state)
{
	const struct {
		uint64_t desc, avail, used;
	} ok[] = {
		{RAM_SIZE - 16 * 8, 0x2000, 0x3000},
		{0x1000, RAM_SIZE - (6 + 2 * 8), 0x3000},
		/* 6 + 8 * 8 = 70 bytes: the last 4-aligned place is 72 back */
		{0x1000, 0x2000, RAM_SIZE - 72},
	};

	for (unsigned i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct drv d;

		ring_setup_raw(&d, 8);
		d.vq.desc_gpa = ok[i].desc;
		d.vq.avail_gpa = ok[i].avail;
		d.vq.used_gpa = ok[i].used;
		assert_int_equal(virtq_activate(&d.vq), 0);
		assert_true(d.vq.ready);
		drv_teardown(&d);
	}
}

static void misaligned_ring_area_is_refused(void **state)
{
	const struct {
		uint64_t desc, avail, used;
		const char *what;
	} bad[] = {
		{0x1008, 0x2000, 0x3000, "descriptor table is not 16-byte aligned"},
		{0x1001, 0x2000, 0x3000, "descriptor table is not 16-byte aligned"},
		{0x1000, 0x2001, 0x3000, "available ring is not 2-byte aligned"},
		{0x1000, 0x2000, 0x3002, "used ring is not 4-byte aligned"},
		{0x1000, 0x2000, 0x3001, "used ring is not 4-byte aligned"},
	};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct drv d;

		ring_setup_raw(&d, 8);
		d.vq.desc_gpa = bad[i].desc;
		d.vq.avail_gpa = bad[i].avail;
		d.vq.used_gpa = bad[i].used;
		expect_activate_refused(&d.vq, bad[i].what);
		drv_teardown(&d);
	}
}

static void activation_without_memory_is_refused(void **state)
{
	struct virtq vq = {.size = 8, .desc_gpa = 0x1000, .avail_gpa = 0x2000, .used_gpa = 0x3000};

	expect_activate_refused(&vq, "no guest memory");
}

/* ---- good paths ------------------------------------------------------- */

static void single_buffer_chains_are_popped(void **state)
{
	struct drv d;
	struct virtq_chain c;

	drv_setup(&d, 8, 0);
	assert_int_equal(drv_pop(&d, &c), 0);
	drv_add(&d, 0, (struct seg[]){{d.data, 100, false}}, 1);
	drv_add(&d, 5, (struct seg[]){{d.data + 0x1000, 0x1000, true}}, 1);

	assert_int_equal(drv_pop(&d, &c), 1);
	assert_int_equal(c.head, 0);
	assert_int_equal(c.nr_out, 1);
	assert_int_equal(c.nr_in, 0);
	assert_int_equal(c.out_bytes, 100);
	assert_int_equal(c.in_bytes, 0);
	expect_one_buf(&d, &virtq_chain_out(&c)[0], d.data, 100);

	assert_int_equal(drv_pop(&d, &c), 1);
	assert_int_equal(c.head, 5);
	assert_int_equal(c.nr_out, 0);
	assert_int_equal(c.nr_in, 1);
	assert_int_equal(c.in_bytes, 0x1000);
	expect_one_buf(&d, &virtq_chain_in(&c)[0], d.data + 0x1000, 0x1000);

	assert_int_equal(drv_pop(&d, &c), 0);
	assert_int_equal(d.vq.last_avail_idx, 2);
	assert_null(d.vq.error);
	drv_teardown(&d);
}

static void multi_buffer_chain_keeps_order_and_sums_bytes(void **state)
{
	struct drv d;
	struct virtq_chain c;

	drv_setup(&d, 16, 0);
	const struct seg s[] = {
		{d.data, 16, false},
		{d.data + 0x100, 4000, false},
		{d.data + 0x2000, 512, true},
		{d.data + 0x3000, 1, true},
		{d.data + 0x4000, 0x10000, true},
	};
	drv_add(&d, 3, s, 5);

	assert_int_equal(drv_pop(&d, &c), 1);
	assert_int_equal(c.head, 3);
	assert_int_equal(c.nr_out, 2);
	assert_int_equal(c.nr_in, 3);
	assert_int_equal(c.out_bytes, 16 + 4000);
	assert_int_equal(c.in_bytes, 512 + 1 + 0x10000);
	for (unsigned k = 0; k < 2; k++)
		expect_one_buf(&d, &virtq_chain_out(&c)[k], s[k].addr, s[k].len);
	for (unsigned k = 0; k < 3; k++)
		expect_one_buf(&d, &virtq_chain_in(&c)[k], s[2 + k].addr, s[2 + k].len);
	drv_teardown(&d);
}

static void chain_may_jump_around_the_table(void **state)
{
	struct drv d;
	struct virtq_chain c;

	drv_setup(&d, 8, 0);
	drv_desc(&d, d.desc, 6, d.data, 10, VIRTQ_DESC_F_NEXT, 1);
	drv_desc(&d, d.desc, 1, d.data + 10, 20, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 7);
	drv_desc(&d, d.desc, 7, d.data + 30, 30, VIRTQ_DESC_F_WRITE, 0);
	drv_publish(&d, 6);
	assert_int_equal(drv_pop(&d, &c), 1);
	assert_int_equal(c.head, 6);
	assert_int_equal(c.nr_out, 1);
	assert_int_equal(c.nr_in, 2);
	expect_one_buf(&d, &c.bufs[2], d.data + 30, 30);
	drv_teardown(&d);
}

static void chain_of_exactly_queue_size_is_accepted(void **state)
{
	struct drv d;
	struct virtq_chain c;
	struct seg s[8];

	drv_setup(&d, 8, 0);
	for (unsigned k = 0; k < 8; k++)
		s[k] = (struct seg){d.data + k * 64, 64, k >= 4};
	drv_add(&d, 0, s, 8);
	assert_int_equal(drv_pop(&d, &c), 1);
	assert_int_equal(c.nr_out, 4);
	assert_int_equal(c.nr_in, 4);
	drv_teardown(&d);
}

static void chain_of_max_bufs_is_accepted(void **state)
{
	struct drv d;
	struct virtq_chain c;
	static struct seg s[VIRTQ_MAX_CHAIN_BUFS];

	drv_setup(&d, 512, 0);
	for (unsigned k = 0; k < VIRTQ_MAX_CHAIN_BUFS; k++)
		s[k] = (struct seg){d.data + k * 8, 8, false};
	drv_add(&d, 100, s, VIRTQ_MAX_CHAIN_BUFS);
	assert_int_equal(drv_pop(&d, &c), 1);
	assert_int_equal(c.nr_out, VIRTQ_MAX_CHAIN_BUFS);
	assert_int_equal(c.out_bytes, 8 * VIRTQ_MAX_CHAIN_BUFS);
	expect_one_buf(&d, &c.bufs[VIRTQ_MAX_CHAIN_BUFS - 1], d.data + 8 * 255, 8);
	drv_teardown(&d);
}

static void buffer_ending_at_end_of_ram_is_accepted(void **state)
{
	struct drv d;
	struct virtq_chain c;

	drv_setup(&d, 8, 0);
	drv_add(&d, 0, (struct seg[]){{RAM_SIZE - 16, 16, true}}, 1);
	assert_int_equal(drv_pop(&d, &c), 1);
	expect_one_buf(&d, &c.bufs[0], RAM_SIZE - 16, 16);
	drv_teardown(&d);
}

/* Zero-length descriptors are tolerated: they count against the length
 * limits and the direction order but are not handed to the device, and
 * their address is never used, so it is not checked. */
static void zero_length_buffers_are_skipped(void **state)
{
	struct drv d;
	struct virtq_chain c;

	drv_setup(&d, 8, 0);
	drv_add(&d, 0,
		(struct seg[]){{d.data, 0, false},
			       {d.data + 8, 8, false},
			       {UINT64_MAX, 0, false},
			       {RAM_SIZE, 0, true},
			       {d.data + 16, 4, true}},
		5);
	assert_int_equal(drv_pop(&d, &c), 1);
	assert_int_equal(c.nr_out, 1);
	assert_int_equal(c.nr_in, 1);
	expect_one_buf(&d, &virtq_chain_out(&c)[0], d.data + 8, 8);
	expect_one_buf(&d, &virtq_chain_in(&c)[0], d.data + 16, 4);

	/* A chain of nothing but zero-length descriptors is empty, not bad. */
	drv_add(&d, 5, (struct seg[]){{0, 0, false}}, 1);
	assert_int_equal(drv_pop(&d, &c), 1);
	assert_int_equal(c.head, 5);
	assert_int_equal(c.nr_out + c.nr_in, 0);
	drv_teardown(&d);
}

static void indirect_chain_is_popped(void **state)
{
	struct drv d;
	struct virtq_chain c;

	drv_setup(&d, 8, INDIRECT);
	drv_chain(&d, d.itab, 0,
		  (struct seg[]){{d.data, 16, false},
				 {d.data + 0x100, 200, true},
				 {d.data + 0x200, 300, true}},
		  3);
	drv_desc(&d, d.desc, 2, d.itab, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	drv_publish(&d, 2);
	assert_int_equal(drv_pop(&d, &c), 1);
	assert_int_equal(c.head, 2);
	assert_int_equal(c.nr_out, 1);
	assert_int_equal(c.nr_in, 2);
	assert_int_equal(c.in_bytes, 500);
	expect_one_buf(&d, &virtq_chain_out(&c)[0], d.data, 16);
	expect_one_buf(&d, &virtq_chain_in(&c)[1], d.data + 0x200, 300);
	drv_teardown(&d);
}

static void direct_descriptors_then_indirect_table_are_one_chain(void **state)
{
	struct drv d;
	struct virtq_chain c;

	drv_setup(&d, 8, INDIRECT);
	/* The table need not be aligned, and its chain may start anywhere. */
	uint64_t table = d.itab + 8;
	drv_desc(&d, table, 0, d.data + 0x300, 30, VIRTQ_DESC_F_WRITE, 0);
	drv_desc(&d, table, 1, d.data + 0x200, 20, VIRTQ_DESC_F_NEXT, 0);
	drv_desc(&d, d.desc, 4, d.data, 10, VIRTQ_DESC_F_NEXT, 5);
	/* The device ignores WRITE on the descriptor naming the table. */
	drv_desc(&d, d.desc, 5, table, 2 * 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0);
	drv_publish(&d, 4);
	assert_int_equal(drv_pop(&d, &c), 1);
	/* Table entry 1 is not reached: the table's chain starts at entry 0. */
	assert_int_equal(c.nr_out, 1);
	assert_int_equal(c.nr_in, 1);
	expect_one_buf(&d, &c.bufs[0], d.data, 10);
	expect_one_buf(&d, &c.bufs[1], d.data + 0x300, 30);

	/* And with the table chained 0 -> 1 in order: readable then writable. */
	drv_desc(&d, table, 0, d.data + 0x200, 20, VIRTQ_DESC_F_NEXT, 1);
	drv_desc(&d, table, 1, d.data + 0x300, 30, VIRTQ_DESC_F_WRITE, 0);
	drv_publish(&d, 4);
	assert_int_equal(drv_pop(&d, &c), 1);
	assert_int_equal(c.nr_out, 2);
	assert_int_equal(c.nr_in, 1);
	expect_one_buf(&d, &c.bufs[1], d.data + 0x200, 20);
	drv_teardown(&d);
}

static void indirect_table_of_queue_size_entries_is_accepted(void **state)
{
	struct drv d;
	struct virtq_chain c;
	struct seg s[16];

	drv_setup(&d, 16, INDIRECT);
	for (unsigned k = 0; k < 16; k++)
		s[k] = (struct seg){d.data + 8 * k, 8, k >= 8};
	drv_chain(&d, d.itab, 0, s, 16);
	drv_desc(&d, d.desc, 0, d.itab, 16 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	drv_publish(&d, 0);
	assert_int_equal(drv_pop(&d, &c), 1);
	assert_int_equal(c.nr_out, 8);
	assert_int_equal(c.nr_in, 8);
	drv_teardown(&d);
}

static void full_ring_is_popped(void **state)
{
	struct drv d;
	struct virtq_chain c;

	drv_setup(&d, 4, 0);
	for (unsigned k = 0; k < 4; k++)
		drv_add(&d, k, (struct seg[]){{d.data + k * 8, 8, true}}, 1);
	/* avail->idx exactly size ahead is a full ring, not a violation. */
	for (unsigned k = 0; k < 4; k++) {
		assert_int_equal(drv_pop(&d, &c), 1);
		assert_int_equal(c.head, k);
	}
	assert_int_equal(drv_pop(&d, &c), 0);
	drv_teardown(&d);
}

static void push_writes_used_element_and_publishes_idx(void **state)
{
	struct drv d;
	struct virtq_chain c;

	drv_setup(&d, 8, 0);
	drv_add(&d, 1, (struct seg[]){{d.data, 8, true}}, 1);
	drv_add(&d, 6, (struct seg[]){{d.data + 8, 8, true}}, 1);
	assert_int_equal(drv_pop(&d, &c), 1);
	assert_int_equal(drv_pop(&d, &c), 1);
	assert_int_equal(used_idx(&d), 0);

	/* Completed out of order, as devices may. */
	assert_int_equal(virtq_push(&d.vq, 6, 8), 0);
	assert_int_equal(used_idx(&d), 1);
	assert_int_equal(used_elem(&d, 0).id, 6);
	assert_int_equal(used_elem(&d, 0).len, 8);
	assert_int_equal(virtq_push(&d.vq, 1, 3), 0);
	assert_int_equal(used_idx(&d), 2);
	assert_int_equal(used_elem(&d, 1).id, 1);
	assert_int_equal(used_elem(&d, 1).len, 3);
	assert_int_equal(d.vq.used_idx, 2);

	/* A head the queue cannot have is a device bug: refused, no effect. */
	drv_snapshot(&d);
	assert_int_equal(virtq_push(&d.vq, 8, 0), -1);
	assert_null(d.vq.error);
	drv_assert_untouched(&d);
	drv_teardown(&d);
}

/* One frame over several receive buffers: the driver sees all of them
 * or none, so the index moves once; a bad id anywhere changes nothing. */
static void push_many_publishes_all_elements_with_one_index_move(void **state)
{
	struct drv d;
	struct virtq_chain c;

	drv_setup_at(&d, 4, 0, 65534);
	for (uint16_t k = 0; k < 3; k++) {
		drv_add(&d, k, (struct seg[]){{d.data + k * 8, 8, true}}, 1);
		assert_int_equal(drv_pop(&d, &c), 1);
	}
	drv_snapshot(&d);
	assert_int_equal(
		virtq_push_many(&d.vq, (struct virtq_used_elem[]){{0, 8}, {1, 8}, {4, 2}}, 3), -1);
	drv_assert_untouched(&d);
	assert_int_equal(
		virtq_push_many(&d.vq, (struct virtq_used_elem[]){{0, 8}, {1, 8}, {2, 2}}, 3), 0);
	assert_int_equal(used_idx(&d), 1); /* 65534 + 3, wrapped */
	for (uint16_t k = 0; k < 3; k++) {
		assert_int_equal(used_elem(&d, (uint16_t)(65534 + k)).id, k);
		assert_int_equal(used_elem(&d, (uint16_t)(65534 + k)).len, k == 2 ? 2 : 8);
	}
	assert_int_equal(virtq_push_many(&d.vq, NULL, 5), -1); /* more than the size */
	drv_teardown(&d);
}

/* The 16-bit indices wrap: start just below 65535 and go round. */
static void indices_wrap_around_65535(void **state)
{
	struct drv d;
	struct virtq_chain c;
	const uint16_t start = 65533;

	drv_setup_at(&d, 4, 0, start);
	for (unsigned k = 0; k < 10; k++) {
		uint16_t head = (uint16_t)((k * 3) & 3);
		drv_add(&d, head, (struct seg[]){{d.data + k * 8, 8, true}}, 1);
		assert_int_equal(drv_pop(&d, &c), 1);
		assert_int_equal(c.head, head);
		expect_one_buf(&d, &c.bufs[0], d.data + k * 8, 8);
		assert_int_equal(virtq_push(&d.vq, head, k), 0);
		uint16_t idx = (uint16_t)(start + k + 1);
		assert_int_equal(used_idx(&d), idx);
		assert_int_equal(used_elem(&d, (uint16_t)(idx - 1)).id, head);
		assert_int_equal(used_elem(&d, (uint16_t)(idx - 1)).len, k);
	}
	assert_int_equal(d.vq.last_avail_idx, (uint16_t)(start + 10));

	/* A full ring published across the wrap. */
	drv_teardown(&d);
	drv_setup_at(&d, 4, 0, 65534);
	for (unsigned k = 0; k < 4; k++)
		drv_add(&d, k, (struct seg[]){{d.data, 8, false}}, 1);
	assert_int_equal(rd16(&d, d.avail + 2), 2);
	for (unsigned k = 0; k < 4; k++) {
		assert_int_equal(drv_pop(&d, &c), 1);
		assert_int_equal(c.head, k);
	}
	assert_int_equal(drv_pop(&d, &c), 0);
	assert_int_equal(d.vq.last_avail_idx, 2);
	drv_teardown(&d);
}

/* ---- attacks on the available ring ------------------------------------ */

static void avail_idx_jumping_more_than_size_ahead_is_refused(void **state)
{
	struct drv d;

	drv_setup(&d, 8, 0);
	drv_add(&d, 0, (struct seg[]){{d.data, 8, false}}, 1);
	drv_set_avail_idx(&d, 9);
	expect_violation(&d, "more than the queue size ahead");
	drv_teardown(&d);
}

static void avail_idx_moving_backwards_is_refused(void **state)
{
	struct drv d;
	struct virtq_chain c;

	drv_setup(&d, 8, 0);
	drv_add(&d, 0, (struct seg[]){{d.data, 8, false}}, 1);
	assert_int_equal(drv_pop(&d, &c), 1);
	drv_set_avail_idx(&d, 0); /* 65535 ahead of last_avail_idx 1 */
	expect_violation(&d, "more than the queue size ahead");
	drv_teardown(&d);
}

static void head_index_out_of_range_is_refused(void **state)
{
	const uint16_t bad[] = {8, 9, 0xffff};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct drv d;

		drv_setup(&d, 8, 0);
		drv_publish(&d, bad[i]);
		expect_violation(&d, "head index out of range");
		drv_teardown(&d);
	}
}

/* ---- attacks on descriptor chains ------------------------------------- */

static void descriptor_loop_is_refused(void **state)
{
	struct drv d;

	/* 0 -> 1 -> 2 -> 0 -> ... */
	drv_setup(&d, 8, 0);
	drv_desc(&d, d.desc, 0, d.data, 8, VIRTQ_DESC_F_NEXT, 1);
	drv_desc(&d, d.desc, 1, d.data, 8, VIRTQ_DESC_F_NEXT, 2);
	drv_desc(&d, d.desc, 2, d.data, 8, VIRTQ_DESC_F_NEXT, 0);
	drv_publish(&d, 0);
	expect_violation(&d, "longer than the queue size");
	drv_teardown(&d);

	/* A descriptor naming itself. */
	drv_setup(&d, 8, 0);
	drv_desc(&d, d.desc, 3, d.data, 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 3);
	drv_publish(&d, 3);
	expect_violation(&d, "longer than the queue size");
	drv_teardown(&d);

	/* The largest queue: the walk still stops, after VIRTQ_MAX_CHAIN_BUFS. */
	drv_setup(&d, VIRTQ_MAX_SIZE, 0);
	drv_desc(&d, d.desc, 0, d.data, 8, VIRTQ_DESC_F_NEXT, 0);
	drv_publish(&d, 0);
	expect_violation(&d, "longer than VIRTQ_MAX_CHAIN_BUFS");
	drv_teardown(&d);
}

static void chain_longer_than_queue_size_is_refused(void **state)
{
	struct drv d;
	struct seg s[8];

	/* Two direct descriptors and an 8-entry indirect table: 10 > 8. */
	drv_setup(&d, 8, INDIRECT);
	for (unsigned k = 0; k < 8; k++)
		s[k] = (struct seg){d.data + k * 8, 8, true};
	drv_chain(&d, d.itab, 0, s, 8);
	drv_desc(&d, d.desc, 0, d.data, 8, VIRTQ_DESC_F_NEXT, 1);
	drv_desc(&d, d.desc, 1, d.data, 8, VIRTQ_DESC_F_NEXT, 2);
	drv_desc(&d, d.desc, 2, d.itab, 8 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	drv_publish(&d, 0);
	expect_violation(&d, "longer than the queue size");
	drv_teardown(&d);
}

static void chain_longer_than_max_bufs_is_refused(void **state)
{
	struct drv d;
	static struct seg s[VIRTQ_MAX_CHAIN_BUFS + 1];

	drv_setup(&d, 512, 0);
	for (unsigned k = 0; k < VIRTQ_MAX_CHAIN_BUFS + 1; k++)
		s[k] = (struct seg){d.data + k * 8, 8, false};
	drv_add(&d, 0, s, VIRTQ_MAX_CHAIN_BUFS + 1);
	expect_violation(&d, "longer than VIRTQ_MAX_CHAIN_BUFS");
	drv_teardown(&d);
}

static void next_index_out_of_range_is_refused(void **state)
{
	struct drv d;

	drv_setup(&d, 8, 0);
	drv_desc(&d, d.desc, 0, d.data, 8, VIRTQ_DESC_F_NEXT, 1);
	drv_desc(&d, d.desc, 1, d.data, 8, VIRTQ_DESC_F_NEXT, 8);
	drv_publish(&d, 0);
	expect_violation(&d, "next index out of range");
	drv_teardown(&d);

	drv_setup(&d, 8, 0);
	drv_desc(&d, d.desc, 0, d.data, 8, VIRTQ_DESC_F_NEXT, 0xffff);
	drv_publish(&d, 0);
	expect_violation(&d, "next index out of range");
	drv_teardown(&d);
}

static void buffer_address_outside_ram_is_refused(void **state)
{
	const uint64_t bad[] = {RAM_SIZE, RAM_SIZE + 0x1000, GUEST_MMIO_HOLE_START,
				GUEST_HIGH_RAM_START, 1ULL << 52};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct drv d;

		drv_setup(&d, 8, 0);
		drv_add(&d, 0, (struct seg[]){{d.data, 8, false}, {bad[i], 1, true}}, 2);
		expect_violation(&d, "buffer is not in RAM");
		drv_teardown(&d);
	}
}

static void buffer_address_plus_length_overflow_is_refused(void **state)
{
	struct drv d;

	drv_setup(&d, 8, 0);
	drv_add(&d, 0, (struct seg[]){{UINT64_MAX - 9, 100, false}}, 1);
	expect_violation(&d, "buffer is not in RAM");
	drv_teardown(&d);

	drv_setup(&d, 8, 0);
	drv_add(&d, 0, (struct seg[]){{UINT64_MAX, UINT32_MAX, true}}, 1);
	expect_violation(&d, "buffer is not in RAM");
	drv_teardown(&d);
}

static void buffer_straddling_end_of_ram_is_refused(void **state)
{
	struct drv d;

	drv_setup(&d, 8, 0);
	drv_add(&d, 0, (struct seg[]){{RAM_SIZE - 8, 16, true}}, 1);
	expect_violation(&d, "buffer is not in RAM");
	drv_teardown(&d);

	drv_setup(&d, 8, 0);
	drv_add(&d, 0, (struct seg[]){{0, UINT32_MAX, false}}, 1);
	expect_violation(&d, "buffer is not in RAM");
	drv_teardown(&d);
}

/* With RAM on both sides of the MMIO hole (3 GiB + 1 MiB, untouched pages
 * cost nothing), high RAM is fine but no buffer may span the hole. */
static void buffer_spanning_mmio_hole_is_refused(void **state)
{
	struct guest_mem mem;
	struct virtq vq = {0};
	struct virtq_chain c;
	uint16_t one = 1, zero = 0;
	struct virtq_desc good = {GUEST_HIGH_RAM_START + 0x100, 64, VIRTQ_DESC_F_WRITE, 0};
	struct virtq_desc bad = {GUEST_MMIO_HOLE_START - 8, 16, 0, 0};

	assert_int_equal(guest_mem_init(&mem, 3 * GUEST_GIB + GUEST_MIB), 0);
	assert_int_equal(mem.nr_regions, 2);
	vq = (struct virtq){.mem = &mem,
			    .size = 2,
			    .desc_gpa = 0x1000,
			    .avail_gpa = 0x2000,
			    .used_gpa = 0x3000};
	assert_int_equal(virtq_activate(&vq), 0);
	assert_true(guest_mem_write(&mem, 0x1000, &good, sizeof(good)));
	assert_true(guest_mem_write(&mem, 0x1010, &bad, sizeof(bad)));
	assert_true(guest_mem_write(&mem, 0x2004, &zero, 2));
	assert_true(guest_mem_write(&mem, 0x2006, &one, 2));
	assert_true(guest_mem_write(&mem, 0x2002, (uint16_t[]){2}, 2));
	assert_int_equal(virtq_pop(&vq, &c), 1);
	assert_ptr_equal(c.bufs[0].hva, mem.mapping + GUEST_MMIO_HOLE_START + 0x100);
	assert_int_equal(virtq_pop(&vq, &c), -1);
	assert_error_names(&vq, "buffer is not in RAM");
	guest_mem_destroy(&mem);
}

static void writable_before_readable_is_refused(void **state)
{
	struct drv d;

	drv_setup(&d, 8, 0);
	drv_add(&d, 0, (struct seg[]){{d.data, 8, false}, {d.data, 8, true}, {d.data, 8, false}},
		3);
	expect_violation(&d, "device-readable descriptor after a device-writable one");
	drv_teardown(&d);

	/* Zero-length descriptors still count for the order. */
	drv_setup(&d, 8, 0);
	drv_add(&d, 0, (struct seg[]){{d.data, 0, true}, {d.data, 8, false}}, 2);
	expect_violation(&d, "device-readable descriptor after a device-writable one");
	drv_teardown(&d);

	/* The order holds across the step into an indirect table... */
	drv_setup(&d, 8, INDIRECT);
	drv_chain(&d, d.itab, 0, (struct seg[]){{d.data, 8, false}}, 1);
	drv_desc(&d, d.desc, 0, d.data, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	drv_desc(&d, d.desc, 1, d.itab, 16, VIRTQ_DESC_F_INDIRECT, 0);
	drv_publish(&d, 0);
	expect_violation(&d, "device-readable descriptor after a device-writable one");
	drv_teardown(&d);

	/* ...and inside one. */
	drv_setup(&d, 8, INDIRECT);
	drv_chain(&d, d.itab, 0, (struct seg[]){{d.data, 8, true}, {d.data, 8, false}}, 2);
	drv_desc(&d, d.desc, 0, d.itab, 32, VIRTQ_DESC_F_INDIRECT, 0);
	drv_publish(&d, 0);
	expect_violation(&d, "device-readable descriptor after a device-writable one");
	drv_teardown(&d);
}

/* ---- attacks with indirect tables ------------------------------------- */

static void indirect_flag_without_feature_is_refused(void **state)
{
	struct drv d;

	drv_setup(&d, 8, 0);
	drv_chain(&d, d.itab, 0, (struct seg[]){{d.data, 8, false}}, 1);
	drv_desc(&d, d.desc, 0, d.itab, 16, VIRTQ_DESC_F_INDIRECT, 0);
	drv_publish(&d, 0);
	expect_violation(&d, "VIRTIO_F_INDIRECT_DESC not negotiated");
	drv_teardown(&d);
}

static void indirect_table_nested_in_indirect_table_is_refused(void **state)
{
	struct drv d;

	drv_setup(&d, 8, INDIRECT);
	uint64_t inner = d.itab + 0x100;
	drv_chain(&d, inner, 0, (struct seg[]){{d.data, 8, false}}, 1);
	drv_desc(&d, d.itab, 0, d.data, 8, VIRTQ_DESC_F_NEXT, 1);
	drv_desc(&d, d.itab, 1, inner, 16, VIRTQ_DESC_F_INDIRECT, 0);
	drv_desc(&d, d.desc, 0, d.itab, 32, VIRTQ_DESC_F_INDIRECT, 0);
	drv_publish(&d, 0);
	expect_violation(&d, "indirect descriptor inside an indirect table");
	drv_teardown(&d);

	/* A table naming itself. */
	drv_setup(&d, 8, INDIRECT);
	drv_desc(&d, d.itab, 0, d.itab, 16, VIRTQ_DESC_F_INDIRECT, 0);
	drv_desc(&d, d.desc, 0, d.itab, 16, VIRTQ_DESC_F_INDIRECT, 0);
	drv_publish(&d, 0);
	expect_violation(&d, "indirect descriptor inside an indirect table");
	drv_teardown(&d);
}

static void indirect_descriptor_with_next_is_refused(void **state)
{
	struct drv d;

	drv_setup(&d, 8, INDIRECT);
	drv_chain(&d, d.itab, 0, (struct seg[]){{d.data, 8, false}}, 1);
	drv_desc(&d, d.desc, 0, d.itab, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	drv_desc(&d, d.desc, 1, d.data, 8, VIRTQ_DESC_F_WRITE, 0);
	drv_publish(&d, 0);
	expect_violation(&d, "indirect descriptor with NEXT set");
	drv_teardown(&d);
}

static void indirect_table_with_bad_length_is_refused(void **state)
{
	const struct {
		uint16_t size;
		uint32_t len;
		const char *what;
	} bad[] = {
		{8, 0, "indirect table length is 0 or not a multiple of 16"},
		{8, 17, "indirect table length is 0 or not a multiple of 16"},
		{8, 8, "indirect table length is 0 or not a multiple of 16"},
		{8, 16 * 8 + 15, "indirect table length is 0 or not a multiple of 16"},
		/* more entries than the queue size */
		{8, 16 * 9, "indirect table larger than the queue size"},
		/* more than VIRTQ_MAX_CHAIN_BUFS, in a larger queue */
		{1024, 16 * (VIRTQ_MAX_CHAIN_BUFS + 1),
		 "indirect table larger than the queue size"},
		{8, UINT32_MAX & ~15u, "indirect table larger than the queue size"},
	};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct drv d;

		drv_setup(&d, bad[i].size, INDIRECT);
		drv_chain(&d, d.itab, 0, (struct seg[]){{d.data, 8, false}}, 1);
		drv_desc(&d, d.desc, 0, d.itab, bad[i].len, VIRTQ_DESC_F_INDIRECT, 0);
		drv_publish(&d, 0);
		expect_violation(&d, bad[i].what);
		drv_teardown(&d);
	}
}

static void indirect_table_outside_ram_is_refused(void **state)
{
	const uint64_t bad[] = {RAM_SIZE, RAM_SIZE - 16, UINT64_MAX - 15, GUEST_MMIO_HOLE_START};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct drv d;

		drv_setup(&d, 8, INDIRECT);
		drv_desc(&d, d.desc, 0, bad[i], 32, VIRTQ_DESC_F_INDIRECT, 0);
		drv_publish(&d, 0);
		expect_violation(&d, "indirect table is not in RAM");
		drv_teardown(&d);
	}
}

static void loop_in_indirect_table_is_refused(void **state)
{
	struct drv d;

	drv_setup(&d, 8, INDIRECT);
	drv_desc(&d, d.itab, 0, d.data, 8, VIRTQ_DESC_F_NEXT, 1);
	drv_desc(&d, d.itab, 1, d.data, 8, VIRTQ_DESC_F_NEXT, 0);
	drv_desc(&d, d.desc, 0, d.itab, 32, VIRTQ_DESC_F_INDIRECT, 0);
	drv_publish(&d, 0);
	expect_violation(&d, "descriptor loop in an indirect table");
	drv_teardown(&d);
}

static void next_index_out_of_range_in_indirect_table_is_refused(void **state)
{
	struct drv d;

	/* Entry 2 exists in the main table but not in the 2-entry table. */
	drv_setup(&d, 8, INDIRECT);
	drv_desc(&d, d.itab, 0, d.data, 8, VIRTQ_DESC_F_NEXT, 1);
	drv_desc(&d, d.itab, 1, d.data, 8, VIRTQ_DESC_F_NEXT, 2);
	drv_desc(&d, d.desc, 0, d.itab, 32, VIRTQ_DESC_F_INDIRECT, 0);
	drv_publish(&d, 0);
	expect_violation(&d, "next index out of range");
	drv_teardown(&d);
}

static void buffer_outside_ram_in_indirect_table_is_refused(void **state)
{
	struct drv d;

	drv_setup(&d, 8, INDIRECT);
	drv_chain(&d, d.itab, 0, (struct seg[]){{d.data, 8, false}, {RAM_SIZE - 4, 8, true}}, 2);
	drv_desc(&d, d.desc, 0, d.itab, 32, VIRTQ_DESC_F_INDIRECT, 0);
	drv_publish(&d, 0);
	expect_violation(&d, "buffer is not in RAM");
	drv_teardown(&d);
}

/* ---- notifications and interrupts ------------------------------------- */

static void pop_push(struct drv *d, unsigned n)
{
	struct virtq_chain c;

	for (unsigned k = 0; k < n; k++) {
		drv_add(d, 0, (struct seg[]){{d->data, 8, true}}, 1);
		assert_int_equal(drv_pop(d, &c), 1);
		assert_int_equal(virtq_push(&d->vq, c.head, 0), 0);
	}
}

static void no_interrupt_flag_suppresses_interrupts(void **state)
{
	struct drv d;

	drv_setup(&d, 8, 0);
	pop_push(&d, 1);
	assert_true(virtq_needs_interrupt(&d.vq));
	/* Nothing new pushed: nothing to signal. */
	assert_false(virtq_needs_interrupt(&d.vq));

	wr16(&d, d.avail, VIRTQ_AVAIL_F_NO_INTERRUPT);
	pop_push(&d, 2);
	assert_false(virtq_needs_interrupt(&d.vq));

	wr16(&d, d.avail, 0);
	pop_push(&d, 1);
	assert_true(virtq_needs_interrupt(&d.vq));
	/* used_event means nothing without EVENT_IDX. */
	wr16(&d, used_event_gpa(&d), 100);
	pop_push(&d, 1);
	assert_true(virtq_needs_interrupt(&d.vq));
	drv_teardown(&d);
}

static void event_idx_interrupts_when_used_event_is_crossed(void **state)
{
	struct drv d;

	drv_setup(&d, 8, EVENT_IDX);
	pop_push(&d, 1);
	/* First decision after activation: nothing to compare with, so yes. */
	assert_true(virtq_needs_interrupt(&d.vq));

	/* The driver wants to hear once entry 1 is used (used->idx 1 -> 2). */
	wr16(&d, used_event_gpa(&d), 1);
	pop_push(&d, 1);
	assert_true(virtq_needs_interrupt(&d.vq));

	/* Not before entry 5 is used. */
	wr16(&d, used_event_gpa(&d), 5);
	for (unsigned k = 0; k < 3; k++) { /* used->idx 3, 4, 5 */
		pop_push(&d, 1);
		assert_false(virtq_needs_interrupt(&d.vq));
	}
	pop_push(&d, 1); /* 6: entry 5 used */
	assert_true(virtq_needs_interrupt(&d.vq));

	/* Several pushes at once: crossed somewhere in 6 -> 9. */
	wr16(&d, used_event_gpa(&d), 7);
	pop_push(&d, 3);
	assert_true(virtq_needs_interrupt(&d.vq));
	/* Not crossed in 9 -> 11. */
	wr16(&d, used_event_gpa(&d), 20);
	pop_push(&d, 2);
	assert_false(virtq_needs_interrupt(&d.vq));

	/* EVENT_IDX replaces the flag: NO_INTERRUPT is ignored. */
	wr16(&d, d.avail, VIRTQ_AVAIL_F_NO_INTERRUPT);
	wr16(&d, used_event_gpa(&d), 11);
	pop_push(&d, 1);
	assert_true(virtq_needs_interrupt(&d.vq));
	assert_false(virtq_needs_interrupt(&d.vq));
	drv_teardown(&d);
}

static void event_idx_interrupt_decision_wraps_around(void **state)
{
	struct drv d;

	drv_setup_at(&d, 8, EVENT_IDX, 65534);
	pop_push(&d, 1); /* used 65535 */
	assert_true(virtq_needs_interrupt(&d.vq));
	wr16(&d, used_event_gpa(&d), 65535);
	pop_push(&d, 2); /* 65535 -> 1: entry 65535 used */
	assert_true(virtq_needs_interrupt(&d.vq));
	wr16(&d, used_event_gpa(&d), 3);
	pop_push(&d, 2); /* 1 -> 3 */
	assert_false(virtq_needs_interrupt(&d.vq));
	pop_push(&d, 1); /* 3 -> 4 */
	assert_true(virtq_needs_interrupt(&d.vq));

	assert_true(virtq_need_event(65535, 0, 65535));
	assert_false(virtq_need_event(0, 0, 65535));
	assert_true(virtq_need_event(0, 1, 65535));
	drv_teardown(&d);
}

static void notifications_toggle_used_flags(void **state)
{
	struct drv d;

	drv_setup(&d, 8, 0);
	wr16(&d, avail_event_gpa(&d), 0x1234);
	virtq_set_notifications(&d.vq, false);
	assert_int_equal(rd16(&d, d.used), VIRTQ_USED_F_NO_NOTIFY);
	virtq_set_notifications(&d.vq, true);
	assert_int_equal(rd16(&d, d.used), 0);
	/* Without EVENT_IDX avail_event is not ours to write, even on empty. */
	struct virtq_chain c;
	assert_int_equal(drv_pop(&d, &c), 0);
	assert_int_equal(rd16(&d, avail_event_gpa(&d)), 0x1234);
	drv_teardown(&d);
}

static void notifications_with_event_idx_use_avail_event(void **state)
{
	struct drv d;
	struct virtq_chain c;

	drv_setup(&d, 8, EVENT_IDX);
	wr16(&d, avail_event_gpa(&d), 0x1234);
	virtq_set_notifications(&d.vq, false);
	/* Flags stay 0 (the driver ignores them), avail_event is left behind. */
	assert_int_equal(rd16(&d, d.used), 0);
	assert_int_equal(rd16(&d, avail_event_gpa(&d)), 0x1234);

	drv_add(&d, 0, (struct seg[]){{d.data, 8, false}}, 1);
	drv_add(&d, 1, (struct seg[]){{d.data, 8, false}}, 1);
	assert_int_equal(drv_pop(&d, &c), 1);
	assert_int_equal(drv_pop(&d, &c), 1);
	/* Disabled: an empty pop does not ask for a kick either. */
	assert_int_equal(drv_pop(&d, &c), 0);
	assert_int_equal(rd16(&d, avail_event_gpa(&d)), 0x1234);

	/* Enabled: kick me when entry 2 (the next one) is made available. */
	virtq_set_notifications(&d.vq, true);
	assert_int_equal(rd16(&d, avail_event_gpa(&d)), 2);
	assert_int_equal(rd16(&d, d.used), 0);

	/* Enabled, an empty pop keeps avail_event at last_avail_idx. */
	drv_add(&d, 2, (struct seg[]){{d.data, 8, false}}, 1);
	assert_int_equal(drv_pop(&d, &c), 1);
	assert_int_equal(rd16(&d, avail_event_gpa(&d)), 2);
	assert_int_equal(drv_pop(&d, &c), 0);
	assert_int_equal(rd16(&d, avail_event_gpa(&d)), 3);
	drv_teardown(&d);
}

/* ---- lifecycle -------------------------------------------------------- */

static void queue_not_activated_pops_nothing(void **state)
{
	struct drv d;
	struct virtq_chain c;

	ring_setup_raw(&d, 8);
	assert_int_equal(virtq_pop(&d.vq, &c), 0);
	assert_int_equal(virtq_push(&d.vq, 0, 0), -1);
	assert_false(virtq_needs_interrupt(&d.vq));
	virtq_set_notifications(&d.vq, false);
	assert_null(d.vq.error);
	drv_teardown(&d);
}

static void broken_queue_stays_broken_until_reset(void **state)
{
	struct drv d;
	struct virtq_chain c;

	drv_setup(&d, 8, 0);
	drv_publish(&d, 8);
	expect_violation(&d, "head index out of range");

	/* A good chain now does not revive it, nor does re-activation. */
	drv_add(&d, 0, (struct seg[]){{d.data, 8, false}}, 1);
	assert_int_equal(drv_pop(&d, &c), -1);
	assert_int_equal(virtq_activate(&d.vq), -1);
	assert_error_names(&d.vq, "head index out of range");

	virtq_reset(&d.vq);
	assert_ptr_equal(d.vq.mem, &d.mem);
	assert_null(d.vq.error);
	assert_false(d.vq.ready);
	assert_int_equal(d.vq.size, 0);
	assert_int_equal(d.vq.last_avail_idx, 0);
	assert_int_equal(d.vq.used_idx, 0);
	assert_int_equal(virtq_pop(&d.vq, &c), 0);
	drv_teardown(&d);

	/* After reset the driver sets the queue up again from scratch. */
	drv_setup(&d, 8, 0);
	virtq_reset(&d.vq);
	d.vq.size = 8;
	d.vq.desc_gpa = d.desc;
	d.vq.avail_gpa = d.avail;
	d.vq.used_gpa = d.used;
	assert_int_equal(virtq_activate(&d.vq), 0);
	drv_add(&d, 0, (struct seg[]){{d.data, 8, false}}, 1);
	assert_int_equal(drv_pop(&d, &c), 1);
	drv_teardown(&d);
}

static void chain_is_a_copy_the_guest_cannot_change(void **state)
{
	struct drv d;
	struct virtq_chain c;

	drv_setup(&d, 8, 0);
	drv_add(&d, 0, (struct seg[]){{d.data, 8, false}}, 1);
	assert_int_equal(drv_pop(&d, &c), 1);
	/* The guest rewrites the descriptor after the pop. */
	drv_desc(&d, d.desc, 0, RAM_SIZE, UINT32_MAX, VIRTQ_DESC_F_NEXT, 7);
	expect_one_buf(&d, &c.bufs[0], d.data, 8);
	assert_int_equal(virtq_push(&d.vq, c.head, 0), 0);
	drv_teardown(&d);
}

/* A header split over buffers, read from an offset, and one that runs
 * past the readable part (into the writable buffer, which is not read). */
static void chain_read_spans_buffers_and_stops_at_the_readable_end(void **state)
{
	uint8_t a[3] = {1, 2, 3}, b[4] = {4, 5, 6, 7}, w[8] = {9, 9, 9, 9, 9, 9, 9, 9};
	struct virtq_chain chain = {.nr_out = 2, .nr_in = 1, .out_bytes = 7, .in_bytes = 8};
	uint8_t got[8];

	(void)state;
	chain.bufs[0] = (struct virtq_buf){a, 0, sizeof(a)};
	chain.bufs[1] = (struct virtq_buf){b, 0, sizeof(b)};
	chain.bufs[2] = (struct virtq_buf){w, 0, sizeof(w)};
	assert_true(virtq_chain_read(&chain, 2, got, 4));
	assert_memory_equal(got, ((uint8_t[]){3, 4, 5, 6}), 4);
	assert_true(virtq_chain_read(&chain, 0, got, 7));
	assert_memory_equal(got, ((uint8_t[]){1, 2, 3, 4, 5, 6, 7}), 7);
	assert_false(virtq_chain_read(&chain, 5, got, 3));
	assert_false(virtq_chain_read(&chain, 7, got, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(size_zero_is_refused),
		cmocka_unit_test(push_many_publishes_all_elements_with_one_index_move),
		cmocka_unit_test(size_not_power_of_two_is_refused),
		cmocka_unit_test(size_larger_than_32768_is_refused),
		cmocka_unit_test(sizes_1_and_32768_are_accepted),
		cmocka_unit_test(ring_area_outside_ram_is_refused),
		cmocka_unit_test(ring_areas_ending_at_end_of_ram_are_accepted),
		cmocka_unit_test(misaligned_ring_area_is_refused),
		cmocka_unit_test(activation_without_memory_is_refused),
		cmocka_unit_test(single_buffer_chains_are_popped),
		cmocka_unit_test(multi_buffer_chain_keeps_order_and_sums_bytes),
		cmocka_unit_test(chain_may_jump_around_the_table),
		cmocka_unit_test(chain_of_exactly_queue_size_is_accepted),
		cmocka_unit_test(chain_of_max_bufs_is_accepted),
		cmocka_unit_test(buffer_ending_at_end_of_ram_is_accepted),
		cmocka_unit_test(zero_length_buffers_are_skipped),
		cmocka_unit_test(indirect_chain_is_popped),
		cmocka_unit_test(direct_descriptors_then_indirect_table_are_one_chain),
		cmocka_unit_test(indirect_table_of_queue_size_entries_is_accepted),
		cmocka_unit_test(full_ring_is_popped),
		cmocka_unit_test(push_writes_used_element_and_publishes_idx),
		cmocka_unit_test(indices_wrap_around_65535),
		cmocka_unit_test(avail_idx_jumping_more_than_size_ahead_is_refused),
		cmocka_unit_test(avail_idx_moving_backwards_is_refused),
		cmocka_unit_test(head_index_out_of_range_is_refused),
		cmocka_unit_test(descriptor_loop_is_refused),
		cmocka_unit_test(chain_longer_than_queue_size_is_refused),
		cmocka_unit_test(chain_longer_than_max_bufs_is_refused),
		cmocka_unit_test(next_index_out_of_range_is_refused),
		cmocka_unit_test(buffer_address_outside_ram_is_refused),
		cmocka_unit_test(buffer_address_plus_length_overflow_is_refused),
		cmocka_unit_test(buffer_straddling_end_of_ram_is_refused),
		cmocka_unit_test(buffer_spanning_mmio_hole_is_refused),
		cmocka_unit_test(writable_before_readable_is_refused),
		cmocka_unit_test(indirect_flag_without_feature_is_refused),
		cmocka_unit_test(indirect_table_nested_in_indirect_table_is_refused),
		cmocka_unit_test(indirect_descriptor_with_next_is_refused),
		cmocka_unit_test(indirect_table_with_bad_length_is_refused),
		cmocka_unit_test(indirect_table_outside_ram_is_refused),
		cmocka_unit_test(loop_in_indirect_table_is_refused),
		cmocka_unit_test(next_index_out_of_range_in_indirect_table_is_refused),
		cmocka_unit_test(buffer_outside_ram_in_indirect_table_is_refused),
		cmocka_unit_test(no_interrupt_flag_suppresses_interrupts),
		cmocka_unit_test(event_idx_interrupts_when_used_event_is_crossed),
		cmocka_unit_test(event_idx_interrupt_decision_wraps_around),
		cmocka_unit_test(notifications_toggle_used_flags),
		cmocka_unit_test(notifications_with_event_idx_use_avail_event),
		cmocka_unit_test(queue_not_activated_pops_nothing),
		cmocka_unit_test(broken_queue_stays_broken_until_reset),
		cmocka_unit_test(chain_is_a_copy_the_guest_cannot_change),
		cmocka_unit_test(chain_read_spans_buffers_and_stops_at_the_readable_end),
	};
	return cmocka_run_group_tests_name("virtqueue", tests, NULL, NULL);
}
