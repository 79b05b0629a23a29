/* rng: bytes from the virtio-rng device. */
#include "drivers/virtio_rng.h"
#include "kernel/console.h"
#include "lib/string.h"
#include "shell/commands.h"

void cmd_rng(int argc, char **argv)
{
	static uint8_t bytes[RNG_MAX_BYTES];
	static char hex[2 * RNG_MAX_BYTES + 1];
	uint64_t n;

	if (argc != 2 || !parse_u64(argv[1], &n) || n < 1 || n > RNG_MAX_BYTES) {
		kprintf("usage: rng N (1-%d)\n", RNG_MAX_BYTES);
		return;
	}
	struct virtio_dev *dev = rng_device();
	if (!dev) {
		kprintf("rng: no virtio-rng device\n");
		return;
	}
	virtio_check_status(dev);
	size_t got = rng_read(bytes, (size_t)n);
	if (got < n) {
		kprintf("rng: failed after %u of %u bytes%s%s\n", (unsigned)got, (unsigned)n,
			dev->stopped ? ": device stopped: " : "", dev->stopped ? dev->stopped : "");
		return;
	}
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < got; i++) {
		hex[2 * i] = digits[bytes[i] >> 4];
		hex[2 * i + 1] = digits[bytes[i] & 0xf];
	}
	hex[2 * got] = '\0';
	kprintf("rng: %s\n", hex);
}
