#include "kernel/clock.h"

#include <stdbool.h>

#include "arch/cpu.h"
#include "arch/interrupts.h"
#include "arch/lapic.h"
#include "arch/layout.h"
#include "drivers/pit.h"

/* Calibration measures windows of about 50 ms of PIT time in TSC cycles
 * and LAPIC timer counts. A vCPU can stall for a long time at any moment
 * (a busy host, or one that is itself emulated), so every reading of the
 * PIT or the LAPIC is bracketed by two TSC reads: the bracket's width is
 * the reading's uncertainty. Windows with too much uncertainty are thrown
 * away, and the median of the good ones is kept. */
#define CALIBRATION_MS 50
#define CALIBRATION_PIT_TICKS (PIT_HZ * CALIBRATION_MS / 1000)
#define CALIBRATION_WANTED 3 /* good windows */
#define CALIBRATION_MAX_TRIES 25
#define CALIBRATION_MAX_ERROR_PPM 5000 /* 0.5% */
#define CALIBRATION_MISSING_LIMIT 3
/* Bounds on a window that never ends (no PIT at all): ~17 G TSC cycles,
 * many seconds on any CPU that can run this, or this many polls. */
#define CALIBRATION_TSC_LIMIT (1ULL << 34)
#define CALIBRATION_POLL_LIMIT 20000000L
/* Used only when nothing could be measured. */
#define FALLBACK_TSC_HZ 1000000000ULL
#define FALLBACK_LAPIC_HZ 62500000ULL /* QEMU's and KVM's 1 GHz bus / 16 */

/* A TSC timestamp known to within +-error cycles. */
struct stamp {
	uint64_t tsc;
	uint64_t error;
};

struct window {
	uint64_t tsc_cycles; /* for CALIBRATION_PIT_TICKS */
	uint64_t tsc_error;
	uint32_t lapic_counts; /* over lapic_tsc_cycles */
	uint64_t lapic_tsc_cycles;
	uint64_t lapic_tsc_error;
};

enum window_result { WINDOW_OK, WINDOW_NO_REFERENCE };

static uint64_t tsc_hz, lapic_hz, tsc_start;
static const char *reference = "none";
static volatile uint64_t ticks;

static struct stamp stamp_between(uint64_t before, uint64_t after)
{
	return (struct stamp){before + (after - before) / 2, (after - before) / 2 + 1};
}

static struct stamp lapic_sample(uint32_t *count)
{
	uint64_t before = rdtsc();
	*count = lapic_timer_current();
	return stamp_between(before, rdtsc());
}

static bool window_timed_out(uint64_t tsc0, long polls)
{
	return rdtsc() - tsc0 > CALIBRATION_TSC_LIMIT || polls > CALIBRATION_POLL_LIMIT;
}

/* One window: from loading the PIT count to its output going high. The
 * end lies between the last poll that saw the output low and the first
 * that saw it high. */
static enum window_result measure_window(const struct pit_oneshot *pit, struct window *w)
{
	uint32_t lapic0, lapic1;

	lapic_timer_start_oneshot(UINT32_MAX);
	pit->prepare(CALIBRATION_PIT_TICKS);
	uint64_t before = rdtsc();
	pit->start(CALIBRATION_PIT_TICKS);
	struct stamp start = stamp_between(before, rdtsc());
	struct stamp lapic_start = lapic_sample(&lapic0);

	/* Mode 0 drives the output low when programmed: high now means we
	 * cannot see it (or this vCPU stalled for the whole window). */
	uint64_t last_low = rdtsc();
	if (pit->expired())
		return WINDOW_NO_REFERENCE;
	for (long polls = 0;; polls++) {
		uint64_t poll = rdtsc();
		if (pit->expired())
			break;
		last_low = poll;
		if (window_timed_out(start.tsc, polls))
			return WINDOW_NO_REFERENCE;
	}
	struct stamp end = stamp_between(last_low, rdtsc());
	struct stamp lapic_end = lapic_sample(&lapic1);
	pit->stop();

	w->tsc_cycles = end.tsc - start.tsc;
	w->tsc_error = start.error + end.error;
	w->lapic_counts = lapic0 - lapic1;
	w->lapic_tsc_cycles = lapic_end.tsc - lapic_start.tsc;
	w->lapic_tsc_error = lapic_start.error + lapic_end.error;
	return WINDOW_OK;
}

static bool error_small(uint64_t error, uint64_t span)
{
	return span && error * 1000000 / span <= CALIBRATION_MAX_ERROR_PPM;
}

static uint64_t window_tsc_hz(const struct window *w)
{
	return w->tsc_cycles * PIT_HZ / CALIBRATION_PIT_TICKS;
}

static uint64_t window_lapic_hz(const struct window *w)
{
	return w->lapic_tsc_cycles ? w->lapic_counts * window_tsc_hz(w) / w->lapic_tsc_cycles : 0;
}

static uint64_t median(uint64_t *v, unsigned n)
{
	for (unsigned i = 1; i < n; i++) {
		for (unsigned j = i; j > 0 && v[j - 1] > v[j]; j--) {
			uint64_t t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	}
	return v[n / 2];
}

/* Collects good windows on pit; if none is good enough, settles for
 * the least uncertain one. false when the reference is missing. */
static bool calibrate_with(const struct pit_oneshot *pit)
{
	uint64_t tsc_rates[CALIBRATION_WANTED], lapic_rates[CALIBRATION_WANTED];
	unsigned good = 0;
	struct window best = {0}, w;
	uint64_t best_ppm = UINT64_MAX;

	unsigned missing = 0;

	for (int tries = 0; tries < CALIBRATION_MAX_TRIES && good < CALIBRATION_WANTED; tries++) {
		enum window_result r = measure_window(pit, &w);
		/* Once could be a stall; three times running, it is not there. */
		if (r == WINDOW_NO_REFERENCE && ++missing == CALIBRATION_MISSING_LIMIT)
			return false;
		if (r != WINDOW_OK || !w.tsc_cycles)
			continue;
		missing = 0;
		uint64_t ppm = w.tsc_error * 1000000 / w.tsc_cycles;
		if (ppm < best_ppm) {
			best_ppm = ppm;
			best = w;
		}
		if (error_small(w.tsc_error, w.tsc_cycles) &&
		    error_small(w.lapic_tsc_error, w.lapic_tsc_cycles)) {
			tsc_rates[good] = window_tsc_hz(&w);
			lapic_rates[good] = window_lapic_hz(&w);
			good++;
		}
	}
	if (good) {
		tsc_hz = median(tsc_rates, good);
		lapic_hz = median(lapic_rates, good);
	} else if (best.tsc_cycles) {
		tsc_hz = window_tsc_hz(&best);
		lapic_hz = window_lapic_hz(&best);
	}
	return tsc_hz && lapic_hz;
}

void clock_mark_boot(void)
{
	tsc_start = rdtsc();
}

void clock_calibrate(void)
{
	if (calibrate_with(&pit_channel2)) {
		reference = pit_channel2.name;
	} else if (calibrate_with(&pit_channel0)) {
		reference = pit_channel0.name;
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
	if (!tsc_hz)
		return; /* not calibrated: clock_ns() would stay 0 */
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
