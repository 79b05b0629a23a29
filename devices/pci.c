#include "devices/pci.h"

#include <errno.h>
#include <string.h>

#define PCI_ADDR_ENABLE 0x80000000u
#define PCI_HOST_VENDOR 0x1b36 /* Red Hat, Inc. */
#define PCI_HOST_DEVICE 0x0008 /* generic PCIe host bridge */

void pci_set_u8(struct pci_device *dev, unsigned off, uint8_t v)
{
	dev->config[off] = v;
}

void pci_set_u16(struct pci_device *dev, unsigned off, uint16_t v)
{
	memcpy(&dev->config[off], &v, sizeof(v));
}

void pci_set_u32(struct pci_device *dev, unsigned off, uint32_t v)
{
	memcpy(&dev->config[off], &v, sizeof(v));
}

uint16_t pci_get_u16(const struct pci_device *dev, unsigned off)
{
	uint16_t v;

	memcpy(&v, &dev->config[off], sizeof(v));
	return v;
}

uint32_t pci_get_u32(const struct pci_device *dev, unsigned off)
{
	uint32_t v;

	memcpy(&v, &dev->config[off], sizeof(v));
	return v;
}

void pci_device_init(struct pci_device *dev, const char *name, uint16_t vendor, uint16_t device,
		     uint32_t class_code, uint8_t revision)
{
	memset(dev, 0, sizeof(*dev));
	pthread_mutex_init(&dev->lock, NULL);
	dev->name = name;
	for (unsigned i = 0; i < PCI_NR_BARS; i++)
		dev->bars[i] = (struct pci_bar){.addr = PCI_BAR_UNMAPPED, .owner = dev};
	pci_set_u16(dev, PCI_VENDOR_ID, vendor);
	pci_set_u16(dev, PCI_DEVICE_ID, device);
	pci_set_u8(dev, PCI_REVISION_ID, revision);
	pci_set_u8(dev, PCI_CLASS_PROG, class_code & 0xff);
	pci_set_u16(dev, PCI_CLASS_PROG + 1, (uint16_t)(class_code >> 8));
	/* The guest may switch decoding, bus mastering and INTx masking. */
	pci_set_u16(dev, PCI_COMMAND, 0);
	dev->wmask[PCI_COMMAND] = PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	dev->wmask[PCI_COMMAND + 1] = PCI_COMMAND_INTX_DISABLE >> 8;
	dev->wmask[PCI_INTERRUPT_LINE] = 0xff;
	dev->next_cap = PCI_CAPS_START;
}

void pci_device_exit(struct pci_device *dev)
{
	pthread_mutex_destroy(&dev->lock);
}

void pci_device_set_intx(struct pci_device *dev, struct irq_line line)
{
	dev->intx = line;
	pci_set_u8(dev, PCI_INTERRUPT_PIN, 1); /* INTA# */
	pci_set_u8(dev, PCI_INTERRUPT_LINE, (uint8_t)line.gsi);
}

/* A config byte other threads may read without the function's lock (the
 * command register, for pci_dma_allowed). */
static void pci_config_store(struct pci_device *dev, unsigned off, uint8_t v)
{
	__atomic_store_n(&dev->config[off], v, __ATOMIC_RELAXED);
}

/* The one INTx rule (PCI 3.0 6.2.2, 6.2.3): the line is asserted while
 * the function's interrupt condition, kept as Interrupt Status, holds
 * and the driver has not set INTx Disable. Lock held. */
static bool pci_intx_asserted(const struct pci_device *dev)
{
	return (dev->config[PCI_STATUS] & PCI_STATUS_INTERRUPT) &&
	       !(dev->config[PCI_COMMAND + 1] & (PCI_COMMAND_INTX_DISABLE >> 8));
}

/* Drives the line when the rule's answer changed from `was`. Under the
 * lock, so a config write and the device's interrupt racing from two
 * threads cannot leave the line at a stale level. */
static void pci_intx_update(struct pci_device *dev, bool was)
{
	bool now = pci_intx_asserted(dev);

	if (now != was)
		irq_line_set(&dev->intx, now);
}

void pci_set_intx(struct pci_device *dev, bool pending)
{
	pthread_mutex_lock(&dev->lock);
	bool was = pci_intx_asserted(dev);
	uint8_t status = dev->config[PCI_STATUS];
	pci_config_store(dev, PCI_STATUS,
			 pending ? status | PCI_STATUS_INTERRUPT
				 : status & (uint8_t)~PCI_STATUS_INTERRUPT);
	pci_intx_update(dev, was);
	pthread_mutex_unlock(&dev->lock);
}

