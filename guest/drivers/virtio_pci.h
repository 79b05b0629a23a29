/* The virtio 1.x PCI transport ("modern" interface): the vendor
 * capabilities (common, notify, ISR and device configuration), the device
 * status handshake, feature negotiation, queue setup, notifications and
 * MSI-X interrupts, with polling when a device has no usable MSI-X. A
 * device that sets DEVICE_NEEDS_RESET, stops answering, or misuses a ring
 * is reported once, reset, and never used again. */
#ifndef GUEST_DRIVERS_VIRTIO_PCI_H
#define GUEST_DRIVERS_VIRTIO_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/pci.h"
#include "drivers/virtqueue.h"

#define VIRTIO_VENDOR 0x1af4
#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4

/* Device status bits. */
#define VIRTIO_STATUS_ACKNOWLEDGE 0x01
#define VIRTIO_STATUS_DRIVER 0x02
#define VIRTIO_STATUS_DRIVER_OK 0x04
#define VIRTIO_STATUS_FEATURES_OK 0x08
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

/* Device-independent feature bits. */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_F_ACCESS_PLATFORM 33
#define VIRTIO_F_ORDER_PLATFORM 36
#define VIRTIO_FEATURE(bit) (1ULL << (bit))

#define VIRTIO_MAX_QUEUES 4 /* per device, that we drive */
#define VIRTIO_MAX_DEVICES 8
#define VIRTIO_NO_VECTOR 0xffff
/* Bounds on waiting for a device, in calibrated time. Generous: the guest
 * may run nested under an emulated CPU, 10-100 times slower than usual. */
#define VIRTIO_REQUEST_TIMEOUT_NS (15ULL * 1000000000)
#define VIRTIO_RESET_TIMEOUT_NS (2ULL * 1000000000)

/* A structure one capability points at: in a memory BAR, or an I/O one. */
struct virtio_region {
	uint64_t base; /* physical address or port */
	uint32_t len;
	bool io;
};

struct virtio_dev {
	struct pci_function *pci;
	uint16_t type; /* VIRTIO_ID_* */
	char name[8];  /* "blk0" */
	struct virtio_region common, notify, isr, device;
	uint32_t notify_multiplier;
	uint8_t pci_cfg_cap;	/* the PCI configuration access capability, or 0 */
	uint8_t common_bar;	/* where the common configuration is */
	uint32_t common_offset; /* in that BAR */
	uint64_t device_features, features;
	uint16_t max_queues; /* num_queues from the common configuration */

	struct pci_msix msix;
	bool msix_on;
	unsigned nr_vectors;   /* MSI-X entries in use */
	bool vector_per_queue; /* else queues share one (or all share entry 0) */
	uint8_t lapic_vector[VIRTIO_MAX_QUEUES + 1];
	bool config_vector;	  /* config changes arrive as an interrupt */
	volatile bool config_irq; /* set by the config interrupt */
	char irq_names[VIRTIO_MAX_QUEUES + 1][24];

	struct virtq *queues[VIRTIO_MAX_QUEUES];
	unsigned nr_queues;
	volatile uint16_t *notify_addr[VIRTIO_MAX_QUEUES];
	uint16_t notify_port[VIRTIO_MAX_QUEUES];

	bool live;	     /* DRIVER_OK and not stopped */
	const char *stopped; /* why it is no longer used (NULL while fine) */
	char why[96];
	uint64_t last_status_check;
};

/* A driver for one virtio device type. probe gets a device with its
 * capabilities found and mapped; it negotiates, sets queues up and calls
 * virtio_driver_ok. Only the first device of each type is driven. */
struct virtio_driver {
	uint16_t type;
	const char *prefix; /* "blk": devices are named blk0 */
	bool (*probe)(struct virtio_dev *dev);
};

/* Offers each virtio PCI function to the driver for its type (the table in
 * virtio_pci.c); prints a boot line per device. After pci_init and
 * dma_init, with interrupts and the clock running. */
void virtio_pci_init_all(void);
unsigned virtio_count(void);
struct virtio_dev *virtio_get(unsigned index);

/* Reset, ACKNOWLEDGE, DRIVER, then features: wanted & offered, plus
 * VERSION_1 (required), written with FEATURES_OK and checked. Also sets
 * MSI-X up for nr_queues queues and the configuration vector. false (the
 * device marked FAILED and reported) on any refusal. */
bool virtio_start(struct virtio_dev *dev, uint64_t wanted, unsigned nr_queues);
bool virtio_has_feature(const struct virtio_dev *dev, unsigned bit);
/* Sets queue index up with at most max_size entries (a power of two no
 * larger than the device offers), indirect tables of max_indirect entries
 * if VIRTIO_F_INDIRECT_DESC was negotiated, and its interrupt. */
bool virtio_setup_queue(struct virtio_dev *dev, struct virtq *vq, uint16_t index, uint16_t max_size,
			unsigned max_indirect);
/* Sets DRIVER_OK; the device is live. */
bool virtio_driver_ok(struct virtio_dev *dev);
/* Marks the device FAILED, reports why (printf-style) and stops using it. */
void virtio_fail(struct virtio_dev *dev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Notifies the device about new buffers in vq, if it wants to know. */
void virtio_kick(struct virtio_dev *dev, struct virtq *vq);
/* Waits until vq has a used element, the device stops or timeout_ns
 * passes; true when something is there. Halts between interrupts when the
 * queue has a vector, spins otherwise. A timeout fails the device. */
bool virtio_wait_used(struct virtio_dev *dev, struct virtq *vq, uint64_t timeout_ns);
/* For testing devices: makes a malformed chain (a descriptor whose next
 * index is out of range) available on vq, notifies, and waits up to
 * timeout_ns for the device to object (DEVICE_NEEDS_RESET), which stops
 * the device as usual. true when it did. */
bool virtio_break(struct virtio_dev *dev, struct virtq *vq, uint64_t timeout_ns);
/* Looks for a configuration change (the interrupt's flag, or ISR when
 * polled) and at the status; a device that needs a reset is stopped.
 * false when the device is not usable. Cheap: call it often. */
bool virtio_check(struct virtio_dev *dev);
/* Reads the status now (one register read); same result as virtio_check. */
bool virtio_check_status(struct virtio_dev *dev);
/* A queue's ring went bad (vq->broken): fails the device. */
void virtio_queue_broken(struct virtio_dev *dev, struct virtq *vq);

/* Device configuration reads, bounds-checked (0 past the end). The 64-bit
 * read retries until config_generation is stable. */
uint8_t virtio_config_read8(struct virtio_dev *dev, uint32_t offset);
uint16_t virtio_config_read16(struct virtio_dev *dev, uint32_t offset);
uint32_t virtio_config_read32(struct virtio_dev *dev, uint32_t offset);
uint64_t virtio_config_read64(struct virtio_dev *dev, uint32_t offset);
uint32_t virtio_config_size(const struct virtio_dev *dev);
uint8_t virtio_status(struct virtio_dev *dev);
/* Reads the device's features through the PCI configuration access window
 * (config space, not the BAR) and compares them with the BAR. NULL when
 * both agree (*features then holds them), else what went wrong. */
const char *virtio_pci_cfg_check(struct virtio_dev *dev, uint64_t *features);
/* Reads and clears the ISR status (bit 0 queue, bit 1 configuration). */
uint8_t virtio_read_isr(struct virtio_dev *dev);

#endif
