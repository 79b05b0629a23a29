/* virtio-rng (device type 4): one device, request queue 0. */
#ifndef GUEST_DRIVERS_VIRTIO_RNG_H
#define GUEST_DRIVERS_VIRTIO_RNG_H

#include <stddef.h>

#include "drivers/virtio_pci.h"

#define RNG_MAX_BYTES 256

extern const struct virtio_driver virtio_rng_driver;

struct virtio_dev *rng_device(void);
/* Fills buf with len (<= RNG_MAX_BYTES) bytes from the device; returns
 * how many it got before an error (the device stopped, or gave nothing
 * several times running). */
size_t rng_read(void *buf, size_t len);

#endif
