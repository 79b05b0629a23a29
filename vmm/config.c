#include "vmm/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mm/guest_mem.h"
#include "vmm/boot_layout.h"

void config_defaults(struct skiff_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->cmdline = "";
	cfg->mem_size = CONFIG_DEFAULT_MEM;
	cfg->cpus = 1;
	cfg->console = CONSOLE_STDIO;
}

static int config_size_shift(const char *suffix, unsigned *shift)
{
	static const struct {
		char letter;
		unsigned shift;
	} units[] = {{'k', 10}, {'m', 20}, {'g', 30}, {'t', 40}};

	if (*suffix == '\0') {
		*shift = 20;
		return 0;
	}
	if ((suffix[0] == 'b' || suffix[0] == 'B') && suffix[1] == '\0') {
		*shift = 0;
		return 0;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (tolower((unsigned char)suffix[0]) != units[i].letter)
			continue;
		const char *rest = suffix + 1;
		if (*rest == '\0' || strcmp(rest, "iB") == 0 || strcmp(rest, "B") == 0) {
			*shift = units[i].shift;
			return 0;
		}
	}
	return -1;
}

int config_parse_size(const char *text, uint64_t *bytes)
{
	char *end;
	unsigned shift;

	if (!isdigit((unsigned char)text[0]))
		return -1;
	errno = 0;
	unsigned long long n = strtoull(text, &end, 10);
	if (errno || config_size_shift(end, &shift))
		return -1;
	if (shift && n > (UINT64_MAX >> shift))
		return -1;
	*bytes = (uint64_t)n << shift;
	return 0;
}

static int config_fail(char *err, size_t err_size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int config_fail(char *err, size_t err_size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_size, fmt, ap);
	va_end(ap);
	return -1;
}

int config_validate(const struct skiff_config *cfg, uint64_t host_ram, char *err, size_t err_size)
{
	if (cfg->mem_size < GUEST_MEM_MIN_SIZE)
		return config_fail(err, err_size,
				   "--mem: %llu bytes is too small; the minimum is %llu MiB",
				   (unsigned long long)cfg->mem_size, GUEST_MEM_MIN_SIZE >> 20);
	if (cfg->mem_size % GUEST_PAGE_SIZE)
		return config_fail(err, err_size,
				   "--mem: %llu bytes is not a multiple of the %llu-byte page size",
				   (unsigned long long)cfg->mem_size, GUEST_PAGE_SIZE);
	if (host_ram && cfg->mem_size > host_ram)
		return config_fail(err, err_size,
				   "--mem: %llu MiB is more than this host's %llu MiB of RAM",
				   (unsigned long long)(cfg->mem_size >> 20),
				   (unsigned long long)(host_ram >> 20));
	if (cfg->cpus < 1 || cfg->cpus > CONFIG_MAX_CPUS)
		return config_fail(err, err_size, "--cpus: %u is out of range (1-%d)", cfg->cpus,
				   CONFIG_MAX_CPUS);
	if (strlen(cfg->cmdline) >= BOOT_CMDLINE_MAX)
		return config_fail(err, err_size,
				   "--cmdline: %zu bytes is longer than the %d-byte limit",
				   strlen(cfg->cmdline), BOOT_CMDLINE_MAX - 1);
	return 0;
}
