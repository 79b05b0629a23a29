#include "devices/virtio/virtio_pci.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define PCI_CAP_ID_VENDOR 0x09
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG 3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG 5
#define VIRTIO_PCI_CAP_LEN 16
#define VIRTIO_PCI_NOTIFY_CAP_LEN 20
#define VIRTIO_PCI_CFG_CAP_LEN 20 /* the cap and 4 bytes of pci_cfg_data */
/* Fields of struct virtio_pci_cap, from the capability's start. */
#define CAP_BAR 4
#define CAP_OFFSET 8
#define CAP_LENGTH 12
#define CAP_PCI_CFG_DATA 16
#define VIRTIO_PCI_ISR_QUEUE 0x1
#define VIRTIO_PCI_ISR_CONFIG 0x2
#define VIRTIO_NO_VECTOR 0xffff

/* Common configuration registers (virtio 1.x, 4.1.4.3). */
enum {
	COMMON_DFSELECT = 0x00,
	COMMON_DF = 0x04,
	COMMON_GFSELECT = 0x08,
	COMMON_GF = 0x0c,
	COMMON_MSIX = 0x10,
	COMMON_NUMQ = 0x12,
	COMMON_STATUS = 0x14,
	COMMON_CFGGENERATION = 0x15,
	COMMON_Q_SELECT = 0x16,
	COMMON_Q_SIZE = 0x18,
	COMMON_Q_MSIX = 0x1a,
	COMMON_Q_ENABLE = 0x1c,
	COMMON_Q_NOFF = 0x1e,
	COMMON_Q_DESCLO = 0x20,
	COMMON_Q_DESCHI = 0x24,
	COMMON_Q_AVAILLO = 0x28,
	COMMON_Q_AVAILHI = 0x2c,
	COMMON_Q_USEDLO = 0x30,
	COMMON_Q_USEDHI = 0x34,
};

static struct virtq *vp_selected_queue(struct virtio_pci *vp)
{
	return vp->queue_select < vp->vdev.ops->num_queues ? &vp->vdev.vqs[vp->queue_select] : NULL;
}

static void vp_set_low32(uint64_t *reg, uint32_t v)
{
	*reg = (*reg & ~0xffffffffULL) | v;
}

static void vp_set_high32(uint64_t *reg, uint32_t v)
{
	*reg = (*reg & 0xffffffffULL) | ((uint64_t)v << 32);
}

static uint32_t vp_common_read_queue(struct virtio_pci *vp, unsigned off)
{
	struct virtq *vq = vp_selected_queue(vp);

	if (!vq)
		return off == COMMON_Q_MSIX ? VIRTIO_NO_VECTOR : 0;
	switch (off) {
	case COMMON_Q_SIZE:
		return vq->size;
	case COMMON_Q_MSIX:
		return vp->vdev.queue_vector[vp->queue_select];
	case COMMON_Q_ENABLE:
		return vq->ready;
	case COMMON_Q_NOFF:
		return vp->queue_select;
	case COMMON_Q_DESCLO:
		return (uint32_t)vq->desc_gpa;
	case COMMON_Q_DESCHI:
		return (uint32_t)(vq->desc_gpa >> 32);
	case COMMON_Q_AVAILLO:
		return (uint32_t)vq->avail_gpa;
	case COMMON_Q_AVAILHI:
		return (uint32_t)(vq->avail_gpa >> 32);
	case COMMON_Q_USEDLO:
		return (uint32_t)vq->used_gpa;
	case COMMON_Q_USEDHI:
		return (uint32_t)(vq->used_gpa >> 32);
	default:
		return 0;
	}
}

static uint32_t vp_common_read(struct virtio_pci *vp, unsigned off)
{
	struct virtio_device *vdev = &vp->vdev;

	switch (off) {
	case COMMON_DFSELECT:
		return vp->device_feature_select;
	case COMMON_DF:
		return vp->device_feature_select < 2
			       ? (uint32_t)(vdev->host_features >> (32 * vp->device_feature_select))
			       : 0;
	case COMMON_GFSELECT:
		return vp->driver_feature_select;
	case COMMON_GF:
		return vp->driver_feature_select < 2 ? (uint32_t)(vdev->driver_features >>
								  (32 * vp->driver_feature_select))
						     : 0;
	case COMMON_MSIX:
		return vdev->config_vector;
	case COMMON_NUMQ:
		return vdev->ops->num_queues;
	case COMMON_STATUS:
		return vdev->status;
	case COMMON_CFGGENERATION:
		return vdev->config_generation;
	case COMMON_Q_SELECT:
		return vp->queue_select;
	default:
		return vp_common_read_queue(vp, off);
	}
}

