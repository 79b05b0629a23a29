#include "vmm/cli.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

struct cli_option {
	const char *name;
	const char *arg; /* NULL: a flag */
	const char *help;
	int (*apply)(struct skiff_config *cfg, const char *value, char *err, size_t err_size);
};

/* The value of an option naming a file, which must not be empty. */
static int cli_take_file_name(const char **into, const char *option, const char *value, char *err,
			      size_t n)
{
	if (!*value) {
		snprintf(err, n, "%s: the file name is empty", option);
		return -1;
	}
	*into = value;
	return 0;
}

static int cli_apply_kernel(struct skiff_config *cfg, const char *value, char *err, size_t n)
{
	return cli_take_file_name(&cfg->kernel_path, "--kernel", value, err, n);
}

static int cli_apply_initrd(struct skiff_config *cfg, const char *value, char *err, size_t n)
{
	return cli_take_file_name(&cfg->initrd_path, "--initrd", value, err, n);
}

static int cli_apply_cmdline(struct skiff_config *cfg, const char *value, char *err, size_t n)
{
	cfg->cmdline = value;
	return 0;
}

static int cli_apply_mem(struct skiff_config *cfg, const char *value, char *err, size_t n)
{
	if (config_parse_size(value, &cfg->mem_size)) {
		snprintf(err, n, "--mem: '%s' is not a size (examples: 512M, 2G, 1024)", value);
		return -1;
	}
	return 0;
}

/* A decimal number in [min, max] and nothing else (no sign, no space):
 * 0 with *out set, or -1. */
