#include "drivers/virtio_pci.h"

#include <stdarg.h>

#include "arch/cpu.h"
#include "arch/interrupts.h"
#include "arch/lapic.h"
#include "arch/layout.h"
#include "drivers/virtio_blk.h"
#include "drivers/virtio_console.h"
#include "drivers/virtio_net.h"
#include "drivers/virtio_rng.h"
#include "kernel/clock.h"
#include "kernel/console.h"
#include "kernel/dma.h"
#include "kernel/idle.h"
#include "lib/format.h"
#include "lib/string.h"

/* struct virtio_pci_cap, in PCI configuration space. */
#define CAP_LEN 2
#define CAP_CFG_TYPE 3
#define CAP_BAR 4
#define CAP_OFFSET 8
#define CAP_LENGTH 12
#define CAP_NOTIFY_MULTIPLIER 16
#define CAP_PCI_CFG_DATA 16
#define CAP_MIN_LEN 16
#define CAP_NOTIFY_MIN_LEN 20
#define CAP_PCI_CFG_MIN_LEN 20

#define CFG_COMMON 1
#define CFG_NOTIFY 2
#define CFG_ISR 3
#define CFG_DEVICE 4
#define CFG_PCI 5

/* struct virtio_pci_common_cfg. */
#define COMMON_DEVICE_FEATURE_SELECT 0x00
#define COMMON_DEVICE_FEATURE 0x04
#define COMMON_DRIVER_FEATURE_SELECT 0x08
#define COMMON_DRIVER_FEATURE 0x0c
#define COMMON_CONFIG_MSIX_VECTOR 0x10
#define COMMON_NUM_QUEUES 0x12
#define COMMON_DEVICE_STATUS 0x14
#define COMMON_CONFIG_GENERATION 0x15
#define COMMON_QUEUE_SELECT 0x16
#define COMMON_QUEUE_SIZE 0x18
#define COMMON_QUEUE_MSIX_VECTOR 0x1a
#define COMMON_QUEUE_ENABLE 0x1c
#define COMMON_QUEUE_NOTIFY_OFF 0x1e
#define COMMON_QUEUE_DESC 0x20
#define COMMON_QUEUE_DRIVER 0x28
#define COMMON_QUEUE_DEVICE 0x30
#define COMMON_MIN_LEN 0x38

#define ISR_CONFIG 0x2

#define STATUS_CHECK_INTERVAL_NS 100000000ULL /* 100 ms while waiting */
#define IDLE_STATUS_INTERVAL_NS 1000000000ULL /* 1 s while the shell idles */
#define GENERATION_RETRIES 16

static const struct virtio_driver *const drivers[] = {
	&virtio_net_driver,
	&virtio_blk_driver,
	&virtio_console_driver,
	&virtio_rng_driver,
};
#define NR_DRIVERS (sizeof(drivers) / sizeof(drivers[0]))

static struct virtio_dev devices[VIRTIO_MAX_DEVICES];
static unsigned nr_devices;

/* Who owns each MSI vector: the handler only notes configuration changes;
 * the interrupt itself is what wakes a waiting CPU. */
static struct {
	struct virtio_dev *dev;
	bool config;
} vector_owner[VECTOR_MSI_COUNT];
static unsigned vectors_used;

/* Register access within a capability's structure. Offsets past its
 * checked length read as zero and are not written. */
static uint8_t region_read8(const struct virtio_region *r, uint32_t off)
{
	if (off + 1 > r->len)
		return 0;
	if (r->io)
		return inb((uint16_t)(r->base + off));
	return *(volatile uint8_t *)phys_to_virt(r->base + off);
}

static uint16_t region_read16(const struct virtio_region *r, uint32_t off)
{
	if (off + 2 > r->len)
		return 0;
	if (r->io)
		return inw((uint16_t)(r->base + off));
	return *(volatile uint16_t *)phys_to_virt(r->base + off);
}

static uint32_t region_read32(const struct virtio_region *r, uint32_t off)
{
	if (off + 4 > r->len)
		return 0;
	if (r->io)
		return inl((uint16_t)(r->base + off));
	return *(volatile uint32_t *)phys_to_virt(r->base + off);
}

static void region_write8(const struct virtio_region *r, uint32_t off, uint8_t v)
{
	if (off + 1 > r->len)
		return;
	if (r->io)
		outb((uint16_t)(r->base + off), v);
	else
		*(volatile uint8_t *)phys_to_virt(r->base + off) = v;
}

