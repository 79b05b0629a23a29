#include "lib/format.h"

#include <stdbool.h>
#include <stdint.h>

#include "lib/string.h"

struct format_spec {
	bool left;	/* '-' */
	bool zero_pad;	/* '0' */
	char sign_char; /* '+', ' ' or 0 */
	int width;
	int precision; /* -1 when absent */
	int length;    /* count of 'l' (2 = long long and wider) or -1/-2 for h/hh */
};

struct format_out {
	format_sink sink;
	void *ctx;
	int count;
};

static void out_char(struct format_out *out, char c)
{
	out->sink(out->ctx, c);
	out->count++;
}

static void out_repeat(struct format_out *out, char c, int n)
{
	while (n-- > 0)
		out_char(out, c);
}

/* Emits body (len bytes) with an optional prefix ("-", "0x", ...), padded
 * to the field width; zeros go between prefix and body. */
static void out_padded(struct format_out *out, const struct format_spec *spec, const char *prefix,
		       const char *body, int len, int min_digits)
{
	int prefix_len = (int)strlen(prefix);
	int zeros = min_digits > len ? min_digits - len : 0;
	int pad = spec->width - prefix_len - zeros - len;

	if (spec->zero_pad && !spec->left && spec->precision < 0) {
		zeros += pad > 0 ? pad : 0;
		pad = 0;
	}
	if (!spec->left)
		out_repeat(out, ' ', pad);
	for (int i = 0; i < prefix_len; i++)
		out_char(out, prefix[i]);
	out_repeat(out, '0', zeros);
	for (int i = 0; i < len; i++)
		out_char(out, body[i]);
	if (spec->left)
		out_repeat(out, ' ', pad);
}

static void out_unsigned(struct format_out *out, const struct format_spec *spec,
			 unsigned long long value, unsigned base, bool upper, const char *prefix)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char buf[24];
	int len = 0;

	/* Builds the digits backwards at the end of buf. */
	do {
		buf[sizeof(buf) - 1 - len++] = digits[value % base];
		value /= base;
	} while (value);
	if (spec->precision == 0 && len == 1 && buf[sizeof(buf) - 1] == '0')
		len = 0;
	out_padded(out, spec, prefix, buf + sizeof(buf) - len, len, spec->precision);
}

static void out_signed(struct format_out *out, const struct format_spec *spec, long long value)
{
	char prefix[2] = {0, 0};
	unsigned long long magnitude = (unsigned long long)value;

	if (value < 0) {
		prefix[0] = '-';
		magnitude = -magnitude;
	} else {
		prefix[0] = spec->sign_char;
	}
	out_unsigned(out, spec, magnitude, 10, false, prefix);
}

static void out_string(struct format_out *out, const struct format_spec *spec, const char *s)
{
	if (!s)
		s = "(null)";
	size_t len = spec->precision >= 0 ? strnlen(s, (size_t)spec->precision) : strlen(s);
	struct format_spec plain = *spec;

	plain.zero_pad = false;
	plain.precision = -1;
	out_padded(out, &plain, "", s, (int)len, 0);
}

static const char *parse_flags(const char *p, struct format_spec *spec)
{
	for (;; p++) {
		if (*p == '-')
			spec->left = true;
		else if (*p == '0')
			spec->zero_pad = true;
		else if (*p == '+')
			spec->sign_char = '+';
		else if (*p == ' ' && spec->sign_char != '+')
			spec->sign_char = ' ';
		else
			return p;
	}
}

static const char *parse_number(const char *p, int *value, va_list *ap)
{
	if (*p == '*') {
		*value = va_arg(*ap, int);
		return p + 1;
	}
	*value = 0;
	while (*p >= '0' && *p <= '9')
		*value = *value * 10 + (*p++ - '0');
	return p;
}

static const char *parse_length(const char *p, struct format_spec *spec)
{
	spec->length = 0;
	for (;; p++) {
		if (*p == 'l')
			spec->length++;
		else if (*p == 'h')
			spec->length--;
		else if (*p == 'z' || *p == 't' || *p == 'j')
			spec->length = 2;
		else
			return p;
	}
}

static unsigned long long fetch_unsigned(const struct format_spec *spec, va_list *ap)
{
	if (spec->length >= 2)
		return va_arg(*ap, unsigned long long);
	if (spec->length == 1)
		return va_arg(*ap, unsigned long);
	unsigned v = va_arg(*ap, unsigned);
	if (spec->length == -1)
		return (unsigned short)v;
	if (spec->length <= -2)
		return (unsigned char)v;
	return v;
}

static long long fetch_signed(const struct format_spec *spec, va_list *ap)
{
	if (spec->length >= 2)
		return va_arg(*ap, long long);
	if (spec->length == 1)
		return va_arg(*ap, long);
	int v = va_arg(*ap, int);
	if (spec->length == -1)
		return (short)v;
	if (spec->length <= -2)
		return (signed char)v;
	return v;
}

static void format_one(struct format_out *out, struct format_spec *spec, char conv, va_list *ap)
{
	switch (conv) {
	case 'd':
	case 'i':
		out_signed(out, spec, fetch_signed(spec, ap));
		break;
	case 'u':
		out_unsigned(out, spec, fetch_unsigned(spec, ap), 10, false, "");
		break;
	case 'x':
	case 'X':
		out_unsigned(out, spec, fetch_unsigned(spec, ap), 16, conv == 'X', "");
		break;
	case 'o':
		out_unsigned(out, spec, fetch_unsigned(spec, ap), 8, false, "");
		break;
	case 'p':
		out_unsigned(out, spec, (uintptr_t)va_arg(*ap, void *), 16, false, "0x");
		break;
	case 's':
		out_string(out, spec, va_arg(*ap, const char *));
		break;
	case 'c': {
		char c = (char)va_arg(*ap, int);
		spec->precision = -1;
		spec->zero_pad = false;
		out_padded(out, spec, "", &c, 1, 0);
		break;
	}
	case '%':
		out_char(out, '%');
		break;
	default: /* unknown: show it rather than guess at the arguments */
		out_char(out, '%');
		out_char(out, conv);
		break;
	}
}

int vformat(format_sink sink, void *ctx, const char *fmt, va_list ap)
{
	struct format_out out = {sink, ctx, 0};
	va_list args;

	va_copy(args, ap);
	for (const char *p = fmt; *p; p++) {
		if (*p != '%') {
			out_char(&out, *p);
			continue;
		}
		struct format_spec spec = {.precision = -1};
		p = parse_flags(p + 1, &spec);
		p = parse_number(p, &spec.width, &args);
		if (spec.width < 0) {
			spec.left = true;
			spec.width = -spec.width;
		}
		if (*p == '.') {
			p = parse_number(p + 1, &spec.precision, &args);
			if (spec.precision < 0)
				spec.precision = -1;
		}
		p = parse_length(p, &spec);
		if (!*p)
			break;
		format_one(&out, &spec, *p, &args);
	}
	va_end(args);
	return out.count;
}

struct buffer_sink {
	char *buf;
	size_t size, used;
};

static void buffer_put(void *ctx, char c)
{
	struct buffer_sink *b = ctx;

	if (b->used + 1 < b->size)
		b->buf[b->used] = c;
	b->used++;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct buffer_sink b = {buf, size, 0};
	int n = vformat(buffer_put, &b, fmt, ap);

	if (size)
		buf[b.used < size ? b.used : size - 1] = '\0';
	return n;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
