/* The I/O thread's loop as a VM without virtio devices has it: never set
 * up, so no io_uring is asked for; and one that is set up, driving a
 * watch. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/ioloop.h"

/* The state vm_create leaves it in. */
static void loop_never_set_up(struct ioloop *loop)
{
	memset(loop, 0, sizeof(*loop));
	loop->stop_fd = -1;
}

static void count_call(void *opaque)
{
	__atomic_add_fetch((unsigned *)opaque, 1, __ATOMIC_RELEASE);
}

static void signal_eventfd(int fd)
{
	uint64_t one = 1;

	assert_int_equal(write(fd, &one, sizeof(one)), sizeof(one));
}

static void a_loop_never_set_up_refuses_watches_and_starts_no_thread(void **state)
{
	struct ioloop loop;
	unsigned calls = 0;
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	loop_never_set_up(&loop);
	assert_int_equal(ioloop_watch_eventfd(&loop, fd, count_call, &calls), -ENXIO);
	assert_int_equal(ioloop_watch_fd(&loop, fd, count_call, &calls), -ENXIO);
	assert_int_equal(ioloop_start(&loop), 0);
	assert_false(loop.thread_started);
	ioloop_stop(&loop);
	ioloop_destroy(&loop);
	close(fd);
}

static void a_watch_runs_on_the_thread_once_set_up(void **state)
{
	struct ioloop loop;
	unsigned calls = 0;
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	assert_int_equal(ioloop_init(&loop), 0);
	assert_int_equal(ioloop_watch_eventfd(&loop, fd, count_call, &calls), 0);
	assert_int_equal(ioloop_start(&loop), 0);
	assert_int_equal(ioloop_watch_eventfd(&loop, fd, count_call, &calls), -EBUSY);
	signal_eventfd(fd);
	for (int i = 0; i < 2000 && !__atomic_load_n(&calls, __ATOMIC_ACQUIRE); i++)
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
	assert_int_equal(__atomic_load_n(&calls, __ATOMIC_ACQUIRE), 1);
	ioloop_destroy(&loop);
	close(fd);
}

/* A device's pattern: on a kick, queue operations on the ring; their
 * completions come back on the same thread without another kick. */
#define BURST_OPS 8

struct nop_op {
	struct ioloop_op op; /* first: the loop hands back &op */
	struct nop_burst *burst;
};

struct nop_burst {
	struct ioloop *loop;
	struct nop_op ops[BURST_OPS];
	unsigned done;
	pthread_t queued_on;
	bool done_elsewhere;
};

static void nop_done(struct ioloop_op *op, int res)
{
	struct nop_burst *b = ((struct nop_op *)op)->burst;

	b->done_elsewhere |= res != 0 || !pthread_equal(pthread_self(), b->queued_on);
	__atomic_add_fetch(&b->done, 1, __ATOMIC_RELEASE);
}

static void queue_nops(void *opaque)
{
	struct nop_burst *b = opaque;

	b->queued_on = pthread_self();
	for (unsigned i = 0; i < BURST_OPS; i++) {
		struct io_uring_sqe *sqe = ioloop_prep(b->loop, &b->ops[i].op);
		if (sqe)
			io_uring_prep_nop(sqe);
	}
}

static void operations_queued_by_a_callback_complete_on_the_io_thread(void **state)
{
	struct ioloop loop;
	struct nop_burst burst = {.loop = &loop};
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	for (unsigned i = 0; i < BURST_OPS; i++)
		burst.ops[i] = (struct nop_op){{nop_done}, &burst};
	assert_int_equal(ioloop_init(&loop), 0);
	assert_int_equal(ioloop_watch_eventfd(&loop, fd, queue_nops, &burst), 0);
	assert_int_equal(ioloop_start(&loop), 0);
	signal_eventfd(fd);
	for (int i = 0; i < 2000 && __atomic_load_n(&burst.done, __ATOMIC_ACQUIRE) < BURST_OPS; i++)
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
	assert_int_equal(__atomic_load_n(&burst.done, __ATOMIC_ACQUIRE), BURST_OPS);
	assert_false(burst.done_elsewhere);
	ioloop_destroy(&loop);
	close(fd);
}

/* A poller that asks to be called again a set number of times, napping
 * or spinning, and counts its calls. */
struct counting_poller {
	int ask;
	unsigned asks_left;
	unsigned calls;
};

static int count_polls(void *opaque)
{
	struct counting_poller *p = opaque;

	__atomic_add_fetch(&p->calls, 1, __ATOMIC_RELEASE);
	if (!p->asks_left)
		return IOLOOP_POLL_IDLE;
	p->asks_left--;
	return p->ask;
}

