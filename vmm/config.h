/* What `skiff run` was asked to do, parsed and validated before anything
 * starts. */
#ifndef SKIFF_VMM_CONFIG_H
#define SKIFF_VMM_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum console_kind {
	CONSOLE_STDIO,
	CONSOLE_FILE,
	CONSOLE_NONE,
};

#define CONFIG_MAX_DISKS 8

struct disk_config {
	char path[PATH_MAX];
	bool read_only;
};

struct skiff_config {
	const char *kernel_path; /* NULL: the bundled guest */
	const char *initrd_path; /* NULL: none */
	const char *cmdline;
	uint64_t mem_size;
	unsigned cpus;
	enum console_kind console;
	const char *console_path; /* CONSOLE_FILE */
	bool rng;		  /* a virtio-rng device */
	unsigned nr_disks;
	struct disk_config disks[CONFIG_MAX_DISKS];
};

#define CONFIG_DEFAULT_MEM (256ULL << 20)
#define CONFIG_MAX_CPUS 254
#define CONFIG_ERR_SIZE 512

void config_defaults(struct skiff_config *cfg);

/* Parses a size: a number with an optional K, M, G or T suffix (binary,
 * optionally followed by "iB" or "B"); a bare number is MiB, as in QEMU. */
int config_parse_size(const char *text, uint64_t *bytes);

/* Checks the whole config against itself and the host's RAM. Returns 0, or
 * -1 with a message naming the option in err. */
int config_validate(const struct skiff_config *cfg, uint64_t host_ram, char *err, size_t err_size);

#endif
