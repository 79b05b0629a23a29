#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/boot_layout.h"
#include "vmm/mptable.h"

/* Offsets from the MP specification 1.4, read byte by byte so the test does
 * not share the code's struct definitions. */
#define FP_SIZE 16
#define FP_CONFIG_TABLE 4
#define FP_LENGTH 8
#define FP_SPEC_REV 9
#define HDR_SIZE 44
#define HDR_LENGTH 4
#define HDR_SPEC_REV 6
#define HDR_ENTRY_COUNT 34
#define HDR_LAPIC_ADDR 36
#define ENTRY_PROCESSOR 0
#define ENTRY_BUS 1
#define ENTRY_IOAPIC 2
#define ENTRY_IO_INT 3
#define ENTRY_LOCAL_INT 4

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint8_t byte_sum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	while (len--)
		sum += *p++;
	return sum;
}

struct parsed {
	unsigned processors, buses, ioapics, io_ints, local_ints, entries;
	unsigned bsp_count;
	uint8_t bsp_apic_id;
	uint8_t apic_ids[256];
	uint8_t ioapic_id;
	uint32_t ioapic_addr;
	uint8_t isa_irq_seen[16];
	uint8_t io_int_dst_apic[16];
	uint8_t io_int_dst_pin[16];
	int bad_type; /* an entry type the spec does not define */
	unsigned pci_ints;
	uint8_t pci_slot_pin[32]; /* IOAPIC pin of each slot's INTA#, 0: none */
};

/* Walks the configuration table's entries the way a guest does. */
static void walk_entries(const uint8_t *hdr, struct parsed *p)
{
	const uint8_t *at = hdr + HDR_SIZE, *end = hdr + get16(hdr + HDR_LENGTH);

	memset(p, 0, sizeof(*p));
	while (at < end) {
		switch (at[0]) {
		case ENTRY_PROCESSOR:
			assert_true(at + 20 <= end);
			p->apic_ids[p->processors++] = at[1];
			assert_true(at[3] & 0x01); /* enabled */
			if (at[3] & 0x02) {
				p->bsp_count++;
				p->bsp_apic_id = at[1];
			}
			at += 20;
			break;
		case ENTRY_BUS:
			/* PCI is bus 0 (Linux wants MP bus ID == PCI bus
			 * number), ISA bus 1. */
			assert_memory_equal(at + 2, at[1] == 1 ? "ISA   " : "PCI   ", 6);
			assert_true(at[1] <= 1);
			p->buses++;
			at += 8;
			break;
		case ENTRY_IOAPIC:
			p->ioapics++;
			p->ioapic_id = at[1];
			assert_true(at[3] & 0x01); /* usable */
			p->ioapic_addr = get32(at + 4);
			at += 8;
			break;
		case ENTRY_IO_INT:
			if (at[4] == 0) { /* PCI: source IRQ is slot << 2 | pin */
				assert_int_equal(at[5] & 3, 0);	       /* INTA# */
				assert_int_equal(get16(at + 2), 0x0d); /* level, active high */
				p->pci_slot_pin[at[5] >> 2] = at[7];
				p->pci_ints++;
				at += 8;
				break;
			}
			assert_int_equal(at[4], 1); /* source bus: the ISA bus */
			assert_true(at[5] < 16);
			p->isa_irq_seen[at[5]]++;
			p->io_int_dst_apic[at[5]] = at[6];
			p->io_int_dst_pin[at[5]] = at[7];
			p->io_ints++;
			at += 8;
			break;
		case ENTRY_LOCAL_INT:
			p->local_ints++;
			at += 8;
			break;
		default:
			p->bad_type = 1;
			return;
		}
		p->entries++;
	}
	assert_ptr_equal(at, end); /* the last entry ends exactly at length */
}

static uint8_t *write_table(unsigned ncpus, uint32_t gpa, size_t *written)
{
	size_t size = mptable_size(ncpus);
	uint8_t *buf = malloc(size);

	assert_non_null(buf);
	memset(buf, 0xcc, size);
	*written = mptable_write(buf, size, gpa, ncpus);
	assert_int_equal(*written, size);
	return buf;
}

