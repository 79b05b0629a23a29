#include <linux/kvm.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devices/bus.h"
#include "devices/debug_exit.h"
#include "devices/i8042.h"
#include "vmm/vcpu.h"
#include "vmm/vm_stop.h"
#include "vmm/x86_cpu.h"

/* KVM puts port I/O data in the page after struct kvm_run. */
#define RUN_SIZE 8192
#define PIO_DATA_OFFSET 4096
#define PROBE_PORT 0x510
#define PROBE_MMIO 0xd0000000ULL

struct probe {
	uint64_t last_offset;
	uint32_t last_len;
	uint8_t written[64];
	unsigned nwritten;
	int reads, writes;
};

static void probe_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	struct probe *p = opaque;

	p->last_offset = offset;
	p->last_len = len;
	for (uint32_t i = 0; i < len; i++)
		data[i] = (uint8_t)(0xa0 + p->reads + i);
	p->reads++;
}

static void probe_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct probe *p = opaque;

	p->last_offset = offset;
	p->last_len = len;
	assert_true(p->nwritten + len <= sizeof(p->written));
	memcpy(p->written + p->nwritten, data, len);
	p->nwritten += len;
	p->writes++;
}

static const struct bus_ops probe_ops = {"probe", probe_read, probe_write};

/* Power requests reach the stop state the way vm.c wires them. */
static void power_to_stop(void *ctx, enum power_event event, uint32_t detail)
{
	vm_stop_request(ctx, event == POWER_RESET ? VM_STOP_RESET : VM_STOP_POWEROFF, detail);
}

struct fixture {
	struct bus pio, mmio;
	struct vm_stop stop;
	struct probe pio_probe, mmio_probe;
	struct debug_exit debug_exit;
	struct i8042 i8042;
	struct vcpu_exit_ctx ctx;
	struct kvm_run *run;
};

static int setup(void **state)
{
	struct fixture *f = test_calloc(1, sizeof(*f));
	struct power_ctl power = {power_to_stop, &f->stop};

	bus_init(&f->pio, "pio");
	bus_init(&f->mmio, "mmio");
	assert_int_equal(vm_stop_init(&f->stop), 0);
	debug_exit_init(&f->debug_exit, power);
	i8042_init(&f->i8042, power);
	assert_int_equal(bus_register(&f->pio, PROBE_PORT, 4, &probe_ops, &f->pio_probe), 0);
	assert_int_equal(bus_register(&f->pio, DEBUG_EXIT_PORT, DEBUG_EXIT_SIZE, &debug_exit_ops,
				      &f->debug_exit),
			 0);
	assert_int_equal(
		bus_register(&f->pio, I8042_PORT_BASE, I8042_PORT_LEN, &i8042_ops, &f->i8042), 0);
	assert_int_equal(bus_register(&f->mmio, PROBE_MMIO, 0x1000, &probe_ops, &f->mmio_probe), 0);
	f->ctx = (struct vcpu_exit_ctx){&f->pio, &f->mmio, &f->stop, 0};
	f->run = test_calloc(1, RUN_SIZE);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	test_free(f->run);
	vm_stop_destroy(&f->stop);
	bus_destroy(&f->pio);
	bus_destroy(&f->mmio);
	test_free(f);
	return 0;
}

static uint8_t *pio_data(struct fixture *f)
{
	return (uint8_t *)f->run + PIO_DATA_OFFSET;
}

static void set_io(struct fixture *f, uint8_t dir, uint16_t port, uint8_t size, uint32_t count)
{
	f->run->exit_reason = KVM_EXIT_IO;
	f->run->io.direction = dir;
	f->run->io.port = port;
	f->run->io.size = size;
	f->run->io.count = count;
	f->run->io.data_offset = PIO_DATA_OFFSET;
}

static enum vcpu_action port_out(struct fixture *f, uint16_t port, uint32_t value, uint8_t size)
{
	set_io(f, KVM_EXIT_IO_OUT, port, size, 1);
	memcpy(pio_data(f), &value, size);
	return vcpu_handle_exit(&f->ctx, f->run);
}

static void set_mmio(struct fixture *f, uint64_t addr, uint32_t len, uint8_t is_write)
{
	f->run->exit_reason = KVM_EXIT_MMIO;
	f->run->mmio.phys_addr = addr;
	f->run->mmio.len = len;
	f->run->mmio.is_write = is_write;
}

