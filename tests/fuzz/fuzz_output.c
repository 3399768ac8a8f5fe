/*
 * fuzz_output: libFuzzer target for the escaping and the output writers
 * (vis.c, out_json.c, out_text.c).
 *
 * The input first goes through vis_text and vis_dup (bounds, NUL, only
 * printable ASCII without utf8, the same result from both), then becomes
 * an event of any type whose strings are the input's bytes.  Checks:
 *
 *  - out_json_string gives one JSON object that parses (a strict
 *    validator below: grammar, escapes, UTF-8, no raw control bytes);
 *  - out_text_write writes no byte under 0x20 but newlines, and no DEL;
 *    without utf8 nothing above 0x7e either, with it only valid UTF-8
 *    without C1 controls.  Fields out_text prints as they are (the verb,
 *    addresses, enhanced code, TLS facts, the rule title) first get what
 *    their producers guarantee (printable ASCII: smtp.c refuses other
 *    verbs, tls.c cleans names); every other string keeps its raw bytes.
 *  - event_dup gives the same JSON.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "out_json.h"
#include "out_text.h"
#include "vis.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_fail(const char *what, const char *out)
{
	fprintf(stderr, "fuzz_output: %s\n%s\n", what, out != NULL ? out : "");
	abort();
}

/* ---- a strict JSON validator ---- */

struct fuzz_json {
	const unsigned char *p;
	int depth;
};

static bool fuzz_json_value(struct fuzz_json *);

static void
fuzz_json_ws(struct fuzz_json *j)
{
	while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')
		j->p++;
}

/* One UTF-8 sequence at p (first byte >= 0x80); its length or 0. */
static size_t
fuzz_utf8(const unsigned char *p)
{
	size_t n, i;
	uint32_t c;

	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		c = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		c = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		c = p[0] & 0x07;
	} else
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && c < 0x800) ||
	    (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return n;
}

static bool
fuzz_json_string(struct fuzz_json *j)
{
	size_t n;
	int i;

	if (*j->p++ != '"')
		return false;
	for (;;) {
		if (*j->p == '"') {
			j->p++;
			return true;
		}
		if (*j->p < 0x20)
			return false; /* also the end of the text */
		if (*j->p == '\\') {
			j->p++;
			if (strchr("\"\\/bfnrt", *j->p) != NULL && *j->p) {
				j->p++;
				continue;
			}
			if (*j->p++ != 'u')
				return false;
			for (i = 0; i < 4; i++, j->p++)
				if (strchr("0123456789abcdefABCDEF", *j->p) ==
					NULL ||
				    *j->p == '\0')
					return false;
			continue;
		}
		if (*j->p >= 0x80) {
			if ((n = fuzz_utf8(j->p)) == 0)
				return false;
			j->p += n;
			continue;
		}
		j->p++;
	}
}

static bool
fuzz_json_number(struct fuzz_json *j)
{
	const unsigned char *s;

	if (*j->p == '-')
		j->p++;
	if (*j->p == '0')
		j->p++;
	else if (*j->p >= '1' && *j->p <= '9')
		while (*j->p >= '0' && *j->p <= '9')
			j->p++;
	else
		return false;
	if (*j->p == '.') {
		s = ++j->p;
		while (*j->p >= '0' && *j->p <= '9')
			j->p++;
		if (j->p == s)
			return false;
	}
	if (*j->p == 'e' || *j->p == 'E') {
		j->p++;
		if (*j->p == '+' || *j->p == '-')
			j->p++;
		s = j->p;
		while (*j->p >= '0' && *j->p <= '9')
			j->p++;
		if (j->p == s)
			return false;
	}
	return true;
}

static bool
fuzz_json_seq(struct fuzz_json *j, char close, bool object)
{
	j->p++;
	if (++j->depth > 16)
		return false;
	fuzz_json_ws(j);
	if (*j->p == close) {
		j->p++;
		j->depth--;
		return true;
	}
	for (;;) {
		if (object) {
			fuzz_json_ws(j);
			if (!fuzz_json_string(j))
				return false;
			fuzz_json_ws(j);
			if (*j->p++ != ':')
				return false;
		}
		if (!fuzz_json_value(j))
			return false;
		fuzz_json_ws(j);
		if (*j->p == ',') {
			j->p++;
			continue;
		}
		if (*j->p++ != close)
			return false;
		j->depth--;
		return true;
	}
}

