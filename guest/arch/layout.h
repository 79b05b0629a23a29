/* Constants shared by the assembly and C halves of the guest: segment
 * selectors, where things live in physical memory, interrupt vectors.
 * Only #defines here: this header is included from .S files. */
#ifndef GUEST_ARCH_LAYOUT_H
#define GUEST_ARCH_LAYOUT_H

/* GDT selectors (arch/entry.S builds the table). */
#define GDT_CODE32 0x08
#define GDT_DATA 0x10
#define GDT_CODE64 0x18
#define GDT_ENTRIES 4
#define GDT_LIMIT (GDT_ENTRIES * 8 - 1)

/* The AP start-up trampoline is copied here. It must be page aligned and
 * below 1 MiB (the SIPI vector is the page number); 0x500-0x7fff is left
 * alone because VMMs put their boot data (GDT, start_info, command line,
 * memory map) there. */
#define TRAMPOLINE_ADDR 0x8000
#define TRAMPOLINE_SIPI_VECTOR (TRAMPOLINE_ADDR >> 12)
#define TRAMPOLINE_MAX_SIZE 0x1000

#define MAX_CPUS 64
#define STACK_SIZE 0x4000 /* per CPU, in .bss */

/* Control register and MSR bits. */
#define CR0_PE 0x00000001
#define CR0_WP 0x00010000
#define CR0_PG 0x80000000
#define CR4_PAE 0x00000020
#define MSR_EFER 0xc0000080
#define EFER_LME 0x00000100
#define EFER_NXE 0x00000800

/* Interrupt vectors. */
#define VECTOR_PIC_BASE 0x20	 /* 0x20-0x2f: the masked 8259s, remapped out of the way */
#define VECTOR_ISA_IRQ_BASE 0x30 /* 0x30-0x3f: ISA IRQ n via the IOAPIC is 0x30 + n */
#define VECTOR_LAPIC_TIMER 0x40
#define VECTOR_MSI_BASE 0x50 /* 0x50-0x8f: MSI-X vectors, handed out by drivers/virtio_pci.c */
#define VECTOR_MSI_COUNT 64
#define VECTOR_LAPIC_ERROR 0xfe
#define VECTOR_SPURIOUS 0xff
#define NR_VECTORS 256
#define ISR_STUB_SIZE 16 /* arch/isr.S aligns each vector's stub to this */

#endif
