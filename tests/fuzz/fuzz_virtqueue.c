/* libFuzzer target for the device side of the split virtqueue.
 *
 * The input is the guest: queue settings, the bytes of the descriptor table
 * and available ring, and guest RAM. The harness activates the queue, pops
 * until it is empty or broken, reads every device-readable byte, fills
 * every device-writable one (the buffers may overlap the rings: the fill
 * then rewrites them under the queue, as a hostile guest could) and pushes
 * each chain back. Guest RAM is two separately allocated regions of exact
 * size on either side of a hole, so ASan sees any access outside them.
 *
 * Input layout (little-endian):
 *   0  u8  size_sel   bit 7: size = raw_size, else size = 1 << (size_sel & 15)
 *   1  u8  flags      FUZZ_F_*
 *   2  u16 raw_size
 *   4  u16 start_idx  initial last_avail_idx and used_idx (and ring idx fields)
 *   6  u8  fill       byte written into device-writable buffers
 *   7  u8  reserved
 *   8  u32 desc, 12 u32 avail, 16 u32 used, 20 u32 ram   (see fuzz_gpa())
 *  24  u16 ring_len   bytes of ring image
 *  26  u16 ram_len    bytes of RAM
 *  28  ring image: the descriptor table (16 * size bytes), then the
 *      available ring; a short image covers only a prefix
 *  then RAM bytes, copied to `ram` before the ring image goes in
 *  then guest steps, 8 bytes each, taken after the first drain:
 *      u32 address (fuzz_gpa), u16 value stored there, u8 FUZZ_S_*, u8 -
 *      so the guest can publish more chains, rewrite descriptors, flip
 *      flags and event indices between drains.
 *
 * Built with -DFUZZ_VIRTQUEUE_SEEDS it is instead a program writing a seed
 * corpus of well-formed and a few broken queues into the directory named
 * by its argument. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/virtqueue.h"
#include "mm/guest_mem.h"

#define FUZZ_F_EVENT_IDX 0x01
#define FUZZ_F_INDIRECT 0x02
#define FUZZ_F_TOGGLE_NOTIFY 0x04 /* disable/enable notifications around pops */
#define FUZZ_F_PUSH_LATE 0x08	  /* push everything after the queue is empty */
#define FUZZ_F_NO_TOUCH 0x10	  /* do not fill device-writable buffers */
#define FUZZ_F_IRQ_EACH 0x20	  /* virtq_needs_interrupt() after each push */

#define FUZZ_S_DRAIN 0x01      /* after the store, pop until empty */
#define FUZZ_S_NOTIFY_OFF 0x02 /* virtq_set_notifications(false) first */
#define FUZZ_S_NOTIFY_ON 0x04  /* virtq_set_notifications(true) first */
#define FUZZ_S_INTERRUPT 0x08  /* virtq_needs_interrupt() after */

#define FUZZ_HDR_LEN 28
#define FUZZ_STEP_LEN 8
#define FUZZ_LOW_SIZE 0x10000ULL /* RAM at [0, 64 KiB) */
#define FUZZ_HIGH_SIZE 0x4000ULL /* and at [4 GiB, 4 GiB + 16 KiB) */
#define FUZZ_MAX_POPS 1024

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

#ifndef FUZZ_VIRTQUEUE_SEEDS

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A 32-bit address field reaches RAM in both regions, the hole between
 * them, and the top of the 64-bit space (where gpa + len overflows). */
static uint64_t fuzz_gpa(uint32_t v)
{
	uint64_t low = v & 0x3fffffffu;

	switch (v >> 30) {
	case 0:
		return low;
	case 1:
		return GUEST_HIGH_RAM_START + low;
	case 2:
		return GUEST_MMIO_HOLE_START + low;
	default:
		return UINT64_MAX - low;
	}
}

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_virtqueue: %s:%d: check failed: %s\n", __FILE__,     \
				__LINE__, #cond);                                                  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* Copies as much of [src, src+len) to gpa as lies in RAM, byte range by
 * byte range, the way a guest could have written it. */
static void fuzz_poke(const struct guest_mem *mem, uint64_t gpa, const uint8_t *src, size_t len)
{
	for (unsigned r = 0; r < mem->nr_regions; r++) {
		const struct guest_mem_region *reg = &mem->regions[r];
		if (gpa < reg->gpa || gpa - reg->gpa >= reg->size)
			continue;
		uint64_t room = reg->size - (gpa - reg->gpa);
		memcpy(reg->hva + (gpa - reg->gpa), src, len < room ? len : room);
	}
}

