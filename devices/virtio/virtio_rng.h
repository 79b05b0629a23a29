/* virtio-rng: an entropy source for the guest, fed from getrandom(2). */
#ifndef SKIFF_DEVICES_VIRTIO_RNG_H
#define SKIFF_DEVICES_VIRTIO_RNG_H

#include <stdint.h>

#include "devices/virtio/virtio_pci.h"

/* Bytes one request may take: bounds the work a guest can ask for. */
#define VIRTIO_RNG_MAX_REQUEST (64u << 10)

struct virtio_rng {
	struct virtio_pci vp;
	uint64_t bytes_served;
};

extern const struct virtio_device_ops virtio_rng_ops;

int virtio_rng_init(struct virtio_rng *rng, const struct guest_mem *mem, struct msi_controller msi,
		    struct irq_line intx);
void virtio_rng_exit(struct virtio_rng *rng);

#endif
