/* MSI-X for a PCI function: the capability, the vector table and the
 * pending-bit array, living in one of the function's memory BARs. */
#ifndef SKIFF_DEVICES_MSIX_H
#define SKIFF_DEVICES_MSIX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/irq.h"
#include "devices/pci.h"

#define MSIX_MAX_VECTORS 64
#define MSIX_ENTRY_SIZE 16
#define MSIX_NO_VECTOR 0xffff
#define PCI_CAP_ID_MSIX 0x11
#define MSIX_CTRL_ENABLE 0x8000
#define MSIX_CTRL_MASKALL 0x4000
#define MSIX_ENTRY_CTRL_MASKED 0x1

struct msix {
	struct pci_device *pci;
	unsigned cap;
	unsigned nr_vectors;
	struct msi_controller ctl;
	pthread_mutex_t lock;
	uint8_t table[MSIX_MAX_VECTORS * MSIX_ENTRY_SIZE];
	uint64_t pending;
	int routes[MSIX_MAX_VECTORS];
};

/* Adds the capability to pci with the table at table_off and the PBA at
 * pba_off of BAR bar, and allocates one route per vector. */
int msix_init(struct msix *msix, struct pci_device *pci, unsigned nr_vectors, unsigned bar,
	      uint32_t table_off, uint32_t pba_off, struct msi_controller ctl);
void msix_exit(struct msix *msix);

/* Call after any config write: enabling or unmasking may deliver. */
void msix_config_written(struct msix *msix);
bool msix_enabled(const struct msix *msix);

void msix_table_read(struct msix *msix, uint64_t off, uint8_t *data, uint32_t len);
void msix_table_write(struct msix *msix, uint64_t off, const uint8_t *data, uint32_t len);
void msix_pba_read(struct msix *msix, uint64_t off, uint8_t *data, uint32_t len);

/* Raises vector, or records it pending while masked. Dropped while the
 * function's bus mastering is off (pci_dma_allowed). */
void msix_notify(struct msix *msix, unsigned vector);

#endif