/* Port I/O */

static void port_write_reaches_device_at_its_offset(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(port_out(f, PROBE_PORT + 2, 0xbeef, 2), VCPU_RESUME);
	assert_int_equal(f->pio_probe.writes, 1);
	assert_int_equal(f->pio_probe.last_offset, 2);
	assert_int_equal(f->pio_probe.last_len, 2);
	assert_memory_equal(f->pio_probe.written, "\xef\xbe", 2);
	assert_false(vm_stop_requested(&f->stop));
}

static void port_read_fills_kvm_data_area(void **state)
{
	struct fixture *f = *state;

	set_io(f, KVM_EXIT_IO_IN, PROBE_PORT, 4, 1);
	memset(pio_data(f), 0x11, 8);
	assert_int_equal(vcpu_handle_exit(&f->ctx, f->run), VCPU_RESUME);
	assert_int_equal(f->pio_probe.reads, 1);
	assert_int_equal(f->pio_probe.last_len, 4);
	assert_memory_equal(pio_data(f), "\xa0\xa1\xa2\xa3", 4);
	assert_int_equal(pio_data(f)[4], 0x11); /* nothing past size */
}

static void string_io_dispatches_every_item(void **state)
{
	struct fixture *f = *state;

	/* rep outsw with count 3: three 2-byte items back to back. */
	set_io(f, KVM_EXIT_IO_OUT, PROBE_PORT, 2, 3);
	memcpy(pio_data(f), "aabbcc", 6);
	assert_int_equal(vcpu_handle_exit(&f->ctx, f->run), VCPU_RESUME);
	assert_int_equal(f->pio_probe.writes, 3);
	assert_int_equal(f->pio_probe.nwritten, 6);
	assert_memory_equal(f->pio_probe.written, "aabbcc", 6);

	/* rep insb with count 3: each item read separately, in order. */
	set_io(f, KVM_EXIT_IO_IN, PROBE_PORT, 1, 3);
	memset(pio_data(f), 0, 8);
	assert_int_equal(vcpu_handle_exit(&f->ctx, f->run), VCPU_RESUME);
	assert_int_equal(f->pio_probe.reads, 3);
	assert_memory_equal(pio_data(f), "\xa0\xa1\xa2\0", 4);
}

static void unclaimed_port_reads_all_ones_and_writes_vanish(void **state)
{
	struct fixture *f = *state;

	set_io(f, KVM_EXIT_IO_IN, 0x2f8, 4, 1); /* COM2: nothing there */
	memset(pio_data(f), 0, 8);
	assert_int_equal(vcpu_handle_exit(&f->ctx, f->run), VCPU_RESUME);
	assert_memory_equal(pio_data(f), "\xff\xff\xff\xff\0", 5);
	assert_int_equal(port_out(f, 0x2f8, 0x41, 1), VCPU_RESUME);
	/* Straddling the end of the probe's range is not the probe's. */
	set_io(f, KVM_EXIT_IO_IN, PROBE_PORT + 3, 2, 1);
	assert_int_equal(vcpu_handle_exit(&f->ctx, f->run), VCPU_RESUME);
	assert_int_equal(f->pio_probe.reads, 0);
	assert_memory_equal(pio_data(f), "\xff\xff", 2);
	assert_false(vm_stop_requested(&f->stop));
}

/* MMIO */

static void mmio_read_and_write_reach_device(void **state)
{
	struct fixture *f = *state;

	set_mmio(f, PROBE_MMIO + 0x10, 8, 1);
	memcpy(f->run->mmio.data, "12345678", 8);
	assert_int_equal(vcpu_handle_exit(&f->ctx, f->run), VCPU_RESUME);
	assert_int_equal(f->mmio_probe.writes, 1);
	assert_int_equal(f->mmio_probe.last_offset, 0x10);
	assert_memory_equal(f->mmio_probe.written, "12345678", 8);

	set_mmio(f, PROBE_MMIO + 0x20, 4, 0);
	memset(f->run->mmio.data, 0x77, 8);
	assert_int_equal(vcpu_handle_exit(&f->ctx, f->run), VCPU_RESUME);
	assert_int_equal(f->mmio_probe.reads, 1);
	assert_int_equal(f->mmio_probe.last_len, 4);
	assert_memory_equal(f->run->mmio.data, "\xa0\xa1\xa2\xa3", 4);

	/* Unclaimed MMIO reads as all ones too, and does not stop the VM. */
	set_mmio(f, 0xfed00000, 4, 0);
	assert_int_equal(vcpu_handle_exit(&f->ctx, f->run), VCPU_RESUME);
	assert_memory_equal(f->run->mmio.data, "\xff\xff\xff\xff", 4);
}

