/* poweroff, reboot, triple-fault, fault: the ways out of the guest. */
#include "arch/cpu.h"
#include "arch/interrupts.h"
#include "arch/paging.h"
#include "drivers/power.h"
#include "kernel/clock.h"
#include "kernel/console.h"
#include "shell/commands.h"

/* How long to wait for a requested reset before forcing one: the VMM may
 * act on the port write asynchronously. */
#define RESET_GRACE_US 1000000

void cmd_poweroff(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	kprintf("skiff-guest: powering off\n");
	power_off_debug_exit();
	kprintf("poweroff failed\n");
	cpu_halt_forever();
}

void cmd_reboot(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	kprintf("skiff-guest: rebooting\n");
	reset_via_i8042();
	clock_delay_us(RESET_GRACE_US);
	kprintf("skiff-guest: i8042 reset did not happen; triple-faulting\n");
	trigger_triple_fault();
}

void cmd_triple_fault(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	kprintf("skiff-guest: triple-faulting on purpose\n");
	trigger_triple_fault();
}

void cmd_fault(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	/* Device BARs may be mapped above 4 GiB, but never this high. */
	volatile uint64_t *unmapped = phys_to_virt(PAGING_MMIO_LIMIT + 0x1234);

	kprintf("skiff-guest: reading unmapped address %p\n", (void *)unmapped);
	(void)*unmapped;
	kprintf("skiff-guest: the read did not fault\n");
}
