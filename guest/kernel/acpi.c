/* Just enough ACPI to find the MADT: the RSDP (given by the loader or found
 * by scanning the BIOS areas), then the XSDT or RSDT, then the "APIC" table.
 * Every structure's checksum is verified. */
#include <stdint.h>

#include "arch/cpu.h"
#include "arch/paging.h"
#include "kernel/platform.h"
#include "lib/string.h"

struct acpi_rsdp {
	char signature[8]; /* "RSD PTR " */
	uint8_t checksum;  /* over the first 20 bytes */
	char oem_id[6];
	uint8_t revision; /* 0: ACPI 1.0, only the RSDT; 2+: also the XSDT */
	uint32_t rsdt_address;
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t extended_checksum; /* over length bytes */
	uint8_t reserved[3];
} __attribute__((packed));

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	uint32_t creator_id;
	uint32_t creator_revision;
} __attribute__((packed));

struct madt {
	struct acpi_header header;
	uint32_t lapic_address;
	uint32_t flags;
	uint8_t entries[];
} __attribute__((packed));

#define MADT_LAPIC 0
#define MADT_IOAPIC 1
#define MADT_INTERRUPT_OVERRIDE 2
#define MADT_LAPIC_ADDRESS_OVERRIDE 5
#define MADT_X2APIC 9

#define MADT_CPU_ENABLED 0x1
#define XAPIC_MAX_ID 0xfe /* 0xff is the broadcast ID */

#define BIOS_AREA_START 0xe0000
#define BIOS_AREA_END 0x100000
#define EBDA_SCAN_LEN 1024
#define RSDP_ALIGN 16
#define ACPI_MAX_TABLE_LEN (16u << 20) /* sanity bound on a corrupt length */

static bool rsdp_valid(const struct acpi_rsdp *rsdp)
{
	if (memcmp(rsdp->signature, "RSD PTR ", 8) != 0 || !checksum_ok(rsdp, 20))
		return false;
	return rsdp->revision < 2 || (rsdp->length >= sizeof(*rsdp) && rsdp->length < 4096 &&
				      checksum_ok(rsdp, rsdp->length));
}

static const struct acpi_rsdp *rsdp_scan(uint64_t start, uint64_t end)
{
	for (uint64_t p = start; p + sizeof(struct acpi_rsdp) <= end; p += RSDP_ALIGN) {
		const struct acpi_rsdp *rsdp = phys_to_virt(p);
		if (rsdp_valid(rsdp))
			return rsdp;
	}
	return NULL;
}

static const struct acpi_rsdp *rsdp_find(uint64_t given)
{
	if (given) {
		const struct acpi_rsdp *rsdp = phys_to_virt(given);
		if (rsdp_valid(rsdp))
			return rsdp;
	}
	uint64_t ebda = bios_ebda_paddr();
	const struct acpi_rsdp *rsdp = ebda ? rsdp_scan(ebda, ebda + EBDA_SCAN_LEN) : NULL;
	return rsdp ? rsdp : rsdp_scan(BIOS_AREA_START, BIOS_AREA_END);
}

/* The table at paddr if it is mapped, has a sane length and checksums. */
static const struct acpi_header *acpi_table(uint64_t paddr)
{
	if (!paddr || paddr + sizeof(struct acpi_header) > PAGING_IDENTITY_LIMIT)
		return NULL;
	const struct acpi_header *h = phys_to_virt(paddr);
	if (h->length < sizeof(*h) || h->length > ACPI_MAX_TABLE_LEN ||
	    paddr + h->length > PAGING_IDENTITY_LIMIT || !checksum_ok(h, h->length))
		return NULL;
	return h;
}

/* Looks signature up in the XSDT (8-byte entries) or RSDT (4-byte). */
static const struct acpi_header *acpi_find_table(const struct acpi_rsdp *rsdp, const char *sig)
{
	bool use_xsdt = rsdp->revision >= 2 && rsdp->xsdt_address;
	const struct acpi_header *root =
		acpi_table(use_xsdt ? rsdp->xsdt_address : rsdp->rsdt_address);
	if (!root)
		return NULL;
	unsigned entry_size = use_xsdt ? 8 : 4;
	unsigned count = (root->length - sizeof(*root)) / entry_size;
	const uint8_t *entries = (const uint8_t *)(root + 1);

	for (unsigned i = 0; i < count; i++) {
		uint64_t paddr = 0;
		memcpy(&paddr, entries + i * entry_size, entry_size);
		const struct acpi_header *h = acpi_table(paddr);
		if (h && memcmp(h->signature, sig, 4) == 0)
			return h;
	}
	return NULL;
}

static void madt_add_cpu(uint32_t apic_id, uint32_t flags)
{
	/* "Online capable" without "enabled" is a CPU that may be hot-added
	 * later: there is nothing to start now. */
	if (!(flags & MADT_CPU_ENABLED) || apic_id > XAPIC_MAX_ID) {
		platform.cpus_ignored++;
		return;
	}
	platform_add_cpu((uint8_t)apic_id);
}

/* The shortest valid length of each entry type this file reads. */
static unsigned madt_entry_min_length(uint8_t type)
{
	switch (type) {
	case MADT_LAPIC:
		return 8;
	case MADT_INTERRUPT_OVERRIDE:
		return 10;
	case MADT_IOAPIC:
	case MADT_LAPIC_ADDRESS_OVERRIDE:
		return 12;
	case MADT_X2APIC:
		return 16;
	default:
		return 2;
	}
}

static void madt_parse_entry(const uint8_t *e)
{
	uint32_t u32a, u32b;
	uint16_t flags;

	if (e[1] < madt_entry_min_length(e[0]))
		return;
	switch (e[0]) {
	case MADT_LAPIC: /* acpi id, apic id, flags */
		memcpy(&u32a, e + 4, 4);
		madt_add_cpu(e[3], u32a);
		break;
	case MADT_X2APIC: /* reserved[2], x2apic id, flags, uid */
		memcpy(&u32a, e + 4, 4);
		memcpy(&u32b, e + 8, 4);
		madt_add_cpu(u32a, u32b);
		break;
	case MADT_IOAPIC: /* id, reserved, address, gsi base */
		memcpy(&u32a, e + 4, 4);
		memcpy(&u32b, e + 8, 4);
		platform_add_ioapic(e[2], u32a, u32b);
		break;
	case MADT_INTERRUPT_OVERRIDE: /* bus (0 = ISA), source irq, gsi, flags */
		memcpy(&u32a, e + 4, 4);
		memcpy(&flags, e + 8, 2);
		if (e[2] == 0)
			platform_set_isa_irq(e[3], u32a, flags);
		break;
	case MADT_LAPIC_ADDRESS_OVERRIDE: { /* reserved[2], 64-bit address */
		uint64_t addr;
		memcpy(&addr, e + 4, 8);
		if (addr < PAGING_IDENTITY_LIMIT)
			platform.lapic_base = (uint32_t)addr;
		break;
	}
	default:
		break;
	}
}

bool acpi_discover(uint64_t rsdp_paddr)
{
	const struct acpi_rsdp *rsdp = rsdp_find(rsdp_paddr);
	if (!rsdp)
		return false;
	const struct madt *madt = (const struct madt *)acpi_find_table(rsdp, "APIC");
	if (!madt)
		return false;

	platform.lapic_base = madt->lapic_address;
	const uint8_t *p = madt->entries;
	const uint8_t *end = (const uint8_t *)madt + madt->header.length;
	while (p + 2 <= end && p[1] >= 2 && p + p[1] <= end) {
		madt_parse_entry(p);
		p += p[1];
	}
	return platform.nr_cpus > 0;
}
