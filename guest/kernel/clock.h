/* Time: the TSC and the LAPIC timer, both calibrated against the PIT.
 * The TSC gives fine-grained time (uptime, delays); the LAPIC timer gives
 * a periodic tick on the BSP that also wakes the idle loop. */
#ifndef GUEST_KERNEL_CLOCK_H
#define GUEST_KERNEL_CLOCK_H

#include <stdint.h>

#define CLOCK_TICK_HZ 100

/* Notes the TSC at boot, the zero of clock_ns. First thing in kernel_main. */
void clock_mark_boot(void);
/* Measures the TSC and LAPIC timer rates; needs the LAPIC enabled. */
void clock_calibrate(void);
/* Starts the periodic CLOCK_TICK_HZ LAPIC timer interrupt on this CPU. */
void clock_start_tick(void);

/* Nanoseconds since clock_mark_boot (0 before calibration). */
uint64_t clock_ns(void);
uint64_t clock_ticks(void);
void clock_delay_us(uint64_t us);

uint64_t clock_tsc_hz(void);
uint64_t clock_lapic_timer_hz(void); /* after the divide-by-16 */
/* How the rates were measured, for the boot log. */
const char *clock_reference(void);

#endif
