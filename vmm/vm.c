#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "mm/memmap.h"
#include "vmm/boot_layout.h"
#include "vmm/linux_boot.h"
#include "vmm/metrics.h"
#include "vmm/mptable.h"
#include "vmm/output_file.h"
#include "vmm/pvh.h"
#include "vmm/vm_pci.h"
#include "vmm/x86_cpu.h"
#include "vmm/x86_dump.h"

#define KVM_API_VERSION_REQUIRED 12
/* Real-mode helper pages KVM needs on Intel hosts, just below the BIOS. */
#define VM_TSS_ADDR 0xfffbd000UL
#define VM_IDENTITY_MAP_ADDR 0xfffbc000ULL

static int vm_fail(char *err, size_t err_size, int status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int vm_fail(char *err, size_t err_size, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_size, fmt, ap);
	va_end(ap);
	return status;
}

static int vm_open_kvm(struct vm *vm, char *err, size_t n)
{
	static const struct {
		int cap;
		const char *name;
	} required[] = {
		{KVM_CAP_IRQCHIP, "IRQCHIP"},
		{KVM_CAP_USER_MEMORY, "USER_MEMORY"},
		{KVM_CAP_IMMEDIATE_EXIT, "IMMEDIATE_EXIT"},
		{KVM_CAP_PIT2, "PIT2"},
		{KVM_CAP_SET_TSS_ADDR, "SET_TSS_ADDR"},
		{KVM_CAP_EXT_CPUID, "EXT_CPUID"},
		{KVM_CAP_IRQFD, "IRQFD"},
		{KVM_CAP_IOEVENTFD, "IOEVENTFD"},
		{KVM_CAP_IRQ_ROUTING, "IRQ_ROUTING"},
	};

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return vm_fail(err, n, SKIFF_EXIT_VMM_ERROR,
			       "cannot open /dev/kvm: %s. Skiff needs KVM; on a machine without "
			       "it, run skiff through tools/kvm-host",
			       strerror(errno));
	int version = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION_REQUIRED)
		return vm_fail(err, n, SKIFF_EXIT_VMM_ERROR, "/dev/kvm has API version %d, not %d",
			       version, KVM_API_VERSION_REQUIRED);
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, required[i].cap) <= 0)
			return vm_fail(err, n, SKIFF_EXIT_VMM_ERROR,
				       "this KVM lacks KVM_CAP_%s, which Skiff needs",
				       required[i].name);
	int max_vcpus = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max_vcpus > 0 && vm->cfg->cpus > (unsigned)max_vcpus)
		return vm_fail(err, n, SKIFF_EXIT_USAGE,
			       "--cpus: this host's KVM allows at most %d", max_vcpus);
	return 0;
}

static int vm_create_platform(struct vm *vm, char *err, size_t n)
{
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	uint64_t identity_map = VM_IDENTITY_MAP_ADDR;

	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return vm_fail(err, n, SKIFF_EXIT_VMM_ERROR, "KVM_CREATE_VM: %s", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, VM_TSS_ADDR) < 0 ||
	    ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity_map) < 0)
		return vm_fail(err, n, SKIFF_EXIT_VMM_ERROR, "KVM real-mode setup: %s",
			       strerror(errno));
	/* In-kernel PIC, IOAPIC and LAPICs, and the PIT: interrupts and timer
	 * ticks never leave the kernel. */
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return vm_fail(err, n, SKIFF_EXIT_VMM_ERROR, "KVM_CREATE_IRQCHIP: %s",
			       strerror(errno));
	/* Every device line and MSI route reaches those chips through it. */
	irq_router_init(&vm->irqs, vm->vm_fd);
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return vm_fail(err, n, SKIFF_EXIT_VMM_ERROR, "KVM_CREATE_PIT2: %s",
			       strerror(errno));
	return 0;
}

