#include "vmm/vm_stop.h"

#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

int vm_stop_init(struct vm_stop *stop)
{
	pthread_mutex_init(&stop->lock, NULL);
	stop->reason = VM_RUNNING;
	stop->detail = 0;
	stop->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return stop->wake_fd < 0 ? -errno : 0;
}

void vm_stop_destroy(struct vm_stop *stop)
{
	if (stop->wake_fd >= 0)
		close(stop->wake_fd);
	stop->wake_fd = -1;
	pthread_mutex_destroy(&stop->lock);
}

bool vm_stop_request(struct vm_stop *stop, enum vm_stop_reason reason, unsigned detail)
{
	bool first;

	pthread_mutex_lock(&stop->lock);
	first = stop->reason == VM_RUNNING;
	if (first) {
		stop->reason = reason;
		stop->detail = detail;
	}
	pthread_mutex_unlock(&stop->lock);
	if (first && stop->wake_fd >= 0) {
		uint64_t one = 1;
		/* A full counter still leaves the fd readable: nothing to handle. */
		(void)!write(stop->wake_fd, &one, sizeof(one));
	}
	return first;
}

bool vm_stop_requested(struct vm_stop *stop)
{
	bool requested;

	pthread_mutex_lock(&stop->lock);
	requested = stop->reason != VM_RUNNING;
	pthread_mutex_unlock(&stop->lock);
	return requested;
}

int vm_stop_exit_status(enum vm_stop_reason reason, unsigned detail)
{
	switch (reason) {
	case VM_STOP_POWEROFF:
		return detail == 0 ? SKIFF_EXIT_OK : SKIFF_EXIT_GUEST_FAILURE;
	case VM_STOP_RESET:
	case VM_STOP_USER_QUIT:
		return SKIFF_EXIT_OK;
	case VM_STOP_CRASH:
		return SKIFF_EXIT_GUEST_CRASH;
	case VM_STOP_SIGNAL:
		return SKIFF_EXIT_SIGNAL_BASE + (int)detail;
	default:
		return SKIFF_EXIT_VMM_ERROR;
	}
}

const char *vm_stop_describe(enum vm_stop_reason reason)
{
	switch (reason) {
	case VM_STOP_POWEROFF:
		return "guest powered off";
	case VM_STOP_RESET:
		return "guest requested a reset; Skiff stops the VM instead of rebooting it";
	case VM_STOP_CRASH:
		return "guest crashed";
	case VM_STOP_SIGNAL:
		return "stopped by signal";
	case VM_STOP_USER_QUIT:
		return "quit from the console";
	case VM_STOP_VMM_ERROR:
		return "VMM error";
	default:
		return "running";
	}
}
