#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/vm.h"

/* The bundled guest, linked in by vmm/bundled_guest.S. */
extern const uint8_t skiff_bundled_guest_start[];
extern const uint8_t skiff_bundled_guest_end[];

/* No kernel Skiff can boot is anywhere near this; it bounds the read. */
#define KERNEL_MAX_FILE_SIZE (512ULL << 20)

static int kernel_read_fd(int fd, uint8_t *buf, size_t size)
{
	size_t done = 0;

	while (done < size) {
		ssize_t n = read(fd, buf + done, size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return 0;
}

int kernel_image_read(struct kernel_image *img, const char *path, char *err, size_t err_size)
{
	struct stat st;

	memset(img, 0, sizeof(*img));
	if (!path) {
		img->name = "bundled guest";
		img->bytes = skiff_bundled_guest_start;
		img->size = (size_t)(skiff_bundled_guest_end - skiff_bundled_guest_start);
		return 0;
	}
	img->name = path;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, err_size, "kernel '%s': %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	const char *problem = !S_ISREG(st.st_mode)			    ? "not a regular file"
			      : st.st_size == 0				    ? "the file is empty"
			      : (uint64_t)st.st_size > KERNEL_MAX_FILE_SIZE ? "larger than 512 MiB"
									    : NULL;
	if (problem) {
		snprintf(err, err_size, "kernel '%s': %s", path, problem);
		close(fd);
		return -1;
	}
	img->owned = malloc((size_t)st.st_size);
	int rc = img->owned ? kernel_read_fd(fd, img->owned, (size_t)st.st_size) : -ENOMEM;
	close(fd);
	if (rc) {
		snprintf(err, err_size, "kernel '%s': %s", path, strerror(-rc));
		kernel_image_free(img);
		return -1;
	}
	img->bytes = img->owned;
	img->size = (size_t)st.st_size;
	return 0;
}

void kernel_image_free(struct kernel_image *img)
{
	free(img->owned);
	img->owned = NULL;
	img->bytes = NULL;
}
