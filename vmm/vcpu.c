#include "vmm/vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/vm.h"
#include "vmm/x86_dump.h"

#define VCPU_KICK_SIGNAL SIGUSR1

static bool vcpu_dispatch_io(const struct vcpu_exit_ctx *ctx, struct kvm_run *run)
{
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	uint32_t size = run->io.size;

	/* String I/O (rep ins/outs) arrives as count back-to-back items. */
	for (uint32_t i = 0; i < run->io.count; i++, data += size) {
		if (run->io.direction == KVM_EXIT_IO_OUT)
			bus_write(ctx->pio, run->io.port, data, size);
		else
			bus_read(ctx->pio, run->io.port, data, size);
	}
	return true;
}

static bool vcpu_dispatch_mmio(const struct vcpu_exit_ctx *ctx, struct kvm_run *run)
{
	uint32_t len = run->mmio.len;

	if (len == 0 || len > sizeof(run->mmio.data))
		return false;
	if (run->mmio.is_write)
		bus_write(ctx->mmio, run->mmio.phys_addr, run->mmio.data, len);
	else
		bus_read(ctx->mmio, run->mmio.phys_addr, run->mmio.data, len);
	return true;
}

/* Only the crash that stops the VM is reported (and its vCPU dumped): one
 * after another stop request has nothing to add. */
static enum vcpu_action vcpu_crash(const struct vcpu_exit_ctx *ctx, const char *what,
				   unsigned long long code)
{
	if (!vm_stop_request(ctx->stop, VM_STOP_CRASH, ctx->vcpu_id))
		return VCPU_EXIT;
	fprintf(stderr, "skiff: vCPU %u: %s (0x%llx)\n", ctx->vcpu_id, what, code);
	return VCPU_CRASH;
}

static enum vcpu_action vcpu_system_event(const struct vcpu_exit_ctx *ctx, struct kvm_run *run)
{
	switch (run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vm_stop_request(ctx->stop, VM_STOP_POWEROFF, 0);
		return VCPU_EXIT;
	case KVM_SYSTEM_EVENT_RESET:
		vm_stop_request(ctx->stop, VM_STOP_RESET, 0);
		return VCPU_EXIT;
	default:
		return vcpu_crash(ctx, "guest reported a crash (system event)",
				  run->system_event.type);
	}
}

enum vcpu_action vcpu_handle_exit(const struct vcpu_exit_ctx *ctx, struct kvm_run *run)
{
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vcpu_dispatch_io(ctx, run);
		break;
	case KVM_EXIT_MMIO:
		if (!vcpu_dispatch_mmio(ctx, run))
			return vcpu_crash(ctx, "MMIO access of impossible size", run->mmio.len);
		break;
	case KVM_EXIT_HLT:
	case KVM_EXIT_INTR:
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		break;
	case KVM_EXIT_SHUTDOWN:
		return vcpu_crash(ctx, "triple fault (KVM_EXIT_SHUTDOWN)", run->exit_reason);
	case KVM_EXIT_FAIL_ENTRY:
		return vcpu_crash(ctx, "VM entry failed, hardware reason",
				  run->fail_entry.hardware_entry_failure_reason);
	case KVM_EXIT_INTERNAL_ERROR:
		return vcpu_crash(ctx, "KVM internal error, suberror", run->internal.suberror);
	case KVM_EXIT_SYSTEM_EVENT:
		return vcpu_system_event(ctx, run);
	default:
		return vcpu_crash(ctx, "unhandled KVM exit reason", run->exit_reason);
	}
	return vm_stop_requested(ctx->stop) ? VCPU_EXIT : VCPU_RESUME;
}

static void vcpu_kick_handler(int sig)
{
	(void)sig;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;
	struct vcpu_exit_ctx ctx = {&vm->pio, &vm->mmio, &vm->stop, vcpu->id};
	sigset_t kick;

	sigemptyset(&kick);
	sigaddset(&kick, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);

	enum vcpu_action action = VCPU_RESUME;
	while (action == VCPU_RESUME && !vm_stop_requested(&vm->stop)) {
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			fprintf(stderr, "skiff: vCPU %u: KVM_RUN: %s\n", vcpu->id, strerror(errno));
			vm_stop_request(&vm->stop, VM_STOP_VMM_ERROR, 0);
			break;
		}
		action = vcpu_handle_exit(&ctx, vcpu->run);
	}
	if (action == VCPU_CRASH)
		x86_dump_vcpu(vcpu->fd, vcpu->id, vcpu->run);
	return NULL;
}

int vcpu_create(struct vcpu *vcpu, struct vm *vm, unsigned id)
{
	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (vcpu->fd < 0)
		return -errno;
	int size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (int)sizeof(struct kvm_run))
		return size < 0 ? -errno : -EINVAL;
	vcpu->run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		vcpu->run = NULL;
		return -errno;
	}
	vcpu->run_size = (size_t)size;
	return 0;
}

void vcpu_destroy(struct vcpu *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, vcpu->run_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}

int vcpu_start(struct vcpu *vcpu)
{
	struct sigaction sa = {.sa_handler = vcpu_kick_handler};

	/* No SA_RESTART: the kick must make KVM_RUN return EINTR. */
	sigaction(VCPU_KICK_SIGNAL, &sa, NULL);
	int err = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);
	if (err)
		return -err;
	vcpu->thread_started = true;
	/* Named as in top, perf and /proc/PID/task: "vcpu0", "vcpu1"... */
	char name[16];
	snprintf(name, sizeof(name), "vcpu%u", vcpu->id);
	pthread_setname_np(vcpu->thread, name);
	return 0;
}

void vcpu_kick(struct vcpu *vcpu)
{
	if (!vcpu->thread_started)
		return;
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
}

void vcpu_join(struct vcpu *vcpu)
{
	if (vcpu->thread_started)
		pthread_join(vcpu->thread, NULL);
	vcpu->thread_started = false;
}
