#include "kernel/dma.h"

#include "arch/paging.h"
#include "kernel/bootinfo.h"
#include "lib/string.h"

#define PAGE_SIZE 4096ULL

extern const char __kernel_end[]; /* linker.ld */

static uint64_t pool_start, pool_end, pool_next;

void dma_init(void)
{
	uint64_t start = ((uint64_t)__kernel_end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);

	for (unsigned i = 0; i < bootinfo.nr_memmap; i++) {
		const struct memmap_entry *e = &bootinfo.memmap[i];
		if (e->type != MEMMAP_RAM || start < e->addr || start - e->addr >= e->size)
			continue;
		uint64_t end = e->addr + e->size;
		if (end > PAGING_IDENTITY_LIMIT)
			end = PAGING_IDENTITY_LIMIT;
		if (end - start > DMA_POOL_MAX)
			end = start + DMA_POOL_MAX;
		pool_start = pool_next = start;
		pool_end = end;
		return;
	}
}

void *dma_alloc(size_t size, size_t align)
{
	if (!align || (align & (align - 1)))
		return NULL;
	uint64_t p = (pool_next + align - 1) & ~(uint64_t)(align - 1);
	if (!pool_end || p < pool_next || p > pool_end || size > pool_end - p)
		return NULL;
	pool_next = p + size;
	void *mem = (void *)(uintptr_t)p;
	memset(mem, 0, size);
	return mem;
}

size_t dma_used(void)
{
	return (size_t)(pool_next - pool_start);
}

size_t dma_size(void)
{
	return (size_t)(pool_end - pool_start);
}
