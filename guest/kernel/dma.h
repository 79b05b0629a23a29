/* Memory that devices read and write (virtqueues, request headers, packet
 * buffers): a bump allocator over the RAM just above the kernel image.
 * Everything is identity-mapped, so a pointer is also the address the
 * device uses. Nothing is ever freed: drivers allocate once, at init. */
#ifndef GUEST_KERNEL_DMA_H
#define GUEST_KERNEL_DMA_H

#include <stddef.h>
#include <stdint.h>

#define DMA_POOL_MAX (2 * 1024 * 1024)

/* Finds the pool in the memory map: up to DMA_POOL_MAX bytes of the usable
 * RAM entry that holds the end of the kernel, below 4 GiB. */
void dma_init(void);
/* size bytes, zeroed, aligned to align (a power of two); NULL when the pool
 * is used up or was never found. Touches only what it hands out. */
void *dma_alloc(size_t size, size_t align);
/* The physical address a device needs for p (the identity map). */
static inline uint64_t dma_addr(const volatile void *p)
{
	return (uint64_t)(uintptr_t)p;
}
size_t dma_used(void);
size_t dma_size(void);

#endif
