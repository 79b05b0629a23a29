/* The local APIC in xAPIC (MMIO) mode: enabling it, EOI, start-up IPIs and
 * its timer. */
#ifndef GUEST_ARCH_LAPIC_H
#define GUEST_ARCH_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

#define LAPIC_DEFAULT_BASE 0xfee00000U

/* BSP: switches the LAPIC to xAPIC mode at base (from ACPI or the MP
 * table), maps it uncached and enables it. */
void lapic_init_bsp(uint32_t base);
/* AP: enables this CPU's LAPIC (the BSP has already set it up). */
void lapic_init_ap(void);
uint8_t lapic_id(void);
void lapic_eoi(void);

/* INIT, then SIPI with the real-mode start page; false if the ICR never
 * reported the IPI as delivered. */
bool lapic_send_init(uint8_t apic_id);
bool lapic_send_startup(uint8_t apic_id, uint8_t page);

/* Timer, counting at the LAPIC bus clock divided by 16. */
void lapic_timer_start_oneshot(uint32_t count); /* masked: no interrupt */
uint32_t lapic_timer_current(void);
void lapic_timer_start_periodic(uint32_t count, uint8_t vector);
void lapic_timer_stop(void);

#endif
