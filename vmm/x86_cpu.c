#include "vmm/x86_cpu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/boot_layout.h"

#define CPUID_MAX_ENTRIES 256
#define CPUID_LEAF1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID_LEAF1_ECX_HYPERVISOR (1u << 31)

#define X86_CR0_PE 0x1ULL
#define X86_CR0_ET 0x10ULL
#define X86_CR0_PG 0x80000000ULL
#define X86_CR4_PAE 0x20ULL
#define X86_EFER_LME 0x100ULL
#define X86_EFER_LMA 0x400ULL

#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_MODE_NMI 0x4
#define APIC_MODE_EXTINT 0x7

#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_IA32_MISC_ENABLE_FAST_STRING 0x1ULL

/* Boot GDT selectors; entries match x86_cpu_write_boot_gdt. */
#define GDT_CODE32 0x08
#define GDT_DATA32 0x10
#define GDT_TSS32 0x18
#define GDT_ENTRIES 4

/* The Linux 64-bit boot GDT (boot.rst: __BOOT_CS 0x10, __BOOT_DS 0x18);
 * a 64-bit TSS descriptor takes two entries. */
#define GDT64_CODE 0x10
#define GDT64_DATA 0x18
#define GDT64_TSS 0x20
#define GDT64_ENTRIES 6

struct kvm_cpuid2 *x86_cpu_supported_cpuid(int kvm_fd)
{
	size_t size =
		sizeof(struct kvm_cpuid2) + CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *cpuid = calloc(1, size);

	if (!cpuid)
		return NULL;
	cpuid->nent = CPUID_MAX_ENTRIES;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) {
		free(cpuid);
		return NULL;
	}
	return cpuid;
}

struct x86_cpu_caps x86_cpu_probe_caps(int kvm_fd)
{
	return (struct x86_cpu_caps){
		.tsc_deadline = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0,
	};
}

/* Leaf 1 ECX. TSC-deadline matters for Linux's choice of timer: without it
 * Linux calibrates the LAPIC timer against the PIT at boot, and on a busy
 * or slow host that check fails and the PIT becomes its clock event device:
 * every tick programmed through port 0x40 exits to the VMM. With it the
 * LAPIC timer needs no calibration. KVM only emulates the mode in its
 * in-kernel LAPIC, which Skiff always uses. */
static uint32_t cpuid_leaf1_ecx(uint32_t ecx, const struct x86_cpu_caps *caps)
{
	ecx |= CPUID_LEAF1_ECX_HYPERVISOR;
	if (caps->tsc_deadline)
		ecx |= CPUID_LEAF1_ECX_TSC_DEADLINE;
	return ecx;
}

void x86_cpu_patch_cpuid(struct kvm_cpuid2 *cpuid, unsigned apic_id,
			 const struct x86_cpu_caps *caps)
{
	for (uint32_t i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		switch (e->function) {
		case 0x1:
			e->ebx = (e->ebx & 0x00ffffffu) | (apic_id << 24);
			e->ecx = cpuid_leaf1_ecx(e->ecx, caps);
			break;
		case 0xb:
		case 0x1f:
			e->edx = apic_id; /* x2APIC ID */
			break;
		default:
			break;
		}
	}
}

static uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
	return ((uint64_t)(base & 0xff000000u) << 32) | ((uint64_t)(flags & 0xf0ffu) << 40) |
	       ((uint64_t)(limit & 0x000f0000u) << 32) | ((uint64_t)(base & 0x00ffffffu) << 16) |
	       (uint64_t)(limit & 0x0000ffffu);
}

/* Flags: G, D/B, P, DPL 0, S and type, as in the descriptor's high word. */
#define GDT_FLAGS_CODE32 0xc09b
#define GDT_FLAGS_DATA32 0xc093
#define GDT_FLAGS_TSS32 0x008b
#define GDT_FLAGS_CODE64 0xa09b /* G and L, D/B clear */

int x86_cpu_write_boot_gdt(const struct guest_mem *mem)
{
	uint64_t gdt[GDT_ENTRIES] = {
		0,
		gdt_entry(GDT_FLAGS_CODE32, 0, 0xfffff),
		gdt_entry(GDT_FLAGS_DATA32, 0, 0xfffff),
		gdt_entry(GDT_FLAGS_TSS32, 0, 0x67),
	};

	return guest_mem_write(mem, BOOT_GDT_ADDR, gdt, sizeof(gdt)) ? 0 : -EFAULT;
}

int x86_cpu_write_linux_gdt(const struct guest_mem *mem)
{
	uint64_t gdt[GDT64_ENTRIES] = {
		0,
		0,
		gdt_entry(GDT_FLAGS_CODE64, 0, 0xfffff),
		gdt_entry(GDT_FLAGS_DATA32, 0, 0xfffff),
		gdt_entry(GDT_FLAGS_TSS32, 0, 0x67), /* type 0xb is a busy 64-bit TSS here */
		0,				     /* base bits 63:32 */
	};

	return guest_mem_write(mem, BOOT_GDT_ADDR, gdt, sizeof(gdt)) ? 0 : -EFAULT;
}

