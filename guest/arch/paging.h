/* The page tables arch/entry.S builds: the first 4 GiB identity-mapped with
 * 2 MiB pages, write-back cached. Device registers need their pages made
 * uncached before use. */
#ifndef GUEST_ARCH_PAGING_H
#define GUEST_ARCH_PAGING_H

#include <stdbool.h>
#include <stdint.h>

#define PAGING_IDENTITY_LIMIT 0x100000000ULL /* everything below is mapped */
#define PAGING_LEVELS 4

/* Makes the 2 MiB page holding paddr uncached (PCD|PWT) on every CPU that
 * later loads these tables; call before starting APs. false when paddr is
 * not mapped. */
bool paging_map_uncached(uint64_t paddr);
/* The physical address of the top-level table, for CR3 on the APs. */
uint64_t paging_root(void);

#endif
