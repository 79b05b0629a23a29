#include "devices/virtio/virtio_net.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "devices/eth_frame.h"

#define PCI_CLASS_NETWORK_ETHERNET 0x020000
#define TUN_OFFLOADS_FOR_GUEST (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN)

static bool net_has(const struct virtio_net *net, uint64_t feature)
{
	return virtio_has_feature(&net->vp.vdev, feature);
}

/* Whether a receive offload (VIRTIO_NET_F_GUEST_*) is in force. */
static bool net_offload_on(const struct virtio_net *net, uint64_t offload)
{
	return (net->guest_offloads & offload) == offload;
}

/* Appends bufs to iov, leaving out their first `skip` bytes; returns the
 * number of iovecs added (at most nr). */
static unsigned net_iov_from(struct iovec *iov, const struct virtq_buf *bufs, unsigned nr,
			     uint64_t skip)
{
	unsigned added = 0;

	for (unsigned i = 0; i < nr; i++) {
		if (skip >= bufs[i].len) {
			skip -= bufs[i].len;
			continue;
		}
		iov[added++] = (struct iovec){(uint8_t *)bufs[i].hva + skip, bufs[i].len - skip};
		skip = 0;
	}
	return added;
}

/* Copies len bytes from host memory to the start of guest buffers;
 * returns the bytes copied. */
static size_t net_bufs_write(const struct virtq_buf *bufs, unsigned nr, const void *src, size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < nr && done < len; i++) {
		size_t n = bufs[i].len < len - done ? bufs[i].len : len - done;
		memcpy(bufs[i].hva, (const uint8_t *)src + done, n);
		done += n;
	}
	return done;
}

/* A read or write error on the tap: not the guest's doing, so the device
 * stays up, but the tap is not read again. */
static int net_tap_failed(struct virtio_net *net, const char *op, int err)
{
	if (!net->tap_failed)
		fprintf(stderr, "skiff: virtio-net: tap '%s': %s: %s; no more frames received\n",
			net->ifname, op, err ? strerror(err) : "closed");
	net->tap_failed = true;
	return -1;
}

/* The tap's header for a received frame, made into one the driver agreed
 * to take: false when the frame needs an offload that is not in force
 * (queued in the tap before a reset turned the offloads off). */
