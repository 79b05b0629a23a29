/* virtio-console, port 0 only (no MULTIPORT): receive queue 0 carries host
 * input to the guest, transmit queue 1 guest output to the host. Both
 * directions are flow-controlled, so nothing is lost: output waits in the
 * guest's buffers while the host end is full, input waits on the host
 * while the guest has no buffers. */
#ifndef SKIFF_DEVICES_VIRTIO_CONSOLE_H
#define SKIFF_DEVICES_VIRTIO_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/virtio_pci.h"

#define VIRTIO_CONSOLE_RX_QUEUE 0
#define VIRTIO_CONSOLE_TX_QUEUE 1
#define VIRTIO_CONSOLE_QUEUE_SIZE 128

/* The host end (the VMM's console). */
struct virtio_console_host {
	/* Guest output: takes up to len bytes and returns how many. When it
	 * takes fewer, the host calls virtio_console_output_space() once it
	 * has room again. Called on the I/O thread with the device locked. */
	size_t (*write)(void *ctx, const uint8_t *data, size_t len);
	/* The driver gave receive buffers: host input can be pushed again. */
	void (*rx_space)(void *ctx);
	void *ctx;
};

struct virtio_console {
	struct virtio_pci vp;
	struct virtio_console_host host;
	/* A transmit chain the host could not take whole: tx_taken of its
	 * bytes went out, the rest waits for virtio_console_output_space().
	 * Dropped on reset. */
	bool tx_held;
	uint64_t tx_taken;
	struct virtq_chain tx_chain;
	struct virtq_chain rx_chain;
	uint64_t bytes_out, bytes_in;
};

extern const struct virtio_device_ops virtio_console_ops;

int virtio_console_init(struct virtio_console *vc, const struct guest_mem *mem,
			struct msi_controller msi, struct irq_line intx,
			struct virtio_console_host host);
void virtio_console_exit(struct virtio_console *vc);

/* Host input: copies up to len bytes into the driver's receive buffers and
 * returns how many it took (0 while the driver has none, or the device is
 * not live). The rest is the caller's to keep until host.rx_space. Any
 * thread. */
size_t virtio_console_push_input(struct virtio_console *vc, const uint8_t *data, size_t len);

/* The host end has room again after a short write: the transmit queue
 * carries on (on the I/O thread). Any thread. */
void virtio_console_output_space(struct virtio_console *vc);

#endif
