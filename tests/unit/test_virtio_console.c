/* virtio-console without KVM: the real I/O thread runs the device on rings
 * in a real guest RAM, the test plays the driver and, with a host end of
 * adjustable room, the VMM's console. Then the console's host side
 * (vmm/console.c) with a port in place of the UART: output through the
 * bounded ring with flow control, input only as fast as the port takes it. */
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/virtio/virtio_console.h"
#include "fake_irq.h"
#include "mm/guest_mem.h"
#include "vmm/cli.h"
#include "vmm/console.h"
#include "vmm/ioloop.h"

#define RAM_SIZE (2 * GUEST_MIB)
#define QSIZE 8
#define RX VIRTIO_CONSOLE_RX_QUEUE
#define TX VIRTIO_CONSOLE_TX_QUEUE
#define BUF 0x100000ULL /* buffer i at BUF + i * 0x1000 */

static const uint64_t ring_base[2] = {0x10000, 0x14000};

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

/* The host end: takes output while it has room, counts rx_space calls. */
struct fake_host {
	pthread_mutex_t lock;
	uint8_t out[4096];
	size_t out_len, room;
	int rx_space_calls;
};

struct rig {
	struct guest_mem mem;
	struct ioloop loop;
	struct virtio_console vc;
	struct fake_host host;
	struct fake_irq irq;
	uint16_t avail_idx[2];
	uint16_t next_desc[2];
};

static size_t host_write(void *ctx, const uint8_t *data, size_t len)
{
	struct fake_host *h = ctx;

	pthread_mutex_lock(&h->lock);
	size_t n = len < h->room ? len : h->room;
	memcpy(h->out + h->out_len, data, n);
	h->out_len += n;
	h->room -= n;
	pthread_mutex_unlock(&h->lock);
	return n;
}

static void host_rx_space(void *ctx)
{
	struct fake_host *h = ctx;

	__atomic_add_fetch(&h->rx_space_calls, 1, __ATOMIC_SEQ_CST);
}

static size_t host_out_len(struct rig *r)
{
	pthread_mutex_lock(&r->host.lock);
	size_t n = r->host.out_len;
	pthread_mutex_unlock(&r->host.lock);
	return n;
}

static void host_give_room(struct rig *r, size_t room)
{
	pthread_mutex_lock(&r->host.lock);
	r->host.room = room;
	pthread_mutex_unlock(&r->host.lock);
	virtio_console_output_space(&r->vc);
}

static uint8_t *ram(struct rig *r, uint64_t gpa)
{
	return r->mem.mapping + gpa;
}

/* A 16-bit ring field (idx, flags) in guest RAM, for atomic access; the
 * rings are 2-aligned and so is the mapping. */
static uint16_t *ram16(struct rig *r, uint64_t gpa)
{
	assert_true(gpa % 2 == 0);
	return (uint16_t *)(void *)(r->mem.mapping + gpa);
}

static void sleep_ms(long ms)
{
	nanosleep(&(struct timespec){0, ms * 1000000}, NULL);
}

static int rig_setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	pthread_mutex_init(&r->host.lock, NULL);
	r->host.room = sizeof(r->host.out);
	assert_int_equal(guest_mem_init(&r->mem, RAM_SIZE), 0);
	assert_int_equal(ioloop_init(&r->loop), 0);
	struct msi_controller msi = fake_irq_msi(&r->irq);
	struct virtio_console_host host = {host_write, host_rx_space, &r->host};
	assert_int_equal(
		virtio_console_init(&r->vc, &r->mem, msi, fake_irq_intx(&r->irq, 16), host), 0);
	/* The driver's first step: decoding and bus mastering on. */
	pci_config_write(&r->vc.vp.pci, PCI_COMMAND,
			 (const uint8_t[]){PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 0}, 2);
	for (unsigned q = 0; q < 2; q++)
		assert_int_equal(ioloop_watch_eventfd(&r->loop, r->vc.vp.kick_fds[q],
						      virtio_pci_kicked, &r->vc.vp.kicks[q]),
				 0);
	assert_int_equal(ioloop_start(&r->loop), 0);
	*state = r;
	return 0;
}