static void region_write16(const struct virtio_region *r, uint32_t off, uint16_t v)
{
	if (off + 2 > r->len)
		return;
	if (r->io)
		outw((uint16_t)(r->base + off), v);
	else
		*(volatile uint16_t *)phys_to_virt(r->base + off) = v;
}

static void region_write32(const struct virtio_region *r, uint32_t off, uint32_t v)
{
	if (off + 4 > r->len)
		return;
	if (r->io)
		outl((uint16_t)(r->base + off), v);
	else
		*(volatile uint32_t *)phys_to_virt(r->base + off) = v;
}

/* 64-bit fields of the common configuration: two 32-bit accesses, low
 * half first. */
static void region_write64(const struct virtio_region *r, uint32_t off, uint64_t v)
{
	region_write32(r, off, (uint32_t)v);
	region_write32(r, off + 4, (uint32_t)(v >> 32));
}

uint8_t virtio_status(struct virtio_dev *dev)
{
	return region_read8(&dev->common, COMMON_DEVICE_STATUS);
}

static void set_status(struct virtio_dev *dev, uint8_t status)
{
	region_write8(&dev->common, COMMON_DEVICE_STATUS, status);
}

uint8_t virtio_read_isr(struct virtio_dev *dev)
{
	return region_read8(&dev->isr, 0);
}

/* Writes 0 and waits for the device to read back 0 (virtio 1.x: the reset
 * may take time). false when it never does. */
static bool reset_device(struct virtio_dev *dev)
{
	uint64_t deadline = clock_ns() + VIRTIO_RESET_TIMEOUT_NS;

	set_status(dev, 0);
	for (;;) {
		if (virtio_status(dev) == 0)
			return true;
		if (clock_ns() > deadline)
			return false;
		clock_delay_us(10);
	}
}

static void stop_interrupts(struct virtio_dev *dev)
{
	if (dev->msix_on)
		pci_msix_disable(&dev->msix);
	dev->msix_on = false;
	dev->config_vector = false;
}

void virtio_fail(struct virtio_dev *dev, const char *fmt, ...)
{
	va_list ap;

	if (dev->stopped)
		return;
	va_start(ap, fmt);
	vsnprintf(dev->why, sizeof(dev->why), fmt, ap);
	va_end(ap);
	dev->stopped = dev->why;
	dev->live = false;
	console_begin_line();
	kprintf("skiff-guest: %s: %s; stopped using it\n", dev->name, dev->why);
	stop_interrupts(dev);
	/* FAILED tells the device (and whoever debugs it) that we gave up. */
	set_status(dev, virtio_status(dev) | VIRTIO_STATUS_FAILED);
}

/* The device said it cannot go on (or vanished): report it, reset it so it
 * stops touching our memory, and never use it again. */
static void device_broke(struct virtio_dev *dev, const char *why, uint8_t status)
{
	if (dev->stopped)
		return;
	dev->stopped = why;
	dev->live = false;
	console_begin_line();
	kprintf("skiff-guest: %s: %s (status 0x%02x); stopped using it\n", dev->name, why, status);
	stop_interrupts(dev);
	if (status != 0xff && !reset_device(dev))
		kprintf("skiff-guest: %s: the reset did not complete\n", dev->name);
}

bool virtio_check_status(struct virtio_dev *dev)
{
	if (!dev->live)
		return false;
	uint8_t status = virtio_status(dev);

	dev->last_status_check = clock_ns();
	if (status == 0xff)
		device_broke(dev, "device stopped answering", status);
	else if (status & VIRTIO_STATUS_NEEDS_RESET)
		device_broke(dev, "device needs reset", status);
	else if (status & VIRTIO_STATUS_FAILED)
		device_broke(dev, "device is marked failed", status);
	else if (!(status & VIRTIO_STATUS_DRIVER_OK))
		device_broke(dev, "device reset itself", status);
	return dev->live;
}

bool virtio_check(struct virtio_dev *dev)
{
	if (!dev->live)
		return false;
	bool changed;

	if (dev->config_vector) {
		changed = __atomic_exchange_n(&dev->config_irq, false, __ATOMIC_ACQ_REL);
	} else {
		changed = virtio_read_isr(dev) & ISR_CONFIG;
	}
	return changed ? virtio_check_status(dev) : true;
}