static void mmio_length_zero_or_above_8_is_crash_not_overflow(void **state)
{
	static const uint32_t bad[] = {0, 9, 16, 0x1000, UINT32_MAX};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fixture *f = *state;

		/* A length past mmio.data[8] would copy into the rest of
		 * kvm_run; it must be refused before the device sees it. */
		set_mmio(f, PROBE_MMIO, bad[i], i % 2);
		/* The first stops the VM; the rest find it stopping. */
		assert_int_equal(vcpu_handle_exit(&f->ctx, f->run), i ? VCPU_EXIT : VCPU_CRASH);
		assert_int_equal(f->mmio_probe.reads + f->mmio_probe.writes, 0);
		assert_int_equal(f->stop.reason, VM_STOP_CRASH);
	}
}

/* Exits that end the run */

static void triple_fault_is_a_crash(void **state)
{
	struct fixture *f = *state;

	f->ctx.vcpu_id = 3;
	f->run->exit_reason = KVM_EXIT_SHUTDOWN;
	assert_int_equal(vcpu_handle_exit(&f->ctx, f->run), VCPU_CRASH);
	assert_int_equal(f->stop.reason, VM_STOP_CRASH);
	/* The stop names the vCPU, whose dump is then the one printed. */
	assert_int_equal(f->stop.detail, 3);
	assert_int_equal(vm_stop_exit_status(f->stop.reason, f->stop.detail),
			 SKIFF_EXIT_GUEST_CRASH);
}

static void failed_entry_is_a_crash(void **state)
{
	struct fixture *f = *state;

	f->run->exit_reason = KVM_EXIT_FAIL_ENTRY;
	f->run->fail_entry.hardware_entry_failure_reason = 0x80000021;
	assert_int_equal(vcpu_handle_exit(&f->ctx, f->run), VCPU_CRASH);
	assert_int_equal(f->stop.reason, VM_STOP_CRASH);
}

static void kvm_internal_error_is_a_crash(void **state)
{
	struct fixture *f = *state;

	f->run->exit_reason = KVM_EXIT_INTERNAL_ERROR;
	f->run->internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
	assert_int_equal(vcpu_handle_exit(&f->ctx, f->run), VCPU_CRASH);
	assert_int_equal(f->stop.reason, VM_STOP_CRASH);
}

static void unknown_exit_reason_is_a_crash(void **state)
{
	struct fixture *f = *state;

	f->run->exit_reason = 0x7fff;
	assert_int_equal(vcpu_handle_exit(&f->ctx, f->run), VCPU_CRASH);
	assert_int_equal(f->stop.reason, VM_STOP_CRASH);
}

static void halt_and_interrupt_exits_resume(void **state)
{
	struct fixture *f = *state;
	static const uint32_t benign[] = {KVM_EXIT_HLT, KVM_EXIT_INTR, KVM_EXIT_IRQ_WINDOW_OPEN};

	for (size_t i = 0; i < sizeof(benign) / sizeof(benign[0]); i++) {
		f->run->exit_reason = benign[i];
		assert_int_equal(vcpu_handle_exit(&f->ctx, f->run), VCPU_RESUME);
	}
	assert_false(vm_stop_requested(&f->stop));
}

static void system_event_shutdown_is_poweroff(void **state)
{
	struct fixture *f = *state;

	f->run->exit_reason = KVM_EXIT_SYSTEM_EVENT;
	f->run->system_event.type = KVM_SYSTEM_EVENT_SHUTDOWN;
	assert_int_equal(vcpu_handle_exit(&f->ctx, f->run), VCPU_EXIT);
	assert_int_equal(f->stop.reason, VM_STOP_POWEROFF);
	assert_int_equal(vm_stop_exit_status(f->stop.reason, f->stop.detail), SKIFF_EXIT_OK);
}

static void system_event_reset_is_reset(void **state)
{
	struct fixture *f = *state;

	f->run->exit_reason = KVM_EXIT_SYSTEM_EVENT;
	f->run->system_event.type = KVM_SYSTEM_EVENT_RESET;
	assert_int_equal(vcpu_handle_exit(&f->ctx, f->run), VCPU_EXIT);
	assert_int_equal(f->stop.reason, VM_STOP_RESET);
}

