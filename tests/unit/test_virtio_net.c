/* virtio-net end to end without KVM or a tap: one end of a SOCK_SEQPACKET
 * socketpair stands in for the tap (it keeps frame boundaries as a tap
 * does, and shows a closed peer as end of file), the real io_uring I/O
 * thread runs the device, rings live in a real guest RAM, and the test
 * plays both the guest driver and the host network on the other end. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/virtio/virtio_net.h"
#include "fake_irq.h"
#include "mm/guest_mem.h"
#include "vmm/cli.h"
#include "vmm/ioloop.h"

#define RAM_SIZE (4 * GUEST_MIB)
#define QSIZE 16
#define RX VIRTIO_NET_RX_QUEUE
#define TX VIRTIO_NET_TX_QUEUE
#define CTRL VIRTIO_NET_CTRL_QUEUE
#define NQ 3
#define HDR VIRTIO_NET_HDR_BYTES
#define RXBUF 0x100000ULL /* receive buffer i at RXBUF + i * 0x1000 */
#define TXBUF 0x200000ULL
#define CTRLBUF 0x280000ULL /* a control command's header and data */
#define ACK 0x281000ULL	    /* and its ack byte */
#define BIGBUF 0x300000ULL

static const uint64_t ring_base[NQ] = {0x10000, 0x14000, 0x18000};

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

struct rig {
	struct guest_mem mem;
	struct ioloop loop;
	struct virtio_net net;
	int peer; /* the host network's end */
	uint16_t qsize[NQ];
	uint16_t avail_idx[NQ];
	uint16_t next_desc[NQ];
	struct fake_irq irq;
};

static const uint8_t test_mac[6] = {0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc};

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

static uint64_t desc_gpa(unsigned q)
{
	return ring_base[q];
}

static uint64_t avail_gpa(unsigned q)
{
	return ring_base[q] + 0x1000;
}

static uint64_t used_gpa(unsigned q)
{
	return ring_base[q] + 0x2000;
}

static void rig_setup_queue(struct rig *r, unsigned q)
{
	struct virtio_device *vdev = &r->net.vp.vdev;

	vdev->vqs[q].size = r->qsize[q];
	vdev->vqs[q].desc_gpa = desc_gpa(q);
	vdev->vqs[q].avail_gpa = avail_gpa(q);
	vdev->vqs[q].used_gpa = used_gpa(q);
	virtio_device_enable_queue(vdev, q);
}

/* The driver's start-up with `features` on top of VERSION_1, MAC and
 * STATUS: features, both queues (and the control queue with CTRL_VQ),
 * DRIVER_OK. */
static void rig_driver_ok_with(struct rig *r, uint64_t features)
{
	struct virtio_device *vdev = &r->net.vp.vdev;

	pthread_mutex_lock(&vdev->lock);
	virtio_device_set_status(vdev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vdev->driver_features =
		VIRTIO_F_VERSION_1 | VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS | features;
	virtio_device_set_status(vdev, 0x0b);
	assert_true(vdev->status & VIRTIO_STATUS_FEATURES_OK);
	rig_setup_queue(r, RX);
	rig_setup_queue(r, TX);
	if (features & VIRTIO_NET_F_CTRL_VQ)
		rig_setup_queue(r, CTRL);
	virtio_device_set_status(vdev, 0x0f);
	pthread_mutex_unlock(&vdev->lock);
	assert_true(vdev->vqs[RX].ready && vdev->vqs[TX].ready);
	assert_int_equal(vdev->vqs[CTRL].ready, !!(features & VIRTIO_NET_F_CTRL_VQ));
}

static void rig_driver_ok(struct rig *r)
{
	rig_driver_ok_with(r, 0);
}

/* A device reset and a new driver with fresh rings. */
static void rig_restart(struct rig *r, uint64_t features)
{
	struct virtio_device *vdev = &r->net.vp.vdev;

	pthread_mutex_lock(&vdev->lock);
	virtio_device_set_status(vdev, 0);
	pthread_mutex_unlock(&vdev->lock);
	memset(ram(r, 0x10000), 0, 0xc000);
	memset(r->avail_idx, 0, sizeof(r->avail_idx));
	memset(r->next_desc, 0, sizeof(r->next_desc));
	rig_driver_ok_with(r, features);
}

static unsigned held_chains(struct rig *r)
{
	struct virtio_device *vdev = &r->net.vp.vdev;

	pthread_mutex_lock(&vdev->lock);
	unsigned n = r->net.rx.end - r->net.rx.first;
	pthread_mutex_unlock(&vdev->lock);
	return n;
}

/* The command register as a driver writes it: decoding on, bus
 * mastering as asked. */
static void bus_master(struct rig *r, bool on)
{
	uint16_t command = PCI_COMMAND_MEMORY | (on ? PCI_COMMAND_MASTER : 0);

	pci_config_write(&r->net.vp.pci, PCI_COMMAND, (const uint8_t *)&command, 2);
}

static int rig_setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	r->peer = sv[1];
	r->qsize[RX] = r->qsize[TX] = r->qsize[CTRL] = QSIZE;
	assert_int_equal(guest_mem_init(&r->mem, RAM_SIZE), 0);
	virtio_net_open_fd(&r->net, sv[0], test_mac);
	assert_int_equal(ioloop_init(&r->loop), 0);
	struct msi_controller msi = fake_irq_msi(&r->irq);
	assert_int_equal(virtio_net_init(&r->net, &r->mem, msi, fake_irq_intx(&r->irq, 16)), 0);
	assert_int_equal(virtio_net_ops.num_queues, NQ);
	bus_master(r, true); /* the driver's first step */
	for (unsigned q = 0; q < NQ; q++)
		assert_int_equal(ioloop_watch_eventfd(&r->loop, r->net.vp.kick_fds[q],
						      virtio_pci_kicked, &r->net.vp.kicks[q]),
				 0);
	assert_int_equal(ioloop_watch_fd(&r->loop, r->net.tap_fd, virtio_net_tap_readable, &r->net),
			 0);
	/* As a VM has it; it looks at nothing while poll_window_us is 0. */
	assert_int_equal(ioloop_add_poller(&r->loop, virtio_pci_poll, &r->net.vp.kicks[TX]), 0);
	assert_int_equal(ioloop_start(&r->loop), 0);
	*state = r;
	return 0;
}

static int rig_teardown(void **state)
{
	struct rig *r = *state;

	ioloop_destroy(&r->loop);
	virtio_net_exit(&r->net);
	if (r->peer >= 0)
		close(r->peer);
	guest_mem_destroy(&r->mem);
	free(r);
	return 0;
}

static void sleep_ms(long ms)
{
	nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000}, NULL);
}

/* Makes a chain of segs available on queue q (no kick). */
static void add_chain(struct rig *r, unsigned q, const struct seg *segs, unsigned nr)
{
	uint16_t head = r->next_desc[q];

	for (unsigned i = 0; i < nr; i++) {
		uint16_t d = (uint16_t)((head + i) % r->qsize[q]);
		struct virtq_desc desc = {segs[i].gpa, segs[i].len,
					  (uint16_t)((segs[i].write ? VIRTQ_DESC_F_WRITE : 0) |
						     (i + 1 < nr ? VIRTQ_DESC_F_NEXT : 0)),
					  (uint16_t)((d + 1) % r->qsize[q])};
		memcpy(ram(r, desc_gpa(q) + 16 * d), &desc, sizeof(desc));
	}
	r->next_desc[q] = (uint16_t)((head + nr) % r->qsize[q]);
	memcpy(ram(r, avail_gpa(q) + 4 + 2 * (r->avail_idx[q] % r->qsize[q])), &head, 2);
	r->avail_idx[q]++;
	__atomic_store_n(ram16(r, avail_gpa(q) + 2), r->avail_idx[q], __ATOMIC_RELEASE);
}

static void kick(struct rig *r, unsigned q)
{
	uint64_t one = 1;

	assert_int_equal(write(r->net.vp.kick_fds[q], &one, 8), 8);
}

static uint16_t used_idx(struct rig *r, unsigned q)
{
	return __atomic_load_n(ram16(r, used_gpa(q) + 2), __ATOMIC_ACQUIRE);
}

static struct virtq_used_elem used_elem(struct rig *r, unsigned q, uint16_t i)
{
	struct virtq_used_elem e;

	memcpy(&e, ram(r, used_gpa(q) + 4 + 8 * (i % r->qsize[q])), sizeof(e));
	return e;
}

/* Waits (bounded) until queue q's used index reaches want. */
static bool wait_used(struct rig *r, unsigned q, uint16_t want)
{
	for (int i = 0; i < 5000 && used_idx(r, q) != want; i++)
		sleep_ms(1);
	return used_idx(r, q) == want;
}

static bool wait_broken(struct rig *r)
{
	for (int i = 0; i < 5000 && !virtio_device_broken(&r->net.vp.vdev); i++)
		sleep_ms(1);
	return r->net.vp.vdev.status & VIRTIO_STATUS_NEEDS_RESET;
}

/* The host network sends a frame of len bytes (pattern `fill`) behind
 * hdr, as the tap would give it to us. */
