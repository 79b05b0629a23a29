/*
 * kvm-key-holder: keeps the test host kernel's KVM static keys switched on
 * for the test host's whole life, so that creating and destroying VMs never
 * patches kernel text again.
 *
 * Why: KVM flips static keys in the host kernel when the first VM (or vCPU
 * of a kind) appears and when the last goes: preempt_notifier_key, patched
 * into __schedule, and the local APIC's apic_sw_disabled, apic_hw_disabled
 * and kvm_has_noapic_vcpu. Linux patches live text with an int3 first; under
 * QEMU 7.2's multi-threaded TCG another CPU of the test host can keep a
 * stale translation of that int3, and the kernel then replays it forever
 * with interrupts off: the test host freezes (docs/kvm-host.md). The test
 * host's init runs this while only its boot CPU is online, then brings the
 * others up; from then on every count stays above zero and nothing is
 * patched.
 *
 * It makes two VMs that never run: one with an in-kernel irqchip and a vCPU
 * whose local APIC stays software-disabled, with a second vCPU whose APIC
 * is hardware-disabled through its APIC base MSR; one without an irqchip and
 * a vCPU, so without an in-kernel APIC. Then it forks; the child holds the
 * descriptors until the test host powers off, the parent exits 0 (or 1 with
 * a message naming what failed).
 *
 * Built by tools/kvm-host into the cached initramfs: static, no
 * dependencies but the kernel's headers.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define MSR_IA32_APICBASE 0x1b
#define APICBASE_DEFAULT 0xfee00000u /* BSP flag and enable bit clear */

static int kvm_call(int fd, unsigned long request, unsigned long arg, const char *what)
{
	int ret = ioctl(fd, request, arg);
	if (ret < 0) {
		fprintf(stderr, "kvm-key-holder: %s: %s\n", what, strerror(errno));
		exit(1);
	}
	return ret;
}

static void disable_apic(int vcpu)
{
	struct {
		struct kvm_msrs head;
		struct kvm_msr_entry entry;
	} msrs = {
		.head.nmsrs = 1,
		.entry = {.index = MSR_IA32_APICBASE, .data = APICBASE_DEFAULT},
	};
	if (ioctl(vcpu, KVM_SET_MSRS, &msrs) != 1) {
		fprintf(stderr, "kvm-key-holder: KVM_SET_MSRS (APIC base) failed\n");
		exit(1);
	}
}

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		perror("kvm-key-holder: /dev/kvm");
		return 1;
	}
	int with_apic = kvm_call(kvm, KVM_CREATE_VM, 0, "KVM_CREATE_VM");
	kvm_call(with_apic, KVM_CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP");
	kvm_call(with_apic, KVM_CREATE_VCPU, 0, "KVM_CREATE_VCPU");
	int hw_disabled = kvm_call(with_apic, KVM_CREATE_VCPU, 1, "KVM_CREATE_VCPU");
	disable_apic(hw_disabled);

	int without_apic = kvm_call(kvm, KVM_CREATE_VM, 0, "KVM_CREATE_VM");
	kvm_call(without_apic, KVM_CREATE_VCPU, 0, "KVM_CREATE_VCPU");

	pid_t child = fork();
	if (child < 0) {
		perror("kvm-key-holder: fork");
		return 1;
	}
	if (child > 0)
		return 0;
	/* The holder: nothing to do but keep the descriptors open. */
	setsid();
	for (;;)
		pause();
}