uint8_t pci_get_u8_shared(const struct pci_device *dev, unsigned off)
{
	return __atomic_load_n(&dev->config[off], __ATOMIC_RELAXED);
}

bool pci_dma_allowed(const struct pci_device *dev)
{
	return pci_get_u8_shared(dev, PCI_COMMAND) & PCI_COMMAND_MASTER;
}

static void pci_bar_set_wmask(struct pci_device *dev, unsigned index)
{
	const struct pci_bar *bar = &dev->bars[index];
	unsigned off = PCI_BAR0 + 4 * index;
	uint64_t mask = ~(bar->size - 1) & (bar->is_io ? ~0x3ULL : ~0xfULL);

	pci_set_u32(dev, off, (uint32_t)0);
	memcpy(&dev->wmask[off], &(uint32_t){(uint32_t)mask}, 4);
	if (bar->is_64)
		memcpy(&dev->wmask[off + 4], &(uint32_t){(uint32_t)(mask >> 32)}, 4);
}

void pci_device_set_bar(struct pci_device *dev, unsigned index, uint64_t size, bool is_io,
			bool is_64, const struct bus_ops *ops, void *opaque)
{
	dev->bars[index] = (struct pci_bar){.size = size,
					    .addr = PCI_BAR_UNMAPPED,
					    .is_io = is_io,
					    .is_64 = is_64,
					    .ops = ops,
					    .opaque = opaque,
					    .owner = dev};
	pci_bar_set_wmask(dev, index);
}

unsigned pci_device_add_cap(struct pci_device *dev, uint8_t cap_id, unsigned len)
{
	unsigned off = dev->next_cap;

	if (len < 2 || off + len > PCI_CONFIG_SPACE_SIZE)
		return 0;
	/* Link the new capability at the end of the list. */
	if (!(pci_get_u16(dev, PCI_STATUS) & PCI_STATUS_CAP_LIST)) {
		pci_set_u16(dev, PCI_STATUS, pci_get_u16(dev, PCI_STATUS) | PCI_STATUS_CAP_LIST);
		pci_set_u8(dev, PCI_CAPABILITY_LIST, (uint8_t)off);
	} else {
		unsigned at = dev->config[PCI_CAPABILITY_LIST];
		while (dev->config[at + 1])
			at = dev->config[at + 1];
		pci_set_u8(dev, at + 1, (uint8_t)off);
	}
	pci_set_u8(dev, off, cap_id);
	pci_set_u8(dev, off + 1, 0);
	dev->next_cap = (uint8_t)((off + len + 3) & ~3u);
	return off;
}

void pci_config_read(struct pci_device *dev, unsigned off, uint8_t *data, unsigned len)
{
	pthread_mutex_lock(&dev->lock);
	for (unsigned i = 0; i < len; i++)
		data[i] = off + i < PCI_CONFIG_SPACE_SIZE ? dev->config[off + i] : 0xff;
	pthread_mutex_unlock(&dev->lock);
	if (dev->hooks.config_read)
		dev->hooks.config_read(dev, off, data, len);
}

/* Only wmask bits change: Interrupt Status, like the rest of the status
 * register, is the function's to set. INTx Disable takes effect on the
 * line at once. */
void pci_config_write(struct pci_device *dev, unsigned off, const uint8_t *data, unsigned len)
{
	pthread_mutex_lock(&dev->lock);
	bool was = pci_intx_asserted(dev);
	for (unsigned i = 0; i < len && off + i < PCI_CONFIG_SPACE_SIZE; i++) {
		uint8_t mask = dev->wmask[off + i];
		pci_config_store(dev, off + i,
				 (uint8_t)((dev->config[off + i] & ~mask) | (data[i] & mask)));
	}
	pci_intx_update(dev, was);
	pthread_mutex_unlock(&dev->lock);
	if (dev->hooks.config_written)
		dev->hooks.config_written(dev, off, len);
}

/* Every BAR the host has, by number: slot n / PCI_NR_BARS, BAR
 * n % PCI_NR_BARS; NULL for an empty slot or an unused BAR. */
#define PCI_HOST_NR_BARS (PCI_MAX_SLOTS * PCI_NR_BARS)

static struct pci_bar *pci_host_bar(const struct pci_host *host, unsigned n)
{
	struct pci_device *dev = host->slots[n / PCI_NR_BARS];
	struct pci_bar *bar = dev ? &dev->bars[n % PCI_NR_BARS] : NULL;

