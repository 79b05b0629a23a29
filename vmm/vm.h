/* A virtual machine: KVM handles, guest RAM, buses, platform devices and
 * vCPUs, built from a validated config and run until the guest stops. */
#ifndef SKIFF_VMM_VM_H
#define SKIFF_VMM_VM_H

#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/debug_exit.h"
#include "devices/i8042.h"
#include "devices/rtc_cmos.h"
#include "devices/pci.h"
#include "devices/uart16550.h"
#include "devices/virtio/virtio_blk.h"
#include "devices/virtio/virtio_console.h"
#include "devices/virtio/virtio_net.h"
#include "devices/virtio/virtio_rng.h"
#include "mm/guest_mem.h"
#include "vmm/config.h"
#include "vmm/console.h"
#include "vmm/ioloop.h"
#include "vmm/irq_router.h"
#include "vmm/vcpu.h"
#include "vmm/vm_stop.h"

/* A boot file read whole into memory. */
struct boot_file {
	const char *name; /* for messages: the path, or "bundled guest" */
	const uint8_t *bytes;
	size_t size; /* 0: no such file (no --initrd) */
	void *owned; /* file contents to free, NULL for the bundled image */
};

/* The kernel to boot (PVH ELF or bzImage) and its optional initrd. */
struct kernel_image {
	struct boot_file kernel;
	struct boot_file initrd;
};

struct vm {
	const struct skiff_config *cfg;
	int kvm_fd;
	int vm_fd;
	struct guest_mem mem;
	struct bus pio;
	struct bus mmio;
	struct vm_stop stop;
	struct console console;

	struct uart16550 uart;
	struct debug_exit debug_exit;
	struct i8042 i8042;
	struct rtc_cmos rtc;

	struct irq_router irqs;
	struct pci_host pci;
	struct ioloop ioloop; /* set up by the first virtio device */
	struct virtio_rng *rng;
	unsigned nr_disks;
	struct virtio_blk *disks[CONFIG_MAX_DISKS];
	unsigned nr_nets;
	struct virtio_net *nets[CONFIG_MAX_NETS];
	struct virtio_console *vcon; /* --console virtio */

	unsigned nr_vcpus; /* created so far */
	struct vcpu *vcpus;

	int metrics_fd; /* --metrics, written when the VM stops; -1: none */
};

/* Reads a kernel file (or picks the bundled guest when kernel_path is NULL)
 * and the initrd, if initrd_path is not NULL, refusing one larger than
 * initrd_max bytes. Returns 0, or -1 with a message naming the file and
 * problem in err. */
int kernel_image_read(struct kernel_image *img, const char *kernel_path, const char *initrd_path,
		      uint64_t initrd_max, char *err, size_t err_size);
void kernel_image_free(struct kernel_image *img);

/* Builds the VM. Returns 0 on success, or an exit status (SKIFF_EXIT_USAGE
 * for bad input, SKIFF_EXIT_VMM_ERROR otherwise) with err set. */
int vm_create(struct vm *vm, const struct skiff_config *cfg, const struct kernel_image *kernel,
	      char *err, size_t err_size);
/* Runs until the guest stops or a signal arrives; returns the exit status. */
int vm_run(struct vm *vm);
void vm_destroy(struct vm *vm);

#endif
