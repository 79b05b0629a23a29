/* PCI bus 0 behind a host bridge with configuration mechanism #1
 * (ports 0xcf8/0xcfc). Each function has a 256-byte config space image
 * and a write mask; BARs are placed by the VMM when the device is added.
 * The bridge claims its two windows (memory and I/O) on the MMIO and
 * port buses and passes each access on to the BAR decoding it there:
 * where the guest programmed it, while the command register enables
 * that kind of decoding. */
#ifndef SKIFF_DEVICES_PCI_H
#define SKIFF_DEVICES_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/irq.h"

#define PCI_CONFIG_ADDRESS_PORT 0xcf8
#define PCI_CONFIG_DATA_PORT 0xcfc
#define PCI_CONFIG_SPACE_SIZE 256
#define PCI_MAX_SLOTS 32
#define PCI_NR_BARS 6

/* Config space offsets and bits */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_REVISION_ID 0x08
#define PCI_CLASS_PROG 0x09
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID 0x2e
#define PCI_CAPABILITY_LIST 0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN 0x3d
#define PCI_CAPS_START 0x40

#define PCI_COMMAND_IO 0x1
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4
#define PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_STATUS_CAP_LIST 0x10
#define PCI_STATUS_INTERRUPT 0x08

#define PCI_BAR_IO 0x1
#define PCI_BAR_MEM_64 0x4

#define PCI_CLASS_BRIDGE_HOST 0x060000

struct pci_device;

/* pci_bar.addr of a BAR that decodes nowhere. */
#define PCI_BAR_UNMAPPED UINT64_MAX

struct pci_bar {
	uint64_t size; /* 0: unused; else a power of two */
	uint64_t addr; /* where it decodes now, or PCI_BAR_UNMAPPED */
	bool is_io;
	bool is_64;
	const struct bus_ops *ops;
	void *opaque;
	struct pci_device *owner;
};

/* Optional hooks: after the guest wrote config space (e.g. MSI-X enable),
 * after a read was filled from the config image, for the registers
 * whose value is not in the image (a window onto a BAR), and after BAR
 * `index` moved from one decoded address to another (either may be
 * PCI_BAR_UNMAPPED: decoding went off or on), for what the device keeps
 * at its BAR's address outside the bus (KVM ioeventfds). bar_moved runs
 * under the host's lock. */
struct pci_device_hooks {
	void (*config_written)(struct pci_device *dev, unsigned offset, unsigned len);
	void (*config_read)(struct pci_device *dev, unsigned offset, uint8_t *data, unsigned len);
	void (*bar_moved)(struct pci_device *dev, unsigned index, uint64_t from, uint64_t to);
};

struct pci_device {
	const char *name;
	/* Config cycles come from vCPU threads under the host's lock, the
	 * function's interrupt condition from whichever thread raised it:
	 * this lock orders the two over config space and the INTx line. It
	 * is taken last and never held across a hook. */
	pthread_mutex_t lock;
	uint8_t config[PCI_CONFIG_SPACE_SIZE];
	uint8_t wmask[PCI_CONFIG_SPACE_SIZE]; /* bits the guest may change */
	struct pci_bar bars[PCI_NR_BARS];
	struct pci_device_hooks hooks;
	void *opaque;
	unsigned slot;
	uint8_t next_cap;     /* where the next capability goes */
	struct irq_line intx; /* INTA#, when the function has one */
};

struct pci_host;

/* One of the bridge's address windows, [base, end) of the port or MMIO
 * bus: the only place BARs of that kind may decode. */
struct pci_window {
	struct pci_host *host;
	uint64_t base, end;
	bool is_io;
	/* The BARs of its kind that decode, by address (they never overlap),
	 * for a binary search per access; remade whenever one moves. */
	const struct pci_bar *decoding[PCI_MAX_SLOTS * PCI_NR_BARS];
	unsigned nr_decoding;
};

