#include "devices/virtio/virtqueue.h"

#include <endian.h>
#include <string.h>

/* Every reason a queue can break, one string each (tests match on them). */
#define E_NO_MEM "no guest memory"
#define E_SIZE_ZERO "queue size is 0"
#define E_SIZE_BIG "queue size is larger than 32768"
#define E_SIZE_POW2 "queue size is not a power of 2"
#define E_DESC_ALIGN "descriptor table is not 16-byte aligned"
#define E_AVAIL_ALIGN "available ring is not 2-byte aligned"
#define E_USED_ALIGN "used ring is not 4-byte aligned"
#define E_DESC_RAM "descriptor table is not in RAM"
#define E_AVAIL_RAM "available ring is not in RAM"
#define E_USED_RAM "used ring is not in RAM"
#define E_AVAIL_IDX "avail->idx moved more than the queue size ahead"
#define E_HEAD "head index out of range"
#define E_NEXT "next index out of range"
#define E_TOO_LONG "descriptor chain longer than the queue size (a loop?)"
#define E_TOO_MANY "descriptor chain longer than VIRTQ_MAX_CHAIN_BUFS"
#define E_IND_LOOP "descriptor loop in an indirect table"
#define E_IND_NOT_NEG "indirect descriptor but VIRTIO_F_INDIRECT_DESC not negotiated"
#define E_IND_NESTED "indirect descriptor inside an indirect table"
#define E_IND_NEXT "indirect descriptor with NEXT set"
#define E_IND_LEN "indirect table length is 0 or not a multiple of 16"
#define E_IND_BIG "indirect table larger than the queue size or VIRTQ_MAX_CHAIN_BUFS"
#define E_IND_RAM "indirect table is not in RAM"
#define E_ORDER "device-readable descriptor after a device-writable one"
#define E_BUF_RAM "buffer is not in RAM"

/* Records the first violation; the queue is dead from here on. */
static int virtq_fail(struct virtq *vq, const char *why)
{
	if (!vq->error)
		vq->error = why;
	return -1;
}

static uint16_t *virtq_used_event(const struct virtq *vq)
{
	return &vq->avail->ring[vq->size];
}

static uint16_t *virtq_avail_event(const struct virtq *vq)
{
	return (uint16_t *)(void *)&vq->used->ring[vq->size];
}

int virtq_activate(struct virtq *vq)
{
	uint16_t size = vq->size;

	if (vq->error)
		return -1;
	if (!vq->mem)
		return virtq_fail(vq, E_NO_MEM);
	if (size == 0)
		return virtq_fail(vq, E_SIZE_ZERO);
	if (size > VIRTQ_MAX_SIZE)
		return virtq_fail(vq, E_SIZE_BIG);
	if (size & (size - 1))
		return virtq_fail(vq, E_SIZE_POW2);
	if (vq->desc_gpa % VIRTQ_DESC_ALIGN)
		return virtq_fail(vq, E_DESC_ALIGN);
	if (vq->avail_gpa % VIRTQ_AVAIL_ALIGN)
		return virtq_fail(vq, E_AVAIL_ALIGN);
	if (vq->used_gpa % VIRTQ_USED_ALIGN)
		return virtq_fail(vq, E_USED_ALIGN);

	const uint8_t *desc = guest_mem_ptr(vq->mem, vq->desc_gpa, VIRTQ_DESC_BYTES(size));
	struct virtq_avail *avail = guest_mem_ptr(vq->mem, vq->avail_gpa, VIRTQ_AVAIL_BYTES(size));
	struct virtq_used *used = guest_mem_ptr(vq->mem, vq->used_gpa, VIRTQ_USED_BYTES(size));

	if (!desc)
		return virtq_fail(vq, E_DESC_RAM);
	if (!avail)
		return virtq_fail(vq, E_AVAIL_RAM);
	if (!used)
		return virtq_fail(vq, E_USED_RAM);
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	vq->signalled_used_valid = false;
	vq->ready = true;
	return 0;
}

/* The one copy of a descriptor we act on: the guest may rewrite the table
 * at any time, so nothing below reads it twice. memcpy because an indirect
 * table need not be aligned. */
