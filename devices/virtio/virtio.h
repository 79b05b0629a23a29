/* The transport-independent face of a virtio 1.x device: what a back-end
 * (virtio-rng, virtio-blk, ...) implements and what it may call. */
#ifndef SKIFF_DEVICES_VIRTIO_H
#define SKIFF_DEVICES_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/virtqueue.h"
#include "mm/guest_mem.h"
#include "vmm/ioloop.h"

#define VIRTIO_MAX_QUEUES 8

#define VIRTIO_F_INDIRECT_DESC (1ULL << 28)
#define VIRTIO_F_EVENT_IDX (1ULL << 29)
#define VIRTIO_F_VERSION_1 (1ULL << 32)

#define VIRTIO_STATUS_ACKNOWLEDGE 0x01
#define VIRTIO_STATUS_DRIVER 0x02
#define VIRTIO_STATUS_DRIVER_OK 0x04
#define VIRTIO_STATUS_FEATURES_OK 0x08
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4

struct virtio_device;

struct virtio_device_ops {
	const char *name;
	uint16_t device_id;
	uint32_t pci_class; /* class code for the PCI function */
	unsigned num_queues;
	uint16_t queue_max_size;
	uint64_t features; /* device-specific; the transport adds its own */
	size_t config_size;
	/* Whether the driver's features hang together by the device's own
	 * rules (one feature requiring another); false refuses FEATURES_OK.
	 * Optional. */
	bool (*features_ok)(const struct virtio_device *vdev);
	/* Device config space; off+len lies inside config_size. */
	void (*read_config)(struct virtio_device *vdev, unsigned off, uint8_t *data, unsigned len);
	void (*write_config)(struct virtio_device *vdev, unsigned off, const uint8_t *data,
			     unsigned len);
	/* The driver set DRIVER_OK; queues marked ready are activated. */
	int (*activate)(struct virtio_device *vdev);
	void (*reset)(struct virtio_device *vdev);
	/* The driver kicked queue q; runs on the I/O thread. */
	void (*queue_notify)(struct virtio_device *vdev, unsigned q);
	/* Bit q set: queue q carries requests the driver makes in bursts
	 * (transmit, block), so after a drain the I/O thread may watch its
	 * ring for a while instead of waiting for the next kick (see
	 * virtio_queue_poll). Not for queues the device fills from elsewhere,
	 * like receive queues. */
	uint32_t polled_queues;
	/* How long the I/O thread sleeps between looks at polled queue q
	 * once its first VIRTIO_POLL_SPIN_US have passed. Optional:
	 * VIRTIO_POLL_NAP_US. A chain made available during a nap waits for
	 * its end, which a driver waiting on each request (a disk at queue
	 * depth 1, a request/response protocol) feels whole; each nap is a
	 * timer firing on a host CPU, perhaps the vCPU's, which a driver
	 * filling the queue ahead of us (a streaming transmit) feels more.
	 * Lock held. */
	unsigned (*poll_nap_us)(const struct virtio_device *vdev, unsigned q);
};

/* Writes the result of a chain's asynchronous work into the chain (a
 * status byte). */
typedef void (*virtio_result_fn)(void *ctx);

/* A completion of asynchronous work that landed while the device was
 * kept from guest memory: posted once it may reach it again. */
struct virtio_held_completion {
	virtio_result_fn result;
	void *ctx;
	uint32_t written;
	uint16_t head;
	uint16_t q;
};

struct virtio_transport_ops {
	void (*interrupt)(struct virtio_device *vdev, uint16_t vector, bool config);
	void (*kick)(struct virtio_device *vdev, unsigned q); /* run queue_notify again */
};

struct virtio_device {
	const struct virtio_device_ops *ops;
	void *backend; /* the device's own state */
	const struct guest_mem *mem;
	pthread_mutex_t lock; /* config changes vs. queue processing */

	uint64_t host_features;
	uint64_t driver_features;
	uint8_t status;
	uint8_t config_generation;
	struct virtq vqs[VIRTIO_MAX_QUEUES];
	uint16_t queue_vector[VIRTIO_MAX_QUEUES];
	uint16_t config_vector;
	bool error_logged;
	uint32_t generation; /* counts resets */
	/* Chains handed to asynchronous work (VIRTIO_CHAIN_PENDING) and not
	 * yet given back with virtio_queue_complete(). */
	unsigned in_flight;
	/* The driver wrote 0 to the status while chains were in flight: the
	 * device is stopped, but the status keeps its old, non-zero value
	 * until the last of them completed (see virtio_device_reset). */
	bool resetting;
	/* The transport keeps the device from guest memory (PCI: bus
	 * mastering off): no queue is processed and completions are held,
	 * at most one per chain in flight (see virtio_device_set_dma). */
	bool dma_off;
	struct virtio_held_completion *held;
	unsigned nr_held, held_cap;
	/* How long the I/O thread watches a polled queue's ring after the
	 * last chain it found there; 0: never, kicks only. */
	uint32_t poll_window_us;
	/* Per queue, when a drain last found a chain while polling (CLOCK_
	 * MONOTONIC, ns); 0 while the queue waits for kicks. */
	uint64_t poll_found_ns[VIRTIO_MAX_QUEUES];

