/* x86 vCPU state at power-on: CPUID, local APIC wiring, FPU, and the
 * registers the boot CPU starts with: the PVH boot ABI's, or the Linux
 * 64-bit boot protocol's. */
#ifndef SKIFF_VMM_X86_CPU_H
#define SKIFF_VMM_X86_CPU_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "mm/guest_mem.h"

/* KVM_GET_SUPPORTED_CPUID; the caller frees the result. NULL on error. */
struct kvm_cpuid2 *x86_cpu_supported_cpuid(int kvm_fd);

/* What KVM implements for the guest but KVM_GET_SUPPORTED_CPUID leaves
 * out, because the VMM must announce it itself (KVM_CHECK_EXTENSION). */
struct x86_cpu_caps {
	/* KVM_CAP_TSC_DEADLINE_TIMER: the in-kernel LAPIC timer has
	 * TSC-deadline mode (CPUID.1:ECX[24]). */
	bool tsc_deadline;
};

/* Asks /dev/kvm (kvm_fd) which of x86_cpu_caps it has. */
struct x86_cpu_caps x86_cpu_probe_caps(int kvm_fd);

/* The CPUID table a vCPU gets: the supported one with its APIC ID filled
 * in, the hypervisor bit set, and what caps allows announced. Pure; tests
 * call it directly. */
void x86_cpu_patch_cpuid(struct kvm_cpuid2 *cpuid, unsigned apic_id,
			 const struct x86_cpu_caps *caps);

/* The flat 32-bit GDT the PVH entry state refers to. */
int x86_cpu_write_boot_gdt(const struct guest_mem *mem);

/* The flat GDT of the Linux 64-bit boot protocol, at the same address:
 * 64-bit code at __BOOT_CS (0x10), data at __BOOT_DS (0x18), a TSS at 0x20. */
int x86_cpu_write_linux_gdt(const struct guest_mem *mem);

/* Sets up one vCPU, its CPUID from supported and caps. The boot CPU starts
 * at entry with %ebx = start_info; the others wait in KVM for the guest's
 * INIT/SIPI. Returns 0 or -errno. */
int x86_cpu_init(int vcpu_fd, unsigned id, const struct kvm_cpuid2 *supported,
		 const struct x86_cpu_caps *caps, uint32_t entry, uint32_t start_info);

/* Switches the boot CPU to the Linux 64-bit entry state: long mode with
 * paging on page tables at cr3, CS.L = 1, interrupts off, %rip = entry and
 * %rsi = boot_params. Call after x86_cpu_init. Returns 0 or -errno. */
int x86_cpu_set_linux64_state(int vcpu_fd, uint64_t entry, uint64_t boot_params, uint64_t cr3);

#endif