static void host_send_hdr(struct rig *r, const struct virtio_net_hdr *hdr, size_t len, uint8_t fill)
{
	static uint8_t buf[HDR + 70000];

	assert_true(len <= 70000);
	memcpy(buf, hdr, HDR);
	memset(buf + HDR, fill, len);
	assert_int_equal(send(r->peer, buf, HDR + len, 0), (ssize_t)(HDR + len));
}

/* The same behind a header with only flags set. */
static void host_send(struct rig *r, uint8_t flags, size_t len, uint8_t fill)
{
	/* num_buffers: the tap leaves it alone, the device sets it */
	host_send_hdr(r, &(struct virtio_net_hdr){.flags = flags, .num_buffers = 0x77}, len, fill);
}

/* One datagram from the device to the host network, or -1 within 2 s. */
static ssize_t host_recv(struct rig *r, uint8_t *buf, size_t len)
{
	for (int i = 0; i < 2000; i++) {
		ssize_t n = recv(r->peer, buf, len, MSG_DONTWAIT);
		if (n >= 0 || errno != EAGAIN)
			return n;
		sleep_ms(1);
	}
	return -1;
}

static void post_rx_buffers(struct rig *r, unsigned first, unsigned count, uint32_t len)
{
	for (unsigned i = first; i < first + count; i++)
		add_chain(r, RX, &(struct seg){RXBUF + 0x1000ULL * i, len, true}, 1);
}

static void transmit_sends_a_clean_header_and_the_frame(void **state)
{
	struct rig *r = *state;
	uint8_t got[256];

	rig_driver_ok(r);
	/* Flags the device does not know, and num_buffers, are not passed on. */
	memcpy(ram(r, TXBUF), &(struct virtio_net_hdr){.flags = 0xfe, .num_buffers = 3}, HDR);
	memset(ram(r, TXBUF + HDR), 'a', 40);
	memset(ram(r, TXBUF + 0x1000), 'b', 60);
	const struct seg segs[] = {{TXBUF, HDR + 40, false}, {TXBUF + 0x1000, 60, false}};
	add_chain(r, TX, segs, 2);
	kick(r, TX);
	assert_int_equal(host_recv(r, got, sizeof(got)), HDR + 100);
	for (unsigned i = 0; i < HDR; i++)
		assert_int_equal(got[i], 0);
	assert_memory_equal(got + HDR, ram(r, TXBUF + HDR), 40);
	assert_memory_equal(got + HDR + 40, ram(r, TXBUF + 0x1000), 60);
	assert_true(wait_used(r, TX, 1));
	assert_int_equal(used_elem(r, TX, 0).len, 0);
	assert_int_equal(r->net.stats.tx_frames, 1);
	assert_int_equal(r->net.stats.tx_bytes, 100);
	assert_true(fake_irq_raises(&r->irq) > 0);
}

static void receive_fills_the_buffer_with_a_plain_header_and_the_frame(void **state)
{
	struct rig *r = *state;

	rig_driver_ok(r);
	/* The header itself split across two buffers. */
	const struct seg segs[] = {{RXBUF, 5, true}, {RXBUF + 0x1000, 2048, true}};
	memset(ram(r, RXBUF), 0xee, 5);
	add_chain(r, RX, segs, 2);
	kick(r, RX);
	host_send(r, 2 /* DATA_VALID: a hint the guest did not ask for */, 100, 'x');
	assert_true(wait_used(r, RX, 1));
	assert_int_equal(used_elem(r, RX, 0).len, HDR + 100);
	uint8_t hdr[HDR];
	memcpy(hdr, ram(r, RXBUF), 5);
	memcpy(hdr + 5, ram(r, RXBUF + 0x1000), HDR - 5);
	for (unsigned i = 0; i < HDR; i++)
		assert_int_equal(hdr[i], i == offsetof(struct virtio_net_hdr, num_buffers) ? 1 : 0);
	for (unsigned i = 0; i < 100; i++)
		assert_int_equal(*ram(r, RXBUF + 0x1000 + HDR - 5 + i), 'x');
	assert_int_equal(r->net.stats.rx_frames, 1);
	assert_true(fake_irq_raises(&r->irq) > 0);
}

static void frames_wait_in_the_tap_until_the_guest_posts_buffers(void **state)
{
	struct rig *r = *state;

	rig_driver_ok(r);
	for (uint8_t i = 0; i < 3; i++)
		host_send(r, 0, 60, (uint8_t)('A' + i));
	sleep_ms(100);
	assert_int_equal(used_idx(r, RX), 0);
	post_rx_buffers(r, 0, 3, 2048);
	kick(r, RX);
	assert_true(wait_used(r, RX, 3));
	for (uint16_t i = 0; i < 3; i++) {
		struct virtq_used_elem e = used_elem(r, RX, i);
		assert_int_equal(e.len, HDR + 60);
		assert_int_equal(*ram(r, RXBUF + 0x1000ULL * e.id + HDR), 'A' + i);
	}
}

/* With bus mastering off the device leaves its receive buffers alone:
 * frames wait in the tap, and the guest's kick is not acted on. Turning
 * bus mastering on is enough for them to be delivered. */
static void frames_wait_while_bus_mastering_is_off(void **state)
{
	struct rig *r = *state;

	rig_driver_ok(r);
	bus_master(r, false);
	post_rx_buffers(r, 0, 2, 2048);
	kick(r, RX);
	host_send(r, 0, 60, 'A');
	host_send(r, 0, 60, 'B');
	sleep_ms(100);
	assert_int_equal(used_idx(r, RX), 0);
	assert_int_equal(held_chains(r), 0); /* not even popped */
	bus_master(r, true);
	assert_true(wait_used(r, RX, 2));
	assert_int_equal(*ram(r, RXBUF + 0x1000ULL * used_elem(r, RX, 1).id + HDR), 'B');
}

static void receive_resumes_when_buffers_come_back(void **state)
{
	struct rig *r = *state;

	rig_driver_ok(r);
	post_rx_buffers(r, 0, 2, 2048);
	kick(r, RX);
	for (uint8_t i = 0; i < 5; i++)
		host_send(r, 0, 64, i);
	assert_true(wait_used(r, RX, 2));
	sleep_ms(50);
	assert_int_equal(used_idx(r, RX), 2);
	post_rx_buffers(r, 2, 3, 2048);
	kick(r, RX);
	assert_true(wait_used(r, RX, 5));
	assert_int_equal(r->net.stats.rx_frames, 5);
	assert_int_equal(r->net.stats.rx_dropped, 0);
}

static void frame_larger_than_the_buffers_is_dropped_and_the_buffer_reused(void **state)
{
	struct rig *r = *state;

	rig_driver_ok(r);
	post_rx_buffers(r, 0, 1, HDR + 64);
	kick(r, RX);
	host_send(r, 0, 65, 'L'); /* one byte too many */
	host_send(r, 0, 64, 'S');
	assert_true(wait_used(r, RX, 1));
	assert_int_equal(used_elem(r, RX, 0).len, HDR + 64);
	assert_int_equal(*ram(r, RXBUF + HDR), 'S');
	assert_int_equal(r->net.stats.rx_dropped, 1);
	assert_false(virtio_device_broken(&r->net.vp.vdev));
}

static void frame_with_an_offload_header_is_dropped(void **state)
{
	struct rig *r = *state;

	rig_driver_ok(r);
	post_rx_buffers(r, 0, 1, 2048);
	kick(r, RX);
	host_send(r, 1 /* NEEDS_CSUM */, 100, 'C');
	host_send(r, 0, 100, 'D');
	assert_true(wait_used(r, RX, 1));
	assert_int_equal(*ram(r, RXBUF + HDR), 'D');
	assert_int_equal(r->net.stats.rx_dropped, 1);
}

static void a_flood_of_bad_frames_yields_then_carries_on(void **state)
{
	struct rig *r = *state;

	/* One pass takes at most twice the queue size: 8 frames here. */
	r->qsize[RX] = 4;
	rig_driver_ok(r);
	for (int i = 0; i < 9; i++)
		host_send(r, 0, 200, 'B');
	host_send(r, 0, 64, 'G');
	sleep_ms(20);
	post_rx_buffers(r, 0, 1, HDR + 64);
	kick(r, RX);
	assert_true(wait_used(r, RX, 1));
	assert_int_equal(*ram(r, RXBUF + HDR), 'G');
	assert_int_equal(r->net.stats.rx_dropped, 9);
}

static void transmit_frame_over_64k_needs_reset(void **state)
{
	struct rig *r = *state;
	uint8_t got[16];

	rig_driver_ok(r);
	const struct seg segs[] = {{TXBUF, HDR, false}, {BIGBUF, VIRTIO_NET_MAX_FRAME + 1, false}};
	add_chain(r, TX, segs, 2);
	kick(r, TX);
	assert_true(wait_broken(r));
	assert_int_equal(used_idx(r, TX), 0);
	assert_int_equal(recv(r->peer, got, sizeof(got), MSG_DONTWAIT), -1);
}

