/*
 * out_json: JSON Lines (EVENTS in doc/smtpscope.1).  Keys appear in a fixed
 * order: the common header (event, ts, session, client, server), then the
 * event's own keys in the order the man page's EVENTS lists them, then keys
 * we add.  Every wire string goes through vis_json, so the output is valid
 * UTF-8 JSON whatever the bytes were.
 */
#include "config.h"

#include "out_json.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "explain.h"
#include "vis.h"
#include "xmalloc.h"

struct jbuf {
	char *p;
	size_t len, cap;
};

/*
 * Append n bytes.  Room for a NUL is always kept, but the NUL is written
 * only by jb_finish: most pieces are a few bytes long, and every event is
 * made of dozens of them.
 */
static inline void
jb_reserve(struct jbuf *b, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		while (b->len + n + 1 > b->cap)
			b->cap = b->cap * 2 + 256;
		b->p = xrealloc(b->p, b->cap);
	}
}

static inline void
jb_put(struct jbuf *b, const char *s, size_t n)
{
	jb_reserve(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void
jb_finish(struct jbuf *b)
{
	if (b->p == NULL)
		jb_put(b, "", 0);
	b->p[b->len] = '\0';
}

static void
jb_puts(struct jbuf *b, const char *s)
{
	jb_put(b, s, strlen(s));
}

/* A string literal: its length is known when compiled, and the copy of a
   few bytes is inlined (jb_puts is a call, a strlen and a memcpy). */
#define JB_LIT(b, lit) jb_put((b), (lit), sizeof(lit) - 1)

/*
 * A key as its whole separator, `,"key":`, built from a string literal at
 * compile time: one copy per key instead of three, and no strlen.
 */
#define JB_K(k) ",\"" k "\":", sizeof(",\"" k "\":") - 1

static inline void
jb_key(struct jbuf *b, const char *k, size_t kn)
{
	jb_put(b, k, kn);
}

#ifndef __SSE2__
#define JB_ONES 0x0101010101010101ULL
#define JB_HIGHS 0x8080808080808080ULL

/* Whether a byte of v is zero (exact: no false positives). */
static inline uint64_t
jb_has_zero(uint64_t v)
{
	return (v - JB_ONES) & ~v & JB_HIGHS;
}

/*
 * Whether one of the eight bytes in w is not plain: below 0x20, 0x7f or
 * above, a quote or a backslash.  A byte with its high bit set is caught by
 * the first test; for the others, v - 0x20 borrows into the high bit
 * exactly when v < 0x20.
 */
static inline bool
jb_word_special(uint64_t w)
{
	if (w & JB_HIGHS)
		return true;
	if (((w - JB_ONES * 0x20) & JB_HIGHS) != 0)
		return true;
	return jb_has_zero(w ^ (JB_ONES * 0x7f)) != 0 ||
	       jb_has_zero(w ^ (JB_ONES * '"')) != 0 ||
	       jb_has_zero(w ^ (JB_ONES * '\\')) != 0;
}

static inline bool
jb_byte_special(unsigned char c)
{
	return c < 0x20 || c >= 0x7f || c == '"' || c == '\\';
}

#endif

#ifdef __SSE2__
/*
 * Bit i set when byte i of the sixteen at p is not plain.  A signed compare
 * with 0x20 flags the controls and every byte from 0x80 on at once; the
 * mask is exact.
 */
static inline unsigned
jb_mask16(const unsigned char *p)
{
	__m128i v = _mm_loadu_si128((const __m128i *)p);
	__m128i x =
	    _mm_or_si128(_mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
			     _mm_cmpeq_epi8(v, _mm_set1_epi8('"'))),
		_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\\')),
		    _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f))));

	return (unsigned)_mm_movemask_epi8(x);
}
#endif

/* The offset of the first byte of p[0..n) that is not plain, or n. */
static size_t
jb_plain_len(const unsigned char *p, size_t n)
{
	size_t j = 0;

#ifdef __SSE2__
	/* Sixteen bytes at a time where the CPU has SSE2 (every x86-64). */
	unsigned mask;

	if (n < 16) {
		/* A copy padded with plain bytes. */
		unsigned char t[16];

		memset(t, 'a', sizeof t);
		memcpy(t, p, n);
		mask = jb_mask16(t);
		return mask != 0 ? (size_t)__builtin_ctz(mask) : n;
	}
	for (; j + 16 <= n; j += 16) {
		mask = jb_mask16(p + j);
		if (mask != 0)
			return j + (size_t)__builtin_ctz(mask);
	}
	if (j == n)
		return n;
	/* The rest: the last sixteen bytes again, without those seen. */
	mask = jb_mask16(p + n - 16) >> (j + 16 - n);
	return mask != 0 ? j + (size_t)__builtin_ctz(mask) : n;
#else
	uint64_t w;
	size_t lim;

	for (;;) {
		while (j + 8 <= n) {
			memcpy(&w, p + j, 8);
			if (jb_word_special(w))
				break;
			j += 8;
		}
		/* The word flagged (the test may flag a plain one), or the
		   tail shorter than a word. */
		lim = j + 8 < n ? j + 8 : n;
		while (j < lim && !jb_byte_special(p[j]))
			j++;
		if (j < lim || j == n)
			return j;
	}
#endif
}

