#include "arch/paging.h"

#include "arch/cpu.h"
#include "kernel/dma.h"

#define PTE_PRESENT 0x001
#define PTE_WRITE 0x002
#define PTE_PWT 0x008
#define PTE_PCD 0x010
#define PTE_LARGE 0x080
#define PTE_ADDR_MASK 0x000ffffffffff000ULL
#define LARGE_PAGE_SHIFT 21
#define LARGE_PAGE_SIZE (1ULL << LARGE_PAGE_SHIFT)
#define ENTRIES 512
#define TABLE_SIZE 4096

/* Defined in arch/entry.S: pml4, pdpt and 4 contiguous page directories. */
extern uint64_t pml4[ENTRIES];
extern uint64_t pd[4 * ENTRIES];

/* Tables for mappings above 4 GiB (one page directory per GiB touched,
 * one PDPT per 512 GiB) come zeroed from the boot-time allocator, so they
 * cost nothing until a device needs them. */
static uint64_t *table_alloc(void)
{
	return dma_alloc(TABLE_SIZE, TABLE_SIZE);
}

static void flush_page(uint64_t page)
{
	__asm__ volatile("invlpg (%0)" : : "r"(page) : "memory");
}

/* The next-level table an entry points to, created if missing. NULL when
 * the entry maps a large page or there is no memory for a table. */
static uint64_t *next_table(uint64_t *entry)
{
	if (*entry & PTE_PRESENT) {
		if (*entry & PTE_LARGE)
			return NULL;
		return phys_to_virt(*entry & PTE_ADDR_MASK);
	}
	uint64_t *table = table_alloc();
	if (!table)
		return NULL;
	/* The table is complete (all zero) before it becomes reachable. */
	barrier();
	*entry = (uint64_t)table | PTE_PRESENT | PTE_WRITE;
	return table;
}

static bool map_large_page(uint64_t page)
{
	uint64_t *pdpt_table = next_table(&pml4[(page >> 39) & (ENTRIES - 1)]);
	if (!pdpt_table)
		return false;
	uint64_t *pd_table = next_table(&pdpt_table[(page >> 30) & (ENTRIES - 1)]);
	if (!pd_table)
		return false;
	uint64_t *entry = &pd_table[(page >> LARGE_PAGE_SHIFT) & (ENTRIES - 1)];
	*entry = page | PTE_PRESENT | PTE_WRITE | PTE_LARGE | PTE_PCD | PTE_PWT;
	flush_page(page);
	return true;
}

bool paging_map_uncached(uint64_t paddr)
{
	if (paddr >= PAGING_IDENTITY_LIMIT)
		return false;
	uint64_t *entry = &pd[paddr >> LARGE_PAGE_SHIFT];
	*entry |= PTE_PCD | PTE_PWT;
	flush_page(paddr & ~(LARGE_PAGE_SIZE - 1));
	return true;
}

bool paging_map_mmio(uint64_t paddr, uint64_t len)
{
	if (!len || paddr >= PAGING_MMIO_LIMIT || len > PAGING_MMIO_LIMIT - paddr)
		return false;
	uint64_t first = paddr & ~(LARGE_PAGE_SIZE - 1);
	uint64_t last = (paddr + len - 1) & ~(LARGE_PAGE_SIZE - 1);

	for (uint64_t page = first;; page += LARGE_PAGE_SIZE) {
		bool ok = page < PAGING_IDENTITY_LIMIT ? paging_map_uncached(page)
						       : map_large_page(page);
		if (!ok)
			return false;
		if (page == last)
			return true;
	}
}

uint64_t paging_root(void)
{
	return (uint64_t)pml4;
}