void virtio_queue_broken(struct virtio_dev *dev, struct virtq *vq)
{
	virtio_fail(dev, "queue %u: %s", vq->index, vq->broken ? vq->broken : "unusable");
}

/* The BAR part a capability points at, checked against the BAR's size.
 * NULL, or why it cannot be used. */
static const char *region_from_bar(struct pci_function *f, uint8_t bar, uint32_t offset,
				   uint32_t length, struct virtio_region *r)
{
	if (bar >= PCI_MAX_BARS)
		return "names no BAR";
	const struct pci_bar *b = &f->bars[bar];
	if (b->type == PCI_BAR_NONE)
		return "names a BAR the device does not implement";
	if (!b->base)
		return "names an unassigned BAR";
	if (offset >= b->size || length > b->size - offset)
		return "reaches past the end of its BAR";
	if (b->type == PCI_BAR_IO) {
		if (b->base + offset + length > 0x10000)
			return "reaches past port 0xffff";
		r->io = true;
	} else {
		if (!pci_map_bar(f, bar))
			return "names a BAR that cannot be mapped";
		r->io = false;
	}
	r->base = b->base + offset;
	r->len = length;
	return NULL;
}

static const char *const cfg_names[] = {
	[CFG_COMMON] = "common configuration",
	[CFG_NOTIFY] = "notify",
	[CFG_ISR] = "ISR",
	[CFG_DEVICE] = "device configuration",
};

/* The first usable capability of each type (the spec's preference order).
 * Returns NULL, or what is missing (in dev->why). */
static const char *find_capabilities(struct virtio_dev *dev)
{
	struct pci_function *f = dev->pci;
	static const uint32_t min_len[] = {
		[CFG_COMMON] = COMMON_MIN_LEN, [CFG_NOTIFY] = 2, [CFG_ISR] = 1, [CFG_DEVICE] = 1};
	const char *unusable[CFG_DEVICE + 1] = {0};
	bool io = false;

	for (uint8_t cap = pci_find_capability(f, PCI_CAP_VENDOR, 0); cap;
	     cap = pci_find_capability(f, PCI_CAP_VENDOR, cap)) {
		uint8_t cap_len = pci_read8(f, cap + CAP_LEN);
		uint8_t type = pci_read8(f, cap + CAP_CFG_TYPE);
		if (type == CFG_PCI && cap_len >= CAP_PCI_CFG_MIN_LEN && !dev->pci_cfg_cap)
			dev->pci_cfg_cap = cap;
		struct virtio_region *slot = type == CFG_COMMON	  ? &dev->common
					     : type == CFG_NOTIFY ? &dev->notify
					     : type == CFG_ISR	  ? &dev->isr
					     : type == CFG_DEVICE ? &dev->device
								  : NULL;
		if (!slot || slot->len)
			continue;
		struct virtio_region r;
		uint32_t length = pci_read32(f, cap + CAP_LENGTH);
		const char *why = NULL;
		if (cap_len < (type == CFG_NOTIFY ? CAP_NOTIFY_MIN_LEN : CAP_MIN_LEN))
			why = "is too short";
		else if (length < min_len[type])
			why = "gives too small a length";
		else
			why = region_from_bar(f, pci_read8(f, cap + CAP_BAR),
					      pci_read32(f, cap + CAP_OFFSET), length, &r);
		if (why) {
			unusable[type] = why;
			continue;
		}
		if (type == CFG_NOTIFY)
			dev->notify_multiplier = pci_read32(f, cap + CAP_NOTIFY_MULTIPLIER);
		if (type == CFG_COMMON) {
			dev->common_bar = pci_read8(f, cap + CAP_BAR);
			dev->common_offset = pci_read32(f, cap + CAP_OFFSET);
		}
		*slot = r;
		io |= r.io;
	}
	const struct virtio_region *needed[] = {NULL, &dev->common, &dev->notify, &dev->isr};
	for (unsigned type = CFG_COMMON; type <= CFG_ISR; type++) {
		if (needed[type]->len)
			continue;
		if (unusable[type])
			snprintf(dev->why, sizeof(dev->why), "its %s capability %s",
				 cfg_names[type], unusable[type]);
		else
			snprintf(dev->why, sizeof(dev->why), "no %s capability%s", cfg_names[type],
				 type == CFG_COMMON ? " (a legacy-only device?)" : "");
		return dev->why;
	}
	if (!dev->device.len && unusable[CFG_DEVICE])
		kprintf("skiff-guest: %s: its device configuration capability %s; going without\n",
			dev->name, unusable[CFG_DEVICE]);
	pci_enable(f, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | (io ? PCI_COMMAND_IO : 0));
	return NULL;
}