/* Queue registers may change only while the queue is not enabled. */
static void vp_common_write_queue(struct virtio_pci *vp, unsigned off, uint32_t val)
{
	struct virtq *vq = vp_selected_queue(vp);

	if (!vq)
		return;
	if (off == COMMON_Q_MSIX) {
		vp->vdev.queue_vector[vp->queue_select] =
			val < vp->msix.nr_vectors ? (uint16_t)val : VIRTIO_NO_VECTOR;
		return;
	}
	if (vq->ready)
		return;
	switch (off) {
	case COMMON_Q_SIZE:
		/* Any size up to the maximum; virtq_activate checks it. */
		vq->size = (uint16_t)val;
		break;
	case COMMON_Q_ENABLE:
		if (val == 1)
			virtio_device_enable_queue(&vp->vdev, vp->queue_select);
		break;
	case COMMON_Q_DESCLO:
		vp_set_low32(&vq->desc_gpa, val);
		break;
	case COMMON_Q_DESCHI:
		vp_set_high32(&vq->desc_gpa, val);
		break;
	case COMMON_Q_AVAILLO:
		vp_set_low32(&vq->avail_gpa, val);
		break;
	case COMMON_Q_AVAILHI:
		vp_set_high32(&vq->avail_gpa, val);
		break;
	case COMMON_Q_USEDLO:
		vp_set_low32(&vq->used_gpa, val);
		break;
	case COMMON_Q_USEDHI:
		vp_set_high32(&vq->used_gpa, val);
		break;
	default:
		break;
	}
}

static void vp_common_write(struct virtio_pci *vp, unsigned off, uint32_t val)
{
	struct virtio_device *vdev = &vp->vdev;

	/* Until a reset is done the driver only waits for the status to
	 * read 0; whatever else it writes would outlive the reset. */
	if (virtio_device_resetting(vdev) && off != COMMON_STATUS)
		return;
	switch (off) {
	case COMMON_DFSELECT:
		vp->device_feature_select = val;
		break;
	case COMMON_GFSELECT:
		vp->driver_feature_select = val;
		break;
	case COMMON_GF:
		/* Features are fixed once FEATURES_OK is set. */
		if (vp->driver_feature_select < 2 && !(vdev->status & VIRTIO_STATUS_FEATURES_OK)) {
			uint64_t *f = &vdev->driver_features;
			if (vp->driver_feature_select == 0)
				vp_set_low32(f, val);
			else
				vp_set_high32(f, val);
		}
		break;
	case COMMON_MSIX:
		vdev->config_vector = val < vp->msix.nr_vectors ? (uint16_t)val : VIRTIO_NO_VECTOR;
		break;
	case COMMON_STATUS:
		virtio_device_set_status(vdev, (uint8_t)val);
		if (val == 0) {
			/* Reset: nothing pending, and the INTx line goes down. */
			vp->isr = 0;
			pci_set_intx(&vp->pci, false);
		}
		break;
	case COMMON_Q_SELECT:
		vp->queue_select = (uint16_t)val;
		break;
	default:
		vp_common_write_queue(vp, off, val);
		break;
	}
}

/* Register widths of the common config: a guest access must match. */
static unsigned vp_common_width(unsigned off)
{
	if (off == COMMON_STATUS || off == COMMON_CFGGENERATION)
		return 1;
	if (off >= COMMON_MSIX && off < COMMON_Q_DESCLO)
		return 2;
	return 4;
}

static void vp_common_access(struct virtio_pci *vp, unsigned off, uint8_t *data, uint32_t len,
			     bool write)
{
	uint32_t val = 0;

	/* 64-bit fields may come as two dword accesses; other mismatched
	 * widths are ignored (reads return 0). */
	if (off >= VIRTIO_PCI_COMMON_LEN || len != vp_common_width(off))
		return;
	pthread_mutex_lock(&vp->vdev.lock);
	if (write) {
		memcpy(&val, data, len);
		vp_common_write(vp, off, val);
	} else {
		val = vp_common_read(vp, off);
		memcpy(data, &val, len);
	}
	pthread_mutex_unlock(&vp->vdev.lock);
}