static void largest_transmit_frame_passes(void **state)
{
	struct rig *r = *state;
	int size = 1 << 20;
	static uint8_t got[HDR + VIRTIO_NET_MAX_FRAME + 1];

	assert_int_equal(setsockopt(r->peer, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)), 0);
	assert_int_equal(setsockopt(r->net.tap_fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)), 0);
	rig_driver_ok(r);
	memset(ram(r, BIGBUF), 'M', VIRTIO_NET_MAX_FRAME);
	const struct seg segs[] = {{TXBUF, HDR, false}, {BIGBUF, VIRTIO_NET_MAX_FRAME, false}};
	add_chain(r, TX, segs, 2);
	kick(r, TX);
	assert_int_equal(host_recv(r, got, sizeof(got)), HDR + VIRTIO_NET_MAX_FRAME);
	assert_true(wait_used(r, TX, 1));
	assert_false(virtio_device_broken(&r->net.vp.vdev));
}

/* After sending, the device looks at the queue once more with
 * notifications off (fewer kicks while the guest keeps sending), and once
 * it finds the queue empty it asks for them again: a guest that then
 * sends is heard. (No EVENT_IDX here: used->flags carries the request.) */
static void transmit_notifications_come_back_once_the_queue_is_idle(void **state)
{
	struct rig *r = *state;
	uint8_t got[256];
	uint16_t flags = 1;

	rig_driver_ok(r);
	memset(ram(r, TXBUF), 0, HDR);
	memset(ram(r, TXBUF + HDR), 'i', 60);
	add_chain(r, TX, &(struct seg){TXBUF, HDR + 60, false}, 1);
	kick(r, TX);
	assert_int_equal(host_recv(r, got, sizeof(got)), HDR + 60);
	for (int i = 0; i < 2000 && flags; i++) {
		flags = __atomic_load_n(ram16(r, used_gpa(TX)), __ATOMIC_ACQUIRE);
		sleep_ms(1);
	}
	assert_int_equal(flags, 0);
	add_chain(r, TX, &(struct seg){TXBUF, HDR + 60, false}, 1);
	kick(r, TX);
	assert_int_equal(host_recv(r, got, sizeof(got)), HDR + 60);
	assert_true(wait_used(r, TX, 2));
}

static void set_poll_window(struct rig *r, uint32_t us)
{
	pthread_mutex_lock(&r->net.vp.vdev.lock);
	r->net.vp.vdev.poll_window_us = us;
	pthread_mutex_unlock(&r->net.vp.vdev.lock);
}

static uint16_t used_flags(struct rig *r, unsigned q)
{
	return __atomic_load_n(ram16(r, used_gpa(q)), __ATOMIC_ACQUIRE);
}

static void add_tx_frame(struct rig *r, char fill)
{
	memset(ram(r, TXBUF), 0, HDR);
	memset(ram(r, TXBUF + HDR), fill, 60);
	add_chain(r, TX, &(struct seg){TXBUF, HDR + 60, false}, 1);
}

/* While the I/O thread polls, the driver is told not to kick, and frames
 * it queues still leave. */
static void polled_transmit_queue_takes_frames_without_kicks(void **state)
{
	struct rig *r = *state;
	uint8_t got[256];

	set_poll_window(r, 10 * 1000 * 1000); /* longer than the test */
	rig_driver_ok(r);
	add_tx_frame(r, 'p');
	kick(r, TX);
	assert_int_equal(host_recv(r, got, sizeof(got)), HDR + 60);
	assert_true(wait_used(r, TX, 1));
	assert_int_equal(used_flags(r, TX), VIRTQ_USED_F_NO_NOTIFY);
	for (int i = 0; i < 3; i++) {
		add_tx_frame(r, (char)('q' + i));
		assert_int_equal(host_recv(r, got, sizeof(got)), HDR + 60);
		assert_int_equal(got[HDR], 'q' + i);
	}
	assert_true(wait_used(r, TX, 4));
	assert_int_equal(used_flags(r, TX), VIRTQ_USED_F_NO_NOTIFY);
	/* The receive queue is filled from the tap: never polled. */
	assert_int_equal(r->net.vp.vdev.poll_found_ns[RX], 0);
}

/* A window with nothing new ends the polling: notifications come back
 * and a frame queued without a kick then waits for one. */
static void polling_ends_after_a_quiet_window(void **state)
{
	struct rig *r = *state;
	uint8_t got[256];

	set_poll_window(r, 5000);
	rig_driver_ok(r);
	add_tx_frame(r, 'w');
	kick(r, TX);
	assert_int_equal(host_recv(r, got, sizeof(got)), HDR + 60);
	for (int i = 0; i < 2000 && used_flags(r, TX); i++)
		sleep_ms(1);
	assert_int_equal(used_flags(r, TX), 0);
	add_tx_frame(r, 'x');
	sleep_ms(50);
	assert_int_equal(recv(r->peer, got, sizeof(got), MSG_DONTWAIT), -1);
	assert_int_equal(used_idx(r, TX), 1);
	kick(r, TX);
	assert_int_equal(host_recv(r, got, sizeof(got)), HDR + 60);
	assert_int_equal(got[HDR], 'x');
}

/* A reset while the ring is polled stops the polling: nothing of the old
 * ring is looked at, and the new driver's first frame comes with a kick. */
static void reset_stops_polling_the_old_ring(void **state)
{
	struct rig *r = *state;
	uint8_t got[256];

	set_poll_window(r, 10 * 1000 * 1000);
	rig_driver_ok(r);
	add_tx_frame(r, 'r');
	kick(r, TX);
	assert_int_equal(host_recv(r, got, sizeof(got)), HDR + 60);
	rig_restart(r, 0);
	assert_int_equal(r->net.vp.vdev.poll_found_ns[TX], 0);
	add_tx_frame(r, 's');
	kick(r, TX);
	assert_int_equal(host_recv(r, got, sizeof(got)), HDR + 60);
	assert_int_equal(got[HDR], 's');
	assert_true(wait_used(r, TX, 1));
}

/* The driver's interrupt handler without MSI-X: reads the ISR, which
 * clears it; whether a queue interrupt was pending. */
static bool take_queue_interrupt(struct rig *r)
{
	const struct pci_bar *bar = &r->net.vp.pci.bars[0];
	uint8_t isr = 0;

	bar->ops->read(bar->opaque, VIRTIO_PCI_ISR_OFF, &isr, 1);
	return isr & 1;
}

/* Waits (bounded) for a queue interrupt. */
static bool wait_queue_interrupt(struct rig *r)
{
	for (int i = 0; i < 3000; i++) {
		if (take_queue_interrupt(r))
			return true;
		sleep_ms(1);
	}
	return false;
}

/* The host network acknowledges data: a bare IPv4 TCP ACK. */
static void host_send_ack(struct rig *r)
{
	uint8_t frame[HDR + 54] = {0};
	uint8_t *ip = frame + HDR + 14, *tcp = ip + 20;

	frame[HDR + 12] = 0x08; /* IPv4 */
	ip[0] = 0x45;
	ip[3] = 40; /* total length: headers only */
	ip[9] = 6;  /* TCP */
	tcp[12] = 0x50;
	tcp[13] = 0x10; /* ACK */
	assert_int_equal(send(r->peer, frame, sizeof(frame), 0), (ssize_t)sizeof(frame));
}

/* The guest streams out: a frame sent with polling on (the transmit
 * queue stays polled for the window), its interrupt taken. */
static void guest_starts_streaming(struct rig *r, uint32_t window_us, unsigned rx_buffers)
{
	uint8_t got[256];

	set_poll_window(r, window_us);
	rig_driver_ok(r);
	post_rx_buffers(r, 0, rx_buffers, 2048);
	kick(r, RX);
	add_tx_frame(r, 's');
	kick(r, TX);
	assert_int_equal(host_recv(r, got, sizeof(got)), HDR + 60);
	assert_true(wait_used(r, TX, 1));
	assert_true(wait_queue_interrupt(r));
}

/* One more pure ACK reaches the driver's ring (its nth used entry) and
 * its interrupt is held: none is pending a while later. */
static void ack_arrives_held(struct rig *r, uint16_t nth)
{
	host_send_ack(r);
	assert_true(wait_used(r, RX, nth));
	sleep_ms(30);
	assert_false(take_queue_interrupt(r));
}

/* ACK moderation: while the guest streams out, the ACKs coming back wait
 * for their interrupt, and the first frame with data brings it. */
static void pure_acks_wait_for_their_interrupt_while_the_guest_streams_out(void **state)
{
	struct rig *r = *state;

	guest_starts_streaming(r, 10 * 1000 * 1000, 8);
	ack_arrives_held(r, 1);
	assert_int_equal(r->net.stats.rx_acks_held, 1);
	host_send(r, 0, 100, 'd');
	assert_true(wait_used(r, RX, 2));
	assert_true(wait_queue_interrupt(r));
	assert_int_equal(r->net.stats.rx_acks_held, 1);
}

/* The transmit queue's nap follows what the guest receives: pure ACKs
 * say it streams out (long naps: its frames queue up ahead of us), data
 * says it may answer (short naps: the answer is on the other end's
 * critical path). Asked as the I/O thread asks, past the first spin. */
static void the_transmit_nap_is_long_only_while_the_guest_gets_pure_acks(void **state)
{
	struct rig *r = *state;
	struct virtio_device *vdev = &r->net.vp.vdev;

	guest_starts_streaming(r, 10 * 1000 * 1000, 8);
	sleep_ms(1);
	assert_int_equal(virtio_queue_poll(vdev, TX), VIRTIO_NET_TX_NAP_US);
	ack_arrives_held(r, 1);
	assert_int_equal(virtio_queue_poll(vdev, TX), VIRTIO_NET_TX_NAP_STREAMING_US);
	host_send(r, 0, 100, 'd');
	assert_true(wait_used(r, RX, 2));
	assert_true(wait_queue_interrupt(r));
	assert_int_equal(virtio_queue_poll(vdev, TX), VIRTIO_NET_TX_NAP_US);
	ack_arrives_held(r, 3);
	assert_int_equal(virtio_queue_poll(vdev, TX), VIRTIO_NET_TX_NAP_STREAMING_US);
}

