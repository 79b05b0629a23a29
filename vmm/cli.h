/* Command-line parsing for `skiff run`: an option table fills
 * struct skiff_config; nothing here touches KVM. */
#ifndef SKIFF_VMM_CLI_H
#define SKIFF_VMM_CLI_H

#include <stdio.h>

#include "vmm/config.h"

enum cli_result {
	CLI_OK,
	CLI_HELP,  /* --help was given: usage printed, exit 0 */
	CLI_ERROR, /* message in err, exit 2 */
};

enum cli_result cli_parse_run(int argc, char **argv, struct skiff_config *cfg, char *err,
			      size_t err_size);
void cli_print_run_usage(FILE *out);
void cli_print_usage(FILE *out);

#endif
