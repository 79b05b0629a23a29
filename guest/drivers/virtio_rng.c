#include "drivers/virtio_rng.h"

#include "kernel/dma.h"
#include "lib/string.h"

#define QUEUE_SIZE 8
#define EMPTY_ANSWERS_MAX 8 /* zero-length answers in a row before giving up */

static struct {
	struct virtio_dev *dev;
	struct virtq vq;
	uint8_t *buf; /* RNG_MAX_BYTES of DMA memory */
} rng;

static bool rng_probe(struct virtio_dev *dev)
{
	rng.dev = dev;
	if (!virtio_start(dev, VIRTIO_FEATURE(VIRTIO_F_EVENT_IDX), 1))
		return false;
	rng.buf = dma_alloc(RNG_MAX_BYTES, 64);
	if (!rng.buf) {
		virtio_fail(dev, "out of memory");
		return false;
	}
	if (!virtio_setup_queue(dev, &rng.vq, 0, QUEUE_SIZE, 0))
		return false;
	return virtio_driver_ok(dev);
}

const struct virtio_driver virtio_rng_driver = {VIRTIO_ID_RNG, "rng", rng_probe};

struct virtio_dev *rng_device(void)
{
	return rng.dev;
}

size_t rng_read(void *out, size_t len)
{
	size_t got = 0;
	unsigned empty = 0;

	if (len > RNG_MAX_BYTES)
		len = RNG_MAX_BYTES;
	while (got < len && rng.dev && virtio_check(rng.dev)) {
		struct virtq_buf b = {rng.buf, (uint32_t)(len - got), true};
		uint32_t n = 0;
		if (!virtq_add(&rng.vq, &b, 1, rng.buf))
			break;
		virtio_kick(rng.dev, &rng.vq);
		if (!virtio_wait_used(rng.dev, &rng.vq, VIRTIO_REQUEST_TIMEOUT_NS))
			break;
		if (!virtq_get_used(&rng.vq, &n)) {
			virtio_queue_broken(rng.dev, &rng.vq);
			break;
		}
		if (!n && ++empty == EMPTY_ANSWERS_MAX)
			break;
		if (n)
			empty = 0;
		memcpy((uint8_t *)out + got, rng.buf, n);
		got += n;
	}
	return got;
}