static int vm_setup_memory(struct vm *vm, char *err, size_t n)
{
	int rc = guest_mem_init(&vm->mem, vm->cfg->mem_size);

	if (rc)
		return vm_fail(err, n, SKIFF_EXIT_VMM_ERROR,
			       "cannot allocate %llu MiB of guest RAM: %s",
			       (unsigned long long)(vm->cfg->mem_size >> 20), strerror(-rc));
	for (unsigned i = 0; i < vm->mem.nr_regions; i++) {
		const struct guest_mem_region *r = &vm->mem.regions[i];
		struct kvm_userspace_memory_region slot = {.slot = i,
							   .guest_phys_addr = r->gpa,
							   .memory_size = r->size,
							   .userspace_addr =
								   (uint64_t)(uintptr_t)r->hva};
		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
			return vm_fail(err, n, SKIFF_EXIT_VMM_ERROR, "KVM memory slot %u: %s", i,
				       strerror(errno));
	}
	return 0;
}

/* The kernel, checked by its format's parser before anything is opened. */
struct vm_boot {
	enum kernel_format format;
	struct pvh_kernel pvh;
	struct linux_kernel bz;
};

/* A bzImage must fit the guest's RAM below 3 GiB with its initrd, and its
 * command line the kernel's limit; all known before the VM exists. */
static int vm_plan_linux(const struct skiff_config *cfg, const struct kernel_image *img,
			 struct linux_kernel *bz, char *err, size_t n)
{
	struct guest_mem_region regions[GUEST_MEM_MAX_REGIONS];
	char why[256];

	guest_mem_layout(cfg->mem_size, regions);
	uint64_t low_end = regions[0].gpa + regions[0].size;
	if (linux_parse(img->kernel.bytes, img->kernel.size, bz, why, sizeof(why)) ||
	    linux_check_ram(bz, low_end, why, sizeof(why)))
		return vm_fail(err, n, SKIFF_EXIT_USAGE, "kernel '%s': %s", img->kernel.name, why);
	if (img->initrd.size && linux_place_initrd(bz, low_end, img->initrd.size, why, sizeof(why)))
		return vm_fail(err, n, SKIFF_EXIT_USAGE, "initrd '%s': %s", img->initrd.name, why);
	if (linux_check_cmdline(bz, cfg->cmdline, why, sizeof(why)))
		return vm_fail(err, n, SKIFF_EXIT_USAGE, "--cmdline: %s", why);
	return 0;
}

static int vm_check_kernel(const struct skiff_config *cfg, const struct kernel_image *img,
			   struct vm_boot *boot, char *err, size_t n)
{
	char why[256];

	boot->format = linux_detect_format(img->kernel.bytes, img->kernel.size);
	if (boot->format == KERNEL_FORMAT_BZIMAGE)
		return vm_plan_linux(cfg, img, &boot->bz, err, n);
	if (boot->format == KERNEL_FORMAT_UNKNOWN)
		return vm_fail(err, n, SKIFF_EXIT_USAGE,
			       "kernel '%s': not a kernel Skiff can boot: not an ELF file (PVH) "
			       "and no Linux boot sector (0xaa55 at 0x1fe) or 'HdrS' header",
			       img->kernel.name);
	if (pvh_parse(img->kernel.bytes, img->kernel.size, &boot->pvh, why, sizeof(why)))
		return vm_fail(err, n, SKIFF_EXIT_USAGE, "kernel '%s': %s", img->kernel.name, why);
	/* PVH has boot modules, but Skiff passes none yet. */
	if (img->initrd.size)
		return vm_fail(err, n, SKIFF_EXIT_USAGE,
			       "--initrd: kernel '%s' is a PVH ELF kernel; Skiff passes an initrd "
			       "to bzImage kernels only",
			       img->kernel.name);
	return 0;
}

