/* The page tables arch/entry.S builds: the first 4 GiB identity-mapped with
 * 2 MiB pages, write-back cached. Device registers need their pages made
 * uncached before use; device registers above 4 GiB (64-bit PCI BARs) get
 * mapped on demand, also identity (virtual = physical). */
#ifndef GUEST_ARCH_PAGING_H
#define GUEST_ARCH_PAGING_H

#include <stdbool.h>
#include <stdint.h>

#define PAGING_IDENTITY_LIMIT 0x100000000ULL /* everything below is mapped */
#define PAGING_LEVELS 4
/* paging_map_mmio maps nothing at or above this (64 TiB): it keeps the
 * identity mapping inside the canonical lower half, and leaves the
 * addresses above it unmapped for good (the fault command reads there). */
#define PAGING_MMIO_LIMIT (1ULL << 46)

/* Makes the 2 MiB page holding paddr uncached (PCD|PWT) on every CPU that
 * later loads these tables; call before starting APs. false when paddr is
 * not mapped. */
bool paging_map_uncached(uint64_t paddr);
/* Maps [paddr, paddr + len) uncached, virtual = physical, in 2 MiB pages:
 * below 4 GiB by marking the existing pages uncached, above by adding
 * page tables (from dma_alloc, so after dma_init). false when the range
 * wraps, reaches PAGING_MMIO_LIMIT or there is no memory for tables. BSP
 * only. */
bool paging_map_mmio(uint64_t paddr, uint64_t len);
/* The physical address of the top-level table, for CR3 on the APs. */
uint64_t paging_root(void);

#endif
