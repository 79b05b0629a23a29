#include "drivers/virtio_blk.h"

#include "kernel/dma.h"
#include "lib/format.h"
#include "lib/string.h"

/* Feature bits. */
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* struct virtio_blk_config. */
#define CONFIG_CAPACITY 0
#define CONFIG_SIZE_MAX 8
#define CONFIG_SEG_MAX 12
#define CONFIG_BLK_SIZE 20

#define QUEUE_SIZE 128
#define MAX_REQUEST_SECTORS 128 /* 64 KiB: our own cap per request */
#define ID_BYTES 20

struct request_header {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

/* DISCARD and WRITE_ZEROES carry one of these as their data. */
struct discard_segment {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

/* Everything the device reads or writes for one request except the data. */
struct slot {
	struct request_header header;
	struct discard_segment segment;
	uint8_t status;
	bool busy; /* submitted, not yet reaped */
	bool done; /* the device returned it */
	void *cookie;
} __attribute__((aligned(64)));

static struct {
	struct virtio_dev *dev;
	struct virtq vq;
	struct blk_info info;
	struct slot *slots; /* BLK_SLOTS, in DMA memory */
	uint8_t *id_buf;
} blk;

static bool blk_probe(struct virtio_dev *dev)
{
	uint64_t wanted =
		VIRTIO_FEATURE(VIRTIO_BLK_F_SIZE_MAX) | VIRTIO_FEATURE(VIRTIO_BLK_F_SEG_MAX) |
		VIRTIO_FEATURE(VIRTIO_BLK_F_RO) | VIRTIO_FEATURE(VIRTIO_BLK_F_BLK_SIZE) |
		VIRTIO_FEATURE(VIRTIO_BLK_F_FLUSH) | VIRTIO_FEATURE(VIRTIO_BLK_F_DISCARD) |
		VIRTIO_FEATURE(VIRTIO_BLK_F_WRITE_ZEROES) | VIRTIO_FEATURE(VIRTIO_F_INDIRECT_DESC) |
		VIRTIO_FEATURE(VIRTIO_F_EVENT_IDX);
	struct blk_info *info = &blk.info;

	blk.dev = dev;
	if (!virtio_start(dev, wanted, 1))
		return false;
	if (virtio_config_size(dev) < 8) {
		virtio_fail(dev, "device configuration too small for the capacity (%u bytes)",
			    virtio_config_size(dev));
		return false;
	}
	info->capacity = virtio_config_read64(dev, CONFIG_CAPACITY);
	info->read_only = virtio_has_feature(dev, VIRTIO_BLK_F_RO);
	info->flush = virtio_has_feature(dev, VIRTIO_BLK_F_FLUSH);
	info->discard = virtio_has_feature(dev, VIRTIO_BLK_F_DISCARD);
	info->write_zeroes = virtio_has_feature(dev, VIRTIO_BLK_F_WRITE_ZEROES);
	info->indirect = virtio_has_feature(dev, VIRTIO_F_INDIRECT_DESC);
	if (virtio_has_feature(dev, VIRTIO_BLK_F_SIZE_MAX))
		info->size_max = virtio_config_read32(dev, CONFIG_SIZE_MAX);
	if (virtio_has_feature(dev, VIRTIO_BLK_F_SEG_MAX))
		info->seg_max = virtio_config_read32(dev, CONFIG_SEG_MAX);
	if (virtio_has_feature(dev, VIRTIO_BLK_F_BLK_SIZE))
		info->blk_size = virtio_config_read32(dev, CONFIG_BLK_SIZE);
	/* One data segment per request, no larger than size_max. */
	info->max_request_sectors = MAX_REQUEST_SECTORS;
	if (info->size_max && info->size_max / BLK_SECTOR_SIZE < info->max_request_sectors)
		info->max_request_sectors = info->size_max / BLK_SECTOR_SIZE;
	if (!info->max_request_sectors) {
		virtio_fail(dev, "size_max %u is smaller than a sector", info->size_max);
		return false;
	}

	blk.slots = dma_alloc(sizeof(struct slot) * BLK_SLOTS, 64);
	blk.id_buf = dma_alloc(ID_BYTES, 8);
	if (!blk.slots || !blk.id_buf) {
		virtio_fail(dev, "out of memory");
		return false;
	}
	/* Header, data, status: three entries; four leaves room. */
	if (!virtio_setup_queue(dev, &blk.vq, 0, QUEUE_SIZE, 4))
		return false;
	return virtio_driver_ok(dev);
}

const struct virtio_driver virtio_blk_driver = {VIRTIO_ID_BLOCK, "blk", blk_probe};

struct virtio_dev *blk_device(void)
{
	return blk.dev;
}

const struct blk_info *blk_get_info(void)
{
	/* The capacity may change (a resize, announced as a configuration
	 * change): read it afresh. */
	if (blk.dev && blk.dev->live)
		blk.info.capacity = virtio_config_read64(blk.dev, CONFIG_CAPACITY);
	return &blk.info;
}

const char *blk_error(int result, char *buf, unsigned size)
{
	switch (result) {
	case BLK_ERR_NO_DEVICE:
		return "no virtio-blk device";
	case BLK_ERR_STOPPED:
		snprintf(buf, size, "device stopped (%s)",
			 blk.dev && blk.dev->stopped ? blk.dev->stopped : "not started");
		return buf;
	case BLK_ERR_NOT_OFFERED:
		return "not offered by the device";
	case BLK_ERR_BUSY:
		return "no free request slot";
	case BLK_ERR_TOO_LARGE:
		return "request too large";
	default:
		snprintf(buf, size, "status %d", result);
		return buf;
	}
}

static int usable(void)
{
	if (!blk.dev)
		return BLK_ERR_NO_DEVICE;
	if (!virtio_check(blk.dev))
		return BLK_ERR_STOPPED;
	return BLK_OK;
}

/* Sends one request: the header, optional data (readable for the device,
 * or writable), and the status byte. */
static int submit(struct slot *s, unsigned type, uint64_t sector, const volatile void *data,
		  uint32_t len, bool device_writes, void *cookie)
{
	struct virtq_buf bufs[3];
	unsigned n = 0;

	s->header.type = type;
	s->header.reserved = 0;
	s->header.sector = sector;
	s->status = 0xff; /* anything the device does not overwrite shows */
	s->done = false;
	s->cookie = cookie;
	bufs[n++] = (struct virtq_buf){&s->header, sizeof(s->header), false};
	if (len)
		bufs[n++] = (struct virtq_buf){data, len, device_writes};
	bufs[n++] = (struct virtq_buf){&s->status, 1, true};
	if (!virtq_add(&blk.vq, bufs, n, s))
		return blk.vq.broken ? BLK_ERR_STOPPED : BLK_ERR_BUSY;
	s->busy = true;
	virtio_kick(blk.dev, &blk.vq);
	return BLK_OK;
}

static struct slot *free_slot(void)
{
	for (unsigned i = 0; i < BLK_SLOTS; i++) {
		if (!blk.slots[i].busy)
			return &blk.slots[i];
	}
	return NULL;
}

/* Moves everything the device returned into its slot. */
static bool reap(void)
{
	struct slot *s;
	uint32_t len;

	while ((s = virtq_get_used(&blk.vq, &len))) {
		/* The status byte is the last writable byte: the device must
		 * report having written at least it. */
		if (len < 1) {
			blk.vq.broken = "used length 0 for a request (no status byte)";
			break;
		}
		s->done = true;
	}
	if (blk.vq.broken) {
		virtio_queue_broken(blk.dev, &blk.vq);
		return false;
	}
	return true;
}

/* Waits until slot s is done; returns its status. */
static int wait_slot(struct slot *s)
{
	for (;;) {
		if (!reap())
			return BLK_ERR_STOPPED;
		if (s->done) {
			s->busy = false;
			return s->status;
		}
		if (!virtio_wait_used(blk.dev, &blk.vq, VIRTIO_REQUEST_TIMEOUT_NS))
			return BLK_ERR_STOPPED;
	}
}

static int request(unsigned type, uint64_t sector, const volatile void *data, uint32_t len,
		   bool device_writes)
{
	int r = usable();
	if (r != BLK_OK)
		return r;
	struct slot *s = free_slot();
	if (!s)
		return BLK_ERR_BUSY;
	r = submit(s, type, sector, data, len, device_writes, s);
	return r == BLK_OK ? wait_slot(s) : r;
}

static int rw(unsigned type, uint64_t sector, const volatile void *buf, uint32_t count)
{
	if (blk.dev && count > blk.info.max_request_sectors)
		return BLK_ERR_TOO_LARGE;
	return request(type, sector, buf, count * BLK_SECTOR_SIZE, type == VIRTIO_BLK_T_IN);
}

int blk_read(uint64_t sector, void *buf, uint32_t count)
{
	return rw(VIRTIO_BLK_T_IN, sector, buf, count);
}

int blk_write(uint64_t sector, const void *buf, uint32_t count)
{
	return rw(VIRTIO_BLK_T_OUT, sector, buf, count);
}

int blk_flush(void)
{
	if (blk.dev && !blk.info.flush)
		return BLK_ERR_NOT_OFFERED;
	return request(VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false);
}

static int ranged(unsigned type, bool offered, uint64_t sector, uint32_t count)
{
	if (blk.dev && !offered)
		return BLK_ERR_NOT_OFFERED;
	int r = usable();
	if (r != BLK_OK)
		return r;
	struct slot *s = free_slot();
	if (!s)
		return BLK_ERR_BUSY;
	s->segment = (struct discard_segment){sector, count, 0};
	r = submit(s, type, 0, &s->segment, sizeof(s->segment), false, s);
	return r == BLK_OK ? wait_slot(s) : r;
}

int blk_discard(uint64_t sector, uint32_t count)
{
	return ranged(VIRTIO_BLK_T_DISCARD, blk.info.discard, sector, count);
}

int blk_write_zeroes(uint64_t sector, uint32_t count)
{
	return ranged(VIRTIO_BLK_T_WRITE_ZEROES, blk.info.write_zeroes, sector, count);
}

int blk_get_id(char id[ID_BYTES + 1])
{
	memset(blk.id_buf, 0, ID_BYTES);
	int r = request(VIRTIO_BLK_T_GET_ID, 0, blk.id_buf, ID_BYTES, true);
	memcpy(id, blk.id_buf, ID_BYTES);
	id[ID_BYTES] = '\0';
	return r;
}

int blk_submit(unsigned type, uint64_t sector, void *buf, uint32_t count, void *cookie)
{
	if (type != VIRTIO_BLK_T_IN && type != VIRTIO_BLK_T_OUT)
		return BLK_ERR_NOT_OFFERED;
	int r = usable();
	if (r != BLK_OK)
		return r;
	if (count > blk.info.max_request_sectors)
		return BLK_ERR_TOO_LARGE;
	struct slot *s = free_slot();
	if (!s)
		return BLK_ERR_BUSY;
	return submit(s, type, sector, buf, count * BLK_SECTOR_SIZE, type == VIRTIO_BLK_T_IN,
		      cookie);
}

int blk_wait_any(void **cookie)
{
	if (!blk.dev)
		return BLK_ERR_NO_DEVICE;
	for (;;) {
		if (!reap())
			return BLK_ERR_STOPPED;
		bool any_busy = false;
		for (unsigned i = 0; i < BLK_SLOTS; i++) {
			struct slot *s = &blk.slots[i];
			if (s->busy && s->done) {
				s->busy = false;
				*cookie = s->cookie;
				return s->status;
			}
			any_busy |= s->busy;
		}
		if (!any_busy)
			return BLK_ERR_BUSY;
		if (!virtio_wait_used(blk.dev, &blk.vq, VIRTIO_REQUEST_TIMEOUT_NS))
			return BLK_ERR_STOPPED;
	}
}

unsigned blk_in_flight(void)
{
	unsigned n = 0;

	for (unsigned i = 0; blk.slots && i < BLK_SLOTS; i++)
		n += blk.slots[i].busy;
	return n;
}
