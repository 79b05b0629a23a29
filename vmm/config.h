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
	CONSOLE_VIRTIO, /* stdio on a virtio console; the UART has no host end */
};

#define CONFIG_MAX_DISKS 8
#define CONFIG_MAX_NETS 4
#define CONFIG_IFNAME_MAX 15 /* IFNAMSIZ less the NUL */
#define CONFIG_MAC_BYTES 6

struct disk_config {
	char path[PATH_MAX];
	bool read_only;
};

/* A virtio-net device on a host tap. */
struct net_config {
	char tap[CONFIG_IFNAME_MAX + 1];
	uint8_t mac[CONFIG_MAC_BYTES];
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
	unsigned nr_nets;
	struct net_config nets[CONFIG_MAX_NETS];
	/* How long the I/O thread watches a busy virtqueue after its last
	 * request before waiting for kicks again; 0: kicks only. */
	unsigned io_poll_us;
	const char *metrics_path; /* NULL: none */
};

#define CONFIG_DEFAULT_MEM (256ULL << 20)
#define CONFIG_MAX_CPUS 254
#define CONFIG_DEFAULT_IO_POLL_US 2000
#define CONFIG_MAX_IO_POLL_US 1000000
#define CONFIG_ERR_SIZE 512

void config_defaults(struct skiff_config *cfg);

/* Parses a size: a number with an optional K, M, G or T suffix (binary,
 * optionally followed by "iB" or "B"); a bare number is MiB, as in QEMU. */
int config_parse_size(const char *text, uint64_t *bytes);

/* Parses a MAC address "52:54:00:12:34:56" (hex digits, either case). A
 * station address is unicast and not all zeros. Returns NULL, or why the
 * text was refused. */
const char *config_parse_mac(const char *text, uint8_t mac[CONFIG_MAC_BYTES]);

/* The MAC of the index'th --net without mac=: 52:54:00:12:34:56 + index,
 * locally administered, the same on every run. */
void config_default_mac(unsigned index, uint8_t mac[CONFIG_MAC_BYTES]);

/* Whether the kernel would take name as an interface name; NULL, or why
 * not. */
const char *config_check_ifname(const char *name, size_t len);

/* Checks the whole config against itself and the host's RAM. Returns 0, or
 * -1 with a message naming the option in err. */
int config_validate(const struct skiff_config *cfg, uint64_t host_ram, char *err, size_t err_size);

#endif
