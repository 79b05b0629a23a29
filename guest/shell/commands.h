/* The shell's commands. Adding one: write a function with the
 * shell_command_fn signature (in its own cmd_*.c file, or next to related
 * ones), declare it below, and add a row to the table in command_table.c. */
#ifndef GUEST_SHELL_COMMANDS_H
#define GUEST_SHELL_COMMANDS_H

#include <stddef.h>

/* argv[0] is the command name; argv[argc] is NULL. */
typedef void (*shell_command_fn)(int argc, char **argv);

struct shell_command {
	const char *name;
	const char *args; /* shown by help, e.g. "ARGS..."; "" if none */
	const char *summary;
	shell_command_fn run;
};

extern const struct shell_command shell_commands[];
extern const unsigned shell_command_count;

void cmd_help(int argc, char **argv);
void cmd_info(int argc, char **argv);
void cmd_echo(int argc, char **argv);
void cmd_uptime(int argc, char **argv);
void cmd_irqs(int argc, char **argv);
void cmd_poweroff(int argc, char **argv);
void cmd_reboot(int argc, char **argv);
void cmd_triple_fault(int argc, char **argv);
void cmd_fault(int argc, char **argv);
void cmd_pci(int argc, char **argv);
void cmd_virtio(int argc, char **argv);
void cmd_blk(int argc, char **argv);
void cmd_net(int argc, char **argv);
void cmd_rng(int argc, char **argv);
void cmd_vcon(int argc, char **argv);
void cmd_vcon_read(int argc, char **argv);

/* For commands taking text: argv[first..] joined by single spaces, with
 * '+' turned into a space (the command line has no other way to carry
 * one). Truncated to size - 1 bytes; returns the length. */
size_t shell_join_args(int argc, char **argv, int first, char *buf, size_t size);

#endif
