/* The 8254 programmable interval timer, used only as a reference clock to
 * calibrate the TSC and the LAPIC timer: a channel is run as a one-shot
 * (mode 0), whose output goes high when the count runs out. */
#ifndef GUEST_DRIVERS_PIT_H
#define GUEST_DRIVERS_PIT_H

#include <stdbool.h>
#include <stdint.h>

#define PIT_HZ 1193182

/* One way to run and watch a one-shot. prepare programs everything but the
 * count's high byte; start writes it, which starts the count (pass the same
 * count to both), so the caller can time exactly that write. expired says
 * whether the output is high: reading it high right after start means the
 * output cannot be seen. */
struct pit_oneshot {
	const char *name;
	void (*prepare)(uint16_t count);
	void (*start)(uint16_t count);
	bool (*expired)(void);
	void (*stop)(void);
};

/* Channel 2, gated and watched through port 0x61 (what PCs and KVM's
 * in-kernel PIT provide). */
extern const struct pit_oneshot pit_channel2;
/* Channel 0, watched with the read-back status command: for machines
 * without port 0x61 (QEMU's microvm). Its IRQ 0 stays masked. */
extern const struct pit_oneshot pit_channel0;

#endif