static int cli_parse_uint(const char *value, unsigned min, unsigned max, unsigned *out)
{
	char *end;

	errno = 0;
	unsigned long v = strtoul(value, &end, 10);
	if (errno || !isdigit((unsigned char)value[0]) || *end || v < min || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int cli_apply_cpus(struct skiff_config *cfg, const char *value, char *err, size_t n)
{
	if (cli_parse_uint(value, 1, CONFIG_MAX_CPUS, &cfg->cpus)) {
		snprintf(err, n, "--cpus: '%s' is not a CPU count from 1 to %d", value,
			 CONFIG_MAX_CPUS);
		return -1;
	}
	return 0;
}

static int cli_apply_io_poll(struct skiff_config *cfg, const char *value, char *err, size_t n)
{
	if (cli_parse_uint(value, 0, CONFIG_MAX_IO_POLL_US, &cfg->io_poll_us)) {
		snprintf(err, n, "--io-poll: '%s' is not a time in microseconds from 0 to %d",
			 value, CONFIG_MAX_IO_POLL_US);
		return -1;
	}
	return 0;
}

static int cli_apply_metrics(struct skiff_config *cfg, const char *value, char *err, size_t n)
{
	return cli_take_file_name(&cfg->metrics_path, "--metrics", value, err, n);
}

static int cli_apply_console(struct skiff_config *cfg, const char *value, char *err, size_t n)
{
	if (strcmp(value, "stdio") == 0) {
		cfg->console = CONSOLE_STDIO;
	} else if (strcmp(value, "none") == 0) {
		cfg->console = CONSOLE_NONE;
	} else if (strcmp(value, "virtio") == 0) {
		cfg->console = CONSOLE_VIRTIO;
	} else if (strncmp(value, "file:", 5) == 0 && value[5]) {
		cfg->console = CONSOLE_FILE;
		cfg->console_path = value + 5;
	} else {
		snprintf(err, n, "--console: '%s' is not one of stdio, file:PATH, none, virtio",
			 value);
		return -1;
	}
	return 0;
}

static int cli_apply_rng(struct skiff_config *cfg, const char *value, char *err, size_t n)
{
	cfg->rng = true;
	return 0;
}

/* Copies FILE of --disk FILE[,OPTIONS] into path, ",," standing for a
 * comma of the name (QEMU's spelling); returns the comma before OPTIONS or
 * the string's end, or NULL when FILE does not fit. */
static const char *cli_disk_file(const char *value, char path[PATH_MAX])
{
	size_t len = 0;

	for (; *value && !(value[0] == ',' && value[1] != ','); value++) {
		if (*value == ',')
			value++; /* the first of ",," */
		if (len + 1 >= PATH_MAX)
			return NULL;
		path[len++] = *value;
	}
	path[len] = '\0';
	return value;
}

/* FILE[,ro] */
static int cli_apply_disk(struct skiff_config *cfg, const char *value, char *err, size_t n)
{
	if (cfg->nr_disks == CONFIG_MAX_DISKS) {
		snprintf(err, n, "--disk: at most %d disks", CONFIG_MAX_DISKS);
		return -1;
	}

	struct disk_config *disk = &cfg->disks[cfg->nr_disks];
	const char *end = cli_disk_file(value, disk->path);

	if (!end) {
		snprintf(err, n, "--disk: the file name is longer than %d bytes", PATH_MAX - 1);
		return -1;
	}
	if (!disk->path[0]) {
		snprintf(err, n, "--disk: '%s' does not name a file", value);
		return -1;
	}
	if (*end && strcmp(end + 1, "ro") != 0) {
		snprintf(err, n,
			 "--disk: unknown option '%s' in '%s' (FILE or FILE,ro; a comma in FILE "
			 "is written ,,)",
			 end + 1, value);
		return -1;
	}
	disk->read_only = *end != '\0';
	cfg->nr_disks++;
	return 0;
}

/* One key=value of --net; false with err set when it is not one we know. */
static bool cli_net_key(struct net_config *net, const char *word, size_t len, bool *have_tap,
			char *err, size_t n)
{
	char value[32];
	const char *why;

	if (len >= 4 && strncmp(word, "tap=", 4) == 0) {
		if ((why = config_check_ifname(word + 4, len - 4))) {
			snprintf(err, n, "--net: tap name '%.*s' %s", (int)(len - 4), word + 4,
				 why);
			return false;
		}
		memcpy(net->tap, word + 4, len - 4);
		net->tap[len - 4] = '\0';
		*have_tap = true;
		return true;
	}
	if (len >= 4 && strncmp(word, "mac=", 4) == 0) {
		snprintf(value, sizeof(value), "%.*s", (int)(len - 4), word + 4);
		if ((why = config_parse_mac(value, net->mac))) {
			snprintf(err, n, "--net: mac '%.*s' %s", (int)(len - 4), word + 4, why);
			return false;
		}
		return true;
	}
	snprintf(err, n, "--net: unknown option '%.*s' (tap=NAME[,mac=MAC])", (int)len, word);
	return false;
}

/* tap=NAME[,mac=MAC] */
static int cli_apply_net(struct skiff_config *cfg, const char *value, char *err, size_t n)
{
	struct net_config net;
	bool have_tap = false;

	memset(&net, 0, sizeof(net));
	if (cfg->nr_nets == CONFIG_MAX_NETS) {
		snprintf(err, n, "--net: at most %d network devices", CONFIG_MAX_NETS);
		return -1;
	}
	config_default_mac(cfg->nr_nets, net.mac);
	for (const char *word = value;; word++) {
		const char *comma = strchr(word, ',');
		size_t len = comma ? (size_t)(comma - word) : strlen(word);
		if (!cli_net_key(&net, word, len, &have_tap, err, n))
			return -1;
		if (!comma)
			break;
		word = comma;
	}
	if (!have_tap) {
		snprintf(err, n, "--net: '%s' names no tap device (tap=NAME[,mac=MAC])", value);
		return -1;
	}
	cfg->nets[cfg->nr_nets++] = net;
	return 0;
}

static const struct cli_option run_options[] = {
	{"kernel", "FILE",
	 "kernel to boot: a Linux bzImage or a PVH ELF (default: the bundled skiff-guest)",
	 cli_apply_kernel},
	{"initrd", "FILE", "initial RAM disk for a bzImage kernel", cli_apply_initrd},
	{"cmdline", "STR", "kernel command line", cli_apply_cmdline},
	{"mem", "SIZE", "guest RAM, e.g. 512M or 2G; a bare number is MiB (default 256M)",
	 cli_apply_mem},
	{"cpus", "N", "number of vCPUs, 1-254 (default 1)", cli_apply_cpus},
	{"console", "KIND",
	 "console: stdio (default), file:PATH, none, or virtio (stdio on virtio-console)",
	 cli_apply_console},
	{"disk", "FILE[,ro]",
	 "virtio-blk disk on a raw image (repeatable; ,ro: read-only; ,, for a comma in FILE)",
	 cli_apply_disk},
	{"rng", NULL, "add a virtio-rng device fed from the host's getrandom()", cli_apply_rng},
	{"net", "tap=NAME[,mac=MAC]",
	 "virtio-net on host tap NAME (repeatable, up to 4; MAC default 52:54:00:12:34:56+N)",
	 cli_apply_net},
	{"io-poll", "US",
	 "how long the I/O thread watches a busy disk or transmit queue for more requests "
	 "before waiting for the guest's notifications again, holding back the interrupts "
	 "of pure TCP ACKs to a guest streaming out meanwhile; 0: notifications only, "
	 "an interrupt per ACK (default 2000)",
	 cli_apply_io_poll},
	{"metrics", "FILE",
	 "when the VM stops, write the devices' counters to FILE as JSON (frames and bytes "
	 "per network device, requests and bytes per disk)",
	 cli_apply_metrics},
};

#define CLI_NR_OPTIONS (sizeof(run_options) / sizeof(run_options[0]))

static const struct cli_option *cli_find(const char *name, size_t len)
{
	for (size_t i = 0; i < CLI_NR_OPTIONS; i++)
		if (strlen(run_options[i].name) == len &&
		    strncmp(run_options[i].name, name, len) == 0)
			return &run_options[i];
	return NULL;
}

void cli_print_run_usage(FILE *out)
{
	fprintf(out, "Usage: skiff run [OPTIONS]\n\nBoot a guest on KVM.\n\nOptions:\n");
	for (size_t i = 0; i < CLI_NR_OPTIONS; i++) {
		char left[32];
		snprintf(left, sizeof(left), "--%s %s", run_options[i].name,
			 run_options[i].arg ? run_options[i].arg : "");
		/* A long argument pushes its help to the next line. */
		if (strlen(left) > 18)
			fprintf(out, "  %s\n  %-18s %s\n", left, "", run_options[i].help);
		else
			fprintf(out, "  %-18s %s\n", left, run_options[i].help);
	}
	fprintf(out, "  %-18s %s\n", "--help", "show this help");
	fprintf(out, "\nExit status: 0 guest powered off (or reset), 1 VMM error, 2 bad arguments\n"
		     "or kernel, 3 guest crashed, 4 guest reported failure through port 0xf4,\n"
		     "128+N stopped by signal N. On a terminal, Ctrl-A x quits.\n");
}

void cli_print_usage(FILE *out)
{
	fprintf(out, "Usage: skiff COMMAND [OPTIONS]\n\n"
		     "Skiff, a virtual machine monitor on Linux KVM.\n\n"
		     "Commands:\n"
		     "  run        boot a guest (skiff run --help)\n\n"
		     "Options:\n"
		     "  --help     show this help\n"
		     "  --version  show the version\n");
}

/* Splits "--name=value" / "--name value"; *consumed counts argv slots. */
static int cli_take_option(int argc, char **argv, int i, const struct cli_option **opt,
			   const char **value, int *consumed, char *err, size_t n)
{
	const char *word = argv[i] + 2;
	const char *eq = strchr(word, '=');
	size_t name_len = eq ? (size_t)(eq - word) : strlen(word);

	*opt = cli_find(word, name_len);
	if (!*opt) {
		snprintf(err, n, "unknown option '%s' (see skiff run --help)", argv[i]);
		return -1;
	}
	if (!(*opt)->arg) {
		if (eq) {
			snprintf(err, n, "--%s takes no value", (*opt)->name);
			return -1;
		}
		*value = "", *consumed = 1;
	} else if (eq) {
		*value = eq + 1, *consumed = 1;
	} else if (i + 1 < argc) {
		*value = argv[i + 1], *consumed = 2;
	} else {
		snprintf(err, n, "--%s needs a value (%s)", (*opt)->name, (*opt)->arg);
		return -1;
	}
	return 0;
}

enum cli_result cli_parse_run(int argc, char **argv, struct skiff_config *cfg, char *err, size_t n)
{
	config_defaults(cfg);
	for (int i = 0; i < argc;) {
		const struct cli_option *opt;
		const char *value;
		int consumed;

		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return CLI_HELP;
		if (strncmp(argv[i], "--", 2) != 0) {
			snprintf(err, n, "unexpected argument '%s' (see skiff run --help)",
				 argv[i]);
			return CLI_ERROR;
		}
		if (cli_take_option(argc, argv, i, &opt, &value, &consumed, err, n) ||
		    opt->apply(cfg, value, err, n))
			return CLI_ERROR;
		i += consumed;
	}
	return CLI_OK;
}
