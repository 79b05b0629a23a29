/* The virtio 1.x PCI transport ("modern" only): a PCI function whose BAR 0
 * holds the common config, ISR, device config, notification area and the
 * MSI-X table, with vendor capabilities pointing at each. */
#ifndef SKIFF_DEVICES_VIRTIO_PCI_H
#define SKIFF_DEVICES_VIRTIO_PCI_H

#include <stdint.h>

#include "devices/ioeventfd.h"
#include "devices/irq.h"
#include "devices/msix.h"
#include "devices/pci.h"
#include "devices/virtio/virtio.h"

#define VIRTIO_PCI_VENDOR 0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040
#define VIRTIO_PCI_BAR 0
#define VIRTIO_PCI_BAR_SIZE 0x8000

/* BAR 0 layout */
#define VIRTIO_PCI_COMMON_OFF 0x0000
#define VIRTIO_PCI_COMMON_LEN 0x38
#define VIRTIO_PCI_ISR_OFF 0x1000
#define VIRTIO_PCI_DEVICE_CFG_OFF 0x2000
#define VIRTIO_PCI_DEVICE_CFG_MAX 0x1000
#define VIRTIO_PCI_NOTIFY_OFF 0x3000
#define VIRTIO_PCI_NOTIFY_MULTIPLIER 4
#define VIRTIO_PCI_MSIX_TABLE_OFF 0x4000
#define VIRTIO_PCI_MSIX_PBA_OFF 0x5000

struct virtio_pci;

/* What the I/O thread is given for one queue's kick eventfd. */
struct virtio_pci_kick {
	struct virtio_pci *vp;
	unsigned queue;
};

struct virtio_pci {
	struct pci_device pci;
	struct msix msix;
	struct virtio_device vdev;
	uint32_t device_feature_select;
	uint32_t driver_feature_select;
	uint16_t queue_select;
	uint8_t isr;
	uint8_t pci_cfg_cap; /* config offset of the VIRTIO_PCI_CAP_PCI_CFG window */
	/* Kicks land here: KVM signals them through ioeventfds, and a
	 * notify-area write that reaches us signals them by hand. */
	int kick_fds[VIRTIO_MAX_QUEUES];
	struct virtio_pci_kick kicks[VIRTIO_MAX_QUEUES];
	/* The ioeventfds on the notify registers, and the queues whose one
	 * is assigned where BAR 0 decodes now. */
	struct ioeventfd_controller ioeventfds;
	uint32_t doorbells;
};

/* Builds the PCI function for a back-end already set up in vp->vdev. */
int virtio_pci_init(struct virtio_pci *vp, struct msi_controller msi, struct irq_line intx);
void virtio_pci_exit(struct virtio_pci *vp);

/* Has the queues' notify registers answered by ioeventfds on kick_fds
 * wherever BAR 0 decodes, from then on. Call before the function goes on
 * the bus. Without it every notify write exits to a vCPU thread. */
void virtio_pci_set_ioeventfds(struct virtio_pci *vp, struct ioeventfd_controller ctl);

/* The I/O thread's poller for a polled queue (virtio_queue_poll); opaque
 * is &vp->kicks[q]. */
int virtio_pci_poll(void *opaque);

/* The I/O thread's callback for kick_fds[q]; opaque is &vp->kicks[q]. */
void virtio_pci_kicked(void *opaque);

#endif
