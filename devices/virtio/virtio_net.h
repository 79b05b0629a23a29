/* virtio-net on a host tap device: frames the guest transmits are written
 * to the tap, frames the tap delivers are read straight into the guest's
 * receive buffers. Both directions run on the VM's I/O thread. */
#ifndef SKIFF_DEVICES_VIRTIO_NET_H
#define SKIFF_DEVICES_VIRTIO_NET_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/virtio/virtio_pci.h"

#define VIRTIO_NET_F_MAC (1ULL << 5)
#define VIRTIO_NET_F_STATUS (1ULL << 16)
#define VIRTIO_NET_S_LINK_UP 1

#define VIRTIO_NET_RX_QUEUE 0
#define VIRTIO_NET_TX_QUEUE 1
#define VIRTIO_NET_QUEUE_SIZE 256
#define VIRTIO_NET_MAC_BYTES 6
/* struct virtio_net_hdr_v1: flags, gso_type, hdr_len, gso_size,
 * csum_start, csum_offset, num_buffers. VERSION_1 always has num_buffers. */
#define VIRTIO_NET_HDR_BYTES 12
#define VIRTIO_NET_HDR_NUM_BUFFERS 10 /* offset of num_buffers */
/* Largest frame (without the header) either way: bounds the work and the
 * host buffers a guest or the tap can ask for. */
#define VIRTIO_NET_MAX_FRAME (64u << 10)
#define VIRTIO_NET_MIN_FRAME 14 /* an Ethernet header */

struct virtio_net_config {
	uint8_t mac[VIRTIO_NET_MAC_BYTES];
	uint16_t status;
} __attribute__((packed));

struct virtio_net_stats {
	uint64_t rx_frames, rx_bytes, rx_dropped;
	uint64_t tx_frames, tx_bytes, tx_dropped;
};

struct virtio_net {
	struct virtio_pci vp;
	int tap_fd;
	char ifname[IFNAMSIZ];
	bool tap_failed; /* the tap reported an error: it is no longer read */
	struct virtio_net_config config;
	struct virtio_net_stats stats;

	/* A receive chain popped ahead of its frame: the next frame from the
	 * tap goes there. Dropped on reset. */
	bool rx_held;
	struct virtq_chain rx_chain;
	/* The header and frame as the tap sees them; a chain has at most
	 * VIRTQ_MAX_CHAIN_BUFS buffers, plus our header and the spill. */
	struct iovec iov[VIRTQ_MAX_CHAIN_BUFS + 2];
	/* Where a received frame too large for the guest's buffers spills, so
	 * its real length is known and it can be dropped whole. */
	uint8_t spill[VIRTIO_NET_MAX_FRAME];
};

extern const struct virtio_device_ops virtio_net_ops;

/* Attaches to (or creates) tap ifname with IFF_TAP | IFF_NO_PI |
 * IFF_VNET_HDR, a 12-byte header and no offloads, non-blocking. Returns 0,
 * or -1 with a message naming the tap and the problem in err. */
int virtio_net_open_tap(struct virtio_net *net, const char *ifname,
			const uint8_t mac[VIRTIO_NET_MAC_BYTES], char *err, size_t err_size);
/* Takes fd as the back-end instead of a tap (tests: one end of a
 * SOCK_SEQPACKET socketpair, which keeps frame boundaries as a tap does). The
 * fd is made non-blocking and closed by virtio_net_exit. */
void virtio_net_open_fd(struct virtio_net *net, int fd, const uint8_t mac[VIRTIO_NET_MAC_BYTES]);

int virtio_net_init(struct virtio_net *net, const struct guest_mem *mem, struct msi_controller msi,
		    struct irq_line intx);
void virtio_net_exit(struct virtio_net *net);

/* The I/O thread's callback for the tap fd (ioloop_watch_fd); opaque is
 * the struct virtio_net. */
void virtio_net_tap_readable(void *opaque);

#endif
