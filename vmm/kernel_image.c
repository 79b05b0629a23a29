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

/* Why a file of this size cannot be used, or NULL. */
static const char *boot_file_problem(const struct stat *st, uint64_t max, const char *too_big)
{
	if (!S_ISREG(st->st_mode))
		return "not a regular file";
	if (st->st_size == 0)
		return "the file is empty";
	if ((uint64_t)st->st_size > max)
		return too_big;
	return NULL;
}

/* Reads a whole file; what ("kernel", "initrd") and the path name it in
 * messages. */
static int boot_file_read(struct boot_file *f, const char *what, const char *path, uint64_t max,
			  const char *too_big, char *err, size_t err_size)
{
	struct stat st;

	f->name = path;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, err_size, "%s '%s': %s", what, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	const char *problem = boot_file_problem(&st, max, too_big);
	if (problem) {
		snprintf(err, err_size, "%s '%s': %s", what, path, problem);
		close(fd);
		return -1;
	}
	f->owned = malloc((size_t)st.st_size);
	int rc = f->owned ? kernel_read_fd(fd, f->owned, (size_t)st.st_size) : -ENOMEM;
	close(fd);
	if (rc) {
		snprintf(err, err_size, "%s '%s': %s", what, path, strerror(-rc));
		free(f->owned);
		f->owned = NULL;
		return -1;
	}
	f->bytes = f->owned;
	f->size = (size_t)st.st_size;
	return 0;
}

int kernel_image_read(struct kernel_image *img, const char *kernel_path, const char *initrd_path,
		      uint64_t initrd_max, char *err, size_t err_size)
{
	char too_big[64];

	memset(img, 0, sizeof(*img));
	if (!kernel_path) {
		img->kernel.name = "bundled guest";
		img->kernel.bytes = skiff_bundled_guest_start;
		img->kernel.size = (size_t)(skiff_bundled_guest_end - skiff_bundled_guest_start);
	} else if (boot_file_read(&img->kernel, "kernel", kernel_path, KERNEL_MAX_FILE_SIZE,
				  "larger than 512 MiB", err, err_size)) {
		return -1;
	}
	snprintf(too_big, sizeof(too_big), "larger than the guest's %llu MiB of RAM (--mem)",
		 (unsigned long long)(initrd_max >> 20));
	if (initrd_path && boot_file_read(&img->initrd, "initrd", initrd_path, initrd_max, too_big,
					  err, err_size)) {
		kernel_image_free(img);
		return -1;
	}
	return 0;
}

void kernel_image_free(struct kernel_image *img)
{
	free(img->kernel.owned);
	free(img->initrd.owned);
	memset(img, 0, sizeof(*img));
}
