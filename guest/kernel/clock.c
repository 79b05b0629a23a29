#include "kernel/clock.h"

#include <stdbool.h>

#include "arch/cpu.h"
#include "arch/interrupts.h"
#include "arch/lapic.h"
#include "arch/layout.h"
#include "drivers/pit.h"

/* 50 ms per measurement, repeated and the median kept: a vCPU descheduled
 * by a busy host (likely when nested under emulation) spoils one window,
 * not the result. */
#define CALIBRATION_MS 50
#define CALIBRATION_PIT_TICKS (PIT_HZ * CALIBRATION_MS / 1000)
#define CALIBRATION_RUNS 3
/* Bounds on a window that never ends (no PIT at all): ~17 G TSC cycles,
 * many seconds on any CPU that can run this, or this many port reads. */
#define CALIBRATION_TSC_LIMIT (1ULL << 34)
#define CALIBRATION_POLL_LIMIT 20000000L
/* Used only when nothing could be measured. */
#define FALLBACK_TSC_HZ 1000000000ULL
#define FALLBACK_LAPIC_HZ 62500000ULL /* QEMU's and KVM's 1 GHz bus / 16 */

struct window {
	uint64_t tsc_cycles;
	uint32_t lapic_counts;
};

static uint64_t tsc_hz, lapic_hz, tsc_start;
static const char *reference = "none";
static volatile uint64_t ticks;

static bool window_timed_out(uint64_t tsc0, long polls)
{
	return rdtsc() - tsc0 > CALIBRATION_TSC_LIMIT || polls > CALIBRATION_POLL_LIMIT;
}

/* One window on PIT channel 2 (mode 0, OUT2 on port 0x61). */
static bool measure_with_ch2(struct window *w)
{
	lapic_timer_start_oneshot(UINT32_MAX);
	pit_ch2_start_oneshot(CALIBRATION_PIT_TICKS);
	uint64_t tsc0 = rdtsc();
	uint32_t lapic0 = lapic_timer_current();
	/* Mode 0 drives OUT2 low when programmed: high now means port 0x61
	 * does not reach a PIT. */
	if (pit_ch2_expired())
		return false;
	for (long polls = 0; !pit_ch2_expired(); polls++) {
		if (window_timed_out(tsc0, polls))
			return false;
	}
	w->tsc_cycles = rdtsc() - tsc0;
	w->lapic_counts = lapic0 - lapic_timer_current();
	pit_ch2_stop();
	return true;
}

/* One window on PIT channel 0, counting its ticks by reading it back. */
static bool measure_with_ch0(struct window *w)
{
	pit_ch0_start_free_running();
	lapic_timer_start_oneshot(UINT32_MAX);
	uint16_t prev = pit_ch0_read();
	uint64_t tsc0 = rdtsc();
	uint32_t lapic0 = lapic_timer_current();
	uint32_t elapsed = 0;

	for (long polls = 0; elapsed < CALIBRATION_PIT_TICKS; polls++) {
		uint16_t now = pit_ch0_read();
		elapsed += (uint16_t)(prev - now); /* counts down, wraps at 16 bits */
		prev = now;
		if (window_timed_out(tsc0, polls))
			return false;
	}
	w->tsc_cycles = rdtsc() - tsc0;
	w->lapic_counts = lapic0 - lapic_timer_current();
	/* Scale to the ticks actually seen: the last poll may overshoot. */
	w->tsc_cycles = w->tsc_cycles * CALIBRATION_PIT_TICKS / elapsed;
	w->lapic_counts = (uint32_t)((uint64_t)w->lapic_counts * CALIBRATION_PIT_TICKS / elapsed);
	return true;
}

static uint64_t median3(uint64_t a, uint64_t b, uint64_t c)
{
	if (a > b) {
		uint64_t t = a;
		a = b;
		b = t;
	}
	if (b > c)
		b = c;
	return a > b ? a : b;
}

static bool calibrate_with(bool (*measure)(struct window *))
{
	struct window w[CALIBRATION_RUNS];

	for (int i = 0; i < CALIBRATION_RUNS; i++) {
		if (!measure(&w[i]))
			return false;
	}
	uint64_t cycles = median3(w[0].tsc_cycles, w[1].tsc_cycles, w[2].tsc_cycles);
	uint64_t counts = median3(w[0].lapic_counts, w[1].lapic_counts, w[2].lapic_counts);
	tsc_hz = cycles * PIT_HZ / CALIBRATION_PIT_TICKS;
	lapic_hz = counts * PIT_HZ / CALIBRATION_PIT_TICKS;
	return tsc_hz && lapic_hz;
}

void clock_mark_boot(void)
{
	tsc_start = rdtsc();
}

void clock_calibrate(void)
{
	if (calibrate_with(measure_with_ch2)) {
		reference = "PIT channel 2";
	} else if (calibrate_with(measure_with_ch0)) {
		reference = "PIT channel 0";
	} else {
		reference = "nothing (guessed)";
		tsc_hz = FALLBACK_TSC_HZ;
		lapic_hz = FALLBACK_LAPIC_HZ;
	}
	lapic_timer_stop();
}

static void clock_tick_interrupt(struct interrupt_frame *frame)
{
	(void)frame;
	ticks++;
}

void clock_start_tick(void)
{
	interrupt_register(VECTOR_LAPIC_TIMER, clock_tick_interrupt, "lapic timer");
	lapic_timer_start_periodic((uint32_t)(lapic_hz / CLOCK_TICK_HZ), VECTOR_LAPIC_TIMER);
}

uint64_t clock_ns(void)
{
	uint64_t cycles = rdtsc() - tsc_start;

	if (!tsc_hz)
		return 0;
	/* Split so cycles * 10^9 cannot overflow 64 bits. */
	return cycles / tsc_hz * 1000000000ULL + cycles % tsc_hz * 1000000000ULL / tsc_hz;
}

uint64_t clock_ticks(void)
{
	return ticks;
}

void clock_delay_us(uint64_t us)
{
	uint64_t end = clock_ns() + us * 1000;

	while (clock_ns() < end)
		cpu_relax();
}

uint64_t clock_tsc_hz(void)
{
	return tsc_hz;
}

uint64_t clock_lapic_timer_hz(void)
{
	return lapic_hz;
}

const char *clock_reference(void)
{
	return reference;
}
