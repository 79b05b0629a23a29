/* The crash report of a vCPU: its registers, segments, control registers
 * and pending events, printed once when the guest triple-faults, fails VM
 * entry or meets a KVM internal error, in the spirit of QEMU's register
 * dump. */
#ifndef SKIFF_VMM_X86_DUMP_H
#define SKIFF_VMM_X86_DUMP_H

#include <linux/kvm.h>
#include <stddef.h>

/* A vCPU's state as KVM reports it; an *_err is 0 when the part was read,
 * else the -errno of the ioctl (the part is then left out). */
struct x86_dump {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp_state;
	int regs_err, sregs_err, events_err, mp_state_err;
};

/* Reads the state of a vCPU through its fd (KVM_GET_REGS, KVM_GET_SREGS,
 * KVM_GET_VCPU_EVENTS, KVM_GET_MP_STATE). */
void x86_dump_read(int vcpu_fd, struct x86_dump *d);

/* Formats the report of vCPU vcpu_id, whose last exit is in run (the
 * exit's own details: internal error suberror and data words, entry failure
 * reason), into buf; always NUL-terminated, cut short if size is too small.
 * Returns the length it wanted, as snprintf. Pure; tests call it. */
size_t x86_dump_format(char *buf, size_t size, unsigned vcpu_id, const struct kvm_run *run,
		       const struct x86_dump *d);

/* One line for a vCPU that did not crash but was stopped by another's
 * crash: where it was (RIP, RSP, RFLAGS, CR3), its MP state and events. */
size_t x86_dump_format_brief(char *buf, size_t size, unsigned vcpu_id, const struct x86_dump *d);

/* Reads, formats and writes the report to stderr in one piece. */
void x86_dump_vcpu(int vcpu_fd, unsigned vcpu_id, const struct kvm_run *run);
/* The same with the one-line form; for a vCPU whose thread has ended. */
void x86_dump_vcpu_brief(int vcpu_fd, unsigned vcpu_id);

#endif