static bool
fuzz_json_value(struct fuzz_json *j)
{
	fuzz_json_ws(j);
	switch (*j->p) {
	case '{':
		return fuzz_json_seq(j, '}', true);
	case '[':
		return fuzz_json_seq(j, ']', false);
	case '"':
		return fuzz_json_string(j);
	case 't':
		return strncmp((const char *)j->p, "true", 4) == 0 &&
		       (j->p += 4, true);
	case 'f':
		return strncmp((const char *)j->p, "false", 5) == 0 &&
		       (j->p += 5, true);
	case 'n':
		return strncmp((const char *)j->p, "null", 4) == 0 &&
		       (j->p += 4, true);
	default:
		return fuzz_json_number(j);
	}
}

static void
fuzz_json_check(const char *s)
{
	struct fuzz_json j = {(const unsigned char *)s, 0};

	if (*j.p != '{' || !fuzz_json_value(&j))
		fuzz_fail("JSON does not parse", s);
	if (*j.p != '\0')
		fuzz_fail("JSON has more than one value", s);
}

/* ---- text output ---- */

static void
fuzz_text_check(const char *s, size_t len, bool utf8)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i, n;

	for (i = 0; i < len; i++) {
		if (p[i] == '\n')
			continue;
		if (p[i] < 0x20 || p[i] == 0x7f)
			fuzz_fail("a control byte in text output", s);
		if (p[i] < 0x80)
			continue;
		if (!utf8)
			fuzz_fail("a non-ASCII byte in text output", s);
		if ((n = fuzz_utf8(p + i)) == 0 || i + n > len)
			fuzz_fail("invalid UTF-8 in text output", s);
		if (p[i] == 0xc2 && p[i + 1] < 0xa0)
			fuzz_fail("a C1 control in text output", s);
		i += n - 1;
	}
}

/* ---- the input as event fields ---- */

struct fuzz_in {
	const uint8_t *p;
	size_t left;
};

static uint8_t
fuzz_u8(struct fuzz_in *in)
{
	if (in->left == 0)
		return 0;
	in->left--;
	return *in->p++;
}

static uint32_t
fuzz_u32(struct fuzz_in *in)
{
	uint32_t v = 0;
	int i;

	for (i = 0; i < 4; i++)
		v = v << 8 | fuzz_u8(in);
	return v;
}

/* Up to 255 bytes of the input as a string (NUL bytes cut it short), or
   NULL when its length byte is 255. */
static char *
fuzz_str(struct fuzz_in *in)
{
	size_t n = fuzz_u8(in);
	char *s;

	if (n == 255)
		return NULL;
	if (n > in->left)
		n = in->left;
	s = malloc(n + 1);
	if (s == NULL)
		abort();
	memcpy(s, in->p, n);
	s[n] = '\0';
	in->p += n;
	in->left -= n;
	return s;
}

static char *
fuzz_str_nonnull(struct fuzz_in *in)
{
	char *s = fuzz_str(in);

	return s != NULL ? s : strdup("");
}

static void
fuzz_chars(struct fuzz_in *in, char *dst, size_t size)
{
	char *s = fuzz_str_nonnull(in);

	snprintf(dst, size, "%s", s);
	free(s);
}

/* What producers guarantee for a field out_text prints as it is. */
static void
fuzz_printable(char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
			*s = '?';
}

static const char *const fuzz_phases[] = {
    "starttls", "handshake", "established", "alert", "verdict"};
static const char *const fuzz_closes[] = {
    "quit", "fin", "rst", "idle", "end-of-capture", "evicted"};
static const char *const fuzz_conf[] = {"certain", "likely", "guess"};