static int vm_load_boot_data(struct vm *vm, const struct vm_boot *boot,
			     const struct kernel_image *kernel, char *err, size_t n)
{
	struct memmap_entry memmap[BOOT_MEMMAP_MAX_ENTRIES];
	char why[256];
	unsigned nr = memmap_build(vm->mem.regions, vm->mem.nr_regions, BOOT_RESERVED_START,
				   BOOT_RESERVED_END, memmap, BOOT_MEMMAP_MAX_ENTRIES);
	size_t mp_size = mptable_size(vm->cfg->cpus);
	uint8_t *mp = guest_mem_ptr(&vm->mem, BOOT_MPTABLE_ADDR, mp_size);
	int is_linux = boot->format == KERNEL_FORMAT_BZIMAGE;

	if (is_linux) {
		if (linux_load(&boot->bz, kernel->kernel.bytes, kernel->initrd.bytes, &vm->mem,
			       memmap, nr, vm->cfg->cmdline, why, sizeof(why)))
			return vm_fail(err, n, SKIFF_EXIT_VMM_ERROR, "kernel '%s': %s",
				       kernel->kernel.name, why);
	} else {
		if (pvh_load(&boot->pvh, kernel->kernel.bytes, &vm->mem, BOOT_KERNEL_MIN_ADDR, why,
			     sizeof(why)))
			return vm_fail(err, n, SKIFF_EXIT_USAGE, "kernel '%s': %s",
				       kernel->kernel.name, why);
		if (pvh_write_start_info(&vm->mem, memmap, nr, vm->cfg->cmdline, why, sizeof(why)))
			return vm_fail(err, n, SKIFF_EXIT_USAGE, "%s", why);
	}
	if (!mp || !mptable_write(mp, mp_size, (uint32_t)BOOT_MPTABLE_ADDR, vm->cfg->cpus) ||
	    (is_linux ? x86_cpu_write_linux_gdt(&vm->mem) : x86_cpu_write_boot_gdt(&vm->mem)))
		return vm_fail(err, n, SKIFF_EXIT_VMM_ERROR, "cannot write boot tables");
	return 0;
}

static void vm_power_request(void *ctx, enum power_event event, uint32_t detail)
{
	struct vm *vm = ctx;

	vm_stop_request(&vm->stop, event == POWER_RESET ? VM_STOP_RESET : VM_STOP_POWEROFF, detail);
}

static void vm_console_quit(void *ctx)
{
	struct vm *vm = ctx;

	vm_stop_request(&vm->stop, VM_STOP_USER_QUIT, 0);
}

static int vm_add_devices(struct vm *vm, char *err, size_t n)
{
	struct power_ctl power = {vm_power_request, vm};
	struct uart16550_host uart_host = {console_guest_tx, console_guest_rx_space, &vm->console};
	struct irq_line uart_irq;
	int rc = irq_router_line(&vm->irqs, UART_COM1_IRQ, &uart_irq);

	if (rc)
		return vm_fail(err, n, SKIFF_EXIT_VMM_ERROR, "UART interrupt line: %s",
			       strerror(-rc));
	uart16550_init(&vm->uart, uart_irq, uart_host);
	console_attach(&vm->console, &vm->uart, vm_console_quit, vm);
	debug_exit_init(&vm->debug_exit, power);
	i8042_init(&vm->i8042, power);
	rtc_cmos_init(&vm->rtc, (struct rtc_cmos_clock){0});

	rc = bus_register(&vm->pio, UART_COM1_BASE, UART_NR_REGS, &uart16550_ops, &vm->uart);
	if (!rc)
		rc = bus_register(&vm->pio, DEBUG_EXIT_PORT, DEBUG_EXIT_SIZE, &debug_exit_ops,
				  &vm->debug_exit);
	if (!rc)
		rc = bus_register(&vm->pio, I8042_PORT_BASE, I8042_PORT_LEN, &i8042_ops,
				  &vm->i8042);
	if (!rc)
		rc = bus_register(&vm->pio, RTC_CMOS_PORT_BASE, RTC_CMOS_PORT_LEN, &rtc_cmos_ops,
				  &vm->rtc);
	if (rc)
		return vm_fail(err, n, SKIFF_EXIT_VMM_ERROR, "registering devices: %s",
			       strerror(-rc));
	return vm_pci_create(vm, err, n);
}

