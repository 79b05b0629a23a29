#include "drivers/power.h"

#include "arch/cpu.h"

#define I8042_STATUS 0x64
#define I8042_COMMAND 0x64
#define I8042_INPUT_FULL 0x02
#define I8042_PULSE_RESET 0xfe
#define I8042_WAIT_LIMIT 100000

void power_off_debug_exit(void)
{
	outb(DEBUG_EXIT_PORT, 0);
}

void reset_via_i8042(void)
{
	/* The controller ignores commands while its input buffer is full; a
	 * missing controller reads 0xff, so the wait is bounded. */
	for (int i = 0; i < I8042_WAIT_LIMIT; i++) {
		if (!(inb(I8042_STATUS) & I8042_INPUT_FULL))
			break;
		cpu_relax();
	}
	outb(I8042_COMMAND, I8042_PULSE_RESET);
}
