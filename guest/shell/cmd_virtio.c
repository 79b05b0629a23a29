/* virtio: the state of each virtio device and its queues. */
#include "drivers/virtio_pci.h"
#include "kernel/console.h"
#include "shell/commands.h"

static void print_device(struct virtio_dev *dev)
{
	const struct pci_function *f = dev->pci;

	virtio_check(dev);
	kprintf("%s: pci %02x:%02x.%x, features 0x%llx of 0x%llx, ", dev->name, f->bus, f->dev,
		f->fn, (unsigned long long)dev->features, (unsigned long long)dev->device_features);
	if (dev->stopped) {
		kprintf("stopped: %s\n", dev->stopped);
		return;
	}
	kprintf("status 0x%02x, ", virtio_status(dev));
	if (dev->msix_on)
		kprintf("msi-x %u vector%s%s\n", dev->nr_vectors, dev->nr_vectors == 1 ? "" : "s",
			dev->config_vector ? "" : " (no config vector)");
	else
		kprintf("polled\n");
	for (unsigned i = 0; i < dev->nr_queues; i++) {
		const struct virtq *vq = dev->queues[i];
		kprintf("  queue %u: size %u%s%s, in flight %u, added %llu, completed %llu, "
			"notified %llu, ",
			vq->index, vq->size, vq->max_indirect ? ", indirect" : "",
			vq->event_idx ? ", event-idx" : "", vq->in_flight,
			(unsigned long long)vq->added, (unsigned long long)vq->completed,
			(unsigned long long)vq->notifications);
		if (vq->msix_entry == VIRTIO_NO_VECTOR)
			kprintf("polled\n");
		else
			kprintf("msi-x entry %u (vector 0x%02x)\n", vq->msix_entry,
				dev->lapic_vector[vq->msix_entry]);
	}
}

void cmd_virtio(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (!virtio_count()) {
		kprintf("virtio: no devices\n");
		return;
	}
	for (unsigned i = 0; i < virtio_count(); i++)
		print_device(virtio_get(i));
}