static void fuzz_snapshot(const struct guest_mem *mem, uint8_t *low, uint8_t *high)
{
	memcpy(low, mem->regions[0].hva, FUZZ_LOW_SIZE);
	memcpy(high, mem->regions[1].hva, FUZZ_HIGH_SIZE);
}

static bool fuzz_unchanged(const struct guest_mem *mem, const uint8_t *low, const uint8_t *high)
{
	return !memcmp(low, mem->regions[0].hva, FUZZ_LOW_SIZE) &&
	       !memcmp(high, mem->regions[1].hva, FUZZ_HIGH_SIZE);
}

static void fuzz_check_chain(struct virtq *vq, struct virtq_chain *c)
{
	uint64_t out = 0, in = 0;

	CHECK(c->head < vq->size);
	CHECK(c->nr_out + c->nr_in <= VIRTQ_MAX_CHAIN_BUFS);
	CHECK(c->nr_out + c->nr_in <= vq->size);
	for (unsigned i = 0; i < c->nr_out + c->nr_in; i++) {
		const struct virtq_buf *b = &c->bufs[i];
		CHECK(b->len > 0);
		CHECK(guest_mem_ptr(vq->mem, b->gpa, b->len) == b->hva);
		if (i < c->nr_out)
			out += b->len;
		else
			in += b->len;
	}
	CHECK(out == c->out_bytes);
	CHECK(in == c->in_bytes);
}

/* What a device does with a chain: reads the request, writes the reply. */
static uint32_t fuzz_use_chain(struct virtq_chain *c, uint8_t fill, bool touch)
{
	const struct virtq_buf *out = virtq_chain_out(c), *in = virtq_chain_in(c);
	uint8_t sum = 0;

	/* volatile: every byte is really read, under ASan's eye. */
	for (unsigned i = 0; i < c->nr_out; i++)
		for (uint32_t k = 0; k < out[i].len; k++)
			sum += ((const volatile uint8_t *)out[i].hva)[k];
	(void)sum;
	if (!touch)
		return 0;
	for (unsigned i = 0; i < c->nr_in; i++)
		memset(in[i].hva, fill, in[i].len);
	return c->in_bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)c->in_bytes;
}

struct fuzz_state {
	struct guest_mem mem;
	uint8_t *snap_low, *snap_high;
	uint16_t *late_heads;
};

static struct fuzz_state *fuzz_state(void)
{
	static struct fuzz_state st;

	if (!st.snap_low) {
		st.mem.memfd = -1;
		st.mem.nr_regions = 2;
		st.mem.regions[0] = (struct guest_mem_region){
			.gpa = 0, .size = FUZZ_LOW_SIZE, .hva = malloc(FUZZ_LOW_SIZE)};
		st.mem.regions[1] = (struct guest_mem_region){.gpa = GUEST_HIGH_RAM_START,
							      .size = FUZZ_HIGH_SIZE,
							      .memfd_offset = FUZZ_LOW_SIZE,
							      .hva = malloc(FUZZ_HIGH_SIZE)};
		st.mem.ram_size = FUZZ_LOW_SIZE + FUZZ_HIGH_SIZE;
		st.snap_low = malloc(FUZZ_LOW_SIZE);
		st.snap_high = malloc(FUZZ_HIGH_SIZE);
		st.late_heads = malloc(FUZZ_MAX_POPS * sizeof(uint16_t));
		if (!st.mem.regions[0].hva || !st.mem.regions[1].hva || !st.snap_low ||
		    !st.snap_high || !st.late_heads)
			abort();
	}
	return &st;
}

/* Pops until empty or broken (at most *budget chains in all), using and
 * pushing each chain. Returns virtq_pop's last result. */
