/* Where Skiff puts boot data in guest-physical memory. The bundled guest's
 * SMP trampoline sits at 0x8000, so everything here stays below it or in the
 * reserved area under 1 MiB. docs/architecture.md has the picture. */
#ifndef SKIFF_VMM_BOOT_LAYOUT_H
#define SKIFF_VMM_BOOT_LAYOUT_H

#define BOOT_GDT_ADDR 0x500ULL
#define BOOT_START_INFO_ADDR 0x6000ULL
#define BOOT_MEMMAP_ADDR 0x6040ULL
#define BOOT_MEMMAP_MAX_ENTRIES 16
#define BOOT_CMDLINE_ADDR 0x7000ULL
#define BOOT_CMDLINE_MAX 4096 /* bytes including the terminating NUL */

/* 0x9fc00-0xfffff is reserved in the memory map: the last KiB of base
 * memory (where guests look for the MP floating pointer) plus the legacy
 * VGA/BIOS area. */
#define BOOT_RESERVED_START 0x9fc00ULL
#define BOOT_RESERVED_END 0x100000ULL
#define BOOT_MPTABLE_ADDR BOOT_RESERVED_START

/* Kernels load at or above 1 MiB. */
#define BOOT_KERNEL_MIN_ADDR 0x100000ULL

#define BOOT_LAPIC_ADDR 0xfee00000U
#define BOOT_IOAPIC_ADDR 0xfec00000U

#endif