struct pci_host {
	/* Config cycles and BAR lookups from any vCPU. */
	pthread_mutex_t lock;
	uint32_t config_address;
	struct pci_device *slots[PCI_MAX_SLOTS];
	struct pci_device bridge;
	struct pci_window mmio, pio;
	uint64_t mmio_next, pio_next; /* placement of the next BAR */
};

extern const struct bus_ops pci_host_address_ops;
extern const struct bus_ops pci_host_data_ops;

/* Fills the config header of a type-0 function. */
void pci_device_init(struct pci_device *dev, const char *name, uint16_t vendor, uint16_t device,
		     uint32_t class_code, uint8_t revision);
void pci_device_exit(struct pci_device *dev);
void pci_device_set_bar(struct pci_device *dev, unsigned index, uint64_t size, bool is_io,
			bool is_64, const struct bus_ops *ops, void *opaque);
/* Appends a capability of len bytes (ID and next pointer included) and
 * returns its offset, or 0 when config space is full. */
unsigned pci_device_add_cap(struct pci_device *dev, uint8_t cap_id, unsigned len);

/* Wires the function's INTA# to line (its slot's pin); the interrupt
 * line register starts as line.gsi. */
void pci_device_set_intx(struct pci_device *dev, struct irq_line line);

/* The function's INTx interrupt condition (for virtio: a non-zero ISR).
 * PCI 3.0 6.2.3: Interrupt Status (status bit 3) shows it whether or not
 * INTx is disabled; the line is asserted while it holds and INTx Disable
 * (command bit 10) is clear, so setting that bit lowers a raised line and
 * clearing it raises the line again. Any thread. */
void pci_set_intx(struct pci_device *dev, bool pending);

/* Bus Master Enable (command bit 2): whether the function may reach
 * memory at all. Everything it would write or read there waits or is
 * dropped meanwhile: DMA, and MSI-X messages, which are memory writes.
 * Any thread. */
bool pci_dma_allowed(const struct pci_device *dev);

/* A config byte as a thread without the function's lock may read it (the
 * I/O thread: the MSI-X control bits while it signals a vector). Config
 * writes store byte by byte, so the byte is whole, if perhaps a moment
 * old; whoever writes it then acts on the new value under its own lock
 * (msix_config_written). */
uint8_t pci_get_u8_shared(const struct pci_device *dev, unsigned off);

void pci_set_u8(struct pci_device *dev, unsigned off, uint8_t v);
void pci_set_u16(struct pci_device *dev, unsigned off, uint16_t v);
void pci_set_u32(struct pci_device *dev, unsigned off, uint32_t v);
uint16_t pci_get_u16(const struct pci_device *dev, unsigned off);
uint32_t pci_get_u32(const struct pci_device *dev, unsigned off);

/* Sets up the host bridge at slot 0 and registers 0xcf8/0xcfc on pio,
 * and its windows: [mmio_base, mmio_base+mmio_size) on mmio,
 * [pio_base, pio_base+pio_size) on pio. BARs are placed and decode only
 * there. */
int pci_host_init(struct pci_host *host, struct bus *pio, struct bus *mmio, uint64_t mmio_base,
		  uint64_t mmio_size, uint32_t pio_base, uint32_t pio_size);
void pci_host_exit(struct pci_host *host);

/* The first free slot, or -ENOSPC. */
int pci_host_free_slot(const struct pci_host *host);

/* Puts dev in slot and places its BARs: programs their addresses, where
 * they decode once the guest enables decoding. Returns 0, -EBUSY when
 * the slot is taken, -EINVAL when there is no such slot, or another
 * negative errno. For a caller that chose the slot before making the
 * device, e.g. to wire its INTx: the device lands where it was wired. */
int pci_host_add_at(struct pci_host *host, struct pci_device *dev, unsigned slot);

/* Puts dev in the first free slot. Returns the slot, or a negative errno. */
int pci_host_add(struct pci_host *host, struct pci_device *dev);

/* Config-space access as configuration mechanism #1 does it, for tests. */
void pci_config_read(struct pci_device *dev, unsigned off, uint8_t *data, unsigned len);
void pci_config_write(struct pci_device *dev, unsigned off, const uint8_t *data, unsigned len);

#endif
