/* The device side of a virtio 1.x split virtqueue: takes descriptor chains
 * the driver made available, checks each against every rule in one place
 * (virtq_pop) and hands them back through the used ring (virtq_push).
 *
 * Pure: no KVM, no threads, no allocation. Guest memory is reached only
 * through guest_mem_ptr(). A queue has one owner at a time (the device's
 * thread or lock); the functions here are not thread-safe among
 * themselves, only against the guest driver running concurrently.
 *
 * The guest is not trusted: the first rule it breaks sets vq->error (a
 * static string naming the violation), after which the queue is dead until
 * virtq_reset(): it touches no guest memory and virtq_pop() returns -1. The
 * device then sets DEVICE_NEEDS_RESET. Nothing here aborts or spins on
 * guest input. See docs/virtqueue.md for the rules and the memory-ordering
 * argument. */
#ifndef SKIFF_DEVICES_VIRTIO_VIRTQUEUE_H
#define SKIFF_DEVICES_VIRTIO_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "mm/guest_mem.h"

/* Largest queue size virtio allows (the driver picks a power of 2). */
#define VIRTQ_MAX_SIZE 32768

/* Most descriptors one chain may have, not counting a descriptor that
 * points to an indirect table; a chain is also never longer than the queue
 * size. Devices must advertise segment limits (seg_max...) below this. */
#define VIRTQ_MAX_CHAIN_BUFS 256

/* Ring layout (virtio 1.x, section 2.7), little-endian in guest memory. */
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

#define VIRTQ_DESC_ALIGN 16
#define VIRTQ_AVAIL_ALIGN 2
#define VIRTQ_USED_ALIGN 4

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[]; /* size entries, then used_event */
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[]; /* size entries, then avail_event */
};

/* Bytes of each ring area for a queue of `size` entries, including the
 * event fields at their ends (present whether or not EVENT_IDX is used). */
#define VIRTQ_DESC_BYTES(size) (16ULL * (size))
#define VIRTQ_AVAIL_BYTES(size) (6ULL + 2ULL * (size))
#define VIRTQ_USED_BYTES(size) (6ULL + 8ULL * (size))

/* One guest buffer of a chain: [gpa, gpa+len) is RAM and hva points at it. */
struct virtq_buf {
	void *hva;
	uint64_t gpa;
	uint32_t len;
};

/* A popped chain. bufs[0 .. nr_out) are device-readable, then
 * bufs[nr_out .. nr_out + nr_in) device-writable (virtq_chain_in()).
 * Zero-length descriptors are checked for order and counted against the
 * length limits but not collected, so every buffer here has len > 0. */
struct virtq_chain {
	uint16_t head; /* the id to give back to virtq_push */
	unsigned nr_out, nr_in;
	uint64_t out_bytes, in_bytes;
	struct virtq_buf bufs[VIRTQ_MAX_CHAIN_BUFS];
};

static inline struct virtq_buf *virtq_chain_out(struct virtq_chain *chain)
{
	return chain->bufs;
}

static inline struct virtq_buf *virtq_chain_in(struct virtq_chain *chain)
{
	return chain->bufs + chain->nr_out;
}

/* Copies len bytes of the chain's device-readable part, from byte off of
 * it on, to dst: a header or command the device parses from its own copy.
 * False when the readable part ends first (dst then holds what there was). */
bool virtq_chain_read(const struct virtq_chain *chain, uint64_t off, void *dst, size_t len);

struct virtq {
	/* Set by the transport before virtq_activate(). */
	const struct guest_mem *mem;
	uint16_t size; /* set by the driver: power of 2, 1..VIRTQ_MAX_SIZE */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool event_idx; /* VIRTIO_F_EVENT_IDX negotiated */
	bool indirect;	/* VIRTIO_F_INDIRECT_DESC negotiated */

	bool ready; /* activated; cleared only by virtq_reset() */
	uint16_t last_avail_idx, used_idx;
	uint16_t signalled_used; /* used_idx at the last interrupt decision */
	bool signalled_used_valid;
	bool notify_disabled; /* virtq_set_notifications(vq, false) in force */
	const char *error;    /* non-NULL once broken: the first violation */

	/* Host views of the three areas, checked once by virtq_activate()
	 * (guest RAM never moves while a queue is live). */
	const uint8_t *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
};

/* Checks size (power of 2, 1..VIRTQ_MAX_SIZE) and that the three ring areas
 * lie in RAM with their alignment (desc 16, avail 2, used 4), then marks the
 * queue ready. Keeps last_avail_idx and used_idx (zero after virtq_reset(),
 * or restored state). 0, or -1 with vq->error set. */
int virtq_activate(struct virtq *vq);

/* Takes the next available chain: 1 with *chain filled, 0 when nothing is
 * available (or the queue is not ready), -1 when the guest broke a rule:
 * vq->error names it and the queue is dead (further pops return -1;
 * *chain is then meaningless). The buffers are not read or written here;
 * the device owns them until virtq_push() gives the head back. */
int virtq_pop(struct virtq *vq, struct virtq_chain *chain);

/* Puts (head, written) in the used ring and publishes used->idx with
 * release semantics. `written` is the number of bytes the device wrote into
 * the chain's device-writable buffers. 0, or -1 (no effect) when the queue
 * is not ready, is broken, or head >= size. */
int virtq_push(struct virtq *vq, uint16_t head, uint32_t written);

/* virtq_push for nr chains (id = head, len = written each) that the driver
 * must see together, such as one frame over several receive buffers: the
 * used index moves once, past all of them. 0, or -1 (no effect) as
 * virtq_push, or when an id is out of range or nr exceeds the size. */
int virtq_push_many(struct virtq *vq, const struct virtq_used_elem *elems, unsigned nr);

/* After one or more pushes: whether the driver wants an interrupt for them.
 * Honours VIRTQ_AVAIL_F_NO_INTERRUPT, or used_event with EVENT_IDX. False
 * when nothing was pushed since the last call or the queue is broken. */
bool virtq_needs_interrupt(struct virtq *vq);

/* Asks the driver to notify (kick) for new buffers, or not to:
 * VIRTQ_USED_F_NO_NOTIFY, or avail_event with EVENT_IDX. Enabling ends with
 * a full barrier: pop again afterwards, since buffers made available just
 * before may not have been notified. Suppression is a hint; the driver may
 * still notify. */
void virtq_set_notifications(struct virtq *vq, bool enable);

/* Back to the state after device reset: everything but `mem` is cleared;
 * the transport sets size, addresses and features again. */
void virtq_reset(struct virtq *vq);

/* virtio's vring_need_event(): whether moving an index from old to new_idx
 * crossed event_idx (all modulo 2^16). */
static inline bool virtq_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event_idx - 1) < (uint16_t)(new_idx - old);
}

#endif
