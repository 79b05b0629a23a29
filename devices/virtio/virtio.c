#include "devices/virtio/virtio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VIRTIO_NO_VECTOR 0xffff

/* What every Skiff virtio device offers on top of its own features. */
#define VIRTIO_TRANSPORT_FEATURES (VIRTIO_F_VERSION_1 | VIRTIO_F_EVENT_IDX | VIRTIO_F_INDIRECT_DESC)

void virtio_device_init(struct virtio_device *vdev, const struct virtio_device_ops *ops,
			void *backend, const struct guest_mem *mem)
{
	memset(vdev, 0, sizeof(*vdev));
	vdev->ops = ops;
	vdev->backend = backend;
	vdev->mem = mem;
	vdev->host_features = ops->features | VIRTIO_TRANSPORT_FEATURES;
	pthread_mutex_init(&vdev->lock, NULL);
	virtio_device_reset(vdev);
}

void virtio_device_exit(struct virtio_device *vdev)
{
	free(vdev->held);
	vdev->held = NULL;
	pthread_mutex_destroy(&vdev->lock);
}

bool virtio_has_feature(const struct virtio_device *vdev, uint64_t feature)
{
	return (vdev->driver_features & feature) == feature;
}

/* Polling of queue q ends. The store is atomic because virtio_queue_poll
 * looks before it takes the lock. Lock held. */
static void virtio_poll_stop(struct virtio_device *vdev, unsigned q)
{
	__atomic_store_n(&vdev->poll_found_ns[q], 0, __ATOMIC_RELAXED);
}

/* Everything a reset clears but the status: the device takes no more
 * chains, and completions of the ones in flight are dropped. */
static void virtio_device_stop(struct virtio_device *vdev)
{
	if (vdev->ops->reset && vdev->status)
		vdev->ops->reset(vdev);
	vdev->generation++;
	vdev->nr_held = 0; /* from before the reset: dropped */
	vdev->driver_features = 0;
	vdev->error_logged = false;
	vdev->config_vector = VIRTIO_NO_VECTOR;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		virtq_reset(&vdev->vqs[q]);
		vdev->vqs[q].mem = vdev->mem;
		vdev->vqs[q].size = vdev->ops->queue_max_size;
		vdev->queue_vector[q] = VIRTIO_NO_VECTOR;
		virtio_poll_stop(vdev, q);
	}
}

/* Virtio 1.x 2.4 and 4.1.4.3: the driver reads the status until it is 0
 * before it starts over and reuses the memory it gave the device. A chain
 * in flight may still have the host kernel writing into its buffers (a
 * readv), so the status reads 0 only once the last one completed
 * (virtio_queue_complete); the vCPU thread never waits for that. */
void virtio_device_reset(struct virtio_device *vdev)
{
	if (vdev->resetting)
		return;
	virtio_device_stop(vdev);
	if (vdev->in_flight)
		vdev->resetting = true;
	else
		vdev->status = 0;
}

bool virtio_device_resetting(const struct virtio_device *vdev)
{
	return vdev->resetting;
}

bool virtio_device_broken(const struct virtio_device *vdev)
{
	return vdev->status & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED);
}