static void msix_interrupt(struct interrupt_frame *frame)
{
	unsigned i = (unsigned)frame->vector - VECTOR_MSI_BASE;

	if (i < VECTOR_MSI_COUNT && vector_owner[i].config && vector_owner[i].dev)
		__atomic_store_n(&vector_owner[i].dev->config_irq, true, __ATOMIC_RELEASE);
}

/* One MSI-X entry per queue plus one for configuration changes when the
 * table has room; otherwise queues share entry 1, or everything shares
 * entry 0. */
static void setup_msix(struct virtio_dev *dev, unsigned nr_queues)
{
	if (!pci_msix_init(dev->pci, &dev->msix))
		return;
	unsigned want = nr_queues + 1;
	unsigned n = dev->msix.entries < want ? dev->msix.entries : want;

	if (n > VECTOR_MSI_COUNT - vectors_used)
		n = VECTOR_MSI_COUNT - vectors_used;
	if (!n) {
		pci_msix_disable(&dev->msix);
		return;
	}
	uint8_t apic = lapic_id();
	for (unsigned e = 0; e < n; e++) {
		unsigned slot = vectors_used++;
		uint8_t vector = (uint8_t)(VECTOR_MSI_BASE + slot);
		vector_owner[slot].dev = dev;
		vector_owner[slot].config = e == 0;
		dev->lapic_vector[e] = vector;
		if (e == 0)
			snprintf(dev->irq_names[e], sizeof(dev->irq_names[e]), "%s config%s",
				 dev->name, n == 1 ? "+queues" : "");
		else if (n < want)
			snprintf(dev->irq_names[e], sizeof(dev->irq_names[e]), "%s queues",
				 dev->name);
		else
			snprintf(dev->irq_names[e], sizeof(dev->irq_names[e]), "%s queue %u",
				 dev->name, e - 1);
		interrupt_register(vector, msix_interrupt, dev->irq_names[e]);
		pci_msix_set(&dev->msix, e, apic, vector);
	}
	dev->nr_vectors = n;
	dev->vector_per_queue = n == want;
	dev->msix_on = true;
	pci_msix_unmask(&dev->msix);
	region_write16(&dev->common, COMMON_CONFIG_MSIX_VECTOR, 0);
	dev->config_vector = region_read16(&dev->common, COMMON_CONFIG_MSIX_VECTOR) == 0;
}

static uint16_t queue_msix_entry(const struct virtio_dev *dev, unsigned ordinal)
{
	if (!dev->msix_on)
		return VIRTIO_NO_VECTOR;
	if (dev->nr_vectors == 1)
		return 0;
	if (dev->vector_per_queue && ordinal + 1 < dev->nr_vectors)
		return (uint16_t)(ordinal + 1);
	return 1;
}

bool virtio_has_feature(const struct virtio_dev *dev, unsigned bit)
{
	return dev->features & VIRTIO_FEATURE(bit);
}

bool virtio_start(struct virtio_dev *dev, uint64_t wanted, unsigned nr_queues)
{
	if (!reset_device(dev)) {
		virtio_fail(dev, "reset did not complete");
		return false;
	}
	set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE);
	set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);

	region_write32(&dev->common, COMMON_DEVICE_FEATURE_SELECT, 0);
	uint64_t offered = region_read32(&dev->common, COMMON_DEVICE_FEATURE);
	region_write32(&dev->common, COMMON_DEVICE_FEATURE_SELECT, 1);
	offered |= (uint64_t)region_read32(&dev->common, COMMON_DEVICE_FEATURE) << 32;
	dev->device_features = offered;
	if (!(offered & VIRTIO_FEATURE(VIRTIO_F_VERSION_1))) {
		virtio_fail(dev, "no VIRTIO_F_VERSION_1 (not a virtio 1.x device)");
		return false;
	}
	/* ACCESS_PLATFORM and ORDER_PLATFORM cost nothing here: addresses are
	 * physical (no IOMMU) and the barriers are the platform's. */
	uint64_t accept = wanted | VIRTIO_FEATURE(VIRTIO_F_VERSION_1) |
			  VIRTIO_FEATURE(VIRTIO_F_ACCESS_PLATFORM) |
			  VIRTIO_FEATURE(VIRTIO_F_ORDER_PLATFORM);
	dev->features = offered & accept;
	region_write32(&dev->common, COMMON_DRIVER_FEATURE_SELECT, 0);
	region_write32(&dev->common, COMMON_DRIVER_FEATURE, (uint32_t)dev->features);
	region_write32(&dev->common, COMMON_DRIVER_FEATURE_SELECT, 1);
	region_write32(&dev->common, COMMON_DRIVER_FEATURE, (uint32_t)(dev->features >> 32));
	set_status(dev,
		   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	if (!(virtio_status(dev) & VIRTIO_STATUS_FEATURES_OK)) {
		virtio_fail(dev, "device refused features 0x%llx",
			    (unsigned long long)dev->features);
		return false;
	}
	dev->max_queues = region_read16(&dev->common, COMMON_NUM_QUEUES);
	setup_msix(dev, nr_queues < VIRTIO_MAX_QUEUES ? nr_queues : VIRTIO_MAX_QUEUES);
	return true;
}

