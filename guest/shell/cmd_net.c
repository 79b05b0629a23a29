/* net: the virtio-net interface. */
#include "drivers/virtio_net.h"
#include "kernel/console.h"
#include "lib/string.h"
#include "shell/commands.h"

void cmd_net(int argc, char **argv)
{
	if (argc > 2 || (argc == 2 && strcmp(argv[1], "info") != 0)) {
		kprintf("usage: net [info]\n");
		return;
	}
	struct virtio_dev *dev = net_device();
	if (!dev) {
		kprintf("net: no virtio-net device\n");
		return;
	}
	virtio_check_status(dev);
	net_poll();
	const struct netif *nif = net_interface();
	const uint8_t *m = nif->mac;
	uint32_t ip = nif->ip;
	kprintf("%s: mac %02x:%02x:%02x:%02x:%02x:%02x ip %u.%u.%u.%u/%u rx %llu tx %llu%s%s\n",
		dev->name, m[0], m[1], m[2], m[3], m[4], m[5], ip >> 24, (ip >> 16) & 0xff,
		(ip >> 8) & 0xff, ip & 0xff, nif->prefix_len, (unsigned long long)nif->rx_frames,
		(unsigned long long)nif->tx_frames, dev->stopped ? ", stopped: " : "",
		dev->stopped ? dev->stopped : "");
}
