/* pci: the functions found on the PCI buses. */
#include "drivers/pci.h"
#include "kernel/console.h"
#include "lib/string.h"
#include "shell/commands.h"

static const char *const bar_types[] = {"none", "mem32", "mem64", "io"};

static void print_details(struct pci_function *f)
{
	for (unsigned b = 0; b < PCI_MAX_BARS; b++) {
		const struct pci_bar *bar = &f->bars[b];
		if (bar->type == PCI_BAR_NONE)
			continue;
		kprintf("  bar%u %s%s 0x%llx size 0x%llx%s\n", b, bar_types[bar->type],
			bar->prefetchable ? " prefetchable" : "", (unsigned long long)bar->base,
			(unsigned long long)bar->size, bar->base ? "" : " (unassigned)");
	}
	kprintf("  command 0x%04x, capabilities:", pci_read16(f, PCI_COMMAND));
	uint8_t cap = 0;
	for (unsigned i = 0; i < 48; i++) {
		/* Every capability, whatever its ID: walk with the raw list. */
		cap = i == 0 ? ((pci_read16(f, PCI_STATUS) & PCI_STATUS_CAP_LIST)
					? pci_read8(f, PCI_CAP_POINTER) & 0xfc
					: 0)
			     : pci_read8(f, cap + 1) & 0xfc;
		if (cap < 0x40)
			break;
		kprintf(" 0x%02x@0x%02x", pci_read8(f, cap), cap);
	}
	kprintf("\n");
}

void cmd_pci(int argc, char **argv)
{
	bool verbose = argc > 1 && strcmp(argv[1], "-v") == 0;

	if (argc > 2 || (argc == 2 && !verbose)) {
		kprintf("usage: pci [-v]\n");
		return;
	}
	if (!pci_count()) {
		kprintf("pci: no devices\n");
		return;
	}
	for (unsigned i = 0; i < pci_count(); i++) {
		struct pci_function *f = pci_get(i);
		kprintf("pci %02x:%02x.%x %04x:%04x class %06x %s\n", f->bus, f->dev, f->fn,
			f->vendor, f->device, f->class_code, pci_name(f));
		if (verbose)
			print_details(f);
	}
}
