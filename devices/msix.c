#include "devices/msix.h"

#include <errno.h>
#include <string.h>

#define MSIX_CAP_LEN 12
#define MSIX_ENTRY_ADDR_LO 0
#define MSIX_ENTRY_ADDR_HI 4
#define MSIX_ENTRY_DATA 8
#define MSIX_ENTRY_CTRL 12

static uint32_t msix_entry_u32(const struct msix *msix, unsigned vector, unsigned field)
{
	uint32_t v;

	memcpy(&v, &msix->table[vector * MSIX_ENTRY_SIZE + field], sizeof(v));
	return v;
}

/* Enable and Function Mask, the writable bits of Message Control, are
 * all in its high byte; read from the I/O thread too (msix_notify). */
static uint16_t msix_control(const struct msix *msix)
{
	return (uint16_t)(pci_get_u8_shared(msix->pci, msix->cap + 3) << 8);
}

bool msix_enabled(const struct msix *msix)
{
	return msix_control(msix) & MSIX_CTRL_ENABLE;
}

static bool msix_vector_masked(const struct msix *msix, unsigned vector)
{
	return (msix_control(msix) & MSIX_CTRL_MASKALL) ||
	       (msix_entry_u32(msix, vector, MSIX_ENTRY_CTRL) & MSIX_ENTRY_CTRL_MASKED);
}

int msix_init(struct msix *msix, struct pci_device *pci, unsigned nr_vectors, unsigned bar,
	      uint32_t table_off, uint32_t pba_off, struct msi_controller ctl)
{
	memset(msix, 0, sizeof(*msix));
	if (nr_vectors == 0 || nr_vectors > MSIX_MAX_VECTORS)
		return -EINVAL;
	msix->pci = pci;
	msix->nr_vectors = nr_vectors;
	msix->ctl = ctl;
	pthread_mutex_init(&msix->lock, NULL);
	msix->cap = pci_device_add_cap(pci, PCI_CAP_ID_MSIX, MSIX_CAP_LEN);
	if (!msix->cap)
		return -ENOSPC;
	pci_set_u16(pci, msix->cap + 2, (uint16_t)(nr_vectors - 1));
	pci_set_u32(pci, msix->cap + 4, table_off | bar);
	pci_set_u32(pci, msix->cap + 8, pba_off | bar);
	pci->wmask[msix->cap + 3] = (MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL) >> 8;
	for (unsigned v = 0; v < nr_vectors; v++) {
		/* Vectors come out of reset masked. */
		msix->table[v * MSIX_ENTRY_SIZE + MSIX_ENTRY_CTRL] = MSIX_ENTRY_CTRL_MASKED;
		msix->routes[v] = ctl.alloc ? ctl.alloc(ctl.ctx) : -ENOSYS;
		if (msix->routes[v] < 0)
			return msix->routes[v];
	}
	return 0;
}

void msix_exit(struct msix *msix)
{
	pthread_mutex_destroy(&msix->lock);
}

/* A message is a memory write: with bus mastering off it goes nowhere
 * and is lost, not made pending, as in QEMU (its write lands in a
 * disabled address space). Lock held. */
static void msix_fire(struct msix *msix, unsigned vector)
{
	if (pci_dma_allowed(msix->pci))
		msix->ctl.trigger(msix->ctl.ctx, msix->routes[vector]);
}

/* Sends what was pending on vectors that are now unmasked. Lock held. */
static void msix_deliver_pending(struct msix *msix)
{
	if (!msix_enabled(msix))
		return;
	for (unsigned v = 0; v < msix->nr_vectors; v++) {
		if ((msix->pending & (1ULL << v)) && !msix_vector_masked(msix, v)) {
			msix->pending &= ~(1ULL << v);
			msix_fire(msix, v);
		}
	}
}

void msix_config_written(struct msix *msix)
{
	pthread_mutex_lock(&msix->lock);
	msix_deliver_pending(msix);
	pthread_mutex_unlock(&msix->lock);
}

/* The table is accessed as aligned dwords (or qwords for the address). */
static bool msix_access_ok(const struct msix *msix, uint64_t off, uint32_t len, uint64_t size)
{
	return (len == 4 || len == 8) && off % len == 0 && off + len <= size;
}

void msix_table_read(struct msix *msix, uint64_t off, uint8_t *data, uint32_t len)
{
	if (!msix_access_ok(msix, off, len, msix->nr_vectors * MSIX_ENTRY_SIZE))
		return;
	pthread_mutex_lock(&msix->lock);
	memcpy(data, &msix->table[off], len);
	pthread_mutex_unlock(&msix->lock);
}

void msix_table_write(struct msix *msix, uint64_t off, const uint8_t *data, uint32_t len)
{
	if (!msix_access_ok(msix, off, len, msix->nr_vectors * MSIX_ENTRY_SIZE))
		return;
	unsigned vector = (unsigned)(off / MSIX_ENTRY_SIZE);

	pthread_mutex_lock(&msix->lock);
	memcpy(&msix->table[off], data, len);
	/* Only the low bit of vector control is writable. */
	msix->table[vector * MSIX_ENTRY_SIZE + MSIX_ENTRY_CTRL] &= MSIX_ENTRY_CTRL_MASKED;
	memset(&msix->table[vector * MSIX_ENTRY_SIZE + MSIX_ENTRY_CTRL + 1], 0, 3);
	uint64_t addr = msix_entry_u32(msix, vector, MSIX_ENTRY_ADDR_LO) |
			(uint64_t)msix_entry_u32(msix, vector, MSIX_ENTRY_ADDR_HI) << 32;
	msix->ctl.update(msix->ctl.ctx, msix->routes[vector], addr,
			 msix_entry_u32(msix, vector, MSIX_ENTRY_DATA));
	msix_deliver_pending(msix);
	pthread_mutex_unlock(&msix->lock);
}

void msix_pba_read(struct msix *msix, uint64_t off, uint8_t *data, uint32_t len)
{
	if (!msix_access_ok(msix, off, len, 8))
		return;
	pthread_mutex_lock(&msix->lock);
	memcpy(data, (const uint8_t *)&msix->pending + off, len);
	pthread_mutex_unlock(&msix->lock);
}

void msix_notify(struct msix *msix, unsigned vector)
{
	if (vector >= msix->nr_vectors)
		return;
	pthread_mutex_lock(&msix->lock);
	if (msix_vector_masked(msix, vector))
		msix->pending |= 1ULL << vector;
	else
		msix_fire(msix, vector);
	pthread_mutex_unlock(&msix->lock);
}