static double elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) * 1e3 +
	       (double)(now.tv_nsec - since->tv_nsec) / 1e6;
}

/* Held for half the poll window at most: the I/O thread, still polling
 * the transmit queue, sends the interrupt when that time is up. */
static void a_held_ack_interrupt_goes_out_when_the_hold_time_is_up(void **state)
{
	struct rig *r = *state;
	struct timespec sent;

	guest_starts_streaming(r, 400 * 1000, 8);
	clock_gettime(CLOCK_MONOTONIC, &sent);
	host_send_ack(r);
	assert_true(wait_used(r, RX, 1));
	assert_true(wait_queue_interrupt(r));
	assert_true(elapsed_ms(&sent) >= 100);
	assert_int_equal(r->net.stats.rx_acks_held, 1);
}

/* No hold unless the transmit queue is polled: with polling off, and
 * with polling on but nothing sent, an ACK interrupts at once. */
static void acks_interrupt_at_once_unless_the_guest_streams_out(void **state)
{
	struct rig *r = *state;

	guest_starts_streaming(r, 0, 8);
	host_send_ack(r);
	assert_true(wait_used(r, RX, 1));
	assert_true(wait_queue_interrupt(r));

	set_poll_window(r, 10 * 1000 * 1000);
	rig_restart(r, 0);
	post_rx_buffers(r, 0, 8, 2048);
	kick(r, RX);
	host_send_ack(r);
	assert_true(wait_used(r, RX, 1));
	assert_true(wait_queue_interrupt(r));
	assert_int_equal(r->net.stats.rx_acks_held, 0);
}

/* The driver refills its receive ring when it takes the frames: once it
 * runs out, the interrupt goes out, held or not. */
static void held_acks_go_out_when_the_driver_runs_out_of_buffers(void **state)
{
	struct rig *r = *state;

	guest_starts_streaming(r, 10 * 1000 * 1000, 2);
	ack_arrives_held(r, 1);
	host_send_ack(r);
	assert_true(wait_used(r, RX, 2));
	assert_true(wait_queue_interrupt(r));
}

/* A quarter of the ring's frames at most wait for one interrupt. */
static void at_most_a_quarter_of_the_ring_waits_for_an_interrupt(void **state)
{
	struct rig *r = *state;

	guest_starts_streaming(r, 10 * 1000 * 1000, 12);
	for (uint16_t i = 1; i < QSIZE / 4; i++)
		ack_arrives_held(r, i);
	host_send_ack(r);
	assert_true(wait_used(r, RX, QSIZE / 4));
	assert_true(wait_queue_interrupt(r));
	assert_int_equal(r->net.stats.rx_acks_held, QSIZE / 4);
}

static void transmit_with_a_writable_buffer_needs_reset(void **state)
{
	struct rig *r = *state;

	rig_driver_ok(r);
	const struct seg segs[] = {{TXBUF, HDR + 60, false}, {TXBUF + 0x1000, 16, true}};
	add_chain(r, TX, segs, 2);
	kick(r, TX);
	assert_true(wait_broken(r));
	assert_int_equal(used_idx(r, TX), 0);
}

static void transmit_shorter_than_the_header_needs_reset(void **state)
{
	struct rig *r = *state;

	rig_driver_ok(r);
	add_chain(r, TX, &(struct seg){TXBUF, HDR - 1, false}, 1);
	kick(r, TX);
	assert_true(wait_broken(r));
}

static void runt_transmit_frame_is_dropped_not_sent(void **state)
{
	struct rig *r = *state;
	uint8_t got[64];

	rig_driver_ok(r);
	memset(ram(r, TXBUF), 0, HDR + 13);
	add_chain(r, TX, &(struct seg){TXBUF, HDR + 13, false}, 1);
	kick(r, TX);
	assert_true(wait_used(r, TX, 1));
	assert_int_equal(recv(r->peer, got, sizeof(got), MSG_DONTWAIT), -1);
	assert_int_equal(r->net.stats.tx_dropped, 1);
	assert_false(virtio_device_broken(&r->net.vp.vdev));
}

static void receive_buffer_smaller_than_the_header_needs_reset(void **state)
{
	struct rig *r = *state;

	rig_driver_ok(r);
	post_rx_buffers(r, 0, 1, HDR - 1);
	kick(r, RX);
	assert_true(wait_broken(r));
	assert_int_equal(used_idx(r, RX), 0);
}

static void device_readable_receive_buffer_needs_reset(void **state)
{
	struct rig *r = *state;

	rig_driver_ok(r);
	add_chain(r, RX, &(struct seg){RXBUF, 2048, false}, 1);
	kick(r, RX);
	assert_true(wait_broken(r));
}

static void closed_tap_stops_receive_but_not_the_device(void **state)
{
	struct rig *r = *state;

	rig_driver_ok(r);
	post_rx_buffers(r, 0, 1, 2048);
	kick(r, RX);
	sleep_ms(20);
	close(r->peer);
	r->peer = -1;
	for (int i = 0; i < 5000 && !r->net.tap_failed; i++)
		sleep_ms(1);
	assert_true(r->net.tap_failed);
	add_chain(r, TX, &(struct seg){TXBUF, HDR + 60, false}, 1);
	kick(r, TX);
	assert_true(wait_used(r, TX, 1));
	assert_int_equal(r->net.stats.tx_dropped, 1);
	assert_false(virtio_device_broken(&r->net.vp.vdev));
}

static void reset_forgets_the_held_receive_chain(void **state)
{
	struct rig *r = *state;
	struct virtio_device *vdev = &r->net.vp.vdev;

	rig_driver_ok(r);
	post_rx_buffers(r, 0, 1, 2048);
	kick(r, RX);
	for (int i = 0; i < 5000 && !held_chains(r); i++)
		sleep_ms(1);
	assert_int_equal(held_chains(r), 1);
	pthread_mutex_lock(&vdev->lock);
	virtio_device_set_status(vdev, 0);
	pthread_mutex_unlock(&vdev->lock);
	assert_int_equal(held_chains(r), 0);

	/* A new driver with fresh rings gets frames in its own buffers. */
	memset(ram(r, 0x10000), 0, 0x8000);
	memset(r->avail_idx, 0, sizeof(r->avail_idx));
	memset(r->next_desc, 0, sizeof(r->next_desc));
	rig_driver_ok(r);
	post_rx_buffers(r, 5, 1, 2048);
	kick(r, RX);
	host_send(r, 0, 80, 'N');
	assert_true(wait_used(r, RX, 1));
	assert_int_equal(used_elem(r, RX, 0).id, 0);
	assert_int_equal(*ram(r, RXBUF + 0x5000 + HDR), 'N');
}

#define TCP_OFFLOADS                                                                               \
	(VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4 | VIRTIO_NET_F_HOST_TSO6 |                     \
	 VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_GUEST_TSO6)

/* A TCPv4 segmentation request as Linux sends it: MSS 1448, checksum at
 * offset 16 of the TCP header after 14 + 20 bytes of Ethernet and IP. */
static const struct virtio_net_hdr tso4_hdr = {
	.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
	.gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
	.hdr_len = 66,
	.gso_size = 1448,
	.csum_start = 34,
	.csum_offset = 16,
};

static void transmit_hands_a_negotiated_offload_to_the_tap(void **state)
{
	struct rig *r = *state;
	static uint8_t got[HDR + 20000];
	struct virtio_net_hdr sent = tso4_hdr, want = tso4_hdr;

	rig_driver_ok_with(r, TCP_OFFLOADS);
	sent.flags |= VIRTIO_NET_HDR_F_DATA_VALID; /* not a transmit flag: ignored */
	sent.num_buffers = 9;
	memcpy(ram(r, TXBUF), &sent, HDR);
	memset(ram(r, BIGBUF), 'T', 20000);
	const struct seg segs[] = {{TXBUF, HDR, false}, {BIGBUF, 20000, false}};
	add_chain(r, TX, segs, 2);
	kick(r, TX);
	assert_int_equal(host_recv(r, got, sizeof(got)), HDR + 20000);
	assert_memory_equal(got, &want, HDR);
	assert_memory_equal(got + HDR, ram(r, BIGBUF), 20000);
	assert_true(wait_used(r, TX, 1));
	assert_false(virtio_device_broken(&r->net.vp.vdev));
}

