/*
 * vis: escaping of wire text for terminals and JSON.  Control characters,
 * escape sequences and invalid UTF-8 never pass through unescaped; the output
 * is always NUL-terminated and never longer than the buffer.
 */
#include "config.h"

#include "vis.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "xmalloc.h"

/*
 * Length of the valid UTF-8 sequence at p (2..4), or 0 when it is not one
 * (overlong forms, surrogates and code points above U+10FFFF are invalid).
 * C1 controls (U+0080..U+009F) count as invalid: terminals act on them.
 */
static size_t
vis_utf8_len(const uint8_t *p, size_t n, uint32_t *cp)
{
	uint32_t c;
	size_t len, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		c = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		c = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		c = p[0] & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff) ||
	    (c >= 0x80 && c <= 0x9f))
		return 0;
	*cp = c;
	return len;
}

struct vis_out {
	char *buf;
	size_t len, cap;
	int fixed; /* 1: buf is the caller's, truncate instead of growing */
	int full;
};

static void
vis_put(struct vis_out *o, const char *s, size_t n)
{
	if (o->full)
		return;
	if (o->len + n + 1 > o->cap) {
		if (o->fixed) {
			o->full = 1;
			return;
		}
		while (o->len + n + 1 > o->cap)
			o->cap = o->cap * 2 + 64;
		o->buf = xrealloc(o->buf, o->cap);
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

static void
vis_run(struct vis_out *o, const uint8_t *p, size_t n, int utf8)
{
	static const char hex[] = "0123456789abcdef";
	char esc[4];
	uint32_t cp;
	size_t i = 0, l;

	while (i < n && !o->full) {
		uint8_t c = p[i];
		size_t run;

		/* Plain ASCII, the common case, is copied a run at a time;
		   into a fixed buffer, as much of it as fits. */
		for (run = 0; i + run < n; run++) {
			c = p[i + run];
			if (c < 0x20 || c >= 0x7f || c == '\\')
				break;
		}
		if (run > 0) {
			if (o->fixed && o->len + run + 1 > o->cap) {
				run = o->cap - o->len - 1;
				vis_put(o, (const char *)&p[i], run);
				o->full = 1;
				return;
			}
			vis_put(o, (const char *)&p[i], run);
			i += run;
			continue;
		}
		if (c >= 0x80 && utf8 &&
		    (l = vis_utf8_len(p + i, n - i, &cp))) {
			vis_put(o, (const char *)&p[i], l);
			i += l;
			continue;
		}
		switch (c) {
		case '\\':
			vis_put(o, "\\\\", 2);
			break;
		case '\r':
			vis_put(o, "\\r", 2);
			break;
		case '\n':
			vis_put(o, "\\n", 2);
			break;
		case '\t':
			vis_put(o, "\\t", 2);
			break;
		case 0x1b:
			vis_put(o, "\\e", 2);
			break;
		default:
			esc[0] = '\\';
			esc[1] = 'x';
			esc[2] = hex[c >> 4];
			esc[3] = hex[c & 15];
			vis_put(o, esc, 4);
			break;
		}
		i++;
	}
}

size_t
vis_text(char *out, size_t outlen, const void *in, size_t inlen, int utf8)
{
	struct vis_out o = {out, 0, outlen, 1, 0};

	if (outlen == 0)
		return 0;
	out[0] = '\0';
	vis_run(&o, in, inlen, utf8);
	return o.len;
}

char *
vis_dup(const void *in, size_t inlen, int utf8)
{
	struct vis_out o = {NULL, 0, 0, 0, 0};

	o.cap = inlen + 16;
	o.buf = xmalloc(o.cap);
	o.buf[0] = '\0';
	vis_run(&o, in, inlen, utf8);
	return o.buf;
}

char *
vis_json(const void *in, size_t inlen)
{
	static const char hex[] = "0123456789abcdef";
	struct vis_out o = {NULL, 0, 0, 0, 0};
	const uint8_t *p = in;
	char esc[6];
	uint32_t cp;
	size_t i = 0, l;

	o.cap = inlen + 16;
	o.buf = xmalloc(o.cap);
	o.buf[0] = '\0';
	while (i < inlen) {
		uint8_t c = p[i];
		size_t run;

		/* Plain ASCII, the common case, is copied a run at a time. */
		for (run = 0; i + run < inlen; run++) {
			c = p[i + run];
			if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
				break;
		}
		if (run > 0) {
			vis_put(&o, (const char *)&p[i], run);
			i += run;
			continue;
		}
		if (c == '"' || c == '\\') {
			vis_put(&o, "\\", 1);
			vis_put(&o, (const char *)&p[i], 1);
			i++;
			continue;
		}
		if (c >= 0x80) {
			l = vis_utf8_len(p + i, inlen - i, &cp);
			if (l == 0 && c == 0xc2 && inlen - i >= 2 &&
			    p[i + 1] >= 0x80 && p[i + 1] <= 0x9f) {
				/* A C1 control: valid UTF-8, escape it. */
				esc[0] = '\\';
				esc[1] = 'u';
				esc[2] = '0';
				esc[3] = '0';
				esc[4] = hex[p[i + 1] >> 4];
				esc[5] = hex[p[i + 1] & 15];
				vis_put(&o, esc, 6);
				i += 2;
				continue;
			}
			if (l == 0) {
				vis_put(&o, "\xef\xbf\xbd", 3); /* U+FFFD */
				i++;
				continue;
			}
			vis_put(&o, (const char *)&p[i], l);
			i += l;
			continue;
		}
		switch (c) {
		case '\n':
			vis_put(&o, "\\n", 2);
			break;
		case '\r':
			vis_put(&o, "\\r", 2);
			break;
		case '\t':
			vis_put(&o, "\\t", 2);
			break;
		default:
			esc[0] = '\\';
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			vis_put(&o, esc, 6);
			break;
		}
		i++;
	}
	return o.buf;
}

size_t
vis_fixed(char *out, double v, int decimals)
{
	static const uint64_t scale[] = {1, 10, 100, 1000};
	double x, f;
	uint64_t n, frac;
	size_t len;
	int i, r;

	if (decimals >= 1 && decimals <= 3 && !signbit(v)) {
		x = v * (double)scale[decimals];
		if (x < 4294967296.0) {
			n = (uint64_t)x;
			f = x - (double)n;
			if (f < 0.5 - 1e-6 || f > 0.5 + 1e-6) {
				if (f > 0.5)
					n++;
				len = vis_u64(out, n / scale[decimals]);
				out[len++] = '.';
				frac = n % scale[decimals];
				for (i = decimals - 1; i >= 0; i--) {
					out[len + (size_t)i] =
					    (char)('0' + frac % 10);
					frac /= 10;
				}
				len += (size_t)decimals;
				out[len] = '\0';
				return len;
			}
		}
	}
	r = snprintf(out, VIS_FIXED_LEN, "%.*f", decimals, v);
	if (r < 0)
		return 0;
	return (size_t)r < VIS_FIXED_LEN ? (size_t)r : VIS_FIXED_LEN - 1;
}
