#include "vmm/console.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vmm/output_file.h"

static void console_wake(struct console *con)
{
	uint64_t one = 1;

	(void)!write(con->wake_fd, &one, sizeof(one));
}

static void console_enter_raw(struct console *con)
{
	struct termios raw;

	if (!isatty(con->in_fd) || tcgetattr(con->in_fd, &con->saved_tty) < 0)
		return;
	raw = con->saved_tty;
	cfmakeraw(&raw);
	/* Keep output post-processing so our own messages stay readable. */
	raw.c_oflag |= OPOST;
	if (tcsetattr(con->in_fd, TCSANOW, &raw) == 0)
		con->tty_raw = true;
}

int console_open(struct console *con, const struct skiff_config *cfg, char *err, size_t err_size)
{
	memset(con, 0, sizeof(*con));
	con->in_fd = con->out_fd = -1;
	pthread_mutex_init(&con->lock, NULL);
	con->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	con->out_ring = malloc(CONSOLE_OUT_CAP);
	if (con->wake_fd < 0 || !con->out_ring) {
		snprintf(err, err_size, "console: %s", strerror(errno));
		return -1;
	}
	if (cfg->console == CONSOLE_STDIO || cfg->console == CONSOLE_VIRTIO) {
		con->in_fd = STDIN_FILENO;
		con->out_fd = STDOUT_FILENO;
		con->uart_muted = cfg->console == CONSOLE_VIRTIO;
		console_enter_raw(con);
	} else if (cfg->console == CONSOLE_FILE) {
		con->out_fd = output_file_open(cfg, "--console", cfg->console_path, err, err_size);
		if (con->out_fd < 0)
			return -1;
		con->close_out = true;
	}
	con->in_eof = con->in_fd < 0;
	return 0;
}

void console_close(struct console *con)
{
	if (con->tty_raw)
		tcsetattr(con->in_fd, TCSANOW, &con->saved_tty);
	if (con->close_out && con->out_fd >= 0)
		close(con->out_fd);
	if (con->wake_fd >= 0)
		close(con->wake_fd);
	free(con->out_ring);
	pthread_mutex_destroy(&con->lock);
	con->out_ring = NULL;
	con->wake_fd = con->out_fd = con->in_fd = -1;
}

void console_attach(struct console *con, struct uart16550 *uart, void (*quit)(void *),
		    void *quit_ctx)
{
	con->uart = uart;
	con->quit = quit;
	con->quit_ctx = quit_ctx;
}

void console_attach_port(struct console *con, const struct console_port *port)
{
	con->port = *port;
	con->has_port = true;
}

void console_guest_tx(void *ctx, uint8_t byte)
{
	struct console *con = ctx;
	bool was_empty;

	if (con->out_fd < 0 || con->uart_muted)
		return;
	pthread_mutex_lock(&con->lock);
	was_empty = con->out_len == 0;
	if (con->out_len == CONSOLE_OUT_CAP) {
		con->out_dropped++;
	} else {
		con->out_ring[(con->out_head + con->out_len) % CONSOLE_OUT_CAP] = byte;
		con->out_len++;
	}
	pthread_mutex_unlock(&con->lock);
	if (was_empty)
		console_wake(con);
}

void console_guest_rx_space(void *ctx)
{
	console_wake(ctx);
}

/* Copies what fits of data into the ring; lock held. */
static size_t console_ring_put(struct console *con, const uint8_t *data, size_t len)
{
	size_t room = CONSOLE_OUT_CAP - con->out_len, done = 0;

	if (len > room)
		len = room;
	while (done < len) {
		size_t at = (con->out_head + con->out_len) % CONSOLE_OUT_CAP;
		size_t n = CONSOLE_OUT_CAP - at < len - done ? CONSOLE_OUT_CAP - at : len - done;
		memcpy(con->out_ring + at, data + done, n);
		con->out_len += n;
		done += n;
	}
	return done;
}

size_t console_port_write(void *ctx, const uint8_t *data, size_t len)
{
	struct console *con = ctx;
	size_t done;
	bool was_empty;

	pthread_mutex_lock(&con->lock);
	if (con->out_fd < 0) {
		pthread_mutex_unlock(&con->lock);
		return len;
	}
	was_empty = con->out_len == 0;
	done = console_ring_put(con, data, len);
	/* The port waits for room rather than lose output. */
	if (done < len)
		con->out_waiting = true;
	pthread_mutex_unlock(&con->lock);
	if (was_empty && done)
		console_wake(con);
	return done;
}

/* Tells a port that fell short that the ring has room (or no host end). */
static void console_port_resume(struct console *con)
{
	pthread_mutex_lock(&con->lock);
	bool waiting = con->out_waiting;
	con->out_waiting = false;
	pthread_mutex_unlock(&con->lock);
	if (waiting && con->has_port)
		con->port.output_space(con->port.dev);
}