static void transmit_header_breaking_the_negotiation_needs_reset(void **state)
{
	static const struct {
		uint64_t features;
		struct virtio_net_hdr hdr;
		const char *what;
	} bad[] = {
		{0,
		 {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34, .csum_offset = 6},
		 "checksum without CSUM"},
		{VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4,
		 {.flags = 1, .gso_type = VIRTIO_NET_HDR_GSO_TCPV6, .gso_size = 1400},
		 "TCPv6 segmentation without HOST_TSO6"},
		{VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4,
		 {.flags = 1,
		  .gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN,
		  .gso_size = 1400},
		 "ECN without HOST_ECN"},
		{TCP_OFFLOADS,
		 {.flags = 1, .gso_type = 3 /* UDP */, .gso_size = 1400},
		 "UDP fragmentation offload"},
		{TCP_OFFLOADS,
		 {.gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = 1400},
		 "segmentation without NEEDS_CSUM"},
		{TCP_OFFLOADS,
		 {.flags = 1, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4},
		 "segmentation with gso_size 0"},
		{TCP_OFFLOADS,
		 {.flags = 1, .csum_start = 90, .csum_offset = 9},
		 "checksum beyond the frame"},
	};
	struct rig *r = *state;
	uint8_t got[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rig_restart(r, bad[i].features);
		memcpy(ram(r, TXBUF), &bad[i].hdr, HDR);
		memset(ram(r, TXBUF + HDR), 'X', 100);
		add_chain(r, TX, &(struct seg){TXBUF, HDR + 100, false}, 1);
		kick(r, TX);
		if (!wait_broken(r))
			fail_msg("a transmit header with %s was accepted", bad[i].what);
		assert_int_equal(used_idx(r, TX), 0);
		assert_int_equal(recv(r->peer, got, sizeof(got), MSG_DONTWAIT), -1);
	}
}

static void receive_passes_a_negotiated_offload_to_the_guest(void **state)
{
	struct rig *r = *state;
	struct virtio_net_hdr from_tap = tso4_hdr, want = tso4_hdr;

	rig_driver_ok_with(r, TCP_OFFLOADS);
	from_tap.num_buffers = 0x77;
	want.num_buffers = 1;
	add_chain(r, RX, &(struct seg){BIGBUF, HDR + 30000, true}, 1);
	kick(r, RX);
	host_send_hdr(r, &from_tap, 30000, 'G');
	assert_true(wait_used(r, RX, 1));
	assert_int_equal(used_elem(r, RX, 0).len, HDR + 30000);
	assert_memory_equal(ram(r, BIGBUF), &want, HDR);
	assert_int_equal(*ram(r, BIGBUF + HDR + 29999), 'G');
}

