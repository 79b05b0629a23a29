/* Leaving the machine: the isa-debug-exit port and the i8042 reset line. */
#ifndef GUEST_DRIVERS_POWER_H
#define GUEST_DRIVERS_POWER_H

#define DEBUG_EXIT_PORT 0xf4

/* Writes 0 to the isa-debug-exit port: Skiff exits with status 0, QEMU
 * with (0 << 1) | 1 = 1. Returns only if nothing is listening there. */
void power_off_debug_exit(void);
/* Pulses the CPU reset line through the keyboard controller (command 0xfe
 * to port 0x64). Returns if the reset did not happen. */
void reset_via_i8042(void);

#endif
