#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mm/guest_mem.h"
#include "vmm/boot_layout.h"
#include "vmm/cli.h"
#include "vmm/config.h"

/* Parses the words after `skiff run`. */
#define PARSE(cfg, err, ...)                                                                       \
	parse_words((cfg), (err), sizeof(err), (const char *const[]){__VA_ARGS__, NULL})

static enum cli_result parse_words(struct skiff_config *cfg, char *err, size_t err_size,
				   const char *const *words)
{
	char *argv[32];
	int argc = 0;

	while (words[argc]) {
		assert_true(argc < 31);
		argv[argc] = (char *)words[argc];
		argc++;
	}
	argv[argc] = NULL;
	return cli_parse_run(argc, argv, cfg, err, err_size);
}

/* The parse fails, and the message quotes `names` (an option or a value). */
static void assert_error_names(enum cli_result r, const char *err, const char *names)
{
	assert_int_equal(r, CLI_ERROR);
	if (!strstr(err, names))
		fail_msg("error '%s' does not mention '%s'", err, names);
}

static void no_arguments_give_documented_defaults(void **state)
{
	struct skiff_config cfg;
	char err[CONFIG_ERR_SIZE] = "";
	char *argv[] = {NULL};

	memset(&cfg, 0xa5, sizeof(cfg)); /* stale values must not survive */
	assert_int_equal(cli_parse_run(0, argv, &cfg, err, sizeof(err)), CLI_OK);
	assert_null(cfg.kernel_path); /* the bundled guest */
	assert_null(cfg.initrd_path);
	assert_string_equal(cfg.cmdline, "");
	assert_int_equal(cfg.mem_size, 256ULL << 20);
	assert_int_equal(cfg.cpus, 1);
	assert_int_equal(cfg.console, CONSOLE_STDIO);
	assert_null(cfg.console_path);
	assert_int_equal(config_validate(&cfg, 0, err, sizeof(err)), 0);
}

static void every_option_is_applied_in_separate_word_form(void **state)
{
	struct skiff_config cfg;
	char err[CONFIG_ERR_SIZE] = "";

	assert_int_equal(PARSE(&cfg, err, "--kernel", "vmlinux", "--cmdline", "console=ttyS0 quiet",
			       "--mem", "2G", "--cpus", "4", "--console", "none", "--initrd",
			       "initrd.gz"),
			 CLI_OK);
	assert_string_equal(cfg.kernel_path, "vmlinux");
	assert_string_equal(cfg.initrd_path, "initrd.gz");
	assert_string_equal(cfg.cmdline, "console=ttyS0 quiet");
	assert_int_equal(cfg.mem_size, 2ULL << 30);
	assert_int_equal(cfg.cpus, 4);
	assert_int_equal(cfg.console, CONSOLE_NONE);
}

static void equals_form_takes_value_after_first_equals_sign(void **state)
{
	struct skiff_config cfg;
	char err[CONFIG_ERR_SIZE] = "";

	assert_int_equal(PARSE(&cfg, err, "--mem=512M", "--cpus=3", "--cmdline=a=b c=d",
			       "--console=file:/tmp/con=1.log", "--kernel=k.elf",
			       "--initrd=i=1.cpio"),
			 CLI_OK);
	assert_string_equal(cfg.initrd_path, "i=1.cpio");
	assert_int_equal(cfg.mem_size, 512ULL << 20);
	assert_int_equal(cfg.cpus, 3);
	assert_string_equal(cfg.cmdline, "a=b c=d");
	assert_int_equal(cfg.console, CONSOLE_FILE);
	assert_string_equal(cfg.console_path, "/tmp/con=1.log");
	assert_string_equal(cfg.kernel_path, "k.elf");
}

