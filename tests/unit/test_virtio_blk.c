/* virtio-blk end to end without KVM: a real image file, the real io_uring
 * I/O thread, rings in a real guest RAM; the test plays the driver. */
#include <fcntl.h>
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

#include "devices/virtio/virtio_blk.h"
#include "fake_irq.h"
#include "mm/guest_mem.h"

#define RAM_SIZE (4 * GUEST_MIB)
#define QSIZE 16
#define DESC 0x10000ULL
#define AVAIL 0x11000ULL
#define USED 0x12000ULL
#define HDR 0x20000ULL
#define STATUS_AT 0x21000ULL
#define DATA 0x30000ULL
#define IMAGE_SECTORS 2048

struct rig {
	char image[64];
	struct guest_mem mem;
	struct ioloop loop;
	struct virtio_blk blk;
	uint16_t avail_idx;
	struct fake_irq irq;
};

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

/* Common configuration registers, as the guest reaches them through BAR 0. */
#define COMMON_GFSELECT 0x08
#define COMMON_GF 0x0c
#define COMMON_STATUS 0x14
#define COMMON_Q_SELECT 0x16
#define COMMON_Q_SIZE 0x18
#define COMMON_Q_ENABLE 0x1c
#define COMMON_Q_DESC 0x20
#define COMMON_Q_AVAIL 0x28
#define COMMON_Q_USED 0x30

static void bar_write(struct rig *r, uint64_t off, uint32_t val, unsigned len)
{
	const struct pci_bar *bar = &r->blk.vp.pci.bars[VIRTIO_PCI_BAR];

	bar->ops->write(bar->opaque, off, (const uint8_t *)&val, len);
}

static uint32_t bar_read(struct rig *r, uint64_t off, unsigned len)
{
	const struct pci_bar *bar = &r->blk.vp.pci.bars[VIRTIO_PCI_BAR];
	uint32_t val = 0;

	bar->ops->read(bar->opaque, off, (uint8_t *)&val, len);
	return val;
}

static uint8_t device_status(struct rig *r)
{
	return (uint8_t)bar_read(r, COMMON_STATUS, 1);
}

static void bar_write64(struct rig *r, uint64_t off, uint64_t val)
{
	bar_write(r, off, (uint32_t)val, 4);
	bar_write(r, off + 4, (uint32_t)(val >> 32), 4);
}

/* What a driver does from a reset device to DRIVER_OK, through the
 * transport, on zeroed rings. */
static void driver_init(struct rig *r)
{
	memset(ram(r, DESC), 0, USED + 0x1000 - DESC);
	r->avail_idx = 0;
	bar_write(r, COMMON_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
	bar_write(r, COMMON_GFSELECT, 0, 4);
	bar_write(r, COMMON_GF, (uint32_t)VIRTIO_BLK_F_FLUSH, 4);
	bar_write(r, COMMON_GFSELECT, 1, 4);
	bar_write(r, COMMON_GF, (uint32_t)(VIRTIO_F_VERSION_1 >> 32), 4);
	bar_write(r, COMMON_STATUS, 0x0b, 1);
	assert_int_equal(device_status(r), 0x0b);
	bar_write(r, COMMON_Q_SELECT, 0, 2);
	bar_write(r, COMMON_Q_SIZE, QSIZE, 2);
	bar_write64(r, COMMON_Q_DESC, DESC);
	bar_write64(r, COMMON_Q_AVAIL, AVAIL);
	bar_write64(r, COMMON_Q_USED, USED);
	bar_write(r, COMMON_Q_ENABLE, 1, 2);
	bar_write(r, COMMON_STATUS, 0x0f, 1);
	assert_int_equal(device_status(r), 0x0f);
	assert_true(r->blk.vp.vdev.vqs[0].ready);
}

/* The command register as a driver writes it: decoding on, bus
 * mastering as asked. */
static void bus_master(struct rig *r, bool on)
{
	uint16_t command = PCI_COMMAND_MEMORY | (on ? PCI_COMMAND_MASTER : 0);

	pci_config_write(&r->blk.vp.pci, PCI_COMMAND, (const uint8_t *)&command, 2);
}

static void rig_start(struct rig *r, bool read_only)
{
	char err[256];

	assert_int_equal(virtio_blk_open(&r->blk, r->image, read_only, err, sizeof(err)), 0);
	assert_int_equal(ioloop_init(&r->loop), 0);
	struct msi_controller msi = fake_irq_msi(&r->irq);
	assert_int_equal(
		virtio_blk_init(&r->blk, &r->mem, &r->loop, msi, fake_irq_intx(&r->irq, 16)), 0);
	bus_master(r, true); /* the driver's first step */
	assert_int_equal(ioloop_watch_eventfd(&r->loop, r->blk.vp.kick_fds[0], virtio_pci_kicked,
					      &r->blk.vp.kicks[0]),
			 0);
	assert_int_equal(ioloop_start(&r->loop), 0);
	driver_init(r);
}

static int rig_setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	snprintf(r->image, sizeof(r->image), "/tmp/skiff-blk-test.XXXXXX");
	int fd = mkstemp(r->image);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, IMAGE_SECTORS * 512), 0);
	close(fd);
	assert_int_equal(guest_mem_init(&r->mem, RAM_SIZE), 0);
	*state = r;
	return 0;
}