static bool net_rx_hdr_ok(const struct virtio_net *net, struct virtio_net_hdr *hdr)
{
	uint8_t gso = hdr->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;

	if (!net_offload_on(net, VIRTIO_NET_F_GUEST_CSUM)) {
		if (hdr->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
			return false;
		hdr->flags = 0;
	}
	hdr->flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID;
	if (!(hdr->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		hdr->csum_start = hdr->csum_offset = 0;
	if ((hdr->gso_type & VIRTIO_NET_HDR_GSO_ECN) &&
	    !net_offload_on(net, VIRTIO_NET_F_GUEST_ECN))
		return false;
	if (gso == VIRTIO_NET_HDR_GSO_NONE) {
		hdr->gso_type = VIRTIO_NET_HDR_GSO_NONE;
		hdr->hdr_len = hdr->gso_size = 0;
		return true;
	}
	return (gso == VIRTIO_NET_HDR_GSO_TCPV4 && net_offload_on(net, VIRTIO_NET_F_GUEST_TSO4)) ||
	       (gso == VIRTIO_NET_HDR_GSO_TCPV6 && net_offload_on(net, VIRTIO_NET_F_GUEST_TSO6));
}

/* Bytes of receive buffers worth holding before reading a frame: the
 * largest frame the tap may hand over with the offloads in force. */
static uint64_t net_rx_frame_need(const struct virtio_net *net)
{
	bool gso = net_offload_on(net, VIRTIO_NET_F_GUEST_TSO4) ||
		   net_offload_on(net, VIRTIO_NET_F_GUEST_TSO6);

	return VIRTIO_NET_HDR_BYTES + (gso ? VIRTIO_NET_MAX_FRAME : VIRTIO_NET_MTU_FRAME);
}

static void net_rx_forget(struct virtio_net_rx *rx)
{
	rx->first = rx->end = rx->bufs_end = 0;
	rx->bytes = 0;
	rx->partial_len = 0;
}

/* Whether one more chain of any length fits the held ones; moves them to
 * the front of their arrays when that makes room. */
static bool net_rx_room(struct virtio_net_rx *rx)
{
	unsigned nr = rx->end - rx->first,
		 buf0 = nr ? rx->chains[rx->first].first_buf : rx->bufs_end;

	if (rx->end < VIRTIO_NET_RX_MAX_CHAINS &&
	    rx->bufs_end + VIRTQ_MAX_CHAIN_BUFS <= VIRTIO_NET_RX_MAX_BUFS)
		return true;
	memmove(rx->chains, rx->chains + rx->first, nr * sizeof(rx->chains[0]));
	memmove(rx->bufs, rx->bufs + buf0, (rx->bufs_end - buf0) * sizeof(rx->bufs[0]));
	for (unsigned i = 0; i < nr; i++)
		rx->chains[i].first_buf -= buf0;
	rx->first = 0;
	rx->end = nr;
	rx->bufs_end -= buf0;
	return rx->end < VIRTIO_NET_RX_MAX_CHAINS &&
	       rx->bufs_end + VIRTQ_MAX_CHAIN_BUFS <= VIRTIO_NET_RX_MAX_BUFS;
}

/* Pops one more receive chain onto the held ones (the caller made room):
 * 1, 0 when the driver has none available, -1 when the queue broke. */
static int net_rx_hold_one(struct virtio_net *net)
{
	struct virtio_device *vdev = &net->vp.vdev;
	struct virtq *vq = &vdev->vqs[VIRTIO_NET_RX_QUEUE];
	struct virtio_net_rx *rx = &net->rx;
	struct virtq_chain *popped = &rx->popped;
	int rc = virtq_pop(vq, popped);

	if (rc < 0)
		virtio_device_error(vdev, vq->error);
	if (rc <= 0)
		return rc;
	if (popped->nr_out || popped->in_bytes < VIRTIO_NET_HDR_BYTES) {
		virtio_device_error(vdev, "receive buffer not device-writable or smaller than the "
					  "virtio-net header");
		return -1;
	}
	rx->chains[rx->end++] = (struct virtio_net_rx_chain){.head = popped->head,
							     .nr_bufs = (uint16_t)popped->nr_in,
							     .first_buf = rx->bufs_end,
							     .bytes = popped->in_bytes};
	memcpy(rx->bufs + rx->bufs_end, virtq_chain_in(popped),
	       popped->nr_in * sizeof(rx->bufs[0]));
	rx->bufs_end += popped->nr_in;
	rx->bytes += popped->in_bytes;
	return 1;
}

/* Whether the held chains fall short of the next frame: one chain
 * without MRG_RXBUF; with it, enough bytes for the largest frame. */
static bool net_rx_short(const struct virtio_net *net)
{
	const struct virtio_net_rx *rx = &net->rx;

	return rx->first == rx->end ||
	       (net_has(net, VIRTIO_NET_F_MRG_RXBUF) && rx->bytes < net_rx_frame_need(net));
}

/* Holds receive chains for the next frame, as many as the driver has up
 * to what net_rx_short() wants. The driver is asked to kick only while we
 * are short, as QEMU does: a kick for every refill it makes while we hold
 * plenty would be an exit for nothing. -1: broken. */
static int net_rx_top_up(struct virtio_net *net)
{
	struct virtq *vq = &net->vp.vdev.vqs[VIRTIO_NET_RX_QUEUE];

	for (int ask = 0; ask < 2; ask++) {
		int rc = 1;

		/* Asking fences, then we look again: buffers made available
		 * just before would not be kicked for. */
		virtq_set_notifications(vq, ask);
		while (rc == 1 && net_rx_short(net) && net_rx_room(&net->rx))
			rc = net_rx_hold_one(net);
		if (rc < 0)
			return -1;
		if (!net_rx_short(net))
			break;
	}
	return 0;
}

/* Gives the driver a frame of `len` bytes (header included) that fills
 * the held chains from the oldest on. The used index moves once for all
 * of them: a driver must never see part of a merged frame. */
static void net_rx_deliver(struct virtio_net *net, struct virtio_net_hdr *hdr, uint64_t len)
{
	struct virtio_net_rx *rx = &net->rx;
	struct virtq_used_elem used[VIRTIO_NET_RX_MAX_CHAINS];
	struct virtio_net_rx_chain *first = &rx->chains[rx->first];
	uint64_t left = len;
	unsigned nr = 0;

	for (; left && nr < rx->end - rx->first; nr++) {
		const struct virtio_net_rx_chain *c = &rx->chains[rx->first + nr];
		uint64_t n = c->bytes < left ? c->bytes : left;
		used[nr] = (struct virtq_used_elem){c->head, (uint32_t)n};
		left -= n;
		rx->bytes -= c->bytes;
	}
	hdr->num_buffers = htole16((uint16_t)nr);
	net_bufs_write(rx->bufs + first->first_buf, first->nr_bufs, hdr, sizeof(*hdr));
	virtq_push_many(&net->vp.vdev.vqs[VIRTIO_NET_RX_QUEUE], used, nr);
	rx->first += nr;
	if (rx->first == rx->end)
		rx->first = rx->end = rx->bufs_end = 0;
	net->stats.rx_frames++;
	net->stats.rx_bytes += len - VIRTIO_NET_HDR_BYTES;
}

/* After a frame longer than the held chains: keeps it to finish in the
 * buffers the driver posts next (MRG_RXBUF), or drops it. */
static void net_rx_keep_partial(struct virtio_net *net, struct virtio_net_hdr *hdr, uint64_t len,
				uint64_t room)
{
	struct virtio_net_rx *rx = &net->rx;

	/* A full spill may hide a longer frame: never deliver a cut one. */
	if (!net_has(net, VIRTIO_NET_F_MRG_RXBUF) || len - room >= sizeof(net->spill)) {
		net->stats.rx_dropped++;
		return;
	}
	rx->partial_len = (uint32_t)len;
	rx->partial_hdr = *hdr;
	rx->spill_done = 0;
	rx->spill_len = (uint32_t)(len - room);
}

/* Whether the frame just read, its len bytes behind our header in
 * net->iov[1, nr), is a pure TCP ACK; a segment offload never is. The
 * bytes may sit in guest memory: copied once, then looked at. */
static bool net_rx_is_pure_ack(const struct virtio_net *net, const struct virtio_net_hdr *hdr,
			       size_t len, unsigned nr)
{
	uint8_t head[ETH_FRAME_PURE_ACK_MAX];
	size_t got = 0;

	if (hdr->gso_type != VIRTIO_NET_HDR_GSO_NONE || len > sizeof(head))
		return false;
	for (unsigned i = 1; i < nr && got < len; i++) {
		size_t n = net->iov[i].iov_len < len - got ? net->iov[i].iov_len : len - got;
		memcpy(head + got, net->iov[i].iov_base, n);
		got += n;
	}
	return eth_frame_is_pure_tcp_ack(head, got);
}

/* Reads one frame into the held chains (all with MRG_RXBUF, the oldest
 * without): 1 delivered (*pure_ack says whether it is a pure TCP ACK),
 * 2 dropped, kept partial or interrupted (the chains stay held), 0 the
 * tap has nothing, -1 the tap failed. */
static int net_rx_frame(struct virtio_net *net, bool *pure_ack)
{
	struct virtio_net_rx *rx = &net->rx;
	unsigned last = net_has(net, VIRTIO_NET_F_MRG_RXBUF) ? rx->end : rx->first + 1, nr = 0;
	struct virtio_net_hdr hdr;
	uint64_t room = 0;

	/* Header to us, frame straight into the guest's buffers, and any
	 * excess into the spill, so a frame too large shows its size. */
	net->iov[nr++] = (struct iovec){&hdr, sizeof(hdr)};
	for (unsigned i = rx->first; i < last; i++) {
		const struct virtio_net_rx_chain *c = &rx->chains[i];
		nr += net_iov_from(net->iov + nr, rx->bufs + c->first_buf, c->nr_bufs,
				   i == rx->first ? VIRTIO_NET_HDR_BYTES : 0);
		room += c->bytes;
	}
	net->iov[nr++] = (struct iovec){net->spill, sizeof(net->spill)};
	ssize_t n = readv(net->tap_fd, net->iov, (int)nr);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n < 0 && errno == EINTR)
		return 2;
	if (n <= 0)
		return net_tap_failed(net, "read", n < 0 ? errno : 0);
	if (n < VIRTIO_NET_HDR_BYTES + VIRTIO_NET_MIN_FRAME || !net_rx_hdr_ok(net, &hdr)) {
		net->stats.rx_dropped++;
		return 2;
	}
	if ((uint64_t)n > room) {
		net_rx_keep_partial(net, &hdr, (uint64_t)n, room);
		return 2;
	}
	*pure_ack = net_rx_is_pure_ack(net, &hdr, (size_t)n - VIRTIO_NET_HDR_BYTES, nr);
	net_rx_deliver(net, &hdr, (uint64_t)n);
	return 1;
}

/* Copies the rest of a partial frame from the spill into chains the
 * driver posted since, then delivers it: 1 delivered, 2 dropped (no room
 * for more chains), 0 still waiting for buffers, -1 broken. */
static int net_rx_finish_partial(struct virtio_net *net)
{
	struct virtio_net_rx *rx = &net->rx;

	/* Waiting for buffers: the driver's next ones must kick us. */
	virtq_set_notifications(&net->vp.vdev.vqs[VIRTIO_NET_RX_QUEUE], true);
	while (rx->spill_done < rx->spill_len) {
		if (!net_rx_room(rx)) {
			rx->partial_len = 0;
			net->stats.rx_dropped++;
			return 2;
		}
		int rc = net_rx_hold_one(net);
		if (rc <= 0)
			return rc;
		const struct virtio_net_rx_chain *c = &rx->chains[rx->end - 1];
		uint64_t left = rx->spill_len - rx->spill_done;
		rx->spill_done += (uint32_t)net_bufs_write(rx->bufs + c->first_buf, c->nr_bufs,
							   net->spill + rx->spill_done,
							   c->bytes < left ? c->bytes : left);
	}
	net_rx_deliver(net, &rx->partial_hdr, rx->partial_len);
	rx->partial_len = 0;
	return 1;
}

/* One step of receive: 1 a frame delivered (*pure_ack: a pure TCP ACK;
 * a frame finished from the spill never is), 2 one dropped or waiting,
 * 0 nothing more to do now (no frame, or no buffers), -1 broken. */
static int net_rx_step(struct virtio_net *net, bool *pure_ack)
{
	*pure_ack = false;
	if (net->rx.partial_len)
		return net_rx_finish_partial(net);
	if (net_rx_top_up(net) < 0)
		return -1;
	if (net->rx.first == net->rx.end)
		return 0;
	return net_rx_frame(net, pure_ack);
}

/* ACK moderation. A guest streaming out gets a pure TCP ACK back for
 * every segment or two it sends, and an interrupt for each (with the EOI
 * write and interrupt window that come with it) costs it more exits than
 * its sending does. A pure ACK carries nothing an application waits for:
 * it lets the guest's TCP send more, and a guest whose transmit queue is
 * polled is still sending. So while it is, the interrupt for pure ACKs is
 * held back: for half the poll window at most, for a quarter of the
 * ring's frames at most, and never past the first other frame, the end
 * of the transmit window, or the driver running short of receive
 * buffers. The driver then takes them all in one poll. --io-poll 0 turns
 * this off with the polling. */
static bool net_tx_streaming(const struct virtio_device *vdev)
{
	return vdev->poll_found_ns[VIRTIO_NET_TX_QUEUE] != 0;
}

static void net_rx_interrupt(struct virtio_net *net)
{
	net->hold.frames = 0;
	virtio_queue_notify_driver(&net->vp.vdev, VIRTIO_NET_RX_QUEUE);
}

/* Whether the held frames have waited as long, or grown as many, as the
 * hold allows. */
static bool net_rx_hold_full(const struct virtio_net *net)
{
	const struct virtio_device *vdev = &net->vp.vdev;
	uint64_t hold_ns = vdev->poll_window_us * 500ull;

	return net->hold.frames >= vdev->vqs[VIRTIO_NET_RX_QUEUE].size / 4u ||
	       virtio_clock_ns() - net->hold.since_ns >= hold_ns;
}

/* After a frame went to the driver: its interrupt now, or held back. */
static void net_rx_delivered(struct virtio_net *net, bool pure_ack)
{
	net->rx_last_pure_ack = pure_ack;
	if (!pure_ack || !net_tx_streaming(&net->vp.vdev)) {
		net_rx_interrupt(net);
		return;
	}
	if (net->hold.frames++ == 0)
		net->hold.since_ns = virtio_clock_ns();
	net->stats.rx_acks_held++;
	if (net_rx_hold_full(net))
		net_rx_interrupt(net);
}

/* Sends a held interrupt once the hold is over. Between receive passes
 * (the held chains topped up) and after every look at the transmit
 * queue, which the I/O thread takes after every nap (net_poll_nap_us)
 * while it polls. */
static void net_rx_release_due(struct virtio_net *net)
{
	if (net->hold.frames && (!net_tx_streaming(&net->vp.vdev) || net_rx_short(net) ||
				 net->rx.partial_len || net_rx_hold_full(net)))
		net_rx_interrupt(net);
}

/* Moves frames from the tap into receive chains until the tap is empty or
 * the guest has no buffers left. Frames then wait in the tap's queue (the
 * kernel drops what does not fit there); the guest's next rx kick, or the
 * next frame, brings us back. Lock held. */
static void net_rx_pump(struct virtio_device *vdev)
{
	struct virtio_net *net = vdev->backend;
	unsigned budget = 2u * vdev->vqs[VIRTIO_NET_RX_QUEUE].size;
	bool more = true;

	while (more && budget && !net->tap_failed) {
		budget--;
		bool pure_ack;
		int rc = net_rx_step(net, &pure_ack);
		/* At once, not after the burst: the guest works on this frame
		 * while we read the next. A driver busy polling has said it
		 * wants no interrupt (used_event), so this costs a check. */
		if (rc == 1)
			net_rx_delivered(net, pure_ack);
		more = rc >= 1;
	}
	net_rx_release_due(net);
	/* Out of budget, not of frames: come back after the other devices. */
	if (more && !budget && vdev->transport->kick)
		vdev->transport->kick(vdev, VIRTIO_NET_RX_QUEUE);
}

/* Every rule a transmit header must keep (virtio 1.x 5.1.6.2), checked on
 * our copy of it, which is what the tap gets: NULL, or what is wrong. */
static const char *net_tx_hdr_check(const struct virtio_net *net, struct virtio_net_hdr *hdr,
				    uint64_t frame)
{
	uint8_t gso = hdr->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	bool csum = hdr->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM;

	/* The device ignores flags it does not know; num_buffers is ours. */
	hdr->flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM;
	hdr->num_buffers = 0;
	if (csum && !net_has(net, VIRTIO_NET_F_CSUM))
		return "transmit header asks for a checksum but VIRTIO_NET_F_CSUM was not "
		       "negotiated";
	if (csum && (uint64_t)le16toh(hdr->csum_start) + le16toh(hdr->csum_offset) + 2 > frame)
		return "transmit checksum lies beyond the end of the frame";
	if ((hdr->gso_type & VIRTIO_NET_HDR_GSO_ECN) &&
	    (gso == VIRTIO_NET_HDR_GSO_NONE || !net_has(net, VIRTIO_NET_F_HOST_ECN)))
		return "transmit header sets the ECN bit without HOST_ECN and segmentation";
	if (gso == VIRTIO_NET_HDR_GSO_NONE)
		return NULL;
	if (!(gso == VIRTIO_NET_HDR_GSO_TCPV4 && net_has(net, VIRTIO_NET_F_HOST_TSO4)) &&
	    !(gso == VIRTIO_NET_HDR_GSO_TCPV6 && net_has(net, VIRTIO_NET_F_HOST_TSO6)))
		return "transmit header asks for a segmentation offload that was not negotiated";
	if (!csum || !hdr->gso_size)
		return "transmit header asks for segmentation without NEEDS_CSUM or gso_size";
	return NULL;
}

static ssize_t net_tap_write(struct virtio_net *net, unsigned nr)
{
	ssize_t n = writev(net->tap_fd, net->iov, (int)nr);

	if (n < 0 && errno == EINTR)
		n = writev(net->tap_fd, net->iov, (int)nr);
	return n;
}

/* One transmit chain: header and frame, device-readable only. The tap gets
 * our checked copy of the header, never the guest's memory. A frame the
 * tap refuses (full, link down, bad offload) is dropped, as a wire
 * would. */
static int64_t net_tx(struct virtio_device *vdev, struct virtq_chain *chain)
{
	struct virtio_net *net = vdev->backend;
	uint64_t frame = chain->out_bytes - VIRTIO_NET_HDR_BYTES;
	struct virtio_net_hdr hdr;
	const char *bad;
	unsigned nr = 0;

	if (chain->nr_in || chain->out_bytes < VIRTIO_NET_HDR_BYTES) {
		virtio_device_error(vdev, "transmit request is not a device-readable virtio-net "
					  "header and frame");
		return -1;
	}
	if (frame > VIRTIO_NET_MAX_FRAME) {
		virtio_device_error(vdev, "transmit frame larger than 64 KiB and its headers");
		return -1;
	}
	virtq_chain_read(chain, 0, &hdr, sizeof(hdr));
	bad = net_tx_hdr_check(net, &hdr, frame);
	if (bad) {
		virtio_device_error(vdev, bad);
		return -1;
	}
	net->iov[nr++] = (struct iovec){&hdr, sizeof(hdr)};
	nr += net_iov_from(net->iov + nr, virtq_chain_out(chain), chain->nr_out,
			   VIRTIO_NET_HDR_BYTES);
	if (frame < VIRTIO_NET_MIN_FRAME || net->tap_failed || net_tap_write(net, nr) < 0) {
		net->stats.tx_dropped++;
		return 0;
	}
	net->stats.tx_frames++;
	net->stats.tx_bytes += frame;
	return 0;
}

/* The offloads the tap applies to frames for the guest: those in force,
 * in TUNSETOFFLOAD's terms. The tap takes segmentation only with the
 * checksum offload and ECN only with segmentation; short of that it does
 * less than the driver allows, never more. */
static unsigned net_tun_offloads(const struct virtio_net *net)
{
	unsigned flags = 0;

	if (!net_offload_on(net, VIRTIO_NET_F_GUEST_CSUM))
		return 0;
	flags |= TUN_F_CSUM;
	if (net_offload_on(net, VIRTIO_NET_F_GUEST_TSO4))
		flags |= TUN_F_TSO4;
	if (net_offload_on(net, VIRTIO_NET_F_GUEST_TSO6))
		flags |= TUN_F_TSO6;
	if ((flags & (TUN_F_TSO4 | TUN_F_TSO6)) && net_offload_on(net, VIRTIO_NET_F_GUEST_ECN))
		flags |= TUN_F_TSO_ECN;
	return flags;
}

/* The tap hands the guest frames with the offloads in force, from now on. */
static int net_tap_apply_offloads(struct virtio_net *net)
{
	unsigned flags = net_tun_offloads(net);

	if (net->is_tap && ioctl(net->tap_fd, TUNSETOFFLOAD, flags) < 0) {
		fprintf(stderr, "skiff: virtio-net: tap '%s': TUNSETOFFLOAD 0x%x: %s\n",
			net->ifname, flags, strerror(errno));
		return -1;
	}
	net->tap_offload_flags = flags;
	return 0;
}

/* --- The control queue (virtio 1.x 5.1.6.5) ------------------------- */

/* Data of VIRTIO_NET_CTRL_MAC_TABLE_SET: its length follows its counts. */
#define NET_CTRL_LEN_MAC_TABLES UINT32_MAX

/* The commands the device knows: the feature that allows each (every one
 * of them needs CTRL_VQ, so a driver without it that enables queue 2 gets
 * VIRTIO_NET_ERR for everything) and the exact length of its data. */
static const struct net_ctrl_rule {
	uint8_t class, cmd;
	uint64_t feature;
	uint32_t len;
} net_ctrl_rules[] = {
	{VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, VIRTIO_NET_F_CTRL_RX, 1},
	{VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, VIRTIO_NET_F_CTRL_RX, 1},
	{VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, VIRTIO_NET_F_CTRL_RX,
	 NET_CTRL_LEN_MAC_TABLES},
	{VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, VIRTIO_NET_F_CTRL_MAC_ADDR,
	 VIRTIO_NET_MAC_BYTES},
	{VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET,
	 VIRTIO_NET_F_CTRL_GUEST_OFFLOADS, sizeof(uint64_t)},
};

/* A command that passed net_ctrl_parse, with its fixed-length data. */
struct net_ctrl_cmd {
	struct virtio_net_ctrl_hdr hdr;
	uint8_t data[8];
};

/* VIRTIO_NET_CTRL_MAC_TABLE_SET's data, `len` bytes after the header: a
 * le32 count and that many MACs, twice, and nothing more. Each count is
 * read once and bounded by what is left, with checked arithmetic. */
static bool net_ctrl_mac_tables_ok(const struct virtq_chain *chain, uint64_t len)
{
	uint64_t off = 0;

	for (int table = 0; table < 2; table++) {
		uint32_t entries;
		uint64_t at, bytes;

		if (__builtin_add_overflow(off, sizeof(entries), &at) || at > len)
			return false;
		virtq_chain_read(chain, sizeof(struct virtio_net_ctrl_hdr) + off, &entries,
				 sizeof(entries));
		if (__builtin_mul_overflow((uint64_t)le32toh(entries), VIRTIO_NET_MAC_BYTES,
					   &bytes) ||
		    __builtin_add_overflow(at, bytes, &off) || off > len)
			return false;
	}
	return off == len;
}

/* Every rule a control command must keep, checked in one place: a whole
 * header, a command the device knows, its feature negotiated, and data of
 * exactly the length the command takes. Copies the header and the data
 * (fixed-length commands) into *cmd once; false: answer VIRTIO_NET_ERR. */
static bool net_ctrl_parse(const struct virtio_net *net, const struct virtq_chain *chain,
			   struct net_ctrl_cmd *cmd)
{
	const struct net_ctrl_rule *rule = NULL;
	uint64_t len;

	if (chain->out_bytes < sizeof(cmd->hdr))
		return false;
	virtq_chain_read(chain, 0, &cmd->hdr, sizeof(cmd->hdr));
	len = chain->out_bytes - sizeof(cmd->hdr);
	for (size_t i = 0; i < sizeof(net_ctrl_rules) / sizeof(net_ctrl_rules[0]); i++)
		if (net_ctrl_rules[i].class == cmd->hdr.class &&
		    net_ctrl_rules[i].cmd == cmd->hdr.cmd)
			rule = &net_ctrl_rules[i];
	if (!rule || !net_has(net, rule->feature))
		return false;
	if (rule->len == NET_CTRL_LEN_MAC_TABLES)
		return net_ctrl_mac_tables_ok(chain, len);
	if (len != rule->len || rule->len > sizeof(cmd->data))
		return false;
	virtq_chain_read(chain, sizeof(cmd->hdr), cmd->data, rule->len);
	return true;
}

/* VIRTIO_NET_CTRL_MAC_ADDR_SET: the MAC in config space, as the driver
 * reads it (a multicast or all-zero one, which --net refuses too, is not
 * taken). A reset brings back the VMM's. */
static uint8_t net_ctrl_set_mac(struct virtio_net *net, const uint8_t mac[VIRTIO_NET_MAC_BYTES])
{
	static const uint8_t zero[VIRTIO_NET_MAC_BYTES];

	if ((mac[0] & 1) || memcmp(mac, zero, sizeof(zero)) == 0)
		return VIRTIO_NET_ERR;
	memcpy(net->config.mac, mac, VIRTIO_NET_MAC_BYTES);
	net->vp.vdev.config_generation++;
	return VIRTIO_NET_OK;
}

/* VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET: the receive offloads the driver
 * wants from now on, only among those it negotiated; the tap follows at
 * once (and then hands over whole, checksummed frames for those turned
 * off), or nothing changes. */
static uint8_t net_ctrl_set_offloads(struct virtio_net *net, uint64_t offloads)
{
	uint64_t old = net->guest_offloads;

	if (offloads & ~(net->vp.vdev.driver_features & VIRTIO_NET_GUEST_OFFLOADS))
		return VIRTIO_NET_ERR;
	net->guest_offloads = offloads;
	if (net_tap_apply_offloads(net) < 0) {
		net->guest_offloads = old;
		return VIRTIO_NET_ERR;
	}
	/* Nor may a frame read before, waiting in the spill for buffers,
	 * reach the driver with an offload it has turned off. */
	if (net->rx.partial_len && !net_rx_hdr_ok(net, &net->rx.partial_hdr)) {
		net->rx.partial_len = 0;
		net->stats.rx_dropped++;
	}
	return VIRTIO_NET_OK;
}

/* Carries out a command net_ctrl_parse passed. */
static uint8_t net_ctrl_run(struct virtio_net *net, const struct net_ctrl_cmd *cmd)
{
	uint64_t offloads;

	if (cmd->hdr.class == VIRTIO_NET_CTRL_GUEST_OFFLOADS) {
		memcpy(&offloads, cmd->data, sizeof(offloads));
		return net_ctrl_set_offloads(net, le64toh(offloads));
	}
	if (cmd->hdr.class == VIRTIO_NET_CTRL_MAC && cmd->hdr.cmd == VIRTIO_NET_CTRL_MAC_ADDR_SET)
		return net_ctrl_set_mac(net, cmd->data);
	/* What is left is receive filtering: PROMISC, ALLMULTI and the MAC
	 * tables are taken, and nothing is filtered. The device delivers
	 * every frame the tap (its link) hands over, which is all that
	 * promiscuous mode asks for and perhaps more than a filter would
	 * pass; the spec makes filtering best-effort (5.1.6.5.1: "unwanted
	 * packets could still arrive"), and the guest's stack drops frames
	 * that are not for it unless it asked for them. So whatever mode a
	 * driver asks for here is in force already. */
	return VIRTIO_NET_OK;
}

/* One control command: header and data device-readable, then the ack
 * byte, the first device-writable one. A chain without it cannot be
 * answered and sets NEEDS_RESET; a command that breaks its own rules, or
 * that the device does not know, is answered VIRTIO_NET_ERR. */
static int64_t net_ctrl(struct virtio_device *vdev, struct virtq_chain *chain)
{
	struct virtio_net *net = vdev->backend;
	struct net_ctrl_cmd cmd;
	uint8_t ack = VIRTIO_NET_ERR;

	if (!chain->nr_in) {
		virtio_device_error(vdev, "control command without a device-writable ack byte");
		return -1;
	}
	if (net_ctrl_parse(net, chain, &cmd))
		ack = net_ctrl_run(net, &cmd);
	memcpy(virtq_chain_in(chain)[0].hva, &ack, sizeof(ack));
	return sizeof(ack);
}

/* Kicks of all three queues run here, on the I/O thread. */
static void net_queue_notify(struct virtio_device *vdev, unsigned q)
{
	if (q == VIRTIO_NET_RX_QUEUE)
		net_rx_pump(vdev);
	else if (q == VIRTIO_NET_TX_QUEUE) {
		virtio_queue_drain(vdev, q, net_tx);
		net_rx_release_due(vdev->backend);
	} else
		virtio_queue_drain(vdev, q, net_ctrl);
}

/* Once the driver is live the tap hands over frames as it negotiated,
 * and frames that queued up before are wanted: the I/O thread fetches
 * them as if the driver had kicked. */
static int net_activate(struct virtio_device *vdev)
{
	struct virtio_net *net = vdev->backend;

	net->guest_offloads = vdev->driver_features & VIRTIO_NET_GUEST_OFFLOADS;
	if (net_tap_apply_offloads(net) < 0)
		return -1;
	if (vdev->transport->kick)
		vdev->transport->kick(vdev, VIRTIO_NET_RX_QUEUE);
	return 0;
}

/* Held chains belong to the queue being reset; the next driver may take
 * no offloads, and finds the VMM's MAC. */
static void net_reset(struct virtio_device *vdev)
{
	struct virtio_net *net = vdev->backend;

	net_rx_forget(&net->rx);
	net->hold = (struct virtio_net_rx_hold){0};
	net->rx_last_pure_ack = false;
	net->guest_offloads = 0;
	net_tap_apply_offloads(net);
	memcpy(net->config.mac, net->mac, VIRTIO_NET_MAC_BYTES);
}

/* The transmit queue's nap. A guest whose last frame in was data is
 * likely to answer it (a request/response protocol, the ACKs of a stream
 * coming in), and its answer is what the other end waits for: look often.
 * A guest getting nothing but pure ACKs back is streaming out, with frames
 * queued ahead of us (its TCP lets tcp_limit_output_bytes sit in the
 * ring): a look every 200 us finds a batch and loses it nothing, where
 * 50 us naps took twice the host timers, each an interrupt on a CPU the
 * vCPU may be running on (docs/benchmarks.md, "Network"). */
static unsigned net_poll_nap_us(const struct virtio_device *vdev, unsigned q)
{
	const struct virtio_net *net = vdev->backend;

	return net->rx_last_pure_ack ? VIRTIO_NET_TX_NAP_STREAMING_US : VIRTIO_NET_TX_NAP_US;
}

/* The feature dependencies of virtio 1.x 5.1.3.1: segmentation needs the
 * checksum offload of its direction, ECN needs segmentation, and the
 * control commands need the control queue. */
static bool net_features_ok(const struct virtio_device *vdev)
{
	uint64_t f = vdev->driver_features;
	bool guest_tso = f & (VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_GUEST_TSO6);
	bool host_tso = f & (VIRTIO_NET_F_HOST_TSO4 | VIRTIO_NET_F_HOST_TSO6);

	return (!guest_tso || (f & VIRTIO_NET_F_GUEST_CSUM)) &&
	       (!(f & VIRTIO_NET_F_GUEST_ECN) || guest_tso) &&
	       (!host_tso || (f & VIRTIO_NET_F_CSUM)) &&
	       (!(f & VIRTIO_NET_F_HOST_ECN) || host_tso) &&
	       (!(f & VIRTIO_NET_CTRL_FEATURES) || (f & VIRTIO_NET_F_CTRL_VQ));
}

static void net_read_config(struct virtio_device *vdev, unsigned off, uint8_t *data, unsigned len)
{
	struct virtio_net *net = vdev->backend;

	memcpy(data, (const uint8_t *)&net->config + off, len);
}

const struct virtio_device_ops virtio_net_ops = {
	.name = "virtio-net",
	.device_id = VIRTIO_ID_NET,
	.pci_class = PCI_CLASS_NETWORK_ETHERNET,
	.num_queues = 3,
	.queue_max_size = VIRTIO_NET_QUEUE_SIZE,
	.features = VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS | VIRTIO_NET_F_MRG_RXBUF |
		    VIRTIO_NET_GUEST_OFFLOADS | VIRTIO_NET_HOST_OFFLOADS | VIRTIO_NET_F_CTRL_VQ |
		    VIRTIO_NET_CTRL_FEATURES,
	.config_size = sizeof(struct virtio_net_config),
	.features_ok = net_features_ok,
	.read_config = net_read_config,
	.activate = net_activate,
	.reset = net_reset,
	.queue_notify = net_queue_notify,
	.polled_queues = 1u << VIRTIO_NET_TX_QUEUE,
	.poll_nap_us = net_poll_nap_us,
};

void virtio_net_open_fd(struct virtio_net *net, int fd, const uint8_t mac[VIRTIO_NET_MAC_BYTES])
{
	memset(net, 0, sizeof(*net));
	net->tap_fd = fd;
	snprintf(net->ifname, sizeof(net->ifname), "fd %d", fd);
	if (fd >= 0)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	memcpy(net->config.mac, mac, VIRTIO_NET_MAC_BYTES);
	memcpy(net->mac, mac, VIRTIO_NET_MAC_BYTES);
	net->config.status = VIRTIO_NET_S_LINK_UP;
}

static int net_open_fail(struct virtio_net *net, char *err, size_t n, const char *ifname,
			 const char *what, int errnum)
{
	snprintf(err, n, "tap '%s': %s%s%s", ifname, what, errnum ? ": " : "",
		 errnum ? strerror(errnum) : "");
	if (net->tap_fd >= 0)
		close(net->tap_fd);
	net->tap_fd = -1;
	return -1;
}

/* TUNSETIFF's refusals, in words that say what to do. */
static int net_setiff_fail(struct virtio_net *net, char *err, size_t n, const char *ifname,
			   int errnum)
{
	if (errnum == EPERM)
		return net_open_fail(net, err, n, ifname,
				     "not permitted to attach (needs CAP_NET_ADMIN, or a tap "
				     "made for this user with ip tuntap add ... user USER)",
				     0);
	if (errnum == EBUSY)
		return net_open_fail(net, err, n, ifname, "in use by another process", 0);
	if (errnum == EINVAL)
		return net_open_fail(net, err, n, ifname,
				     "exists but is not a single-queue tap device", 0);
	return net_open_fail(net, err, n, ifname, "TUNSETIFF", errnum);
}

int virtio_net_open_tap(struct virtio_net *net, const char *ifname,
			const uint8_t mac[VIRTIO_NET_MAC_BYTES], char *err, size_t n)
{
	struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR};
	int hdr_size = VIRTIO_NET_HDR_BYTES;
	size_t len = strlen(ifname);

	virtio_net_open_fd(net, -1, mac);
	if (len == 0 || len >= IFNAMSIZ)
		return net_open_fail(net, err, n, ifname, "not a name of 1 to 15 bytes", 0);
	memcpy(net->ifname, ifname, len + 1);
	net->tap_fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (net->tap_fd < 0)
		return net_open_fail(net, err, n, ifname, "cannot open /dev/net/tun", errno);
	memcpy(ifr.ifr_name, ifname, len + 1);
	if (ioctl(net->tap_fd, TUNSETIFF, &ifr) < 0)
		return net_setiff_fail(net, err, n, ifname, errno);
	if (ioctl(net->tap_fd, TUNSETVNETHDRSZ, &hdr_size) < 0)
		return net_open_fail(net, err, n, ifname, "TUNSETVNETHDRSZ", errno);
	/* Whether this kernel's tap can hand the guest offloaded frames;
	 * until a driver asks for them, it hands over only whole, checksummed
	 * ones. */
	net->is_tap = true;
	net->tap_offloads = ioctl(net->tap_fd, TUNSETOFFLOAD, TUN_OFFLOADS_FOR_GUEST) == 0;
	if (ioctl(net->tap_fd, TUNSETOFFLOAD, 0) < 0)
		return net_open_fail(net, err, n, ifname, "TUNSETOFFLOAD", errno);
	return 0;
}

int virtio_net_init(struct virtio_net *net, const struct guest_mem *mem, struct msi_controller msi,
		    struct irq_line intx)
{
	virtio_device_init(&net->vp.vdev, &virtio_net_ops, net, mem);
	if (net->is_tap && !net->tap_offloads)
		net->vp.vdev.host_features &= ~VIRTIO_NET_GUEST_OFFLOADS;
	return virtio_pci_init(&net->vp, msi, intx);
}

void virtio_net_exit(struct virtio_net *net)
{
	virtio_pci_exit(&net->vp);
	virtio_device_exit(&net->vp.vdev);
	if (net->tap_fd >= 0)
		close(net->tap_fd);
	net->tap_fd = -1;
}

void virtio_net_tap_readable(void *opaque)
{
	struct virtio_net *net = opaque;

	/* Checks the device is live and takes its lock, as a kick does. */
	virtio_device_kick(&net->vp.vdev, VIRTIO_NET_RX_QUEUE);
}
