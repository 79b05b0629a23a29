#include "devices/virtio/virtio_console.h"

#include <string.h>

#define PCI_CLASS_COMMUNICATION_OTHER 0x078000 /* as QEMU's virtio-serial */

/* Hands the held chain's bytes from tx_taken on to the host; true when it
 * took them all. */
static bool vcon_tx_send(struct virtio_console *vc)
{
	struct virtq_chain *chain = &vc->tx_chain;
	struct virtq_buf *out = virtq_chain_out(chain);
	uint64_t skip = vc->tx_taken;

	for (unsigned i = 0; i < chain->nr_out; i++) {
		if (skip >= out[i].len) {
			skip -= out[i].len;
			continue;
		}
		size_t want = out[i].len - skip;
		size_t took = vc->host.write(vc->host.ctx, (uint8_t *)out[i].hva + skip, want);
		vc->tx_taken += took;
		vc->bytes_out += took;
		if (took < want)
			return false;
		skip = 0;
	}
	return true;
}

/* Takes the next transmit chain: 1, 0 when none is available, -1 broken. */
static int vcon_tx_take(struct virtio_console *vc)
{
	struct virtio_device *vdev = &vc->vp.vdev;
	struct virtq *vq = &vdev->vqs[VIRTIO_CONSOLE_TX_QUEUE];
	int rc = virtq_pop(vq, &vc->tx_chain);

	if (rc < 0)
		virtio_device_error(vdev, vq->error);
	if (rc <= 0)
		return rc;
	if (vc->tx_chain.nr_in) {
		virtio_device_error(vdev, "transmit buffer is device-writable");
		return -1;
	}
	vc->tx_held = true;
	vc->tx_taken = 0;
	return 1;
}

/* Moves guest output to the host until the queue is empty or the host is
 * full; in the latter case the chain stays held and the host's
 * output_space call brings us back. Bounded per call. Lock held. */
static void vcon_tx(struct virtio_device *vdev)
{
	struct virtio_console *vc = vdev->backend;
	struct virtq *vq = &vdev->vqs[VIRTIO_CONSOLE_TX_QUEUE];
	unsigned budget = 2u * vq->size;
	bool pushed = false;

	while (budget) {
		budget--;
		if (!vc->tx_held && vcon_tx_take(vc) <= 0)
			break;
		if (!vcon_tx_send(vc))
			break;
		virtq_push(vq, vc->tx_chain.head, 0);
		vc->tx_held = false;
		pushed = true;
	}
	if (pushed)
		virtio_queue_notify_driver(vdev, VIRTIO_CONSOLE_TX_QUEUE);
	/* Out of budget, maybe not of chains: come back after the others. */
	if (!budget && vdev->transport->kick)
		vdev->transport->kick(vdev, VIRTIO_CONSOLE_TX_QUEUE);
}

static void vcon_queue_notify(struct virtio_device *vdev, unsigned q)
{
	struct virtio_console *vc = vdev->backend;

	if (q == VIRTIO_CONSOLE_TX_QUEUE)
		vcon_tx(vdev);
	else
		vc->host.rx_space(vc->host.ctx); /* new receive buffers */
}

/* Input the host kept while the driver was not ready may go in now: the
 * driver may have posted buffers (and kicked) before DRIVER_OK. */
static int vcon_activate(struct virtio_device *vdev)
{
	struct virtio_console *vc = vdev->backend;

	vc->host.rx_space(vc->host.ctx);
	return 0;
}

static void vcon_reset(struct virtio_device *vdev)
{
	struct virtio_console *vc = vdev->backend;

	vc->tx_held = false;
}

const struct virtio_device_ops virtio_console_ops = {
	.name = "virtio-console",
	.device_id = VIRTIO_ID_CONSOLE,
	.pci_class = PCI_CLASS_COMMUNICATION_OTHER,
	.num_queues = 2,
	.queue_max_size = VIRTIO_CONSOLE_QUEUE_SIZE,
	.activate = vcon_activate,
	.reset = vcon_reset,
	.queue_notify = vcon_queue_notify,
};

/* Copies up to len bytes into one popped receive chain; returns how many. */
static size_t vcon_rx_fill(struct virtq_chain *chain, const uint8_t *data, size_t len)
{
	struct virtq_buf *in = virtq_chain_in(chain);
	size_t done = 0;

	for (unsigned i = 0; i < chain->nr_in && done < len; i++) {
		size_t n = in[i].len < len - done ? in[i].len : len - done;
		memcpy(in[i].hva, data + done, n);
		done += n;
	}
	return done;
}

/* Lock held. Returns the bytes taken; -1 when the queue broke. */
static int64_t vcon_rx(struct virtio_console *vc, const uint8_t *data, size_t len)
{
	struct virtio_device *vdev = &vc->vp.vdev;
	struct virtq *vq = &vdev->vqs[VIRTIO_CONSOLE_RX_QUEUE];
	size_t done = 0;
	int rc = 1;

	for (unsigned budget = 2u * vq->size; done < len && budget; budget--) {
		rc = virtq_pop(vq, &vc->rx_chain);
		if (rc <= 0)
			break;
		if (vc->rx_chain.nr_out) {
			virtio_device_error(vdev, "receive buffer is device-readable");
			return -1;
		}
		size_t n = vcon_rx_fill(&vc->rx_chain, data + done, len - done);
		virtq_push(vq, vc->rx_chain.head, (uint32_t)n);
		done += n;
	}
	if (rc < 0)
		virtio_device_error(vdev, vq->error);
	return rc < 0 ? -1 : (int64_t)done;
}

size_t virtio_console_push_input(struct virtio_console *vc, const uint8_t *data, size_t len)
{
	struct virtio_device *vdev = &vc->vp.vdev;
	int64_t done = 0;

	pthread_mutex_lock(&vdev->lock);
	if (virtio_queue_live(vdev, VIRTIO_CONSOLE_RX_QUEUE))
		done = vcon_rx(vc, data, len);
	if (done > 0) {
		vc->bytes_in += (uint64_t)done;
		virtio_queue_notify_driver(vdev, VIRTIO_CONSOLE_RX_QUEUE);
	}
	pthread_mutex_unlock(&vdev->lock);
	return done > 0 ? (size_t)done : 0;
}

void virtio_console_output_space(struct virtio_console *vc)
{
	struct virtio_device *vdev = &vc->vp.vdev;

	/* The kick eventfd: the transmit queue is the I/O thread's. */
	if (vdev->transport->kick)
		vdev->transport->kick(vdev, VIRTIO_CONSOLE_TX_QUEUE);
}

int virtio_console_init(struct virtio_console *vc, const struct guest_mem *mem,
			struct msi_controller msi, struct irq_line intx,
			struct virtio_console_host host)
{
	vc->host = host;
	vc->tx_held = false;
	vc->bytes_out = vc->bytes_in = 0;
	virtio_device_init(&vc->vp.vdev, &virtio_console_ops, vc, mem);
	return virtio_pci_init(&vc->vp, msi, intx);
}

void virtio_console_exit(struct virtio_console *vc)
{
	virtio_pci_exit(&vc->vp);
	virtio_device_exit(&vc->vp.vdev);
}