static void equals_form_with_empty_value_is_not_a_missing_value(void **state)
{
	struct skiff_config cfg;
	char err[CONFIG_ERR_SIZE] = "";

	/* "--cmdline=" is an explicit empty command line, and must not swallow
	 * the next word as its value. */
	assert_int_equal(PARSE(&cfg, err, "--cmdline=", "--cpus", "2"), CLI_OK);
	assert_string_equal(cfg.cmdline, "");
	assert_int_equal(cfg.cpus, 2);
	assert_error_names(PARSE(&cfg, err, "--kernel="), err, "--kernel");
	assert_error_names(PARSE(&cfg, err, "--initrd="), err, "--initrd");
	assert_error_names(PARSE(&cfg, err, "--cpus="), err, "--cpus");
}

static void later_option_overrides_earlier_one(void **state)
{
	struct skiff_config cfg;
	char err[CONFIG_ERR_SIZE] = "";

	assert_int_equal(PARSE(&cfg, err, "--cpus", "2", "--cpus=5"), CLI_OK);
	assert_int_equal(cfg.cpus, 5);
}

static void io_poll_takes_microseconds_and_zero_turns_it_off(void **state)
{
	struct skiff_config cfg;
	char err[CONFIG_ERR_SIZE] = "";

	assert_int_equal(PARSE(&cfg, err, "--cpus", "1"), CLI_OK);
	assert_int_equal(cfg.io_poll_us, CONFIG_DEFAULT_IO_POLL_US);
	assert_int_equal(PARSE(&cfg, err, "--io-poll", "0"), CLI_OK);
	assert_int_equal(cfg.io_poll_us, 0);
	assert_int_equal(PARSE(&cfg, err, "--io-poll=500"), CLI_OK);
	assert_int_equal(cfg.io_poll_us, 500);
	assert_error_names(PARSE(&cfg, err, "--io-poll", "-1"), err, "--io-poll");
	assert_error_names(PARSE(&cfg, err, "--io-poll", "2ms"), err, "--io-poll");
	assert_error_names(PARSE(&cfg, err, "--io-poll", "1000001"), err, "--io-poll");
	assert_error_names(PARSE(&cfg, err, "--io-poll="), err, "--io-poll");
}

static void metrics_takes_a_file_name(void **state)
{
	struct skiff_config cfg;
	char err[CONFIG_ERR_SIZE] = "";

	assert_int_equal(PARSE(&cfg, err, "--cpus", "1"), CLI_OK);
	assert_null(cfg.metrics_path);
	assert_int_equal(PARSE(&cfg, err, "--metrics", "out/m.json"), CLI_OK);
	assert_string_equal(cfg.metrics_path, "out/m.json");
	assert_error_names(PARSE(&cfg, err, "--metrics="), err, "--metrics");
	assert_error_names(PARSE(&cfg, err, "--metrics"), err, "--metrics");
}

static void help_is_reported_wherever_it_appears(void **state)
{
	struct skiff_config cfg;
	char err[CONFIG_ERR_SIZE] = "";

	assert_int_equal(PARSE(&cfg, err, "--help"), CLI_HELP);
	assert_int_equal(PARSE(&cfg, err, "-h"), CLI_HELP);
	assert_int_equal(PARSE(&cfg, err, "--mem", "64M", "--help"), CLI_HELP);
	/* As the value of an option it is that option's value, not a request. */
	assert_int_equal(PARSE(&cfg, err, "--cmdline", "--help"), CLI_OK);
	assert_string_equal(cfg.cmdline, "--help");
}

static void usage_lists_every_option(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_non_null(out);
	cli_print_run_usage(out);
	fclose(out);
	for (const char *opt = "--kernel\0--initrd\0--cmdline\0--mem\0--cpus\0--console\0--help\0";
	     *opt; opt += strlen(opt) + 1)
		if (!strstr(text, opt))
			fail_msg("usage does not mention %s", opt);
	free(text);
}

