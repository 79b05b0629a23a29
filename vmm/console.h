/* The host end of the guest's console, the UART or (--console virtio) a
 * virtio console: guest output into a bounded buffer the main loop drains
 * (so a slow reader never blocks a vCPU), and host input fed to the device
 * only as fast as it takes it (so none is lost). On a terminal, input is
 * raw and Ctrl-A x quits. */
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

/* A console device other than the UART (the virtio console): where host
 * input goes, and whom to tell when output may flow again. */
struct console_port {
	/* Takes up to len bytes of host input; returns how many. */
	size_t (*push_input)(void *dev, const uint8_t *data, size_t len);
	/* console_port_write() fell short earlier; the ring has room now. */
	void (*output_space)(void *dev);
	void *dev;
};

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
	bool out_waiting; /* a port write fell short: call output_space */

	uint8_t in_buf[CONSOLE_IN_CHUNK];
	size_t in_pos, in_len;
	bool in_eof, escape_seen;

	struct uart16550 *uart;
	bool uart_muted; /* --console virtio: the UART has no host end */
	bool has_port;
	struct console_port port;
	void (*quit)(void *ctx);
	void *quit_ctx;
};

int console_open(struct console *con, const struct skiff_config *cfg, char *err, size_t err_size);
void console_close(struct console *con);
void console_attach(struct console *con, struct uart16550 *uart, void (*quit)(void *),
		    void *quit_ctx);

/* Makes port the console device: host input goes there, not to the UART. */
void console_attach_port(struct console *con, const struct console_port *port);

/* UART host callbacks (struct uart16550_host). */
void console_guest_tx(void *ctx, uint8_t byte);
void console_guest_rx_space(void *ctx);

/* Guest output from a port that can wait: queues what fits in the output
 * ring and returns how much; port.output_space is called once the ring
 * has room again. Without a host end, everything is taken and dropped.
 * Any thread (ctx is the console). */
size_t console_port_write(void *ctx, const uint8_t *data, size_t len);

/* Main-loop integration: fills up to 3 pollfds, then handles their events. */
unsigned console_pollfds(struct console *con, struct pollfd *fds);
void console_handle(struct console *con, const struct pollfd *fds, unsigned nfds);
/* Writes out what is still queued; called once the vCPUs have stopped. */
void console_drain(struct console *con);

#endif