static int vm_create_vcpus(struct vm *vm, uint32_t entry, char *err, size_t n)
{
	struct kvm_cpuid2 *cpuid = x86_cpu_supported_cpuid(vm->kvm_fd);
	struct x86_cpu_caps caps = x86_cpu_probe_caps(vm->kvm_fd);
	int rc = 0;

	vm->vcpus = calloc(vm->cfg->cpus, sizeof(*vm->vcpus));
	if (!cpuid || !vm->vcpus) {
		free(cpuid);
		return vm_fail(err, n, SKIFF_EXIT_VMM_ERROR, "reading supported CPUID: %s",
			       strerror(errno));
	}
	for (unsigned id = 0; id < vm->cfg->cpus && !rc; id++) {
		rc = vcpu_create(&vm->vcpus[id], vm, id);
		if (!rc || vm->vcpus[id].fd >= 0)
			vm->nr_vcpus++;
		if (!rc)
			rc = x86_cpu_init(vm->vcpus[id].fd, id, cpuid, &caps, entry,
					  (uint32_t)BOOT_START_INFO_ADDR);
		if (rc)
			vm_fail(err, n, SKIFF_EXIT_VMM_ERROR, "setting up vCPU %u: %s", id,
				strerror(-rc));
	}
	free(cpuid);
	return rc ? SKIFF_EXIT_VMM_ERROR : 0;
}

int vm_create(struct vm *vm, const struct skiff_config *cfg, const struct kernel_image *kernel,
	      char *err, size_t n)
{
	struct vm_boot boot = {.format = KERNEL_FORMAT_UNKNOWN};
	int rc;

	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->kvm_fd = vm->vm_fd = vm->irqs.vm_fd = -1;
	vm->mem.memfd = -1;
	vm->stop.wake_fd = -1;
	vm->ioloop.stop_fd = -1;
	vm->console.wake_fd = vm->console.in_fd = vm->console.out_fd = -1;
	vm->metrics_fd = -1;
	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");

	/* Bad input is reported before anything is allocated or opened. */
	if ((rc = vm_check_kernel(cfg, kernel, &boot, err, n)))
		return rc;
	if (vm_stop_init(&vm->stop))
		return vm_fail(err, n, SKIFF_EXIT_VMM_ERROR, "eventfd: %s", strerror(errno));
	if (console_open(&vm->console, cfg, err, n))
		return SKIFF_EXIT_USAGE;
	if (cfg->metrics_path &&
	    (vm->metrics_fd = output_file_open(cfg, "--metrics", cfg->metrics_path, err, n)) < 0)
		return SKIFF_EXIT_USAGE;
	if ((rc = vm_open_kvm(vm, err, n)) || (rc = vm_create_platform(vm, err, n)) ||
	    (rc = vm_setup_memory(vm, err, n)) ||
	    (rc = vm_load_boot_data(vm, &boot, kernel, err, n)))
		return rc;
	if ((rc = vm_add_devices(vm, err, n)) || (rc = vm_create_vcpus(vm, boot.pvh.entry, err, n)))
		return rc;
	/* vm_create_vcpus gave the boot CPU the PVH entry state; a bzImage
	 * starts at startup_64 in long mode instead. */
	if (boot.format == KERNEL_FORMAT_BZIMAGE &&
	    (rc = x86_cpu_set_linux64_state(vm->vcpus[0].fd, boot.bz.entry, LINUX_BOOT_PARAMS_ADDR,
					    LINUX_PAGE_TABLES_ADDR)))
		return vm_fail(err, n, SKIFF_EXIT_VMM_ERROR, "setting up vCPU 0: %s",
			       strerror(-rc));
	return 0;
}

