/* The VM's I/O thread: one io_uring that waits on device eventfds (queue
 * notifications from KVM ioeventfds) and on back-end fds (a tap), and
 * carries the devices' own asynchronous I/O. Callbacks run on the I/O
 * thread, never on a vCPU. A VM sets one up only for devices that need
 * it, since some hosts refuse io_uring; a loop never set up (zeroed,
 * stop_fd -1) takes no watches and starts no thread. */
#ifndef SKIFF_VMM_IOLOOP_H
#define SKIFF_VMM_IOLOOP_H

#include <liburing.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>

#define IOLOOP_MAX_WATCHES 128
#define IOLOOP_MAX_POLLERS 32

typedef void (*ioloop_fn)(void *opaque);

/* What a poller answers after a look (ioloop_add_poller): IOLOOP_POLL_IDLE,
 * nothing to watch, wait for events alone; IOLOOP_POLL_SPIN, look again at
 * once; any other value, look again within that many microseconds (at most
 * IOLOOP_POLL_NAP_MAX_US; an event still wakes the thread at once). */
#define IOLOOP_POLL_IDLE (-1)
#define IOLOOP_POLL_SPIN 0
#define IOLOOP_POLL_NAP_MAX_US 999999
typedef int (*ioloop_poll_fn)(void *opaque);

struct ioloop_poller {
	ioloop_poll_fn fn;
	void *opaque;
};

/* An asynchronous operation a device submitted on the I/O thread; done
 * runs there too, with the io_uring result (bytes, or -errno). */
struct ioloop_op {
	void (*done)(struct ioloop_op *op, int res);
};

struct ioloop_watch {
	int fd;
	ioloop_fn fn;
	void *opaque;
	bool drain; /* an eventfd: read its counter before fn */
};

struct ioloop {
	struct io_uring ring;
	bool ring_ready; /* ioloop_init succeeded */
	pthread_t thread;
	bool thread_started;
	sem_t begun;  /* the thread has armed the watches... */
	int begin_rc; /* ...with this result */
	int stop_fd;  /* eventfd: wakes the loop to exit */
	unsigned nr_watches;
	struct ioloop_watch watches[IOLOOP_MAX_WATCHES];
	unsigned nr_pollers;
	struct ioloop_poller pollers[IOLOOP_MAX_POLLERS];
};

/* Returns 0, or a negative errno: io_uring_queue_init's when the host
 * refuses io_uring. */
int ioloop_init(struct ioloop *loop);
void ioloop_destroy(struct ioloop *loop);

/* Calls fn(opaque) on the I/O thread each time fd (an eventfd) becomes
 * readable, after draining its counter. Register after ioloop_init and
 * before ioloop_start (-ENXIO, -EBUSY otherwise). */
int ioloop_watch_eventfd(struct ioloop *loop, int fd, ioloop_fn fn, void *opaque);

/* Calls fn(opaque) on the I/O thread when fd (a tap, a socket, a pipe)
 * becomes readable. Nothing is read for fn: it takes what it wants. The
 * watch reports wake-ups, not levels: data fn leaves unread is reported
 * again only when more arrives, so whoever stops reading early must come
 * back on their own (a device does so when the driver kicks a queue).
 * Register after ioloop_init and before ioloop_start. */
int ioloop_watch_fd(struct ioloop *loop, int fd, ioloop_fn fn, void *opaque);

/* Calls fn(opaque) on the I/O thread after every pass of the loop: a
 * device looking at memory the guest writes (a virtqueue's ring) instead
 * of waiting for a notification. While any poller asks to look again the
 * thread does not block, or blocks for at most the shortest nap asked for.
 * Register
 * after ioloop_init and before ioloop_start (-ENXIO, -EBUSY, -ENOSPC). */
int ioloop_add_poller(struct ioloop *loop, ioloop_poll_fn fn, void *opaque);

/* On the I/O thread only (the ring is that thread's: the kernel refuses
 * submissions from any other): an SQE for op, or NULL when the ring is
 * full (the caller retries after completions). Submitted when the current
 * round of callbacks ends. */
struct io_uring_sqe *ioloop_prep(struct ioloop *loop, struct ioloop_op *op);

/* Starts the thread; a loop never set up has nothing to run and returns 0. */
int ioloop_start(struct ioloop *loop);
void ioloop_stop(struct ioloop *loop);

#endif
