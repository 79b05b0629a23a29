/* virtio-console (device type 3): one device, port 0 only (MULTIPORT is
 * not negotiated): receive queue 0, transmit queue 1. Received bytes are
 * kept (1 KiB, older ones dropped) until vcon_receive takes them. */
#ifndef GUEST_DRIVERS_VIRTIO_CONSOLE_H
#define GUEST_DRIVERS_VIRTIO_CONSOLE_H

#include <stddef.h>

#include "drivers/virtio_pci.h"

#define VCON_MAX_WRITE 512

extern const struct virtio_driver virtio_console_driver;

struct virtio_dev *vcon_device(void);
/* Sends len (<= VCON_MAX_WRITE) bytes and waits until the device has them;
 * returns the bytes the device took, or -1 when it failed. */
long vcon_write(const void *data, size_t len);
/* Copies up to max received bytes into buf; returns how many. */
size_t vcon_receive(void *buf, size_t max);
/* Takes what arrived (from the idle loop). */
void vcon_poll(void);

#endif