/*
 * Most strings need no escaping: those are copied as they are, eight bytes
 * checked at a time.  ASCII that needs it (quote, backslash, controls: the
 * line breaks of every multi-line reply) is escaped here as vis_json would;
 * from the first byte above 0x7f on, the rest goes through vis_json, which
 * validates UTF-8.  The output is vis_json's, byte for byte.
 */
static void
jb_strn(struct jbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	char *e, *o;
	size_t j;

	/* Room for the quotes and every byte escaped as \u00XX, so that the
	   pieces are written in place (bytes from 0x80 on go through
	   jb_puts, which makes its own room). */
	jb_reserve(b, n > SIZE_MAX / 8 ? SIZE_MAX / 2 : n * 6 + 2);
	o = b->p + b->len;
	*o++ = '"';
	while (n > 0) {
		/* A run of plain bytes. */
		j = jb_plain_len(p, n);
		memcpy(o, s, j);
		o += j;
		s += j;
		p += j;
		n -= j;
		if (n == 0)
			break;
		if (p[0] >= 0x80) {
			b->len = (size_t)(o - b->p);
			e = vis_json(s, n);
			jb_puts(b, e);
			free(e);
			jb_put(b, "\"", 1);
			return;
		}
		*o++ = '\\';
		switch (p[0]) {
		case '"':
		case '\\':
			*o++ = (char)p[0];
			break;
		case '\n':
			*o++ = 'n';
			break;
		case '\r':
			*o++ = 'r';
			break;
		case '\t':
			*o++ = 't';
			break;
		default:
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = hex[p[0] >> 4];
			*o++ = hex[p[0] & 15];
			break;
		}
		s++;
		p++;
		n--;
	}
	*o++ = '"';
	b->len = (size_t)(o - b->p);
}

/* A string value, or null when s is NULL. */
static inline void
jb_str(struct jbuf *b, const char *k, size_t kn, const char *s)
{
	jb_key(b, k, kn);
	if (s == NULL)
		JB_LIT(b, "null");
	else
		jb_strn(b, s, strlen(s));
}

/* A string value, or null when s is empty. */
static inline void
jb_str_or_null(struct jbuf *b, const char *k, size_t kn, const char *s)
{
	jb_str(b, k, kn, s[0] == '\0' ? NULL : s);
}

/*
 * Decimal digits of v, as %PRIu64 writes them.  snprintf costs hundreds of
 * instructions per number, and every event has several.
 */
static void
jb_digits(struct jbuf *b, uint64_t v)
{
	char tmp[VIS_U64_LEN];

	jb_put(b, tmp, vis_u64(tmp, v));
}

/* "key":{"client":N,"server":N}, from a per-direction pair. */
static void
jb_per_dir(struct jbuf *b, const char *k, size_t kn, const uint64_t v[2])
{
	jb_key(b, k, kn);
	JB_LIT(b, "{\"client\":");
	jb_digits(b, v[EV_DIR_CLIENT]);
	JB_LIT(b, ",\"server\":");
	jb_digits(b, v[EV_DIR_SERVER]);
	JB_LIT(b, "}");
}

static inline void
jb_u64(struct jbuf *b, const char *k, size_t kn, uint64_t v)
{
	jb_key(b, k, kn);
	jb_digits(b, v);
}

static inline void
jb_int(struct jbuf *b, const char *k, size_t kn, long v)
{
	jb_key(b, k, kn);
	if (v < 0) {
		jb_put(b, "-", 1);
		jb_digits(b, -(uint64_t)v);
	} else
		jb_digits(b, (uint64_t)v);
}

static inline void
jb_bool(struct jbuf *b, const char *k, size_t kn, bool v)
{
	jb_key(b, k, kn);
	if (v)
		JB_LIT(b, "true");
	else
		JB_LIT(b, "false");
}

