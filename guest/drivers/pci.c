#include "drivers/pci.h"

#include "arch/cpu.h"
#include "arch/paging.h"
#include "kernel/bootinfo.h"
#include "lib/string.h"

#define CONFIG_ADDRESS 0xcf8
#define CONFIG_DATA 0xcfc
#define CONFIG_ENABLE 0x80000000u

#define PCI_MAX_BUSES 256
#define PCI_DEVICES_PER_BUS 32
#define PCI_FUNCTIONS_PER_DEVICE 8
#define HEADER_TYPE_MASK 0x7f
#define HEADER_MULTI_FUNCTION 0x80
#define HEADER_NORMAL 0
#define HEADER_BRIDGE 1

#define BAR_IO 0x1
#define BAR_MEM_TYPE_MASK 0x6
#define BAR_MEM_TYPE_64 0x4
#define BAR_MEM_PREFETCH 0x8
#define BAR_MEM_ADDR_MASK 0xfffffff0u
#define BAR_IO_ADDR_MASK 0xfffffffcu

#define CAP_MIN_OFFSET 0x40
#define CAP_MAX_WALK 48 /* 192 bytes of list / 4-byte minimum entries */

#define MSIX_CONTROL 2
#define MSIX_TABLE 4
#define MSIX_PBA 8
#define MSIX_CONTROL_SIZE_MASK 0x07ff
#define MSIX_CONTROL_FUNCTION_MASK 0x4000
#define MSIX_CONTROL_ENABLE 0x8000
#define MSIX_BIR_MASK 0x7
#define MSIX_ENTRY_SIZE 16
#define MSIX_ENTRY_ADDR_LO 0
#define MSIX_ENTRY_ADDR_HI 1
#define MSIX_ENTRY_DATA 2
#define MSIX_ENTRY_CONTROL 3
#define MSIX_ENTRY_MASKED 0x1
#define MSI_ADDRESS_BASE 0xfee00000u

static struct pci_function functions[PCI_MAX_FUNCTIONS];
static unsigned nr_functions;
static uint8_t buses_seen[PCI_MAX_BUSES / 8];

static uint32_t config_address(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t offset)
{
	return CONFIG_ENABLE | (uint32_t)bus << 16 | (uint32_t)dev << 11 | (uint32_t)fn << 8 |
	       (offset & 0xfc);
}

static uint32_t config_read32(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t offset)
{
	outl(CONFIG_ADDRESS, config_address(bus, dev, fn, offset));
	return inl(CONFIG_DATA);
}

uint32_t pci_read32(const struct pci_function *f, uint16_t offset)
{
	return config_read32(f->bus, f->dev, f->fn, offset);
}

uint16_t pci_read16(const struct pci_function *f, uint16_t offset)
{
	outl(CONFIG_ADDRESS, config_address(f->bus, f->dev, f->fn, offset));
	return inw(CONFIG_DATA + (offset & 2));
}

uint8_t pci_read8(const struct pci_function *f, uint16_t offset)
{
	outl(CONFIG_ADDRESS, config_address(f->bus, f->dev, f->fn, offset));
	return inb(CONFIG_DATA + (offset & 3));
}

void pci_write32(const struct pci_function *f, uint16_t offset, uint32_t value)
{
	outl(CONFIG_ADDRESS, config_address(f->bus, f->dev, f->fn, offset));
	outl(CONFIG_DATA, value);
}

void pci_write16(const struct pci_function *f, uint16_t offset, uint16_t value)
{
	outl(CONFIG_ADDRESS, config_address(f->bus, f->dev, f->fn, offset));
	outw(CONFIG_DATA + (offset & 2), value);
}

/* Sizes one BAR the usual way: all ones written with decoding off, the
 * read-back gives the size; the old value goes back. Returns how many BAR
 * slots it used (2 for a 64-bit memory BAR). */