static void virtq_read_desc(const uint8_t *table, unsigned i, struct virtq_desc *d)
{
	memcpy(d, table + (uint64_t)i * sizeof(*d), sizeof(*d));
	d->addr = le64toh(d->addr);
	d->len = le32toh(d->len);
	d->flags = le16toh(d->flags);
	d->next = le16toh(d->next);
}

/* Switches the walk to the indirect table `d` points to; every rule about
 * indirect tables is here. */
static int virtq_enter_indirect(struct virtq *vq, const struct virtq_desc *d, unsigned limit,
				const uint8_t **table, unsigned *table_len)
{
	if (!vq->indirect)
		return virtq_fail(vq, E_IND_NOT_NEG);
	if (d->flags & VIRTQ_DESC_F_NEXT)
		return virtq_fail(vq, E_IND_NEXT);
	if (d->len == 0 || d->len % sizeof(struct virtq_desc))
		return virtq_fail(vq, E_IND_LEN);
	if (d->len / sizeof(struct virtq_desc) > limit)
		return virtq_fail(vq, E_IND_BIG);

	const uint8_t *t = guest_mem_ptr(vq->mem, d->addr, d->len);

	if (!t)
		return virtq_fail(vq, E_IND_RAM);
	*table = t;
	*table_len = d->len / sizeof(struct virtq_desc);
	return 0;
}

/* Walks the chain starting at `head` (already checked < size) and checks
 * every rule on the copy of each descriptor. Work is bounded: at most
 * `limit` buffer descriptors plus one indirect descriptor. */
static int virtq_walk(struct virtq *vq, uint16_t head, struct virtq_chain *chain)
{
	const unsigned limit = vq->size < VIRTQ_MAX_CHAIN_BUFS ? vq->size : VIRTQ_MAX_CHAIN_BUFS;
	const uint8_t *table = vq->desc;
	unsigned table_len = vq->size;
	unsigned i = head, walked = 0, descs = 0;
	bool in_indirect = false, writable = false;
	struct virtq_desc d;

	chain->head = head;
	chain->nr_out = chain->nr_in = 0;
	chain->out_bytes = chain->in_bytes = 0;
	for (;;) {
		/* In the main table descs catches loops first (limit <= size);
		 * an indirect table gets its own bound, its entry count. */
		if (in_indirect && ++walked > table_len)
			return virtq_fail(vq, E_IND_LOOP);
		virtq_read_desc(table, i, &d);

		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (in_indirect)
				return virtq_fail(vq, E_IND_NESTED);
			if (virtq_enter_indirect(vq, &d, limit, &table, &table_len) < 0)
				return -1;
			in_indirect = true;
			i = 0;
			walked = 0;
			continue;
		}

		if (++descs > limit)
			return virtq_fail(vq, limit == vq->size ? E_TOO_LONG : E_TOO_MANY);
		if (d.flags & VIRTQ_DESC_F_WRITE)
			writable = true;
		else if (writable)
			return virtq_fail(vq, E_ORDER);
		if (d.len) {
			void *hva = guest_mem_ptr(vq->mem, d.addr, d.len);

			if (!hva)
				return virtq_fail(vq, E_BUF_RAM);
			/* descs <= limit <= VIRTQ_MAX_CHAIN_BUFS bounds the index. */
			chain->bufs[chain->nr_out + chain->nr_in] =
				(struct virtq_buf){.hva = hva, .gpa = d.addr, .len = d.len};
			if (writable) {
				chain->nr_in++;
				chain->in_bytes += d.len;
			} else {
				chain->nr_out++;
				chain->out_bytes += d.len;
			}
		}

		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= table_len)
			return virtq_fail(vq, E_NEXT);
		i = d.next;
	}
}

bool virtq_chain_read(const struct virtq_chain *chain, uint64_t off, void *dst, size_t len)
{
	uint8_t *to = dst;

	for (unsigned i = 0; i < chain->nr_out && len; i++) {
		const struct virtq_buf *buf = &chain->bufs[i];
		if (off >= buf->len) {
			off -= buf->len;
			continue;
		}
		size_t n = buf->len - off < len ? (size_t)(buf->len - off) : len;
		memcpy(to, (const uint8_t *)buf->hva + off, n);
		to += n, len -= n, off = 0;
	}
	return len == 0;
}