static void vp_device_cfg_access(struct virtio_pci *vp, unsigned off, uint8_t *data, uint32_t len,
				 bool write)
{
	const struct virtio_device_ops *ops = vp->vdev.ops;

	if (off + len > ops->config_size)
		return;
	pthread_mutex_lock(&vp->vdev.lock);
	if (write && ops->write_config && !virtio_device_resetting(&vp->vdev))
		ops->write_config(&vp->vdev, off, data, len);
	else if (!write && ops->read_config)
		ops->read_config(&vp->vdev, off, data, len);
	pthread_mutex_unlock(&vp->vdev.lock);
}

static uint8_t vp_read_isr(struct virtio_pci *vp)
{
	pthread_mutex_lock(&vp->vdev.lock);
	uint8_t isr = vp->isr;
	vp->isr = 0;
	pci_set_intx(&vp->pci, false);
	pthread_mutex_unlock(&vp->vdev.lock);
	return isr;
}

static void vp_kick(struct virtio_pci *vp, unsigned q)
{
	uint64_t one = 1;

	if (q < vp->vdev.ops->num_queues)
		(void)!write(vp->kick_fds[q], &one, sizeof(one));
}

static void vp_bar_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	struct virtio_pci *vp = opaque;

	if (off < VIRTIO_PCI_ISR_OFF)
		vp_common_access(vp, (unsigned)off, data, len, false);
	else if (off == VIRTIO_PCI_ISR_OFF)
		data[0] = vp_read_isr(vp);
	else if (off >= VIRTIO_PCI_DEVICE_CFG_OFF && off < VIRTIO_PCI_NOTIFY_OFF)
		vp_device_cfg_access(vp, (unsigned)(off - VIRTIO_PCI_DEVICE_CFG_OFF), data, len,
				     false);
	else if (off >= VIRTIO_PCI_MSIX_PBA_OFF)
		msix_pba_read(&vp->msix, off - VIRTIO_PCI_MSIX_PBA_OFF, data, len);
	else if (off >= VIRTIO_PCI_MSIX_TABLE_OFF)
		msix_table_read(&vp->msix, off - VIRTIO_PCI_MSIX_TABLE_OFF, data, len);
}

static void vp_bar_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct virtio_pci *vp = opaque;

	if (off < VIRTIO_PCI_ISR_OFF)
		vp_common_access(vp, (unsigned)off, (uint8_t *)data, len, true);
	else if (off >= VIRTIO_PCI_DEVICE_CFG_OFF && off < VIRTIO_PCI_NOTIFY_OFF)
		vp_device_cfg_access(vp, (unsigned)(off - VIRTIO_PCI_DEVICE_CFG_OFF),
				     (uint8_t *)data, len, true);
	else if (off >= VIRTIO_PCI_NOTIFY_OFF && off < VIRTIO_PCI_MSIX_TABLE_OFF)
		vp_kick(vp,
			(unsigned)((off - VIRTIO_PCI_NOTIFY_OFF) / VIRTIO_PCI_NOTIFY_MULTIPLIER));
	else if (off >= VIRTIO_PCI_MSIX_TABLE_OFF && off < VIRTIO_PCI_MSIX_PBA_OFF)
		msix_table_write(&vp->msix, off - VIRTIO_PCI_MSIX_TABLE_OFF, data, len);
}

static const struct bus_ops vp_bar_ops = {
	.name = "virtio-pci",
	.read = vp_bar_read,
	.write = vp_bar_write,
};

/* MSI-X when the driver enabled it, else INTx with the ISR bits: a
 * non-zero ISR is the function's interrupt condition, and pci.c decides
 * whether the line shows it (INTx Disable). */
static void vp_interrupt(struct virtio_device *vdev, uint16_t vector, bool config)
{
	struct virtio_pci *vp = vdev->transport_ctx;

	if (msix_enabled(&vp->msix)) {
		if (vector != VIRTIO_NO_VECTOR)
			msix_notify(&vp->msix, vector);
		return;
	}
	vp->isr |= config ? VIRTIO_PCI_ISR_CONFIG : VIRTIO_PCI_ISR_QUEUE;
	pci_set_intx(&vp->pci, true);
}

static void vp_rekick(struct virtio_device *vdev, unsigned q)
{
	vp_kick(vdev->transport_ctx, q);
}

static const struct virtio_transport_ops vp_transport = {
	.interrupt = vp_interrupt,
	.kick = vp_rekick,
};

/* Virtio 1.x 4.1.4.9: an access of exactly cap.length (1, 2 or 4) bytes at
 * pci_cfg_data reaches our BAR at cap.offset, aligned, whether or not the
 * BAR decodes (firmware uses it before BARs are set up). Any other access
 * there only touches the config image. Returns the BAR offset, or -1. */
