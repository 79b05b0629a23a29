/* The virtio-pci transport and virtio-rng, driven the way a guest driver
 * drives them: config cycles through the PCI host bridge ports, BAR
 * accesses through the MMIO bus, rings in a real guest RAM. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/bus.h"
#include "devices/pci.h"
#include "devices/virtio/virtio_rng.h"
#include "fake_irq.h"
#include "mm/guest_mem.h"

#define MMIO_BASE 0xc0000000ULL
#define RAM_SIZE (2 * GUEST_MIB)
#define QSIZE 8
#define DESC 0x10000ULL
#define AVAIL 0x11000ULL
#define USED 0x12000ULL
#define DATA 0x20000ULL

/* Common config offsets (virtio 1.x 4.1.4.3). */
#define DFSELECT 0x00
#define DF 0x04
#define GFSELECT 0x08
#define GF 0x0c
#define MSIX_CONFIG 0x10
#define NUMQ 0x12
#define STATUS 0x14
#define Q_SELECT 0x16
#define Q_SIZE 0x18
#define Q_MSIX 0x1a
#define Q_ENABLE 0x1c
#define Q_DESC 0x20
#define Q_AVAIL 0x28
#define Q_USED 0x30

/* KVM's ioeventfds as the device assigns them; like KVM, refuses a
 * second one on an address and a deassign of one that is not there. */
#define MAX_DOORBELLS 8

struct fake_doorbells {
	unsigned n;
	uint64_t addr[MAX_DOORBELLS];
	int fd[MAX_DOORBELLS];
	int refuse; /* assign fails with this when non-zero */
	unsigned assigns, deassigns;
};

static int doorbell_find(const struct fake_doorbells *d, uint64_t addr)
{
	for (unsigned i = 0; i < d->n; i++)
		if (d->addr[i] == addr)
			return (int)i;
	return -1;
}

static int fake_assign(void *ctx, uint64_t addr, int fd)
{
	struct fake_doorbells *d = ctx;

	if (d->refuse)
		return d->refuse;
	assert_int_equal(doorbell_find(d, addr), -1);
	assert_true(d->n < MAX_DOORBELLS);
	d->addr[d->n] = addr;
	d->fd[d->n++] = fd;
	d->assigns++;
	return 0;
}

static void fake_deassign(void *ctx, uint64_t addr, int fd)
{
	struct fake_doorbells *d = ctx;
	int i = doorbell_find(d, addr);

	assert_int_not_equal(i, -1);
	assert_int_equal(d->fd[i], fd);
	d->n--;
	d->addr[i] = d->addr[d->n];
	d->fd[i] = d->fd[d->n];
	d->deassigns++;
}

struct rig {
	struct fake_doorbells bells;
	struct bus pio, mmio;
	struct pci_host host;
	struct guest_mem mem;
	struct virtio_rng rng;
	struct fake_irq irq;
	uint64_t bar;
	uint16_t avail_idx;
};

static uint32_t cfg_read(struct rig *r, unsigned slot, unsigned off, unsigned len)
{
	uint32_t addr = 0x80000000u | slot << 11 | (off & 0xfc), v = 0;

	bus_write(&r->pio, 0xcf8, (uint8_t *)&addr, 4);
	bus_read(&r->pio, 0xcfc + (off & 3), (uint8_t *)&v, len);
	return v;
}

static void cfg_write(struct rig *r, unsigned slot, unsigned off, uint32_t v, unsigned len)
{
	uint32_t addr = 0x80000000u | slot << 11 | (off & 0xfc);

	bus_write(&r->pio, 0xcf8, (uint8_t *)&addr, 4);
	bus_write(&r->pio, 0xcfc + (off & 3), (uint8_t *)&v, len);
}

static uint64_t bar_read(struct rig *r, uint64_t off, unsigned len)
{
	uint64_t v = 0;

	bus_read(&r->mmio, r->bar + off, (uint8_t *)&v, len);
	return v;
}

static void bar_write(struct rig *r, uint64_t off, uint64_t v, unsigned len)
{
	bus_write(&r->mmio, r->bar + off, (uint8_t *)&v, len);
}

static int rig_setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	bus_init(&r->pio, "pio");
	bus_init(&r->mmio, "mmio");
	assert_int_equal(guest_mem_init(&r->mem, RAM_SIZE), 0);
	assert_int_equal(
		pci_host_init(&r->host, &r->pio, &r->mmio, MMIO_BASE, 0x1000000, 0xc000, 0x4000),
		0);
	struct msi_controller msi = fake_irq_msi(&r->irq);
	assert_int_equal(virtio_rng_init(&r->rng, &r->mem, msi, fake_irq_intx(&r->irq, 16)), 0);
	virtio_pci_set_ioeventfds(
		&r->rng.vp, (struct ioeventfd_controller){fake_assign, fake_deassign, &r->bells});
	assert_int_equal(pci_host_add(&r->host, &r->rng.vp.pci), 1);
	*state = r;
	return 0;
}