static unsigned polls(struct counting_poller *p)
{
	return __atomic_load_n(&p->calls, __ATOMIC_ACQUIRE);
}

/* Waits (bounded) until the poller has been called want times. */
static void wait_polls(struct counting_poller *p, unsigned want)
{
	for (int i = 0; i < 2000 && polls(p) < want; i++)
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
}

/* A started loop watching eventfd fd (count_call on calls) with the
 * pollers given. */
static void start_polled_loop(struct ioloop *loop, int fd, unsigned *calls,
			      struct counting_poller *pollers[], unsigned nr_pollers)
{
	assert_int_equal(ioloop_init(loop), 0);
	assert_int_equal(ioloop_watch_eventfd(loop, fd, count_call, calls), 0);
	for (unsigned i = 0; i < nr_pollers; i++)
		assert_int_equal(ioloop_add_poller(loop, count_polls, pollers[i]), 0);
	assert_int_equal(ioloop_start(loop), 0);
}

/* The loop keeps looking with no event to wake it for as long as the
 * poller asks, then blocks until an event comes. */
static void a_poller_runs_while_it_asks_then_the_loop_waits_for_events(void **state)
{
	int asks[] = {50, IOLOOP_POLL_SPIN};

	for (unsigned k = 0; k < 2; k++) {
		struct ioloop loop;
		struct counting_poller p = {.ask = asks[k], .asks_left = 20};
		struct counting_poller *pollers[] = {&p};
		unsigned calls = 0;
		int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

		start_polled_loop(&loop, fd, &calls, pollers, 1);
		assert_int_equal(ioloop_add_poller(&loop, count_polls, &p), -EBUSY);
		/* The first pass is an event's: nothing runs the pollers before. */
		signal_eventfd(fd);
		wait_polls(&p, 21);
		assert_int_equal(polls(&p), 21);
		nanosleep(&(struct timespec){.tv_nsec = 20 * 1000000}, NULL);
		assert_int_equal(polls(&p), 21); /* idle: blocked */
		signal_eventfd(fd);
		wait_polls(&p, 22);
		assert_int_equal(polls(&p), 22);
		assert_int_equal(__atomic_load_n(&calls, __ATOMIC_ACQUIRE), 2);
		ioloop_destroy(&loop);
		close(fd);
	}
}

/* Two pollers napping: every pass runs both, and the shorter nap sets
 * the pace (the thread looks at the other's queue as often). 21 passes at
 * the long nap would take 4 s; the wait for them gives up after 2. */
static void the_shortest_nap_asked_for_sets_the_pace(void **state)
{
	struct ioloop loop;
	struct counting_poller slow = {.ask = 200 * 1000, .asks_left = 1000};
	struct counting_poller fast = {.ask = 1000, .asks_left = 20};
	struct counting_poller *pollers[] = {&slow, &fast};
	unsigned calls = 0;
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	start_polled_loop(&loop, fd, &calls, pollers, 2);
	signal_eventfd(fd);
	wait_polls(&fast, 21);
	assert_int_equal(polls(&fast), 21);
	assert_in_range(polls(&slow), 21, 22);
	/* The fast one idle now: the slow one's nap alone, a look per 200 ms. */
	nanosleep(&(struct timespec){.tv_nsec = 100 * 1000000}, NULL);
	assert_in_range(polls(&slow), 21, 23);
	ioloop_destroy(&loop);
	close(fd);
}

static void pollers_are_refused_beyond_the_limit_and_before_set_up(void **state)
{
	struct ioloop loop;
	struct counting_poller p = {0};

	loop_never_set_up(&loop);
	assert_int_equal(ioloop_add_poller(&loop, count_polls, &p), -ENXIO);
	assert_int_equal(ioloop_init(&loop), 0);
	for (unsigned i = 0; i < IOLOOP_MAX_POLLERS; i++)
		assert_int_equal(ioloop_add_poller(&loop, count_polls, &p), 0);
	assert_int_equal(ioloop_add_poller(&loop, count_polls, &p), -ENOSPC);
	ioloop_destroy(&loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_loop_never_set_up_refuses_watches_and_starts_no_thread),
		cmocka_unit_test(a_watch_runs_on_the_thread_once_set_up),
		cmocka_unit_test(operations_queued_by_a_callback_complete_on_the_io_thread),
		cmocka_unit_test(a_poller_runs_while_it_asks_then_the_loop_waits_for_events),
		cmocka_unit_test(the_shortest_nap_asked_for_sets_the_pace),
		cmocka_unit_test(pollers_are_refused_beyond_the_limit_and_before_set_up),
	};
	return cmocka_run_group_tests_name("ioloop", tests, NULL, NULL);
}