static void system_event_crash_is_a_crash(void **state)
{
	struct fixture *f = *state;

	f->run->exit_reason = KVM_EXIT_SYSTEM_EVENT;
	f->run->system_event.type = KVM_SYSTEM_EVENT_CRASH;
	assert_int_equal(vcpu_handle_exit(&f->ctx, f->run), VCPU_CRASH);
	assert_int_equal(f->stop.reason, VM_STOP_CRASH);
}

static void first_stop_reason_wins(void **state)
{
	struct fixture *f = *state;

	f->run->exit_reason = KVM_EXIT_SYSTEM_EVENT;
	f->run->system_event.type = KVM_SYSTEM_EVENT_RESET;
	assert_int_equal(vcpu_handle_exit(&f->ctx, f->run), VCPU_EXIT);
	/* Another vCPU then triple-faults and a third writes the exit port.
	 * The crash stops nothing more, so it is neither reported nor
	 * dumped: the vCPU just leaves. */
	f->run->exit_reason = KVM_EXIT_SHUTDOWN;
	assert_int_equal(vcpu_handle_exit(&f->ctx, f->run), VCPU_EXIT);
	assert_int_equal(port_out(f, DEBUG_EXIT_PORT, 7, 1), VCPU_EXIT);
	assert_int_equal(f->stop.reason, VM_STOP_RESET);
	assert_int_equal(f->stop.detail, 0);
	assert_false(vm_stop_request(&f->stop, VM_STOP_SIGNAL, 15));
	assert_int_equal(f->stop.reason, VM_STOP_RESET);
}

static void exit_after_stop_request_leaves_run_loop(void **state)
{
	struct fixture *f = *state;

	assert_true(vm_stop_request(&f->stop, VM_STOP_SIGNAL, 2));
	/* An ordinary exit still completes, then the vCPU stops. */
	assert_int_equal(port_out(f, PROBE_PORT, 1, 1), VCPU_EXIT);
	assert_int_equal(f->pio_probe.writes, 1);
	f->run->exit_reason = KVM_EXIT_HLT;
	assert_int_equal(vcpu_handle_exit(&f->ctx, f->run), VCPU_EXIT);
	assert_int_equal(vm_stop_exit_status(f->stop.reason, f->stop.detail), 130);
}

/* Platform devices */

static void debug_exit_zero_powers_off_with_status_0(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(port_out(f, DEBUG_EXIT_PORT, 0, 1), VCPU_EXIT);
	assert_int_equal(f->stop.reason, VM_STOP_POWEROFF);
	assert_int_equal(f->stop.detail, 0);
	assert_int_equal(vm_stop_exit_status(f->stop.reason, f->stop.detail), SKIFF_EXIT_OK);
}

static void debug_exit_nonzero_reports_guest_failure(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(port_out(f, DEBUG_EXIT_PORT, 3, 1), VCPU_EXIT);
	assert_int_equal(f->stop.reason, VM_STOP_POWEROFF);
	assert_int_equal(f->stop.detail, 3);
	assert_int_equal(vm_stop_exit_status(f->stop.reason, f->stop.detail),
			 SKIFF_EXIT_GUEST_FAILURE);
	assert_int_equal(SKIFF_EXIT_GUEST_FAILURE, 4);
}

static void debug_exit_takes_full_32_bit_write(void **state)
{
	struct fixture *f = *state;

	/* A failure code whose low byte is 0 must not read as success. */
	assert_int_equal(port_out(f, DEBUG_EXIT_PORT, 0x100, 4), VCPU_EXIT);
	assert_int_equal(f->stop.detail, 0x100);
	assert_int_equal(vm_stop_exit_status(f->stop.reason, f->stop.detail),
			 SKIFF_EXIT_GUEST_FAILURE);
}

static void debug_exit_read_does_not_stop(void **state)
{
	struct fixture *f = *state;

	set_io(f, KVM_EXIT_IO_IN, DEBUG_EXIT_PORT, 1, 1);
	assert_int_equal(vcpu_handle_exit(&f->ctx, f->run), VCPU_RESUME);
	assert_false(vm_stop_requested(&f->stop));
}

