/* blk: requests to the virtio-blk device. Output formats are parsed by
 * tests (docs/guest.md). */
#include <stdbool.h>
#include <stdint.h>

#include "drivers/virtio_blk.h"
#include "kernel/console.h"
#include "kernel/dma.h"
#include "lib/string.h"
#include "shell/commands.h"

#define PATTERN_CHUNK_SECTORS 64 /* 32 KiB per request in fill and verify */

static uint8_t sector_buf[BLK_SECTOR_SIZE] __attribute__((aligned(64)));

static void usage(void)
{
	kprintf("usage: blk info | read SECTOR | write SECTOR TEXT | flush | zero SECTOR COUNT "
		"| discard SECTOR COUNT | fill START COUNT | verify START COUNT\n");
}

static const char *dev_name(void)
{
	return blk_device()->name;
}

static void print_failure(const char *what, int r)
{
	char buf[128];

	kprintf("%s: %s failed: %s\n", dev_name(), what, blk_error(r, buf, sizeof(buf)));
}

/* SECTOR COUNT; count at most max, and sector + count must not wrap. */
static bool parse_sector_count(char **argv, uint64_t *sector, uint64_t *count, uint64_t max)
{
	if (!parse_u64(argv[0], sector) || !parse_u64(argv[1], count) || *count > max ||
	    *count > UINT64_MAX - *sector) {
		usage();
		return false;
	}
	return true;
}

static void blk_info_cmd(void)
{
	const struct blk_info *info = blk_get_info();
	char id[21], shown[21];
	int r = blk_get_id(id);
	size_t n = 0;

	if (r < 0) {
		print_failure("info", r);
		return;
	}
	for (size_t i = 0; r == BLK_OK && id[i] && i < 20; i++)
		shown[n++] = (id[i] > 0x20 && id[i] < 0x7f) ? id[i] : '.';
	shown[n] = '\0';
	kprintf("%s: capacity %llu sectors, %s, id %s\n", dev_name(),
		(unsigned long long)info->capacity, info->read_only ? "ro" : "rw", n ? shown : "-");
}

static void blk_read_cmd(uint64_t sector)
{
	int r = blk_read(sector, sector_buf, 1);
	char text[BLK_SECTOR_SIZE + 1];
	size_t n = 0;

	if (r != BLK_OK) {
		print_failure("read", r);
		return;
	}
	for (; n < BLK_SECTOR_SIZE && sector_buf[n]; n++)
		text[n] =
			(sector_buf[n] >= 0x20 && sector_buf[n] < 0x7f) ? (char)sector_buf[n] : '.';
	text[n] = '\0';
	kprintf("%s: sector %llu: %s\n", dev_name(), (unsigned long long)sector, text);
}

static void blk_write_cmd(uint64_t sector, int argc, char **argv)
{
	memset(sector_buf, 0, sizeof(sector_buf));
	shell_join_args(argc, argv, 3, (char *)sector_buf, sizeof(sector_buf));
	int r = blk_write(sector, sector_buf, 1);
	if (r == BLK_OK)
		kprintf("%s: wrote sector %llu\n", dev_name(), (unsigned long long)sector);
	else
		print_failure("write", r);
}

/* fill and verify: every 8-byte word of a sector is a hash of its sector
 * number and position, so any misplaced or stale sector shows. */
