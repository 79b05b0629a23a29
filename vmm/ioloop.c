#include "vmm/ioloop.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define IOLOOP_RING_ENTRIES 256
#define IOLOOP_STOP_TAG UINT64_MAX

int ioloop_init(struct ioloop *loop)
{
	memset(loop, 0, sizeof(*loop));
	loop->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->stop_fd < 0)
		return -errno;
	int rc = io_uring_queue_init(IOLOOP_RING_ENTRIES, &loop->ring, 0);
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

static int ioloop_add_watch(struct ioloop *loop, struct ioloop_watch watch)
{
	if (loop->thread_started)
		return -EBUSY;
	if (loop->nr_watches == IOLOOP_MAX_WATCHES)
		return -ENOSPC;
	loop->watches[loop->nr_watches++] = watch;
	return 0;
}

int ioloop_watch_eventfd(struct ioloop *loop, int fd, ioloop_fn fn, void *opaque)
{
	return ioloop_add_watch(loop, (struct ioloop_watch){fd, fn, opaque, true});
}

int ioloop_watch_fd(struct ioloop *loop, int fd, ioloop_fn fn, void *opaque)
{
	return ioloop_add_watch(loop, (struct ioloop_watch){fd, fn, opaque, false});
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

	/* Drain first: a notification arriving during fn re-triggers. */
	while (w->drain && read(w->fd, &count, sizeof(count)) == (ssize_t)sizeof(count))
		;
	w->fn(w->opaque);
	if (!(cqe->flags & IORING_CQE_F_MORE))
		ioloop_arm(loop, w->fd, tag);
}

static void *ioloop_thread(void *arg)
{
	struct ioloop *loop = arg;

	for (;;) {
		struct io_uring_cqe *cqe;
		int rc = io_uring_wait_cqe(&loop->ring, &cqe);

		if (rc == -EINTR)
			continue;
		if (rc < 0) {
			fprintf(stderr, "skiff: I/O thread: io_uring: %s\n", strerror(-rc));
			break;
		}
		uint64_t tag = io_uring_cqe_get_data64(cqe);
		if (tag == IOLOOP_STOP_TAG) {
			io_uring_cqe_seen(&loop->ring, cqe);
			break;
		}
		ioloop_dispatch(loop, cqe);
		io_uring_cqe_seen(&loop->ring, cqe);
		/* Whatever the callbacks queued goes to the kernel in one go. */
		if (io_uring_sq_ready(&loop->ring))
			io_uring_submit(&loop->ring);
	}
	return NULL;
}

int ioloop_start(struct ioloop *loop)
{
	int rc = ioloop_arm(loop, loop->stop_fd, IOLOOP_STOP_TAG);

	for (unsigned i = 0; i < loop->nr_watches && !rc; i++)
		rc = ioloop_arm(loop, loop->watches[i].fd, i);
	if (!rc && io_uring_submit(&loop->ring) < 0)
		rc = -EIO;
	if (!rc)
		rc = -pthread_create(&loop->thread, NULL, ioloop_thread, loop);
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