static int rig_teardown(void **state)
{
	struct rig *r = *state;

	ioloop_destroy(&r->loop);
	if (r->blk.vp.vdev.ops)
		virtio_blk_exit(&r->blk);
	guest_mem_destroy(&r->mem);
	unlink(r->image);
	free(r);
	return 0;
}

static void set_desc(struct rig *r, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	struct virtq_desc d = {addr, len, flags, next};

	memcpy(ram(r, DESC + 16 * i), &d, sizeof(d));
}

static uint16_t used_idx(struct rig *r)
{
	return __atomic_load_n(ram16(r, USED + 2), __ATOMIC_ACQUIRE);
}

/* Publishes head 0 and kicks. */
static void submit(struct rig *r)
{
	uint64_t one = 1;

	*ram(r, STATUS_AT) = 0xee;
	memset(ram(r, AVAIL + 4 + 2 * (r->avail_idx % QSIZE)), 0, 2);
	r->avail_idx++;
	__atomic_store_n(ram16(r, AVAIL + 2), r->avail_idx, __ATOMIC_RELEASE);
	assert_int_equal(write(r->blk.vp.kick_fds[0], &one, 8), 8);
}

/* submit(), then wait (bounded) for the device to use the chain. */
static uint8_t submit_and_wait(struct rig *r)
{
	uint16_t before = used_idx(r);

	submit(r);
	for (int i = 0; i < 5000 && used_idx(r) == before; i++)
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	if (used_idx(r) == before)
		return 0xee;
	return *ram(r, STATUS_AT);
}