static uint64_t pattern_word(uint64_t sector, unsigned word)
{
	uint64_t z = (sector << 6 | word) + 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void pattern_fill(uint8_t *buf, uint64_t sector, uint32_t count)
{
	for (uint32_t s = 0; s < count; s++) {
		uint64_t *words = (uint64_t *)(buf + (size_t)s * BLK_SECTOR_SIZE);
		for (unsigned w = 0; w < BLK_SECTOR_SIZE / 8; w++)
			words[w] = pattern_word(sector + s, w);
	}
}

struct mismatch {
	bool found;
	uint64_t sector;
	unsigned byte;
	uint8_t expected, got;
};

static void pattern_check(const uint8_t *buf, uint64_t sector, uint32_t count, struct mismatch *m)
{
	for (uint32_t s = 0; s < count; s++) {
		if (m->found && sector + s >= m->sector)
			return;
		const uint8_t *data = buf + (size_t)s * BLK_SECTOR_SIZE;
		for (unsigned b = 0; b < BLK_SECTOR_SIZE; b++) {
			uint8_t expected =
				(uint8_t)(pattern_word(sector + s, b / 8) >> (8 * (b % 8)));
			if (data[b] != expected) {
				*m = (struct mismatch){true, sector + s, b, expected, data[b]};
				return;
			}
		}
	}
}

struct chunk {
	uint64_t sector;
	uint32_t count;
	bool busy;
	uint8_t *buf;
};

/* Keeps up to BLK_SLOTS requests of PATTERN_CHUNK_SECTORS in flight. */
static void run_pattern(bool verify, uint64_t start, uint64_t count)
{
	static uint8_t *buffers;
	struct chunk chunks[BLK_SLOTS];
	uint32_t per_request = blk_get_info()->max_request_sectors;
	const char *what = verify ? "verify" : "fill";

	if (per_request > PATTERN_CHUNK_SECTORS)
		per_request = PATTERN_CHUNK_SECTORS;
	if (!buffers)
		buffers = dma_alloc((size_t)BLK_SLOTS * PATTERN_CHUNK_SECTORS * BLK_SECTOR_SIZE,
				    4096);
	if (!buffers) {
		kprintf("%s: %s failed: out of memory\n", dev_name(), what);
		return;
	}
	for (unsigned i = 0; i < BLK_SLOTS; i++)
		chunks[i] = (struct chunk){
			0, 0, false, buffers + (size_t)i * PATTERN_CHUNK_SECTORS * BLK_SECTOR_SIZE};

	uint64_t next = start, end = start + count, done = 0, failed_sector = 0;
	int failure = BLK_OK;
	struct mismatch m = {0};

	for (;;) {
		for (unsigned i = 0; i < BLK_SLOTS && failure == BLK_OK && !m.found && next < end;
		     i++) {
			struct chunk *c = &chunks[i];
			if (c->busy)
				continue;
			uint32_t n =
				end - next < per_request ? (uint32_t)(end - next) : per_request;
			if (!verify)
				pattern_fill(c->buf, next, n);
			int r = blk_submit(verify ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT, next,
					   c->buf, n, c);
			if (r != BLK_OK) {
				failure = r;
				failed_sector = next;
				break;
			}
			*c = (struct chunk){next, n, true, c->buf};
			next += n;
		}
		if (!blk_in_flight())
			break;
		void *cookie = NULL;
		int r = blk_wait_any(&cookie);
		if (r < 0) {
			failure = r;
			break; /* the device is gone: what was in flight stays there */
		}
		struct chunk *c = cookie;
		c->busy = false;
		if (r != BLK_OK) {
			if (failure == BLK_OK || c->sector < failed_sector) {
				failure = r;
				failed_sector = c->sector;
			}
			continue;
		}
		if (verify)
			pattern_check(c->buf, c->sector, c->count, &m);
		done += c->count;
	}

	char buf[128];
	if (failure < 0)
		kprintf("%s: %s failed: %s\n", dev_name(), what,
			blk_error(failure, buf, sizeof(buf)));
	else if (failure > 0)
		kprintf("%s: %s failed at sector %llu: %s\n", dev_name(), what,
			(unsigned long long)failed_sector, blk_error(failure, buf, sizeof(buf)));
	else if (m.found)
		kprintf("%s: verify failed at sector %llu byte %u: expected 0x%02x, read 0x%02x\n",
			dev_name(), (unsigned long long)m.sector, m.byte, m.expected, m.got);
	else
		kprintf("%s: %s %llu sectors\n", dev_name(), verify ? "verified" : "filled",
			(unsigned long long)done);
}

void cmd_blk(int argc, char **argv)
{
	uint64_t sector, count;

	if (argc < 2) {
		usage();
		return;
	}
	if (!blk_device()) {
		kprintf("blk: no virtio-blk device\n");
		return;
	}
	/* A device that set DEVICE_NEEDS_RESET without notifying shows now. */
	virtio_check_status(blk_device());
	const char *op = argv[1];
	if (strcmp(op, "info") == 0 && argc == 2) {
		blk_info_cmd();
	} else if (strcmp(op, "read") == 0 && argc == 3) {
		if (parse_u64(argv[2], &sector))
			blk_read_cmd(sector);
		else
			usage();
	} else if (strcmp(op, "write") == 0 && argc >= 4) {
		if (parse_u64(argv[2], &sector))
			blk_write_cmd(sector, argc, argv);
		else
			usage();
	} else if (strcmp(op, "flush") == 0 && argc == 2) {
		int r = blk_flush();
		if (r == BLK_OK)
			kprintf("%s: flushed\n", dev_name());
		else
			print_failure("flush", r);
	} else if ((strcmp(op, "zero") == 0 || strcmp(op, "discard") == 0) && argc == 4) {
		if (!parse_sector_count(argv + 2, &sector, &count, UINT32_MAX))
			return;
		bool zero = op[0] == 'z';
		int r = zero ? blk_write_zeroes(sector, (uint32_t)count)
			     : blk_discard(sector, (uint32_t)count);
		if (r == BLK_OK)
			kprintf("%s: ok\n", dev_name());
		else
			print_failure(zero ? "zero" : "discard", r);
	} else if ((strcmp(op, "fill") == 0 || strcmp(op, "verify") == 0) && argc == 4) {
		if (parse_sector_count(argv + 2, &sector, &count, UINT64_MAX))
			run_pattern(op[0] == 'v', sector, count);
	} else {
		usage();
	}
}
