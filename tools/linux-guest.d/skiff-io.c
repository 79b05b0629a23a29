/*
 * skiff-io: a tiny block I/O load generator for the Linux guest's initramfs
 * (tools/linux-guest builds it static; tools/bench-io drives it).
 *
 *   skiff-io read|write|randread|randwrite DEVICE BLOCK_SIZE COUNT
 *
 * Issues COUNT synchronous O_DIRECT preads or pwrites of BLOCK_SIZE bytes,
 * one at a time (queue depth 1), at consecutive offsets from 0 (read,
 * write) or at uniformly random BLOCK_SIZE-aligned offsets over the whole
 * device (randread, randwrite; a fixed seed, so every run issues the same
 * offsets). Writes carry a non-zero pattern. Prints one line:
 *
 *   skiff-io: randread bs=4096 ops=2000 bytes=8192000 usec=812345 iops=2462 kib_s=9848
 *
 * and exits 0, or names the failing call and exits 1 (2 for bad arguments).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* xorshift64*: enough spread for offsets, and the same sequence every run. */
static uint64_t next_random(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 2685821657736338717ull;
}

static int usage(void)
{
	fprintf(stderr, "usage: skiff-io read|write|randread|randwrite DEVICE BLOCK_SIZE COUNT\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc != 5)
		return usage();
	const char *mode = argv[1], *dev = argv[2];
	int write_mode = !strcmp(mode, "write") || !strcmp(mode, "randwrite");
	int random_mode = !strcmp(mode, "randread") || !strcmp(mode, "randwrite");
	if (!write_mode && !random_mode && strcmp(mode, "read"))
		return usage();
	char *end;
	unsigned long bs = strtoul(argv[3], &end, 0);
	if (*end || bs < 512 || bs % 512 || bs > (64ul << 20))
		return usage();
	unsigned long count = strtoul(argv[4], &end, 0);
	if (*end || count == 0)
		return usage();

	int fd = open(dev, (write_mode ? O_WRONLY : O_RDONLY) | O_DIRECT);
	if (fd < 0) {
		fprintf(stderr, "skiff-io: open %s: %s\n", dev, strerror(errno));
		return 1;
	}
	uint64_t size = 0;
	if (ioctl(fd, BLKGETSIZE64, &size) < 0) {
		off_t end_off = lseek(fd, 0, SEEK_END);
		size = end_off > 0 ? (uint64_t)end_off : 0;
	}
	uint64_t blocks = size / bs;
	if (blocks == 0 || (!random_mode && count > blocks)) {
		fprintf(stderr, "skiff-io: %s holds %" PRIu64 " blocks of %lu bytes, too few\n",
			dev, blocks, bs);
		return 1;
	}
	/* Blocks of 64 KiB and more go in a transparent huge page where the
	 * kernel gives one: physically contiguous, so a 1 MiB transfer is one
	 * segment and one request, whatever the guest's memory looks like
	 * (scattered 4 KiB pages would need 256 segments and be split). */
	size_t align = bs >= 65536 ? 2u << 20 : 4096;
	size_t len = (bs + align - 1) / align * align;
	void *buf;
	if (posix_memalign(&buf, align, len)) {
		fprintf(stderr, "skiff-io: out of memory\n");
		return 1;
	}
	if (align > 4096)
		(void)madvise(buf, len, MADV_HUGEPAGE);
	memset(buf, write_mode ? 0x5a : 0, bs);

	uint64_t seed = 0x9e3779b97f4a7c15ull;
	uint64_t start = now_us();
	for (unsigned long i = 0; i < count; i++) {
		uint64_t block = random_mode ? next_random(&seed) % blocks : i;
		off_t at = (off_t)(block * bs);
		ssize_t done = write_mode ? pwrite(fd, buf, bs, at) : pread(fd, buf, bs, at);
		if (done != (ssize_t)bs) {
			fprintf(stderr, "skiff-io: %s %s at %lld: %s\n",
				write_mode ? "pwrite" : "pread", dev, (long long)at,
				done < 0 ? strerror(errno) : "short transfer");
			return 1;
		}
	}
	uint64_t usec = now_us() - start;
	if (usec == 0)
		usec = 1;
	uint64_t bytes = (uint64_t)count * bs;
	printf("skiff-io: %s bs=%lu ops=%lu bytes=%" PRIu64 " usec=%" PRIu64 " iops=%" PRIu64
	       " kib_s=%" PRIu64 "\n",
	       mode, bs, count, bytes, usec, (uint64_t)count * 1000000u / usec,
	       bytes * 1000000u / 1024u / usec);
	free(buf);
	close(fd);
	return 0;
}