static int fuzz_drain(struct fuzz_state *st, struct virtq *vq, uint8_t flags, uint8_t fill,
		      unsigned *budget)
{
	static struct virtq_chain chain;
	unsigned late = 0;
	int rc = 0;

	for (unsigned n = 0; *budget; n++, (*budget)--) {
		uint16_t before = vq->last_avail_idx;

		if ((flags & FUZZ_F_TOGGLE_NOTIFY) && n % 2 == 0)
			virtq_set_notifications(vq, false);
		rc = virtq_pop(vq, &chain);
		if (rc <= 0) {
			CHECK(rc == 0 ? !vq->error : vq->error != NULL);
			CHECK(vq->last_avail_idx == before);
			if (rc == 0 && (flags & FUZZ_F_TOGGLE_NOTIFY)) {
				virtq_set_notifications(vq, true);
				rc = virtq_pop(vq, &chain);
				if (rc <= 0)
					break;
			} else {
				break;
			}
		}
		CHECK(rc == 1);
		CHECK(vq->last_avail_idx == (uint16_t)(before + 1));
		fuzz_check_chain(vq, &chain);
		uint32_t written = fuzz_use_chain(&chain, fill, !(flags & FUZZ_F_NO_TOUCH));
		if (flags & FUZZ_F_PUSH_LATE) {
			st->late_heads[late++] = chain.head;
		} else {
			CHECK(virtq_push(vq, chain.head, written) == 0);
			if (flags & FUZZ_F_IRQ_EACH)
				(void)virtq_needs_interrupt(vq);
		}
	}
	for (unsigned i = 0; i < late && !vq->error; i++)
		CHECK(virtq_push(vq, st->late_heads[i], 0) == 0);
	(void)virtq_needs_interrupt(vq);

	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct fuzz_state *st = fuzz_state();
	struct guest_mem *mem = &st->mem;
	struct virtq vq = {0};
	static struct virtq_chain chain;

	if (len < FUZZ_HDR_LEN)
		return 0;

	uint8_t size_sel = data[0], flags = data[1], fill = data[6];
	uint16_t start = get16(data + 4);
	size_t ring_len = get16(data + 24), ram_len = get16(data + 26);
	uint16_t size = (size_sel & 0x80) ? get16(data + 2) : (uint16_t)(1u << (size_sel & 15));
	const uint8_t *ring = data + FUZZ_HDR_LEN;
	size_t rest = len - FUZZ_HDR_LEN;

	if (ring_len > rest)
		ring_len = rest;
	if (ram_len > rest - ring_len)
		ram_len = rest - ring_len;

	const uint8_t *steps = ring + ring_len + ram_len;
	size_t steps_len = rest - ring_len - ram_len;

	/* RAM: zeroes, then the RAM bytes, then the ring image over them. */
	memset(mem->regions[0].hva, 0, FUZZ_LOW_SIZE);
	memset(mem->regions[1].hva, 0, FUZZ_HIGH_SIZE);
	fuzz_poke(mem, fuzz_gpa(get32(data + 20)), ring + ring_len, ram_len);

	vq.mem = mem;
	vq.size = size;
	vq.desc_gpa = fuzz_gpa(get32(data + 8));
	vq.avail_gpa = fuzz_gpa(get32(data + 12));
	vq.used_gpa = fuzz_gpa(get32(data + 16));
	vq.event_idx = flags & FUZZ_F_EVENT_IDX;
	vq.indirect = flags & FUZZ_F_INDIRECT;
	vq.last_avail_idx = vq.used_idx = start;

	size_t desc_len = VIRTQ_DESC_BYTES(size) < ring_len ? VIRTQ_DESC_BYTES(size) : ring_len;
	fuzz_poke(mem, vq.desc_gpa, ring, desc_len);
	fuzz_poke(mem, vq.avail_gpa, ring + desc_len, ring_len - desc_len);
	uint8_t idx_le[2] = {(uint8_t)start, (uint8_t)(start >> 8)};
	fuzz_poke(mem, vq.used_gpa + 2, idx_le, 2);

	fuzz_snapshot(mem, st->snap_low, st->snap_high);
	if (virtq_activate(&vq) < 0) {
		CHECK(vq.error && !vq.ready);
		CHECK(fuzz_unchanged(mem, st->snap_low, st->snap_high));
		return 0;
	}
	CHECK(!vq.error && vq.ready);
	CHECK(guest_mem_ptr(mem, vq.desc_gpa, VIRTQ_DESC_BYTES(size)) == vq.desc);
	CHECK(guest_mem_ptr(mem, vq.avail_gpa, VIRTQ_AVAIL_BYTES(size)) == vq.avail);
	CHECK(guest_mem_ptr(mem, vq.used_gpa, VIRTQ_USED_BYTES(size)) == vq.used);

	unsigned budget = FUZZ_MAX_POPS;
	int rc = fuzz_drain(st, &vq, flags, fill, &budget);

	for (; rc >= 0 && steps_len >= FUZZ_STEP_LEN;
	     steps += FUZZ_STEP_LEN, steps_len -= FUZZ_STEP_LEN) {
		uint8_t value[2] = {steps[4], steps[5]}, op = steps[6];

		fuzz_poke(mem, fuzz_gpa(get32(steps)), value, 2);
		if (op & FUZZ_S_NOTIFY_OFF)
			virtq_set_notifications(&vq, false);
		if (op & FUZZ_S_NOTIFY_ON)
			virtq_set_notifications(&vq, true);
		if (op & FUZZ_S_DRAIN)
			rc = fuzz_drain(st, &vq, flags, fill, &budget);
		if (op & FUZZ_S_INTERRUPT)
			(void)virtq_needs_interrupt(&vq);
	}

	if (rc < 0) {
		/* Broken: the queue must not touch guest memory any more. */
		CHECK(vq.error != NULL);
		const char *first = vq.error;
		fuzz_snapshot(mem, st->snap_low, st->snap_high);
		CHECK(virtq_pop(&vq, &chain) == -1);
		CHECK(virtq_push(&vq, 0, 0) == -1);
		virtq_set_notifications(&vq, true);
		virtq_set_notifications(&vq, false);
		CHECK(!virtq_needs_interrupt(&vq));
		CHECK(vq.error == first);
		CHECK(fuzz_unchanged(mem, st->snap_low, st->snap_high));
	}
	return 0;
}

