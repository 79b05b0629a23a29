/* --metrics FILE: the devices' counters as JSON, once the VM has stopped.
 *
 *   {"net": [{"tap": "tap0", "rx_frames": N, ...}, ...],
 *    "blk": [{"path": "disk.img", "reads": N, ...}, ...]}
 *
 * Devices appear in the order of their options on the command line. */
#include "vmm/metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "devices/virtio/virtio_blk.h"
#include "devices/virtio/virtio_net.h"
#include "vmm/vm.h"

/* A JSON string: quotes, backslashes and control characters escaped;
 * other bytes as they are (a path is bytes, not necessarily UTF-8). */
static void metrics_put_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void metrics_put_net(FILE *out, const char *tap, const struct virtio_net_stats *st)
{
	fputs("{\"tap\": ", out);
	metrics_put_string(out, tap);
	fprintf(out,
		", \"rx_frames\": %" PRIu64 ", \"rx_bytes\": %" PRIu64 ", \"rx_dropped\": %" PRIu64
		", \"tx_frames\": %" PRIu64 ", \"tx_bytes\": %" PRIu64 ", \"tx_dropped\": %" PRIu64
		", \"rx_acks_held\": %" PRIu64 "}",
		st->rx_frames, st->rx_bytes, st->rx_dropped, st->tx_frames, st->tx_bytes,
		st->tx_dropped, st->rx_acks_held);
}

static void metrics_put_blk(FILE *out, const char *path, const struct virtio_blk_stats *st)
{
	fputs("{\"path\": ", out);
	metrics_put_string(out, path);
	fprintf(out,
		", \"reads\": %" PRIu64 ", \"read_bytes\": %" PRIu64 ", \"writes\": %" PRIu64
		", \"written_bytes\": %" PRIu64 ", \"flushes\": %" PRIu64 ", \"discards\": %" PRIu64
		", \"write_zeroes\": %" PRIu64 ", \"failed\": %" PRIu64 "}",
		st->reads, st->read_bytes, st->writes, st->written_bytes, st->flushes, st->discards,
		st->write_zeroes, st->failed);
}

int metrics_write(int fd, const struct vm *vm)
{
	FILE *out = fdopen(fd, "w");
	int rc = 0;

	if (!out) {
		rc = -errno;
		close(fd);
		return rc;
	}
	fputs("{\"net\": [", out);
	for (unsigned i = 0; i < vm->nr_nets; i++) {
		fputs(i ? ",\n  " : "\n  ", out);
		metrics_put_net(out, vm->cfg->nets[i].tap, &vm->nets[i]->stats);
	}
	fputs("],\n \"blk\": [", out);
	for (unsigned i = 0; i < vm->nr_disks; i++) {
		fputs(i ? ",\n  " : "\n  ", out);
		metrics_put_blk(out, vm->cfg->disks[i].path, &vm->disks[i]->stats);
	}
	fputs("]}\n", out);
	if (ferror(out))
		rc = -EIO;
	if (fclose(out) && !rc)
		rc = -errno;
	return rc;
}