/* header -> data -> status, as Linux lays out a request, at head 0. */
static void lay_out_request(struct rig *r, uint32_t type, uint64_t sector, uint32_t data_len,
			    bool data_to_guest)
{
	struct {
		uint32_t type, reserved;
		uint64_t sector;
	} hdr = {type, 0, sector};

	memcpy(ram(r, HDR), &hdr, sizeof(hdr));
	if (data_len) {
		set_desc(r, 0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
		set_desc(r, 1, DATA, data_len,
			 VIRTQ_DESC_F_NEXT | (data_to_guest ? VIRTQ_DESC_F_WRITE : 0), 2);
		set_desc(r, 2, STATUS_AT, 1, VIRTQ_DESC_F_WRITE, 0);
	} else {
		set_desc(r, 0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
		set_desc(r, 1, STATUS_AT, 1, VIRTQ_DESC_F_WRITE, 0);
	}
}

static uint8_t request(struct rig *r, uint32_t type, uint64_t sector, uint32_t data_len,
		       bool data_to_guest)
{
	lay_out_request(r, type, sector, data_len, data_to_guest);
	return submit_and_wait(r);
}

static void read_image(struct rig *r, uint64_t off, void *buf, size_t len)
{
	int fd = open(r->image, O_RDONLY);

	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static void write_then_read_round_trips_through_the_image(void **state)
{
	struct rig *r = *state;
	char back[1024];

	rig_start(r, false);
	memset(ram(r, DATA), 'A', 1024);
	assert_int_equal(request(r, VIRTIO_BLK_T_OUT, 7, 1024, false), VIRTIO_BLK_S_OK);
	read_image(r, 7 * 512, back, sizeof(back));
	assert_memory_equal(back, ram(r, DATA), 1024);

	memset(ram(r, DATA), 0, 1024);
	assert_int_equal(request(r, VIRTIO_BLK_T_IN, 7, 1024, true), VIRTIO_BLK_S_OK);
	assert_memory_equal(ram(r, DATA), back, 1024);
	uint32_t used_len;
	memcpy(&used_len, ram(r, USED + 4 + 8 * 1 + 4), 4);
	assert_int_equal(used_len, 1024 + 1); /* data and status written */
	assert_true(fake_irq_raises(&r->irq) > 0);
	/* What --metrics reports. */
	assert_int_equal(r->blk.stats.writes, 1);
	assert_int_equal(r->blk.stats.written_bytes, 1024);
	assert_int_equal(r->blk.stats.reads, 1);
	assert_int_equal(r->blk.stats.read_bytes, 1024);
	assert_int_equal(r->blk.stats.failed, 0);
}

static void flush_and_get_id_complete(void **state)
{
	struct rig *r = *state;

	rig_start(r, false);
	assert_int_equal(request(r, VIRTIO_BLK_T_FLUSH, 0, 0, false), VIRTIO_BLK_S_OK);
	assert_int_equal(request(r, VIRTIO_BLK_T_GET_ID, 0, 20, true), VIRTIO_BLK_S_OK);
	assert_memory_equal(ram(r, DATA), "skiff-blk-test", 14);
	assert_int_equal(r->blk.stats.flushes, 1);
}

static void read_only_disk_refuses_writes_and_keeps_data(void **state)
{
	struct rig *r = *state;
	char back[512], zero[512] = {0};

	rig_start(r, true);
	assert_true(r->blk.vp.vdev.host_features & VIRTIO_BLK_F_RO);
	memset(ram(r, DATA), 'B', 512);
	assert_int_equal(request(r, VIRTIO_BLK_T_OUT, 0, 512, false), VIRTIO_BLK_S_IOERR);
	read_image(r, 0, back, sizeof(back));
	assert_memory_equal(back, zero, 512);
	assert_int_equal(request(r, VIRTIO_BLK_T_IN, 0, 512, true), VIRTIO_BLK_S_OK);
}

static void access_past_the_end_fails_with_ioerr(void **state)
{
	struct rig *r = *state;

	rig_start(r, false);
	assert_int_equal(request(r, VIRTIO_BLK_T_IN, IMAGE_SECTORS - 1, 1024, true),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(r, VIRTIO_BLK_T_OUT, UINT64_MAX - 1, 1024, false),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(r, VIRTIO_BLK_T_IN, 0, 100, true), VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(r, 77, 0, 0, false), VIRTIO_BLK_S_UNSUPP);
	/* The device is still healthy afterwards. */
	assert_int_equal(request(r, VIRTIO_BLK_T_IN, 0, 512, true), VIRTIO_BLK_S_OK);
	assert_int_equal(r->blk.stats.failed, 4);
	assert_int_equal(r->blk.stats.reads, 1);
	assert_int_equal(r->blk.stats.read_bytes, 512);
}

static void short_read_of_a_shrunk_image_is_an_error(void **state)
{
	struct rig *r = *state;

	rig_start(r, false);
	/* Someone truncates the image behind the VMM's back: a read that
	 * used to fit now gets fewer bytes than asked for. */
	assert_int_equal(truncate(r->image, 1024), 0);
	assert_int_equal(request(r, VIRTIO_BLK_T_IN, 0, 4096, true), VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(r, VIRTIO_BLK_T_IN, 0, 1024, true), VIRTIO_BLK_S_OK);
	assert_int_equal(r->blk.stats.failed, 1);
}

static void write_zeroes_clears_the_range(void **state)
{
	struct rig *r = *state;
	char back[512], zero[512] = {0};
	struct {
		uint64_t sector;
		uint32_t num, flags;
	} range = {3, 1, 0};

	rig_start(r, false);
	memset(ram(r, DATA), 'C', 512);
	assert_int_equal(request(r, VIRTIO_BLK_T_OUT, 3, 512, false), VIRTIO_BLK_S_OK);
	memcpy(ram(r, DATA), &range, sizeof(range));
	assert_int_equal(request(r, VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, false), VIRTIO_BLK_S_OK);
	read_image(r, 3 * 512, back, sizeof(back));
	assert_memory_equal(back, zero, 512);
	assert_int_equal(r->blk.stats.write_zeroes, 1);
	assert_int_equal(r->blk.stats.written_bytes, 512); /* the write's, not the zeroes' */
}

static void request_without_status_byte_needs_reset(void **state)
{
	struct rig *r = *state;

	rig_start(r, false);
	set_desc(r, 0, HDR, 16, 0, 0); /* header only: nowhere to put a status */
	memset(ram(r, HDR), 0, 16);
	submit(r);
	for (int i = 0; i < 5000 && !virtio_device_broken(&r->blk.vp.vdev); i++)
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	assert_true(r->blk.vp.vdev.status & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(used_idx(r), 0);
}

static unsigned in_flight(struct rig *r)
{
	struct virtio_device *vdev = &r->blk.vp.vdev;

	pthread_mutex_lock(&vdev->lock);
	unsigned n = vdev->in_flight;
	pthread_mutex_unlock(&vdev->lock);
	return n;
}

static void sleep_ms(long ms)
{
	nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000}, NULL);
}

/* Waits (bounded, 5 s) for the status register to read want. */
static bool status_becomes(struct rig *r, uint8_t want)
{
	for (int i = 0; i < 5000 && device_status(r) != want; i++)
		sleep_ms(1);
	return device_status(r) == want;
}

/* A disk whose reads wait for the test: the image's descriptor now reads
 * from a pipe, so a read stays in flight until the test writes the data.
 * Returns the pipe's write end; *image keeps the image for
 * disk_restore(). */
static int disk_stall_reads(struct rig *r, int *image)
{
	int p[2];

	assert_int_equal(pipe(p), 0);
	*image = dup(r->blk.fd);
	assert_true(*image >= 0);
	assert_true(dup2(p[0], r->blk.fd) == r->blk.fd);
	close(p[0]);
	return p[1];
}

static void disk_restore(struct rig *r, int image)
{
	assert_true(dup2(image, r->blk.fd) == r->blk.fd);
	close(image);
}

static void reset_with_nothing_in_flight_reads_zero_at_once(void **state)
{
	struct rig *r = *state;

	rig_start(r, false);
	assert_int_equal(request(r, VIRTIO_BLK_T_IN, 0, 512, true), VIRTIO_BLK_S_OK);
	bar_write(r, COMMON_STATUS, 0, 1);
	assert_int_equal(device_status(r), 0);
	driver_init(r);
	assert_int_equal(request(r, VIRTIO_BLK_T_IN, 0, 512, true), VIRTIO_BLK_S_OK);
}

/* The driver resets the device while the host kernel still has a read to
 * do into guest memory (a slow or hung disk). The reset must not complete
 * before that read has: the driver would reuse the memory under it. */
static void reset_waits_for_a_read_in_flight_and_drops_its_completion(void **state)
{
	struct rig *r = *state;
	uint8_t disk_data[1024];
	int image;

	rig_start(r, false);
	int disk = disk_stall_reads(r, &image);
	memset(ram(r, DATA), 0x5a, sizeof(disk_data));
	lay_out_request(r, VIRTIO_BLK_T_IN, 0, sizeof(disk_data), true);
	submit(r);
	for (int i = 0; i < 5000 && in_flight(r) == 0; i++)
		sleep_ms(1);
	assert_int_equal(in_flight(r), 1);
	int irqs = fake_irq_raises(&r->irq);

	bar_write(r, COMMON_STATUS, 0, 1);
	/* The read cannot finish (the pipe is empty): the reset waits, as
	 * long as it takes, and the driver cannot start over meanwhile. */
	for (int i = 0; i < 20; i++, sleep_ms(1))
		assert_int_equal(device_status(r), 0x0f);
	bar_write(r, COMMON_STATUS, VIRTIO_STATUS_ACKNOWLEDGE, 1);
	bar_write64(r, COMMON_Q_DESC, 0x1234000);
	assert_int_equal(device_status(r), 0x0f);

	/* The disk answers: its data lands in guest memory before the status
	 * reads 0, and the request is dropped, not reported. */
	memset(disk_data, 'R', sizeof(disk_data));
	assert_int_equal(write(disk, disk_data, sizeof(disk_data)), (ssize_t)sizeof(disk_data));
	assert_true(status_becomes(r, 0));
	assert_memory_equal(ram(r, DATA), disk_data, sizeof(disk_data));
	assert_int_equal(*ram(r, STATUS_AT), 0xee);
	assert_int_equal(used_idx(r), 0);
	assert_int_equal(fake_irq_raises(&r->irq), irqs);
	assert_int_equal(bar_read(r, COMMON_Q_DESC, 4), 0); /* the write was ignored */

	/* Once the status reads 0 the device leaves guest memory alone. */
	uint8_t *before = malloc(RAM_SIZE);
	memcpy(before, ram(r, 0), RAM_SIZE);
	sleep_ms(20);
	assert_memory_equal(ram(r, 0), before, RAM_SIZE);
	free(before);
	close(disk);

	disk_restore(r, image);
	driver_init(r);
	memset(ram(r, DATA), 'W', 512);
	assert_int_equal(request(r, VIRTIO_BLK_T_OUT, 0, 512, false), VIRTIO_BLK_S_OK);
	memset(ram(r, DATA), 0, 512);
	assert_int_equal(request(r, VIRTIO_BLK_T_IN, 0, 512, true), VIRTIO_BLK_S_OK);
	assert_int_equal(*ram(r, DATA + 511), 'W');
}

/* Starts a read of 1 KiB from sector 0 that stays in flight until the
 * test writes the data into the returned pipe. */
static int start_stalled_read(struct rig *r, int *image)
{
	int disk = disk_stall_reads(r, image);

	memset(ram(r, DATA), 0x5a, 1024);
	lay_out_request(r, VIRTIO_BLK_T_IN, 0, 1024, true);
	submit(r);
	for (int i = 0; i < 5000 && in_flight(r) == 0; i++)
		sleep_ms(1);
	assert_int_equal(in_flight(r), 1);
	return disk;
}

/* The disk answers; waits until the device has taken the completion. */
static void finish_stalled_read(struct rig *r, int disk, uint8_t fill)
{
	uint8_t data[1024];

	memset(data, fill, sizeof(data));
	assert_int_equal(write(disk, data, sizeof(data)), (ssize_t)sizeof(data));
	for (int i = 0; i < 5000 && in_flight(r); i++)
		sleep_ms(1);
	assert_int_equal(in_flight(r), 0);
}

/* A read completing while the driver has bus mastering off: the host
 * kernel finishes the transfer it was given before, but the device
 * writes neither the status byte nor the used ring, and interrupts no
 * one, until bus mastering is back on; then the request completes as
 * usual. It used to complete at once. */
static void a_completion_while_bus_mastering_is_off_waits_for_it(void **state)
{
	struct rig *r = *state;
	int image;

	rig_start(r, false);
	int disk = start_stalled_read(r, &image);
	bar_read(r, VIRTIO_PCI_ISR_OFF, 1); /* the driver acks what came so far */
	assert_int_equal(fake_irq_level(&r->irq), 0);
	bus_master(r, false);
	finish_stalled_read(r, disk, 'R');
	assert_int_equal(*ram(r, DATA + 1023), 'R');
	assert_int_equal(*ram(r, STATUS_AT), 0xee);
	assert_int_equal(used_idx(r), 0);
	assert_int_equal(fake_irq_level(&r->irq), 0);

	bus_master(r, true);
	assert_int_equal(used_idx(r), 1);
	assert_int_equal(*ram(r, STATUS_AT), VIRTIO_BLK_S_OK);
	assert_int_equal(fake_irq_level(&r->irq), 1);
	close(disk);
	disk_restore(r, image);
	assert_int_equal(request(r, VIRTIO_BLK_T_IN, 0, 512, true), VIRTIO_BLK_S_OK);
}

/* A reset drops a completion held for bus mastering: once the status
 * reads 0 nothing from before the reset reaches guest memory. */
static void a_reset_drops_a_completion_held_for_bus_mastering(void **state)
{
	struct rig *r = *state;
	int image;

	rig_start(r, false);
	int disk = start_stalled_read(r, &image);
	bus_master(r, false);
	finish_stalled_read(r, disk, 'R');
	bar_write(r, COMMON_STATUS, 0, 1);
	assert_int_equal(device_status(r), 0); /* nothing in flight any more */
	bus_master(r, true);
	assert_int_equal(*ram(r, STATUS_AT), 0xee);
	assert_int_equal(used_idx(r), 0);
	close(disk);
	disk_restore(r, image);
}

static void second_writer_is_refused_by_the_lock(void **state)
{
	struct rig *r = *state;
	struct virtio_blk *other = calloc(1, sizeof(*other));
	char err[256];

	rig_start(r, false);
	assert_int_equal(virtio_blk_open(other, r->image, false, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "locked by another process"));
	assert_int_equal(virtio_blk_open(other, r->image, true, err, sizeof(err)), -1);
	free(other);
}

static void missing_image_is_named_in_the_error(void **state)
{
	struct virtio_blk *blk = calloc(1, sizeof(*blk));
	char err[256];

	assert_int_equal(virtio_blk_open(blk, "/nonexistent/disk.img", false, err, sizeof(err)),
			 -1);
	assert_string_equal(err, "disk '/nonexistent/disk.img': No such file or directory");
	assert_int_equal(blk->fd, -1);
	free(blk);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, rig_setup, rig_teardown)
	const struct CMUnitTest tests[] = {
		T(write_then_read_round_trips_through_the_image),
		T(flush_and_get_id_complete),
		T(read_only_disk_refuses_writes_and_keeps_data),
		T(access_past_the_end_fails_with_ioerr),
		T(short_read_of_a_shrunk_image_is_an_error),
		T(write_zeroes_clears_the_range),
		T(request_without_status_byte_needs_reset),
		T(reset_with_nothing_in_flight_reads_zero_at_once),
		T(reset_waits_for_a_read_in_flight_and_drops_its_completion),
		T(a_completion_while_bus_mastering_is_off_waits_for_it),
		T(a_reset_drops_a_completion_held_for_bus_mastering),
		T(second_writer_is_refused_by_the_lock),
		cmocka_unit_test(missing_image_is_named_in_the_error),
	};
	return cmocka_run_group_tests_name("virtio_blk", tests, NULL, NULL);
}
