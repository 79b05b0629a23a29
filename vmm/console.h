/* The host end of the serial console: guest output into a bounded buffer
 * the main loop drains (so a slow reader never blocks a vCPU), and host
 * input fed to the UART only as fast as its FIFO takes it (so none is
 * lost). On a terminal, input is raw and Ctrl-A x quits. */
#ifndef SKIFF_VMM_CONSOLE_H
#define SKIFF_VMM_CONSOLE_H

#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#include "devices/uart16550.h"
#include "vmm/config.h"

#define CONSOLE_OUT_CAP (1u << 20)
#define CONSOLE_IN_CHUNK 256
#define CONSOLE_ESCAPE 0x01 /* Ctrl-A */

struct console {
	int in_fd, out_fd;
	bool close_out; /* out_fd was opened for a file: console */
	bool tty_raw;
	struct termios saved_tty;
	int wake_fd; /* eventfd: output queued or the UART has room */

	pthread_mutex_t lock; /* guards the output ring */
	uint8_t *out_ring;
	size_t out_head, out_len;
	uint64_t out_dropped;

	uint8_t in_buf[CONSOLE_IN_CHUNK];
	size_t in_pos, in_len;
	bool in_eof, escape_seen;

	struct uart16550 *uart;
	void (*quit)(void *ctx);
	void *quit_ctx;
};

int console_open(struct console *con, const struct skiff_config *cfg, char *err, size_t err_size);
void console_close(struct console *con);
void console_attach(struct console *con, struct uart16550 *uart, void (*quit)(void *),
		    void *quit_ctx);

/* UART host callbacks (struct uart16550_host). */
void console_guest_tx(void *ctx, uint8_t byte);
void console_guest_rx_space(void *ctx);

/* Main-loop integration: fills up to 3 pollfds, then handles their events. */
unsigned console_pollfds(struct console *con, struct pollfd *fds);
void console_handle(struct console *con, const struct pollfd *fds, unsigned nfds);
/* Writes out what is still queued; called once the vCPUs have stopped. */
void console_drain(struct console *con);

#endif