static struct event *
fuzz_event(struct fuzz_in *in)
{
	struct event *ev = event_new((enum event_type)(fuzz_u8(in) % 10));
	size_t i, n;
	uint8_t flags = fuzz_u8(in);

	ev->ts.tv_sec = (time_t)fuzz_u32(in);
	ev->ts.tv_usec = (suseconds_t)(fuzz_u32(in) % 1000000);
	ev->session = fuzz_u32(in);
	fuzz_chars(in, ev->client, sizeof ev->client);
	fuzz_chars(in, ev->server, sizeof ev->server);
	ev->tls_implicit = flags & 1;
	ev->midstream = flags & 2;
	ev->encrypted = flags & 4;
	ev->highlight = flags & 8;
	ev->decrypted = flags & 16;
	fuzz_chars(in, ev->verb, sizeof ev->verb);
	ev->arg = fuzz_str(in);
	ev->code = (int)(fuzz_u32(in) % 1000);
	fuzz_chars(in, ev->enhanced, sizeof ev->enhanced);
	n = fuzz_u8(in);
	ev->text = malloc(n + 1);
	if (ev->text == NULL)
		abort();
	for (i = 0; i < n; i++)
		ev->text[i] = (char)fuzz_u8(in); /* may hold NUL bytes */
	ev->text[n] = '\0';
	ev->text_len = n;
	ev->lines = fuzz_u8(in);
	fuzz_chars(in, ev->answers, sizeof ev->answers);
	ev->latency_ms = (double)(int32_t)fuzz_u32(in) / 1000.0;
	ev->ctx.mail_from = fuzz_str(in);
	ev->ctx.rcpt = fuzz_str(in);
	if (flags & 32) {
		struct event_diag *d = calloc(1, sizeof *d);

		if (d == NULL)
			abort();
		d->rule = fuzz_str_nonnull(in);
		d->title = fuzz_str_nonnull(in);
		d->meaning = fuzz_str_nonnull(in);
		d->when = fuzz_str_nonnull(in);
		d->fix_sender = fuzz_str_nonnull(in);
		d->fix_operator = fuzz_str_nonnull(in);
		d->cause = fuzz_str_nonnull(in);
		d->n_evidence = fuzz_u8(in) % (EVENT_DIAG_EVIDENCE_MAX + 1);
		d->evidence = calloc(d->n_evidence + 1, sizeof *d->evidence);
		if (d->evidence == NULL)
			abort();
		for (i = 0; i < d->n_evidence; i++)
			d->evidence[i] = fuzz_str_nonnull(in);
		d->confidence = fuzz_conf[fuzz_u8(in) % 3];
		ev->diag = d;
	}
	ev->bytes = fuzz_u32(in);
	ev->mail_from = fuzz_str(in);
	n = fuzz_u8(in) % 4;
	ev->rcpt_accepted = calloc(n + 1, sizeof *ev->rcpt_accepted);
	for (i = 0; i < n; i++)
		ev->rcpt_accepted[i] = fuzz_str_nonnull(in);
	ev->n_accepted = n;
	n = fuzz_u8(in) % 4;
	ev->rcpt_rejected = calloc(n + 1, sizeof *ev->rcpt_rejected);
	for (i = 0; i < n; i++)
		ev->rcpt_rejected[i] = fuzz_str_nonnull(in);
	ev->n_rejected = n;
	ev->queue_id = fuzz_str(in);
	ev->phase = fuzz_phases[fuzz_u8(in) % 5];
	ev->version = fuzz_str(in);
	ev->cipher = fuzz_str(in);
	ev->sni = fuzz_str(in);
	ev->alpn = fuzz_str(in);
	ev->cert_subject = fuzz_str(in);
	ev->cert_issuer = fuzz_str(in);
	ev->cert_san = fuzz_str(in);
	ev->cert_not_after = fuzz_str(in);
	ev->cert_problems = fuzz_str(in);
	ev->alert = fuzz_str(in);
	ev->reason = fuzz_str(in);
	ev->dir = fuzz_u8(in) & 1;
	ev->what = EV_ANOM_NON_SMTP;
	ev->detail = fuzz_str(in);
	ev->close_reason = fuzz_closes[fuzz_u8(in) % 6];
	ev->duration = (double)fuzz_u32(in) / 1000.0;
	ev->commands = fuzz_u8(in);
	ev->replies = fuzz_u8(in);
	ev->messages = fuzz_u8(in);
	n = fuzz_u8(in) % 5;
	if (n > 0) {
		ev->codes = calloc(n, sizeof *ev->codes);
		for (i = 0; i < n; i++) {
			ev->codes[i].code = (int)(fuzz_u32(in) % 1000);
			ev->codes[i].count = fuzz_u8(in);
		}
		ev->n_codes = n;
	}
	ev->packets = fuzz_u32(in);
	ev->pkt_bytes = fuzz_u32(in);
	ev->sessions = fuzz_u32(in);
	ev->dropped = fuzz_u32(in);
	ev->elapsed = (double)fuzz_u32(in) / 1000.0;
	ev->no_handshake = fuzz_u8(in);
	ev->cap_mem_trim = fuzz_u8(in);
	ev->cap_mem_evict = fuzz_u8(in);
	return ev;
}

