/* The few C library string and memory functions the guest needs. The
 * compiler may also emit calls to memcpy/memset/memmove/memcmp on its own
 * (struct copies, zeroing), so these must exist under those names. */
#ifndef GUEST_LIB_STRING_H
#define GUEST_LIB_STRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
/* Copies at most size-1 bytes and always terminates (when size > 0). */
size_t strlcpy(char *dst, const char *src, size_t size);
/* A whole string as a decimal or 0x-prefixed hex number; false on anything
 * else (empty, stray characters, overflow). */
bool parse_u64(const char *s, uint64_t *out);

#endif
