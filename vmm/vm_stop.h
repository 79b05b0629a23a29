/* Why and how a VM stops. Any thread may ask; the first reason wins and the
 * main loop is woken through an eventfd. */
#ifndef SKIFF_VMM_VM_STOP_H
#define SKIFF_VMM_VM_STOP_H

#include <pthread.h>
#include <stdbool.h>

/* Process exit statuses of `skiff run`, documented in --help and docs. */
#define SKIFF_EXIT_OK 0
#define SKIFF_EXIT_VMM_ERROR 1
#define SKIFF_EXIT_USAGE 2
#define SKIFF_EXIT_GUEST_CRASH 3
#define SKIFF_EXIT_GUEST_FAILURE 4
#define SKIFF_EXIT_SIGNAL_BASE 128

enum vm_stop_reason {
	VM_RUNNING,
	VM_STOP_POWEROFF, /* detail: value written to the debug-exit port */
	VM_STOP_RESET,
	VM_STOP_CRASH,	   /* detail: the vCPU that crashed */
	VM_STOP_SIGNAL,	   /* detail: the signal number */
	VM_STOP_USER_QUIT, /* Ctrl-A x on the console */
	VM_STOP_VMM_ERROR,
};

struct vm_stop {
	pthread_mutex_t lock;
	enum vm_stop_reason reason;
	unsigned detail;
	int wake_fd; /* eventfd, readable once a stop was requested; -1 in tests */
};

int vm_stop_init(struct vm_stop *stop);
void vm_stop_destroy(struct vm_stop *stop);
/* Returns true when this call set the reason (the first request). */
bool vm_stop_request(struct vm_stop *stop, enum vm_stop_reason reason, unsigned detail);
bool vm_stop_requested(struct vm_stop *stop);
/* The process exit status for a stop, and a message for stderr (or NULL). */
int vm_stop_exit_status(enum vm_stop_reason reason, unsigned detail);
const char *vm_stop_describe(enum vm_stop_reason reason);

#endif