static int vm_block_signals(sigset_t *handled)
{
	sigemptyset(handled);
	sigaddset(handled, SIGINT);
	sigaddset(handled, SIGTERM);
	sigaddset(handled, SIGHUP);
	signal(SIGPIPE, SIG_IGN);

	sigset_t blocked = *handled;
	sigaddset(&blocked, SIGUSR1); /* vCPU threads unblock their kick signal */
	if (pthread_sigmask(SIG_BLOCK, &blocked, NULL))
		return -1;
	return signalfd(-1, handled, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void vm_handle_signal(struct vm *vm, int sigfd)
{
	struct signalfd_siginfo si;

	if (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		vm_stop_request(&vm->stop, VM_STOP_SIGNAL, si.ssi_signo);
}

/* The main thread: console I/O and signals, until a stop is requested. */
static void vm_event_loop(struct vm *vm, int sigfd)
{
	while (!vm_stop_requested(&vm->stop)) {
		struct pollfd fds[5] = {{.fd = sigfd, .events = POLLIN},
					{.fd = vm->stop.wake_fd, .events = POLLIN}};
		unsigned nr_con = console_pollfds(&vm->console, fds + 2);

		if (poll(fds, 2 + nr_con, -1) < 0) {
			if (errno == EINTR)
				continue;
			vm_stop_request(&vm->stop, VM_STOP_VMM_ERROR, 0);
			break;
		}
		if (fds[0].revents)
			vm_handle_signal(vm, sigfd);
		console_handle(&vm->console, fds + 2, nr_con);
	}
}

/* Once nothing runs that could move the counters. A file that cannot be
 * written is reported; the guest's exit status stands. */
static void vm_write_metrics(struct vm *vm)
{
	int rc;

	if (vm->metrics_fd < 0)
		return;
	rc = metrics_write(vm->metrics_fd, vm);
	vm->metrics_fd = -1;
	if (rc)
		fprintf(stderr, "skiff: --metrics %s: %s\n", vm->cfg->metrics_path, strerror(-rc));
}

static int vm_report_stop(struct vm *vm)
{
	enum vm_stop_reason reason = vm->stop.reason;
	unsigned detail = vm->stop.detail;
	int status = vm_stop_exit_status(reason, detail);

	if (reason == VM_STOP_POWEROFF && detail)
		fprintf(stderr, "skiff: guest reported failure code %u through port 0x%x\n", detail,
			DEBUG_EXIT_PORT);
	else if (reason == VM_STOP_SIGNAL)
		fprintf(stderr, "skiff: stopped by signal %u (%s)\n", detail,
			strsignal((int)detail));
	else if (reason != VM_STOP_POWEROFF && reason != VM_STOP_USER_QUIT)
		fprintf(stderr, "skiff: %s\n", vm_stop_describe(reason));
	return status;
}

/* After a crash, where the other vCPUs were: the crashed one has dumped
 * itself (vcpu.c), and on AMD a triple fault leaves it only its reset
 * state, so theirs may be all there is to go on. */
static void vm_dump_bystanders(struct vm *vm)
{
	if (vm->stop.reason != VM_STOP_CRASH)
		return;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		if (i != vm->stop.detail)
			x86_dump_vcpu_brief(vm->vcpus[i].fd, i);
}

int vm_run(struct vm *vm)
{
	sigset_t handled;
	int sigfd = vm_block_signals(&handled);

	if (sigfd < 0) {
		fprintf(stderr, "skiff: signalfd: %s\n", strerror(errno));
		return SKIFF_EXIT_VMM_ERROR;
	}
	if (ioloop_start(&vm->ioloop)) {
		fprintf(stderr, "skiff: cannot start the I/O thread\n");
		vm_stop_request(&vm->stop, VM_STOP_VMM_ERROR, 0);
	}
	for (unsigned i = 0; i < vm->nr_vcpus && !vm_stop_requested(&vm->stop); i++) {
		int rc = vcpu_start(&vm->vcpus[i]);
		if (rc) {
			fprintf(stderr, "skiff: starting vCPU %u: %s\n", i, strerror(-rc));
			vm_stop_request(&vm->stop, VM_STOP_VMM_ERROR, 0);
			break;
		}
	}
	vm_event_loop(vm, sigfd);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_join(&vm->vcpus[i]);
	vm_dump_bystanders(vm);
	ioloop_stop(&vm->ioloop);
	vm_write_metrics(vm);
	close(sigfd);
	console_drain(&vm->console);
	return vm_report_stop(vm);
}

void vm_destroy(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_destroy(&vm->vcpus[i]);
	free(vm->vcpus);
	vm->vcpus = NULL;
	vm->nr_vcpus = 0;
	if (vm->metrics_fd >= 0)
		close(vm->metrics_fd);
	vm->metrics_fd = -1;
	if (vm->console.wake_fd >= 0)
		console_close(&vm->console);
	vm_pci_destroy(vm);
	if (vm->uart.host.tx)
		uart16550_exit(&vm->uart);
	if (vm->rtc.clock.now)
		rtc_cmos_exit(&vm->rtc);
	if (vm->irqs.vm_fd >= 0)
		irq_router_exit(&vm->irqs); /* after the devices that drive its lines */
	bus_destroy(&vm->pio);
	bus_destroy(&vm->mmio);
	guest_mem_destroy(&vm->mem);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->stop.wake_fd >= 0)
		vm_stop_destroy(&vm->stop);
}
