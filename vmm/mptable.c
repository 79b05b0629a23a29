#include "vmm/mptable.h"

#include <string.h>

#include "vmm/boot_layout.h"

struct mp_floating_pointer {
	char signature[4]; /* "_MP_" */
	uint32_t config_table;
	uint8_t length; /* in 16-byte units */
	uint8_t spec_rev;
	uint8_t checksum;
	uint8_t feature[5];
} __attribute__((packed));

struct mp_config_header {
	char signature[4]; /* "PCMP" */
	uint16_t length;
	uint8_t spec_rev;
	uint8_t checksum;
	char oem_id[8];
	char product_id[12];
	uint32_t oem_table;
	uint16_t oem_table_size;
	uint16_t entry_count;
	uint32_t lapic_addr;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));

struct mp_processor {
	uint8_t type; /* 0 */
	uint8_t apic_id;
	uint8_t apic_version;
	uint8_t flags;
	uint32_t signature;
	uint32_t features;
	uint32_t reserved[2];
} __attribute__((packed));

struct mp_bus {
	uint8_t type; /* 1 */
	uint8_t bus_id;
	char bus_type[6];
} __attribute__((packed));

struct mp_ioapic {
	uint8_t type; /* 2 */
	uint8_t apic_id;
	uint8_t apic_version;
	uint8_t flags;
	uint32_t addr;
} __attribute__((packed));

struct mp_interrupt {
	uint8_t type; /* 3 = I/O interrupt, 4 = local interrupt */
	uint8_t irq_type;
	uint16_t flags;
	uint8_t src_bus;
	uint8_t src_irq;
	uint8_t dst_apic;
	uint8_t dst_pin;
} __attribute__((packed));

#define MP_SPEC_REV 4
#define MP_CPU_ENABLED 0x01
#define MP_CPU_BOOT 0x02
#define MP_IRQ_INT 0
#define MP_IRQ_NMI 1
#define MP_IRQ_EXTINT 3
#define MP_APIC_ALL 0xff
/* Family 6 CPU with an on-chip FPU and APIC: what the table claims is only
 * a hint; guests read CPUID for the truth. */
#define MP_CPU_SIGNATURE 0x600
#define MP_CPU_FEATURES 0x201
#define MP_LAPIC_VERSION 0x14
#define MP_IOAPIC_VERSION 0x11
#define MP_NR_LOCAL_INTS 2
/* Linux matches PCI interrupt entries by MP bus ID == PCI bus number, so
 * PCI bus 0 is MP bus 0 and ISA takes the next ID. */
#define MP_PCI_BUS_ID 0
#define MP_ISA_BUS_ID 1
#define MP_IRQ_LEVEL_ACTIVE_HIGH 0x0d /* polarity 01, trigger 11 */

size_t mptable_size(unsigned ncpus)
{
	return sizeof(struct mp_floating_pointer) + sizeof(struct mp_config_header) +
	       ncpus * sizeof(struct mp_processor) + 2 * sizeof(struct mp_bus) +
	       sizeof(struct mp_ioapic) +
	       (MPTABLE_ISA_IRQS + MPTABLE_PCI_SLOTS + MP_NR_LOCAL_INTS) *
		       sizeof(struct mp_interrupt);
}

uint8_t mptable_checksum(const uint8_t *bytes, size_t len)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += bytes[i];
	return sum;
}

static uint8_t *mp_put(uint8_t *at, const void *entry, size_t len)
{
	memcpy(at, entry, len);
	return at + len;
}

