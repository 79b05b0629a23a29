#include "vmm/ioloop.h"

#include <errno.h>
#include <poll.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#define IOLOOP_RING_ENTRIES 256
#define IOLOOP_STOP_TAG UINT64_MAX

_Static_assert(IOLOOP_MAX_WATCHES + 1 <= IOLOOP_RING_ENTRIES,
	       "every watch and the stop fd are armed in one submission");

/* The ring starts disabled so that the I/O thread, its only user, is the
 * task the kernel ties it to. Single issuer and deferred task work (Linux
 * 6.1) mean completions are run when that thread waits for them, in one
 * batch, instead of interrupting it (with an IPI when it is running)
 * each time a watched fd becomes readable. Older kernels get the plain
 * ring. */
static int ioloop_ring_init(struct io_uring *ring)
{
	struct io_uring_params deferred = {
		.flags = IORING_SETUP_R_DISABLED | IORING_SETUP_SINGLE_ISSUER |
			 IORING_SETUP_DEFER_TASKRUN,
	};
	struct io_uring_params plain = {.flags = IORING_SETUP_R_DISABLED};
	int rc = io_uring_queue_init_params(IOLOOP_RING_ENTRIES, ring, &deferred);

	if (rc == -EINVAL)
		rc = io_uring_queue_init_params(IOLOOP_RING_ENTRIES, ring, &plain);
	return rc;
}

int ioloop_init(struct ioloop *loop)
{
	memset(loop, 0, sizeof(*loop));
	loop->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->stop_fd < 0)
		return -errno;
	int rc = ioloop_ring_init(&loop->ring);
	if (rc < 0)
		return rc;
	loop->ring_ready = true;
	return 0;
}

void ioloop_destroy(struct ioloop *loop)
{
	ioloop_stop(loop);
	if (loop->ring_ready)
		io_uring_queue_exit(&loop->ring);
	if (loop->stop_fd >= 0)
		close(loop->stop_fd);
	loop->ring_ready = false;
	loop->stop_fd = -1;
}

/* Whether one more registration may join nr of at most max: only on a set
 * up loop whose thread has not started (it reads the arrays unlocked). */
static int ioloop_may_register(const struct ioloop *loop, unsigned nr, unsigned max)
{
	if (!loop->ring_ready)
		return -ENXIO;
	if (loop->thread_started)
		return -EBUSY;
	return nr < max ? 0 : -ENOSPC;
}

static int ioloop_add_watch(struct ioloop *loop, struct ioloop_watch watch)
{
	int rc = ioloop_may_register(loop, loop->nr_watches, IOLOOP_MAX_WATCHES);

	if (!rc)
		loop->watches[loop->nr_watches++] = watch;
	return rc;
}

int ioloop_watch_eventfd(struct ioloop *loop, int fd, ioloop_fn fn, void *opaque)
{
	return ioloop_add_watch(loop, (struct ioloop_watch){fd, fn, opaque, true});
}

int ioloop_watch_fd(struct ioloop *loop, int fd, ioloop_fn fn, void *opaque)
{
	return ioloop_add_watch(loop, (struct ioloop_watch){fd, fn, opaque, false});
}

int ioloop_add_poller(struct ioloop *loop, ioloop_poll_fn fn, void *opaque)
{
	int rc = ioloop_may_register(loop, loop->nr_pollers, IOLOOP_MAX_POLLERS);

	if (!rc)
		loop->pollers[loop->nr_pollers++] = (struct ioloop_poller){fn, opaque};
	return rc;
}

static int ioloop_arm(struct ioloop *loop, int fd, uint64_t tag)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&loop->ring);

	if (!sqe)
		return -EBUSY;
	/* Multishot: one submission keeps reporting each readiness. */
	io_uring_prep_poll_multishot(sqe, fd, POLLIN);
	io_uring_sqe_set_data64(sqe, tag);
	return 0;
}

struct io_uring_sqe *ioloop_prep(struct ioloop *loop, struct ioloop_op *op)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&loop->ring);

	if (!sqe) {
		/* Make room by handing the kernel what is queued. */
		io_uring_submit(&loop->ring);
		sqe = io_uring_get_sqe(&loop->ring);
	}
	if (sqe)
		io_uring_sqe_set_data(sqe, op);
	return sqe;
}

/* user_data: a watch index, the stop tag, or an ioloop_op pointer (never
 * below the page size, so never a watch index). */
static bool ioloop_is_watch(uint64_t tag)
{
	return tag < IOLOOP_MAX_WATCHES;
}