static int rig_teardown(void **state)
{
	struct rig *r = *state;

	virtio_rng_exit(&r->rng);
	pci_host_exit(&r->host);
	guest_mem_destroy(&r->mem);
	bus_destroy(&r->pio);
	bus_destroy(&r->mmio);
	free(r);
	return 0;
}

/* What a driver does at probe: find BAR 0, enable decoding. */
static void rig_enable(struct rig *r)
{
	r->bar = (cfg_read(r, 1, PCI_BAR0, 4) & ~0xfULL) | (uint64_t)cfg_read(r, 1, PCI_BAR0 + 4, 4)
								   << 32;
	cfg_write(r, 1, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
}

/* The feature handshake and one queue, up to DRIVER_OK. */
static void rig_bring_up(struct rig *r, uint64_t features)
{
	rig_enable(r);
	bar_write(r, STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
	bar_write(r, GFSELECT, 0, 4);
	bar_write(r, GF, (uint32_t)features, 4);
	bar_write(r, GFSELECT, 1, 4);
	bar_write(r, GF, (uint32_t)(features >> 32), 4);
	bar_write(r, STATUS, 0x0b, 1);
	assert_int_equal(bar_read(r, STATUS, 1) & VIRTIO_STATUS_FEATURES_OK,
			 VIRTIO_STATUS_FEATURES_OK);
	bar_write(r, Q_SELECT, 0, 2);
	bar_write(r, Q_SIZE, QSIZE, 2);
	bar_write(r, Q_DESC, DESC, 4);
	bar_write(r, Q_AVAIL, AVAIL, 4);
	bar_write(r, Q_USED, USED, 4);
	bar_write(r, Q_ENABLE, 1, 2);
	bar_write(r, STATUS, 0x0f, 1);
}

/* Posts one descriptor (addr, len, flags) as a chain of one. */
static void post_one(struct rig *r, uint16_t id, uint64_t addr, uint32_t len, uint16_t flags)
{
	uint8_t *ram = r->mem.mapping;
	struct virtq_desc d = {addr, len, flags, 0};

	memcpy(ram + DESC + id * 16, &d, sizeof(d));
	memcpy(ram + AVAIL + 4 + 2 * (r->avail_idx % QSIZE), &id, 2);
	r->avail_idx++;
	memcpy(ram + AVAIL + 2, &r->avail_idx, 2);
}

static uint16_t used_idx(struct rig *r)
{
	uint16_t idx;

	memcpy(&idx, r->mem.mapping + USED + 2, 2);
	return idx;
}

static void host_bridge_and_device_are_enumerable(void **state)
{
	struct rig *r = *state;

	assert_int_equal(cfg_read(r, 0, PCI_CLASS_PROG + 1, 2), 0x0600); /* host bridge */
	assert_int_equal(cfg_read(r, 1, PCI_VENDOR_ID, 2), 0x1af4);
	assert_int_equal(cfg_read(r, 1, PCI_DEVICE_ID, 2), 0x1044); /* 0x1040 + rng */
	assert_int_equal(cfg_read(r, 1, PCI_SUBSYSTEM_ID, 2), VIRTIO_ID_RNG);
	assert_int_equal(cfg_read(r, 2, PCI_VENDOR_ID, 2), 0xffff); /* empty slot */
	assert_true(cfg_read(r, 1, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
}

static void capability_list_names_every_virtio_structure(void **state)
{
	struct rig *r = *state;
	unsigned seen = 0, msix = 0, hops = 0;

	for (unsigned at = cfg_read(r, 1, PCI_CAPABILITY_LIST, 1); at && hops < 48; hops++) {
		unsigned id = cfg_read(r, 1, at, 1);
		if (id == 0x09) {
			unsigned type = cfg_read(r, 1, at + 3, 1);
			assert_int_equal(cfg_read(r, 1, at + 4, 1), 0); /* BAR 0 */
			seen |= 1u << type;
		} else if (id == 0x11) {
			msix = at;
		}
		at = cfg_read(r, 1, at + 1, 1);
	}
	assert_int_equal(seen, (1u << 1) | (1u << 2) | (1u << 3) | (1u << 5));
	assert_int_not_equal(msix, 0);
	assert_int_equal((cfg_read(r, 1, msix + 2, 2) & 0x7ff) + 1, 2); /* config + 1 queue */
}

/* Offset of the capability of vendor type `type`, or 0. */
static unsigned find_virtio_cap(struct rig *r, unsigned type)
{
	unsigned hops = 0;

	for (unsigned at = cfg_read(r, 1, PCI_CAPABILITY_LIST, 1); at && hops < 48; hops++) {
		if (cfg_read(r, 1, at, 1) == 0x09 && cfg_read(r, 1, at + 3, 1) == type)
			return at;
		at = cfg_read(r, 1, at + 1, 1);
	}
	return 0;
}

/* Points the PCI_CFG window at BAR 0 + offset, length bytes. */
static unsigned cfg_window(struct rig *r, uint32_t offset, uint32_t length)
{
	unsigned at = find_virtio_cap(r, 5);

	assert_int_not_equal(at, 0);
	cfg_write(r, 1, at + 4, 0, 1);
	cfg_write(r, 1, at + 8, offset, 4);
	cfg_write(r, 1, at + 12, length, 4);
	return at + 16;
}

static void pci_cfg_window_reaches_the_bar_without_decoding(void **state)
{
	struct rig *r = *state;

	/* Memory decoding is still off: the window works regardless. */
	unsigned data = cfg_window(r, DFSELECT, 4);
	cfg_write(r, 1, data, 1, 4);
	cfg_window(r, DF, 4);
	uint32_t high_features = cfg_read(r, 1, data, 4);
	cfg_window(r, NUMQ, 2);
	assert_int_equal(cfg_read(r, 1, data, 2), 1);
	cfg_window(r, STATUS, 1);
	cfg_write(r, 1, data, VIRTIO_STATUS_ACKNOWLEDGE, 1);

	rig_enable(r);
	assert_int_equal(bar_read(r, DFSELECT, 4), 1);
	assert_int_equal(bar_read(r, DF, 4), high_features);
	assert_true(high_features & 1); /* VIRTIO_F_VERSION_1 is bit 32 */
	assert_int_equal(bar_read(r, STATUS, 1), VIRTIO_STATUS_ACKNOWLEDGE);
}

static void pci_cfg_window_kick_reaches_the_queue(void **state)
{
	struct rig *r = *state;
	uint64_t kicks = 0;

	unsigned data = cfg_window(r, VIRTIO_PCI_NOTIFY_OFF, 2);
	cfg_write(r, 1, data, 0, 2);
	assert_int_equal(read(r->rng.vp.kick_fds[0], &kicks, sizeof(kicks)), sizeof(kicks));
	assert_int_equal(kicks, 1);
}

static void pci_cfg_window_refuses_bad_length_offset_and_bar(void **state)
{
	struct rig *r = *state;
	unsigned at = find_virtio_cap(r, 5);
	struct {
		uint8_t bar;
		uint32_t offset, length;
		unsigned access;
	} bad[] = {
		{0, DFSELECT, 3, 4},		/* length not 1, 2 or 4 */
		{0, DFSELECT + 2, 4, 4},	/* unaligned */
		{0, VIRTIO_PCI_BAR_SIZE, 4, 4}, /* past the BAR */
		{0, 0xfffffffc, 4, 4},		/* wraps */
		{1, DFSELECT, 4, 4},		/* a BAR we do not have */
		{0, DFSELECT, 4, 2},		/* access shorter than length */
	};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg_write(r, 1, at + 4, bad[i].bar, 1);
		cfg_write(r, 1, at + 8, bad[i].offset, 4);
		cfg_write(r, 1, at + 12, bad[i].length, 4);
		cfg_write(r, 1, at + 16, 0x5a5a5a5a, bad[i].access);
	}
	rig_enable(r);
	assert_int_equal(bar_read(r, DFSELECT, 4), 0);
	/* What was written only sits in the config image. */
	cfg_write(r, 1, at + 12, 3, 4);
	assert_int_equal(cfg_read(r, 1, at + 16, 2), 0x5a5a);
}

static void bar_sizing_reports_size_and_keeps_placement(void **state)
{
	struct rig *r = *state;
	uint32_t lo = cfg_read(r, 1, PCI_BAR0, 4);

	assert_int_equal(lo & 0x6, PCI_BAR_MEM_64);
	cfg_write(r, 1, PCI_BAR0, 0xffffffff, 4);
	assert_int_equal(cfg_read(r, 1, PCI_BAR0, 4) & ~0xfu,
			 (uint32_t) ~(VIRTIO_PCI_BAR_SIZE - 1));
	cfg_write(r, 1, PCI_BAR0, lo, 4);
	assert_int_equal(cfg_read(r, 1, PCI_BAR0, 4), lo);
	assert_true((lo & ~0xfu) >= MMIO_BASE);
}

static void bar_does_not_decode_until_memory_enabled(void **state)
{
	struct rig *r = *state;

	r->bar = cfg_read(r, 1, PCI_BAR0, 4) & ~0xfULL;
	assert_int_equal(bar_read(r, NUMQ, 2), 0xffff);
	cfg_write(r, 1, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	assert_int_equal(bar_read(r, NUMQ, 2), 1);
}

static void set_bar(struct rig *r, unsigned slot, uint64_t addr)
{
	cfg_write(r, slot, PCI_BAR0, (uint32_t)addr, 4);
	cfg_write(r, slot, PCI_BAR0 + 4, (uint32_t)(addr >> 32), 4);
}

static uint64_t read_at(struct rig *r, uint64_t addr, unsigned len)
{
	uint64_t v = 0;

	bus_read(&r->mmio, addr, (uint8_t *)&v, len);
	return v;
}

static void write_at(struct rig *r, uint64_t addr, uint64_t v, unsigned len)
{
	bus_write(&r->mmio, addr, (uint8_t *)&v, len);
}

static void memory_decoding_off_stops_the_bar_decoding(void **state)
{
	struct rig *r = *state;

	rig_enable(r);
	assert_int_equal(bar_read(r, NUMQ, 2), 1);
	cfg_write(r, 1, PCI_COMMAND, PCI_COMMAND_MASTER, 2);
	assert_int_equal(bar_read(r, NUMQ, 2), 0xffff);
	bar_write(r, DFSELECT, 1, 4); /* dropped */
	cfg_write(r, 1, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	assert_int_equal(bar_read(r, DFSELECT, 4), 0);
}

/* Moving a BAR used to change only what the register read back: the
 * function kept answering where Skiff had put it, and the new address
 * reached nothing. */
static void a_moved_bar_decodes_at_its_new_address_only(void **state)
{
	struct rig *r = *state;
	uint64_t to = MMIO_BASE + 0x100000;

	rig_enable(r);
	uint64_t from = r->bar;
	set_bar(r, 1, to); /* with decoding on, as a guest may */
	assert_int_equal(read_at(r, to + NUMQ, 2), 1);
	assert_int_equal(read_at(r, from + NUMQ, 2), 0xffff);
	write_at(r, from + DFSELECT, 1, 4); /* reaches nothing */
	assert_int_equal(read_at(r, to + DFSELECT, 4), 0);
	write_at(r, to + DFSELECT, 1, 4);
	assert_int_equal(read_at(r, to + DFSELECT, 4), 1);
	assert_int_equal(r->rng.vp.pci.bars[VIRTIO_PCI_BAR].addr, to);
}

/* The host bridge forwards only its window: a BAR programmed outside it
 * (above 4 GiB, at or past the window's end, below its start) decodes
 * nowhere until it is moved back. */
static void a_bar_outside_the_bridge_window_decodes_nowhere(void **state)
{
	struct rig *r = *state;
	const uint64_t outside[] = {
		0x100000000ULL + MMIO_BASE,
		MMIO_BASE + 0x1000000,
		MMIO_BASE - VIRTIO_PCI_BAR_SIZE,
	};

	rig_enable(r);
	uint64_t home = r->bar;
	for (unsigned i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
		set_bar(r, 1, outside[i]);
		assert_int_equal(read_at(r, outside[i] + NUMQ, 2), 0xffff);
		assert_int_equal(read_at(r, home + NUMQ, 2), 0xffff);
		assert_int_equal(r->rng.vp.pci.bars[VIRTIO_PCI_BAR].addr, PCI_BAR_UNMAPPED);
	}
	set_bar(r, 1, home);
	assert_int_equal(read_at(r, home + NUMQ, 2), 1);
}

/* Two BARs programmed onto one range: the one decoding first keeps it,
 * the other decodes nowhere until the first moves away. */
static void overlapping_bars_leave_the_range_to_the_first(void **state)
{
	struct rig *r = *state;
	struct virtio_rng *other = calloc(1, sizeof(*other));
	struct fake_irq irq = {0};

	assert_int_equal(
		virtio_rng_init(other, &r->mem, fake_irq_msi(&irq), fake_irq_intx(&irq, 17)), 0);
	assert_int_equal(pci_host_add(&r->host, &other->vp.pci), 2);
	rig_enable(r);
	cfg_write(r, 2, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	uint64_t mine = r->bar, theirs = other->vp.pci.bars[VIRTIO_PCI_BAR].addr;
	assert_int_not_equal(theirs, PCI_BAR_UNMAPPED);

	set_bar(r, 2, mine);
	assert_int_equal(other->vp.pci.bars[VIRTIO_PCI_BAR].addr, PCI_BAR_UNMAPPED);
	write_at(r, mine + DFSELECT, 1, 4);
	assert_int_equal(r->rng.vp.device_feature_select, 1);
	assert_int_equal(other->vp.device_feature_select, 0);

	set_bar(r, 1, theirs); /* the two swap places */
	assert_int_equal(other->vp.pci.bars[VIRTIO_PCI_BAR].addr, mine);
	write_at(r, mine + DFSELECT, 2, 4);
	assert_int_equal(other->vp.device_feature_select, 2);
	assert_int_equal(read_at(r, theirs + DFSELECT, 4), 1);

	virtio_rng_exit(other);
	free(other);
}

/* Accesses find their BAR by address among many, whatever order the
 * slots' BARs lie in: here the later the slot, the lower its BAR, with a
 * gap between each. */
static void each_of_many_bars_answers_at_its_own_address(void **state)
{
	enum { N = 6 };
	struct rig *r = *state;
	struct virtio_rng *more[N];
	struct fake_irq irq = {0};

	rig_enable(r);
	for (unsigned i = 0; i < N; i++) {
		more[i] = calloc(1, sizeof(*more[i]));
		assert_int_equal(virtio_rng_init(more[i], &r->mem, fake_irq_msi(&irq),
						 fake_irq_intx(&irq, 17)),
				 0);
		assert_int_equal(pci_host_add(&r->host, &more[i]->vp.pci), 2 + i);
		set_bar(r, 2 + i, MMIO_BASE + 0x400000 - 2 * VIRTIO_PCI_BAR_SIZE * i);
		cfg_write(r, 2 + i, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	}
	for (unsigned i = 0; i < N; i++) {
		uint64_t bar = MMIO_BASE + 0x400000 - 2 * VIRTIO_PCI_BAR_SIZE * i;
		write_at(r, bar + DFSELECT, 10 + i, 4);
		assert_int_equal(more[i]->vp.device_feature_select, 10 + i);
		assert_int_not_equal(read_at(r, bar + VIRTIO_PCI_BAR_SIZE - 4, 4), 0xffffffff);
		assert_int_equal(read_at(r, bar + VIRTIO_PCI_BAR_SIZE, 4), 0xffffffff); /* gap */
	}
	write_at(r, r->bar + DFSELECT, 3, 4);
	assert_int_equal(r->rng.vp.device_feature_select, 3);
	for (unsigned i = 0; i < N; i++) {
		virtio_rng_exit(more[i]);
		free(more[i]);
	}
}

/* Whether the queue's doorbell is an ioeventfd at bar's notify register. */
static bool doorbell_at(struct rig *r, uint64_t bar)
{
	int i = doorbell_find(&r->bells, bar + VIRTIO_PCI_NOTIFY_OFF);

	return i >= 0 && r->bells.fd[i] == r->rng.vp.kick_fds[0];
}

/* KVM's ioeventfds do not look at the command register: one left
 * assigned while memory decoding is off would still signal the kick. */
static void doorbells_exist_only_while_memory_decoding_is_on(void **state)
{
	struct rig *r = *state;

	r->bar = cfg_read(r, 1, PCI_BAR0, 4) & ~0xfULL;
	assert_int_equal(r->bells.n, 0); /* placed, but not decoding */
	cfg_write(r, 1, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	assert_int_equal(r->bells.n, 1); /* rng has one queue */
	assert_true(doorbell_at(r, r->bar));
	cfg_write(r, 1, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
	assert_int_equal(r->bells.assigns, 1); /* bus mastering is no reason to move */
	cfg_write(r, 1, PCI_COMMAND, PCI_COMMAND_MASTER, 2);
	assert_int_equal(r->bells.n, 0);
	cfg_write(r, 1, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	assert_true(doorbell_at(r, r->bar));
}

/* The ioeventfds stayed where Skiff placed the BAR: after a move a write
 * to the old address still kicked the queue. */
static void doorbells_follow_a_moved_bar(void **state)
{
	struct rig *r = *state;
	uint64_t to = MMIO_BASE + 0x100000;

	rig_enable(r);
	uint64_t from = r->bar;
	set_bar(r, 1, to);
	assert_int_equal(r->bells.n, 1);
	assert_true(doorbell_at(r, to));
	assert_false(doorbell_at(r, from));
	/* Sizing with decoding left on: all ones decode nowhere, the old
	 * value brings the doorbell back. */
	cfg_write(r, 1, PCI_BAR0, 0xffffffff, 4);
	assert_int_equal(r->bells.n, 0);
	set_bar(r, 1, to);
	assert_true(doorbell_at(r, to));
	assert_int_equal(r->bells.assigns, 3);
	assert_int_equal(r->bells.deassigns, 2);
}

/* A doorbell KVM refuses costs a vCPU exit per kick, no kick. */
static void a_refused_doorbell_is_still_heard_through_the_bar(void **state)
{
	struct rig *r = *state;
	uint64_t kicks = 0;

	r->bells.refuse = -ENOSPC;
	rig_enable(r);
	assert_int_equal(r->bells.n, 0);
	bar_write(r, VIRTIO_PCI_NOTIFY_OFF, 0, 2);
	assert_int_equal(read(r->rng.vp.kick_fds[0], &kicks, sizeof(kicks)), sizeof(kicks));
	assert_int_equal(kicks, 1);
	cfg_write(r, 1, PCI_COMMAND, 0, 2); /* nothing to deassign */
	assert_int_equal(r->bells.deassigns, 0);
}

static void features_offered_include_version_1_and_ring_features(void **state)
{
	struct rig *r = *state;

	rig_enable(r);
	bar_write(r, DFSELECT, 1, 4);
	assert_true(bar_read(r, DF, 4) & 1); /* VERSION_1 is bit 32 */
	bar_write(r, DFSELECT, 0, 4);
	uint32_t low = (uint32_t)bar_read(r, DF, 4);
	assert_true(low & (1u << 28)); /* INDIRECT_DESC */
	assert_true(low & (1u << 29)); /* EVENT_IDX */
}

static void legacy_driver_without_version_1_is_refused(void **state)
{
	struct rig *r = *state;

	rig_enable(r);
	bar_write(r, STATUS, 0x03, 1);
	bar_write(r, GFSELECT, 0, 4);
	bar_write(r, GF, 1u << 28, 4);
	bar_write(r, STATUS, 0x0b, 1);
	assert_int_equal(bar_read(r, STATUS, 1) & VIRTIO_STATUS_FEATURES_OK, 0);
}

static void unoffered_feature_is_refused(void **state)
{
	struct rig *r = *state;

	rig_enable(r);
	bar_write(r, STATUS, 0x03, 1);
	bar_write(r, GFSELECT, 1, 4);
	bar_write(r, GF, 1u | (1u << 20), 4); /* VERSION_1 plus an unknown bit */
	bar_write(r, STATUS, 0x0b, 1);
	assert_int_equal(bar_read(r, STATUS, 1) & VIRTIO_STATUS_FEATURES_OK, 0);
}

static void rng_request_is_filled_and_interrupts_through_msix(void **state)
{
	struct rig *r = *state;

	rig_bring_up(r, VIRTIO_F_VERSION_1);
	/* MSI-X on: vector 1 for the queue, unmasked. */
	unsigned msix_ctrl = 0;
	for (unsigned at = cfg_read(r, 1, PCI_CAPABILITY_LIST, 1); at;
	     at = cfg_read(r, 1, at + 1, 1))
		if (cfg_read(r, 1, at, 1) == 0x11)
			msix_ctrl = at + 2;
	cfg_write(r, 1, msix_ctrl, 0x8000, 2);
	bar_write(r, VIRTIO_PCI_MSIX_TABLE_OFF + 16, 0xfee00000, 4);
	bar_write(r, VIRTIO_PCI_MSIX_TABLE_OFF + 24, 0x41, 4);
	bar_write(r, VIRTIO_PCI_MSIX_TABLE_OFF + 28, 0, 4);
	bar_write(r, Q_MSIX, 1, 2);
	assert_int_equal(bar_read(r, Q_MSIX, 2), 1);

	memset(r->mem.mapping + DATA, 0, 64);
	post_one(r, 0, DATA, 64, VIRTQ_DESC_F_WRITE);
	bar_write(r, VIRTIO_PCI_NOTIFY_OFF, 0, 2); /* the kick lands on the eventfd */
	uint64_t kicks = 0;
	assert_int_equal(read(r->rng.vp.kick_fds[0], &kicks, 8), 8);
	assert_int_equal(kicks, 1);
	virtio_pci_kicked(&r->rng.vp.kicks[0]); /* what the I/O thread does */

	assert_int_equal(used_idx(r), 1);
	uint32_t len;
	memcpy(&len, r->mem.mapping + USED + 4 + 4, 4);
	assert_int_equal(len, 64);
	static const uint8_t zero[64];
	assert_memory_not_equal(r->mem.mapping + DATA, zero, 64);
	assert_int_equal(r->irq.fired[1], 1);
	assert_int_equal(r->irq.addr[1], 0xfee00000);
	assert_int_equal(r->irq.data[1], 0x41);
	assert_int_equal(r->rng.bytes_served, 64);
}

static void masked_vector_is_held_pending_until_unmasked(void **state)
{
	struct rig *r = *state;

	rig_bring_up(r, VIRTIO_F_VERSION_1);
	unsigned ctrl = 0;
	for (unsigned at = cfg_read(r, 1, PCI_CAPABILITY_LIST, 1); at;
	     at = cfg_read(r, 1, at + 1, 1))
		if (cfg_read(r, 1, at, 1) == 0x11)
			ctrl = at + 2;
	cfg_write(r, 1, ctrl, 0x8000, 2);
	bar_write(r, Q_MSIX, 1, 2); /* vector 1 stays masked (reset state) */
	post_one(r, 0, DATA, 16, VIRTQ_DESC_F_WRITE);
	virtio_pci_kicked(&r->rng.vp.kicks[0]);
	assert_int_equal(r->irq.fired[1], 0);
	assert_int_equal(bar_read(r, VIRTIO_PCI_MSIX_PBA_OFF, 8), 1u << 1);
	bar_write(r, VIRTIO_PCI_MSIX_TABLE_OFF + 28, 0, 4); /* unmask */
	assert_int_equal(r->irq.fired[1], 1);
	assert_int_equal(bar_read(r, VIRTIO_PCI_MSIX_PBA_OFF, 8), 0);
}

static void without_msix_interrupt_is_intx_and_isr_read_clears_it(void **state)
{
	struct rig *r = *state;

	rig_bring_up(r, VIRTIO_F_VERSION_1);
	post_one(r, 0, DATA, 16, VIRTQ_DESC_F_WRITE);
	virtio_pci_kicked(&r->rng.vp.kicks[0]);
	assert_int_equal(fake_irq_level(&r->irq), 1);
	assert_int_equal(bar_read(r, VIRTIO_PCI_ISR_OFF, 1), 1);
	assert_int_equal(fake_irq_level(&r->irq), 0);
	assert_int_equal(bar_read(r, VIRTIO_PCI_ISR_OFF, 1), 0);
}

static void reset_lowers_a_raised_intx_line(void **state)
{
	struct rig *r = *state;

	rig_bring_up(r, VIRTIO_F_VERSION_1);
	post_one(r, 0, DATA, 16, VIRTQ_DESC_F_WRITE);
	virtio_pci_kicked(&r->rng.vp.kicks[0]);
	assert_int_equal(fake_irq_level(&r->irq), 1);
	bar_write(r, STATUS, 0, 1); /* reset, the ISR unread */
	assert_int_equal(fake_irq_level(&r->irq), 0);
	assert_int_equal(bar_read(r, VIRTIO_PCI_ISR_OFF, 1), 0);
}

static unsigned msix_control_at(struct rig *r)
{
	for (unsigned at = cfg_read(r, 1, PCI_CAPABILITY_LIST, 1); at;
	     at = cfg_read(r, 1, at + 1, 1))
		if (cfg_read(r, 1, at, 1) == 0x11)
			return at + 2;
	fail();
	return 0;
}

static uint64_t take_kicks(struct rig *r)
{
	uint64_t kicks = 0;

	if (read(r->rng.vp.kick_fds[0], &kicks, sizeof(kicks)) != sizeof(kicks))
		return 0;
	return kicks;
}

/* Bus mastering was not looked at: the device read the rings, filled the
 * buffer and wrote the used ring whatever the command register said. */
static void no_guest_memory_is_touched_while_bus_mastering_is_off(void **state)
{
	struct rig *r = *state;
	uint8_t *before = malloc(RAM_SIZE);

	rig_bring_up(r, VIRTIO_F_VERSION_1 | VIRTIO_F_EVENT_IDX);
	cfg_write(r, 1, PCI_COMMAND, PCI_COMMAND_MEMORY, 2); /* bus mastering off */
	memset(r->mem.mapping + DATA, 0, 64);
	post_one(r, 0, DATA, 64, VIRTQ_DESC_F_WRITE);
	memcpy(before, r->mem.mapping, RAM_SIZE);
	bar_write(r, VIRTIO_PCI_NOTIFY_OFF, 0, 2);
	assert_int_equal(take_kicks(r), 1);
	virtio_pci_kicked(&r->rng.vp.kicks[0]); /* what the I/O thread does */
	/* Not the buffer, the used ring nor its flags or avail_event. */
	assert_memory_equal(r->mem.mapping, before, RAM_SIZE);
	assert_int_equal(r->rng.bytes_served, 0);
	assert_int_equal(fake_irq_level(&r->irq), 0);
	free(before);
}

/* The kick that came while bus mastering was off is not lost: turning it
 * on has the I/O thread look at the queue again. */
static void a_kick_while_bus_mastering_is_off_is_acted_on_once_it_is_on(void **state)
{
	struct rig *r = *state;

	rig_bring_up(r, VIRTIO_F_VERSION_1);
	cfg_write(r, 1, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	post_one(r, 0, DATA, 64, VIRTQ_DESC_F_WRITE);
	bar_write(r, VIRTIO_PCI_NOTIFY_OFF, 0, 2);
	assert_int_equal(take_kicks(r), 1);
	virtio_pci_kicked(&r->rng.vp.kicks[0]);
	assert_int_equal(used_idx(r), 0);

	cfg_write(r, 1, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
	assert_int_equal(take_kicks(r), 1); /* the device kicked its queue itself */
	virtio_pci_kicked(&r->rng.vp.kicks[0]);
	assert_int_equal(used_idx(r), 1);
	assert_int_equal(r->rng.bytes_served, 64);
	assert_int_equal(fake_irq_level(&r->irq), 1); /* INTx: MSI-X is off */
	/* Bus mastering on again, or on before DRIVER_OK: nothing to redo. */
	cfg_write(r, 1, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
	assert_int_equal(take_kicks(r), 0);
}

/* An MSI-X message is a memory write: with bus mastering off it is not
 * sent, and, as in QEMU (whose write goes to a disabled address space),
 * not made pending either. INTx is a wire, not a write: it still works. */
static void msix_messages_are_dropped_while_bus_mastering_is_off(void **state)
{
	struct rig *r = *state;
	struct virtio_device *vdev = &r->rng.vp.vdev;

	rig_bring_up(r, VIRTIO_F_VERSION_1);
	cfg_write(r, 1, msix_control_at(r), 0x8000, 2);
	bar_write(r, VIRTIO_PCI_MSIX_TABLE_OFF + 16, 0xfee00000, 4);
	bar_write(r, VIRTIO_PCI_MSIX_TABLE_OFF + 28, 0, 4); /* vector 1 unmasked */
	cfg_write(r, 1, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	vdev->transport->interrupt(vdev, 1, true);
	assert_int_equal(r->irq.fired[1], 0);
	assert_int_equal(bar_read(r, VIRTIO_PCI_MSIX_PBA_OFF, 8), 0);
	cfg_write(r, 1, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
	assert_int_equal(r->irq.fired[1], 0);
	vdev->transport->interrupt(vdev, 1, true);
	assert_int_equal(r->irq.fired[1], 1);

	cfg_write(r, 1, msix_control_at(r), 0, 2); /* MSI-X off: INTx */
	cfg_write(r, 1, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	vdev->transport->interrupt(vdev, 1, true);
	assert_int_equal(fake_irq_level(&r->irq), 1);
}

static void rng_request_with_readable_buffer_needs_reset(void **state)
{
	struct rig *r = *state;

	rig_bring_up(r, VIRTIO_F_VERSION_1);
	post_one(r, 0, DATA, 16, 0); /* device-readable: not an rng request */
	virtio_pci_kicked(&r->rng.vp.kicks[0]);
	assert_int_equal(used_idx(r), 0);
	assert_true(bar_read(r, STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET);
	/* Further kicks do nothing until the driver resets the device. */
	post_one(r, 1, DATA, 16, VIRTQ_DESC_F_WRITE);
	virtio_pci_kicked(&r->rng.vp.kicks[0]);
	assert_int_equal(used_idx(r), 0);
	bar_write(r, STATUS, 0, 1);
	assert_int_equal(bar_read(r, STATUS, 1), 0);
}

static void buffer_outside_ram_needs_reset_and_touches_nothing(void **state)
{
	struct rig *r = *state;

	rig_bring_up(r, VIRTIO_F_VERSION_1);
	post_one(r, 0, RAM_SIZE - 8, 64, VIRTQ_DESC_F_WRITE);
	virtio_pci_kicked(&r->rng.vp.kicks[0]);
	assert_true(bar_read(r, STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(used_idx(r), 0);
	assert_int_equal(r->rng.bytes_served, 0);
}

static void ring_outside_ram_fails_queue_enable(void **state)
{
	struct rig *r = *state;

	rig_enable(r);
	bar_write(r, STATUS, 0x03, 1);
	bar_write(r, GFSELECT, 1, 4);
	bar_write(r, GF, 1, 4);
	bar_write(r, STATUS, 0x0b, 1);
	bar_write(r, Q_SIZE, QSIZE, 2);
	bar_write(r, Q_DESC, RAM_SIZE - 16, 4);
	bar_write(r, Q_AVAIL, AVAIL, 4);
	bar_write(r, Q_USED, USED, 4);
	bar_write(r, Q_ENABLE, 1, 2);
	assert_int_equal(bar_read(r, Q_ENABLE, 2), 0);
	assert_true(bar_read(r, STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET);
}

static void queue_registers_out_of_range_are_harmless(void **state)
{
	struct rig *r = *state;

	rig_enable(r);
	bar_write(r, Q_SELECT, 7, 2); /* rng has one queue */
	bar_write(r, Q_SIZE, 4, 2);
	bar_write(r, Q_ENABLE, 1, 2);
	assert_int_equal(bar_read(r, Q_SIZE, 2), 0);
	assert_int_equal(bar_read(r, Q_MSIX, 2), 0xffff);
	bar_write(r, MSIX_CONFIG, 40, 2); /* beyond the table */
	assert_int_equal(bar_read(r, MSIX_CONFIG, 2), 0xffff);
	bar_write(r, VIRTIO_PCI_NOTIFY_OFF + 4 * 7, 0, 2); /* kick of a queue that is not there */
	bar_write(r, VIRTIO_PCI_MSIX_TABLE_OFF + 16 * 60, 1, 4);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, rig_setup, rig_teardown)
	const struct CMUnitTest tests[] = {
		T(host_bridge_and_device_are_enumerable),
		T(capability_list_names_every_virtio_structure),
		T(pci_cfg_window_reaches_the_bar_without_decoding),
		T(pci_cfg_window_kick_reaches_the_queue),
		T(pci_cfg_window_refuses_bad_length_offset_and_bar),
		T(bar_sizing_reports_size_and_keeps_placement),
		T(bar_does_not_decode_until_memory_enabled),
		T(memory_decoding_off_stops_the_bar_decoding),
		T(a_moved_bar_decodes_at_its_new_address_only),
		T(a_bar_outside_the_bridge_window_decodes_nowhere),
		T(overlapping_bars_leave_the_range_to_the_first),
		T(each_of_many_bars_answers_at_its_own_address),
		T(doorbells_exist_only_while_memory_decoding_is_on),
		T(doorbells_follow_a_moved_bar),
		T(a_refused_doorbell_is_still_heard_through_the_bar),
		T(features_offered_include_version_1_and_ring_features),
		T(legacy_driver_without_version_1_is_refused),
		T(unoffered_feature_is_refused),
		T(rng_request_is_filled_and_interrupts_through_msix),
		T(masked_vector_is_held_pending_until_unmasked),
		T(without_msix_interrupt_is_intx_and_isr_read_clears_it),
		T(reset_lowers_a_raised_intx_line),
		T(no_guest_memory_is_touched_while_bus_mastering_is_off),
		T(a_kick_while_bus_mastering_is_off_is_acted_on_once_it_is_on),
		T(msix_messages_are_dropped_while_bus_mastering_is_off),
		T(rng_request_with_readable_buffer_needs_reset),
		T(buffer_outside_ram_needs_reset_and_touches_nothing),
		T(ring_outside_ram_fails_queue_enable),
		T(queue_registers_out_of_range_are_harmless),
	};
	return cmocka_run_group_tests_name("virtio_pci", tests, NULL, NULL);
}