static uint8_t *mp_put_entries(uint8_t *at, unsigned ncpus)
{
	uint8_t ioapic_id = (uint8_t)ncpus;

	for (unsigned cpu = 0; cpu < ncpus; cpu++) {
		struct mp_processor p = {.type = 0,
					 .apic_id = (uint8_t)cpu,
					 .apic_version = MP_LAPIC_VERSION,
					 .flags = MP_CPU_ENABLED | (cpu == 0 ? MP_CPU_BOOT : 0),
					 .signature = MP_CPU_SIGNATURE,
					 .features = MP_CPU_FEATURES};
		at = mp_put(at, &p, sizeof(p));
	}
	struct mp_bus isa = {
		.type = 1, .bus_id = MP_ISA_BUS_ID, .bus_type = {'I', 'S', 'A', ' ', ' ', ' '}};
	struct mp_bus pci = {
		.type = 1, .bus_id = MP_PCI_BUS_ID, .bus_type = {'P', 'C', 'I', ' ', ' ', ' '}};
	at = mp_put(at, &isa, sizeof(isa));
	at = mp_put(at, &pci, sizeof(pci));
	struct mp_ioapic ioapic = {.type = 2,
				   .apic_id = ioapic_id,
				   .apic_version = MP_IOAPIC_VERSION,
				   .flags = 1,
				   .addr = BOOT_IOAPIC_ADDR};
	at = mp_put(at, &ioapic, sizeof(ioapic));
	/* KVM's default routing wires ISA IRQ n to IOAPIC pin n. */
	for (uint8_t irq = 0; irq < MPTABLE_ISA_IRQS; irq++) {
		struct mp_interrupt i = {.type = 3,
					 .irq_type = MP_IRQ_INT,
					 .src_bus = MP_ISA_BUS_ID,
					 .src_irq = irq,
					 .dst_apic = ioapic_id,
					 .dst_pin = irq};
		at = mp_put(at, &i, sizeof(i));
	}
	/* INTA# of each PCI slot (source IRQ: slot << 2 | pin), level-
	 * triggered; KVM treats a raised line as asserted. */
	for (uint8_t slot = 1; slot <= MPTABLE_PCI_SLOTS; slot++) {
		struct mp_interrupt i = {.type = 3,
					 .irq_type = MP_IRQ_INT,
					 .flags = MP_IRQ_LEVEL_ACTIVE_HIGH,
					 .src_bus = MP_PCI_BUS_ID,
					 .src_irq = (uint8_t)(slot << 2),
					 .dst_apic = ioapic_id,
					 .dst_pin = (uint8_t)MPTABLE_PCI_INTX_GSI(slot)};
		at = mp_put(at, &i, sizeof(i));
	}
	struct mp_interrupt lint0 = {
		.type = 4, .irq_type = MP_IRQ_EXTINT, .dst_apic = MP_APIC_ALL, .dst_pin = 0};
	struct mp_interrupt lint1 = {
		.type = 4, .irq_type = MP_IRQ_NMI, .dst_apic = MP_APIC_ALL, .dst_pin = 1};
	at = mp_put(at, &lint0, sizeof(lint0));
	return mp_put(at, &lint1, sizeof(lint1));
}

size_t mptable_write(uint8_t *buf, size_t buf_size, uint32_t gpa, unsigned ncpus)
{
	size_t total = mptable_size(ncpus);

	if (ncpus == 0 || ncpus > MPTABLE_MAX_CPUS || buf_size < total)
		return 0;
	memset(buf, 0, total);

	struct mp_floating_pointer fp = {
		.signature = {'_', 'M', 'P', '_'},
		.config_table = gpa + (uint32_t)sizeof(fp),
		.length = 1,
		.spec_rev = MP_SPEC_REV,
	};
	uint8_t *header_at = buf + sizeof(fp);
	uint8_t *end = mp_put_entries(header_at + sizeof(struct mp_config_header), ncpus);
	struct mp_config_header header = {
		.signature = {'P', 'C', 'M', 'P'},
		.length = (uint16_t)(end - header_at),
		.spec_rev = MP_SPEC_REV,
		.oem_id = {'S', 'K', 'I', 'F', 'F', ' ', ' ', ' '},
		.product_id = {'S', 'K', 'I', 'F', 'F', '-', 'V', 'M', ' ', ' ', ' ', ' '},
		.entry_count = (uint16_t)(ncpus + 3 + MPTABLE_ISA_IRQS + MPTABLE_PCI_SLOTS +
					  MP_NR_LOCAL_INTS),
		.lapic_addr = BOOT_LAPIC_ADDR,
	};
	memcpy(header_at, &header, sizeof(header));
	header_at[offsetof(struct mp_config_header, checksum)] =
		(uint8_t)-mptable_checksum(header_at, header.length);
	fp.checksum = (uint8_t)-mptable_checksum((const uint8_t *)&fp, sizeof(fp));
	memcpy(buf, &fp, sizeof(fp));
	return total;
}
