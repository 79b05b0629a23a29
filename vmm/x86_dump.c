#include "vmm/x86_dump.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#define DUMP_BUF_SIZE 4096
#define X86_RESET_RIP 0xfff0ULL
#define X86_RESET_CS 0xf000
#define X86_RESET_CS_BASE 0xffff0000ULL

/* An append-only view of the caller's buffer; len counts what was wanted. */
struct dump_out {
	char *buf;
	size_t size, len;
};

static void out(struct dump_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void out(struct dump_out *o, const char *fmt, ...)
{
	va_list ap;
	size_t room = o->len < o->size ? o->size - o->len : 0;

	va_start(ap, fmt);
	int n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
}

static const char *exception_name(unsigned vector)
{
	static const char *const names[] = {
		"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#09", "#TS",
		"#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
	};

	return vector < sizeof(names) / sizeof(names[0]) ? names[vector] : "#??";
}

static void out_rflags(struct dump_out *o, uint64_t rflags)
{
	static const struct {
		unsigned bit;
		const char *name;
	} flags[] = {
		{0, "CF"}, {2, "PF"},  {4, "AF"},  {6, "ZF"},  {7, "SF"},  {8, "TF"},
		{9, "IF"}, {10, "DF"}, {11, "OF"}, {16, "RF"}, {17, "VM"}, {18, "AC"},
	};
	const char *sep = "";

	out(o, "RFL=%016llx [", (unsigned long long)rflags);
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		if (rflags & (1ULL << flags[i].bit)) {
			out(o, "%s%s", sep, flags[i].name);
			sep = " ";
		}
	}
	out(o, "]");
}

static void out_gprs(struct dump_out *o, const struct kvm_regs *r)
{
	out(o, "  RAX=%016llx RBX=%016llx RCX=%016llx RDX=%016llx\n", r->rax, r->rbx, r->rcx,
	    r->rdx);
	out(o, "  RSI=%016llx RDI=%016llx RBP=%016llx RSP=%016llx\n", r->rsi, r->rdi, r->rbp,
	    r->rsp);
	out(o, "  R8 =%016llx R9 =%016llx R10=%016llx R11=%016llx\n", r->r8, r->r9, r->r10, r->r11);
	out(o, "  R12=%016llx R13=%016llx R14=%016llx R15=%016llx\n", r->r12, r->r13, r->r14,
	    r->r15);
}

/* As QEMU shows a segment: selector, base, limit, and the attribute bits
 * where the descriptor's high dword has them (type 8-11, S 12, DPL 13-14,
 * P 15, AVL 20, L 21, D/B 22, G 23). */
static void out_segment(struct dump_out *o, const char *name, const struct kvm_segment *s)
{
	uint32_t flags = (uint32_t)(s->type & 0xf) << 8 | (uint32_t)(s->s & 1) << 12 |
			 (uint32_t)(s->dpl & 3) << 13 | (uint32_t)(s->present & 1) << 15 |
			 (uint32_t)(s->avl & 1) << 20 | (uint32_t)(s->l & 1) << 21 |
			 (uint32_t)(s->db & 1) << 22 | (uint32_t)(s->g & 1) << 23;

	out(o, "  %-3s=%04x %016llx %08x %08x%s\n", name, s->selector, s->base, s->limit, flags,
	    s->unusable ? " unusable" : "");
}

static void out_sregs(struct dump_out *o, const struct kvm_sregs *s)
{
	out_segment(o, "ES", &s->es);
	out_segment(o, "CS", &s->cs);
	out_segment(o, "SS", &s->ss);
	out_segment(o, "DS", &s->ds);
	out_segment(o, "FS", &s->fs);
	out_segment(o, "GS", &s->gs);
	out_segment(o, "LDT", &s->ldt);
	out_segment(o, "TR", &s->tr);
	out(o, "  GDT=     %016llx %08x\n", s->gdt.base, s->gdt.limit);
	out(o, "  IDT=     %016llx %08x\n", s->idt.base, s->idt.limit);
	out(o, "  CR0=%016llx CR2=%016llx CR3=%016llx CR4=%016llx\n", s->cr0, s->cr2, s->cr3,
	    s->cr4);
	out(o, "  CR8=%016llx EFER=%016llx APIC_BASE=%016llx\n", s->cr8, s->efer, s->apic_base);
}

static const char *mp_state_name(uint32_t state)
{
	static const char *const names[] = {
		"runnable", "uninitialized", "INIT-received", "halted", "SIPI-received",
	};

	return state < sizeof(names) / sizeof(names[0]) ? names[state] : "other";
}

/* The exception, interrupt and NMI KVM holds for the vCPU, and its MP state
 * (an AP that never got its SIPI is "uninitialized"). */
static void out_events(struct dump_out *o, const struct x86_dump *d)
{
	const struct kvm_vcpu_events *e = &d->events;

	if (d->mp_state_err)
		out(o, " MP=?");
	else
		out(o, " MP=%s", mp_state_name(d->mp_state.mp_state));
	if (d->events_err) {
		out(o, " (KVM_GET_VCPU_EVENTS: %s)", strerror(-d->events_err));
		return;
	}
	out(o, " EXC=");
	if (e->exception.injected || e->exception.pending) {
		out(o, "%s(%u) %s", exception_name(e->exception.nr), e->exception.nr,
		    e->exception.injected ? "injected" : "pending");
		if (e->exception.has_error_code)
			out(o, " error %04x", e->exception.error_code);
		if (e->exception_has_payload)
			out(o, " payload %016llx", (unsigned long long)e->exception_payload);
	} else {
		out(o, "none");
	}
	out(o, " INT=");
	if (e->interrupt.injected)
		out(o, "%02x injected%s", e->interrupt.nr, e->interrupt.soft ? " soft" : "");
	else
		out(o, "none");
	out(o, " shadow=%u NMI=%s%s", e->interrupt.shadow,
	    e->nmi.injected ? "injected" : (e->nmi.pending ? "pending" : "none"),
	    e->nmi.masked ? ",masked" : "");
}