static void i8042_reset_command_resets(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(port_out(f, I8042_CMD_PORT, I8042_CMD_RESET, 1), VCPU_EXIT);
	assert_int_equal(f->stop.reason, VM_STOP_RESET);
	assert_int_equal(vm_stop_exit_status(f->stop.reason, f->stop.detail), SKIFF_EXIT_OK);
}

static void i8042_other_writes_do_not_reset(void **state)
{
	struct fixture *f = *state;

	/* 0xfe as data, and other commands, are not the reset command. */
	assert_int_equal(port_out(f, I8042_DATA_PORT, I8042_CMD_RESET, 1), VCPU_RESUME);
	assert_int_equal(port_out(f, I8042_CMD_PORT, 0xad, 1), VCPU_RESUME);
	assert_int_equal(port_out(f, I8042_CMD_PORT, 0xff, 1), VCPU_RESUME);
	assert_false(vm_stop_requested(&f->stop));
	/* The status port reads 0: no keyboard data waiting, input empty. */
	set_io(f, KVM_EXIT_IO_IN, I8042_CMD_PORT, 1, 1);
	pio_data(f)[0] = 0x55;
	assert_int_equal(vcpu_handle_exit(&f->ctx, f->run), VCPU_RESUME);
	assert_int_equal(pio_data(f)[0], 0);
}

/* CPUID */

static const struct x86_cpu_caps no_caps = {.tsc_deadline = false};

static struct kvm_cpuid2 *cpuid_table(unsigned n)
{
	struct kvm_cpuid2 *c = test_calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));

	c->nent = n;
	return c;
}

static void cpuid_carries_apic_id_and_hypervisor_bit(void **state)
{
	static const unsigned ids[] = {0, 1, 7, 253};

	for (size_t t = 0; t < sizeof(ids) / sizeof(ids[0]); t++) {
		struct kvm_cpuid2 *c = cpuid_table(6);
		unsigned id = ids[t];

		c->entries[0] =
			(struct kvm_cpuid_entry2){.function = 0, .eax = 0x1f, .ebx = 0x756e6547};
		/* Host values: some other APIC ID in EBX[31:24], brand/CLFLUSH/
		 * logical count below it that must survive. */
		c->entries[1] = (struct kvm_cpuid_entry2){.function = 1,
							  .eax = 0x000906ea,
							  .ebx = 0xff100800,
							  .ecx = 0x7ffafbff,
							  .edx = 0xbfebfbff};
		c->entries[2] = (struct kvm_cpuid_entry2){.function = 0xb,
							  .index = 0,
							  .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
							  .eax = 1,
							  .ebx = 2,
							  .ecx = 0x100,
							  .edx = 0xdead};
		c->entries[3] = (struct kvm_cpuid_entry2){.function = 0xb,
							  .index = 1,
							  .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
							  .eax = 4,
							  .ebx = 8,
							  .ecx = 0x201,
							  .edx = 0xdead};
		c->entries[4] = (struct kvm_cpuid_entry2){.function = 0x1f, .edx = 0xdead};
		c->entries[5] = (struct kvm_cpuid_entry2){
			.function = 0x80000001, .ebx = 0xabcdef01, .edx = 0x12345678};

		x86_cpu_patch_cpuid(c, id, &no_caps);

		assert_int_equal(c->entries[1].ebx >> 24, id);
		assert_int_equal(c->entries[1].ebx & 0x00ffffff, 0x100800);
		assert_int_equal(c->entries[1].ecx, 0x7ffafbff | (1u << 31));
		assert_int_equal(c->entries[1].eax, 0x000906ea);
		assert_int_equal(c->entries[1].edx, 0xbfebfbff);
		/* x2APIC ID on every subleaf of the topology leaves. */
		assert_int_equal(c->entries[2].edx, id);
		assert_int_equal(c->entries[3].edx, id);
		assert_int_equal(c->entries[4].edx, id);
		assert_int_equal(c->entries[2].ecx, 0x100); /* level type untouched */
		assert_int_equal(c->entries[3].ebx, 8);
		/* Other leaves untouched. */
		assert_int_equal(c->entries[0].ebx, 0x756e6547);
		assert_int_equal(c->entries[5].ebx, 0xabcdef01);
		assert_int_equal(c->entries[5].edx, 0x12345678);
		test_free(c);
	}
}