/* Milliseconds or seconds with three decimals; null when negative. */
static void
jb_num3(struct jbuf *b, const char *k, size_t kn, double v)
{
	char tmp[VIS_FIXED_LEN];

	jb_key(b, k, kn);
	if (v < 0) {
		JB_LIT(b, "null");
		return;
	}
	jb_put(b, tmp, vis_fixed(tmp, v, 3));
}

static void
jb_strv(struct jbuf *b, const char *k, size_t kn, char **v, size_t n)
{
	size_t i;

	jb_key(b, k, kn);
	JB_LIT(b, "[");
	for (i = 0; i < n; i++) {
		if (i > 0)
			JB_LIT(b, ",");
		jb_strn(b, v[i], strlen(v[i]));
	}
	JB_LIT(b, "]");
}

static void
jb_diag(struct jbuf *b, const struct event_diag *d)
{
	jb_key(b, JB_K("diagnosis"));
	JB_LIT(b, "{\"rule\":");
	jb_strn(b, d->rule ? d->rule : "", d->rule ? strlen(d->rule) : 0);
	jb_str(b, JB_K("title"), d->title);
	jb_str(b, JB_K("meaning"), d->meaning);
	jb_str(b, JB_K("when"), d->when);
	jb_str(b, JB_K("fix_sender"), d->fix_sender);
	jb_str(b, JB_K("fix_operator"), d->fix_operator);
	jb_str(b, JB_K("cause"), d->cause != NULL ? d->cause : "unknown");
	jb_strv(b, JB_K("evidence"), d->evidence, d->n_evidence);
	jb_str(b, JB_K("confidence"),
	    d->confidence != NULL ? d->confidence : "guess");
	JB_LIT(b, "}");
}

