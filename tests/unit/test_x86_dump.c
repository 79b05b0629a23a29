/* The crash report of a vCPU, formatted from a fabricated register set. */
#include <errno.h>
#include <linux/kvm.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/x86_dump.h"

#define BUF_SIZE 4096

static struct kvm_segment seg(uint16_t sel, uint8_t type, uint8_t s, uint8_t l, uint8_t db)
{
	return (struct kvm_segment){.selector = sel,
				    .limit = 0xffffffff,
				    .type = type,
				    .present = 1,
				    .s = s,
				    .l = l,
				    .db = db,
				    .g = 1};
}

/* A 64-bit Linux kernel that took a page fault. */
static struct x86_dump long_mode_state(void)
{
	struct x86_dump d;

	memset(&d, 0, sizeof(d));
	d.regs = (struct kvm_regs){
		.rax = 0x1111111111111111,
		.rbx = 0x2222,
		.rcx = 0x3333,
		.rdx = 0x4444,
		.rsi = 0x5555,
		.rdi = 0x6666,
		.rsp = 0xffffc90000013e58,
		.rbp = 0x7777,
		.r8 = 0x8,
		.r9 = 0x9,
		.r10 = 0x10,
		.r11 = 0x11,
		.r12 = 0x12,
		.r13 = 0x13,
		.r14 = 0x14,
		.r15 = 0xf15,
		.rip = 0xffffffff81a0b2c3,
		.rflags = 0x10246,
	};
	d.sregs.cs = seg(0x10, 0xb, 1, 1, 0);
	d.sregs.ds = d.sregs.es = d.sregs.ss = seg(0x18, 0x3, 1, 0, 1);
	d.sregs.fs = d.sregs.gs = seg(0, 0x3, 1, 0, 1);
	d.sregs.gs.base = 0xffff888007a00000;
	d.sregs.ldt = (struct kvm_segment){.limit = 0xffff, .type = 2, .present = 1};
	d.sregs.ldt.unusable = 1;
	d.sregs.tr = (struct kvm_segment){.selector = 0x40,
					  .base = 0xfffffe0000003000,
					  .limit = 0x4087,
					  .type = 0xb,
					  .present = 1};
	d.sregs.gdt.base = 0xfffffe0000001000;
	d.sregs.gdt.limit = 0x7f;
	d.sregs.idt.base = 0xfffffe0000000000;
	d.sregs.idt.limit = 0xfff;
	d.sregs.cr0 = 0x80050033;
	d.sregs.cr2 = 0xdead000;
	d.sregs.cr3 = 0x1234000;
	d.sregs.cr4 = 0x3706f0;
	d.sregs.cr8 = 0;
	d.sregs.efer = 0xd01;
	d.sregs.apic_base = 0xfee00900;
	d.events.exception.injected = 1;
	d.events.exception.nr = 14;
	d.events.exception.has_error_code = 1;
	d.events.exception.error_code = 2;
	d.events.nmi.masked = 1;
	d.mp_state.mp_state = KVM_MP_STATE_RUNNABLE;
	return d;
}

static struct kvm_run run_with(uint32_t exit_reason)
{
	struct kvm_run run;

	memset(&run, 0, sizeof(run));
	run.exit_reason = exit_reason;
	return run;
}

static void assert_has(const char *text, const char *line)
{
	if (!strstr(text, line))
		fail_msg("missing \"%s\" in:\n%s", line, text);
}

static void assert_lacks(const char *text, const char *part)
{
	if (strstr(text, part))
		fail_msg("unexpected \"%s\" in:\n%s", part, text);
}

static void shows_every_general_register_and_rip(void **state)
{
	struct x86_dump d = long_mode_state();
	struct kvm_run run = run_with(KVM_EXIT_SHUTDOWN);
	char buf[BUF_SIZE];

	size_t len = x86_dump_format(buf, sizeof(buf), 1, &run, &d);
	assert_int_equal(len, strlen(buf));
	assert_has(buf, "skiff: vCPU 1 state (exit reason 8):\n");
	assert_has(buf, "  RAX=1111111111111111 RBX=0000000000002222 RCX=0000000000003333 "
			"RDX=0000000000004444\n");
	assert_has(buf, "  RSI=0000000000005555 RDI=0000000000006666 RBP=0000000000007777 "
			"RSP=ffffc90000013e58\n");
	assert_has(buf, "  R8 =0000000000000008 R9 =0000000000000009 R10=0000000000000010 "
			"R11=0000000000000011\n");
	assert_has(buf, "  R12=0000000000000012 R13=0000000000000013 R14=0000000000000014 "
			"R15=0000000000000f15\n");
	assert_has(buf, "  RIP=ffffffff81a0b2c3 RFL=0000000000010246 [PF ZF IF RF] CPL=0\n");
	/* Not the reset state: no note about it. */
	assert_lacks(buf, "reset state");
}