static int64_t vp_cfg_window(const struct virtio_pci *vp, unsigned off, unsigned len)
{
	unsigned at = vp->pci_cfg_cap;
	uint32_t offset = pci_get_u32(&vp->pci, at + CAP_OFFSET);
	uint32_t length = pci_get_u32(&vp->pci, at + CAP_LENGTH);

	if (!at || off != at + CAP_PCI_CFG_DATA || len != length ||
	    vp->pci.config[at + CAP_BAR] != VIRTIO_PCI_BAR)
		return -1;
	if ((length != 1 && length != 2 && length != 4) || offset % length ||
	    offset > VIRTIO_PCI_BAR_SIZE - length)
		return -1;
	return offset;
}

static void vp_config_read(struct pci_device *pci, unsigned off, uint8_t *data, unsigned len)
{
	struct virtio_pci *vp = pci->opaque;
	int64_t bar_off = vp_cfg_window(vp, off, len);

	if (bar_off >= 0)
		vp_bar_read(vp, (uint64_t)bar_off, data, len);
}

/* Bus mastering gates every access of the device to guest memory: the
 * core stops processing queues and holds completions while it is off,
 * and picks up what waited once it is on again. */
static void vp_command_written(struct virtio_pci *vp)
{
	pthread_mutex_lock(&vp->vdev.lock);
	virtio_device_set_dma(&vp->vdev, pci_dma_allowed(&vp->pci));
	pthread_mutex_unlock(&vp->vdev.lock);
}

static void vp_config_written(struct pci_device *pci, unsigned off, unsigned len)
{
	struct virtio_pci *vp = pci->opaque;
	int64_t bar_off = vp_cfg_window(vp, off, len);

	if (bar_off >= 0)
		vp_bar_write(vp, (uint64_t)bar_off, &pci->config[off], len);
	if (off <= PCI_COMMAND && off + len > PCI_COMMAND)
		vp_command_written(vp);
	/* Enabling or unmasking MSI-X, or bus mastering, may send what was
	 * pending. */
	msix_config_written(&vp->msix);
}

static uint64_t vp_notify_addr(uint64_t bar, unsigned q)
{
	return bar + VIRTIO_PCI_NOTIFY_OFF + (uint64_t)q * VIRTIO_PCI_NOTIFY_MULTIPLIER;
}

/* BAR 0 moved, or its decoding went off or on: the queues' doorbells
 * follow it, so a notify write where the BAR no longer decodes signals
 * nothing, and one where it decodes now does not exit to a vCPU thread.
 * A doorbell KVM refuses is still heard, through the exit and vp_kick.
 * Under the PCI host's lock. */
static void vp_bar_moved(struct pci_device *pci, unsigned index, uint64_t from, uint64_t to)
{
	struct virtio_pci *vp = pci->opaque;
	const struct ioeventfd_controller *ctl = &vp->ioeventfds;

	if (index != VIRTIO_PCI_BAR || !ctl->assign)
		return;
	for (unsigned q = 0; q < vp->vdev.ops->num_queues; q++) {
		uint32_t bit = 1u << q;
		if (vp->doorbells & bit)
			ctl->deassign(ctl->ctx, vp_notify_addr(from, q), vp->kick_fds[q]);
		vp->doorbells &= ~bit;
		if (to != PCI_BAR_UNMAPPED &&
		    ctl->assign(ctl->ctx, vp_notify_addr(to, q), vp->kick_fds[q]) == 0)
			vp->doorbells |= bit;
	}
}

static int vp_add_cap(struct virtio_pci *vp, uint8_t type, uint32_t offset, uint32_t length,
		      unsigned cap_len)
{
	unsigned at = pci_device_add_cap(&vp->pci, PCI_CAP_ID_VENDOR, cap_len);

	if (!at)
		return -ENOSPC;
	pci_set_u8(&vp->pci, at + 2, (uint8_t)cap_len);
	pci_set_u8(&vp->pci, at + 3, type);
	pci_set_u8(&vp->pci, at + CAP_BAR, VIRTIO_PCI_BAR);
	pci_set_u32(&vp->pci, at + CAP_OFFSET, offset);
	pci_set_u32(&vp->pci, at + CAP_LENGTH, length);
	if (type == VIRTIO_PCI_CAP_NOTIFY_CFG)
		pci_set_u32(&vp->pci, at + 16, VIRTIO_PCI_NOTIFY_MULTIPLIER);
	if (type == VIRTIO_PCI_CAP_PCI_CFG) {
		/* bar, offset, length and the data window are the driver's. */
		vp->pci.wmask[at + CAP_BAR] = 0xff;
		memset(&vp->pci.wmask[at + CAP_OFFSET], 0xff, 12);
		vp->pci_cfg_cap = (uint8_t)at;
	}
	return 0;
}

