#include "vmm/vm_pci.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/mptable.h"
#include "vmm/vm.h"

static int vm_pci_fail(char *err, size_t n, const char *what, int rc)
{
	snprintf(err, n, "%s: %s", what, strerror(-rc));
	return SKIFF_EXIT_VMM_ERROR;
}

/* What usually refuses io_uring, for the message. */
static const char *vm_pci_io_uring_hint(int rc)
{
	switch (rc) {
	case -EPERM:
		return " (io_uring disabled by sysctl kernel.io_uring_disabled or a seccomp "
		       "filter?)";
	case -ENOSYS:
		return " (a kernel without io_uring, or a seccomp filter?)";
	case -ENOMEM:
		return " (RLIMIT_MEMLOCK too low for the ring on an older kernel?)";
	default:
		return "";
	}
}

/* The I/O thread runs the virtio devices, so its io_uring is set up by
 * the first of them: a VM without one runs on a host that refuses
 * io_uring, and one with them stops here, before anything is opened for
 * the device, naming the option that needed it. */
static int vm_pci_need_ioloop(struct vm *vm, const char *option, char *err, size_t n)
{
	int rc = vm->ioloop.ring_ready ? 0 : ioloop_init(&vm->ioloop);

	if (!rc)
		return 0;
	snprintf(err, n, "%s needs io_uring, which this host refuses: %s%s", option, strerror(-rc),
		 vm_pci_io_uring_hint(rc));
	return SKIFF_EXIT_VMM_ERROR;
}

int vm_pci_next_slot(struct pci_host *pci, struct irq_router *irqs, struct vm_pci_slot *next)
{
	int slot = pci_host_free_slot(pci);

	if (slot < 0)
		return slot;
	next->slot = (unsigned)slot;
	return irq_router_line(irqs, MPTABLE_PCI_INTX_GSI(next->slot), &next->intx);
}

/* Puts a virtio function on the bus and lets KVM and the I/O thread take
 * its queue kicks: KVM signals a kick eventfd itself (an ioeventfd where
 * BAR 0 decodes, moved with it) and a kick never exits to a vCPU thread. */
static int vm_pci_plug_virtio(struct vm *vm, struct virtio_pci *vp, unsigned slot)
{
	virtio_pci_set_ioeventfds(vp, irq_router_ioeventfd_controller(&vm->irqs));
	int rc = pci_host_add_at(&vm->pci, &vp->pci, slot);

	for (unsigned q = 0; q < vp->vdev.ops->num_queues && !rc; q++)
		rc = ioloop_watch_eventfd(&vm->ioloop, vp->kick_fds[q], virtio_pci_kicked,
					  &vp->kicks[q]);
	vp->vdev.poll_window_us = vm->cfg->io_poll_us;
	for (unsigned q = 0; q < vp->vdev.ops->num_queues && !rc && vm->cfg->io_poll_us; q++)
		if (vp->vdev.ops->polled_queues & (1u << q))
			rc = ioloop_add_poller(&vm->ioloop, virtio_pci_poll, &vp->kicks[q]);
	return rc;
}

static int vm_pci_add_rng(struct vm *vm, char *err, size_t n)
{
	struct vm_pci_slot at;
	int rc = vm_pci_need_ioloop(vm, "--rng", err, n);

	if (rc)
		return rc;
	vm->rng = calloc(1, sizeof(*vm->rng));
	if (!vm->rng)
		return vm_pci_fail(err, n, "virtio-rng", -ENOMEM);
	rc = vm_pci_next_slot(&vm->pci, &vm->irqs, &at);
	if (!rc)
		rc = virtio_rng_init(vm->rng, &vm->mem, irq_router_msi_controller(&vm->irqs),
				     at.intx);
	if (!rc)
		rc = vm_pci_plug_virtio(vm, &vm->rng->vp, at.slot);
	return rc ? vm_pci_fail(err, n, "virtio-rng", rc) : 0;
}

static int vm_pci_add_disk(struct vm *vm, const struct disk_config *disk, char *err, size_t n)
{
	struct virtio_blk *blk;
	struct vm_pci_slot at;
	int rc = vm_pci_need_ioloop(vm, "--disk", err, n);

	if (rc)
		return rc;
	blk = calloc(1, sizeof(*blk));
	if (!blk)
		return vm_pci_fail(err, n, "virtio-blk", -ENOMEM);
	if (virtio_blk_open(blk, disk->path, disk->read_only, err, n)) {
		free(blk);
		return SKIFF_EXIT_USAGE;
	}
	vm->disks[vm->nr_disks++] = blk;
	rc = vm_pci_next_slot(&vm->pci, &vm->irqs, &at);
	if (!rc)
		rc = virtio_blk_init(blk, &vm->mem, &vm->ioloop,
				     irq_router_msi_controller(&vm->irqs), at.intx);
	if (!rc)
		rc = vm_pci_plug_virtio(vm, &blk->vp, at.slot);
	return rc ? vm_pci_fail(err, n, "virtio-blk", rc) : 0;
}

