/* The interactive shell on the serial console. */
#ifndef GUEST_SHELL_SHELL_H
#define GUEST_SHELL_SHELL_H

#define SHELL_PROMPT "skiff# "

/* Prints the prompt, runs the autorun= commands from cmdline (if any) as
 * if typed, then reads and runs commands forever. */
__attribute__((noreturn)) void shell_run(const char *cmdline);
/* Runs one command line (split on spaces). */
void shell_execute(char *line);

#endif
