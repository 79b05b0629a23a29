#include "shell/commands.h"

const struct shell_command shell_commands[] = {
	{"help", "", "list the commands", cmd_help},
	{"info", "", "CPUs, memory, memory map, MMU and command line", cmd_info},
	{"echo", "ARGS...", "print the arguments", cmd_echo},
	{"uptime", "", "time since boot", cmd_uptime},
	{"irqs", "", "interrupt counts by vector", cmd_irqs},
	{"poweroff", "", "power off through the isa-debug-exit port", cmd_poweroff},
	{"reboot", "", "reset through the i8042, else triple-fault", cmd_reboot},
	{"triple-fault", "", "crash the guest on purpose (empty IDT + exception)",
	 cmd_triple_fault},
	{"fault", "", "page-fault on purpose: the report, then this CPU halts", cmd_fault},
	{"pci", "[-v]", "PCI functions (-v: BARs, command, capabilities)", cmd_pci},
	{"virtio", "[break NAME [QUEUE]]",
	 "virtio devices: status, features, queues (break: send a malformed chain; pcicfg: read "
	 "through the PCI config window)",
	 cmd_virtio},
	{"blk", "OP ARGS", "virtio-blk: info, read, write, flush, zero, discard, fill, verify",
	 cmd_blk},
	{"net", "[info]", "virtio-net: address and frame counts", cmd_net},
	{"rng", "N", "N bytes (up to 256) from virtio-rng, in hex", cmd_rng},
	{"vcon", "TEXT", "TEXT and a newline to the virtio console", cmd_vcon},
	{"vcon-read", "", "what arrived on the virtio console", cmd_vcon_read},
};

const unsigned shell_command_count = sizeof(shell_commands) / sizeof(shell_commands[0]);