#else /* FUZZ_VIRTQUEUE_SEEDS */

/* A seed under construction: header, ring image, RAM bytes. */
struct seed {
	uint8_t hdr[FUZZ_HDR_LEN];
	uint8_t ring[4096];
	size_t ring_len;
	uint8_t ram[2048];
	size_t ram_len;
	uint8_t steps[256];
	size_t steps_len;
	uint16_t size;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* Rings at 0x1000 / 0x3000 / 0x4000, RAM bytes (indirect tables) at
 * 0x8000, buffers from 0x9000 and in high RAM. */
static void seed_init(struct seed *s, unsigned log2size, uint8_t flags, uint16_t start)
{
	memset(s, 0, sizeof(*s));
	s->size = (uint16_t)(1u << log2size);
	s->hdr[0] = (uint8_t)log2size;
	s->hdr[1] = flags;
	put16(s->hdr + 4, start);
	s->hdr[6] = 0x5a;
	put32(s->hdr + 8, 0x1000);
	put32(s->hdr + 12, 0x3000);
	put32(s->hdr + 16, 0x4000);
	put32(s->hdr + 20, 0x8000);
	s->ring_len = 16u * s->size + 4 + 2u * s->size;
	put16(s->ring + 16u * s->size + 2, start); /* avail->idx */
}

static void seed_desc(struct seed *s, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		      uint16_t next)
{
	uint8_t *p = s->ring + 16 * i;

	put64(p, addr);
	put32(p + 8, len);
	put16(p + 12, flags);
	put16(p + 14, next);
}

static void seed_idesc(struct seed *s, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		       uint16_t next)
{
	uint8_t *p = s->ram + 16 * i;

	put64(p, addr);
	put32(p + 8, len);
	put16(p + 12, flags);
	put16(p + 14, next);
	if (s->ram_len < 16 * (i + 1))
		s->ram_len = 16 * (i + 1);
}

static void seed_publish(struct seed *s, uint16_t head)
{
	uint8_t *avail = s->ring + 16u * s->size;
	uint16_t idx = get16(avail + 2);

	put16(avail + 4 + 2 * (idx & (s->size - 1)), head);
	put16(avail + 2, (uint16_t)(idx + 1));
}

static void seed_step(struct seed *s, uint64_t gpa, uint16_t value, uint8_t op)
{
	uint8_t *p = s->steps + s->steps_len;

	put32(p, (uint32_t)gpa); /* low RAM only: fuzz_gpa() maps it to itself */
	put16(p + 4, value);
	p[6] = op;
	p[7] = 0;
	s->steps_len += FUZZ_STEP_LEN;
}

static int seed_write(const char *dir, const char *name, const struct seed *s)
{
	char path[4096];
	uint8_t hdr[FUZZ_HDR_LEN];
	FILE *f;

	memcpy(hdr, s->hdr, sizeof(hdr));
	put16(hdr + 24, (uint16_t)s->ring_len);
	put16(hdr + 26, (uint16_t)s->ram_len);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(hdr, 1, sizeof(hdr), f) != sizeof(hdr) ||
	    fwrite(s->ring, 1, s->ring_len, f) != s->ring_len ||
	    fwrite(s->ram, 1, s->ram_len, f) != s->ram_len ||
	    fwrite(s->steps, 1, s->steps_len, f) != s->steps_len || fclose(f)) {
		perror(path);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const uint16_t N = VIRTQ_DESC_F_NEXT, W = VIRTQ_DESC_F_WRITE, I = VIRTQ_DESC_F_INDIRECT;
	struct seed s;
	int err = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}

	seed_init(&s, 3, 0, 0);
	seed_desc(&s, 0, 0x9000, 64, 0, 0);
	seed_publish(&s, 0);
	err |= seed_write(argv[1], "single-readable", &s);

