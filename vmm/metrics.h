/* --metrics FILE: the devices' counters, written as one JSON object when
 * the VM has stopped (vCPUs joined, I/O thread stopped: nothing moves
 * them any more). For scripts and tests that ask what the devices did:
 * frames and bytes each way, held ACK interrupts, block requests by kind. */
#ifndef SKIFF_VMM_METRICS_H
#define SKIFF_VMM_METRICS_H

struct vm;

/* Writes the counters to fd and closes it. Returns 0, or -errno. */
int metrics_write(int fd, const struct vm *vm);

#endif