void virtio_device_error(struct virtio_device *vdev, const char *why)
{
	if (!vdev->error_logged)
		fprintf(stderr, "skiff: %s: %s; device needs reset\n", vdev->ops->name, why);
	vdev->error_logged = true;
	if (vdev->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	vdev->status |= VIRTIO_STATUS_NEEDS_RESET;
	vdev->config_generation++;
	if (vdev->status & VIRTIO_STATUS_DRIVER_OK)
		vdev->transport->interrupt(vdev, vdev->config_vector, true);
}

/* FEATURES_OK sticks only when the driver took VERSION_1, nothing we did
 * not offer, and a set the device can work with; the driver reads the
 * status back to find out. */
static bool virtio_features_acceptable(const struct virtio_device *vdev)
{
	return (vdev->driver_features & ~vdev->host_features) == 0 &&
	       (vdev->driver_features & VIRTIO_F_VERSION_1) &&
	       (!vdev->ops->features_ok || vdev->ops->features_ok(vdev));
}

static void virtio_device_go_live(struct virtio_device *vdev)
{
	for (unsigned q = 0; q < vdev->ops->num_queues; q++) {
		struct virtq *vq = &vdev->vqs[q];
		vq->event_idx = virtio_has_feature(vdev, VIRTIO_F_EVENT_IDX);
		vq->indirect = virtio_has_feature(vdev, VIRTIO_F_INDIRECT_DESC);
	}
	if (vdev->ops->activate && vdev->ops->activate(vdev))
		virtio_device_error(vdev, "activation failed");
}

void virtio_device_set_status(struct virtio_device *vdev, uint8_t status)
{
	uint8_t old = vdev->status;

	if (status == 0) {
		virtio_device_reset(vdev);
		return;
	}
	/* No starting over before the reset is done (4.1.4.3.2). */
	if (vdev->resetting)
		return;
	if ((status & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK) &&
	    !virtio_features_acceptable(vdev))
		status &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	/* The device owns NEEDS_RESET; the driver cannot clear it. */
	vdev->status = (uint8_t)(status | (old & VIRTIO_STATUS_NEEDS_RESET));
	if ((status & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK))
		virtio_device_go_live(vdev);
}

void virtio_device_enable_queue(struct virtio_device *vdev, unsigned q)
{
	struct virtq *vq = &vdev->vqs[q];

	vq->event_idx = virtio_has_feature(vdev, VIRTIO_F_EVENT_IDX);
	vq->indirect = virtio_has_feature(vdev, VIRTIO_F_INDIRECT_DESC);
	if (virtq_activate(vq))
		virtio_device_error(vdev, vq->error);
}

void virtio_queue_notify_driver(struct virtio_device *vdev, unsigned q)
{
	if (virtq_needs_interrupt(&vdev->vqs[q]))
		vdev->transport->interrupt(vdev, vdev->queue_vector[q], false);
}

bool virtio_queue_live(const struct virtio_device *vdev, unsigned q)
{
	return (vdev->status & VIRTIO_STATUS_DRIVER_OK) && !virtio_device_broken(vdev) &&
	       !vdev->dma_off && q < vdev->ops->num_queues && vdev->vqs[q].ready;
}

void virtio_device_kick(struct virtio_device *vdev, unsigned q)
{
	pthread_mutex_lock(&vdev->lock);
	if (virtio_queue_live(vdev, q))
		vdev->ops->queue_notify(vdev, q);
	pthread_mutex_unlock(&vdev->lock);
}

static void virtio_completion_post(struct virtio_device *vdev,
				   const struct virtio_held_completion *c)
{
	if (c->result)
		c->result(c->ctx);
	if (virtq_push(&vdev->vqs[c->q], c->head, c->written) == 0)
		virtio_queue_notify_driver(vdev, c->q);
}

/* Keeps a completion until the device may reach guest memory again. The
 * array grows to the chains in flight at most. Lock held. */
static void virtio_completion_hold(struct virtio_device *vdev,
				   const struct virtio_held_completion *c)
{
	if (vdev->nr_held == vdev->held_cap) {
		unsigned cap = vdev->held_cap ? 2 * vdev->held_cap : 16;
		struct virtio_held_completion *grown = realloc(vdev->held, cap * sizeof(*grown));
		if (!grown) {
			fprintf(stderr, "skiff: %s: out of memory holding a completion; dropped\n",
				vdev->ops->name);
			return;
		}
		vdev->held = grown;
		vdev->held_cap = cap;
	}
	vdev->held[vdev->nr_held++] = *c;
}

void virtio_device_set_dma(struct virtio_device *vdev, bool allowed)
{
	if (vdev->dma_off == !allowed)
		return;
	vdev->dma_off = !allowed;
	if (!allowed)
		return;
	for (unsigned i = 0; i < vdev->nr_held; i++)
		virtio_completion_post(vdev, &vdev->held[i]);
	vdev->nr_held = 0;
	/* Kicks that came meanwhile were not acted on, and frames or input
	 * may be waiting for the device: every live queue is looked at
	 * again, on the I/O thread. */
	for (unsigned q = 0; q < vdev->ops->num_queues && vdev->transport->kick; q++)
		if (virtio_queue_live(vdev, q))
			vdev->transport->kick(vdev, q);
}

/* Chains one drain may handle before yielding to the other devices. */
#define VIRTIO_DRAIN_BUDGET_FACTOR 2

/* Pops and handles chains until the queue is empty or the budget is gone.
 * Returns 1 when it stopped on an empty queue, 0 on budget, -1 broken. */
static int virtio_queue_drain_some(struct virtio_device *vdev, struct virtq *vq, virtio_chain_fn fn,
				   unsigned *budget)
{
	struct virtq_chain chain;
	int rc = 0;

	while (*budget && (rc = virtq_pop(vq, &chain)) == 1) {
		(*budget)--;
		int64_t written = fn(vdev, &chain);
		if (written == VIRTIO_CHAIN_PENDING) {
			vdev->in_flight++;
			continue;
		}
		if (written < 0) {
			virtio_device_error(vdev, "malformed request");
			return -1;
		}
		virtq_push(vq, chain.head, (uint32_t)written);
	}
	if (*budget == 0)
		return 0;
	if (rc < 0)
		virtio_device_error(vdev, vq->error);
	return rc < 0 ? -1 : 1;
}

/* Whether the driver made buffers available that we have not popped. */
static bool virtio_queue_has_available(const struct virtq *vq)
{
	return vq->ready && !vq->error &&
	       __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE) != vq->last_avail_idx;
}

