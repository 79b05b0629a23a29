/* virtio-blk on a raw image file, with io_uring doing the I/O on the VM's
 * I/O thread. */
#ifndef SKIFF_DEVICES_VIRTIO_BLK_H
#define SKIFF_DEVICES_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/virtio/virtio_pci.h"
#include "vmm/ioloop.h"

#define VIRTIO_BLK_QUEUE_SIZE 256
#define VIRTIO_BLK_SECTOR 512
/* Data segments per request we advertise: a chain also holds the header
 * and the status byte. */
#define VIRTIO_BLK_SEG_MAX (VIRTQ_MAX_CHAIN_BUFS - 2)
#define VIRTIO_BLK_ID_BYTES 20

#define VIRTIO_BLK_F_SIZE_MAX (1ULL << 1)
#define VIRTIO_BLK_F_SEG_MAX (1ULL << 2)
#define VIRTIO_BLK_F_RO (1ULL << 5)
#define VIRTIO_BLK_F_BLK_SIZE (1ULL << 6)
#define VIRTIO_BLK_F_FLUSH (1ULL << 9)
#define VIRTIO_BLK_F_DISCARD (1ULL << 13)
#define VIRTIO_BLK_F_WRITE_ZEROES (1ULL << 14)

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

struct virtio_blk;

/* One request in flight: the chain's data as an iovec, where the status
 * byte goes, and the io_uring operation that carries it. */
struct virtio_blk_req {
	struct ioloop_op op;
	struct virtio_blk *blk;
	uint32_t generation;
	uint16_t head;
	bool in_use;
	uint8_t *status;
	uint8_t result; /* for *status, once the I/O is done */
	uint32_t written;
	uint32_t type;
	uint64_t data_bytes;   /* a read or write moves exactly this much */
	uint64_t range_sector; /* discard / write-zeroes */
	uint32_t range_sectors;
	unsigned nr_iov;
	struct iovec iov[VIRTQ_MAX_CHAIN_BUFS]; /* a chain has no more buffers */
};

struct virtio_blk_config {
	uint64_t capacity;
	uint32_t size_max;
	uint32_t seg_max;
	struct {
		uint16_t cylinders;
		uint8_t heads;
		uint8_t sectors;
	} geometry;
	uint32_t blk_size;
	uint8_t physical_block_exp;
	uint8_t alignment_offset;
	uint16_t min_io_size;
	uint32_t opt_io_size;
	uint8_t writeback;
	uint8_t unused0[3];
	uint32_t max_discard_sectors;
	uint32_t max_discard_seg;
	uint32_t discard_sector_alignment;
	uint32_t max_write_zeroes_sectors;
	uint32_t max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
	uint8_t unused1[3];
} __attribute__((packed));

/* Requests that completed, by kind, with their data; and those that
 * failed (refused by the checks, or an I/O error). */
struct virtio_blk_stats {
	uint64_t reads, writes, flushes, discards, write_zeroes;
	uint64_t read_bytes, written_bytes;
	uint64_t failed;
};

struct virtio_blk {
	struct virtio_pci vp;
	struct ioloop *loop;
	int fd;
	bool read_only;
	uint64_t sectors;
	char id[VIRTIO_BLK_ID_BYTES];
	struct virtio_blk_config config;
	struct virtio_blk_req reqs[VIRTIO_BLK_QUEUE_SIZE];
	struct virtio_blk_stats stats;
};

extern const struct virtio_device_ops virtio_blk_ops;

/* Opens and locks the image (exclusively when writable, shared when
 * read-only). Returns 0, or -1 with a message naming the file in err. */
int virtio_blk_open(struct virtio_blk *blk, const char *path, bool read_only, char *err,
		    size_t err_size);
int virtio_blk_init(struct virtio_blk *blk, const struct guest_mem *mem, struct ioloop *loop,
		    struct msi_controller msi, struct irq_line intx);
void virtio_blk_exit(struct virtio_blk *blk);

#endif