	return bar && bar->size ? bar : NULL;
}

/* Whether bar decodes all of [addr, addr + len). */
static bool pci_bar_holds(const struct pci_bar *bar, uint64_t addr, uint64_t len)
{
	return bar->addr != PCI_BAR_UNMAPPED && addr >= bar->addr && len <= bar->size &&
	       addr - bar->addr <= bar->size - len;
}

/* The BAR of the window's kind decoding the whole access, as the
 * functions' address decoders would claim it: the last decoding BAR that
 * starts at or below addr, if it holds the access. Looked up under the
 * host lock, so it never sees a move half done; the device is then called
 * without it (an access that raced a move lands where it was decoded). */
static const struct pci_bar *pci_window_target(struct pci_window *w, uint64_t addr, uint32_t len)
{
	struct pci_host *host = w->host;
	const struct pci_bar *hit = NULL;
	unsigned lo = 0, hi;

	pthread_mutex_lock(&host->lock);
	hi = w->nr_decoding;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (w->decoding[mid]->addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0 && pci_bar_holds(w->decoding[lo - 1], addr, len))
		hit = w->decoding[lo - 1];
	pthread_mutex_unlock(&host->lock);
	return hit;
}

/* Remakes the window's table of decoding BARs, sorted by address (an
 * insertion sort: a few dozen BARs, after a config write). Host lock
 * held. */
static void pci_window_index(struct pci_window *w)
{
	w->nr_decoding = 0;
	for (unsigned n = 0; n < PCI_HOST_NR_BARS; n++) {
		const struct pci_bar *bar = pci_host_bar(w->host, n);
		unsigned at;
		if (!bar || bar->is_io != w->is_io || bar->addr == PCI_BAR_UNMAPPED)
			continue;
		for (at = w->nr_decoding; at > 0 && w->decoding[at - 1]->addr > bar->addr; at--)
			w->decoding[at] = w->decoding[at - 1];
		w->decoding[at] = bar;
		w->nr_decoding++;
	}
}

/* An access no BAR decodes reads all ones and its writes are dropped, as
 * on the bus itself. */
static void pci_window_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	struct pci_window *w = opaque;
	uint64_t addr = w->base + offset;
	const struct pci_bar *bar = pci_window_target(w, addr, len);

	if (!bar || !bar->ops->read) {
		memset(data, 0xff, len);
		return;
	}
	bar->ops->read(bar->opaque, addr - bar->addr, data, len);
}

static void pci_window_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct pci_window *w = opaque;
	uint64_t addr = w->base + offset;
	const struct pci_bar *bar = pci_window_target(w, addr, len);

	if (bar && bar->ops->write)
		bar->ops->write(bar->opaque, addr - bar->addr, data, len);
}

static const struct bus_ops pci_window_ops = {
	.name = "pci-window",
	.read = pci_window_read,
	.write = pci_window_write,
};

/* The address the guest programmed into a BAR, without the flag bits. */
static uint64_t pci_bar_programmed(const struct pci_bar *bar)
{
	const struct pci_device *dev = bar->owner;
	unsigned off = PCI_BAR0 + 4 * (unsigned)(bar - dev->bars);
	uint64_t addr = pci_get_u32(dev, off) & (bar->is_io ? ~0x3u : ~0xfu);

	if (bar->is_64)
		addr |= (uint64_t)pci_get_u32(dev, off + 4) << 32;
	return addr;
}

/* Where a BAR should decode: at its programmed address while the command
 * register enables its kind of decoding (memory, bit 1; I/O, bit 0) and
 * the whole BAR lies in the bridge's window for that kind; nowhere
 * otherwise (decoding off, or the all-ones of BAR sizing). The one check
 * of what the guest writes into a BAR. Host lock held. */
static uint64_t pci_bar_wanted(const struct pci_host *host, const struct pci_bar *bar)
{
	const struct pci_window *w = bar->is_io ? &host->pio : &host->mmio;
	uint16_t decode = bar->is_io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
	uint64_t addr = pci_bar_programmed(bar);

	if (!(pci_get_u16(bar->owner, PCI_COMMAND) & decode))
		return PCI_BAR_UNMAPPED;
	if (addr < w->base || addr > w->end || w->end - addr < bar->size)
		return PCI_BAR_UNMAPPED;
	return addr;
}

/* Whether [addr, addr + size) meets a BAR of that kind that decodes.
 * Host lock held. */