static uint16_t pow2_floor(uint16_t n)
{
	uint16_t p = 1;

	while (p <= n / 2)
		p = (uint16_t)(p * 2);
	return n ? p : 0;
}

bool virtio_setup_queue(struct virtio_dev *dev, struct virtq *vq, uint16_t index, uint16_t max_size,
			unsigned max_indirect)
{
	const struct virtio_region *c = &dev->common;
	unsigned ordinal = dev->nr_queues;

	if (dev->stopped || ordinal >= VIRTIO_MAX_QUEUES)
		return false;
	if (index >= dev->max_queues) {
		virtio_fail(dev, "queue %u missing (device has %u)", index, dev->max_queues);
		return false;
	}
	region_write16(c, COMMON_QUEUE_SELECT, index);
	uint16_t offered = region_read16(c, COMMON_QUEUE_SIZE);
	if (!offered || region_read16(c, COMMON_QUEUE_ENABLE)) {
		virtio_fail(dev, "queue %u: size %u, %s", index, offered,
			    offered ? "already enabled" : "not available");
		return false;
	}
	uint16_t size = offered < max_size ? offered : max_size;
	if (size > VIRTQ_MAX_SIZE)
		size = VIRTQ_MAX_SIZE;
	size = pow2_floor(size);
	if (!virtio_has_feature(dev, VIRTIO_F_INDIRECT_DESC))
		max_indirect = 0;
	if (!virtq_init(vq, index, size, max_indirect,
			virtio_has_feature(dev, VIRTIO_F_EVENT_IDX))) {
		virtio_fail(dev, "queue %u: out of memory for %u entries", index, size);
		return false;
	}
	region_write16(c, COMMON_QUEUE_SIZE, size);

	uint16_t entry = queue_msix_entry(dev, ordinal);
	if (entry != VIRTIO_NO_VECTOR) {
		region_write16(c, COMMON_QUEUE_MSIX_VECTOR, entry);
		if (region_read16(c, COMMON_QUEUE_MSIX_VECTOR) != entry)
			entry = VIRTIO_NO_VECTOR; /* the device could not take it: poll */
	}
	vq->msix_entry = entry;
	virtq_set_polled(vq, entry == VIRTIO_NO_VECTOR);

	region_write64(c, COMMON_QUEUE_DESC, dma_addr(vq->desc));
	region_write64(c, COMMON_QUEUE_DRIVER, dma_addr(vq->avail));
	region_write64(c, COMMON_QUEUE_DEVICE, dma_addr(vq->used));

	uint64_t notify_off =
		(uint64_t)region_read16(c, COMMON_QUEUE_NOTIFY_OFF) * dev->notify_multiplier;
	if (notify_off + 2 > dev->notify.len) {
		virtio_fail(dev, "queue %u: notify offset 0x%llx outside its capability", index,
			    (unsigned long long)notify_off);
		return false;
	}
	if (dev->notify.io)
		dev->notify_port[ordinal] = (uint16_t)(dev->notify.base + notify_off);
	else
		dev->notify_addr[ordinal] = phys_to_virt(dev->notify.base + notify_off);
	region_write16(c, COMMON_QUEUE_ENABLE, 1);
	dev->queues[ordinal] = vq;
	dev->nr_queues++;
	return true;
}

bool virtio_driver_ok(struct virtio_dev *dev)
{
	if (dev->stopped)
		return false;
	set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	dev->live = true;
	return virtio_check_status(dev);
}