static void unknown_option_is_an_error_naming_it(void **state)
{
	struct skiff_config cfg;
	char err[CONFIG_ERR_SIZE] = "";

	assert_error_names(PARSE(&cfg, err, "--memory", "1G"), err, "--memory");
	/* No prefix matching: "--me" is not "--mem". */
	assert_error_names(PARSE(&cfg, err, "--me=1G"), err, "--me=1G");
	assert_error_names(PARSE(&cfg, err, "--"), err, "'--'");
	assert_error_names(PARSE(&cfg, err, "--help=yes"), err, "--help=yes");
}

static void option_without_value_is_an_error_naming_it(void **state)
{
	struct skiff_config cfg;
	char err[CONFIG_ERR_SIZE] = "";

	assert_error_names(PARSE(&cfg, err, "--mem"), err, "--mem");
	assert_error_names(PARSE(&cfg, err, "--cpus", "2", "--kernel"), err, "--kernel");
	assert_error_names(PARSE(&cfg, err, "--console"), err, "--console");
	assert_error_names(PARSE(&cfg, err, "--cmdline"), err, "--cmdline");
	assert_error_names(PARSE(&cfg, err, "--kernel", "bzImage", "--initrd"), err, "--initrd");
}

static void positional_argument_is_refused(void **state)
{
	struct skiff_config cfg;
	char err[CONFIG_ERR_SIZE] = "";

	assert_error_names(PARSE(&cfg, err, "vmlinux"), err, "vmlinux");
	assert_error_names(PARSE(&cfg, err, "--mem", "64M", "extra"), err, "extra");
	assert_error_names(PARSE(&cfg, err, "-m"), err, "-m");
	assert_error_names(PARSE(&cfg, err, "-"), err, "'-'");
}

static void mem_sizes_parse_with_binary_suffixes(void **state)
{
	static const struct {
		const char *text;
		uint64_t bytes;
	} ok[] = {
		{"256", 256ULL << 20}, /* a bare number is MiB */
		{"0", 0},
		{"4096b", 4096},
		{"4096B", 4096},
		{"65536k", 64ULL << 20},
		{"65536K", 64ULL << 20},
		{"65536KiB", 64ULL << 20},
		{"512M", 512ULL << 20},
		{"512MB", 512ULL << 20},
		{"512MiB", 512ULL << 20},
		{"2g", 2ULL << 30},
		{"2G", 2ULL << 30},
		{"1T", 1ULL << 40},
		{"16777215T", 16777215ULL << 40}, /* the largest T that fits */
	};
	uint64_t bytes;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		bytes = 1;
		if (config_parse_size(ok[i].text, &bytes))
			fail_msg("'%s' was refused", ok[i].text);
		if (bytes != ok[i].bytes)
			fail_msg("'%s' parsed as %llu, not %llu", ok[i].text,
				 (unsigned long long)bytes, (unsigned long long)ok[i].bytes);
	}
}

static void bad_mem_values_are_errors_naming_mem(void **state)
{
	static const char *const bad[] = {
		"abc",
		"-1",
		"+1",
		" 512",
		"512 ",
		"12Q",
		"",
		"M",
		"1.5G",
		"0x100",
		"2GG",
		"2Gi",
		"2iB",
		"2bB",
		"99999999999999999999", /* does not fit in 64 bits at all */
		"18446744073709551615", /* fits, but a bare number is MiB: overflows */
		"16777216T",		/* 2^64 bytes */
		"17592186044416M",	/* 2^64 bytes */
		"18446744073709551615K",
	};
	struct skiff_config cfg;
	char err[CONFIG_ERR_SIZE];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t bytes = 12345;

		if (config_parse_size(bad[i], &bytes) == 0)
			fail_msg("--mem '%s' was accepted as %llu bytes", bad[i],
				 (unsigned long long)bytes);
		assert_int_equal(bytes, 12345); /* untouched on error */
		err[0] = '\0';
		assert_error_names(PARSE(&cfg, err, "--mem", bad[i]), err, "--mem");
		if (bad[i][0] && !strstr(err, bad[i]))
			fail_msg("error '%s' does not quote the value '%s'", err, bad[i]);
	}
}

