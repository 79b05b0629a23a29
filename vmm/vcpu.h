/* A vCPU: its KVM fd, its shared kvm_run page and its thread. */
#ifndef SKIFF_VMM_VCPU_H
#define SKIFF_VMM_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "devices/bus.h"
#include "vmm/vm_stop.h"

struct vm;

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	bool thread_started;
};

/* What a vCPU exit needs, gathered so tests can drive vcpu_handle_exit with
 * a kvm_run they built themselves. */
struct vcpu_exit_ctx {
	const struct bus *pio;
	const struct bus *mmio;
	struct vm_stop *stop;
	unsigned vcpu_id;
};

enum vcpu_action {
	VCPU_RESUME,
	VCPU_EXIT,  /* the VM is stopping: leave the run loop */
	VCPU_CRASH, /* the guest crashed and that stops the VM: dump the vCPU, leave */
};

enum vcpu_action vcpu_handle_exit(const struct vcpu_exit_ctx *ctx, struct kvm_run *run);

int vcpu_create(struct vcpu *vcpu, struct vm *vm, unsigned id);
void vcpu_destroy(struct vcpu *vcpu);
int vcpu_start(struct vcpu *vcpu);
/* Makes a running KVM_RUN return and keeps the next one from entering. */
void vcpu_kick(struct vcpu *vcpu);
void vcpu_join(struct vcpu *vcpu);

#endif