static void
jb_event(struct jbuf *b, const struct event *ev)
{
	char ts[40];
	size_t i;

	event_format_ts(ts, sizeof ts, &ev->ts);
	JB_LIT(b, "{\"event\":\"");
	jb_puts(b, event_type_name(ev->type));
	JB_LIT(b, "\"");
	jb_str(b, JB_K("ts"), ts);
	jb_u64(b, JB_K("session"), ev->session);
	/* Every event has client and server.  The run's stats and an
	   anomaly of no session (connection attempts without a handshake,
	   per server) have session 0 and null for what they lack. */
	jb_str(b, JB_K("client"),
	    ev->type != EV_STATS && ev->client[0] != '\0' ? ev->client : NULL);
	jb_str(b, JB_K("server"),
	    ev->type != EV_STATS && ev->server[0] != '\0' ? ev->server : NULL);
	switch (ev->type) {
	case EV_SESSION_OPEN:
		jb_str(b, JB_K("tls"), ev->tls_implicit ? "implicit" : "none");
		jb_bool(b, JB_K("midstream"), ev->midstream);
		break;
	case EV_COMMAND:
		jb_str(b, JB_K("verb"), ev->verb);
		jb_key(b, JB_K("arg"));
		jb_strn(b, ev->arg ? ev->arg : "", event_arg_len(ev));
		jb_bool(b, JB_K("encrypted"), ev->encrypted);
		if (ev->cut)
			jb_bool(b, JB_K("cut"), true);
		break;
	case EV_REPLY:
		jb_int(b, JB_K("code"), ev->code);
		jb_str_or_null(b, JB_K("enhanced"), ev->enhanced);
		jb_key(b, JB_K("text"));
		jb_strn(
		    b, ev->text ? ev->text : "", ev->text ? ev->text_len : 0);
		jb_int(b, JB_K("lines"), (long)ev->lines);
		jb_str_or_null(b, JB_K("answers"), ev->answers);
		jb_bool(b, JB_K("encrypted"), ev->encrypted);
		jb_bool(b, JB_K("highlight"), ev->highlight);
		if (ev->cut) /* only then: most replies are whole */
			jb_bool(b, JB_K("cut"), true);
		if (ev->diag != NULL)
			jb_diag(b, ev->diag);
		jb_num3(b, JB_K("latency_ms"), ev->latency_ms);
		jb_str(b, JB_K("mail_from"), ev->ctx.mail_from);
		if (ev->ctx.rcpt != NULL)
			jb_str(b, JB_K("rcpt"), ev->ctx.rcpt);
		break;
	case EV_MESSAGE:
		jb_u64(b, JB_K("bytes"), ev->bytes);
		jb_str(b, JB_K("mail_from"), ev->mail_from);
		jb_strv(b, JB_K("rcpt_accepted"), ev->rcpt_accepted,
		    ev->n_accepted);
		jb_strv(b, JB_K("rcpt_rejected"), ev->rcpt_rejected,
		    ev->n_rejected);
		jb_str(b, JB_K("queue_id"), ev->queue_id);
		jb_int(b, JB_K("code"), ev->code);
		jb_bool(b, JB_K("accepted"), ev->code >= 200 && ev->code < 300);
		break;
	case EV_TLS:
		jb_str(b, JB_K("phase"), ev->phase);
		jb_str(b, JB_K("version"), ev->version);
		jb_str(b, JB_K("cipher"), ev->cipher);
		jb_str(b, JB_K("sni"), ev->sni);
		jb_str(b, JB_K("cert_subject"), ev->cert_subject);
		jb_str(b, JB_K("cert_issuer"), ev->cert_issuer);
		jb_str(b, JB_K("cert_not_after"), ev->cert_not_after);
		jb_bool(b, JB_K("decrypted"), ev->decrypted);
		jb_str(b, JB_K("reason"), ev->reason);
		jb_str(b, JB_K("alpn"), ev->alpn);
		jb_str(b, JB_K("cert_san"), ev->cert_san);
		jb_str(b, JB_K("cert_problems"), ev->cert_problems);
		jb_str(b, JB_K("alert"), ev->alert);
		break;
	case EV_GAP:
		jb_str(b, JB_K("dir"),
		    ev->dir == EV_DIR_SERVER ? "server" : "client");
		jb_u64(b, JB_K("bytes"), ev->bytes);
		break;
	case EV_ANOMALY:
		jb_str(b, JB_K("what"), ev->what);
		if (ev->detail != NULL)
			jb_str(b, JB_K("detail"), ev->detail);
		if (ev->what == EV_ANOM_NO_HANDSHAKE) {
			/* What the detail says, for scripts. */
			jb_u64(b, JB_K("attempts"), ev->no_handshake);
			jb_u64(b, JB_K("sources"), ev->sources);
		}
		if (ev->what == EV_ANOM_NO_REPLY_CODE) {
			/* The line's own words, and what they mean. */
			jb_str_or_null(b, JB_K("enhanced"), ev->enhanced);
			jb_key(b, JB_K("text"));
			jb_strn(b, ev->text ? ev->text : "",
			    ev->text ? ev->text_len : 0);
			jb_str_or_null(b, JB_K("answers"), ev->answers);
		}
		if (ev->diag != NULL)
			jb_diag(b, ev->diag);
		break;
	case EV_SESSION_CLOSE:
		jb_str(b, JB_K("reason"), ev->close_reason);
		jb_num3(b, JB_K("duration"), ev->duration);
		jb_int(b, JB_K("commands"), (long)ev->commands);
		jb_int(b, JB_K("replies"), (long)ev->replies);
		jb_int(b, JB_K("messages"), (long)ev->messages);
		jb_key(b, JB_K("codes"));
		JB_LIT(b, "{");
		for (i = 0; i < ev->n_codes; i++) {
			/* "%s\"%d\":%u" without snprintf */
			if (i)
				JB_LIT(b, ",\"");
			else
				JB_LIT(b, "\"");
			if (ev->codes[i].code < 0) {
				jb_put(b, "-", 1);
				jb_digits(b, -(uint64_t)ev->codes[i].code);
			} else
				jb_digits(b, (uint64_t)ev->codes[i].code);
			JB_LIT(b, "\":");
			jb_digits(b, ev->codes[i].count);
		}
		JB_LIT(b, "}");
		if (ev->no_payload) {
			/* Only then: what the packets alone tell. */
			jb_str(b, JB_K("payload"), "not captured");
			jb_per_dir(b, JB_K("packets"), ev->dir_pkts);
			jb_per_dir(b, JB_K("bytes"), ev->dir_bytes);
			jb_per_dir(b, JB_K("retransmissions"), ev->dir_retrans);
		}
		break;
	case EV_STATS:
		jb_u64(b, JB_K("packets"), ev->packets);
		jb_u64(b, JB_K("bytes"), ev->pkt_bytes);
		jb_u64(b, JB_K("sessions"), ev->sessions);
		jb_u64(b, JB_K("dropped"), ev->dropped);
		jb_num3(b, JB_K("elapsed"), ev->elapsed);
		jb_key(b, JB_K("caps"));
		{
			char tmp[160];

			snprintf(tmp, sizeof tmp,
			    "{\"flows\":%" PRIu64 ",\"ooo\":%" PRIu64
			    ",\"line\":%" PRIu64 ",\"tls\":%" PRIu64,
			    ev->cap_flows, ev->cap_ooo, ev->cap_line,
			    ev->cap_tls);
			jb_puts(b, tmp);
			/* Keys added later, present when not zero. */
			if (ev->cap_mem_trim > 0 || ev->cap_mem_evict > 0) {
				snprintf(tmp, sizeof tmp,
				    ",\"memory_trimmed\":%" PRIu64
				    ",\"memory_evicted\":%" PRIu64,
				    ev->cap_mem_trim, ev->cap_mem_evict);
				jb_puts(b, tmp);
			}
			JB_LIT(b, "}");
			if (ev->no_handshake > 0) {
				snprintf(tmp, sizeof tmp,
				    ",\"no_handshake\":%" PRIu64,
				    ev->no_handshake);
				jb_puts(b, tmp);
			}
		}
		break;
	case EV_LOG:
		jb_key(b, JB_K("line"));
		jb_strn(
		    b, ev->text ? ev->text : "", ev->text ? ev->text_len : 0);
		jb_str(b, JB_K("program"), ev->program);
		jb_str(b, JB_K("queue_id"), ev->queue_id);
		jb_str(b, JB_K("join"), ev->join != NULL ? ev->join : "none");
		if (ev->log_outcome != NULL) {
			/* An outbound delivery: what became of it, and
			   which attempt it was. */
			jb_key(b, JB_K("delivery"));
			JB_LIT(b, "{\"outcome\":");
			jb_strn(b, ev->log_outcome, strlen(ev->log_outcome));
			if (ev->log_attempt > 0)
				jb_u64(b, JB_K("attempt"), ev->log_attempt);
			if (ev->log_attempt > 1) {
				event_format_ts(
				    ts, sizeof ts, &ev->log_prev_attempt);
				jb_str(b, JB_K("previous_attempt_ts"), ts);
			}
			JB_LIT(b, "}");
		}
		if (ev->log_code != 0) {
			/* The line names the reason for the session's
			   latest 421 or 452. */
			event_format_ts(ts, sizeof ts, &ev->log_reply_ts);
			jb_key(b, JB_K("evidence"));
			JB_LIT(b, "{\"code\":");
			jb_digits(b, (uint64_t)ev->log_code);
			jb_str(b, JB_K("reply_ts"), ts);
			jb_str(b, JB_K("says"), ev->log_says);
			jb_str(b, JB_K("cause"), ev->log_cause);
			jb_str(b, JB_K("diagnosis_cause"), ev->log_diag_cause);
			JB_LIT(b, "}");
		}
		break;
	case EV_PACKET:
		break;
	}
	JB_LIT(b, "}");
}

