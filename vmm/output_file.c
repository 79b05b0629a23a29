#include "vmm/output_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/config.h"

static bool output_file_is(const struct stat *out, const char *path)
{
	struct stat st;

	return path && stat(path, &st) == 0 && st.st_dev == out->st_dev && st.st_ino == out->st_ino;
}

/* Which input option names the file behind out, or NULL. */
static const char *output_file_input(const struct skiff_config *cfg, const struct stat *out)
{
	if (output_file_is(out, cfg->kernel_path))
		return "--kernel";
	if (output_file_is(out, cfg->initrd_path))
		return "--initrd";
	for (unsigned i = 0; i < cfg->nr_disks; i++)
		if (output_file_is(out, cfg->disks[i].path))
			return "--disk";
	return NULL;
}

int output_file_open(const struct skiff_config *cfg, const char *option, const char *path,
		     char *err, size_t err_size)
{
	/* Not O_TRUNC: what the path names is checked first. */
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	const char *input;
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, err_size, "%s: cannot open '%s': %s", option, path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) /* a terminal, a pipe, /dev/null: nothing to empty */
		return fd;
	if ((input = output_file_input(cfg, &st))) {
		snprintf(err, err_size, "%s: '%s' is the file of %s: not overwriting it", option,
			 path, input);
		goto fail;
	}
	if (ftruncate(fd, 0) < 0) {
		snprintf(err, err_size, "%s: cannot empty '%s': %s", option, path, strerror(errno));
		goto fail;
	}
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}
