#include "drivers/virtio_console.h"

#include "kernel/dma.h"
#include "kernel/idle.h"
#include "lib/ring.h"
#include "lib/string.h"

#define RX_QUEUE 0
#define TX_QUEUE 1
#define QUEUE_SIZE 16
#define RX_BUFFERS 4
#define RX_BUFFER_SIZE 256

static struct {
	struct virtio_dev *dev;
	struct virtq rx, tx;
	uint8_t *rx_buffers; /* RX_BUFFERS * RX_BUFFER_SIZE */
	uint8_t *tx_buffer;  /* VCON_MAX_WRITE */
	struct ring received;
	unsigned rx_count;
} vcon;

static bool post_rx(unsigned i)
{
	struct virtq_buf b = {vcon.rx_buffers + (size_t)i * RX_BUFFER_SIZE, RX_BUFFER_SIZE, true};

	return virtq_add(&vcon.rx, &b, 1, (void *)(uintptr_t)(i + 1));
}

void vcon_poll(void)
{
	void *token;
	uint32_t len;
	unsigned reposted = 0;

	if (!vcon.dev || !virtio_check(vcon.dev))
		return;
	for (unsigned n = 0; n < RX_BUFFERS * 2 && (token = virtq_get_used(&vcon.rx, &len)); n++) {
		uintptr_t i = (uintptr_t)token - 1;
		if (i >= vcon.rx_count)
			continue;
		const uint8_t *buf = vcon.rx_buffers + i * RX_BUFFER_SIZE;
		for (uint32_t k = 0; k < len; k++) {
			uint8_t dropped;
			if (!ring_put(&vcon.received, buf[k])) {
				ring_get(&vcon.received, &dropped); /* keep the newest */
				ring_put(&vcon.received, buf[k]);
			}
		}
		if (post_rx((unsigned)i))
			reposted++;
	}
	if (vcon.rx.broken)
		virtio_queue_broken(vcon.dev, &vcon.rx);
	else if (reposted)
		virtio_kick(vcon.dev, &vcon.rx);
}

static bool vcon_probe(struct virtio_dev *dev)
{
	vcon.dev = dev;
	if (!virtio_start(dev, VIRTIO_FEATURE(VIRTIO_F_EVENT_IDX), 2))
		return false;
	vcon.rx_buffers = dma_alloc(RX_BUFFERS * RX_BUFFER_SIZE, 64);
	vcon.tx_buffer = dma_alloc(VCON_MAX_WRITE, 64);
	if (!vcon.rx_buffers || !vcon.tx_buffer) {
		virtio_fail(dev, "out of memory");
		return false;
	}
	if (!virtio_setup_queue(dev, &vcon.rx, RX_QUEUE, QUEUE_SIZE, 0) ||
	    !virtio_setup_queue(dev, &vcon.tx, TX_QUEUE, QUEUE_SIZE, 0))
		return false;
	vcon.rx_count = vcon.rx.size < RX_BUFFERS ? vcon.rx.size : RX_BUFFERS;
	for (unsigned i = 0; i < vcon.rx_count; i++)
		post_rx(i);
	if (!virtio_driver_ok(dev))
		return false;
	virtio_kick(dev, &vcon.rx);
	idle_register(vcon_poll);
	return true;
}

const struct virtio_driver virtio_console_driver = {VIRTIO_ID_CONSOLE, "vcon", vcon_probe};

struct virtio_dev *vcon_device(void)
{
	return vcon.dev;
}

long vcon_write(const void *data, size_t len)
{
	uint32_t written;

	if (!vcon.dev || len > VCON_MAX_WRITE || !virtio_check(vcon.dev))
		return -1;
	memcpy(vcon.tx_buffer, data, len);
	struct virtq_buf b = {vcon.tx_buffer, (uint32_t)len, false};
	if (!virtq_add(&vcon.tx, &b, 1, vcon.tx_buffer))
		return -1;
	virtio_kick(vcon.dev, &vcon.tx);
	if (!virtio_wait_used(vcon.dev, &vcon.tx, VIRTIO_REQUEST_TIMEOUT_NS))
		return -1;
	if (!virtq_get_used(&vcon.tx, &written)) {
		virtio_queue_broken(vcon.dev, &vcon.tx);
		return -1;
	}
	return (long)len;
}

size_t vcon_receive(void *buf, size_t max)
{
	size_t n = 0;
	uint8_t *out = buf;

	vcon_poll();
	while (n < max && ring_get(&vcon.received, &out[n]))
		n++;
	return n;
}