static void bad_cpu_counts_are_errors_naming_cpus(void **state)
{
	static const char *const bad[] = {
		"0",
		"255",
		"256",
		"2x",
		"-1",
		"+2",
		"",
		"x",
		"1.0",
		"0x2",
		"18446744073709551617",	 /* ERANGE */
		"4294967297",		 /* 1 if truncated to 32 bits */
		"-18446744073709551615", /* strtoul negates this to 1 */
		" 2",			 /* leading space, refused as --mem refuses it */
	};
	struct skiff_config cfg;
	char err[CONFIG_ERR_SIZE];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		enum cli_result r = PARSE(&cfg, err, "--cpus", bad[i]);
		if (r != CLI_ERROR)
			fail_msg("--cpus '%s' was accepted as %u", bad[i], cfg.cpus);
		assert_error_names(r, err, "--cpus");
	}
}

static void cpu_count_limits_are_inclusive(void **state)
{
	struct skiff_config cfg;
	char err[CONFIG_ERR_SIZE] = "";

	assert_int_equal(PARSE(&cfg, err, "--cpus", "1"), CLI_OK);
	assert_int_equal(cfg.cpus, 1);
	assert_int_equal(PARSE(&cfg, err, "--cpus", "254"), CLI_OK);
	assert_int_equal(cfg.cpus, 254);
	assert_int_equal(config_validate(&cfg, 0, err, sizeof(err)), 0);
}

static void console_kinds_parse_and_bad_ones_are_errors(void **state)
{
	static const char *const bad[] = {"", "tty", "file:", "file", "STDIO", "stdio ", "none,"};
	struct skiff_config cfg;
	char err[CONFIG_ERR_SIZE];

	assert_int_equal(PARSE(&cfg, err, "--console", "stdio"), CLI_OK);
	assert_int_equal(cfg.console, CONSOLE_STDIO);
	assert_int_equal(PARSE(&cfg, err, "--console", "none"), CLI_OK);
	assert_int_equal(cfg.console, CONSOLE_NONE);
	assert_int_equal(PARSE(&cfg, err, "--console", "file:out.log"), CLI_OK);
	assert_int_equal(cfg.console, CONSOLE_FILE);
	assert_string_equal(cfg.console_path, "out.log");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		enum cli_result r = PARSE(&cfg, err, "--console", bad[i]);
		if (r != CLI_ERROR)
			fail_msg("--console '%s' was accepted", bad[i]);
		assert_error_names(r, err, "--console");
	}
}

static void empty_kernel_path_is_refused(void **state)
{
	struct skiff_config cfg;
	char err[CONFIG_ERR_SIZE] = "";

	assert_error_names(PARSE(&cfg, err, "--kernel", ""), err, "--kernel");
}

static void disk_takes_a_file_and_ro_with_doubled_commas_in_the_name(void **state)
{
	struct skiff_config cfg;
	char err[CONFIG_ERR_SIZE] = "";

	assert_int_equal(PARSE(&cfg, err, "--disk", "plain.img", "--disk", "a,,b.img", "--disk",
			       "a,,b.img,ro", "--disk", "end,,,ro", "--disk=x.img,ro"),
			 CLI_OK);
	assert_int_equal(cfg.nr_disks, 5);
	assert_string_equal(cfg.disks[0].path, "plain.img");
	assert_false(cfg.disks[0].read_only);
	assert_string_equal(cfg.disks[1].path, "a,b.img");
	assert_false(cfg.disks[1].read_only);
	assert_string_equal(cfg.disks[2].path, "a,b.img");
	assert_true(cfg.disks[2].read_only);
	assert_string_equal(cfg.disks[3].path, "end,");
	assert_true(cfg.disks[3].read_only);
	assert_string_equal(cfg.disks[4].path, "x.img");
	assert_true(cfg.disks[4].read_only);
}