static void
fuzz_vis(const uint8_t *data, size_t size)
{
	char small[32], *big, *dup;
	size_t n, outlen = size % sizeof small + 1, i;

	n = vis_text(small, outlen, data, size, 0);
	if (n >= outlen || small[n] != '\0' || strlen(small) != n)
		fuzz_fail("vis_text overran or lost its NUL", small);
	for (i = 0; i < n; i++)
		if ((unsigned char)small[i] < 0x20 ||
		    (unsigned char)small[i] > 0x7e)
			fuzz_fail("vis_text kept a non-printable byte", small);
	big = malloc(4 * size + 1);
	if (big == NULL)
		abort();
	n = vis_text(big, 4 * size + 1, data, size, 1);
	dup = vis_dup(data, size, 1);
	if (strcmp(big, dup) != 0 || strlen(dup) != n)
		fuzz_fail("vis_dup differs from vis_text", dup);
	fuzz_text_check(dup, n, true);
	free(dup);
	free(big);
	dup = vis_json(data, size);
	big = malloc(strlen(dup) + 3);
	if (big == NULL)
		abort();
	snprintf(big, strlen(dup) + 3, "\"%s\"", dup);
	{
		struct fuzz_json j = {(const unsigned char *)big, 0};

		if (!fuzz_json_string(&j) || *j.p != '\0')
			fuzz_fail("vis_json is no JSON string body", big);
	}
	free(big);
	free(dup);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	struct event *ev, *copy;
	char *json, *json2, *text;
	size_t text_len, i;
	FILE *f;
	int utf8;

	fuzz_vis(data, size);
	ev = fuzz_event(&in);
	json = out_json_string(ev);
	if (ev->type != EV_PACKET)
		fuzz_json_check(json);
	copy = event_dup(ev);
	json2 = out_json_string(copy);
	if (strcmp(json, json2) != 0)
		fuzz_fail("event_dup changed the JSON", json2);
	free(json2);
	free(json);
	event_free(copy);

	fuzz_printable(ev->client);
	fuzz_printable(ev->server);
	fuzz_printable(ev->verb);
	fuzz_printable(ev->enhanced);
	fuzz_printable(ev->version);
	fuzz_printable(ev->cipher);
	fuzz_printable(ev->sni);
	fuzz_printable(ev->cert_subject);
	fuzz_printable(ev->cert_problems);
	fuzz_printable(ev->alert);
	fuzz_printable(ev->reason);
	fuzz_printable(ev->queue_id);
	if (ev->diag != NULL) {
		fuzz_printable(ev->diag->title);
		fuzz_printable(ev->diag->cause);
		fuzz_printable(ev->diag->rule);
	}
	for (utf8 = 0; utf8 < 2; utf8++) {
		text = NULL;
		text_len = 0;
		f = open_memstream(&text, &text_len);
		if (f == NULL)
			abort();
		if (out_text_write(f, ev, utf8, false) != 0)
			fuzz_fail("out_text_write failed", NULL);
		fclose(f);
		for (i = 0; i < text_len; i++)
			if (text[i] == '\0')
				fuzz_fail("a NUL in text output", text);
		fuzz_text_check(text, text_len, utf8);
		free(text);
	}
	event_free(ev);
	return 0;
}
