/* PCI through configuration mechanism #1 (ports 0xcf8/0xcfc): enumeration
 * of bus 0 and of the buses behind bridges the firmware numbered, BAR
 * decoding and sizing, capability lists, command-register bits and MSI-X
 * tables. Every value read from a device is checked before use. */
#ifndef GUEST_DRIVERS_PCI_H
#define GUEST_DRIVERS_PCI_H

#include <stdbool.h>
#include <stdint.h>

#define PCI_MAX_FUNCTIONS 64
#define PCI_MAX_BARS 6

#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_REVISION 0x08
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_SECONDARY_BUS 0x19
#define PCI_SUBSYSTEM_VENDOR 0x2c
#define PCI_SUBSYSTEM_ID 0x2e
#define PCI_CAP_POINTER 0x34

#define PCI_COMMAND_IO 0x0001
#define PCI_COMMAND_MEMORY 0x0002
#define PCI_COMMAND_MASTER 0x0004
#define PCI_COMMAND_INTX_DISABLE 0x0400
#define PCI_STATUS_CAP_LIST 0x0010

#define PCI_CAP_MSI 0x05
#define PCI_CAP_VENDOR 0x09
#define PCI_CAP_MSIX 0x11

enum pci_bar_type { PCI_BAR_NONE, PCI_BAR_MEM32, PCI_BAR_MEM64, PCI_BAR_IO };

struct pci_bar {
	enum pci_bar_type type;
	bool prefetchable;
	bool mapped;   /* memory BAR mapped uncached by pci_map_bar */
	uint64_t base; /* 0: not assigned by the firmware or VMM */
	uint64_t size;
};

struct pci_function {
	uint8_t bus, dev, fn;
	uint16_t vendor, device;
	uint16_t subsystem_vendor, subsystem_id;
	uint32_t class_code; /* class << 16 | subclass << 8 | programming interface */
	uint8_t revision;
	uint8_t header_type; /* without the multi-function bit */
	struct pci_bar bars[PCI_MAX_BARS];
	bool claimed; /* a driver uses it */
};

/* One MSI-X capability, its table mapped. */
struct pci_msix {
	struct pci_function *f;
	uint8_t cap;
	uint16_t entries;
	volatile uint32_t *table;
};

/* Scans the buses and sizes every BAR; prints nothing. */
void pci_init(void);
unsigned pci_count(void);
struct pci_function *pci_get(unsigned index);
/* A short name: "virtio-blk", "host-bridge", ... or "unknown". */
const char *pci_name(const struct pci_function *f);

uint8_t pci_read8(const struct pci_function *f, uint16_t offset);
uint16_t pci_read16(const struct pci_function *f, uint16_t offset);
uint32_t pci_read32(const struct pci_function *f, uint16_t offset);
void pci_write16(const struct pci_function *f, uint16_t offset, uint16_t value);
void pci_write32(const struct pci_function *f, uint16_t offset, uint32_t value);

/* Offset of the next capability with this ID after the one at 'after' (0:
 * from the start of the list); 0 when there is none. The walk is bounded,
 * and pointers below 0x40 end it. */
uint8_t pci_find_capability(const struct pci_function *f, uint8_t id, uint8_t after);
/* Sets command bits (memory, I/O, bus master) and disables INTx. */
void pci_enable(const struct pci_function *f, uint16_t command_bits);
/* Maps an assigned memory BAR uncached (above 4 GiB too). false for an
 * I/O, missing or unassigned BAR, one over RAM in the memory map, or one
 * that cannot be mapped. */
bool pci_map_bar(struct pci_function *f, unsigned bar);

/* Finds and checks the MSI-X capability, maps its table, masks every entry
 * and enables MSI-X with the function still masked. false when there is
 * none or it is unusable (the device then keeps INTx, which we leave
 * disabled: the driver polls). */
bool pci_msix_init(struct pci_function *f, struct pci_msix *msix);
/* Points entry at vector on the CPU with apic_id and unmasks it. */
void pci_msix_set(struct pci_msix *msix, unsigned entry, uint8_t apic_id, uint8_t vector);
/* Clears the function mask: interrupts flow. */
void pci_msix_unmask(struct pci_msix *msix);
/* Disables MSI-X and masks every entry. */
void pci_msix_disable(struct pci_msix *msix);

#endif