	const struct virtio_transport_ops *transport;
	void *transport_ctx;
};

void virtio_device_init(struct virtio_device *vdev, const struct virtio_device_ops *ops,
			void *backend, const struct guest_mem *mem);
void virtio_device_exit(struct virtio_device *vdev);
bool virtio_has_feature(const struct virtio_device *vdev, uint64_t feature);

/* After pushing used buffers on queue q: interrupts the driver unless it
 * asked not to be (VRING_AVAIL_F_NO_INTERRUPT / used_event). */
void virtio_queue_notify_driver(struct virtio_device *vdev, unsigned q);

/* Handles one popped chain; returns the bytes written into its
 * device-writable buffers, or -1 when the chain breaks the device's own
 * rules (direction, minimum size), which marks the device broken. */
typedef int64_t (*virtio_chain_fn)(struct virtio_device *vdev, struct virtq_chain *chain);

/* Returned by a virtio_chain_fn that started asynchronous work: the device
 * gives the chain back later with virtio_queue_complete(), exactly once,
 * and only once that work no longer touches guest memory. */
#define VIRTIO_CHAIN_PENDING (-2)

/* The usual kick handler body: pops every available chain of queue q,
 * hands each to fn, pushes it back, re-enables notifications and checks
 * once more for buffers that raced with that, then interrupts the driver
 * if it wants to be. Work per call is bounded; if more remains the queue
 * is kicked again rather than starving the other devices. Lock held. */
void virtio_queue_drain(struct virtio_device *vdev, unsigned q, virtio_chain_fn fn);

/* Gives back a chain whose work finished asynchronously: result(ctx)
 * writes its result, the chain goes on the used ring and the driver is
 * interrupted if it wants to be. generation is vdev->generation when the
 * chain was popped: a chain from before a device reset is dropped, and
 * result is not called, so nothing reaches guest memory for it. While
 * the device is kept from guest memory (dma_off) all of that waits until
 * it may reach it again; ctx must stay valid until then, or until a
 * reset drops it. The last chain in flight completes a pending reset.
 * Takes the device lock. */
void virtio_queue_complete(struct virtio_device *vdev, unsigned q, uint32_t generation,
			   uint16_t head, uint32_t written, virtio_result_fn result, void *ctx);

/* The guest broke the rules: log why (once), set DEVICE_NEEDS_RESET and
 * tell the driver with a config interrupt. The device stops processing
 * until the driver resets it; the VMM and other devices carry on. */
void virtio_device_error(struct virtio_device *vdev, const char *why);
bool virtio_device_broken(const struct virtio_device *vdev);

/* Transport side: status writes, resets, queue enables. Lock held.
 * A reset stops the device and returns it to its initial state; with
 * chains in flight it completes later, when the last one does, and until
 * then the status reads non-zero and takes no other value. */
void virtio_device_reset(struct virtio_device *vdev);
/* Whether a reset waits for chains in flight: the transport then takes
 * no register writes from the driver. */
bool virtio_device_resetting(const struct virtio_device *vdev);
void virtio_device_set_status(struct virtio_device *vdev, uint8_t status);
void virtio_device_enable_queue(struct virtio_device *vdev, unsigned q);
/* The I/O thread's entry for a kick. */
void virtio_device_kick(struct virtio_device *vdev, unsigned q);

/* Polling (ops->polled_queues, poll_window_us): after a drain that found
 * chains, queue q's notifications stay off (the driver does not kick)
 * and the I/O thread calls this after each of its passes. It drains what
 * the driver made available meanwhile; once a window passes with nothing
 * new it turns notifications on again, looks once more, and the queue
 * goes back to waiting for kicks. The answer tells the loop how soon to
 * look again (ioloop_poll_fn): at once in the first VIRTIO_POLL_SPIN_US
 * after the last chain, then after each of its naps (ops->poll_nap_us).
 * Takes the device lock. */
#define VIRTIO_POLL_SPIN_US 20
#define VIRTIO_POLL_NAP_US 50
int virtio_queue_poll(struct virtio_device *vdev, unsigned q);

/* CLOCK_MONOTONIC in ns: the clock of poll_found_ns. */
uint64_t virtio_clock_ns(void);

/* Whether queue q may be processed now: the driver is live (DRIVER_OK,
 * not broken), the queue enabled, guest memory reachable. Lock held. */
bool virtio_queue_live(const struct virtio_device *vdev, unsigned q);

/* Transport side, lock held: whether the device may reach guest memory
 * (PCI: bus mastering). While it may not, kicks are not acted on, no
 * chain is popped, pushed or written, and completions of chains in
 * flight are held; the host kernel may still finish I/O it started into
 * guest buffers before. When it may again, the held completions are
 * posted (interrupting the driver as usual) and every live queue is
 * kicked on the I/O thread, so work that arrived meanwhile is done. */
void virtio_device_set_dma(struct virtio_device *vdev, bool allowed);

#endif