static void ioloop_dispatch(struct ioloop *loop, struct io_uring_cqe *cqe)
{
	uint64_t tag = io_uring_cqe_get_data64(cqe);

	if (!ioloop_is_watch(tag)) {
		struct ioloop_op *op = io_uring_cqe_get_data(cqe);
		op->done(op, cqe->res);
		return;
	}
	if (tag >= loop->nr_watches || cqe->res < 0)
		return;
	struct ioloop_watch *w = &loop->watches[tag];
	uint64_t count;

	/* Drain first: a notification arriving during fn re-triggers. One
	 * read zeroes an eventfd's counter. */
	if (w->drain)
		(void)!read(w->fd, &count, sizeof(count));
	w->fn(w->opaque);
	if (!(cqe->flags & IORING_CQE_F_MORE))
		ioloop_arm(loop, w->fd, tag);
}

/* Handles every completion the kernel has posted; false once told to
 * stop. Completions posted while callbacks run are handled in this pass. */
static bool ioloop_dispatch_ready(struct ioloop *loop)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	bool stop = false;

	io_uring_for_each_cqe(&loop->ring, head, cqe)
	{
		seen++;
		if (io_uring_cqe_get_data64(cqe) == IOLOOP_STOP_TAG) {
			stop = true;
			break;
		}
		ioloop_dispatch(loop, cqe);
	}
	io_uring_cq_advance(&loop->ring, seen);
	return !stop;
}

/* On the I/O thread: the ring becomes its own, and every watch is armed. */
static int ioloop_thread_begin(struct ioloop *loop)
{
	int rc = 0;

	/* Not io_uring_enable_rings: Debian's liburing 2.3 declares it but
	 * its shared library does not export it. */
	if (syscall(__NR_io_uring_register, loop->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL,
		    0) < 0)
		rc = -errno;
	if (rc == 0)
		rc = ioloop_arm(loop, loop->stop_fd, IOLOOP_STOP_TAG);
	for (unsigned i = 0; i < loop->nr_watches && !rc; i++)
		rc = ioloop_arm(loop, loop->watches[i].fd, i);
	return rc;
}

/* Every poller looks once; the most eager answer decides the next wait. */
static int ioloop_run_pollers(struct ioloop *loop)
{
	int want = IOLOOP_POLL_IDLE;

	for (unsigned i = 0; i < loop->nr_pollers; i++) {
		int p = loop->pollers[i].fn(loop->pollers[i].opaque);

		if (p > IOLOOP_POLL_NAP_MAX_US)
			p = IOLOOP_POLL_NAP_MAX_US;
		if (p >= 0 && (want < 0 || p < want))
			want = p;
	}
	return want;
}

/* One system call per pass: what the callbacks queued goes to the kernel
 * with the wait for the next completion, which is no wait at all while a
 * poller spins and a short one while it naps. A timed-out nap is not an
 * error. */
static int ioloop_wait(struct ioloop *loop, int want)
{
	struct __kernel_timespec nap = {.tv_nsec = want * 1000L};
	struct io_uring_cqe *cqe;
	int rc;

	if (want == IOLOOP_POLL_IDLE)
		return io_uring_submit_and_wait(&loop->ring, 1);
	if (want == IOLOOP_POLL_SPIN)
		return io_uring_submit_and_get_events(&loop->ring);
	rc = io_uring_submit_and_wait_timeout(&loop->ring, &cqe, 1, &nap, NULL);
	return rc == -ETIME ? 0 : rc;
}

static void *ioloop_thread(void *arg)
{
	struct ioloop *loop = arg;
	int want = IOLOOP_POLL_IDLE;
	int rc = ioloop_thread_begin(loop);

	loop->begin_rc = rc;
	sem_post(&loop->begun);
	if (rc < 0)
		return NULL;
	for (;;) {
		rc = ioloop_wait(loop, want);

		if (rc < 0 && rc != -EINTR && rc != -EBUSY) {
			fprintf(stderr, "skiff: I/O thread: io_uring: %s\n", strerror(-rc));
			break;
		}
		if (!ioloop_dispatch_ready(loop))
			break;
		want = ioloop_run_pollers(loop);
	}
	return NULL;
}

/* Returns once the thread has armed the watches, with their result. */
int ioloop_start(struct ioloop *loop)
{
	int rc;

	if (!loop->ring_ready)
		return 0;
	if (sem_init(&loop->begun, 0, 0))
		return -errno;
	rc = -pthread_create(&loop->thread, NULL, ioloop_thread, loop);
	if (rc == 0) {
		pthread_setname_np(loop->thread, "io");
		while (sem_wait(&loop->begun) && errno == EINTR)
			;
		rc = loop->begin_rc;
		if (rc < 0)
			pthread_join(loop->thread, NULL);
	}
	sem_destroy(&loop->begun);
	loop->thread_started = rc == 0;
	return rc;
}

void ioloop_stop(struct ioloop *loop)
{
	uint64_t one = 1;

	if (!loop->thread_started)
		return;
	(void)!write(loop->stop_fd, &one, sizeof(one));
	pthread_join(loop->thread, NULL);
	loop->thread_started = false;
}
