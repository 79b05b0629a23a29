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
	cfg->io_poll_us = CONFIG_DEFAULT_IO_POLL_US;
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

const char *config_parse_mac(const char *text, uint8_t mac[CONFIG_MAC_BYTES])
{
	uint8_t out[CONFIG_MAC_BYTES];
	const char *p = text;
	bool zero = true;

	for (unsigned i = 0; i < CONFIG_MAC_BYTES; i++) {
		if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]) ||
		    p[2] != (i + 1 < CONFIG_MAC_BYTES ? ':' : '\0'))
			return "is not six hex bytes separated by colons";
		char byte[3] = {p[0], p[1], '\0'};
		out[i] = (uint8_t)strtoul(byte, NULL, 16);
		zero = zero && out[i] == 0;
		p += 3;
	}
	if (out[0] & 1)
		return "is a multicast address";
	if (zero)
		return "is all zeros";
	memcpy(mac, out, sizeof(out));
	return NULL;
}

void config_default_mac(unsigned index, uint8_t mac[CONFIG_MAC_BYTES])
{
	const uint8_t base[CONFIG_MAC_BYTES] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

	memcpy(mac, base, sizeof(base));
	mac[5] = (uint8_t)(base[5] + index);
}

/* The kernel's dev_valid_name(). */
const char *config_check_ifname(const char *name, size_t len)
{
	if (len == 0)
		return "is empty";
	if (len > CONFIG_IFNAME_MAX)
		return "is longer than 15 bytes";
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return "is not a valid interface name";
	for (size_t i = 0; i < len; i++)
		if (name[i] == '/' || name[i] == ':' || isspace((unsigned char)name[i]))
			return "contains '/', ':' or a space";
	return NULL;
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