static bool pci_host_taken(const struct pci_host *host, bool is_io, uint64_t addr, uint64_t size)
{
	for (unsigned n = 0; n < PCI_HOST_NR_BARS; n++) {
		const struct pci_bar *bar = pci_host_bar(host, n);
		if (bar && bar->is_io == is_io && bar->addr != PCI_BAR_UNMAPPED &&
		    addr < bar->addr + bar->size && bar->addr < addr + size)
			return true;
	}
	return false;
}

static void pci_bar_move(struct pci_bar *bar, uint64_t to)
{
	struct pci_device *dev = bar->owner;
	uint64_t from = bar->addr;

	bar->addr = to;
	if (dev->hooks.bar_moved)
		dev->hooks.bar_moved(dev, (unsigned)(bar - dev->bars), from, to);
}

/* Brings every BAR's decoding in line with the registers, after a config
 * write that may have changed them: first each BAR that moved or stopped
 * decoding lets go of its range, then each that should decode takes its
 * new one, unless another BAR already decodes there. Overlapping BARs are
 * the guest's mistake: the BAR that decoded first keeps the range, the
 * other decodes nowhere until one of them moves. Host lock held. */
static void pci_host_update_decoding(struct pci_host *host)
{
	for (unsigned n = 0; n < PCI_HOST_NR_BARS; n++) {
		struct pci_bar *bar = pci_host_bar(host, n);
		if (bar && bar->addr != PCI_BAR_UNMAPPED && bar->addr != pci_bar_wanted(host, bar))
			pci_bar_move(bar, PCI_BAR_UNMAPPED);
	}
	for (unsigned n = 0; n < PCI_HOST_NR_BARS; n++) {
		struct pci_bar *bar = pci_host_bar(host, n);
		uint64_t want = bar ? pci_bar_wanted(host, bar) : PCI_BAR_UNMAPPED;
		if (want != PCI_BAR_UNMAPPED && bar->addr == PCI_BAR_UNMAPPED &&
		    !pci_host_taken(host, bar->is_io, want, bar->size))
			pci_bar_move(bar, want);
	}
	pci_window_index(&host->mmio);
	pci_window_index(&host->pio);
}

/* Whether a config write of [off, off + len) reached the command
 * register or a BAR. */
static bool pci_write_moves_bars(unsigned off, unsigned len)
{
	return (off < PCI_COMMAND + 2 && off + len > PCI_COMMAND) ||
	       (off < PCI_BAR0 + 4 * PCI_NR_BARS && off + len > PCI_BAR0);
}

/* The host's config-cycle target, or NULL for an absent function. */
static struct pci_device *pci_host_target(struct pci_host *host, unsigned *reg)
{
	uint32_t addr = host->config_address;
	unsigned bus = (addr >> 16) & 0xff, slot = (addr >> 11) & 0x1f, fn = (addr >> 8) & 0x7;

	*reg = addr & 0xfc;
	if (!(addr & PCI_ADDR_ENABLE) || bus != 0 || fn != 0)
		return NULL;
	return host->slots[slot];
}

static void pci_host_address_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	struct pci_host *host = opaque;

	pthread_mutex_lock(&host->lock);
	memcpy(data, (const uint8_t *)&host->config_address + offset, len);
	pthread_mutex_unlock(&host->lock);
}

static void pci_host_address_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct pci_host *host = opaque;

	/* Only a full dword write latches an address (byte writes to 0xcf8
	 * belong to other, older mechanisms). */
	if (offset != 0 || len != 4)
		return;
	pthread_mutex_lock(&host->lock);
	memcpy(&host->config_address, data, 4);
	pthread_mutex_unlock(&host->lock);
}

static void pci_host_data_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	struct pci_host *host = opaque;
	unsigned reg;

	pthread_mutex_lock(&host->lock);
	struct pci_device *dev = pci_host_target(host, &reg);
	if (dev)
		pci_config_read(dev, reg + (unsigned)offset, data, len);
	else
		memset(data, 0xff, len);
	pthread_mutex_unlock(&host->lock);
}

static void pci_host_data_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct pci_host *host = opaque;
	unsigned reg;

	pthread_mutex_lock(&host->lock);
	struct pci_device *dev = pci_host_target(host, &reg);
	if (dev)
		pci_config_write(dev, reg + (unsigned)offset, data, len);
	if (dev && pci_write_moves_bars(reg + (unsigned)offset, len))
		pci_host_update_decoding(host);
	pthread_mutex_unlock(&host->lock);
}

