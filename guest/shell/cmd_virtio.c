/* virtio: the state of each virtio device and its queues. */
#include "drivers/virtio_pci.h"
#include "kernel/console.h"
#include "kernel/dma.h"
#include "lib/string.h"
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

static struct virtio_dev *find_device(const char *name)
{
	for (unsigned i = 0; i < virtio_count(); i++) {
		if (strcmp(virtio_get(i)->name, name) == 0)
			return virtio_get(i);
	}
	kprintf("virtio: no device %s\n", name);
	return NULL;
}

#define BREAK_TIMEOUT_NS (5ULL * 1000000000)

/* virtio break NAME [QUEUE]: a malformed chain on one of the device's
 * queues (by default the last one set up: for net and console that is the
 * transmit queue, which devices look at when notified), to check that the
 * device refuses it with DEVICE_NEEDS_RESET. */
static void break_device(const char *name, const char *queue)
{
	struct virtio_dev *dev = find_device(name);
	uint64_t index = 0;

	if (!dev)
		return;
	if (!dev->live || !dev->nr_queues) {
		kprintf("virtio: %s is not running\n", name);
		return;
	}
	struct virtq *vq = dev->queues[dev->nr_queues - 1];
	if (queue) {
		vq = NULL;
		for (unsigned i = 0; parse_u64(queue, &index) && i < dev->nr_queues; i++) {
			if (dev->queues[i]->index == index)
				vq = dev->queues[i];
		}
		if (!vq) {
			kprintf("virtio: %s has no queue %s in use\n", name, queue);
			return;
		}
	}
	kprintf("virtio: %s: queue %u: descriptor with next index %u (out of range)\n", name,
		vq->index, vq->size);
	if (!virtio_break(dev, vq, BREAK_TIMEOUT_NS))
		kprintf("virtio: %s did not object within 5 s\n", name);
}

/* virtio pcicfg NAME: the device's features read through the PCI
 * configuration access window agree with its BAR. */
static void check_pci_cfg(const char *name)
{
	struct virtio_dev *dev = find_device(name);
	uint64_t features = 0;

	if (!dev)
		return;
	const char *wrong = virtio_pci_cfg_check(dev, &features);
	if (wrong)
		kprintf("virtio: %s: PCI config window: %s\n", name, wrong);
	else
		kprintf("virtio: %s: PCI config window reads features 0x%llx, as the BAR does\n",
			name, (unsigned long long)features);
}

void cmd_virtio(int argc, char **argv)
{
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "break") == 0) {
		break_device(argv[2], argc == 4 ? argv[3] : NULL);
		return;
	}
	if (argc == 3 && strcmp(argv[1], "pcicfg") == 0) {
		check_pci_cfg(argv[2]);
		return;
	}
	if (argc != 1) {
		kprintf("usage: virtio [break NAME [QUEUE] | pcicfg NAME]\n");
		return;
	}
	if (!virtio_count()) {
		kprintf("virtio: no devices\n");
		return;
	}
	for (unsigned i = 0; i < virtio_count(); i++)
		print_device(virtio_get(i));
	kprintf("dma: %u KiB of %u KiB used\n", (unsigned)(dma_used() / 1024),
		(unsigned)(dma_size() / 1024));
}