static void bad_disk_options_are_errors_naming_the_problem(void **state)
{
	static const struct {
		const char *value, *names;
	} bad[] = {
		{"", "'' does not name a file"},     {",ro", "',ro' does not name a file"},
		{"a.img,rw", "unknown option 'rw'"}, {"a,b.img", "unknown option 'b.img'"},
		{"a.img,", "unknown option ''"},     {"a.img,ro,ro", "unknown option 'ro,ro'"},
	};
	struct skiff_config cfg;
	char err[CONFIG_ERR_SIZE];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_error_names(PARSE(&cfg, err, "--disk", bad[i].value), err, bad[i].names);
		assert_error_names(CLI_ERROR, err, "--disk");
	}
}

static void disk_name_longer_than_path_max_is_refused(void **state)
{
	static char name[PATH_MAX + 8];
	struct skiff_config cfg;
	char err[CONFIG_ERR_SIZE];

	memset(name, 'd', sizeof(name) - 1);
	assert_error_names(PARSE(&cfg, err, "--disk", name), err, "file name is longer than");
}

static void empty_initrd_path_is_refused(void **state)
{
	struct skiff_config cfg;
	char err[CONFIG_ERR_SIZE] = "";

	assert_error_names(PARSE(&cfg, err, "--initrd", ""), err,
			   "--initrd: the file name is empty");
}