static unsigned probe_bar(struct pci_function *f, unsigned index, unsigned nr_bars)
{
	uint16_t reg = (uint16_t)(PCI_BAR0 + 4 * index);
	struct pci_bar *bar = &f->bars[index];
	uint32_t low = pci_read32(f, reg);

	if (low & BAR_IO) {
		pci_write32(f, reg, 0xffffffffu);
		uint32_t mask = pci_read32(f, reg) & BAR_IO_ADDR_MASK;
		pci_write32(f, reg, low);
		if (!mask)
			return 1;
		if (!(mask & 0xffff0000u))
			mask |= 0xffff0000u; /* 16-bit decoders read the upper half as 0 */
		bar->type = PCI_BAR_IO;
		bar->base = low & BAR_IO_ADDR_MASK;
		bar->size = (uint32_t)(~mask + 1);
		return 1;
	}

	bool is64 = (low & BAR_MEM_TYPE_MASK) == BAR_MEM_TYPE_64;
	if (is64 && index + 1 >= nr_bars)
		return 1; /* a 64-bit BAR in the last slot: malformed, ignored */
	uint32_t high = is64 ? pci_read32(f, reg + 4) : 0;

	pci_write32(f, reg, 0xffffffffu);
	uint64_t mask = pci_read32(f, reg) & BAR_MEM_ADDR_MASK;
	pci_write32(f, reg, low);
	if (is64) {
		pci_write32(f, reg + 4, 0xffffffffu);
		mask |= (uint64_t)pci_read32(f, reg + 4) << 32;
		pci_write32(f, reg + 4, high);
	} else if (mask) {
		mask |= 0xffffffff00000000ULL;
	}
	if (mask) {
		bar->type = is64 ? PCI_BAR_MEM64 : PCI_BAR_MEM32;
		bar->prefetchable = low & BAR_MEM_PREFETCH;
		bar->base = ((uint64_t)high << 32) | (low & BAR_MEM_ADDR_MASK);
		bar->size = ~mask + 1;
		/* A size that is not a power of two or a range that wraps
		 * cannot come from a real decoder: unusable. */
		if (!bar->size || (bar->size & (bar->size - 1)) ||
		    bar->base + bar->size < bar->base)
			bar->base = 0;
	}
	return is64 ? 2 : 1;
}

