/* The wired-OR of level-triggered sources on one interrupt pin: the pin
 * behind it (KVM_IRQ_LINE in the VMM) is a fake that records each call. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "devices/irq_wire.h"

#define PIN_GSI 17
#define RACE_ROUNDS 20000

/* The pin as KVM would see it: every call, in order. */
struct fake_pin {
	unsigned calls;
	int level;
	unsigned gsi;
	int repeated; /* a call that did not change the level */
};

static void fake_pin_set(void *ctx, unsigned gsi, int level)
{
	struct fake_pin *pin = ctx;

	if (pin->calls && level == pin->level)
		pin->repeated++;
	pin->calls++;
	pin->level = level;
	pin->gsi = gsi;
}

struct rig {
	struct fake_pin pin;
	struct irq_wire wire;
	struct irq_line a, b;
};

static int rig_setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	irq_wire_init(&r->wire, (struct irq_line){fake_pin_set, &r->pin, PIN_GSI});
	assert_int_equal(irq_wire_add_source(&r->wire, &r->a), 0);
	assert_int_equal(irq_wire_add_source(&r->wire, &r->b), 0);
	*state = r;
	return 0;
}

static int rig_teardown(void **state)
{
	struct rig *r = *state;

	irq_wire_exit(&r->wire);
	free(r);
	return 0;
}

static void one_source_raises_and_lowers_the_pin(void **state)
{
	struct rig *r = *state;

	irq_line_set(&r->a, 1);
	assert_int_equal(r->pin.calls, 1);
	assert_int_equal(r->pin.level, 1);
	assert_int_equal(r->pin.gsi, PIN_GSI);
	irq_line_set(&r->a, 0);
	assert_int_equal(r->pin.calls, 2);
	assert_int_equal(r->pin.level, 0);
}

static void pin_stays_high_while_another_source_still_asserts(void **state)
{
	struct rig *r = *state;

	irq_line_set(&r->a, 1);
	irq_line_set(&r->b, 1);
	irq_line_set(&r->a, 0); /* a's driver acked it; b's has not yet */
	assert_int_equal(r->pin.level, 1);
	assert_int_equal(irq_wire_level(&r->wire), 1);
	assert_int_equal(r->pin.calls, 1);
}

static void pin_goes_low_once_every_source_is_low(void **state)
{
	struct rig *r = *state;

	irq_line_set(&r->a, 1);
	irq_line_set(&r->b, 1);
	irq_line_set(&r->b, 0);
	irq_line_set(&r->a, 0);
	assert_int_equal(r->pin.level, 0);
	assert_int_equal(irq_wire_level(&r->wire), 0);
	assert_int_equal(r->pin.calls, 2);
}

static void pin_is_driven_only_when_the_or_changes(void **state)
{
	struct rig *r = *state;

	irq_line_set(&r->a, 0); /* already low: an ISR read with nothing pending */
	assert_int_equal(r->pin.calls, 0);
	irq_line_set(&r->a, 1);
	irq_line_set(&r->a, 1);
	irq_line_set(&r->b, 1);
	assert_int_equal(r->pin.calls, 1);
	irq_line_set(&r->b, 0);
	irq_line_set(&r->b, 0);
	assert_int_equal(r->pin.calls, 1);
	irq_line_set(&r->a, 0);
	irq_line_set(&r->a, 0);
	assert_int_equal(r->pin.calls, 2);
	assert_int_equal(r->pin.repeated, 0);
}

static void sources_are_distinct_lines_on_the_pins_gsi(void **state)
{
	struct rig *r = *state;

	assert_ptr_equal(r->a.set_level, r->b.set_level);
	assert_ptr_not_equal(r->a.ctx, r->b.ctx);
	assert_int_equal(r->a.gsi, PIN_GSI);
	assert_int_equal(r->b.gsi, PIN_GSI);
}

static void a_full_wire_refuses_another_source(void **state)
{
	struct rig *r = *state;
	struct irq_line line = {0}, last = {0};

	for (unsigned i = 2; i < IRQ_WIRE_MAX_SOURCES; i++)
		assert_int_equal(irq_wire_add_source(&r->wire, &last), 0);
	assert_int_equal(irq_wire_add_source(&r->wire, &line), -ENOSPC);
	assert_null(line.set_level);
	/* The last source still works, and alone raises the pin. */
	irq_line_set(&last, 1);
	assert_int_equal(r->pin.level, 1);
	irq_line_set(&last, 0);
	assert_int_equal(r->pin.level, 0);
}

struct toggler {
	const struct irq_line *line;
	pthread_barrier_t *start;
};

static void *toggle(void *arg)
{
	struct toggler *t = arg;

	pthread_barrier_wait(t->start);
	for (unsigned i = 0; i < RACE_ROUNDS; i++) {
		irq_line_set(t->line, 1);
		irq_line_set(t->line, 0);
	}
	return NULL;
}

/* The I/O thread and a vCPU thread drive their sources at once: the pin
 * only ever sees changes, and ends low once both lowered theirs. */
static void sources_on_two_threads_leave_the_pin_consistent(void **state)
{
	struct rig *r = *state;
	pthread_barrier_t start;
	pthread_t ta, tb;
	struct toggler a = {&r->a, &start}, b = {&r->b, &start};

	pthread_barrier_init(&start, NULL, 2);
	assert_int_equal(pthread_create(&ta, NULL, toggle, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, toggle, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	pthread_barrier_destroy(&start);
	assert_int_equal(r->pin.repeated, 0);
	assert_int_equal(r->pin.level, 0);
	assert_int_equal(r->pin.calls % 2, 0);
	assert_true(r->pin.calls >= 2 && r->pin.calls <= 4 * RACE_ROUNDS);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, rig_setup, rig_teardown)
	const struct CMUnitTest tests[] = {
		T(one_source_raises_and_lowers_the_pin),
		T(pin_stays_high_while_another_source_still_asserts),
		T(pin_goes_low_once_every_source_is_low),
		T(pin_is_driven_only_when_the_or_changes),
		T(sources_are_distinct_lines_on_the_pins_gsi),
		T(a_full_wire_refuses_another_source),
		T(sources_on_two_threads_leave_the_pin_consistent),
	};
	return cmocka_run_group_tests_name("irq_wire", tests, NULL, NULL);
}