static struct kvm_segment x86_segment(uint16_t selector, uint8_t type, uint8_t s, uint32_t limit,
				      uint8_t db, uint8_t g)
{
	return (struct kvm_segment){.base = 0,
				    .limit = limit,
				    .selector = selector,
				    .type = type,
				    .present = 1,
				    .dpl = 0,
				    .db = db,
				    .s = s,
				    .l = 0,
				    .g = g};
}

/* The PVH entry state: 32-bit protected mode, paging off, flat segments. */
static int x86_cpu_set_pvh_state(int fd, uint32_t entry, uint32_t start_info)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = {.rip = entry, .rbx = start_info, .rflags = 0x2};

	if (ioctl(fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	sregs.cs = x86_segment(GDT_CODE32, 0xb, 1, 0xffffffff, 1, 1);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss =
		x86_segment(GDT_DATA32, 0x3, 1, 0xffffffff, 1, 1);
	sregs.tr = x86_segment(GDT_TSS32, 0xb, 0, 0x67, 0, 0);
	sregs.gdt.base = BOOT_GDT_ADDR;
	sregs.gdt.limit = GDT_ENTRIES * 8 - 1;
	sregs.cr0 = X86_CR0_PE | X86_CR0_ET;
	sregs.cr3 = sregs.cr4 = sregs.efer = 0;
	if (ioctl(fd, KVM_SET_SREGS, &sregs) < 0 || ioctl(fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}

int x86_cpu_set_linux64_state(int fd, uint64_t entry, uint64_t boot_params, uint64_t cr3)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = {.rip = entry, .rsi = boot_params, .rflags = 0x2};

	if (ioctl(fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	sregs.cs = x86_segment(GDT64_CODE, 0xb, 1, 0xffffffff, 0, 1);
	sregs.cs.l = 1;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss =
		x86_segment(GDT64_DATA, 0x3, 1, 0xffffffff, 1, 1);
	sregs.tr = x86_segment(GDT64_TSS, 0xb, 0, 0x67, 0, 0);
	sregs.gdt.base = BOOT_GDT_ADDR;
	sregs.gdt.limit = GDT64_ENTRIES * 8 - 1;
	sregs.cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_PG;
	sregs.cr3 = cr3;
	sregs.cr4 = X86_CR4_PAE;
	sregs.efer = X86_EFER_LME | X86_EFER_LMA;
	if (ioctl(fd, KVM_SET_SREGS, &sregs) < 0 || ioctl(fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}

static void apic_set_delivery(struct kvm_lapic_state *lapic, unsigned reg, uint32_t mode)
{
	uint32_t val;

	memcpy(&val, &lapic->regs[reg], sizeof(val));
	val = (val & ~0x700u) | (mode << 8);
	memcpy(&lapic->regs[reg], &val, sizeof(val));
}

/* LINT0 takes the 8259's ExtINT and LINT1 NMIs, as on a PC. */
static int x86_cpu_wire_lapic(int fd)
{
	struct kvm_lapic_state lapic;

	if (ioctl(fd, KVM_GET_LAPIC, &lapic) < 0)
		return -errno;
	apic_set_delivery(&lapic, APIC_LVT0, APIC_MODE_EXTINT);
	apic_set_delivery(&lapic, APIC_LVT1, APIC_MODE_NMI);
	return ioctl(fd, KVM_SET_LAPIC, &lapic) < 0 ? -errno : 0;
}

static int x86_cpu_init_fpu_msrs(int fd)
{
	struct kvm_fpu fpu = {.fcw = 0x37f, .mxcsr = 0x1f80};
	/* struct kvm_msrs ends in a flexible array: room for one entry. */
	union {
		struct kvm_msrs msrs;
		uint8_t bytes[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
	} buf = {.msrs.nmsrs = 1};

	buf.msrs.entries[0] = (struct kvm_msr_entry){.index = MSR_IA32_MISC_ENABLE,
						     .data = MSR_IA32_MISC_ENABLE_FAST_STRING};
	if (ioctl(fd, KVM_SET_FPU, &fpu) < 0)
		return -errno;
	if (ioctl(fd, KVM_SET_MSRS, &buf.msrs) != 1)
		return -EIO;
	return 0;
}

int x86_cpu_init(int vcpu_fd, unsigned id, const struct kvm_cpuid2 *supported,
		 const struct x86_cpu_caps *caps, uint32_t entry, uint32_t start_info)
{
	size_t size = sizeof(*supported) + supported->nent * sizeof(supported->entries[0]);
	struct kvm_cpuid2 *cpuid = malloc(size);
	int err;

	if (!cpuid)
		return -ENOMEM;
	memcpy(cpuid, supported, size);
	x86_cpu_patch_cpuid(cpuid, id, caps);
	err = ioctl(vcpu_fd, KVM_SET_CPUID2, cpuid) < 0 ? -errno : 0;
	free(cpuid);
	if (!err)
		err = x86_cpu_wire_lapic(vcpu_fd);
	if (!err)
		err = x86_cpu_init_fpu_msrs(vcpu_fd);
	if (!err && id == 0)
		err = x86_cpu_set_pvh_state(vcpu_fd, entry, start_info);
	return err;
}
