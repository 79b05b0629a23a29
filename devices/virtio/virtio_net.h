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

#define VIRTIO_NET_F_CSUM (1ULL << 0)	    /* we take partial checksums */
#define VIRTIO_NET_F_GUEST_CSUM (1ULL << 1) /* the guest takes them */
#define VIRTIO_NET_F_CTRL_GUEST_OFFLOADS (1ULL << 2)
#define VIRTIO_NET_F_MAC (1ULL << 5)
#define VIRTIO_NET_F_GUEST_TSO4 (1ULL << 7)
#define VIRTIO_NET_F_GUEST_TSO6 (1ULL << 8)
#define VIRTIO_NET_F_GUEST_ECN (1ULL << 9)
#define VIRTIO_NET_F_HOST_TSO4 (1ULL << 11)
#define VIRTIO_NET_F_HOST_TSO6 (1ULL << 12)
#define VIRTIO_NET_F_HOST_ECN (1ULL << 13)
#define VIRTIO_NET_F_MRG_RXBUF (1ULL << 15)
#define VIRTIO_NET_F_STATUS (1ULL << 16)
#define VIRTIO_NET_F_CTRL_VQ (1ULL << 17)
#define VIRTIO_NET_F_CTRL_RX (1ULL << 18)
#define VIRTIO_NET_F_CTRL_MAC_ADDR (1ULL << 23)
#define VIRTIO_NET_S_LINK_UP 1

/* What the tap has to do for the guest: hand it partial checksums and
 * unsegmented TCP (TUNSETOFFLOAD). */
#define VIRTIO_NET_GUEST_OFFLOADS                                                                  \
	(VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_GUEST_TSO6 |             \
	 VIRTIO_NET_F_GUEST_ECN)
/* What the host kernel does for the guest on transmit; a tap with a
 * virtio-net header always accepts these. */
#define VIRTIO_NET_HOST_OFFLOADS                                                                   \
	(VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4 | VIRTIO_NET_F_HOST_TSO6 |                     \
	 VIRTIO_NET_F_HOST_ECN)
/* The control commands offered; each needs VIRTIO_NET_F_CTRL_VQ. */
#define VIRTIO_NET_CTRL_FEATURES                                                                   \
	(VIRTIO_NET_F_CTRL_RX | VIRTIO_NET_F_CTRL_GUEST_OFFLOADS | VIRTIO_NET_F_CTRL_MAC_ADDR)

#define VIRTIO_NET_RX_QUEUE 0
#define VIRTIO_NET_TX_QUEUE 1
#define VIRTIO_NET_CTRL_QUEUE 2 /* exists only with VIRTIO_NET_F_CTRL_VQ */
#define VIRTIO_NET_QUEUE_SIZE 256
#define VIRTIO_NET_MAC_BYTES 6
/* The transmit queue's naps while polled (net_poll_nap_us): while the
 * guest answers what it receives, and while it streams out. */
#define VIRTIO_NET_TX_NAP_US 50
#define VIRTIO_NET_TX_NAP_STREAMING_US 200

/* In front of every frame both ways (virtio 1.x 5.1.6, VERSION_1 layout:
 * num_buffers is always there). Little-endian. */
struct virtio_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
} __attribute__((packed));

#define VIRTIO_NET_HDR_BYTES 12
_Static_assert(sizeof(struct virtio_net_hdr) == VIRTIO_NET_HDR_BYTES, "virtio_net_hdr_v1 layout");
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE 0
#define VIRTIO_NET_HDR_GSO_TCPV4 1
#define VIRTIO_NET_HDR_GSO_TCPV6 4
#define VIRTIO_NET_HDR_GSO_ECN 0x80

/* A control command (virtio 1.x 5.1.6.5): this header and the command's
 * data in device-readable buffers, then the ack byte, device-writable. */
struct virtio_net_ctrl_hdr {
	uint8_t class;
	uint8_t cmd;
} __attribute__((packed));

#define VIRTIO_NET_OK 0
#define VIRTIO_NET_ERR 1
/* Data: one byte, 0 off or 1 on. */
#define VIRTIO_NET_CTRL_RX 0
#define VIRTIO_NET_CTRL_RX_PROMISC 0
#define VIRTIO_NET_CTRL_RX_ALLMULTI 1
/* TABLE_SET data: two tables (unicast, then multicast), each a le32 count
 * and that many MACs. ADDR_SET data: one MAC. */
#define VIRTIO_NET_CTRL_MAC 1
#define VIRTIO_NET_CTRL_MAC_TABLE_SET 0
#define VIRTIO_NET_CTRL_MAC_ADDR_SET 1
/* Data: a le64 of VIRTIO_NET_F_GUEST_* bits, the receive offloads to have
 * on from now on. */
#define VIRTIO_NET_CTRL_GUEST_OFFLOADS 5
#define VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET 0

