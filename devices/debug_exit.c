#include "devices/debug_exit.h"

#include <string.h>

static void debug_exit_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct debug_exit *dev = opaque;
	uint32_t value = 0;

	memcpy(&value, data, len > sizeof(value) ? sizeof(value) : len);
	power_request(&dev->power, POWER_OFF, value);
}

const struct bus_ops debug_exit_ops = {
	.name = "isa-debug-exit",
	.write = debug_exit_write,
};

void debug_exit_init(struct debug_exit *dev, struct power_ctl power)
{
	dev->power = power;
}
