/* Guest RAM: one memfd, mapped once in the VMM, split into the regions the
 * guest sees on either side of the 32-bit MMIO hole. */
#ifndef SKIFF_MM_GUEST_MEM_H
#define SKIFF_MM_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_PAGE_SIZE 4096ULL
#define GUEST_MIB (1ULL << 20)
#define GUEST_GIB (1ULL << 30)

/* RAM below 4 GiB stops here; the rest (PCI hole, IOAPIC, LAPIC) is MMIO. */
#define GUEST_MMIO_HOLE_START 0xC0000000ULL
#define GUEST_HIGH_RAM_START 0x100000000ULL

#define GUEST_MEM_MIN_SIZE (8 * GUEST_MIB)
#define GUEST_MEM_MAX_REGIONS 2

struct guest_mem_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t memfd_offset; /* where this region's bytes live in the memfd */
	uint8_t *hva;
};

struct guest_mem {
	int memfd;
	uint64_t ram_size;
	uint8_t *mapping; /* the whole memfd, ram_size bytes */
	unsigned nr_regions;
	struct guest_mem_region regions[GUEST_MEM_MAX_REGIONS];
};

/* Splits ram_size bytes of RAM around the MMIO hole. Pure: no allocation. */
unsigned guest_mem_layout(uint64_t ram_size,
			  struct guest_mem_region regions[GUEST_MEM_MAX_REGIONS]);

/* Creates the memfd and maps it. Returns 0 or a negative errno. */
int guest_mem_init(struct guest_mem *mem, uint64_t ram_size);
void guest_mem_destroy(struct guest_mem *mem);

/* The one checked way to reach guest memory: a host pointer to [gpa, gpa+len)
 * when the whole range lies inside one RAM region, NULL otherwise (including
 * on arithmetic overflow). */
void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* Copies into / out of guest memory; false when the range is not RAM. */
bool guest_mem_write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len);
bool guest_mem_read(const struct guest_mem *mem, uint64_t gpa, void *dst, uint64_t len);

#endif