static void shows_segments_as_qemu_does(void **state)
{
	struct x86_dump d = long_mode_state();
	struct kvm_run run = run_with(KVM_EXIT_SHUTDOWN);
	char buf[BUF_SIZE];

	x86_dump_format(buf, sizeof(buf), 0, &run, &d);
	/* Selector, base, limit, attributes where the descriptor has them. */
	assert_has(buf, "  CS =0010 0000000000000000 ffffffff 00a09b00\n");
	assert_has(buf, "  SS =0018 0000000000000000 ffffffff 00c09300\n");
	assert_has(buf, "  GS =0000 ffff888007a00000 ffffffff 00c09300\n");
	assert_has(buf, "  LDT=0000 0000000000000000 0000ffff 00008200 unusable\n");
	assert_has(buf, "  TR =0040 fffffe0000003000 00004087 00008b00\n");
	assert_has(buf, "  GDT=     fffffe0000001000 0000007f\n");
	assert_has(buf, "  IDT=     fffffe0000000000 00000fff\n");
}

static void shows_control_registers_and_efer(void **state)
{
	struct x86_dump d = long_mode_state();
	struct kvm_run run = run_with(KVM_EXIT_SHUTDOWN);
	char buf[BUF_SIZE];

	x86_dump_format(buf, sizeof(buf), 0, &run, &d);
	assert_has(buf, "  CR0=0000000080050033 CR2=000000000dead000 CR3=0000000001234000 "
			"CR4=00000000003706f0\n");
	assert_has(buf, "  CR8=0000000000000000 EFER=0000000000000d01 "
			"APIC_BASE=00000000fee00900\n");
}

static void shows_pending_and_injected_events(void **state)
{
	struct x86_dump d = long_mode_state();
	struct kvm_run run = run_with(KVM_EXIT_SHUTDOWN);
	char buf[BUF_SIZE];

	x86_dump_format(buf, sizeof(buf), 0, &run, &d);
	assert_has(buf, "  MP=runnable EXC=#PF(14) injected error 0002 INT=none shadow=0 "
			"NMI=none,masked\n");

	memset(&d.events, 0, sizeof(d.events));
	d.events.exception.pending = 1;
	d.events.exception.nr = 8;
	d.events.exception.has_error_code = 1;
	d.events.interrupt.injected = 1;
	d.events.interrupt.nr = 0xec;
	d.events.interrupt.shadow = 1;
	d.events.nmi.pending = 1;
	d.mp_state.mp_state = KVM_MP_STATE_HALTED;
	x86_dump_format(buf, sizeof(buf), 0, &run, &d);
	assert_has(buf, "  MP=halted EXC=#DF(8) pending error 0000 INT=ec injected shadow=1 "
			"NMI=pending\n");

	memset(&d.events, 0, sizeof(d.events));
	x86_dump_format(buf, sizeof(buf), 0, &run, &d);
	assert_has(buf, "  MP=halted EXC=none INT=none shadow=0 NMI=none\n");
}

static void internal_error_shows_suberror_and_data_words(void **state)
{
	struct x86_dump d = long_mode_state();
	struct kvm_run run = run_with(KVM_EXIT_INTERNAL_ERROR);
	char buf[BUF_SIZE];

	run.internal.suberror = KVM_INTERNAL_ERROR_DELIVERY_EV;
	run.internal.ndata = 5;
	for (unsigned i = 0; i < 5; i++)
		run.internal.data[i] = 0xa0 + i;
	run.internal.data[5] = 0xbad; /* past ndata: not shown */
	x86_dump_format(buf, sizeof(buf), 0, &run, &d);
	assert_has(buf, "skiff: vCPU 0 state (exit reason 17):\n"
			"  KVM internal error: suberror 3, 5 data word(s)\n"
			"    00000000000000a0 00000000000000a1 00000000000000a2 "
			"00000000000000a3\n"
			"    00000000000000a4\n"
			"  RAX=");
	assert_lacks(buf, "0000000000000bad");
}

static void internal_error_with_too_many_words_stops_at_the_array(void **state)
{
	struct x86_dump d = long_mode_state();
	struct kvm_run run = run_with(KVM_EXIT_INTERNAL_ERROR);
	char buf[BUF_SIZE];

	run.internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
	run.internal.ndata = 1000;
	run.internal.data[15] = 0xf15f15;
	x86_dump_format(buf, sizeof(buf), 0, &run, &d);
	assert_has(buf, "suberror 1, 1000 data word(s)\n");
	assert_has(buf, " 0000000000f15f15\n  RAX=");
}

static void failed_entry_shows_the_hardware_reason(void **state)
{
	struct x86_dump d = long_mode_state();
	struct kvm_run run = run_with(KVM_EXIT_FAIL_ENTRY);
	char buf[BUF_SIZE];

	run.fail_entry.hardware_entry_failure_reason = 0x80000021;
	run.fail_entry.cpu = 3;
	x86_dump_format(buf, sizeof(buf), 2, &run, &d);
	assert_has(buf, "skiff: vCPU 2 state (exit reason 9):\n"
			"  VM entry failed: hardware reason 0000000080000021 on host CPU 3\n");
}