static int vp_add_caps(struct virtio_pci *vp)
{
	const struct virtio_device_ops *ops = vp->vdev.ops;
	int rc = vp_add_cap(vp, VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_COMMON_OFF,
			    VIRTIO_PCI_COMMON_LEN, VIRTIO_PCI_CAP_LEN);

	if (!rc)
		rc = vp_add_cap(vp, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_NOTIFY_OFF,
				ops->num_queues * VIRTIO_PCI_NOTIFY_MULTIPLIER,
				VIRTIO_PCI_NOTIFY_CAP_LEN);
	if (!rc)
		rc = vp_add_cap(vp, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_ISR_OFF, 1,
				VIRTIO_PCI_CAP_LEN);
	if (!rc && ops->config_size)
		rc = vp_add_cap(vp, VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_DEVICE_CFG_OFF,
				(uint32_t)ops->config_size, VIRTIO_PCI_CAP_LEN);
	if (!rc)
		rc = vp_add_cap(vp, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, VIRTIO_PCI_CFG_CAP_LEN);
	return rc;
}

int virtio_pci_init(struct virtio_pci *vp, struct msi_controller msi, struct irq_line intx)
{
	const struct virtio_device_ops *ops = vp->vdev.ops;
	int rc;

	if (ops->num_queues == 0 || ops->num_queues > VIRTIO_MAX_QUEUES ||
	    ops->config_size > VIRTIO_PCI_DEVICE_CFG_MAX)
		return -EINVAL;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		vp->kick_fds[q] = -1;
	pci_device_init(&vp->pci, ops->name, VIRTIO_PCI_VENDOR,
			(uint16_t)(VIRTIO_PCI_DEVICE_BASE + ops->device_id), ops->pci_class, 1);
	pci_set_u16(&vp->pci, PCI_SUBSYSTEM_VENDOR_ID, VIRTIO_PCI_VENDOR);
	pci_set_u16(&vp->pci, PCI_SUBSYSTEM_ID, ops->device_id);
	pci_device_set_intx(&vp->pci, intx);
	pci_device_set_bar(&vp->pci, VIRTIO_PCI_BAR, VIRTIO_PCI_BAR_SIZE, false, true, &vp_bar_ops,
			   vp);
	vp->pci.opaque = vp;
	vp->pci.hooks.config_written = vp_config_written;
	vp->pci.hooks.config_read = vp_config_read;
	vp->pci.hooks.bar_moved = vp_bar_moved;
	vp->vdev.transport = &vp_transport;
	vp->vdev.transport_ctx = vp;
	vp_command_written(vp); /* out of reset: bus mastering is off */

	rc = vp_add_caps(vp);
	if (!rc)
		rc = msix_init(&vp->msix, &vp->pci, ops->num_queues + 1, VIRTIO_PCI_BAR,
			       VIRTIO_PCI_MSIX_TABLE_OFF, VIRTIO_PCI_MSIX_PBA_OFF, msi);
	for (unsigned q = 0; q < ops->num_queues && !rc; q++) {
		vp->kicks[q] = (struct virtio_pci_kick){vp, q};
		vp->kick_fds[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vp->kick_fds[q] < 0)
			rc = -errno;
	}
	return rc;
}

void virtio_pci_exit(struct virtio_pci *vp)
{
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		if (vp->kick_fds[q] >= 0)
			close(vp->kick_fds[q]);
	msix_exit(&vp->msix);
	pci_device_exit(&vp->pci);
}

void virtio_pci_set_ioeventfds(struct virtio_pci *vp, struct ioeventfd_controller ctl)
{
	vp->ioeventfds = ctl;
}

void virtio_pci_kicked(void *opaque)
{
	const struct virtio_pci_kick *kick = opaque;

	virtio_device_kick(&kick->vp->vdev, kick->queue);
}

int virtio_pci_poll(void *opaque)
{
	const struct virtio_pci_kick *kick = opaque;

	return virtio_queue_poll(&kick->vp->vdev, kick->queue);
}