/* What KVM said with the exit itself. */
static void out_exit(struct dump_out *o, const struct kvm_run *run)
{
	switch (run->exit_reason) {
	case KVM_EXIT_INTERNAL_ERROR: {
		uint32_t ndata = run->internal.ndata;
		size_t max = sizeof(run->internal.data) / sizeof(run->internal.data[0]);

		out(o, "  KVM internal error: suberror %u, %u data word(s)", run->internal.suberror,
		    ndata);
		for (uint32_t i = 0; i < ndata && i < max; i++)
			out(o, "%s%016llx", i % 4 ? " " : "\n    ",
			    (unsigned long long)run->internal.data[i]);
		out(o, "\n");
		break;
	}
	case KVM_EXIT_FAIL_ENTRY:
		out(o, "  VM entry failed: hardware reason %016llx on host CPU %u\n",
		    (unsigned long long)run->fail_entry.hardware_entry_failure_reason,
		    run->fail_entry.cpu);
		break;
	default:
		break;
	}
}

static bool is_reset_state(const struct x86_dump *d)
{
	return !d->regs_err && !d->sregs_err && d->regs.rip == X86_RESET_RIP &&
	       d->sregs.cs.selector == X86_RESET_CS && d->sregs.cs.base == X86_RESET_CS_BASE;
}

size_t x86_dump_format(char *buf, size_t size, unsigned vcpu_id, const struct kvm_run *run,
		       const struct x86_dump *d)
{
	struct dump_out o = {buf, size, 0};

	if (size)
		buf[0] = '\0';
	out(&o, "skiff: vCPU %u state (exit reason %u):\n", vcpu_id, run->exit_reason);
	out_exit(&o, run);
	if (d->regs_err) {
		out(&o, "  (KVM_GET_REGS: %s)\n", strerror(-d->regs_err));
	} else {
		out_gprs(&o, &d->regs);
		out(&o, "  RIP=%016llx ", d->regs.rip);
		out_rflags(&o, d->regs.rflags);
		if (!d->sregs_err)
			out(&o, " CPL=%u", d->sregs.ss.dpl);
		out(&o, "\n");
	}
	if (d->sregs_err)
		out(&o, "  (KVM_GET_SREGS: %s)\n", strerror(-d->sregs_err));
	else
		out_sregs(&o, &d->sregs);
	out(&o, " ");
	out_events(&o, d);
	out(&o, "\n");
	if (run->exit_reason == KVM_EXIT_SHUTDOWN && is_reset_state(d))
		out(&o, "  (the reset state: KVM on AMD re-initializes a vCPU that shuts down, so "
			"the state that faulted is lost; on Intel it is kept)\n");
	return o.len;
}

size_t x86_dump_format_brief(char *buf, size_t size, unsigned vcpu_id, const struct x86_dump *d)
{
	struct dump_out o = {buf, size, 0};

	if (size)
		buf[0] = '\0';
	out(&o, "skiff: vCPU %u when stopped:", vcpu_id);
	if (d->regs_err)
		out(&o, " (KVM_GET_REGS: %s)", strerror(-d->regs_err));
	else
		out(&o, " RIP=%016llx RSP=%016llx RFL=%08llx", d->regs.rip, d->regs.rsp,
		    d->regs.rflags);
	if (!d->sregs_err)
		out(&o, " CR3=%016llx", d->sregs.cr3);
	out_events(&o, d);
	out(&o, "\n");
	return o.len;
}

void x86_dump_read(int vcpu_fd, struct x86_dump *d)
{
	memset(d, 0, sizeof(*d));
	if (ioctl(vcpu_fd, KVM_GET_REGS, &d->regs) < 0)
		d->regs_err = -errno;
	if (ioctl(vcpu_fd, KVM_GET_SREGS, &d->sregs) < 0)
		d->sregs_err = -errno;
	if (ioctl(vcpu_fd, KVM_GET_VCPU_EVENTS, &d->events) < 0)
		d->events_err = -errno;
	if (ioctl(vcpu_fd, KVM_GET_MP_STATE, &d->mp_state) < 0)
		d->mp_state_err = -errno;
}

void x86_dump_vcpu(int vcpu_fd, unsigned vcpu_id, const struct kvm_run *run)
{
	struct x86_dump d;
	char buf[DUMP_BUF_SIZE];

	x86_dump_read(vcpu_fd, &d);
	x86_dump_format(buf, sizeof(buf), vcpu_id, run, &d);
	fputs(buf, stderr);
}

void x86_dump_vcpu_brief(int vcpu_fd, unsigned vcpu_id)
{
	struct x86_dump d;
	char buf[DUMP_BUF_SIZE];

	x86_dump_read(vcpu_fd, &d);
	x86_dump_format_brief(buf, sizeof(buf), vcpu_id, &d);
	fputs(buf, stderr);
}