/* Writes one contiguous piece of the ring; false when the fd failed. */
static bool console_write_some(struct console *con, size_t max)
{
	pthread_mutex_lock(&con->lock);
	size_t chunk = con->out_len;
	if (chunk > CONSOLE_OUT_CAP - con->out_head)
		chunk = CONSOLE_OUT_CAP - con->out_head;
	if (chunk > max)
		chunk = max;
	const uint8_t *from = con->out_ring + con->out_head;
	pthread_mutex_unlock(&con->lock);
	if (chunk == 0)
		return true;

	/* Only this thread consumes, so [from, from+chunk) stays put. */
	ssize_t n = write(con->out_fd, from, chunk);
	if (n < 0 && errno != EINTR && errno != EAGAIN) {
		pthread_mutex_lock(&con->lock);
		con->out_dropped += con->out_len;
		con->out_len = 0;
		pthread_mutex_unlock(&con->lock);
		if (con->close_out)
			close(con->out_fd);
		pthread_mutex_lock(&con->lock);
		con->out_fd = -1;
		pthread_mutex_unlock(&con->lock);
		console_port_resume(con);
		return false;
	}
	if (n > 0) {
		pthread_mutex_lock(&con->lock);
		con->out_head = (con->out_head + (size_t)n) % CONSOLE_OUT_CAP;
		con->out_len -= (size_t)n;
		pthread_mutex_unlock(&con->lock);
		console_port_resume(con);
	}
	return true;
}

static bool console_output_pending(struct console *con)
{
	pthread_mutex_lock(&con->lock);
	bool pending = con->out_len != 0;
	pthread_mutex_unlock(&con->lock);
	return pending;
}

/* Handles Ctrl-A sequences on a terminal; returns false to drop the byte. */
static bool console_filter_escape(struct console *con, uint8_t byte)
{
	if (!con->tty_raw)
		return true;
	if (con->escape_seen) {
		con->escape_seen = false;
		if (byte == 'x' || byte == 'X') {
			if (con->quit)
				con->quit(con->quit_ctx);
			return false;
		}
		return byte == CONSOLE_ESCAPE; /* Ctrl-A Ctrl-A sends one Ctrl-A */
	}
	if (byte == CONSOLE_ESCAPE) {
		con->escape_seen = true;
		return false;
	}
	return true;
}

static void console_read_input(struct console *con)
{
	uint8_t raw[CONSOLE_IN_CHUNK];
	ssize_t n = read(con->in_fd, raw, sizeof(raw));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		con->in_eof = true;
		return;
	}
	con->in_pos = con->in_len = 0;
	for (ssize_t i = 0; i < n; i++)
		if (console_filter_escape(con, raw[i]))
			con->in_buf[con->in_len++] = raw[i];
}

/* Host input to the console device, as much as it takes now. */
static void console_feed(struct console *con)
{
	const uint8_t *data = con->in_buf + con->in_pos;
	size_t len = con->in_len - con->in_pos;

	if (!len)
		return;
	if (con->has_port)
		con->in_pos += con->port.push_input(con->port.dev, data, len);
	else if (con->uart && !con->uart_muted)
		con->in_pos += uart16550_push_input(con->uart, data, len);
}

unsigned console_pollfds(struct console *con, struct pollfd *fds)
{
	unsigned n = 0;

	fds[n++] = (struct pollfd){.fd = con->wake_fd, .events = POLLIN};
	/* Read more only once the device took everything read before. */
	if (!con->in_eof && con->in_pos == con->in_len)
		fds[n++] = (struct pollfd){.fd = con->in_fd, .events = POLLIN};
	if (con->out_fd >= 0 && console_output_pending(con))
		fds[n++] = (struct pollfd){.fd = con->out_fd, .events = POLLOUT};
	return n;
}

void console_handle(struct console *con, const struct pollfd *fds, unsigned nfds)
{
	for (unsigned i = 0; i < nfds; i++) {
		if (!fds[i].revents)
			continue;
		if (fds[i].fd == con->wake_fd) {
			uint64_t count;
			(void)!read(con->wake_fd, &count, sizeof(count));
		} else if (fds[i].fd == con->in_fd && (fds[i].events & POLLIN)) {
			console_read_input(con);
		} else if (fds[i].fd == con->out_fd) {
			/* POLLOUT on a pipe promises PIPE_BUF bytes without blocking. */
			console_write_some(con, 4096);
		}
	}
	console_feed(con);
}

void console_drain(struct console *con)
{
	while (con->out_fd >= 0 && console_output_pending(con))
		if (!console_write_some(con, CONSOLE_OUT_CAP))
			break;
	if (con->out_dropped)
		fprintf(stderr, "skiff: console output fell behind; %llu bytes dropped\n",
			(unsigned long long)con->out_dropped);
}
