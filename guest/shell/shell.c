#include "shell/shell.h"

#include <stdbool.h>
#include <stdint.h>

#include "kernel/cmdline.h"
#include "kernel/console.h"
#include "lib/string.h"
#include "shell/commands.h"

#define LINE_MAX 256
#define ARGS_MAX 32
#define AUTORUN_MAX 1024

#define KEY_CTRL_C 0x03
#define KEY_BACKSPACE 0x08
#define KEY_CTRL_U 0x15
#define KEY_ESCAPE 0x1b
#define KEY_DELETE 0x7f

/* Input state that outlives one line: a CR LF pair must end just one line,
 * and terminal escape sequences (arrow keys) are swallowed whole. */
struct line_editor {
	bool last_was_cr;
	enum { ESC_NONE, ESC_START, ESC_PARAMS } escape;
};

static struct line_editor editor;

static void echo_char(char c)
{
	console_write(&c, 1);
}

/* true while c belongs to an escape sequence being skipped. */
static bool skip_escape(struct line_editor *ed, uint8_t c)
{
	switch (ed->escape) {
	case ESC_START:
		ed->escape = (c == '[' || c == 'O') ? ESC_PARAMS : ESC_NONE;
		return true;
	case ESC_PARAMS:
		if (c >= 0x40 && c <= 0x7e)
			ed->escape = ESC_NONE;
		return true;
	default:
		if (c != KEY_ESCAPE)
			return false;
		ed->escape = ESC_START;
		return true;
	}
}

static void erase_chars(size_t n)
{
	while (n--)
		console_puts("\b \b");
}

/* Reads one line with echo and simple editing; returns its length. CR, LF
 * and CR LF all end a line. */
static size_t read_line(struct line_editor *ed, char *buf, size_t size)
{
	size_t len = 0;

	for (;;) {
		uint8_t c = console_getc();
		bool after_cr = ed->last_was_cr;

		ed->last_was_cr = c == '\r';
		if (c == '\n' && after_cr)
			continue; /* the LF of a CR LF */
		if (skip_escape(ed, c))
			continue;
		if (c == '\r' || c == '\n') {
			console_puts("\n");
			buf[len] = '\0';
			return len;
		}
		if (c == KEY_BACKSPACE || c == KEY_DELETE) {
			if (len) {
				len--;
				erase_chars(1);
			}
		} else if (c == KEY_CTRL_U) {
			erase_chars(len);
			len = 0;
		} else if (c == KEY_CTRL_C) {
			console_puts("^C\n");
			buf[0] = '\0';
			return 0;
		} else if (c >= 0x20 && c < 0x7f && len + 1 < size) {
			buf[len++] = (char)c;
			echo_char((char)c);
		}
	}
}

static int split_args(char *line, char **argv, int max)
{
	int argc = 0;
	char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			*p++ = '\0';
		if (!*p || argc == max - 1)
			break;
		argv[argc++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
	}
	argv[argc] = NULL;
	return argc;
}

static const struct shell_command *find_command(const char *name)
{
	for (unsigned i = 0; i < shell_command_count; i++) {
		if (strcmp(shell_commands[i].name, name) == 0)
			return &shell_commands[i];
	}
	return NULL;
}

size_t shell_join_args(int argc, char **argv, int first, char *buf, size_t size)
{
	size_t len = 0;

	if (!size)
		return 0;
	for (int i = first; i < argc; i++) {
		for (const char *p = i > first ? " " : ""; *p && len + 1 < size; p++)
			buf[len++] = *p;
		for (const char *p = argv[i]; *p && len + 1 < size; p++)
			buf[len++] = *p == '+' ? ' ' : *p;
	}
	buf[len] = '\0';
	return len;
}

void shell_execute(char *line)
{
	char *argv[ARGS_MAX];
	int argc = split_args(line, argv, ARGS_MAX);

	if (argc == 0)
		return;
	const struct shell_command *cmd = find_command(argv[0]);
	if (cmd)
		cmd->run(argc, argv);
	else
		kprintf("unknown command: %s (try help)\n", argv[0]);
}

/* autorun=CMD[;CMD...] with '+' for spaces: each runs as if typed at a
 * prompt, so the console shows the same transcript. */
static void run_autorun(const char *cmdline)
{
	static char script[AUTORUN_MAX];

	if (!cmdline_get(cmdline, "autorun", script, sizeof(script)))
		return;
	for (char *p = script; *p; p++) {
		if (*p == '+')
			*p = ' ';
	}
	char *cmd = script;
	while (cmd) {
		char *next = strchr(cmd, ';');
		if (next)
			*next++ = '\0';
		kprintf("%s\n", cmd);
		shell_execute(cmd);
		console_puts(SHELL_PROMPT);
		cmd = next;
	}
}

void shell_run(const char *cmdline)
{
	static char line[LINE_MAX];

	console_puts(SHELL_PROMPT);
	run_autorun(cmdline);
	for (;;) {
		read_line(&editor, line, sizeof(line));
		shell_execute(line);
		console_puts(SHELL_PROMPT);
	}
}