static int rig_teardown(void **state)
{
	struct rig *r = *state;

	ioloop_destroy(&r->loop);
	virtio_console_exit(&r->vc);
	guest_mem_destroy(&r->mem);
	pthread_mutex_destroy(&r->host.lock);
	free(r);
	return 0;
}

static void rig_driver_ok(struct rig *r)
{
	struct virtio_device *vdev = &r->vc.vp.vdev;

	pthread_mutex_lock(&vdev->lock);
	virtio_device_set_status(vdev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vdev->driver_features = VIRTIO_F_VERSION_1;
	virtio_device_set_status(vdev, 0x0b);
	for (unsigned q = 0; q < 2; q++) {
		vdev->vqs[q].size = QSIZE;
		vdev->vqs[q].desc_gpa = ring_base[q];
		vdev->vqs[q].avail_gpa = ring_base[q] + 0x1000;
		vdev->vqs[q].used_gpa = ring_base[q] + 0x2000;
		virtio_device_enable_queue(vdev, q);
	}
	virtio_device_set_status(vdev, 0x0f);
	pthread_mutex_unlock(&vdev->lock);
	assert_true(vdev->vqs[RX].ready && vdev->vqs[TX].ready);
}

static void add_chain(struct rig *r, unsigned q, const struct seg *segs, unsigned nr)
{
	uint16_t head = r->next_desc[q];

	for (unsigned i = 0; i < nr; i++) {
		uint16_t d = (uint16_t)((head + i) % QSIZE);
		struct virtq_desc desc = {segs[i].gpa, segs[i].len,
					  (uint16_t)((segs[i].write ? VIRTQ_DESC_F_WRITE : 0) |
						     (i + 1 < nr ? VIRTQ_DESC_F_NEXT : 0)),
					  (uint16_t)((d + 1) % QSIZE)};
		memcpy(ram(r, ring_base[q] + 16 * d), &desc, sizeof(desc));
	}
	r->next_desc[q] = (uint16_t)((head + nr) % QSIZE);
	memcpy(ram(r, ring_base[q] + 0x1000 + 4 + 2 * (r->avail_idx[q] % QSIZE)), &head, 2);
	r->avail_idx[q]++;
	__atomic_store_n(ram16(r, ring_base[q] + 0x1000 + 2), r->avail_idx[q], __ATOMIC_RELEASE);
}

static void kick(struct rig *r, unsigned q)
{
	uint64_t one = 1;

	assert_int_equal(write(r->vc.vp.kick_fds[q], &one, 8), 8);
}

static uint16_t used_idx(struct rig *r, unsigned q)
{
	return __atomic_load_n(ram16(r, ring_base[q] + 0x2002), __ATOMIC_ACQUIRE);
}

static uint32_t used_len(struct rig *r, unsigned q, uint16_t i)
{
	uint32_t len;

	memcpy(&len, ram(r, ring_base[q] + 0x2000 + 4 + 8 * (i % QSIZE) + 4), 4);
	return len;
}

static bool wait_used(struct rig *r, unsigned q, uint16_t want)
{
	for (int i = 0; i < 5000 && used_idx(r, q) != want; i++)
		sleep_ms(1);
	return used_idx(r, q) == want;
}

static bool wait_broken(struct rig *r)
{
	for (int i = 0; i < 5000 && !virtio_device_broken(&r->vc.vp.vdev); i++)
		sleep_ms(1);
	return r->vc.vp.vdev.status & VIRTIO_STATUS_NEEDS_RESET;
}

/* A transmit chain of text split in two buffers. */
static void guest_write(struct rig *r, unsigned slot, const char *text)
{
	size_t len = strlen(text), first = len / 2;
	uint64_t at = BUF + 0x1000ULL * slot;

	memcpy(ram(r, at), text, first);
	memcpy(ram(r, at + 0x800), text + first, len - first);
	const struct seg segs[] = {{at, (uint32_t)first, false},
				   {at + 0x800, (uint32_t)(len - first), false}};
	add_chain(r, TX, segs, 2);
}

static void guest_output_reaches_the_host_in_order(void **state)
{
	struct rig *r = *state;

	rig_driver_ok(r);
	guest_write(r, 0, "hello ");
	guest_write(r, 1, "virtio console\n");
	kick(r, TX);
	assert_true(wait_used(r, TX, 2));
	assert_int_equal(host_out_len(r), 21);
	assert_memory_equal(r->host.out, "hello virtio console\n", 21);
	assert_int_equal(used_len(r, TX, 0), 0);
	assert_int_equal(r->vc.bytes_out, 21);
}

static void full_host_end_holds_the_chain_until_output_space(void **state)
{
	struct rig *r = *state;

	r->host.room = 5;
	rig_driver_ok(r);
	guest_write(r, 0, "0123456789ab");
	guest_write(r, 1, "cd");
	kick(r, TX);
	for (int i = 0; i < 5000 && host_out_len(r) < 5; i++)
		sleep_ms(1);
	sleep_ms(50);
	assert_int_equal(host_out_len(r), 5);
	assert_int_equal(used_idx(r, TX), 0); /* the guest's buffers wait */
	host_give_room(r, 3);
	for (int i = 0; i < 5000 && host_out_len(r) < 8; i++)
		sleep_ms(1);
	assert_int_equal(used_idx(r, TX), 0);
	host_give_room(r, 100);
	assert_true(wait_used(r, TX, 2));
	assert_int_equal(host_out_len(r), 14);
	assert_memory_equal(r->host.out, "0123456789abcd", 14);
}

static void input_fills_receive_buffers_and_the_rest_waits(void **state)
{
	struct rig *r = *state;
	const char *text = "input from the host!";

	rig_driver_ok(r);
	add_chain(r, RX, &(struct seg){BUF, 4, true}, 1);
	const struct seg two[] = {{BUF + 0x1000, 3, true}, {BUF + 0x1800, 5, true}};
	add_chain(r, RX, two, 2);
	assert_int_equal(virtio_console_push_input(&r->vc, (const uint8_t *)text, 20), 12);
	assert_int_equal(used_idx(r, RX), 2);
	assert_int_equal(used_len(r, RX, 0), 4);
	assert_int_equal(used_len(r, RX, 1), 8);
	assert_memory_equal(ram(r, BUF), "inpu", 4);
	assert_memory_equal(ram(r, BUF + 0x1000), "t f", 3);
	assert_memory_equal(ram(r, BUF + 0x1800), "rom t", 5);
	assert_int_equal(virtio_console_push_input(&r->vc, (const uint8_t *)text + 12, 8), 0);

	/* New buffers and a kick tell the host to push again. */
	int calls = __atomic_load_n(&r->host.rx_space_calls, __ATOMIC_SEQ_CST);
	add_chain(r, RX, &(struct seg){BUF + 0x2000, 64, true}, 1);
	kick(r, RX);
	for (int i = 0;
	     i < 5000 && __atomic_load_n(&r->host.rx_space_calls, __ATOMIC_SEQ_CST) == calls; i++)
		sleep_ms(1);
	assert_true(r->host.rx_space_calls > calls);
	assert_int_equal(virtio_console_push_input(&r->vc, (const uint8_t *)text + 12, 8), 8);
	assert_memory_equal(ram(r, BUF + 0x2000), "he host!", 8);
	assert_int_equal(r->vc.bytes_in, 20);
}

static void input_waits_until_the_driver_is_ready(void **state)
{
	struct rig *r = *state;

	assert_int_equal(virtio_console_push_input(&r->vc, (const uint8_t *)"x", 1), 0);
	assert_int_equal(r->host.rx_space_calls, 0);
	rig_driver_ok(r);
	/* DRIVER_OK: whatever waited may have buffers now. */
	assert_true(r->host.rx_space_calls > 0);
}

static void device_readable_receive_buffer_needs_reset(void **state)
{
	struct rig *r = *state;

	rig_driver_ok(r);
	add_chain(r, RX, &(struct seg){BUF, 16, false}, 1);
	assert_int_equal(virtio_console_push_input(&r->vc, (const uint8_t *)"abc", 3), 0);
	assert_true(wait_broken(r));
	assert_int_equal(used_idx(r, RX), 0);
	assert_int_equal(virtio_console_push_input(&r->vc, (const uint8_t *)"abc", 3), 0);
}

static void device_writable_transmit_buffer_needs_reset(void **state)
{
	struct rig *r = *state;

	rig_driver_ok(r);
	const struct seg segs[] = {{BUF, 4, false}, {BUF + 0x1000, 4, true}};
	add_chain(r, TX, segs, 2);
	kick(r, TX);
	assert_true(wait_broken(r));
	assert_int_equal(host_out_len(r), 0);
}

static void reset_forgets_the_held_output(void **state)
{
	struct rig *r = *state;
	struct virtio_device *vdev = &r->vc.vp.vdev;

	r->host.room = 2;
	rig_driver_ok(r);
	guest_write(r, 0, "held output");
	kick(r, TX);
	for (int i = 0; i < 5000 && host_out_len(r) < 2; i++)
		sleep_ms(1);
	pthread_mutex_lock(&vdev->lock);
	assert_true(r->vc.tx_held);
	virtio_device_set_status(vdev, 0);
	assert_false(r->vc.tx_held);
	pthread_mutex_unlock(&vdev->lock);
}

/* --- the console's host side with a port */

struct fake_port {
	uint8_t in[256];
	size_t in_len, take;
	int output_space_calls;
};

static size_t port_push(void *dev, const uint8_t *data, size_t len)
{
	struct fake_port *p = dev;
	size_t n = len < p->take ? len : p->take;

	memcpy(p->in + p->in_len, data, n);
	p->in_len += n;
	return n;
}

static void port_output_space(void *dev)
{
	struct fake_port *p = dev;

	p->output_space_calls++;
}

/* A console with pipes for its host end, and the fake port attached. */
static void console_with_pipes(struct console *con, struct fake_port *port, int in[2], int out[2])
{
	struct skiff_config cfg;
	char err[128];

	config_defaults(&cfg);
	cfg.console = CONSOLE_NONE;
	assert_int_equal(console_open(con, &cfg, err, sizeof(err)), 0);
	assert_int_equal(pipe2(in, O_NONBLOCK), 0);
	assert_int_equal(pipe2(out, O_NONBLOCK), 0);
	con->in_fd = in[0];
	con->in_eof = false;
	con->out_fd = out[1];
	console_attach_port(con, &(struct console_port){port_push, port_output_space, port});
}

/* One round of the main loop, without blocking. */
static void console_round(struct console *con)
{
	struct pollfd fds[3];
	unsigned n = console_pollfds(con, fds);

	assert_true(poll(fds, n, 100) >= 0);
	console_handle(con, fds, n);
}

static bool console_polls_fd(struct console *con, int fd)
{
	struct pollfd fds[3];
	unsigned n = console_pollfds(con, fds);

	for (unsigned i = 0; i < n; i++)
		if (fds[i].fd == fd)
			return true;
	return false;
}

static void port_output_goes_through_the_ring_to_the_host(void **state)
{
	struct console con;
	struct fake_port port = {.take = 0};
	int in[2], out[2];
	char got[16] = "";

	console_with_pipes(&con, &port, in, out);
	assert_int_equal(console_port_write(&con, (const uint8_t *)"abc", 3), 3);
	console_round(&con);
	assert_int_equal(read(out[0], got, sizeof(got)), 3);
	assert_memory_equal(got, "abc", 3);
	assert_int_equal(port.output_space_calls, 0);
	console_close(&con);
	close(in[0]), close(in[1]), close(out[0]), close(out[1]);
}

static void full_ring_takes_what_fits_and_calls_back_when_drained(void **state)
{
	struct console con;
	struct fake_port port = {.take = 0};
	int in[2], out[2];
	size_t big = CONSOLE_OUT_CAP + 10;
	uint8_t *data = calloc(1, big), sink[4096];

	console_with_pipes(&con, &port, in, out);
	assert_int_equal(console_port_write(&con, data, big), CONSOLE_OUT_CAP);
	assert_int_equal(console_port_write(&con, data, 10), 0);
	assert_int_equal(con.out_dropped, 0); /* held back, not dropped */
	console_round(&con);
	assert_int_equal(port.output_space_calls, 1);
	assert_true(read(out[0], sink, sizeof(sink)) > 0);
	assert_true(console_port_write(&con, data, 10) > 0);
	console_close(&con);
	close(in[0]), close(in[1]), close(out[0]), close(out[1]);
	free(data);
}

static void port_output_without_a_host_end_is_taken_and_dropped(void **state)
{
	struct console con;
	struct skiff_config cfg;
	char err[128];

	config_defaults(&cfg);
	cfg.console = CONSOLE_NONE;
	assert_int_equal(console_open(&con, &cfg, err, sizeof(err)), 0);
	assert_int_equal(console_port_write(&con, (const uint8_t *)"lost", 4), 4);
	assert_int_equal(con.out_len, 0);
	console_close(&con);
}

static void input_goes_to_the_port_only_as_fast_as_it_takes_it(void **state)
{
	struct console con;
	struct fake_port port = {.take = 7};
	int in[2], out[2];
	uint8_t text[100];

	for (unsigned i = 0; i < sizeof(text); i++)
		text[i] = (uint8_t)('a' + i % 26);
	console_with_pipes(&con, &port, in, out);
	assert_int_equal(write(in[1], text, sizeof(text)), sizeof(text));
	console_round(&con);
	assert_int_equal(port.in_len, 7);
	/* Nothing more is read from the host while input is pending. */
	assert_false(console_polls_fd(&con, in[0]));
	for (int i = 0; i < 40 && port.in_len < sizeof(text); i++) {
		console_guest_rx_space(&con); /* the driver gave buffers */
		console_round(&con);
	}
	assert_int_equal(port.in_len, sizeof(text));
	assert_memory_equal(port.in, text, sizeof(text));
	console_close(&con);
	close(in[0]), close(in[1]), close(out[0]), close(out[1]);
}

static void virtio_console_kind_mutes_the_uart(void **state)
{
	struct console con;
	struct skiff_config cfg;
	char err[CONFIG_ERR_SIZE];
	char *argv[] = {(char *)"--console", (char *)"virtio", NULL};

	assert_int_equal(cli_parse_run(2, argv, &cfg, err, sizeof(err)), CLI_OK);
	assert_int_equal(cfg.console, CONSOLE_VIRTIO);
	assert_int_equal(console_open(&con, &cfg, err, sizeof(err)), 0);
	assert_int_equal(con.out_fd, STDOUT_FILENO);
	console_guest_tx(&con, 'u');
	assert_int_equal(con.out_len, 0);
	console_close(&con);

	char *bad[] = {(char *)"--console", (char *)"virtio,x", NULL};
	assert_int_equal(cli_parse_run(2, bad, &cfg, err, sizeof(err)), CLI_ERROR);
	assert_non_null(strstr(err, "--console: 'virtio,x'"));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, rig_setup, rig_teardown)
	const struct CMUnitTest tests[] = {
		T(guest_output_reaches_the_host_in_order),
		T(full_host_end_holds_the_chain_until_output_space),
		T(input_fills_receive_buffers_and_the_rest_waits),
		T(input_waits_until_the_driver_is_ready),
		T(device_readable_receive_buffer_needs_reset),
		T(device_writable_transmit_buffer_needs_reset),
		T(reset_forgets_the_held_output),
		cmocka_unit_test(port_output_goes_through_the_ring_to_the_host),
		cmocka_unit_test(full_ring_takes_what_fits_and_calls_back_when_drained),
		cmocka_unit_test(port_output_without_a_host_end_is_taken_and_dropped),
		cmocka_unit_test(input_goes_to_the_port_only_as_fast_as_it_takes_it),
		cmocka_unit_test(virtio_console_kind_mutes_the_uart),
	};
	return cmocka_run_group_tests_name("virtio_console", tests, NULL, NULL);
}
