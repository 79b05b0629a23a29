/* Doorbells the hypervisor answers itself: with KVM an ioeventfd makes a
 * guest write to an MMIO address signal an eventfd without an exit to a
 * vCPU thread. A device assigns its doorbells where its BAR decodes and
 * deassigns them when the BAR stops decoding there (decoding turned off,
 * the BAR moved), so a write where the device no longer decodes signals
 * nothing. Devices see only this, so tests can watch it without KVM. */
#ifndef SKIFF_DEVICES_IOEVENTFD_H
#define SKIFF_DEVICES_IOEVENTFD_H

#include <stdint.h>

struct ioeventfd_controller {
	/* Guest writes at addr signal fd: 0 or -errno. */
	int (*assign)(void *ctx, uint64_t addr, int fd);
	/* Undoes an assign that succeeded, with the same addr and fd. */
	void (*deassign)(void *ctx, uint64_t addr, int fd);
	void *ctx;
};

#endif
