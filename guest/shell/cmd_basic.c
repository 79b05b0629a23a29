/* help, echo, uptime, irqs. */
#include "arch/interrupts.h"
#include "arch/layout.h"
#include "kernel/clock.h"
#include "kernel/console.h"
#include "lib/string.h"
#include "shell/commands.h"

void cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	for (unsigned i = 0; i < shell_command_count; i++) {
		const struct shell_command *c = &shell_commands[i];
		int used = (int)(strlen(c->name) + (c->args[0] ? strlen(c->args) + 1 : 0));
		kprintf("  %s%s%s%*s  %s\n", c->name, c->args[0] ? " " : "", c->args,
			used < 20 ? 20 - used : 0, "", c->summary);
	}
}

void cmd_echo(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (i > 1)
			console_puts(" ");
		console_puts(argv[i]);
	}
	console_puts("\n");
}

void cmd_uptime(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	uint64_t ms = clock_ns() / 1000000;
	kprintf("up %llu.%03llu s\n", (unsigned long long)(ms / 1000),
		(unsigned long long)(ms % 1000));
}

void cmd_irqs(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	for (unsigned v = 0; v < NR_VECTORS; v++) {
		uint64_t n = interrupt_count((uint8_t)v);
		const char *name = interrupt_name((uint8_t)v);
		if (!n && !name)
			continue;
		if (!name)
			name = v == VECTOR_SPURIOUS ? "spurious" : "(no handler)";
		kprintf("  0x%02x %10llu  %s\n", v, (unsigned long long)n, name);
	}
}
