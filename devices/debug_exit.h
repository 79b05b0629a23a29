/* The isa-debug-exit convention: a write to port 0xf4 powers the machine
 * off. The same guest thus also exits under QEMU with
 * -device isa-debug-exit,iobase=0xf4,iosize=4. */
#ifndef SKIFF_DEVICES_DEBUG_EXIT_H
#define SKIFF_DEVICES_DEBUG_EXIT_H

#include "devices/bus.h"
#include "devices/power.h"

#define DEBUG_EXIT_PORT 0xf4
#define DEBUG_EXIT_SIZE 4

struct debug_exit {
	struct power_ctl power;
};

extern const struct bus_ops debug_exit_ops;

void debug_exit_init(struct debug_exit *dev, struct power_ctl power);

#endif
