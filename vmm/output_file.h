/* Files skiff writes on the user's behalf (--console file:PATH,
 * --metrics FILE). A slip of the keyboard must not cost the user a disk:
 * a path that names one of the VM's own inputs (the kernel, the initrd, a
 * disk image) is refused before anything is truncated. */
#ifndef SKIFF_VMM_OUTPUT_FILE_H
#define SKIFF_VMM_OUTPUT_FILE_H

#include <stddef.h>

struct skiff_config;

/* Opens path for writing, created or emptied. Returns the fd, or -1 with
 * a message naming option and the path in err. */
int output_file_open(const struct skiff_config *cfg, const char *option, const char *path,
		     char *err, size_t err_size);

#endif