const struct bus_ops pci_host_address_ops = {
	.name = "pci-config-address",
	.read = pci_host_address_read,
	.write = pci_host_address_write,
};

const struct bus_ops pci_host_data_ops = {
	.name = "pci-config-data",
	.read = pci_host_data_read,
	.write = pci_host_data_write,
};

static int pci_window_init(struct pci_window *w, struct pci_host *host, struct bus *bus,
			   uint64_t base, uint64_t size, bool is_io)
{
	*w = (struct pci_window){.host = host, .base = base, .end = base + size, .is_io = is_io};
	return bus_register(bus, base, size, &pci_window_ops, w);
}

int pci_host_init(struct pci_host *host, struct bus *pio, struct bus *mmio, uint64_t mmio_base,
		  uint64_t mmio_size, uint32_t pio_base, uint32_t pio_size)
{
	int rc;

	memset(host, 0, sizeof(*host));
	pthread_mutex_init(&host->lock, NULL);
	host->mmio_next = mmio_base;
	host->pio_next = pio_base;
	pci_device_init(&host->bridge, "host-bridge", PCI_HOST_VENDOR, PCI_HOST_DEVICE,
			PCI_CLASS_BRIDGE_HOST, 0);
	host->slots[0] = &host->bridge;
	rc = bus_register(pio, PCI_CONFIG_ADDRESS_PORT, 4, &pci_host_address_ops, host);
	if (!rc)
		rc = bus_register(pio, PCI_CONFIG_DATA_PORT, 4, &pci_host_data_ops, host);
	if (!rc)
		rc = pci_window_init(&host->mmio, host, mmio, mmio_base, mmio_size, false);
	if (!rc)
		rc = pci_window_init(&host->pio, host, pio, pio_base, pio_size, true);
	return rc;
}

void pci_host_exit(struct pci_host *host)
{
	pci_device_exit(&host->bridge);
	pthread_mutex_destroy(&host->lock);
}

/* Naturally aligned placement from a bump allocator. */
static int pci_place(uint64_t *next, uint64_t end, uint64_t size, uint64_t *addr)
{
	uint64_t at = (*next + size - 1) & ~(size - 1);

	if (at < *next || at + size > end || at + size < at)
		return -ENOSPC;
	*addr = at;
	*next = at + size;
	return 0;
}

/* Programs the BAR's address; it decodes there once the guest enables
 * decoding. */
static int pci_host_place_bar(struct pci_host *host, struct pci_device *dev, unsigned i)
{
	struct pci_bar *bar = &dev->bars[i];
	const struct pci_window *w = bar->is_io ? &host->pio : &host->mmio;
	uint64_t *next = bar->is_io ? &host->pio_next : &host->mmio_next;
	unsigned off = PCI_BAR0 + 4 * i;
	uint64_t addr;
	int rc = pci_place(next, w->end, bar->size, &addr);

	if (rc)
		return rc;
	uint32_t flags = bar->is_io ? PCI_BAR_IO : (bar->is_64 ? PCI_BAR_MEM_64 : 0);
	pci_set_u32(dev, off, (uint32_t)addr | flags);
	if (bar->is_64)
		pci_set_u32(dev, off + 4, (uint32_t)(addr >> 32));
	return 0;
}

int pci_host_free_slot(const struct pci_host *host)
{
	for (unsigned slot = 1; slot < PCI_MAX_SLOTS; slot++)
		if (!host->slots[slot])
			return (int)slot;
	return -ENOSPC;
}

int pci_host_add_at(struct pci_host *host, struct pci_device *dev, unsigned slot)
{
	if (slot == 0 || slot >= PCI_MAX_SLOTS)
		return -EINVAL;
	if (host->slots[slot])
		return -EBUSY;
	for (unsigned i = 0; i < PCI_NR_BARS; i++) {
		if (!dev->bars[i].size)
			continue;
		int rc = pci_host_place_bar(host, dev, i);
		if (rc)
			return rc;
	}
	dev->slot = slot;
	pthread_mutex_lock(&host->lock);
	host->slots[slot] = dev;
	pci_host_update_decoding(host);
	pthread_mutex_unlock(&host->lock);
	return 0;
}

int pci_host_add(struct pci_host *host, struct pci_device *dev)
{
	int slot = pci_host_free_slot(host);

	if (slot < 0)
		return slot;
	int rc = pci_host_add_at(host, dev, (unsigned)slot);
	return rc ? rc : slot;
}