static void amd_reset_state_after_shutdown_is_named(void **state)
{
	struct x86_dump d;
	struct kvm_run run = run_with(KVM_EXIT_SHUTDOWN);
	char buf[BUF_SIZE];

	memset(&d, 0, sizeof(d));
	d.regs.rip = 0xfff0;
	d.regs.rflags = 2;
	d.sregs.cs = (struct kvm_segment){.selector = 0xf000,
					  .base = 0xffff0000,
					  .limit = 0xffff,
					  .type = 0xa,
					  .present = 1,
					  .s = 1};
	x86_dump_format(buf, sizeof(buf), 0, &run, &d);
	assert_has(buf, "  RIP=000000000000fff0 RFL=0000000000000002 [] CPL=0\n");
	assert_has(buf, "  (the reset state: KVM on AMD re-initializes a vCPU that shuts down");
	/* The same registers after another exit are what the guest did. */
	run.exit_reason = KVM_EXIT_FAIL_ENTRY;
	x86_dump_format(buf, sizeof(buf), 0, &run, &d);
	assert_lacks(buf, "reset state");
}

static void a_failed_ioctl_is_named_and_the_rest_shown(void **state)
{
	struct x86_dump d = long_mode_state();
	struct kvm_run run = run_with(KVM_EXIT_SHUTDOWN);
	char buf[BUF_SIZE];

	d.regs_err = -EIO;
	d.events_err = -EINVAL;
	d.mp_state_err = -EINVAL;
	x86_dump_format(buf, sizeof(buf), 0, &run, &d);
	assert_has(buf, "  (KVM_GET_REGS: Input/output error)\n");
	assert_lacks(buf, "RAX=");
	assert_lacks(buf, "RIP=");
	assert_has(buf, "  CS =0010 ");
	assert_has(buf, "  MP=? (KVM_GET_VCPU_EVENTS: Invalid argument)\n");

	d = long_mode_state();
	d.sregs_err = -EBADF;
	x86_dump_format(buf, sizeof(buf), 0, &run, &d);
	/* No segments, so no CPL either. */
	assert_has(buf, "  RIP=ffffffff81a0b2c3 RFL=0000000000010246 [PF ZF IF RF]\n");
	assert_has(buf, "  (KVM_GET_SREGS: Bad file descriptor)\n");
	assert_lacks(buf, "CR0=");
}

static void a_short_buffer_is_cut_and_terminated(void **state)
{
	struct x86_dump d = long_mode_state();
	struct kvm_run run = run_with(KVM_EXIT_SHUTDOWN);
	char full[BUF_SIZE], small[100];

	size_t want = x86_dump_format(full, sizeof(full), 0, &run, &d);
	memset(small, 'x', sizeof(small));
	assert_int_equal(x86_dump_format(small, sizeof(small), 0, &run, &d), want);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(small, full, sizeof(small) - 1);
	assert_int_equal(x86_dump_format(NULL, 0, 0, &run, &d), want);
	/* The whole report fits the buffer x86_dump_vcpu uses. */
	assert_true(want < BUF_SIZE);
}

static void brief_line_for_a_bystander(void **state)
{
	struct x86_dump d = long_mode_state();
	char buf[BUF_SIZE];

	memset(&d.events, 0, sizeof(d.events));
	d.mp_state.mp_state = KVM_MP_STATE_UNINITIALIZED;
	size_t len = x86_dump_format_brief(buf, sizeof(buf), 1, &d);
	assert_int_equal(len, strlen(buf));
	assert_string_equal(buf, "skiff: vCPU 1 when stopped: RIP=ffffffff81a0b2c3 "
				 "RSP=ffffc90000013e58 RFL=00010246 CR3=0000000001234000 "
				 "MP=uninitialized EXC=none INT=none shadow=0 NMI=none\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(shows_every_general_register_and_rip),
		cmocka_unit_test(shows_segments_as_qemu_does),
		cmocka_unit_test(shows_control_registers_and_efer),
		cmocka_unit_test(shows_pending_and_injected_events),
		cmocka_unit_test(internal_error_shows_suberror_and_data_words),
		cmocka_unit_test(internal_error_with_too_many_words_stops_at_the_array),
		cmocka_unit_test(failed_entry_shows_the_hardware_reason),
		cmocka_unit_test(amd_reset_state_after_shutdown_is_named),
		cmocka_unit_test(a_failed_ioctl_is_named_and_the_rest_shown),
		cmocka_unit_test(a_short_buffer_is_cut_and_terminated),
		cmocka_unit_test(brief_line_for_a_bystander),
	};
	return cmocka_run_group_tests_name("x86_dump", tests, NULL, NULL);
}
