/* Boot sequence of the bundled guest, from the first C code on the BSP to
 * the shell. */
#include <stdint.h>

#include "arch/cpu.h"
#include "arch/interrupts.h"
#include "arch/ioapic.h"
#include "arch/lapic.h"
#include "arch/smp.h"
#include "drivers/pci.h"
#include "drivers/pic.h"
#include "drivers/virtio_pci.h"
#include "kernel/bootinfo.h"
#include "kernel/clock.h"
#include "kernel/cmdline.h"
#include "kernel/console.h"
#include "kernel/cpus.h"
#include "kernel/dma.h"
#include "kernel/memmap.h"
#include "kernel/platform.h"
#include "kernel/version.h"
#include "lib/string.h"
#include "shell/shell.h"

#define MIB (1024ULL * 1024)

void kernel_main(uint32_t start_info_paddr);

static void report_boot_info(void)
{
	if (!bootinfo.valid) {
		kprintf("skiff-guest: no PVH start_info at 0x%x (bad magic): no memory map or "
			"command line\n",
			bootinfo.start_info_paddr);
		return;
	}
	kprintf("skiff-guest: %llu MiB RAM in a %u-entry memory map\n",
		(unsigned long long)((memmap_ram_bytes() + MIB - 1) / MIB), bootinfo.nr_memmap);
}

static void setup_platform(void)
{
	char value[8];
	/* acpi=off: use the MP table even when ACPI is there (tests the path
	 * Skiff's guests take). */
	bool use_acpi = !(cmdline_get(bootinfo.cmdline, "acpi", value, sizeof(value)) &&
			  strcmp(value, "off") == 0);

	platform_discover(use_acpi, bootinfo.rsdp_paddr);
	kprintf("skiff-guest: %s lists %u CPU(s), %u IOAPIC(s), local APIC at 0x%x\n",
		platform.source, platform.nr_cpus, platform.nr_ioapics, platform.lapic_base);
	if (platform.cpus_ignored)
		kprintf("skiff-guest: %u more CPU entries ignored (disabled, duplicate, APIC ID "
			"over 254, or over %d CPUs)\n",
			platform.cpus_ignored, MAX_CPUS);
	pic_disable();
	lapic_init_bsp(platform.lapic_base);
	cpus_init();
	for (unsigned i = 0; i < platform.nr_ioapics; i++)
		ioapic_add(platform.ioapics[i].base, platform.ioapics[i].gsi_base);
}

static void setup_time(void)
{
	clock_calibrate();
	kprintf("skiff-guest: clock calibrated against %s: TSC %llu kHz, LAPIC timer %llu kHz\n",
		clock_reference(), (unsigned long long)(clock_tsc_hz() / 1000),
		(unsigned long long)(clock_lapic_timer_hz() / 1000));
	clock_start_tick();
}

/* PCI and the virtio drivers: after the clock (their timeouts) and with
 * interrupts on (MSI-X). */
static void setup_devices(void)
{
	dma_init();
	pci_init();
	if (pci_count())
		kprintf("skiff-guest: %u PCI function(s)\n", pci_count());
	virtio_pci_init_all();
}

void kernel_main(uint32_t start_info_paddr)
{
	clock_mark_boot();
	/* Before anything writes to low memory, where the loader put it. */
	bootinfo_capture(start_info_paddr);
	console_init();
	kprintf("skiff-guest %s booting\n", SKIFF_GUEST_VERSION);
	idt_init();
	report_boot_info();
	setup_platform();
	setup_time();
	irq_enable();
	console_enable_input_interrupt();
	smp_start_aps();
	kprintf("skiff-guest: %u of %u CPU(s) online\n", cpus_online(), cpus_count());
	setup_devices();
	kprintf("skiff-guest ready\n");
	shell_run(bootinfo.cmdline);
}
