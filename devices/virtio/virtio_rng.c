#include "devices/virtio/virtio_rng.h"

#include <errno.h>
#include <sys/random.h>

#define VIRTIO_RNG_QUEUE_SIZE 256
#define PCI_CLASS_OTHER 0x00ff00 /* unclassified, as QEMU reports it */

/* Fills the chain's writable buffers, up to the per-request bound. A
 * request with nothing writable, or with device-readable parts, is not
 * one the driver may make. */
static int64_t rng_fill(struct virtio_device *vdev, struct virtq_chain *chain)
{
	struct virtio_rng *rng = vdev->backend;
	struct virtq_buf *in = virtq_chain_in(chain);
	uint32_t budget = VIRTIO_RNG_MAX_REQUEST;
	int64_t written = 0;

	if (chain->nr_out || !chain->nr_in) {
		virtio_device_error(vdev, "request is not only device-writable buffers");
		return -1;
	}
	for (unsigned i = 0; i < chain->nr_in && budget; i++) {
		uint32_t want = in[i].len < budget ? in[i].len : budget;
		ssize_t got = getrandom(in[i].hva, want, 0);
		if (got <= 0)
			break; /* a short answer is allowed: the driver asks again */
		written += got;
		budget -= (uint32_t)got;
	}
	rng->bytes_served += (uint64_t)written;
	return written;
}

static void rng_queue_notify(struct virtio_device *vdev, unsigned q)
{
	virtio_queue_drain(vdev, q, rng_fill);
}

const struct virtio_device_ops virtio_rng_ops = {
	.name = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.pci_class = PCI_CLASS_OTHER,
	.num_queues = 1,
	.queue_max_size = VIRTIO_RNG_QUEUE_SIZE,
	.queue_notify = rng_queue_notify,
};

int virtio_rng_init(struct virtio_rng *rng, const struct guest_mem *mem, struct msi_controller msi,
		    struct irq_line intx)
{
	rng->bytes_served = 0;
	virtio_device_init(&rng->vp.vdev, &virtio_rng_ops, rng, mem);
	return virtio_pci_init(&rng->vp, msi, intx);
}

void virtio_rng_exit(struct virtio_rng *rng)
{
	virtio_pci_exit(&rng->vp);
	virtio_device_exit(&rng->vp.vdev);
}