void virtio_kick(struct virtio_dev *dev, struct virtq *vq)
{
	if (!dev->live || !virtq_kick_prepare(vq))
		return;
	for (unsigned i = 0; i < dev->nr_queues; i++) {
		if (dev->queues[i] != vq)
			continue;
		if (dev->notify.io)
			outw(dev->notify_port[i], vq->index);
		else
			*dev->notify_addr[i] = vq->index;
		return;
	}
}

/* Between full status reads, only what costs no register access: the
 * configuration interrupt's flag. */
static bool config_irq_seen(struct virtio_dev *dev)
{
	return dev->config_vector && __atomic_load_n(&dev->config_irq, __ATOMIC_ACQUIRE);
}

bool virtio_wait_used(struct virtio_dev *dev, struct virtq *vq, uint64_t timeout_ns)
{
	uint64_t start = clock_ns();
	uint64_t deadline = start + timeout_ns;
	uint64_t next_check = start + STATUS_CHECK_INTERVAL_NS;

	for (;;) {
		uint64_t flags = irq_save();
		if (virtq_has_used(vq)) {
			irq_restore(flags);
			return true;
		}
		uint64_t now = clock_ns();
		bool usable = dev->live;
		if (usable && (now >= next_check || config_irq_seen(dev))) {
			usable = virtio_check(dev) && virtio_check_status(dev);
			next_check = now + STATUS_CHECK_INTERVAL_NS;
		}
		if (!usable) {
			irq_restore(flags);
			return false;
		}
		if (now >= deadline) {
			irq_restore(flags);
			virtio_fail(dev, "request timed out");
			return false;
		}
		/* With a vector, sleep until an interrupt (ours, or the tick:
		 * either way we look again); sti;hlt cannot miss one that
		 * arrives after the check above. */
		if (vq->msix_entry != VIRTIO_NO_VECTOR && (flags & (1u << 9))) {
			irq_enable_and_halt();
		} else {
			irq_restore(flags);
			cpu_relax();
		}
	}
}

bool virtio_break(struct virtio_dev *dev, struct virtq *vq, uint64_t timeout_ns)
{
	if (!dev->live || !virtq_add_malformed(vq))
		return false;
	virtio_kick(dev, vq);
	uint64_t deadline = clock_ns() + timeout_ns;
	while (virtio_check_status(dev) && clock_ns() < deadline)
		clock_delay_us(10000);
	return !dev->live;
}

uint32_t virtio_config_size(const struct virtio_dev *dev)
{
	return dev->device.len;
}

uint8_t virtio_config_read8(struct virtio_dev *dev, uint32_t offset)
{
	return region_read8(&dev->device, offset);
}

uint16_t virtio_config_read16(struct virtio_dev *dev, uint32_t offset)
{
	return region_read16(&dev->device, offset);
}

uint32_t virtio_config_read32(struct virtio_dev *dev, uint32_t offset)
{
	return region_read32(&dev->device, offset);
}

uint64_t virtio_config_read64(struct virtio_dev *dev, uint32_t offset)
{
	uint64_t value = 0;

	for (int i = 0; i < GENERATION_RETRIES; i++) {
		uint8_t before = region_read8(&dev->common, COMMON_CONFIG_GENERATION);
		value = region_read32(&dev->device, offset) |
			(uint64_t)region_read32(&dev->device, offset + 4) << 32;
		if (region_read8(&dev->common, COMMON_CONFIG_GENERATION) == before)
			break;
	}
	return value;
}

static uint16_t virtio_type(const struct pci_function *f)
{
	if (f->device >= 0x1040 && f->device <= 0x107f)
		return (uint16_t)(f->device - 0x1040);
	/* Transitional devices carry the type as their subsystem ID. */
	if (f->device >= 0x1000 && f->device <= 0x103f)
		return f->subsystem_id;
	return 0;
}

static const struct virtio_driver *find_driver(uint16_t type)
{
	for (unsigned i = 0; i < NR_DRIVERS; i++) {
		if (drivers[i]->type == type)
			return drivers[i];
	}
	return NULL;
}

static bool type_taken(uint16_t type)
{
	for (unsigned i = 0; i < nr_devices; i++) {
		if (devices[i].type == type)
			return true;
	}
	return false;
}