/* Largest frame (without the header) either way: a 64 KiB TCP segment
 * offload plus Ethernet and VLAN headers. Bounds the work and the host
 * buffers a guest or the tap can ask for. */
#define VIRTIO_NET_MAX_FRAME ((64u << 10) + 18)
/* Largest frame without segmentation offloads: a 1500-byte MTU plus
 * Ethernet and VLAN headers. */
#define VIRTIO_NET_MTU_FRAME 1518
#define VIRTIO_NET_MIN_FRAME 14 /* an Ethernet header */

/* Receive chains held at once, and their buffers. Enough chains for a
 * whole offloaded frame in Linux's smallest mergeable buffers (1.5 KiB);
 * room for two chains of the most buffers a chain may have. */
#define VIRTIO_NET_RX_MAX_CHAINS 64
#define VIRTIO_NET_RX_MAX_BUFS (2 * VIRTQ_MAX_CHAIN_BUFS)

struct virtio_net_config {
	uint8_t mac[VIRTIO_NET_MAC_BYTES];
	uint16_t status;
} __attribute__((packed));

struct virtio_net_stats {
	uint64_t rx_frames, rx_bytes, rx_dropped;
	uint64_t tx_frames, tx_bytes, tx_dropped;
	uint64_t rx_acks_held; /* pure ACKs whose interrupt was held back */
};

/* Receive interrupts held back for pure TCP ACKs while the guest streams
 * out (ACK moderation, virtio_net.c): frames delivered since the last
 * interrupt went out, and when the first of them was (virtio_clock_ns).
 * Cleared by a reset. */
struct virtio_net_rx_hold {
	unsigned frames;
	uint64_t since_ns;
};

/* One receive chain popped ahead of the frame that will fill it: its
 * device-writable buffers are bufs[first_buf, first_buf + nr_bufs) of
 * struct virtio_net_rx. */
struct virtio_net_rx_chain {
	uint16_t head;
	uint16_t nr_bufs;
	unsigned first_buf;
	uint64_t bytes;
};

/* Receive state: the chains held, oldest first (chains[first, end)), and a
 * frame that did not fit them, waiting for more. Dropped on reset. */
struct virtio_net_rx {
	unsigned first, end;
	unsigned bufs_end;
	uint64_t bytes; /* of the held chains */
	struct virtio_net_rx_chain chains[VIRTIO_NET_RX_MAX_CHAINS];
	struct virtq_buf bufs[VIRTIO_NET_RX_MAX_BUFS];

	/* A frame read with more bytes than the held chains had (MRG_RXBUF,
	 * the driver short of buffers): the chains it filled stay held, its
	 * tail waits in spill[spill_done, spill_len). 0: none. */
	uint32_t partial_len; /* header and frame */
	uint32_t partial_chains;
	uint32_t spill_done, spill_len;
	struct virtio_net_hdr partial_hdr;

	struct virtq_chain popped; /* scratch for virtq_pop */
};

struct virtio_net {
	struct virtio_pci vp;
	int tap_fd;
	bool is_tap;	   /* a real tap, not a test's socket */
	bool tap_offloads; /* the tap takes TUNSETOFFLOAD for the guest offloads */
	char ifname[IFNAMSIZ];
	bool tap_failed; /* the tap reported an error: it is no longer read */
	/* The receive offloads in force (VIRTIO_NET_GUEST_OFFLOADS bits): the
	 * negotiated ones from DRIVER_OK on, none after a reset. */
	uint64_t guest_offloads;
	/* The flags last given to the tap with TUNSETOFFLOAD (recorded for a
	 * test's socket too, which takes no such ioctl). */
	unsigned tap_offload_flags;
	struct virtio_net_config config;
	uint8_t mac[VIRTIO_NET_MAC_BYTES]; /* the VMM's, which a reset restores */
	struct virtio_net_stats stats;
	struct virtio_net_rx rx;
	struct virtio_net_rx_hold hold;
	/* The last frame delivered was a pure TCP ACK (net_poll_nap_us). */
	bool rx_last_pure_ack;

	/* The header and frame as the tap sees them: our header, the held
	 * chains' buffers, and the spill. */
	struct iovec iov[VIRTIO_NET_RX_MAX_BUFS + 2];
	/* Where a received frame too large for the guest's buffers spills, so
	 * its real length is known: dropped whole, or (MRG_RXBUF) copied on
	 * into the next buffers the driver posts. */
	uint8_t spill[VIRTIO_NET_MAX_FRAME];
};

extern const struct virtio_device_ops virtio_net_ops;

/* Attaches to (or creates) tap ifname with IFF_TAP | IFF_NO_PI |
 * IFF_VNET_HDR and a 12-byte header, non-blocking. The tap's offloads
 * follow what the driver negotiates; a tap that refuses them means the
 * guest is not offered them. Returns 0,
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