static void long_error_message_is_truncated_not_overflowed(void **state)
{
	struct skiff_config cfg;
	char value[600];
	char err[32];

	memset(value, 'z', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	memset(err, 0x7f, sizeof(err));
	assert_int_equal(PARSE(&cfg, err, "--mem", value), CLI_ERROR);
	assert_int_equal(strlen(err), sizeof(err) - 1);
}

/* config_validate */

static void config_with(struct skiff_config *cfg, uint64_t mem)
{
	config_defaults(cfg);
	cfg->mem_size = mem;
}

static void validate_refuses_mem_below_minimum(void **state)
{
	struct skiff_config cfg;
	char err[CONFIG_ERR_SIZE] = "";

	config_with(&cfg, GUEST_MEM_MIN_SIZE - GUEST_PAGE_SIZE);
	assert_int_equal(config_validate(&cfg, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--mem"));
	assert_non_null(strstr(err, "small"));
	config_with(&cfg, 0);
	assert_int_equal(config_validate(&cfg, 0, err, sizeof(err)), -1);
	config_with(&cfg, GUEST_MEM_MIN_SIZE);
	assert_int_equal(config_validate(&cfg, 0, err, sizeof(err)), 0);
}

static void validate_refuses_mem_not_page_multiple(void **state)
{
	struct skiff_config cfg;
	char err[CONFIG_ERR_SIZE] = "";

	config_with(&cfg, 64 * GUEST_MIB + 1);
	assert_int_equal(config_validate(&cfg, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--mem"));
	assert_non_null(strstr(err, "page"));
	config_with(&cfg, 64 * GUEST_MIB + 2048);
	assert_int_equal(config_validate(&cfg, 0, err, sizeof(err)), -1);
	config_with(&cfg, 64 * GUEST_MIB + GUEST_PAGE_SIZE);
	assert_int_equal(config_validate(&cfg, 0, err, sizeof(err)), 0);
}

static void validate_refuses_mem_above_host_ram(void **state)
{
	struct skiff_config cfg;
	char err[CONFIG_ERR_SIZE] = "";

	config_with(&cfg, 2 * GUEST_GIB);
	assert_int_equal(config_validate(&cfg, 2 * GUEST_GIB - GUEST_PAGE_SIZE, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "--mem"));
	assert_non_null(strstr(err, "host"));
	assert_int_equal(config_validate(&cfg, 2 * GUEST_GIB, err, sizeof(err)), 0);
	/* An unknown host size (0) does not block the run. */
	assert_int_equal(config_validate(&cfg, 0, err, sizeof(err)), 0);
}

static void validate_refuses_cpu_count_out_of_range(void **state)
{
	struct skiff_config cfg;
	char err[CONFIG_ERR_SIZE] = "";

	config_defaults(&cfg);
	cfg.cpus = 0;
	assert_int_equal(config_validate(&cfg, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--cpus"));
	cfg.cpus = CONFIG_MAX_CPUS + 1;
	assert_int_equal(config_validate(&cfg, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--cpus"));
}

static void validate_refuses_cmdline_that_does_not_fit_boot_area(void **state)
{
	static char line[BOOT_CMDLINE_MAX + 1];
	struct skiff_config cfg;
	char err[CONFIG_ERR_SIZE] = "";

	config_defaults(&cfg);
	/* BOOT_CMDLINE_MAX includes the NUL: MAX-1 characters fit, MAX do not. */
	memset(line, 'c', BOOT_CMDLINE_MAX - 1);
	line[BOOT_CMDLINE_MAX - 1] = '\0';
	cfg.cmdline = line;
	assert_int_equal(config_validate(&cfg, 0, err, sizeof(err)), 0);
	line[BOOT_CMDLINE_MAX - 1] = 'c';
	line[BOOT_CMDLINE_MAX] = '\0';
	assert_int_equal(config_validate(&cfg, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--cmdline"));
}

static void cli_accepted_mem_can_still_fail_validation(void **state)
{
	struct skiff_config cfg;
	char err[CONFIG_ERR_SIZE] = "";

	/* "4097b" parses but is below the minimum and not page-aligned;
	 * "0" parses but is no memory at all. */
	assert_int_equal(PARSE(&cfg, err, "--mem", "4097b"), CLI_OK);
	assert_int_equal(config_validate(&cfg, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--mem"));
	assert_int_equal(PARSE(&cfg, err, "--mem", "0"), CLI_OK);
	assert_int_equal(config_validate(&cfg, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--mem"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_arguments_give_documented_defaults),
		cmocka_unit_test(every_option_is_applied_in_separate_word_form),
		cmocka_unit_test(equals_form_takes_value_after_first_equals_sign),
		cmocka_unit_test(equals_form_with_empty_value_is_not_a_missing_value),
		cmocka_unit_test(later_option_overrides_earlier_one),
		cmocka_unit_test(io_poll_takes_microseconds_and_zero_turns_it_off),
		cmocka_unit_test(metrics_takes_a_file_name),
		cmocka_unit_test(help_is_reported_wherever_it_appears),
		cmocka_unit_test(usage_lists_every_option),
		cmocka_unit_test(unknown_option_is_an_error_naming_it),
		cmocka_unit_test(option_without_value_is_an_error_naming_it),
		cmocka_unit_test(positional_argument_is_refused),
		cmocka_unit_test(mem_sizes_parse_with_binary_suffixes),
		cmocka_unit_test(bad_mem_values_are_errors_naming_mem),
		cmocka_unit_test(bad_cpu_counts_are_errors_naming_cpus),
		cmocka_unit_test(cpu_count_limits_are_inclusive),
		cmocka_unit_test(console_kinds_parse_and_bad_ones_are_errors),
		cmocka_unit_test(empty_kernel_path_is_refused),
		cmocka_unit_test(empty_initrd_path_is_refused),
		cmocka_unit_test(long_error_message_is_truncated_not_overflowed),
		cmocka_unit_test(validate_refuses_mem_below_minimum),
		cmocka_unit_test(disk_takes_a_file_and_ro_with_doubled_commas_in_the_name),
		cmocka_unit_test(bad_disk_options_are_errors_naming_the_problem),
		cmocka_unit_test(disk_name_longer_than_path_max_is_refused),
		cmocka_unit_test(validate_refuses_mem_not_page_multiple),
		cmocka_unit_test(validate_refuses_mem_above_host_ram),
		cmocka_unit_test(validate_refuses_cpu_count_out_of_range),
		cmocka_unit_test(validate_refuses_cmdline_that_does_not_fit_boot_area),
		cmocka_unit_test(cli_accepted_mem_can_still_fail_validation),
	};
	return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
