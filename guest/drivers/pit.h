/* The 8254 programmable interval timer, used only as a reference clock to
 * calibrate the TSC and the LAPIC timer. */
#ifndef GUEST_DRIVERS_PIT_H
#define GUEST_DRIVERS_PIT_H

#include <stdbool.h>
#include <stdint.h>

#define PIT_HZ 1193182

/* Channel 2 one-shot (mode 0), observed through port 0x61: starts counting
 * down count ticks now. */
void pit_ch2_start_oneshot(uint16_t count);
/* OUT2 went high: the count has run out. Reading it high right after the
 * start means there is no usable port 0x61 (QEMU's microvm has none). */
bool pit_ch2_expired(void);
/* Gate off, speaker off. */
void pit_ch2_stop(void);

/* Channel 0 as a free-running 16-bit down counter (its IRQ 0 stays masked
 * everywhere), read back with the latch command. The fallback when channel
 * 2's gate and output are not reachable. */
void pit_ch0_start_free_running(void);
uint16_t pit_ch0_read(void);

#endif