static void cpuid_patch_is_idempotent_per_vcpu(void **state)
{
	struct kvm_cpuid2 *c = cpuid_table(1);

	/* Each vCPU patches its own copy of one table; patching for id 5 and
	 * then id 2 must leave id 2, not a mix. */
	c->entries[0] = (struct kvm_cpuid_entry2){.function = 1, .ebx = 0x00020800};
	x86_cpu_patch_cpuid(c, 5, &no_caps);
	x86_cpu_patch_cpuid(c, 2, &no_caps);
	assert_int_equal(c->entries[0].ebx, 0x02020800);
	test_free(c);
}

/* Leaves 1 and the KVM paravirt leaves as KVM_GET_SUPPORTED_CPUID gave them
 * in a test host (AMD, nested): no TSC-deadline bit, which KVM leaves to
 * the VMM. */
#define KVM_LEAF1_ECX 0x00202001u
#define CPUID_TSC_DEADLINE (1u << 24)
#define CPUID_HYPERVISOR (1u << 31)

static struct kvm_cpuid2 *kvm_supported_table(void)
{
	struct kvm_cpuid2 *c = cpuid_table(3);

	c->entries[0] = (struct kvm_cpuid_entry2){
		.function = 1, .eax = 0x00060fb1, .ebx = 0x00020800, .ecx = KVM_LEAF1_ECX};
	c->entries[1] = (struct kvm_cpuid_entry2){.function = 0x40000000,
						  .eax = 0x40000001,
						  .ebx = 0x4b4d564b,
						  .ecx = 0x564b4d56,
						  .edx = 0x4d};
	c->entries[2] = (struct kvm_cpuid_entry2){.function = 0x40000001, .eax = 0x01007efb};
	return c;
}

static void cpuid_offers_tsc_deadline_when_kvm_has_the_cap(void **state)
{
	struct x86_cpu_caps caps = {.tsc_deadline = true};
	struct kvm_cpuid2 *c = kvm_supported_table();

	x86_cpu_patch_cpuid(c, 0, &caps);
	assert_int_equal(c->entries[0].ecx, KVM_LEAF1_ECX | CPUID_TSC_DEADLINE | CPUID_HYPERVISOR);
	/* kvm-clock and the other paravirt features reach the guest as KVM
	 * reported them: signature "KVMKVMKVM", features unchanged. */
	assert_int_equal(c->entries[1].eax, 0x40000001);
	assert_int_equal(c->entries[1].ebx, 0x4b4d564b);
	assert_int_equal(c->entries[1].edx, 0x4d);
	assert_int_equal(c->entries[2].eax, 0x01007efb);
	test_free(c);
}

static void cpuid_without_the_cap_has_no_tsc_deadline(void **state)
{
	struct kvm_cpuid2 *c = kvm_supported_table();

	x86_cpu_patch_cpuid(c, 0, &no_caps);
	assert_int_equal(c->entries[0].ecx, KVM_LEAF1_ECX | CPUID_HYPERVISOR);
	test_free(c);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(port_write_reaches_device_at_its_offset),
		T(port_read_fills_kvm_data_area),
		T(string_io_dispatches_every_item),
		T(unclaimed_port_reads_all_ones_and_writes_vanish),
		T(mmio_read_and_write_reach_device),
		T(mmio_length_zero_or_above_8_is_crash_not_overflow),
		T(triple_fault_is_a_crash),
		T(failed_entry_is_a_crash),
		T(kvm_internal_error_is_a_crash),
		T(unknown_exit_reason_is_a_crash),
		T(halt_and_interrupt_exits_resume),
		T(system_event_shutdown_is_poweroff),
		T(system_event_reset_is_reset),
		T(system_event_crash_is_a_crash),
		T(first_stop_reason_wins),
		T(exit_after_stop_request_leaves_run_loop),
		T(debug_exit_zero_powers_off_with_status_0),
		T(debug_exit_nonzero_reports_guest_failure),
		T(debug_exit_takes_full_32_bit_write),
		T(debug_exit_read_does_not_stop),
		T(i8042_reset_command_resets),
		T(i8042_other_writes_do_not_reset),
		T(cpuid_carries_apic_id_and_hypervisor_bit),
		T(cpuid_patch_is_idempotent_per_vcpu),
		T(cpuid_offers_tsc_deadline_when_kvm_has_the_cap),
		T(cpuid_without_the_cap_has_no_tsc_deadline),
	};
	return cmocka_run_group_tests_name("vcpu_exit", tests, NULL, NULL);
}