uint64_t virtio_clock_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* After a drain emptied queue q: whether its notifications stay off and
 * the I/O thread watches the ring instead. A drain that found chains
 * starts the window again; one that found none keeps it until it ends. */
static bool virtio_queue_keep_polling(struct virtio_device *vdev, unsigned q, bool found)
{
	uint64_t now;

	if (!vdev->poll_window_us || !(vdev->ops->polled_queues & (1u << q)))
		return false;
	now = virtio_clock_ns();
	if (found)
		__atomic_store_n(&vdev->poll_found_ns[q], now, __ATOMIC_RELAXED);
	if (vdev->poll_found_ns[q] && now - vdev->poll_found_ns[q] < vdev->poll_window_us * 1000ull)
		return true;
	virtio_poll_stop(vdev, q);
	return false;
}

void virtio_queue_drain(struct virtio_device *vdev, unsigned q, virtio_chain_fn fn)
{
	struct virtq *vq = &vdev->vqs[q];
	const unsigned full_budget = (unsigned)vq->size * VIRTIO_DRAIN_BUDGET_FACTOR;
	unsigned budget = full_budget;
	int rc;

	do {
		virtq_set_notifications(vq, false);
		rc = virtio_queue_drain_some(vdev, vq, fn, &budget);
		if (rc != 1 || virtio_queue_keep_polling(vdev, q, budget != full_budget))
			break;
		/* Re-enable, then look again: a buffer made available just
		 * before the re-enable would otherwise wait for the next kick. */
		virtq_set_notifications(vq, true);
	} while (virtio_queue_has_available(vq));
	if (rc >= 0)
		virtio_queue_notify_driver(vdev, q);
	if (rc == 0 && vdev->transport->kick)
		vdev->transport->kick(vdev, q);
}

static int virtio_poll_nap_us(const struct virtio_device *vdev, unsigned q)
{
	return vdev->ops->poll_nap_us ? (int)vdev->ops->poll_nap_us(vdev, q) : VIRTIO_POLL_NAP_US;
}

int virtio_queue_poll(struct virtio_device *vdev, unsigned q)
{
	int want = IOLOOP_POLL_IDLE;

	/* Polling starts only here, on the I/O thread (drains run on it): a
	 * queue not polled now stays so without the lock. A reset that stops
	 * it meanwhile is seen under the lock. */
	if (!__atomic_load_n(&vdev->poll_found_ns[q], __ATOMIC_RELAXED))
		return IOLOOP_POLL_IDLE;
	pthread_mutex_lock(&vdev->lock);
	if (vdev->poll_found_ns[q] && !virtio_queue_live(vdev, q))
		virtio_poll_stop(vdev, q); /* the kick that revives the queue drains it */
	if (vdev->poll_found_ns[q]) {
		/* With nothing new this ends the window once it has passed. */
		vdev->ops->queue_notify(vdev, q);
	}
	if (vdev->poll_found_ns[q]) {
		uint64_t since = virtio_clock_ns() - vdev->poll_found_ns[q];
		want = since < VIRTIO_POLL_SPIN_US * 1000ull ? IOLOOP_POLL_SPIN
							     : virtio_poll_nap_us(vdev, q);
	}
	pthread_mutex_unlock(&vdev->lock);
	return want;
}

/* One chain in flight fewer; the last one completes a waiting reset. */
static void virtio_chain_landed(struct virtio_device *vdev)
{
	if (vdev->in_flight)
		vdev->in_flight--;
	if (vdev->resetting && vdev->in_flight == 0) {
		vdev->resetting = false;
		vdev->status = 0;
	}
}

void virtio_queue_complete(struct virtio_device *vdev, unsigned q, uint32_t generation,
			   uint16_t head, uint32_t written, virtio_result_fn result, void *ctx)
{
	struct virtio_held_completion c = {result, ctx, written, head, (uint16_t)q};

	pthread_mutex_lock(&vdev->lock);
	if (generation == vdev->generation && q < vdev->ops->num_queues) {
		if (vdev->dma_off)
			virtio_completion_hold(vdev, &c);
		else
			virtio_completion_post(vdev, &c);
	}
	virtio_chain_landed(vdev);
	pthread_mutex_unlock(&vdev->lock);
}
