/* virtio-blk (device type 2): one device, queue 0, requests IN, OUT,
 * FLUSH, GET_ID, DISCARD and WRITE_ZEROES as the features allow. Requests
 * go out through indirect descriptors when VIRTIO_F_INDIRECT_DESC is
 * offered. Up to BLK_SLOTS requests can be in flight (blk_submit and
 * blk_wait_any); the other calls wait for their own request. Requests are
 * sent as asked, even past the capacity or to a read-only device: judging
 * them is the device's job, and tests check that it does. */
#ifndef GUEST_DRIVERS_VIRTIO_BLK_H
#define GUEST_DRIVERS_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/virtio_pci.h"

#define BLK_SECTOR_SIZE 512
#define BLK_SLOTS 8

/* Request types. */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

/* Results: the device's status byte (0 OK, 1 IOERR, 2 UNSUPP), or one of
 * these when the request did not complete. */
#define BLK_OK 0
#define BLK_IOERR 1
#define BLK_UNSUPP 2
#define BLK_ERR_NO_DEVICE (-1)
#define BLK_ERR_STOPPED (-2)	 /* the device is no longer used (see blk_error) */
#define BLK_ERR_NOT_OFFERED (-3) /* the feature the request needs was not negotiated */
#define BLK_ERR_BUSY (-4)	 /* no free request slot */
#define BLK_ERR_TOO_LARGE (-5)	 /* over the device's size_max or our limit */

struct blk_info {
	uint64_t capacity; /* in 512-byte sectors */
	bool read_only, flush, discard, write_zeroes, indirect;
	uint32_t size_max, seg_max, blk_size;
	uint32_t max_request_sectors; /* what one IN/OUT request may carry */
};

extern const struct virtio_driver virtio_blk_driver;

/* NULL when there is no (working or stopped) blk device. */
struct virtio_dev *blk_device(void);
/* The capacity is read from the device each time. */
const struct blk_info *blk_get_info(void);
/* "status 1", "device stopped (...)": for a failure line. */
const char *blk_error(int result, char *buf, unsigned size);

int blk_read(uint64_t sector, void *buf, uint32_t count);
int blk_write(uint64_t sector, const void *buf, uint32_t count);
int blk_flush(void);
int blk_discard(uint64_t sector, uint32_t count);
int blk_write_zeroes(uint64_t sector, uint32_t count);
/* The serial (up to 20 bytes), NUL-terminated into id[21]. */
int blk_get_id(char id[21]);

/* Asynchronous IN or OUT of count sectors at buf; cookie comes back from
 * blk_wait_any. Returns BLK_OK or a BLK_ERR_*. */
int blk_submit(unsigned type, uint64_t sector, void *buf, uint32_t count, void *cookie);
/* Waits for any submitted request; its status (or BLK_ERR_STOPPED) and
 * cookie. BLK_ERR_BUSY when nothing is in flight. */
int blk_wait_any(void **cookie);
unsigned blk_in_flight(void);

#endif
