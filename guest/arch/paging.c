#include "arch/paging.h"

#define PTE_PWT 0x008
#define PTE_PCD 0x010
#define LARGE_PAGE_SHIFT 21

/* Defined in arch/entry.S: pml4, pdpt and 4 contiguous page directories. */
extern uint64_t pml4[512];
extern uint64_t pd[4 * 512];

bool paging_map_uncached(uint64_t paddr)
{
	if (paddr >= PAGING_IDENTITY_LIMIT)
		return false;
	uint64_t *entry = &pd[paddr >> LARGE_PAGE_SHIFT];
	*entry |= PTE_PCD | PTE_PWT;
	uint64_t page = paddr & ~((1ULL << LARGE_PAGE_SHIFT) - 1);
	__asm__ volatile("invlpg (%0)" : : "r"(page) : "memory");
	return true;
}

uint64_t paging_root(void)
{
	return (uint64_t)pml4;
}