static void probe_function(struct pci_function *f)
{
	uint16_t type = virtio_type(f);
	const struct virtio_driver *drv = find_driver(type);
	char where[16];

	snprintf(where, sizeof(where), "%02x:%02x.%x", f->bus, f->dev, f->fn);
	if (!drv) {
		kprintf("skiff-guest: %s (%s): no driver\n", where, pci_name(f));
		return;
	}
	if (type_taken(type)) {
		kprintf("skiff-guest: %s (%s): not driven, %s0 already is\n", where, pci_name(f),
			drv->prefix);
		return;
	}
	if (nr_devices == VIRTIO_MAX_DEVICES)
		return;
	struct virtio_dev *dev = &devices[nr_devices];
	memset(dev, 0, sizeof(*dev));
	dev->pci = f;
	dev->type = type;
	snprintf(dev->name, sizeof(dev->name), "%s0", drv->prefix);
	const char *missing = find_capabilities(dev);
	if (missing) {
		kprintf("skiff-guest: %s (%s at %s): %s; not used\n", dev->name, pci_name(f), where,
			missing);
		return;
	}
	nr_devices++;
	if (!drv->probe(dev))
		return; /* reported by virtio_fail */
	f->claimed = true;
	char irq[32];
	if (dev->msix_on)
		snprintf(irq, sizeof(irq), "msi-x, %u vector%s", dev->nr_vectors,
			 dev->nr_vectors == 1 ? "" : "s");
	else
		strlcpy(irq, "polled", sizeof(irq));
	kprintf("skiff-guest: %s (%s at %s): features 0x%llx, %u queue%s, %s\n", dev->name,
		pci_name(f), where, (unsigned long long)dev->features, dev->nr_queues,
		dev->nr_queues == 1 ? "" : "s", irq);
}

/* While the shell idles: configuration changes as they are signalled, and
 * the status of every device once a second, for devices that set
 * DEVICE_NEEDS_RESET without saying so. */
static void virtio_idle(void)
{
	uint64_t now = clock_ns();

	for (unsigned i = 0; i < nr_devices; i++) {
		struct virtio_dev *dev = &devices[i];
		if (!dev->live || !virtio_check(dev))
			continue;
		if (now - dev->last_status_check >= IDLE_STATUS_INTERVAL_NS)
			virtio_check_status(dev);
	}
}

void virtio_pci_init_all(void)
{
	for (unsigned i = 0; i < pci_count(); i++) {
		struct pci_function *f = pci_get(i);
		if (f->vendor == VIRTIO_VENDOR && f->device >= 0x1000 && f->device <= 0x107f)
			probe_function(f);
	}
	if (nr_devices)
		idle_register(virtio_idle);
}

unsigned virtio_count(void)
{
	return nr_devices;
}

struct virtio_dev *virtio_get(unsigned index)
{
	return index < nr_devices ? &devices[index] : NULL;
}

/* Points the PCI configuration access window at a 32-bit register of the
 * common configuration (virtio 1.x 4.1.4.9); returns its data offset. */
static uint16_t pci_cfg_window(struct virtio_dev *dev, uint32_t common_off)
{
	uint8_t cap = dev->pci_cfg_cap;

	pci_write32(dev->pci, cap + CAP_BAR, dev->common_bar);
	pci_write32(dev->pci, cap + CAP_OFFSET, dev->common_offset + common_off);
	pci_write32(dev->pci, cap + CAP_LENGTH, 4);
	return (uint16_t)(cap + CAP_PCI_CFG_DATA);
}

const char *virtio_pci_cfg_check(struct virtio_dev *dev, uint64_t *features)
{
	if (!dev->pci_cfg_cap)
		return "no PCI configuration access capability";
	if (!dev->common.len)
		return "no common configuration";
	uint32_t half[2];
	for (uint32_t select = 0; select < 2; select++) {
		pci_write32(dev->pci, pci_cfg_window(dev, COMMON_DEVICE_FEATURE_SELECT), select);
		if (region_read32(&dev->common, COMMON_DEVICE_FEATURE_SELECT) != select)
			return "a feature select written through the window did not reach the BAR";
		half[select] = pci_read32(dev->pci, pci_cfg_window(dev, COMMON_DEVICE_FEATURE));
		if (half[select] != region_read32(&dev->common, COMMON_DEVICE_FEATURE))
			return "the window and the BAR read different features";
	}
	*features = (uint64_t)half[1] << 32 | half[0];
	if (*features != dev->device_features)
		return "the features differ from those read at start";
	return NULL;
}