static void receive_drops_an_offload_the_guest_did_not_take(void **state)
{
	struct rig *r = *state;
	struct virtio_net_hdr tso6 = tso4_hdr;

	tso6.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	rig_driver_ok_with(r, VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4);
	post_rx_buffers(r, 0, 1, 4096);
	kick(r, RX);
	host_send_hdr(r, &tso6, 2000, 'S');
	host_send(r, VIRTIO_NET_HDR_F_NEEDS_CSUM, 100, 'P'); /* GUEST_CSUM: fine */
	assert_true(wait_used(r, RX, 1));
	assert_int_equal(*ram(r, RXBUF + HDR), 'P');
	assert_int_equal(*ram(r, RXBUF), VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(r->net.stats.rx_dropped, 1);
}

/* The frame the host sent, put together again from the used receive
 * buffers of queue RX from used entry `first` on (MRG_RXBUF). */
static size_t merged_frame(struct rig *r, uint16_t first, uint8_t *out, uint16_t *nr_bufs)
{
	struct virtq_used_elem e = used_elem(r, RX, first);
	const uint8_t *buf = ram(r, RXBUF + 0x1000ULL * e.id);
	uint16_t nr;
	size_t len = e.len - HDR;

	memcpy(&nr, buf + offsetof(struct virtio_net_hdr, num_buffers), 2);
	memcpy(out, buf + HDR, len);
	for (uint16_t i = 1; i < nr; i++) {
		e = used_elem(r, RX, (uint16_t)(first + i));
		memcpy(out + len, ram(r, RXBUF + 0x1000ULL * e.id), e.len);
		len += e.len;
	}
	*nr_bufs = nr;
	return len;
}

static void send_pattern(struct rig *r, size_t len)
{
	static uint8_t frame[HDR + 8000];

	memset(frame, 0, HDR);
	for (size_t i = 0; i < len; i++)
		frame[HDR + i] = (uint8_t)(i * 7 + i / 251);
	assert_int_equal(send(r->peer, frame, HDR + len, 0), (ssize_t)(HDR + len));
}

/* The used entries from `first` on hold a frame of len bytes of the
 * send_pattern, over nr_bufs buffers. */
static void expect_merged(struct rig *r, uint16_t first, size_t len, uint16_t nr_bufs)
{
	static uint8_t got[8000];
	uint16_t nr;

	assert_int_equal(merged_frame(r, first, got, &nr), len);
	assert_int_equal(nr, nr_bufs);
	for (size_t i = 0; i < len; i++)
		if (got[i] != (uint8_t)(i * 7 + i / 251))
			fail_msg("byte %zu of the merged frame is wrong", i);
}

static void mergeable_frame_spans_buffers_and_says_how_many(void **state)
{
	struct rig *r = *state;

	rig_driver_ok_with(r, VIRTIO_NET_F_MRG_RXBUF);
	post_rx_buffers(r, 0, 8, 1500);
	kick(r, RX);
	send_pattern(r, 5000); /* 12 + 5000 bytes: 1500 + 1500 + 1500 + 512 */
	send_pattern(r, 100);
	assert_true(wait_used(r, RX, 5));
	expect_merged(r, 0, 5000, 4);
	assert_int_equal(used_elem(r, RX, 3).len, 512);
	expect_merged(r, 4, 100, 1);
	assert_int_equal(used_elem(r, RX, 4).id, 4); /* buffers used in order */
	assert_int_equal(r->net.stats.rx_frames, 2);
}

static void mergeable_frame_waits_for_buffers_then_completes(void **state)
{
	struct rig *r = *state;

	rig_driver_ok_with(r, VIRTIO_NET_F_MRG_RXBUF);
	post_rx_buffers(r, 0, 2, 1500);
	kick(r, RX);
	send_pattern(r, 5000);
	sleep_ms(100);
	assert_int_equal(used_idx(r, RX), 0); /* never part of a frame */
	post_rx_buffers(r, 2, 1, 1500);
	kick(r, RX);
	sleep_ms(50);
	assert_int_equal(used_idx(r, RX), 0);
	post_rx_buffers(r, 3, 2, 1500);
	kick(r, RX);
	assert_true(wait_used(r, RX, 4));
	expect_merged(r, 0, 5000, 4);
	assert_int_equal(r->net.stats.rx_dropped, 0);
	send_pattern(r, 60); /* the fifth buffer, still held, takes the next */
	assert_true(wait_used(r, RX, 5));
	assert_int_equal(used_elem(r, RX, 4).id, 4);
}

/* A driver's negotiation up to FEATURES_OK with VERSION_1 and features:
 * whether the device kept FEATURES_OK. */
static bool features_accepted(struct virtio_device *vdev, uint64_t features)
{
	pthread_mutex_lock(&vdev->lock);
	virtio_device_set_status(vdev, 0);
	virtio_device_set_status(vdev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vdev->driver_features = VIRTIO_F_VERSION_1 | features;
	virtio_device_set_status(vdev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
					       VIRTIO_STATUS_FEATURES_OK);
	bool accepted = vdev->status & VIRTIO_STATUS_FEATURES_OK;
	pthread_mutex_unlock(&vdev->lock);
	return accepted;
}

static void offload_features_need_their_checksum_features(void **state)
{
	static const uint64_t bad[] = {
		VIRTIO_NET_F_GUEST_TSO4,
		VIRTIO_NET_F_GUEST_TSO6,
		VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_ECN,
		VIRTIO_NET_F_HOST_TSO4,
		VIRTIO_NET_F_HOST_TSO6 | VIRTIO_NET_F_GUEST_CSUM,
		VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_ECN,
	};
	struct rig *r = *state;
	struct virtio_device *vdev = &r->net.vp.vdev;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (features_accepted(vdev, bad[i]))
			fail_msg("features 0x%llx accepted", (unsigned long long)bad[i]);
	}
}

static void config_space_holds_the_mac_and_link_up(void **state)
{
	struct rig *r = *state;
	struct virtio_net_config cfg;

	assert_true(r->net.vp.vdev.host_features & VIRTIO_NET_F_MAC);
	assert_true(r->net.vp.vdev.host_features & VIRTIO_NET_F_STATUS);
	assert_int_equal(virtio_net_ops.config_size, 8);
	virtio_net_ops.read_config(&r->net.vp.vdev, 0, (uint8_t *)&cfg, sizeof(cfg));
	assert_memory_equal(cfg.mac, test_mac, 6);
	assert_int_equal(cfg.status, VIRTIO_NET_S_LINK_UP);
}

/* --- The control queue ------------------------------------------------- */

#define CTRL_ALL (VIRTIO_NET_F_CTRL_VQ | VIRTIO_NET_CTRL_FEATURES)

/* Makes a chain of segs available on the control queue and kicks: the
 * ack byte the device wrote at ACK (which starts as 0xee), or -1 when
 * the command was not given back within 5 s. */
static int ctrl_send(struct rig *r, const struct seg *segs, unsigned nr)
{
	uint16_t want = (uint16_t)(used_idx(r, CTRL) + 1);

	*ram(r, ACK) = 0xee;
	add_chain(r, CTRL, segs, nr);
	kick(r, CTRL);
	if (!wait_used(r, CTRL, want))
		return -1;
	assert_int_equal(used_elem(r, CTRL, (uint16_t)(want - 1)).len, 1);
	return *ram(r, ACK);
}

/* A command laid out as Linux sends it: the header, the data in a buffer
 * of its own (none for len 0), the ack byte. */
static int ctrl_cmd(struct rig *r, uint8_t class, uint8_t cmd, const void *data, uint32_t len)
{
	const struct virtio_net_ctrl_hdr hdr = {class, cmd};
	struct seg segs[3] = {{CTRLBUF, sizeof(hdr), false}};
	unsigned nr = 1;

	memcpy(ram(r, CTRLBUF), &hdr, sizeof(hdr));
	if (len) {
		memcpy(ram(r, CTRLBUF + 0x100), data, len);
		segs[nr++] = (struct seg){CTRLBUF + 0x100, len, false};
	}
	segs[nr++] = (struct seg){ACK, 1, true};
	return ctrl_send(r, segs, nr);
}

static int ctrl_set_offloads(struct rig *r, uint64_t offloads)
{
	uint64_t le = htole64(offloads);

	return ctrl_cmd(r, VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET, &le,
			sizeof(le));
}

/* MAC_TABLE_SET data at buf: `uni` unicast then `multi` multicast MACs
 * (the counts as given, the MACs made up); returns its length. */
static uint32_t mac_tables(uint8_t *buf, uint32_t uni, uint32_t multi)
{
	uint32_t len = 0, counts[2] = {uni, multi};

	for (int t = 0; t < 2; t++) {
		uint32_t le = htole32(counts[t]);
		memcpy(buf + len, &le, 4);
		len += 4;
		for (uint32_t i = 0; i < counts[t]; i++, len += 6)
			memcpy(buf + len, (uint8_t[6]){t ? 0x01 : 0x02, 0, 0x5e, 0, 0, (uint8_t)i},
			       6);
	}
	return len;
}

static void control_queue_is_offered_with_its_commands(void **state)
{
	struct rig *r = *state;
	uint64_t offered = r->net.vp.vdev.host_features;

	assert_true(offered & VIRTIO_NET_F_CTRL_VQ);
	assert_true(offered & VIRTIO_NET_F_CTRL_RX);
	assert_true(offered & VIRTIO_NET_F_CTRL_GUEST_OFFLOADS);
	assert_true(offered & VIRTIO_NET_F_CTRL_MAC_ADDR);
	/* A driver that does not take it leaves queue 2 alone and works. */
	rig_driver_ok(r);
	post_rx_buffers(r, 0, 1, 2048);
	kick(r, RX);
	host_send(r, 0, 60, 'q');
	assert_true(wait_used(r, RX, 1));
}

static void control_rx_modes_are_acked_ok(void **state)
{
	struct rig *r = *state;
	const uint8_t on = 1, off = 0;

	rig_driver_ok_with(r, CTRL_ALL);
	assert_int_equal(ctrl_cmd(r, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &on, 1),
			 VIRTIO_NET_OK);
	assert_int_equal(ctrl_cmd(r, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, &on, 1),
			 VIRTIO_NET_OK);
	assert_int_equal(ctrl_cmd(r, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &off, 1),
			 VIRTIO_NET_OK);
	/* Nothing is filtered: a frame for another MAC still arrives. */
	post_rx_buffers(r, 0, 1, 2048);
	kick(r, RX);
	host_send(r, 0, 60, 0x33);
	assert_true(wait_used(r, RX, 1));
	assert_false(virtio_device_broken(&r->net.vp.vdev));
}

/* Linux sends the two tables in two buffers after the header. */
static void control_mac_tables_are_checked_and_acked_ok(void **state)
{
	struct rig *r = *state;
	const struct virtio_net_ctrl_hdr hdr = {VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET};
	uint8_t tables[64];
	uint32_t uni = mac_tables(tables, 1, 0) - 4, multi;

	rig_driver_ok_with(r, CTRL_ALL);
	multi = mac_tables(tables, 1, 3) - uni;
	memcpy(ram(r, CTRLBUF), &hdr, sizeof(hdr));
	memcpy(ram(r, CTRLBUF + 0x100), tables, uni);
	memcpy(ram(r, CTRLBUF + 0x200), tables + uni, multi);
	const struct seg segs[] = {{CTRLBUF, sizeof(hdr), false},
				   {CTRLBUF + 0x100, uni, false},
				   {CTRLBUF + 0x200, multi, false},
				   {ACK, 1, true}};
	assert_int_equal(ctrl_send(r, segs, 4), VIRTIO_NET_OK);
	/* Both tables empty, in one buffer. */
	uint32_t len = mac_tables(tables, 0, 0);
	assert_int_equal(
		ctrl_cmd(r, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, tables, len),
		VIRTIO_NET_OK);
}

static void control_mac_addr_set_changes_the_config_mac_until_reset(void **state)
{
	struct rig *r = *state;
	struct virtio_device *vdev = &r->net.vp.vdev;
	const uint8_t mac[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
	struct virtio_net_config cfg;

	rig_driver_ok_with(r, CTRL_ALL);
	uint8_t generation = vdev->config_generation;
	assert_int_equal(ctrl_cmd(r, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, mac, 6),
			 VIRTIO_NET_OK);
	virtio_net_ops.read_config(vdev, 0, (uint8_t *)&cfg, sizeof(cfg));
	assert_memory_equal(cfg.mac, mac, 6);
	assert_int_not_equal(vdev->config_generation, generation);
	rig_restart(r, CTRL_ALL);
	virtio_net_ops.read_config(vdev, 0, (uint8_t *)&cfg, sizeof(cfg));
	assert_memory_equal(cfg.mac, test_mac, 6);
}

/* What ip_forward or ethtool -K rx-gro-hw off do in Linux: segmentation
 * off, checksums kept. The tap is told at once, and a segmented frame
 * already queued in it is dropped rather than handed over. */
static void control_offloads_set_changes_the_tap_offloads(void **state)
{
	struct rig *r = *state;

	rig_driver_ok_with(r, TCP_OFFLOADS | CTRL_ALL);
	assert_int_equal(r->net.tap_offload_flags, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6);
	assert_int_equal(ctrl_set_offloads(r, VIRTIO_NET_F_GUEST_CSUM), VIRTIO_NET_OK);
	assert_int_equal(r->net.tap_offload_flags, TUN_F_CSUM);
	add_chain(r, RX, &(struct seg){BIGBUF, HDR + 30000, true}, 1);
	kick(r, RX);
	host_send_hdr(r, &tso4_hdr, 30000, 'G');
	host_send(r, VIRTIO_NET_HDR_F_NEEDS_CSUM, 100, 'c');
	assert_true(wait_used(r, RX, 1));
	assert_int_equal(*ram(r, BIGBUF + HDR), 'c');
	assert_int_equal(r->net.stats.rx_dropped, 1);

	/* And back on. */
	assert_int_equal(ctrl_set_offloads(r, VIRTIO_NET_GUEST_OFFLOADS & TCP_OFFLOADS),
			 VIRTIO_NET_OK);
	assert_int_equal(r->net.tap_offload_flags, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6);
	add_chain(r, RX, &(struct seg){BIGBUF, HDR + 30000, true}, 1);
	kick(r, RX);
	host_send_hdr(r, &tso4_hdr, 30000, 'H');
	assert_true(wait_used(r, RX, 2));
	assert_int_equal(used_elem(r, RX, 1).len, HDR + 30000);

	/* None at all: the tap does no offload for the guest. */
	assert_int_equal(ctrl_set_offloads(r, 0), VIRTIO_NET_OK);
	assert_int_equal(r->net.tap_offload_flags, 0);
}

/* A segmented frame read before the driver turned segmentation off,
 * waiting for more buffers (MRG_RXBUF), never reaches it. */
static void control_offloads_off_drop_a_segmented_frame_waiting_for_buffers(void **state)
{
	struct rig *r = *state;

	rig_driver_ok_with(r, TCP_OFFLOADS | VIRTIO_NET_F_MRG_RXBUF | CTRL_ALL);
	post_rx_buffers(r, 0, 2, 1500);
	kick(r, RX);
	host_send_hdr(r, &tso4_hdr, 5000, 'S');
	bool waiting = false;
	for (int i = 0; i < 5000 && !waiting; i++) {
		sleep_ms(1);
		pthread_mutex_lock(&r->net.vp.vdev.lock);
		waiting = r->net.rx.partial_len != 0;
		pthread_mutex_unlock(&r->net.vp.vdev.lock);
	}
	assert_true(waiting);
	assert_int_equal(ctrl_set_offloads(r, VIRTIO_NET_F_GUEST_CSUM), VIRTIO_NET_OK);
	assert_int_equal(r->net.stats.rx_dropped, 1);
	post_rx_buffers(r, 2, 3, 1500);
	kick(r, RX);
	host_send(r, 0, 100, 'p');
	assert_true(wait_used(r, RX, 1));
	assert_int_equal(used_elem(r, RX, 0).len, HDR + 100);
	assert_int_equal(*ram(r, RXBUF + HDR), 'p');
	sleep_ms(50);
	assert_int_equal(used_idx(r, RX), 1);
}

static void control_offloads_not_negotiated_get_err(void **state)
{
	struct rig *r = *state;

	rig_driver_ok_with(r, VIRTIO_NET_F_GUEST_CSUM | CTRL_ALL);
	assert_int_equal(r->net.tap_offload_flags, TUN_F_CSUM);
	assert_int_equal(ctrl_set_offloads(r, VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4),
			 VIRTIO_NET_ERR);
	assert_int_equal(ctrl_set_offloads(r, VIRTIO_NET_F_CSUM /* a transmit offload */),
			 VIRTIO_NET_ERR);
	assert_int_equal(ctrl_set_offloads(r, 1ULL << 10 /* GUEST_UFO, never offered */),
			 VIRTIO_NET_ERR);
	assert_int_equal(r->net.tap_offload_flags, TUN_F_CSUM);
	assert_int_equal(r->net.guest_offloads, VIRTIO_NET_F_GUEST_CSUM);
	assert_false(virtio_device_broken(&r->net.vp.vdev));
}

static void control_short_header_gets_err(void **state)
{
	struct rig *r = *state;

	rig_driver_ok_with(r, CTRL_ALL);
	*ram(r, CTRLBUF) = VIRTIO_NET_CTRL_RX;
	const struct seg segs[] = {{CTRLBUF, 1, false}, {ACK, 1, true}};
	assert_int_equal(ctrl_send(r, segs, 2), VIRTIO_NET_ERR);
	assert_false(virtio_device_broken(&r->net.vp.vdev));
}

static void control_command_without_an_ack_byte_needs_reset(void **state)
{
	struct rig *r = *state;
	const struct virtio_net_ctrl_hdr hdr = {VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC};

	rig_driver_ok_with(r, CTRL_ALL);
	memcpy(ram(r, CTRLBUF), &hdr, sizeof(hdr));
	*ram(r, CTRLBUF + sizeof(hdr)) = 1;
	add_chain(r, CTRL, &(struct seg){CTRLBUF, sizeof(hdr) + 1, false}, 1);
	kick(r, CTRL);
	assert_true(wait_broken(r));
	assert_int_equal(used_idx(r, CTRL), 0);
}

static void control_command_with_a_read_only_ack_needs_reset(void **state)
{
	struct rig *r = *state;
	const struct virtio_net_ctrl_hdr hdr = {VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC};

	rig_driver_ok_with(r, CTRL_ALL);
	memcpy(ram(r, CTRLBUF), &hdr, sizeof(hdr));
	*ram(r, CTRLBUF + 0x100) = 1;
	*ram(r, ACK) = 0xee;
	const struct seg segs[] = {
		{CTRLBUF, sizeof(hdr), false}, {CTRLBUF + 0x100, 1, false}, {ACK, 1, false}};
	add_chain(r, CTRL, segs, 3);
	kick(r, CTRL);
	assert_true(wait_broken(r));
	assert_int_equal(used_idx(r, CTRL), 0);
	assert_int_equal(*ram(r, ACK), 0xee);
}

/* Counts that claim more MACs than the buffers hold, up to counts whose
 * size in bytes, taken modulo 2^32, would match what is there. */
static void control_mac_table_count_larger_than_the_buffer_gets_err(void **state)
{
	static const struct {
		uint32_t count[2];
		uint32_t bytes[2]; /* of MACs there after each count */
	} bad[] = {
		{{2, 0}, {6, 0}},	   /* 2 unicast MACs claimed, 1 there */
		{{1, 1}, {6, 0}},	   /* 1 multicast MAC claimed, none there */
		{{0xffffffff, 0}, {6, 0}}, /* more than any chain holds */
		{{0x2aaaaaab, 0}, {2, 0}}, /* 6 * count is 2 in 32 bits */
		{{0, 0x2aaaaaab}, {0, 2}},
	};
	struct rig *r = *state;
	uint8_t tables[64];

	rig_driver_ok_with(r, CTRL_ALL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint32_t len = 0;
		for (int t = 0; t < 2; t++) {
			uint32_t le = htole32(bad[i].count[t]);
			memcpy(tables + len, &le, 4);
			memset(tables + len + 4, t ? 0x01 : 0x02, bad[i].bytes[t]);
			len += 4 + bad[i].bytes[t];
		}
		if (ctrl_cmd(r, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, tables, len) !=
		    VIRTIO_NET_ERR)
			fail_msg("MAC tables counting %u + %u in %u bytes were not refused",
				 bad[i].count[0], bad[i].count[1], len);
	}
	assert_false(virtio_device_broken(&r->net.vp.vdev));
}

/* Every other way a command can break its rules: each is answered with
 * VIRTIO_NET_ERR, and the device carries on. */
static void control_commands_breaking_their_rules_get_err(void **state)
{
	static const struct {
		const char *what;
		uint8_t class, cmd;
		uint32_t len;
		uint8_t data[16];
	} bad[] = {
		{"an unknown class", 9, 0, 1, {1}},
		{"an unknown RX command", VIRTIO_NET_CTRL_RX, 2 /* ALLUNI: not offered */, 1, {1}},
		{"an unknown MAC command", VIRTIO_NET_CTRL_MAC, 2, 6, {2}},
		{"the VLAN class, not offered", 2, 0, 2, {1}},
		{"PROMISC without its byte",
		 VIRTIO_NET_CTRL_RX,
		 VIRTIO_NET_CTRL_RX_PROMISC,
		 0,
		 {0}},
		{"PROMISC with two bytes",
		 VIRTIO_NET_CTRL_RX,
		 VIRTIO_NET_CTRL_RX_PROMISC,
		 2,
		 {1, 1}},
		{"ALLMULTI with two bytes",
		 VIRTIO_NET_CTRL_RX,
		 VIRTIO_NET_CTRL_RX_ALLMULTI,
		 2,
		 {1}},
		{"a 5-byte MAC",
		 VIRTIO_NET_CTRL_MAC,
		 VIRTIO_NET_CTRL_MAC_ADDR_SET,
		 5,
		 {2, 1, 2, 3, 4}},
		{"a 7-byte MAC",
		 VIRTIO_NET_CTRL_MAC,
		 VIRTIO_NET_CTRL_MAC_ADDR_SET,
		 7,
		 {2, 1, 2, 3, 4, 5, 6}},
		{"a multicast MAC",
		 VIRTIO_NET_CTRL_MAC,
		 VIRTIO_NET_CTRL_MAC_ADDR_SET,
		 6,
		 {1, 0, 0x5e}},
		{"an all-zero MAC", VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, 6, {0}},
		{"MAC tables without the multicast one",
		 VIRTIO_NET_CTRL_MAC,
		 VIRTIO_NET_CTRL_MAC_TABLE_SET,
		 4,
		 {0}},
		{"MAC tables with a byte after them",
		 VIRTIO_NET_CTRL_MAC,
		 VIRTIO_NET_CTRL_MAC_TABLE_SET,
		 9,
		 {0}},
		{"MAC tables in 3 bytes",
		 VIRTIO_NET_CTRL_MAC,
		 VIRTIO_NET_CTRL_MAC_TABLE_SET,
		 3,
		 {0}},
		{"offloads in 7 bytes",
		 VIRTIO_NET_CTRL_GUEST_OFFLOADS,
		 VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET,
		 7,
		 {0}},
		{"offloads in 9 bytes",
		 VIRTIO_NET_CTRL_GUEST_OFFLOADS,
		 VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET,
		 9,
		 {0}},
		{"an unknown offloads command", VIRTIO_NET_CTRL_GUEST_OFFLOADS, 1, 8, {0}},
	};
	struct rig *r = *state;

	rig_driver_ok_with(r, CTRL_ALL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (ctrl_cmd(r, bad[i].class, bad[i].cmd, bad[i].data, bad[i].len) !=
		    VIRTIO_NET_ERR)
			fail_msg("a control command with %s was not answered VIRTIO_NET_ERR",
				 bad[i].what);
	assert_false(virtio_device_broken(&r->net.vp.vdev));
	const uint8_t on = 1;
	assert_int_equal(ctrl_cmd(r, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &on, 1),
			 VIRTIO_NET_OK);
}

/* A driver that took the control queue but not a command's feature. */
static void control_command_of_a_feature_not_negotiated_gets_err(void **state)
{
	struct rig *r = *state;
	const uint8_t on = 1, mac[6] = {2, 0, 0, 0, 0, 1};
	uint8_t tables[8];

	rig_driver_ok_with(r, VIRTIO_NET_F_CTRL_VQ | VIRTIO_NET_F_GUEST_CSUM);
	assert_int_equal(ctrl_cmd(r, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &on, 1),
			 VIRTIO_NET_ERR);
	assert_int_equal(ctrl_cmd(r, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, tables,
				  mac_tables(tables, 0, 0)),
			 VIRTIO_NET_ERR);
	assert_int_equal(ctrl_cmd(r, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, mac, 6),
			 VIRTIO_NET_ERR);
	assert_int_equal(ctrl_set_offloads(r, 0), VIRTIO_NET_ERR);
	assert_int_equal(r->net.tap_offload_flags, TUN_F_CSUM);
}

/* The header split over two buffers, a 2-byte writable part: the ack
 * goes in its first byte. */
static void control_command_over_odd_buffers_is_read_whole(void **state)
{
	struct rig *r = *state;
	const uint8_t mac[6] = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee};

	rig_driver_ok_with(r, CTRL_ALL);
	*ram(r, CTRLBUF) = VIRTIO_NET_CTRL_MAC;
	*ram(r, CTRLBUF + 0x10) = VIRTIO_NET_CTRL_MAC_ADDR_SET;
	memcpy(ram(r, CTRLBUF + 0x11), mac, 2);
	memcpy(ram(r, CTRLBUF + 0x20), mac + 2, 4);
	*ram(r, ACK + 1) = 0x77;
	const struct seg segs[] = {{CTRLBUF, 1, false},
				   {CTRLBUF + 0x10, 3, false},
				   {CTRLBUF + 0x20, 4, false},
				   {ACK, 2, true}};
	assert_int_equal(ctrl_send(r, segs, 4), VIRTIO_NET_OK);
	assert_int_equal(*ram(r, ACK + 1), 0x77);
	assert_memory_equal(r->net.config.mac, mac, 6);
}

static void control_features_need_the_control_queue(void **state)
{
	static const uint64_t bad[] = {
		VIRTIO_NET_F_CTRL_RX,
		VIRTIO_NET_F_CTRL_MAC_ADDR,
		VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_CTRL_GUEST_OFFLOADS,
	};
	struct rig *r = *state;
	struct virtio_device *vdev = &r->net.vp.vdev;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (features_accepted(vdev, bad[i]))
			fail_msg("features 0x%llx accepted without CTRL_VQ",
				 (unsigned long long)bad[i]);
	}
}

static void tap_name_too_long_is_named_in_the_error(void **state)
{
	struct virtio_net *net = calloc(1, sizeof(*net));
	char err[256];

	assert_int_equal(virtio_net_open_tap(net, "a-name-of-16-chr", test_mac, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "tap 'a-name-of-16-chr'"));
	assert_int_equal(net->tap_fd, -1);
	free(net);
}

#define PARSE(cfg, err, ...)                                                                       \
	parse_words((cfg), (err), sizeof(err), (const char *const[]){__VA_ARGS__, NULL})

static enum cli_result parse_words(struct skiff_config *cfg, char *err, size_t err_size,
				   const char *const *words)
{
	char *argv[16];
	int argc = 0;

	while (words[argc] && argc < 15) {
		argv[argc] = (char *)words[argc];
		argc++;
	}
	argv[argc] = NULL;
	return cli_parse_run(argc, argv, cfg, err, err_size);
}

static void net_option_takes_a_tap_and_a_default_mac_per_index(void **state)
{
	struct skiff_config cfg;
	char err[CONFIG_ERR_SIZE] = "";
	const uint8_t first[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
	const uint8_t given[6] = {0x02, 0xab, 0xcd, 0xef, 0x01, 0x23};

	assert_int_equal(PARSE(&cfg, err, "--net", "tap=skt0",
			       "--net=tap=skt1,mac=02:AB:cd:ef:01:23", "--net",
			       "mac=02:00:00:00:00:01,tap=x"),
			 CLI_OK);
	assert_int_equal(cfg.nr_nets, 3);
	assert_string_equal(cfg.nets[0].tap, "skt0");
	assert_memory_equal(cfg.nets[0].mac, first, 6);
	assert_string_equal(cfg.nets[1].tap, "skt1");
	assert_memory_equal(cfg.nets[1].mac, given, 6);
	assert_string_equal(cfg.nets[2].tap, "x");
	assert_int_equal(cfg.nets[2].mac[5], 1);
	assert_int_equal(PARSE(&cfg, err, "--net", "tap=a", "--net", "tap=b"), CLI_OK);
	assert_int_equal(cfg.nets[1].mac[5], 0x57);
}

static void bad_net_options_are_errors_naming_the_problem(void **state)
{
	static const struct {
		const char *value, *names;
	} bad[] = {
		{"tap=a-name-of-16-chr", "longer than 15"},
		{"tap=", "is empty"},
		{"tap=a/b", "'a/b'"},
		{"tap=a b", "'a b'"},
		{"tap=..", "not a valid interface name"},
		{"mac=52:54:00:12:34:56", "names no tap"},
		{"", "unknown option ''"},
		{"tap=x,mac=52:54:00:12:34", "mac '52:54:00:12:34' is not six hex bytes"},
		{"tap=x,mac=52:54:00:12:34:567", "not six hex bytes"},
		{"tap=x,mac=52-54-00-12-34-56", "not six hex bytes"},
		{"tap=x,mac=5g:54:00:12:34:56", "not six hex bytes"},
		{"tap=x,mac=", "not six hex bytes"},
		{"tap=x,mac=01:00:5e:00:00:01", "multicast"},
		{"tap=x,mac=00:00:00:00:00:00", "all zeros"},
		{"tap=x,queues=2", "unknown option 'queues=2'"},
		{"tap=x,", "unknown option ''"},
	};
	struct skiff_config cfg;
	char err[CONFIG_ERR_SIZE];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (PARSE(&cfg, err, "--net", bad[i].value) != CLI_ERROR)
			fail_msg("--net '%s' was accepted", bad[i].value);
		if (!strstr(err, "--net") || !strstr(err, bad[i].names))
			fail_msg("--net '%s': error '%s' does not mention '%s'", bad[i].value, err,
				 bad[i].names);
	}
}

static void at_most_four_net_devices(void **state)
{
	struct skiff_config cfg;
	char err[CONFIG_ERR_SIZE] = "";

	assert_int_equal(PARSE(&cfg, err, "--net", "tap=a", "--net", "tap=b", "--net", "tap=c",
			       "--net", "tap=d", "--net", "tap=e"),
			 CLI_ERROR);
	assert_non_null(strstr(err, "at most 4"));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, rig_setup, rig_teardown)
	const struct CMUnitTest tests[] = {
		T(transmit_sends_a_clean_header_and_the_frame),
		T(receive_fills_the_buffer_with_a_plain_header_and_the_frame),
		T(frames_wait_in_the_tap_until_the_guest_posts_buffers),
		T(frames_wait_while_bus_mastering_is_off),
		T(receive_resumes_when_buffers_come_back),
		T(frame_larger_than_the_buffers_is_dropped_and_the_buffer_reused),
		T(frame_with_an_offload_header_is_dropped),
		T(a_flood_of_bad_frames_yields_then_carries_on),
		T(transmit_frame_over_64k_needs_reset),
		T(largest_transmit_frame_passes),
		T(transmit_notifications_come_back_once_the_queue_is_idle),
		T(polled_transmit_queue_takes_frames_without_kicks),
		T(polling_ends_after_a_quiet_window),
		T(reset_stops_polling_the_old_ring),
		T(pure_acks_wait_for_their_interrupt_while_the_guest_streams_out),
		T(the_transmit_nap_is_long_only_while_the_guest_gets_pure_acks),
		T(a_held_ack_interrupt_goes_out_when_the_hold_time_is_up),
		T(acks_interrupt_at_once_unless_the_guest_streams_out),
		T(held_acks_go_out_when_the_driver_runs_out_of_buffers),
		T(at_most_a_quarter_of_the_ring_waits_for_an_interrupt),
		T(transmit_with_a_writable_buffer_needs_reset),
		T(transmit_shorter_than_the_header_needs_reset),
		T(runt_transmit_frame_is_dropped_not_sent),
		T(receive_buffer_smaller_than_the_header_needs_reset),
		T(device_readable_receive_buffer_needs_reset),
		T(closed_tap_stops_receive_but_not_the_device),
		T(reset_forgets_the_held_receive_chain),
		T(config_space_holds_the_mac_and_link_up),
		T(transmit_hands_a_negotiated_offload_to_the_tap),
		T(transmit_header_breaking_the_negotiation_needs_reset),
		T(receive_passes_a_negotiated_offload_to_the_guest),
		T(receive_drops_an_offload_the_guest_did_not_take),
		T(mergeable_frame_spans_buffers_and_says_how_many),
		T(mergeable_frame_waits_for_buffers_then_completes),
		T(offload_features_need_their_checksum_features),
		T(control_queue_is_offered_with_its_commands),
		T(control_rx_modes_are_acked_ok),
		T(control_mac_tables_are_checked_and_acked_ok),
		T(control_mac_addr_set_changes_the_config_mac_until_reset),
		T(control_offloads_set_changes_the_tap_offloads),
		T(control_offloads_off_drop_a_segmented_frame_waiting_for_buffers),
		T(control_offloads_not_negotiated_get_err),
		T(control_short_header_gets_err),
		T(control_command_without_an_ack_byte_needs_reset),
		T(control_command_with_a_read_only_ack_needs_reset),
		T(control_mac_table_count_larger_than_the_buffer_gets_err),
		T(control_commands_breaking_their_rules_get_err),
		T(control_command_of_a_feature_not_negotiated_gets_err),
		T(control_command_over_odd_buffers_is_read_whole),
		T(control_features_need_the_control_queue),
		cmocka_unit_test(tap_name_too_long_is_named_in_the_error),
		cmocka_unit_test(net_option_takes_a_tap_and_a_default_mac_per_index),
		cmocka_unit_test(bad_net_options_are_errors_naming_the_problem),
		cmocka_unit_test(at_most_four_net_devices),
	};
	return cmocka_run_group_tests_name("virtio_net", tests, NULL, NULL);
}
