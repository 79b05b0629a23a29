#include "drivers/virtio_net.h"

#include "kernel/bootinfo.h"
#include "kernel/clock.h"
#include "kernel/cmdline.h"
#include "kernel/console.h"
#include "kernel/dma.h"
#include "kernel/idle.h"
#include "lib/string.h"

#define VIRTIO_NET_F_MAC 5

#define CONFIG_MAC 0

#define RX_QUEUE 0
#define TX_QUEUE 1
#define QUEUE_SIZE 64
#define RX_BUFFERS 32
#define TX_BUFFERS 16
#define BUFFER_SIZE 2048
#define POLL_BUDGET 64 /* frames per net_poll: bounds the time in one call */

/* struct virtio_net_hdr as VIRTIO_F_VERSION_1 has it (with num_buffers). */
struct net_header {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
} __attribute__((packed));

#define HEADER_LEN sizeof(struct net_header)

static struct {
	struct virtio_dev *dev;
	struct virtq rx, tx;
	uint8_t *rx_buffers; /* RX_BUFFERS * BUFFER_SIZE */
	uint8_t *tx_buffers; /* TX_BUFFERS * BUFFER_SIZE */
	unsigned rx_count, tx_count;
	bool tx_free[TX_BUFFERS];
	struct netif nif;
	bool polling; /* net_poll is running: no re-entry from a transmit */
} net;

static bool post_rx(unsigned i)
{
	struct virtq_buf buf = {net.rx_buffers + (size_t)i * BUFFER_SIZE, BUFFER_SIZE, true};

	/* The token must not be NULL: buffer i travels as i + 1. */
	return virtq_add(&net.rx, &buf, 1, (void *)(uintptr_t)(i + 1));
}

static void reclaim_tx(void)
{
	void *token;

	while ((token = virtq_get_used(&net.tx, NULL))) {
		uintptr_t i = (uintptr_t)token - 1;
		if (i < net.tx_count)
			net.tx_free[i] = true;
	}
	if (net.tx.broken)
		virtio_queue_broken(net.dev, &net.tx);
}

static bool net_transmit(const void *frame, size_t len)
{
	if (!net.dev || !net.dev->live || len > BUFFER_SIZE - HEADER_LEN)
		return false;
	reclaim_tx();
	for (unsigned i = 0; i < net.tx_count; i++) {
		if (!net.tx_free[i])
			continue;
		uint8_t *buf = net.tx_buffers + (size_t)i * BUFFER_SIZE;
		memset(buf, 0, HEADER_LEN); /* no offloads asked for */
		memcpy(buf + HEADER_LEN, frame, len);
		struct virtq_buf b = {buf, (uint32_t)(HEADER_LEN + len), false};
		if (!virtq_add(&net.tx, &b, 1, (void *)(uintptr_t)(i + 1)))
			return false;
		net.tx_free[i] = false;
		virtio_kick(net.dev, &net.tx);
		return true;
	}
	return false; /* every buffer is with the device: dropped */
}

void net_poll(void)
{
	if (!net.dev || net.polling || !virtio_check(net.dev))
		return;
	net.polling = true;
	unsigned reposted = 0;
	void *token;
	uint32_t len;

	for (unsigned n = 0; n < POLL_BUDGET && (token = virtq_get_used(&net.rx, &len)); n++) {
		uintptr_t i = (uintptr_t)token - 1;
		if (i >= net.rx_count)
			continue;
		const uint8_t *buf = net.rx_buffers + i * BUFFER_SIZE;
		if (len > HEADER_LEN)
			netstack_input(&net.nif, buf + HEADER_LEN, len - HEADER_LEN);
		if (post_rx((unsigned)i))
			reposted++;
	}
	if (net.rx.broken)
		virtio_queue_broken(net.dev, &net.rx);
	else if (reposted)
		virtio_kick(net.dev, &net.rx);
	reclaim_tx();
	net.polling = false;
}

static void read_mac(struct virtio_dev *dev)
{
	if (virtio_has_feature(dev, VIRTIO_NET_F_MAC) && virtio_config_size(dev) >= ETH_ALEN) {
		for (unsigned i = 0; i < ETH_ALEN; i++)
			net.nif.mac[i] = virtio_config_read8(dev, CONFIG_MAC + i);
		return;
	}
	/* No MAC from the device: a locally administered one, 02:53:4b ("SK")
	 * and three bytes of boot time. */
	uint64_t t = clock_ns();
	uint8_t mac[ETH_ALEN] = {0x02,	    0x53, 0x4b, (uint8_t)(t >> 16), (uint8_t)(t >> 8),
				 (uint8_t)t};
	memcpy(net.nif.mac, mac, ETH_ALEN);
}

static void read_address(void)
{
	char value[32];

	if (!cmdline_get(bootinfo.cmdline, "ip", value, sizeof(value)) ||
	    !netstack_parse_ip(value, &net.nif.ip, &net.nif.prefix_len)) {
		if (cmdline_get(bootinfo.cmdline, "ip", value, sizeof(value)))
			kprintf("skiff-guest: net0: bad ip=%s, using %s\n", value, NET_DEFAULT_IP);
		netstack_parse_ip(NET_DEFAULT_IP, &net.nif.ip, &net.nif.prefix_len);
	}
}

static bool net_probe(struct virtio_dev *dev)
{
	uint64_t wanted = VIRTIO_FEATURE(VIRTIO_NET_F_MAC) | VIRTIO_FEATURE(VIRTIO_F_EVENT_IDX);

	net.dev = dev;
	if (!virtio_start(dev, wanted, 2))
		return false;
	read_mac(dev);
	read_address();
	net.nif.transmit = net_transmit;

	net.rx_buffers = dma_alloc((size_t)RX_BUFFERS * BUFFER_SIZE, 4096);
	net.tx_buffers = dma_alloc((size_t)TX_BUFFERS * BUFFER_SIZE, 4096);
	if (!net.rx_buffers || !net.tx_buffers) {
		virtio_fail(dev, "out of memory");
		return false;
	}
	if (!virtio_setup_queue(dev, &net.rx, RX_QUEUE, QUEUE_SIZE, 0) ||
	    !virtio_setup_queue(dev, &net.tx, TX_QUEUE, QUEUE_SIZE, 0))
		return false;
	net.rx_count = net.rx.size < RX_BUFFERS ? net.rx.size : RX_BUFFERS;
	net.tx_count = net.tx.size < TX_BUFFERS ? net.tx.size : TX_BUFFERS;
	for (unsigned i = 0; i < net.tx_count; i++)
		net.tx_free[i] = true;
	/* Receive buffers go in before DRIVER_OK; the notification after. */
	for (unsigned i = 0; i < net.rx_count; i++)
		post_rx(i);
	if (!virtio_driver_ok(dev))
		return false;
	virtio_kick(dev, &net.rx);
	idle_register(net_poll);
	netstack_announce(&net.nif);
	return true;
}

const struct virtio_driver virtio_net_driver = {VIRTIO_ID_NET, "net", net_probe};

struct virtio_dev *net_device(void)
{
	return net.dev;
}

const struct netif *net_interface(void)
{
	return &net.nif;
}
