#include "kernel/cmdline.h"

#include "lib/string.h"

static const char *skip_spaces(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static size_t word_length(const char *p)
{
	size_t n = 0;

	while (p[n] && p[n] != ' ' && p[n] != '\t')
		n++;
	return n;
}

bool cmdline_get(const char *cmdline, const char *key, char *value, size_t size)
{
	size_t key_len = strlen(key);

	for (const char *p = skip_spaces(cmdline); *p; p = skip_spaces(p)) {
		size_t len = word_length(p);
		if (len > key_len && p[key_len] == '=' && strncmp(p, key, key_len) == 0) {
			size_t value_len = len - key_len - 1;
			if (size) {
				size_t n = value_len < size - 1 ? value_len : size - 1;
				memcpy(value, p + key_len + 1, n);
				value[n] = '\0';
			}
			return true;
		}
		p += len;
	}
	return false;
}
