#include "devices/virtio/virtio_blk.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PCI_CLASS_STORAGE_SCSI 0x010000
#define BLK_HDR_BYTES 16
#define BLK_SEG_BYTES 16 /* one discard / write-zeroes range */
/* Bounds one discard / write-zeroes request: the zero-writing fallback
 * below does that much synchronous work at most. */
#define BLK_MAX_RANGE_SECTORS ((64u << 20) / VIRTIO_BLK_SECTOR)
#define BLK_ZERO_CHUNK (64u << 10)
#define BLK_WRITE_ZEROES_F_UNMAP 1

struct blk_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct blk_range {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

/* The data part of a request as an iovec: from the readable buffers after
 * the header (writes), or the writable ones before the status byte (reads). */
static uint64_t blk_data_iov(struct virtio_blk_req *req, struct virtq_chain *chain, bool to_guest)
{
	struct virtq_buf *bufs = to_guest ? virtq_chain_in(chain) : virtq_chain_out(chain);
	unsigned nr = to_guest ? chain->nr_in : chain->nr_out;
	uint64_t skip = to_guest ? 0 : BLK_HDR_BYTES;
	uint64_t left = to_guest ? chain->in_bytes - 1 : chain->out_bytes - BLK_HDR_BYTES;
	uint64_t total = left;

	req->nr_iov = 0;
	for (unsigned i = 0; i < nr && left; i++) {
		if (skip >= bufs[i].len) {
			skip -= bufs[i].len;
			continue;
		}
		uint64_t n = bufs[i].len - skip < left ? bufs[i].len - skip : left;
		req->iov[req->nr_iov++] = (struct iovec){(uint8_t *)bufs[i].hva + skip, n};
		left -= n, skip = 0;
	}
	return total;
}

/* Whether [sector, sector + bytes/512) is a whole-sector range on the disk. */
static bool blk_range_ok(const struct virtio_blk *blk, uint64_t sector, uint64_t bytes)
{
	uint64_t end;

	return bytes % VIRTIO_BLK_SECTOR == 0 &&
	       !__builtin_add_overflow(sector, bytes / VIRTIO_BLK_SECTOR, &end) &&
	       end <= blk->sectors;
}

/* Under the device lock, and only while the request still belongs to the
 * driver that made it: after a reset its status byte may be reused
 * memory. */
static void blk_write_status(void *ctx)
{
	struct virtio_blk_req *req = ctx;

	*req->status = req->result;
}

static void blk_count(struct virtio_blk_stats *stats, const struct virtio_blk_req *req)
{
	switch (req->type) {
	case VIRTIO_BLK_T_IN:
		stats->reads++;
		stats->read_bytes += req->data_bytes;
		break;
	case VIRTIO_BLK_T_OUT:
		stats->writes++;
		stats->written_bytes += req->data_bytes;
		break;
	case VIRTIO_BLK_T_FLUSH:
		stats->flushes++;
		break;
	case VIRTIO_BLK_T_DISCARD:
		stats->discards++;
		break;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		stats->write_zeroes++;
		break;
	}
}

static void blk_finish(struct virtio_blk_req *req, uint8_t status)
{
	struct virtio_blk *blk = req->blk;

	if (status == VIRTIO_BLK_S_OK)
		blk_count(&blk->stats, req);
	else
		blk->stats.failed++;
	req->result = status;
	req->in_use = false;
	virtio_queue_complete(&blk->vp.vdev, 0, req->generation, req->head, req->written,
			      blk_write_status, req);
}

/* For file systems without fallocate's zero-range or punch-hole (9p,
 * some tmpfs): write the zeros. */
static int blk_write_zeros(struct virtio_blk *blk, uint64_t sector, uint32_t sectors)
{
	static const uint8_t zeros[BLK_ZERO_CHUNK];
	uint64_t at = sector * VIRTIO_BLK_SECTOR, left = (uint64_t)sectors * VIRTIO_BLK_SECTOR;

	while (left) {
		size_t n = left < sizeof(zeros) ? (size_t)left : sizeof(zeros);
		ssize_t done = pwrite(blk->fd, zeros, n, (off_t)at);
		if (done <= 0)
			return -1;
		at += (uint64_t)done, left -= (uint64_t)done;
	}
	return 0;
}

static void blk_io_done(struct ioloop_op *op, int res)
{
	struct virtio_blk_req *req = (struct virtio_blk_req *)op;
	bool unsupported = res == -EOPNOTSUPP || res == -EINVAL;

	/* Discard is a hint the device may ignore; write-zeroes is not. */
	if (unsupported && req->type == VIRTIO_BLK_T_DISCARD)
		res = 0;
	else if (unsupported && req->type == VIRTIO_BLK_T_WRITE_ZEROES)
		res = blk_write_zeros(req->blk, req->range_sector, req->range_sectors);
	/* A short transfer (the host's disk full, the image truncated behind
	 * our back) is an error the guest must see, not success. */
	bool data = req->type == VIRTIO_BLK_T_IN || req->type == VIRTIO_BLK_T_OUT;
	if (data && res >= 0 && (uint64_t)res != req->data_bytes)
		res = -EIO;
	blk_finish(req, res < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
}

/* Starts the io_uring operation for a request whose checks passed. */
static int64_t blk_submit(struct virtio_blk *blk, struct virtio_blk_req *req, uint32_t type,
			  uint64_t sector, const struct blk_range *range)
{
	struct io_uring_sqe *sqe = ioloop_prep(blk->loop, &req->op);
	off_t at = (off_t)(sector * VIRTIO_BLK_SECTOR);

	req->type = type;
	req->range_sector = range->sector;
	req->range_sectors = range->num_sectors;
	if (!sqe) {
		*req->status = VIRTIO_BLK_S_IOERR;
		blk->stats.failed++;
		req->in_use = false;
		return req->written;
	}
	if (type == VIRTIO_BLK_T_IN)
		io_uring_prep_readv(sqe, blk->fd, req->iov, req->nr_iov, at);
	else if (type == VIRTIO_BLK_T_OUT)
		io_uring_prep_writev(sqe, blk->fd, req->iov, req->nr_iov, at);
	else if (type == VIRTIO_BLK_T_FLUSH)
		io_uring_prep_fsync(sqe, blk->fd, IORING_FSYNC_DATASYNC);
	else
		io_uring_prep_fallocate(
			sqe, blk->fd,
			FALLOC_FL_KEEP_SIZE |
				(type == VIRTIO_BLK_T_DISCARD ||
						 (range->flags & BLK_WRITE_ZEROES_F_UNMAP)
					 ? FALLOC_FL_PUNCH_HOLE
					 : FALLOC_FL_ZERO_RANGE),
			(off_t)(range->sector * VIRTIO_BLK_SECTOR),
			(off_t)range->num_sectors * VIRTIO_BLK_SECTOR);
	return VIRTIO_CHAIN_PENDING;
}

/* Status for requests that never reach the disk, or 0xff to go on. */
static uint8_t blk_check(struct virtio_blk *blk, struct virtio_blk_req *req,
			 struct virtq_chain *chain, const struct blk_hdr *hdr,
			 struct blk_range *range)
{
	switch (hdr->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT: {
		bool to_guest = hdr->type == VIRTIO_BLK_T_IN;
		if (!to_guest && blk->read_only)
			return VIRTIO_BLK_S_IOERR;
		uint64_t bytes = blk_data_iov(req, chain, to_guest);
		req->data_bytes = bytes;
		if (to_guest)
			req->written += (uint32_t)bytes;
		return blk_range_ok(blk, hdr->sector, bytes) ? 0xff : VIRTIO_BLK_S_IOERR;
	}
	case VIRTIO_BLK_T_FLUSH:
		return 0xff;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		if (blk->read_only)
			return VIRTIO_BLK_S_IOERR;
		/* We advertise one range per request. */
		if (chain->out_bytes != BLK_HDR_BYTES + BLK_SEG_BYTES ||
		    !virtq_chain_read(chain, BLK_HDR_BYTES, range, sizeof(*range)))
			return VIRTIO_BLK_S_UNSUPP;
		if (range->num_sectors > BLK_MAX_RANGE_SECTORS)
			return VIRTIO_BLK_S_IOERR;
		return blk_range_ok(blk, range->sector,
				    (uint64_t)range->num_sectors * VIRTIO_BLK_SECTOR)
			       ? 0xff
			       : VIRTIO_BLK_S_IOERR;
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

static uint32_t blk_get_id(struct virtio_blk *blk, struct virtq_chain *chain)
{
	struct virtq_buf *in = virtq_chain_in(chain);
	uint64_t room = chain->in_bytes - 1, done = 0;

	for (unsigned i = 0; i < chain->nr_in && done < room && done < VIRTIO_BLK_ID_BYTES; i++) {
		uint64_t n = in[i].len;
		if (n > room - done)
			n = room - done;
		if (n > VIRTIO_BLK_ID_BYTES - done)
			n = VIRTIO_BLK_ID_BYTES - done;
		memcpy(in[i].hva, blk->id + done, n);
		done += n;
	}
	return (uint32_t)done;
}

static int64_t blk_handle(struct virtio_device *vdev, struct virtq_chain *chain)
{
	struct virtio_blk *blk = vdev->backend;
	struct blk_hdr hdr;
	struct blk_range range = {0};

	if (chain->nr_in == 0 || !virtq_chain_read(chain, 0, &hdr, sizeof(hdr))) {
		virtio_device_error(vdev, "request without a header or a status byte");
		return -1;
	}
	struct virtio_blk_req *req = &blk->reqs[chain->head];
	if (req->in_use) {
		virtio_device_error(vdev, "request reuses a descriptor still in flight");
		return -1;
	}
	struct virtq_buf *last = &virtq_chain_in(chain)[chain->nr_in - 1];
	*req = (struct virtio_blk_req){.op.done = blk_io_done,
				       .blk = blk,
				       .in_use = true,
				       .generation = vdev->generation,
				       .head = chain->head,
				       .status = (uint8_t *)last->hva + last->len - 1,
				       .written = 1};
	if (hdr.type == VIRTIO_BLK_T_GET_ID) {
		req->written += blk_get_id(blk, chain);
		*req->status = VIRTIO_BLK_S_OK;
		req->in_use = false;
		return req->written;
	}
	uint8_t status = blk_check(blk, req, chain, &hdr, &range);
	if (status != 0xff) {
		*req->status = status;
		req->in_use = false;
		blk->stats.failed++;
		return req->written;
	}
	return blk_submit(blk, req, hdr.type, hdr.sector, &range);
}

static void blk_queue_notify(struct virtio_device *vdev, unsigned q)
{
	virtio_queue_drain(vdev, q, blk_handle);
}

static void blk_read_config(struct virtio_device *vdev, unsigned off, uint8_t *data, unsigned len)
{
	struct virtio_blk *blk = vdev->backend;

	memcpy(data, (const uint8_t *)&blk->config + off, len);
}

const struct virtio_device_ops virtio_blk_ops = {
	.name = "virtio-blk",
	.device_id = VIRTIO_ID_BLOCK,
	.pci_class = PCI_CLASS_STORAGE_SCSI,
	.num_queues = 1,
	.queue_max_size = VIRTIO_BLK_QUEUE_SIZE,
	.features = VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_BLK_SIZE | VIRTIO_BLK_F_FLUSH |
		    VIRTIO_BLK_F_DISCARD | VIRTIO_BLK_F_WRITE_ZEROES,
	.config_size = sizeof(struct virtio_blk_config),
	.read_config = blk_read_config,
	.queue_notify = blk_queue_notify,
	.polled_queues = 1u << 0, /* with the default nap: a driver at queue
				   * depth 1 waits out the nap its request lands in */
};

static int blk_fail(struct virtio_blk *blk, char *err, size_t n, const char *path, const char *what)
{
	snprintf(err, n, "disk '%s': %s", path, what);
	if (blk->fd >= 0)
		close(blk->fd);
	blk->fd = -1;
	return -1;
}

int virtio_blk_open(struct virtio_blk *blk, const char *path, bool read_only, char *err, size_t n)
{
	struct stat st;
	struct flock lock = {.l_type = read_only ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET};

	memset(blk, 0, sizeof(*blk));
	blk->read_only = read_only;
	blk->fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (blk->fd < 0 || fstat(blk->fd, &st) < 0)
		return blk_fail(blk, err, n, path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return blk_fail(blk, err, n, path, "not a regular file (raw images only)");
	/* An open-file-description lock: a second VMM, or a second --disk
	 * of the same image, cannot write alongside us. */
	if (fcntl(blk->fd, F_OFD_SETLK, &lock) < 0)
		return blk_fail(blk, err, n, path,
				errno == EAGAIN || errno == EACCES
					? "locked by another process (is another VMM using it?)"
					: strerror(errno));
	blk->sectors = (uint64_t)st.st_size / VIRTIO_BLK_SECTOR;
	char copy[PATH_MAX];
	snprintf(copy, sizeof(copy), "%s", path);
	/* The ID is 20 bytes, NUL-terminated only when shorter. */
	const char *name = basename(copy);
	memcpy(blk->id, name, strnlen(name, sizeof(blk->id)));
	return 0;
}

static void blk_fill_config(struct virtio_blk *blk)
{
	struct virtio_blk_config *c = &blk->config;

	c->capacity = blk->sectors;
	c->seg_max = VIRTIO_BLK_SEG_MAX;
	c->blk_size = VIRTIO_BLK_SECTOR;
	c->max_discard_sectors = BLK_MAX_RANGE_SECTORS;
	c->max_discard_seg = 1;
	c->discard_sector_alignment = 1;
	c->max_write_zeroes_sectors = BLK_MAX_RANGE_SECTORS;
	c->max_write_zeroes_seg = 1;
	c->write_zeroes_may_unmap = 1;
}

int virtio_blk_init(struct virtio_blk *blk, const struct guest_mem *mem, struct ioloop *loop,
		    struct msi_controller msi, struct irq_line intx)
{
	blk->loop = loop;
	blk_fill_config(blk);
	virtio_device_init(&blk->vp.vdev, &virtio_blk_ops, blk, mem);
	if (blk->read_only)
		blk->vp.vdev.host_features |= VIRTIO_BLK_F_RO;
	return virtio_pci_init(&blk->vp, msi, intx);
}

void virtio_blk_exit(struct virtio_blk *blk)
{
	virtio_pci_exit(&blk->vp);
	virtio_device_exit(&blk->vp.vdev);
	if (blk->fd >= 0)
		close(blk->fd);
	blk->fd = -1;
}
