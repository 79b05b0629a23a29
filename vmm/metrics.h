/* --metrics FILE: the devices' counters, written as one JSON object when
 * the VM has stopped (vCPUs joined, I/O thread stopped: nothing moves
 * them any more). For scripts and tests that ask what the devices did:
 * frames and bytes each way, held ACK interrupts, block requests by kind. */
#ifndef SKIFF_VMM_METRICS_H
#define SKIFF_VMM_METRICS_H

#include <stddef.h>

struct vm;

/* Creates (or truncates) path before the guest starts, so that a file
 * that cannot be written is bad input, not a surprise at exit. Returns
 * the fd, or -1 with a message naming the file in err. */
int metrics_open(const char *path, char *err, size_t err_size);

/* Writes the counters to fd and closes it. Returns 0, or -errno. */
int metrics_write(int fd, const struct vm *vm);

#endif
