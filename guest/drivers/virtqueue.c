#include "drivers/virtqueue.h"

#include "arch/cpu.h"
#include "kernel/dma.h"
#include "lib/string.h"

#define PAGE_SIZE 4096

static size_t avail_bytes(uint16_t size)
{
	return 4 + 2 * (size_t)size + 2; /* flags, idx, ring, used_event */
}

static size_t used_bytes(uint16_t size)
{
	return 4 + 8 * (size_t)size + 2; /* flags, idx, ring, avail_event */
}

bool virtq_init(struct virtq *vq, uint16_t index, uint16_t size, unsigned max_indirect,
		bool event_idx)
{
	memset(vq, 0, sizeof(*vq));
	if (!size || size > VIRTQ_MAX_SIZE || (size & (size - 1)))
		return false;
	/* One block, laid out as the legacy interface would: descriptors at a
	 * page boundary, the available ring right after them, the used ring
	 * at the next page boundary. Any alignment the spec allows would do. */
	size_t desc_len = 16 * (size_t)size;
	size_t used_off = (desc_len + avail_bytes(size) + PAGE_SIZE - 1) & ~(size_t)(PAGE_SIZE - 1);
	uint8_t *rings = dma_alloc(used_off + used_bytes(size), PAGE_SIZE);
	vq->tokens = dma_alloc(sizeof(void *) * size, 8);
	vq->chain = dma_alloc(sizeof(uint16_t) * size, 2);
	vq->writable = dma_alloc(sizeof(uint32_t) * size, 4);
	if (max_indirect > 1) {
		vq->indirect = dma_alloc(sizeof(struct virtq_desc) * size * max_indirect, 16);
		vq->max_indirect = vq->indirect ? max_indirect : 0;
	}
	if (!rings || !vq->tokens || !vq->chain || !vq->writable)
		return false;
	vq->index = index;
	vq->size = size;
	vq->desc = (volatile struct virtq_desc *)rings;
	vq->avail = (volatile struct virtq_avail *)(rings + desc_len);
	vq->used = (volatile struct virtq_used *)(rings + used_off);
	vq->used_event = &vq->avail->ring[size];
	vq->avail_event = (volatile uint16_t *)&vq->used->ring[size];
	vq->event_idx = event_idx;
	vq->msix_entry = 0xffff;
	for (uint16_t i = 0; i < size; i++)
		vq->desc[i].next = (uint16_t)(i + 1);
	vq->free_head = 0;
	vq->num_free = size;
	return true;
}

void virtq_set_polled(struct virtq *vq, bool polled)
{
	vq->polled = polled;
	vq->avail->flags = polled ? VIRTQ_AVAIL_F_NO_INTERRUPT : 0;
	/* With EVENT_IDX the device ignores the flag and interrupts when its
	 * used index passes used_event: one behind what we consumed never is
	 * passed (until 64 Ki completions later, a harmless spurious one). */
	*vq->used_event = (uint16_t)(polled ? vq->last_used - 1 : vq->last_used);
}

static uint16_t alloc_desc(struct virtq *vq)
{
	uint16_t d = vq->free_head;

	vq->free_head = vq->desc[d].next;
	vq->num_free--;
	return d;
}

/* Makes the chain at head available: its bookkeeping, the ring entry, and
 * the index that publishes both. */
static void virtq_publish(struct virtq *vq, uint16_t head, void *token, uint16_t descs,
			  uint32_t writable)
{
	vq->tokens[head] = token;
	vq->chain[head] = descs;
	vq->writable[head] = writable;
	vq->avail->ring[vq->avail_idx & (vq->size - 1)] = head;
	/* The entry and the descriptors before the index that publishes them
	 * (x86 keeps stores in order; the compiler must too). */
	barrier();
	vq->avail_idx++;
	vq->avail->idx = vq->avail_idx;
	vq->in_flight++;
	vq->added++;
}

