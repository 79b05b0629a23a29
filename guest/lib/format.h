/* printf-style formatting into any byte sink. Supports the flags - 0 + and
 * space, width and precision (also as *), the length modifiers hh h l ll z
 * t j, and the conversions d i u x X o p s c %. No floating point: the guest
 * is built with -mgeneral-regs-only. */
#ifndef GUEST_LIB_FORMAT_H
#define GUEST_LIB_FORMAT_H

#include <stdarg.h>
#include <stddef.h>

/* Receives the formatted output one byte at a time. */
typedef void (*format_sink)(void *ctx, char c);

/* Returns the number of bytes produced. */
int vformat(format_sink sink, void *ctx, const char *fmt, va_list ap);

/* Like the C library's: always terminates, returns the untruncated length. */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
