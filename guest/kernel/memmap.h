/* Questions about the memory map captured in bootinfo. */
#ifndef GUEST_KERNEL_MEMMAP_H
#define GUEST_KERNEL_MEMMAP_H

#include <stdint.h>

/* Sum of the RAM entries, in bytes. */
uint64_t memmap_ram_bytes(void);
/* "usable", "reserved", "acpi", "nvs", "unusable", "pmem" or "type-N"
 * (formatted into buf, which needs 16 bytes, for unknown types). */
const char *memmap_type_name(uint32_t type, char *buf, unsigned size);

#endif
