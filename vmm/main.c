/* skiff: command dispatch. */
#include <stdio.h>
#include <string.h>
#include <sys/sysinfo.h>

#include "vmm/cli.h"
#include "vmm/config.h"
#include "vmm/vm.h"

#ifndef SKIFF_VERSION
#define SKIFF_VERSION "unknown"
#endif

static uint64_t host_total_ram(void)
{
	struct sysinfo si;

	if (sysinfo(&si) < 0)
		return 0;
	return (uint64_t)si.totalram * si.mem_unit;
}

static int skiff_run(int argc, char **argv)
{
	struct skiff_config cfg;
	struct kernel_image kernel;
	struct vm vm;
	char err[CONFIG_ERR_SIZE];

	switch (cli_parse_run(argc, argv, &cfg, err, sizeof(err))) {
	case CLI_HELP:
		cli_print_run_usage(stdout);
		return SKIFF_EXIT_OK;
	case CLI_ERROR:
		fprintf(stderr, "skiff run: %s\n", err);
		return SKIFF_EXIT_USAGE;
	case CLI_OK:
		break;
	}
	if (config_validate(&cfg, host_total_ram(), err, sizeof(err))) {
		fprintf(stderr, "skiff run: %s\n", err);
		return SKIFF_EXIT_USAGE;
	}
	if (kernel_image_read(&kernel, cfg.kernel_path, cfg.initrd_path, cfg.mem_size, err,
			      sizeof(err))) {
		fprintf(stderr, "skiff run: %s\n", err);
		return SKIFF_EXIT_USAGE;
	}
	int status = vm_create(&vm, &cfg, &kernel, err, sizeof(err));
	if (status)
		fprintf(stderr, "skiff run: %s\n", err);
	else
		status = vm_run(&vm);
	vm_destroy(&vm);
	kernel_image_free(&kernel);
	return status;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		cli_print_usage(stderr);
		return SKIFF_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		cli_print_usage(stdout);
		return SKIFF_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("skiff %s\n", SKIFF_VERSION);
		return SKIFF_EXIT_OK;
	}
	if (strcmp(argv[1], "run") == 0)
		return skiff_run(argc - 2, argv + 2);
	fprintf(stderr, "skiff: unknown command '%s' (see skiff --help)\n", argv[1]);
	return SKIFF_EXIT_USAGE;
}