static void floating_pointer_has_signature_checksum_and_table_address(void **state)
{
	size_t n;
	uint8_t *buf = write_table(2, BOOT_MPTABLE_ADDR, &n);

	assert_memory_equal(buf, "_MP_", 4);
	assert_int_equal(buf[FP_LENGTH], 1); /* one 16-byte paragraph */
	assert_int_equal(buf[FP_SPEC_REV], 4);
	assert_int_equal(byte_sum(buf, FP_SIZE), 0);
	assert_int_equal(mptable_checksum(buf, FP_SIZE), 0);
	/* The pointer holds the guest-physical address of the header, which
	 * follows it in the buffer. */
	assert_int_equal(get32(buf + FP_CONFIG_TABLE), BOOT_MPTABLE_ADDR + FP_SIZE);
	assert_memory_equal(buf + FP_SIZE, "PCMP", 4);
	/* Feature byte 1 = 0: a configuration table is present, not a default
	 * configuration. */
	assert_int_equal(buf[11], 0);
	free(buf);
}

static void table_address_follows_gpa_argument(void **state)
{
	size_t n;
	uint8_t *buf = write_table(1, 0xf0000, &n);

	assert_int_equal(get32(buf + FP_CONFIG_TABLE), 0xf0000 + FP_SIZE);
	assert_int_equal(byte_sum(buf, FP_SIZE), 0); /* checksum covers the address */
	free(buf);
}

static void config_table_checksum_covers_whole_table(void **state)
{
	for (unsigned ncpus = 1; ncpus <= MPTABLE_MAX_CPUS; ncpus += 17) {
		size_t n;
		uint8_t *buf = write_table(ncpus, BOOT_MPTABLE_ADDR, &n);
		const uint8_t *hdr = buf + FP_SIZE;
		uint16_t len = get16(hdr + HDR_LENGTH);

		assert_int_equal(len, n - FP_SIZE);
		assert_int_equal(hdr[HDR_SPEC_REV], 4);
		if (byte_sum(hdr, len) != 0)
			fail_msg("%u CPUs: table bytes sum to 0x%02x", ncpus, byte_sum(hdr, len));
		free(buf);
	}
}

static void entry_count_matches_entries_present(void **state)
{
	static const unsigned counts[] = {1, 2, 4, 63, 254};

	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		size_t n;
		struct parsed p;
		uint8_t *buf = write_table(counts[i], BOOT_MPTABLE_ADDR, &n);

		walk_entries(buf + FP_SIZE, &p);
		assert_false(p.bad_type);
		assert_int_equal(get16(buf + FP_SIZE + HDR_ENTRY_COUNT), p.entries);
		assert_int_equal(p.processors, counts[i]);
		assert_int_equal(p.buses, 2);
		assert_int_equal(p.ioapics, 1);
		assert_int_equal(p.io_ints, MPTABLE_ISA_IRQS);
		assert_int_equal(p.pci_ints, MPTABLE_PCI_SLOTS);
		assert_int_equal(p.local_ints, 2);
		free(buf);
	}
}

static void one_processor_per_cpu_and_only_cpu0_is_bsp(void **state)
{
	size_t n;
	struct parsed p;
	uint8_t *buf = write_table(8, BOOT_MPTABLE_ADDR, &n);

	walk_entries(buf + FP_SIZE, &p);
	assert_int_equal(p.processors, 8);
	assert_int_equal(p.bsp_count, 1);
	assert_int_equal(p.bsp_apic_id, 0);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(p.apic_ids[i], i);
	free(buf);
}

static void ioapic_sits_at_platform_address_with_unused_id(void **state)
{
	size_t n;
	struct parsed p;
	uint8_t *buf = write_table(4, BOOT_MPTABLE_ADDR, &n);

	walk_entries(buf + FP_SIZE, &p);
	assert_int_equal(p.ioapic_addr, BOOT_IOAPIC_ADDR);
	assert_int_equal(p.ioapic_addr, 0xfec00000u);
	assert_int_equal(get32(buf + FP_SIZE + HDR_LAPIC_ADDR), 0xfee00000u);
	for (unsigned i = 0; i < p.processors; i++)
		assert_int_not_equal(p.ioapic_id, p.apic_ids[i]);
	free(buf);
}

static void every_isa_irq_routes_to_same_ioapic_pin(void **state)
{
	size_t n;
	struct parsed p;
	uint8_t *buf = write_table(3, BOOT_MPTABLE_ADDR, &n);

	walk_entries(buf + FP_SIZE, &p);
	for (unsigned irq = 0; irq < MPTABLE_ISA_IRQS; irq++) {
		assert_int_equal(p.isa_irq_seen[irq], 1);
		assert_int_equal(p.io_int_dst_apic[irq], p.ioapic_id);
		assert_int_equal(p.io_int_dst_pin[irq], irq);
	}
	free(buf);
}