bool virtq_add(struct virtq *vq, const struct virtq_buf *bufs, unsigned n, void *token)
{
	bool indirect = vq->max_indirect && n > 1 && n <= vq->max_indirect;
	unsigned needed = indirect ? 1 : n;
	uint32_t writable = 0;

	if (vq->broken || !token || !n || n > vq->size || needed > vq->num_free)
		return false;
	for (unsigned i = 0; i < n; i++) {
		if (bufs[i].device_writes)
			writable += bufs[i].len;
	}

	uint16_t head;
	if (indirect) {
		head = alloc_desc(vq);
		struct virtq_desc *table = vq->indirect + (size_t)head * vq->max_indirect;
		for (unsigned i = 0; i < n; i++) {
			table[i].addr = dma_addr(bufs[i].addr);
			table[i].len = bufs[i].len;
			table[i].flags =
				(uint16_t)((bufs[i].device_writes ? VIRTQ_DESC_F_WRITE : 0) |
					   (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
			table[i].next = (uint16_t)(i + 1 < n ? i + 1 : 0);
		}
		vq->desc[head].addr = dma_addr(table);
		vq->desc[head].len = (uint32_t)(n * sizeof(struct virtq_desc));
		vq->desc[head].flags = VIRTQ_DESC_F_INDIRECT;
	} else {
		head = vq->free_head;
		uint16_t d = head;
		for (unsigned i = 0; i < n; i++) {
			d = alloc_desc(vq);
			vq->desc[d].addr = dma_addr(bufs[i].addr);
			vq->desc[d].len = bufs[i].len;
			vq->desc[d].flags =
				(uint16_t)((bufs[i].device_writes ? VIRTQ_DESC_F_WRITE : 0) |
					   (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
			/* .next already links to the following free entry. */
		}
	}
	virtq_publish(vq, head, token, (uint16_t)needed, writable);
	return true;
}

bool virtq_add_malformed(struct virtq *vq)
{
	static uint8_t bait[16];

	if (vq->broken || !vq->num_free)
		return false;
	uint16_t head = alloc_desc(vq);
	vq->desc[head].addr = dma_addr(bait);
	vq->desc[head].len = sizeof(bait);
	vq->desc[head].flags = VIRTQ_DESC_F_NEXT;
	vq->desc[head].next = vq->size;
	virtq_publish(vq, head, bait, 1, 0);
	return true;
}

bool virtq_kick_prepare(struct virtq *vq)
{
	uint16_t old = vq->kicked_idx, now = vq->avail_idx;
	bool kick;

	/* The index store must be visible before we read the device's wishes,
	 * or both sides could decide the other will act. */
	mb();
	if (vq->event_idx) {
		uint16_t event = *vq->avail_event;
		kick = (uint16_t)(now - event - 1) < (uint16_t)(now - old);
	} else {
		kick = !(vq->used->flags & VIRTQ_USED_F_NO_NOTIFY);
	}
	vq->kicked_idx = now;
	if (kick)
		vq->notifications++;
	return kick;
}

bool virtq_has_used(struct virtq *vq)
{
	return vq->used->idx != vq->last_used;
}

static void free_chain(struct virtq *vq, uint16_t head)
{
	uint16_t d = head;

	for (uint16_t i = 1; i < vq->chain[head]; i++)
		d = vq->desc[d].next;
	vq->desc[d].next = vq->free_head;
	vq->free_head = head;
	vq->num_free = (uint16_t)(vq->num_free + vq->chain[head]);
}

void *virtq_get_used(struct virtq *vq, uint32_t *len)
{
	if (vq->broken)
		return NULL;
	uint16_t used_idx = vq->used->idx;
	if (used_idx == vq->last_used)
		return NULL;
	if ((uint16_t)(used_idx - vq->last_used) > vq->in_flight) {
		vq->broken = "used index ran ahead of the requests in flight";
		return NULL;
	}
	/* The element after the index that published it (loads stay in
	 * order on x86; the compiler must keep them so). */
	barrier();
	volatile struct virtq_used_elem *e = &vq->used->ring[vq->last_used & (vq->size - 1)];
	uint32_t id = e->id, written = e->len;

	if (id >= vq->size || !vq->tokens[id]) {
		vq->broken = "used element names a descriptor that is not in flight";
		return NULL;
	}
	if (written > vq->writable[id]) {
		vq->broken = "used length is larger than the writable buffers";
		return NULL;
	}
	void *token = vq->tokens[id];
	vq->tokens[id] = NULL;
	free_chain(vq, (uint16_t)id);
	vq->last_used++;
	vq->in_flight--;
	vq->completed++;
	/* EVENT_IDX: interrupt us when the next element is used. */
	if (vq->event_idx)
		*vq->used_event = (uint16_t)(vq->polled ? vq->last_used - 1 : vq->last_used);
	if (len)
		*len = written;
	return token;
}
