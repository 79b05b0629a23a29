#include "devices/virtio/virtio_net.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define PCI_CLASS_NETWORK_ETHERNET 0x020000
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_GSO_NONE 0

/* What goes to the tap in front of every transmitted frame. We offer no
 * offloads, so the only header a driver may send is all zeros; sending our
 * own instead of the guest's keeps guest bytes out of the host kernel's
 * offload parsing. */
static const uint8_t net_plain_hdr[VIRTIO_NET_HDR_BYTES];

/* Appends bufs to iov, leaving out their first `skip` bytes; returns the
 * number of iovecs added (at most nr). */
static unsigned net_iov_from(struct iovec *iov, struct virtq_buf *bufs, unsigned nr, uint64_t skip)
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

/* Writes the header the guest gets with every frame (no offloads, one
 * buffer) into the first bytes of the chain's writable buffers, which the
 * caller checked hold at least a header. */
static void net_put_rx_hdr(struct virtq_chain *chain)
{
	uint8_t hdr[VIRTIO_NET_HDR_BYTES] = {0};
	struct virtq_buf *in = virtq_chain_in(chain);
	size_t done = 0;

	hdr[VIRTIO_NET_HDR_NUM_BUFFERS] = 1;
	for (unsigned i = 0; i < chain->nr_in && done < sizeof(hdr); i++) {
		size_t n = in[i].len < sizeof(hdr) - done ? in[i].len : sizeof(hdr) - done;
		memcpy(in[i].hva, hdr + done, n);
		done += n;
	}
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

/* Makes sure a receive chain is held: 1, 0 when the guest made none
 * available, -1 when the queue broke. */
static int net_rx_hold(struct virtio_net *net)
{
	struct virtio_device *vdev = &net->vp.vdev;
	struct virtq *vq = &vdev->vqs[VIRTIO_NET_RX_QUEUE];
	int rc;

	if (net->rx_held)
		return 1;
	rc = virtq_pop(vq, &net->rx_chain);
	if (rc < 0)
		virtio_device_error(vdev, vq->error);
	if (rc <= 0)
		return rc;
	if (net->rx_chain.nr_out || net->rx_chain.in_bytes < VIRTIO_NET_HDR_BYTES) {
		virtio_device_error(vdev, "receive buffer not device-writable or smaller than the "
					  "virtio-net header");
		return -1;
	}
	net->rx_held = true;
	return 1;
}

/* What the tap put in front of a frame: anything but a plain, fully
 * checksummed frame is beyond a guest that took no offloads. */
static bool net_rx_hdr_plain(const uint8_t *hdr)
{
	return !(hdr[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM) && hdr[1] == VIRTIO_NET_HDR_GSO_NONE;
}

/* Reads one frame into the held chain: 1 delivered, 2 dropped or
 * interrupted (the chain stays held), 0 the tap has nothing, -1 the tap
 * failed. */
static int net_rx_frame(struct virtio_net *net)
{
	struct virtq_chain *chain = &net->rx_chain;
	uint8_t hdr[VIRTIO_NET_HDR_BYTES];
	unsigned nr = 0;

	/* Header to us, frame straight into the guest's buffers, and any
	 * excess into the spill, so a frame too large shows its size. */
	net->iov[nr++] = (struct iovec){hdr, sizeof(hdr)};
	nr += net_iov_from(net->iov + nr, virtq_chain_in(chain), chain->nr_in,
			   VIRTIO_NET_HDR_BYTES);
	net->iov[nr++] = (struct iovec){net->spill, sizeof(net->spill)};
	ssize_t n = readv(net->tap_fd, net->iov, (int)nr);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n < 0 && errno == EINTR)
		return 2;
	if (n <= 0)
		return net_tap_failed(net, "read", n < 0 ? errno : 0);
	if ((uint64_t)n > chain->in_bytes || n < VIRTIO_NET_HDR_BYTES + VIRTIO_NET_MIN_FRAME ||
	    !net_rx_hdr_plain(hdr)) {
		net->stats.rx_dropped++;
		return 2;
	}
	net_put_rx_hdr(chain);
	virtq_push(&net->vp.vdev.vqs[VIRTIO_NET_RX_QUEUE], chain->head, (uint32_t)n);
	net->rx_held = false;
	net->stats.rx_frames++;
	net->stats.rx_bytes += (uint64_t)n - VIRTIO_NET_HDR_BYTES;
	return 1;
}

/* Moves frames from the tap into receive chains until the tap is empty or
 * the guest has no buffers left. Frames then wait in the tap's queue (the
 * kernel drops what does not fit there); the guest's next rx kick, or the
 * next frame, brings us back. Lock held. */
static void net_rx_pump(struct virtio_device *vdev)
{
	struct virtio_net *net = vdev->backend;
	unsigned budget = 2u * vdev->vqs[VIRTIO_NET_RX_QUEUE].size;
	bool delivered = false, more = true;

	while (more && budget && !net->tap_failed) {
		budget--;
		int rc = net_rx_hold(net);
		if (rc == 1)
			rc = net_rx_frame(net);
		delivered |= rc == 1;
		more = rc >= 1;
	}
	if (delivered)
		virtio_queue_notify_driver(vdev, VIRTIO_NET_RX_QUEUE);
	/* Out of budget, not of frames: come back after the other devices. */
	if (more && !budget && vdev->transport->kick)
		vdev->transport->kick(vdev, VIRTIO_NET_RX_QUEUE);
}

static ssize_t net_tap_write(struct virtio_net *net, unsigned nr)
{
	ssize_t n = writev(net->tap_fd, net->iov, (int)nr);

	if (n < 0 && errno == EINTR)
		n = writev(net->tap_fd, net->iov, (int)nr);
	return n;
}

/* One transmit chain: header and frame, device-readable only. A frame the
 * tap refuses (full, link down) is dropped, as a wire would. */
static int64_t net_tx(struct virtio_device *vdev, struct virtq_chain *chain)
{
	struct virtio_net *net = vdev->backend;
	uint64_t frame = chain->out_bytes - VIRTIO_NET_HDR_BYTES;
	unsigned nr = 0;

	if (chain->nr_in || chain->out_bytes < VIRTIO_NET_HDR_BYTES) {
		virtio_device_error(vdev, "transmit request is not a device-readable virtio-net "
					  "header and frame");
		return -1;
	}
	if (frame > VIRTIO_NET_MAX_FRAME) {
		virtio_device_error(vdev, "transmit frame larger than 64 KiB");
		return -1;
	}
	net->iov[nr++] = (struct iovec){(void *)net_plain_hdr, VIRTIO_NET_HDR_BYTES};
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

static void net_queue_notify(struct virtio_device *vdev, unsigned q)
{
	if (q == VIRTIO_NET_RX_QUEUE)
		net_rx_pump(vdev);
	else
		virtio_queue_drain(vdev, q, net_tx);
}

/* Once the driver is live, frames that queued up before are wanted: the
 * I/O thread fetches them as if the driver had kicked. */
static int net_activate(struct virtio_device *vdev)
{
	if (vdev->transport->kick)
		vdev->transport->kick(vdev, VIRTIO_NET_RX_QUEUE);
	return 0;
}

/* A held chain belongs to the queue being reset. */
static void net_reset(struct virtio_device *vdev)
{
	struct virtio_net *net = vdev->backend;

	net->rx_held = false;
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
	.num_queues = 2,
	.queue_max_size = VIRTIO_NET_QUEUE_SIZE,
	.features = VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS,
	.config_size = sizeof(struct virtio_net_config),
	.read_config = net_read_config,
	.activate = net_activate,
	.reset = net_reset,
	.queue_notify = net_queue_notify,
};

void virtio_net_open_fd(struct virtio_net *net, int fd, const uint8_t mac[VIRTIO_NET_MAC_BYTES])
{
	memset(net, 0, sizeof(*net));
	net->tap_fd = fd;
	snprintf(net->ifname, sizeof(net->ifname), "fd %d", fd);
	if (fd >= 0)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	memcpy(net->config.mac, mac, VIRTIO_NET_MAC_BYTES);
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
	/* Headers pass through at the guest's size; no offloads either way,
	 * so the kernel hands us only whole, checksummed frames. */
	if (ioctl(net->tap_fd, TUNSETVNETHDRSZ, &hdr_size) < 0)
		return net_open_fail(net, err, n, ifname, "TUNSETVNETHDRSZ", errno);
	if (ioctl(net->tap_fd, TUNSETOFFLOAD, 0) < 0)
		return net_open_fail(net, err, n, ifname, "TUNSETOFFLOAD", errno);
	return 0;
}

int virtio_net_init(struct virtio_net *net, const struct guest_mem *mem, struct msi_controller msi,
		    struct irq_line intx)
{
	virtio_device_init(&net->vp.vdev, &virtio_net_ops, net, mem);
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
