/* The kernel command line: space-separated words, some of them key=value. */
#ifndef GUEST_KERNEL_CMDLINE_H
#define GUEST_KERNEL_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>

/* Copies the value of the first word "key=value" into value (truncated to
 * size). false when there is no such word. */
bool cmdline_get(const char *cmdline, const char *key, char *value, size_t size);

#endif