	seed_init(&s, 3, FUZZ_F_EVENT_IDX, 0);
	seed_desc(&s, 2, 0x9000, 16, N, 5);
	seed_desc(&s, 5, 0x9100, 100, N | W, 1);
	seed_desc(&s, 1, GUEST_HIGH_RAM_START + 0x100, 512, W, 0);
	seed_publish(&s, 2);
	seed_desc(&s, 3, 0x9800, 8, W, 0);
	seed_publish(&s, 3);
	err |= seed_write(argv[1], "multi-event-idx", &s);

	seed_init(&s, 4, FUZZ_F_INDIRECT | FUZZ_F_TOGGLE_NOTIFY, 0);
	seed_idesc(&s, 0, 0x9000, 16, N, 1);
	seed_idesc(&s, 1, 0x9100, 200, W | N, 2);
	seed_idesc(&s, 2, 0x9400, 1, W, 0);
	seed_desc(&s, 7, 0x9f00, 4, N, 8);
	seed_desc(&s, 8, 0x8000, 48, I, 0);
	seed_publish(&s, 7);
	err |= seed_write(argv[1], "indirect", &s);

	seed_init(&s, 2, FUZZ_F_PUSH_LATE, 65534);
	for (uint16_t k = 0; k < 4; k++) {
		seed_desc(&s, k, 0x9000 + 0x100 * k, 0x100, k & 1 ? W : 0, 0);
		seed_publish(&s, k);
	}
	err |= seed_write(argv[1], "full-ring-wrap", &s);

	seed_init(&s, 3, 0, 0);
	seed_desc(&s, 0, 0x9000, 0, N, 1);
	seed_desc(&s, 1, 0x10000 - 8, 8, W | N, 2);
	seed_desc(&s, 2, 0x9000, 0, W, 0);
	seed_publish(&s, 0);
	err |= seed_write(argv[1], "zero-length-and-ram-end", &s);

	/* A writable buffer over the available ring: the fill rewrites it. */
	seed_init(&s, 3, FUZZ_F_EVENT_IDX, 0);
	seed_desc(&s, 0, 0x3000, 32, W, 0);
	seed_publish(&s, 0);
	seed_publish(&s, 0);
	err |= seed_write(argv[1], "buffer-over-avail-ring", &s);

	/* The guest keeps going: a second chain published after the first
	 * drain, with interrupts suppressed, then a third with EVENT_IDX
	 * notifications re-enabled. */
	seed_init(&s, 3, FUZZ_F_EVENT_IDX | FUZZ_F_IRQ_EACH, 0);
	seed_desc(&s, 0, 0x9000, 64, W, 0);
	seed_desc(&s, 1, 0x9100, 64, 0, 2);
	seed_desc(&s, 2, 0x9200, 64, W, 0);
	seed_publish(&s, 0);
	seed_step(&s, 0x3000 + 4 + 2 * 1, 1, 0);		 /* ring[1] = 1 */
	seed_step(&s, 0x3000 + 4 + 2 * 8, 1, FUZZ_S_NOTIFY_OFF); /* used_event */
	seed_step(&s, 0x3000 + 2, 2, FUZZ_S_DRAIN | FUZZ_S_INTERRUPT);
	seed_step(&s, 0x1000 + 16 * 1 + 12, N, 0); /* desc 1 now chains to 2 */
	seed_step(&s, 0x3000 + 4 + 2 * 2, 1, 0);
	seed_step(&s, 0x3000 + 2, 3, FUZZ_S_NOTIFY_ON | FUZZ_S_DRAIN | FUZZ_S_INTERRUPT);
	err |= seed_write(argv[1], "guest-steps", &s);

	/* Broken ones, to start near the edges. */
	seed_init(&s, 3, 0, 0);
	seed_desc(&s, 0, 0x9000, 8, N, 1);
	seed_desc(&s, 1, 0x9000, 8, N, 0);
	seed_publish(&s, 0);
	err |= seed_write(argv[1], "loop", &s);

	seed_init(&s, 3, FUZZ_F_INDIRECT, 0);
	seed_idesc(&s, 0, 0x8000, 16, I, 0);
	seed_desc(&s, 0, 0x8000, 16, I, 0);
	seed_publish(&s, 0);
	err |= seed_write(argv[1], "nested-indirect", &s);

	seed_init(&s, 3, 0, 0);
	seed_desc(&s, 0, UINT64_MAX - 8, 64, 0, 0);
	seed_publish(&s, 0);
	err |= seed_write(argv[1], "overflow", &s);

	return err ? 1 : 0;
}

#endif
