#include "devices/i8042.h"

static void i8042_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	/* Status 0: output buffer empty, input buffer empty. Data reads 0. */
	(void)opaque;
	(void)offset;
	data[0] = 0;
}

static void i8042_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct i8042 *dev = opaque;

	if (I8042_PORT_BASE + offset == I8042_CMD_PORT && data[0] == I8042_CMD_RESET)
		power_request(&dev->power, POWER_RESET, 0);
}

const struct bus_ops i8042_ops = {
	.name = "i8042",
	.read = i8042_read,
	.write = i8042_write,
};

void i8042_init(struct i8042 *dev, struct power_ctl power)
{
	dev->power = power;
}