char *
out_json_string(const struct event *ev)
{
	struct jbuf b = {NULL, 0, 0};

	jb_event(&b, ev);
	jb_finish(&b);
	return b.p;
}

/*
 * One buffer per thread, kept from line to line: growing a fresh one for
 * every event cost a malloc, reallocs and a free each time.  It only grows
 * as large as the longest line.
 */
static _Thread_local struct jbuf out_json_line;

void
out_json_thread_done(void)
{
	free(out_json_line.p);
	memset(&out_json_line, 0, sizeof out_json_line);
}

int
out_json_write(FILE *f, const struct event *ev, bool flush)
{
	struct jbuf *bp = &out_json_line;
	int rc = 0;

	if (ev->type == EV_PACKET)
		return 0;
	bp->len = 0;
	jb_event(bp, ev);
	jb_put(bp, "\n", 1);
	if (fwrite(bp->p, 1, bp->len, f) != bp->len ||
	    (flush && fflush(f) == EOF))
		rc = -1;
	return rc;
}

int
out_json_event(FILE *f, const struct event *ev)
{
	return out_json_write(f, ev, true);
}

int
out_json_explain(
    FILE *f, const struct explain_reply *r, const struct event_diag *d)
{
	struct jbuf b = {NULL, 0, 0};
	int rc = 0;

	jb_puts(&b, "{\"code\":");
	jb_digits(&b, (uint64_t)(r->code > 0 ? r->code : 0));
	jb_str_or_null(&b, JB_K("enhanced"), r->enhanced);
	jb_str(&b, JB_K("text"), r->text != NULL ? r->text : "");
	jb_str_or_null(&b, JB_K("answers"), r->answers);
	if (d != NULL)
		jb_diag(&b, d);
	jb_puts(&b, "}\n");
	if (fwrite(b.p, 1, b.len, f) != b.len || fflush(f) == EOF)
		rc = -1;
	free(b.p);
	return rc;
}
