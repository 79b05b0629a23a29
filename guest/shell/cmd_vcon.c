/* vcon, vcon-read: port 0 of the virtio console. */
#include "drivers/virtio_console.h"
#include "kernel/console.h"
#include "shell/commands.h"

static struct virtio_dev *device_or_complain(void)
{
	struct virtio_dev *dev = vcon_device();

	if (!dev)
		kprintf("vcon: no virtio-console device\n");
	else
		virtio_check_status(dev);
	return dev;
}

void cmd_vcon(int argc, char **argv)
{
	static char text[VCON_MAX_WRITE];

	if (argc < 2) {
		kprintf("usage: vcon TEXT\n");
		return;
	}
	struct virtio_dev *dev = device_or_complain();
	if (!dev)
		return;
	size_t len = shell_join_args(argc, argv, 1, text, sizeof(text) - 1);
	text[len++] = '\n';
	long sent = vcon_write(text, len);
	if (sent < 0)
		kprintf("vcon: write failed%s%s\n", dev->stopped ? ": device stopped: " : "",
			dev->stopped ? dev->stopped : "");
	else
		kprintf("vcon: sent %ld bytes\n", sent);
}

void cmd_vcon_read(int argc, char **argv)
{
	char buf[256];
	char text[sizeof(buf) + 1];

	(void)argv;
	if (argc != 1) {
		kprintf("usage: vcon-read\n");
		return;
	}
	if (!device_or_complain())
		return;
	size_t n = vcon_receive(buf, sizeof(buf));
	for (size_t i = 0; i < n; i++)
		text[i] = (buf[i] >= 0x20 && buf[i] < 0x7f) ? buf[i] : '.';
	text[n] = '\0';
	kprintf("vcon: received %u bytes: %s\n", (unsigned)n, text);
}