static int vm_pci_add_net(struct vm *vm, const struct net_config *cfg, char *err, size_t n)
{
	struct virtio_net *net;
	struct vm_pci_slot at;
	int rc = vm_pci_need_ioloop(vm, "--net", err, n);

	if (rc)
		return rc;
	net = calloc(1, sizeof(*net));
	if (!net)
		return vm_pci_fail(err, n, "virtio-net", -ENOMEM);
	if (virtio_net_open_tap(net, cfg->tap, cfg->mac, err, n)) {
		free(net);
		return SKIFF_EXIT_USAGE;
	}
	vm->nets[vm->nr_nets++] = net;
	rc = vm_pci_next_slot(&vm->pci, &vm->irqs, &at);
	if (!rc)
		rc = virtio_net_init(net, &vm->mem, irq_router_msi_controller(&vm->irqs), at.intx);
	if (!rc)
		rc = vm_pci_plug_virtio(vm, &net->vp, at.slot);
	/* Frames from the tap are taken on the I/O thread too. */
	if (!rc)
		rc = ioloop_watch_fd(&vm->ioloop, net->tap_fd, virtio_net_tap_readable, net);
	return rc ? vm_pci_fail(err, n, "virtio-net", rc) : 0;
}

static size_t vm_pci_vcon_input(void *dev, const uint8_t *data, size_t len)
{
	return virtio_console_push_input(dev, data, len);
}

static void vm_pci_vcon_output_space(void *dev)
{
	virtio_console_output_space(dev);
}

/* --console virtio: the console's host end feeds this device, not the UART. */
static int vm_pci_add_console(struct vm *vm, char *err, size_t n)
{
	struct virtio_console_host host = {console_port_write, console_guest_rx_space,
					   &vm->console};
	struct vm_pci_slot at;
	int rc = vm_pci_need_ioloop(vm, "--console virtio", err, n);

	if (rc)
		return rc;
	vm->vcon = calloc(1, sizeof(*vm->vcon));
	if (!vm->vcon)
		return vm_pci_fail(err, n, "virtio-console", -ENOMEM);
	rc = vm_pci_next_slot(&vm->pci, &vm->irqs, &at);
	if (!rc)
		rc = virtio_console_init(vm->vcon, &vm->mem, irq_router_msi_controller(&vm->irqs),
					 at.intx, host);
	if (!rc)
		rc = vm_pci_plug_virtio(vm, &vm->vcon->vp, at.slot);
	if (rc)
		return vm_pci_fail(err, n, "virtio-console", rc);
	console_attach_port(
		&vm->console,
		&(struct console_port){vm_pci_vcon_input, vm_pci_vcon_output_space, vm->vcon});
	return 0;
}

int vm_pci_create(struct vm *vm, char *err, size_t n)
{
	int rc = pci_host_init(&vm->pci, &vm->pio, &vm->mmio, VM_PCI_MMIO_BASE,
			       VM_PCI_MMIO_END - VM_PCI_MMIO_BASE, VM_PCI_PIO_BASE,
			       VM_PCI_PIO_END - VM_PCI_PIO_BASE);
	if (rc)
		return vm_pci_fail(err, n, "PCI host bridge", rc);
	for (unsigned i = 0; i < vm->cfg->nr_disks; i++)
		if ((rc = vm_pci_add_disk(vm, &vm->cfg->disks[i], err, n)))
			return rc;
	if (vm->cfg->rng && (rc = vm_pci_add_rng(vm, err, n)))
		return rc;
	for (unsigned i = 0; i < vm->cfg->nr_nets; i++)
		if ((rc = vm_pci_add_net(vm, &vm->cfg->nets[i], err, n)))
			return rc;
	if (vm->cfg->console == CONSOLE_VIRTIO && (rc = vm_pci_add_console(vm, err, n)))
		return rc;
	return 0;
}

void vm_pci_destroy(struct vm *vm)
{
	ioloop_destroy(&vm->ioloop);
	for (unsigned i = 0; i < vm->nr_disks; i++) {
		virtio_blk_exit(vm->disks[i]);
		free(vm->disks[i]);
	}
	vm->nr_disks = 0;
	for (unsigned i = 0; i < vm->nr_nets; i++) {
		virtio_net_exit(vm->nets[i]);
		free(vm->nets[i]);
	}
	vm->nr_nets = 0;
	if (vm->vcon) {
		virtio_console_exit(vm->vcon);
		free(vm->vcon);
		vm->vcon = NULL;
	}
	if (vm->rng) {
		virtio_rng_exit(vm->rng);
		free(vm->rng);
		vm->rng = NULL;
	}
	if (vm->pci.slots[0]) /* the host bridge: pci_host_init ran */
		pci_host_exit(&vm->pci);
}