static void probe_bars(struct pci_function *f)
{
	unsigned nr_bars = f->header_type == HEADER_NORMAL   ? 6
			   : f->header_type == HEADER_BRIDGE ? 2
							     : 0;
	uint16_t command = pci_read16(f, PCI_COMMAND);

	/* No decoding while a BAR briefly holds all ones. */
	pci_write16(f, PCI_COMMAND, command & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
	for (unsigned i = 0; i < nr_bars;)
		i += probe_bar(f, i, nr_bars);
	pci_write16(f, PCI_COMMAND, command);
}

static void scan_bus(uint8_t bus, unsigned depth);

static void add_function(uint8_t bus, uint8_t dev, uint8_t fn, uint32_t id, unsigned depth)
{
	if (nr_functions == PCI_MAX_FUNCTIONS)
		return;
	struct pci_function *f = &functions[nr_functions++];

	memset(f, 0, sizeof(*f));
	f->bus = bus;
	f->dev = dev;
	f->fn = fn;
	f->vendor = (uint16_t)id;
	f->device = (uint16_t)(id >> 16);
	uint32_t class_rev = pci_read32(f, PCI_REVISION);
	f->revision = (uint8_t)class_rev;
	f->class_code = class_rev >> 8;
	f->header_type = pci_read8(f, PCI_HEADER_TYPE) & HEADER_TYPE_MASK;
	if (f->header_type == HEADER_NORMAL) {
		f->subsystem_vendor = pci_read16(f, PCI_SUBSYSTEM_VENDOR);
		f->subsystem_id = pci_read16(f, PCI_SUBSYSTEM_ID);
	}
	probe_bars(f);
	/* Buses behind a bridge are scanned only if firmware numbered them:
	 * the guest does not assign bus numbers. */
	if (f->header_type == HEADER_BRIDGE) {
		uint8_t secondary = pci_read8(f, PCI_SECONDARY_BUS);
		if (secondary > bus)
			scan_bus(secondary, depth + 1);
	}
}

static void scan_bus(uint8_t bus, unsigned depth)
{
	if (depth > 8 || (buses_seen[bus / 8] & (1u << (bus % 8))))
		return;
	buses_seen[bus / 8] |= (uint8_t)(1u << (bus % 8));
	for (uint8_t dev = 0; dev < PCI_DEVICES_PER_BUS; dev++) {
		uint32_t id = config_read32(bus, dev, 0, PCI_VENDOR_ID);
		if ((uint16_t)id == 0xffff || (uint16_t)id == 0)
			continue;
		uint8_t header = (uint8_t)(config_read32(bus, dev, 0, PCI_HEADER_TYPE & 0xfc) >>
					   (8 * (PCI_HEADER_TYPE & 3)));
		unsigned nr_fn = (header & HEADER_MULTI_FUNCTION) ? PCI_FUNCTIONS_PER_DEVICE : 1;
		for (uint8_t fn = 0; fn < nr_fn; fn++) {
			if (fn)
				id = config_read32(bus, dev, fn, PCI_VENDOR_ID);
			if ((uint16_t)id == 0xffff || (uint16_t)id == 0)
				continue;
			add_function(bus, dev, fn, id, depth);
		}
	}
}

void pci_init(void)
{
	nr_functions = 0;
	memset(buses_seen, 0, sizeof(buses_seen));
	scan_bus(0, 0);
}

unsigned pci_count(void)
{
	return nr_functions;
}

struct pci_function *pci_get(unsigned index)
{
	return index < nr_functions ? &functions[index] : NULL;
}

static const char *const virtio_names[] = {
	[1] = "virtio-net",	[2] = "virtio-blk",    [3] = "virtio-console", [4] = "virtio-rng",
	[5] = "virtio-balloon", [8] = "virtio-scsi",   [9] = "virtio-9p",      [16] = "virtio-gpu",
	[18] = "virtio-input",	[19] = "virtio-vsock", [23] = "virtio-iommu",  [24] = "virtio-mem",
	[26] = "virtio-fs",	[27] = "virtio-pmem",
};

/* Transitional (legacy-capable) device IDs 0x1000-0x103f, by virtio ID. */
static const uint8_t transitional_ids[] = {1, 2, 5, 3, 8, 4, 0, 0, 0, 9};

static const char *virtio_name(uint16_t device)
{
	unsigned id = 0;

	if (device >= 0x1040 && device <= 0x107f)
		id = device - 0x1040u;
	else if (device >= 0x1000 && device < 0x1000 + sizeof(transitional_ids))
		id = transitional_ids[device - 0x1000];
	if (id < sizeof(virtio_names) / sizeof(virtio_names[0]) && virtio_names[id])
		return virtio_names[id];
	return "virtio";
}

struct class_name {
	uint16_t class_sub;
	const char *name;
};

static const struct class_name class_names[] = {
	{0x0100, "scsi"},	 {0x0101, "ide"},	 {0x0106, "sata"},
	{0x0108, "nvme"},	 {0x0200, "ethernet"},	 {0x0300, "vga"},
	{0x0403, "audio"},	 {0x0500, "memory"},	 {0x0600, "host-bridge"},
	{0x0601, "isa-bridge"},	 {0x0604, "pci-bridge"}, {0x0700, "serial"},
	{0x0c03, "usb"},	 {0x0c05, "smbus"},	 {0x0880, "system"},
	{0x0b40, "coprocessor"}, {0x0680, "bridge"},
};

const char *pci_name(const struct pci_function *f)
{
	if (f->vendor == 0x1af4 && f->device >= 0x1000 && f->device <= 0x107f)
		return virtio_name(f->device);
	for (unsigned i = 0; i < sizeof(class_names) / sizeof(class_names[0]); i++) {
		if (class_names[i].class_sub == f->class_code >> 8)
			return class_names[i].name;
	}
	return "unknown";
}

uint8_t pci_find_capability(const struct pci_function *f, uint8_t id, uint8_t after)
{
	if (!(pci_read16(f, PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return 0;
	uint8_t offset = pci_read8(f, PCI_CAP_POINTER) & 0xfc;
	bool past = after == 0;

	for (unsigned i = 0; i < CAP_MAX_WALK && offset >= CAP_MIN_OFFSET; i++) {
		uint16_t header = pci_read16(f, offset);
		if (past && (header & 0xff) == id)
			return offset;
		if (offset == after)
			past = true;
		offset = (uint8_t)(header >> 8) & 0xfc;
	}
	return 0;
}

void pci_enable(const struct pci_function *f, uint16_t command_bits)
{
	uint16_t command = pci_read16(f, PCI_COMMAND);

	pci_write16(f, PCI_COMMAND, command | command_bits | PCI_COMMAND_INTX_DISABLE);
}

/* A BAR placed over RAM would make that RAM uncached (or worse): such a
 * BAR is not used. */
static bool overlaps_ram(uint64_t base, uint64_t size)
{
	for (unsigned i = 0; i < bootinfo.nr_memmap; i++) {
		const struct memmap_entry *e = &bootinfo.memmap[i];
		if (e->type == MEMMAP_RAM && base < e->addr + e->size && e->addr < base + size)
			return true;
	}
	return false;
}

bool pci_map_bar(struct pci_function *f, unsigned bar)
{
	if (bar >= PCI_MAX_BARS)
		return false;
	struct pci_bar *b = &f->bars[bar];
	if ((b->type != PCI_BAR_MEM32 && b->type != PCI_BAR_MEM64) || !b->base ||
	    overlaps_ram(b->base, b->size))
		return false;
	if (!b->mapped)
		b->mapped = paging_map_mmio(b->base, b->size);
	return b->mapped;
}

static volatile uint32_t *msix_entry(struct pci_msix *msix, unsigned entry)
{
	return msix->table + entry * (MSIX_ENTRY_SIZE / 4);
}

/* A table or PBA location (BIR + offset) must lie inside a mappable
 * memory BAR. */
static bool msix_region_ok(struct pci_function *f, uint32_t where, uint64_t len)
{
	unsigned bir = where & MSIX_BIR_MASK;
	uint64_t offset = where & ~(uint32_t)MSIX_BIR_MASK;

	if (bir >= PCI_MAX_BARS || !pci_map_bar(f, bir))
		return false;
	return offset < f->bars[bir].size && len <= f->bars[bir].size - offset;
}

bool pci_msix_init(struct pci_function *f, struct pci_msix *msix)
{
	memset(msix, 0, sizeof(*msix));
	uint8_t cap = pci_find_capability(f, PCI_CAP_MSIX, 0);
	if (!cap)
		return false;
	uint16_t control = pci_read16(f, cap + MSIX_CONTROL);
	unsigned entries = (control & MSIX_CONTROL_SIZE_MASK) + 1u;
	uint32_t table = pci_read32(f, cap + MSIX_TABLE);
	uint32_t pba = pci_read32(f, cap + MSIX_PBA);

	if (!msix_region_ok(f, table, (uint64_t)entries * MSIX_ENTRY_SIZE) ||
	    !msix_region_ok(f, pba, (entries + 63u) / 64u * 8u))
		return false;
	msix->f = f;
	msix->cap = cap;
	msix->entries = (uint16_t)entries;
	msix->table = phys_to_virt(f->bars[table & MSIX_BIR_MASK].base +
				   (table & ~(uint32_t)MSIX_BIR_MASK));
	/* Enabled but function-masked while the entries are written. */
	pci_write16(f, cap + MSIX_CONTROL,
		    (control & ~MSIX_CONTROL_SIZE_MASK) | MSIX_CONTROL_ENABLE |
			    MSIX_CONTROL_FUNCTION_MASK);
	for (unsigned i = 0; i < entries; i++)
		msix_entry(msix, i)[MSIX_ENTRY_CONTROL] = MSIX_ENTRY_MASKED;
	return true;
}

void pci_msix_set(struct pci_msix *msix, unsigned entry, uint8_t apic_id, uint8_t vector)
{
	if (!msix->table || entry >= msix->entries)
		return;
	volatile uint32_t *e = msix_entry(msix, entry);

	e[MSIX_ENTRY_CONTROL] = MSIX_ENTRY_MASKED;
	/* Fixed delivery, physical destination mode, edge. */
	e[MSIX_ENTRY_ADDR_LO] = MSI_ADDRESS_BASE | (uint32_t)apic_id << 12;
	e[MSIX_ENTRY_ADDR_HI] = 0;
	e[MSIX_ENTRY_DATA] = vector;
	e[MSIX_ENTRY_CONTROL] = 0;
}

void pci_msix_unmask(struct pci_msix *msix)
{
	if (!msix->table)
		return;
	uint16_t control = pci_read16(msix->f, msix->cap + MSIX_CONTROL);

	pci_write16(msix->f, msix->cap + MSIX_CONTROL,
		    (control & ~(MSIX_CONTROL_SIZE_MASK | MSIX_CONTROL_FUNCTION_MASK)) |
			    MSIX_CONTROL_ENABLE);
}

void pci_msix_disable(struct pci_msix *msix)
{
	if (!msix->table)
		return;
	for (unsigned i = 0; i < msix->entries; i++)
		msix_entry(msix, i)[MSIX_ENTRY_CONTROL] = MSIX_ENTRY_MASKED;
	uint16_t control = pci_read16(msix->f, msix->cap + MSIX_CONTROL);
	pci_write16(msix->f, msix->cap + MSIX_CONTROL,
		    control & ~(MSIX_CONTROL_SIZE_MASK | MSIX_CONTROL_ENABLE));
}