int virtq_pop(struct virtq *vq, struct virtq_chain *chain)
{
	if (vq->error)
		return -1;
	if (!vq->ready)
		return 0;

	/* Acquire: the ring entry and descriptors the driver wrote before
	 * publishing avail->idx are visible once we see the new index. */
	uint16_t avail_idx = le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE));

	if (avail_idx == vq->last_avail_idx && vq->event_idx && !vq->notify_disabled) {
		/* About to report empty: ask for a kick at the next buffer,
		 * then look again. The full fence orders our avail_event store
		 * before the reload, against the driver's avail->idx store
		 * before its avail_event load; one of us sees the other. */
		__atomic_store_n(virtq_avail_event(vq), htole16(vq->last_avail_idx),
				 __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		avail_idx = le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE));
	}

	uint16_t pending = avail_idx - vq->last_avail_idx;

	if (pending == 0)
		return 0;
	if (pending > vq->size)
		return virtq_fail(vq, E_AVAIL_IDX);

	uint16_t slot = vq->last_avail_idx & (vq->size - 1);
	uint16_t head = le16toh(__atomic_load_n(&vq->avail->ring[slot], __ATOMIC_RELAXED));

	if (head >= vq->size)
		return virtq_fail(vq, E_HEAD);
	if (virtq_walk(vq, head, chain) < 0)
		return -1;
	vq->last_avail_idx++;
	return 1;
}

int virtq_push_many(struct virtq *vq, const struct virtq_used_elem *elems, unsigned nr)
{
	if (!vq->ready || vq->error || nr > vq->size)
		return -1;
	for (unsigned i = 0; i < nr; i++)
		if (elems[i].id >= vq->size)
			return -1;
	for (unsigned i = 0; i < nr; i++) {
		struct virtq_used_elem *elem = &vq->used->ring[(vq->used_idx + i) & (vq->size - 1)];
		__atomic_store_n(&elem->id, htole32(elems[i].id), __ATOMIC_RELAXED);
		__atomic_store_n(&elem->len, htole32(elems[i].len), __ATOMIC_RELAXED);
	}
	vq->used_idx = (uint16_t)(vq->used_idx + nr);
	/* Release: the elements are visible before the index that covers
	 * them. */
	__atomic_store_n(&vq->used->idx, htole16(vq->used_idx), __ATOMIC_RELEASE);
	return 0;
}

int virtq_push(struct virtq *vq, uint16_t head, uint32_t written)
{
	return virtq_push_many(vq, &(struct virtq_used_elem){head, written}, 1);
}

bool virtq_needs_interrupt(struct virtq *vq)
{
	if (!vq->ready || vq->error)
		return false;

	uint16_t old = vq->signalled_used, new_idx = vq->used_idx;
	bool valid = vq->signalled_used_valid;

	if (valid && old == new_idx)
		return false;
	vq->signalled_used = new_idx;
	vq->signalled_used_valid = true;

	/* Our used->idx store before the load of flags / used_event, against
	 * the driver's store of those before its load of used->idx. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx) {
		uint16_t flags = le16toh(__atomic_load_n(&vq->avail->flags, __ATOMIC_RELAXED));

		return !(flags & VIRTQ_AVAIL_F_NO_INTERRUPT);
	}
	if (!valid)
		return true;

	uint16_t event = le16toh(__atomic_load_n(virtq_used_event(vq), __ATOMIC_RELAXED));

	return virtq_need_event(event, new_idx, old);
}

void virtq_set_notifications(struct virtq *vq, bool enable)
{
	if (!vq->ready || vq->error)
		return;
	vq->notify_disabled = !enable;
	if (vq->event_idx) {
		/* With EVENT_IDX the driver ignores used->flags. Disabling
		 * leaves avail_event behind last_avail_idx, so the driver
		 * stops kicking (at most one stray kick). */
		if (enable)
			__atomic_store_n(virtq_avail_event(vq), htole16(vq->last_avail_idx),
					 __ATOMIC_RELAXED);
	} else {
		__atomic_store_n(&vq->used->flags, htole16(enable ? 0 : VIRTQ_USED_F_NO_NOTIFY),
				 __ATOMIC_RELAXED);
	}
	/* The request is visible before the caller's next look at
	 * avail->idx (see virtq_pop). */
	if (enable)
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void virtq_reset(struct virtq *vq)
{
	const struct guest_mem *mem = vq->mem;

	memset(vq, 0, sizeof(*vq));
	vq->mem = mem;
}
