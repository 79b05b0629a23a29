/* The Intel MultiProcessor Specification 1.4 tables, which Skiff provides
 * instead of ACPI: a 16-byte floating pointer "_MP_" in one of the BIOS
 * areas, pointing at a "PCMP" configuration table whose entries list the
 * processors, buses, IOAPICs and interrupt assignments. */
#include <stdint.h>

#include "arch/cpu.h"
#include "kernel/platform.h"
#include "lib/string.h"

struct mp_floating_pointer {
	char signature[4]; /* "_MP_" */
	uint32_t config_table;
	uint8_t length; /* in 16-byte units */
	uint8_t spec_revision;
	uint8_t checksum;
	uint8_t features[5]; /* features[0] != 0: a default configuration, no table */
} __attribute__((packed));

struct mp_config_table {
	char signature[4]; /* "PCMP" */
	uint16_t base_length;
	uint8_t spec_revision;
	uint8_t checksum;
	char oem_id[8];
	char product_id[12];
	uint32_t oem_table;
	uint16_t oem_table_size;
	uint16_t entry_count;
	uint32_t lapic_address;
	uint16_t extended_length;
	uint8_t extended_checksum;
	uint8_t reserved;
} __attribute__((packed));

#define MP_PROCESSOR 0
#define MP_BUS 1
#define MP_IOAPIC 2
#define MP_IO_INTERRUPT 3
#define MP_LOCAL_INTERRUPT 4
#define MP_PROCESSOR_SIZE 20
#define MP_OTHER_SIZE 8

#define MP_CPU_ENABLED 0x01
#define MP_IOAPIC_ENABLED 0x01
#define MP_INT_VECTORED 0 /* an ordinary interrupt, not NMI/SMI/ExtINT */
#define MP_NO_BUS 0xff

/* Where the specification says to look: the last KiB of base memory, the
 * first KiB of the EBDA, and the BIOS ROM. */
#define BASE_MEMORY_LAST_KIB 0x9fc00
#define BASE_MEMORY_END 0xa0000
#define BIOS_ROM_START 0xf0000
#define BIOS_ROM_END 0x100000
#define EBDA_SCAN_LEN 1024

static const struct mp_floating_pointer *mp_scan(uint64_t start, uint64_t end)
{
	for (uint64_t p = start; p + sizeof(struct mp_floating_pointer) <= end; p += 16) {
		const struct mp_floating_pointer *fp = phys_to_virt(p);
		if (memcmp(fp->signature, "_MP_", 4) == 0 && fp->length >= 1 &&
		    checksum_ok(fp, fp->length * 16u))
			return fp;
	}
	return NULL;
}

static const struct mp_floating_pointer *mp_find(void)
{
	const struct mp_floating_pointer *fp = mp_scan(BASE_MEMORY_LAST_KIB, BASE_MEMORY_END);
	uint64_t ebda = bios_ebda_paddr();

	if (!fp && ebda)
		fp = mp_scan(ebda, ebda + EBDA_SCAN_LEN);
	return fp ? fp : mp_scan(BIOS_ROM_START, BIOS_ROM_END);
}

static const struct mp_config_table *mp_config(const struct mp_floating_pointer *fp)
{
	if (!fp->config_table || fp->features[0])
		return NULL; /* a "default configuration": nothing to read */
	const struct mp_config_table *ct = phys_to_virt(fp->config_table);
	if (memcmp(ct->signature, "PCMP", 4) != 0 || ct->base_length < sizeof(*ct) ||
	    !checksum_ok(ct, ct->base_length))
		return NULL;
	return ct;
}

static unsigned mp_entry_size(uint8_t type)
{
	return type == MP_PROCESSOR ? MP_PROCESSOR_SIZE : MP_OTHER_SIZE;
}

/* Entries are walked by the table's length, not its entry count, which
 * some firmware (qboot) leaves at 0. An entry type the specification does
 * not define ends the walk: its size is unknown. */
static bool mp_entry_ok(const uint8_t *e, const uint8_t *end)
{
	return e < end && e[0] <= MP_LOCAL_INTERRUPT && e + mp_entry_size(e[0]) <= end;
}

/* The ISA bus's ID, from the bus entries ("ISA   "). */
static unsigned mp_find_isa_bus(const uint8_t *p, const uint8_t *end)
{
	for (; mp_entry_ok(p, end); p += mp_entry_size(p[0])) {
		if (p[0] == MP_BUS && memcmp(p + 2, "ISA", 3) == 0)
			return p[1];
	}
	return MP_NO_BUS;
}

static uint32_t mp_ioapic_gsi_base(uint8_t ioapic_id)
{
	for (unsigned i = 0; i < platform.nr_ioapics; i++) {
		if (platform.ioapics[i].id == ioapic_id)
			return platform.ioapics[i].gsi_base;
	}
	return 0;
}

static void mp_parse_entry(const uint8_t *e, unsigned isa_bus, uint32_t *next_gsi_base)
{
	uint32_t addr;
	uint16_t flags;

	switch (e[0]) {
	case MP_PROCESSOR: /* lapic id, version, flags, signature, features */
		if (e[3] & MP_CPU_ENABLED)
			platform_add_cpu(e[1]);
		else
			platform.cpus_ignored++;
		break;
	case MP_IOAPIC: /* id, version, flags, address */
		memcpy(&addr, e + 4, 4);
		if (e[3] & MP_IOAPIC_ENABLED) {
			/* MP tables carry no GSI bases: IOAPICs number their
			 * inputs consecutively in table order. */
			platform_add_ioapic(e[1], addr, *next_gsi_base);
			*next_gsi_base += 24;
		}
		break;
	case MP_IO_INTERRUPT: /* type, flags, bus, bus irq, ioapic id, pin */
		memcpy(&flags, e + 2, 2);
		if (e[1] == MP_INT_VECTORED && e[4] == isa_bus)
			platform_set_isa_irq(e[5], mp_ioapic_gsi_base(e[6]) + e[7], flags);
		break;
	default: /* buses and local interrupt assignments */
		break;
	}
}

bool mptable_discover(void)
{
	const struct mp_floating_pointer *fp = mp_find();
	const struct mp_config_table *ct = fp ? mp_config(fp) : NULL;
	if (!ct)
		return false;

	platform.lapic_base = ct->lapic_address;
	const uint8_t *p = (const uint8_t *)(ct + 1);
	const uint8_t *end = (const uint8_t *)ct + ct->base_length;
	unsigned isa_bus = mp_find_isa_bus(p, end);
	uint32_t next_gsi_base = 0;

	/* Two passes: interrupt entries name IOAPICs that may come later. */
	for (int pass = 0; pass < 2; pass++) {
		for (const uint8_t *e = p; mp_entry_ok(e, end); e += mp_entry_size(e[0])) {
			bool devices = e[0] == MP_PROCESSOR || e[0] == MP_IOAPIC;
			if (devices == (pass == 0))
				mp_parse_entry(e, isa_bus, &next_gsi_base);
		}
	}
	return platform.nr_cpus > 0;
}