static void cpu_counts_zero_and_above_254_are_refused(void **state)
{
	uint8_t *buf = malloc(mptable_size(256));

	assert_non_null(buf);
	memset(buf, 0xcc, mptable_size(256));
	assert_int_equal(mptable_write(buf, mptable_size(256), BOOT_MPTABLE_ADDR, 0), 0);
	assert_int_equal(mptable_write(buf, mptable_size(256), BOOT_MPTABLE_ADDR, 255), 0);
	assert_int_equal(mptable_write(buf, mptable_size(256), BOOT_MPTABLE_ADDR, 256), 0);
	assert_int_equal(buf[0], 0xcc); /* nothing written */
	free(buf);
}

static void max_cpus_fit_with_distinct_apic_ids(void **state)
{
	size_t n;
	struct parsed p;
	uint8_t *buf = write_table(254, BOOT_MPTABLE_ADDR, &n);
	uint8_t seen[256] = {0};

	walk_entries(buf + FP_SIZE, &p);
	assert_int_equal(p.processors, 254);
	assert_int_equal(p.bsp_count, 1);
	for (unsigned i = 0; i < p.processors; i++)
		seen[p.apic_ids[i]]++;
	seen[p.ioapic_id]++;
	for (unsigned id = 0; id < 256; id++)
		assert_true(seen[id] <= 1);
	assert_int_equal(seen[0xff], 0); /* 0xff is the broadcast ID */
	free(buf);
}

static void buffer_one_byte_short_is_refused_untouched(void **state)
{
	size_t size = mptable_size(4);
	uint8_t *buf = malloc(size);

	assert_non_null(buf);
	memset(buf, 0xcc, size);
	assert_int_equal(mptable_write(buf, size - 1, BOOT_MPTABLE_ADDR, 4), 0);
	for (size_t i = 0; i < size; i++)
		assert_int_equal(buf[i], 0xcc);
	assert_int_equal(mptable_write(buf, 0, BOOT_MPTABLE_ADDR, 4), 0);
	free(buf);
}

static void write_stays_inside_reported_size(void **state)
{
	size_t size = mptable_size(5);
	uint8_t *buf = malloc(size + 64);

	assert_non_null(buf);
	memset(buf, 0xcc, size + 64);
	assert_int_equal(mptable_write(buf, size + 64, BOOT_MPTABLE_ADDR, 5), size);
	for (size_t i = size; i < size + 64; i++)
		assert_int_equal(buf[i], 0xcc);
	free(buf);
}

static void table_fits_in_reserved_area(void **state)
{
	/* vm.c puts the table at BOOT_MPTABLE_ADDR; the floating pointer must
	 * be in the last KiB of base memory and the table must stay reserved. */
	assert_true(BOOT_MPTABLE_ADDR >= 0x9fc00 && BOOT_MPTABLE_ADDR + FP_SIZE <= 0xa0000);
	assert_true(BOOT_MPTABLE_ADDR + mptable_size(MPTABLE_MAX_CPUS) <= BOOT_RESERVED_END);
	assert_int_equal(BOOT_MPTABLE_ADDR % 16, 0); /* paragraph aligned */
}

static void pci_slots_route_inta_to_ioapic_pins_16_to_23(void **state)
{
	uint8_t *buf;
	size_t written;
	struct parsed p;

	buf = write_table(4, BOOT_MPTABLE_ADDR, &written);
	walk_entries(buf + FP_SIZE, &p);
	assert_int_equal(p.pci_slot_pin[0], 0); /* the host bridge has no INTx */
	for (unsigned slot = 1; slot < 32; slot++) {
		assert_int_equal(p.pci_slot_pin[slot], MPTABLE_PCI_INTX_GSI(slot));
		assert_in_range(p.pci_slot_pin[slot], 16, 23);
	}
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(floating_pointer_has_signature_checksum_and_table_address),
		cmocka_unit_test(table_address_follows_gpa_argument),
		cmocka_unit_test(config_table_checksum_covers_whole_table),
		cmocka_unit_test(entry_count_matches_entries_present),
		cmocka_unit_test(one_processor_per_cpu_and_only_cpu0_is_bsp),
		cmocka_unit_test(ioapic_sits_at_platform_address_with_unused_id),
		cmocka_unit_test(every_isa_irq_routes_to_same_ioapic_pin),
		cmocka_unit_test(cpu_counts_zero_and_above_254_are_refused),
		cmocka_unit_test(max_cpus_fit_with_distinct_apic_ids),
		cmocka_unit_test(buffer_one_byte_short_is_refused_untouched),
		cmocka_unit_test(write_stays_inside_reported_size),
		cmocka_unit_test(table_fits_in_reserved_area),
		cmocka_unit_test(pci_slots_route_inta_to_ioapic_pins_16_to_23),
	};
	return cmocka_run_group_tests_name("mptable", tests, NULL, NULL);
}
