/* Just enough of the i8042 keyboard controller for the guest to reset the
 * machine (command 0xfe) and for probes to find no keyboard. */
#ifndef SKIFF_DEVICES_I8042_H
#define SKIFF_DEVICES_I8042_H

#include "devices/bus.h"
#include "devices/power.h"

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT 0x64
#define I8042_CMD_RESET 0xfe
/* One range 0x60-0x64: KVM's in-kernel PIT claims the speaker gate at 0x61
 * before an access could reach us, and nothing lives at 0x62-0x63. */
#define I8042_PORT_BASE 0x60
#define I8042_PORT_LEN 5

struct i8042 {
	struct power_ctl power;
};

extern const struct bus_ops i8042_ops;

void i8042_init(struct i8042 *dev, struct power_ctl power);

#endif
