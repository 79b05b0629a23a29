/* The driver side of a virtio 1.x split virtqueue: the descriptor table,
 * the available ring the driver fills and the used ring the device fills.
 * Optional indirect descriptor tables and VIRTIO_F_EVENT_IDX notification
 * suppression. The transport (virtio_pci.c) does the notifying. Everything
 * the device writes is checked: a bad used element marks the queue broken
 * instead of being trusted. */
#ifndef GUEST_DRIVERS_VIRTQUEUE_H
#define GUEST_DRIVERS_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>

#define VIRTQ_MAX_SIZE 256 /* we never use more entries than this */

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

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

/* One buffer of a request: device-readable, or device-writable. */
struct virtq_buf {
	const volatile void *addr;
	uint32_t len;
	bool device_writes;
};

struct virtq {
	uint16_t index; /* the queue's number in the device */
	uint16_t size;	/* a power of two, at most VIRTQ_MAX_SIZE */
	volatile struct virtq_desc *desc;
	volatile struct virtq_avail *avail;
	volatile struct virtq_used *used;
	volatile uint16_t *used_event;	/* after avail->ring */
	volatile uint16_t *avail_event; /* after used->ring */
	bool event_idx;
	bool polled; /* no interrupt vector: ask the device for no interrupts */

	uint16_t free_head, num_free;
	uint16_t avail_idx;	     /* our copy of avail->idx */
	uint16_t kicked_idx;	     /* avail_idx at the last notification decision */
	uint16_t last_used;	     /* next used->ring slot to read */
	uint16_t in_flight;	     /* requests the device holds */
	unsigned max_indirect;	     /* 0: no indirect tables */
	struct virtq_desc *indirect; /* size * max_indirect entries */
	void **tokens;		     /* per head: the caller's cookie, NULL when free */
	uint16_t *chain;	     /* per head: descriptors the chain holds */
	uint32_t *writable;	     /* per head: device-writable bytes posted */

	const char *broken;  /* why the device's use of the ring is not trusted */
	uint16_t msix_entry; /* 0xffff: none (polled) */
	uint64_t added, completed, notifications;
};

/* Allocates the rings (and max_indirect-entry indirect tables per head if
 * max_indirect > 1) for a queue of size entries. false when out of memory
 * or size is not a power of two in 1..VIRTQ_MAX_SIZE. */
bool virtq_init(struct virtq *vq, uint16_t index, uint16_t size, unsigned max_indirect,
		bool event_idx);
/* Asks the device for interrupts (or for none, when polled). */
void virtq_set_polled(struct virtq *vq, bool polled);

/* Publishes one request of n buffers (readable ones first) with token as
 * its cookie (not NULL). Uses an indirect table when the queue has them and
 * n > 1. false when the ring is full, n is 0 or too large, or the queue is
 * broken. */
bool virtq_add(struct virtq *vq, const struct virtq_buf *bufs, unsigned n, void *token);
/* For testing devices only: publishes one descriptor with NEXT set and
 * next = size (out of range), which a device must refuse. false when the
 * ring is full or broken. */
bool virtq_add_malformed(struct virtq *vq);
/* After one or more virtq_add: whether the device wants a notification
 * (VIRTQ_USED_F_NO_NOTIFY, or avail_event with EVENT_IDX). */
bool virtq_kick_prepare(struct virtq *vq);
/* Whether the device has returned something we have not taken. */
bool virtq_has_used(struct virtq *vq);
/* Takes the next returned request: its token, and in *len the bytes the
 * device wrote. NULL when there is none or the element is invalid (then
 * vq->broken says why). */
void *virtq_get_used(struct virtq *vq, uint32_t *len);
/* Requests in flight. */
static inline unsigned virtq_in_flight(const struct virtq *vq)
{
	return vq->in_flight;
}

#endif
