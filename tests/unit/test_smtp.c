/*
 * Unit tests of the SMTP engine: crafted byte streams, fed the way the
 * pipeline feeds them (client bytes held while STARTTLS waits, TLS taken
 * over after 220), asserting the exact event sequence.  Every scenario run
 * through check() is also fed split at every byte position of every step,
 * and one byte at a time, and must give identical events (including the
 * reply context).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "event.h"
#include "smtp.h"
#include "xmalloc.h"

struct step {
	int dir;
	const char *data;
	size_t len;
	long ms;      /* capture time, ms after the session start */
	bool enc;     /* plaintext from the TLS layer */
	uint64_t gap; /* not data: a gap of this many bytes */
};

#define C(ms, s)                                                               \
	{                                                                      \
		EV_DIR_CLIENT, s, sizeof(s) - 1, ms, false, 0                  \
	}
#define S(ms, s)                                                               \
	{                                                                      \
		EV_DIR_SERVER, s, sizeof(s) - 1, ms, false, 0                  \
	}
#define CE(ms, s)                                                              \
	{                                                                      \
		EV_DIR_CLIENT, s, sizeof(s) - 1, ms, true, 0                   \
	}
#define SE(ms, s)                                                              \
	{                                                                      \
		EV_DIR_SERVER, s, sizeof(s) - 1, ms, true, 0                   \
	}
#define GAP(ms, d, n)                                                          \
	{                                                                      \
		d, NULL, 0, ms, false, n                                       \
	}

struct scen {
	const struct step *steps;
	size_t n;
	bool midstream;
	bool implicit;
	bool syn; /* SYN seen at -5 ms */
	bool show_auth;
	const char *close; /* reason, NULL: no smtp_close */
	long close_ms;
};

struct result {
	char **lines; /* short form, for the assertions */
	char **full;  /* with the reply context, for split comparison */
	struct event **evs;
	size_t n;
	char *trace;
};

static const struct timeval base = {1700000000, 0};

static struct timeval
at(long ms)
{
	struct timeval tv = base;
	long us = (long)base.tv_usec + (ms % 1000) * 1000;

	tv.tv_sec += ms / 1000 + us / 1000000;
	tv.tv_usec = us % 1000000;
	return tv;
}

static void
esc(char *out, size_t size, const char *p, size_t n)
{
	size_t o = 0, i;

	for (i = 0; i < n && o + 5 < size; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\n')
			o += (size_t)snprintf(out + o, size - o, "\\n");
		else if (c < 0x20 || c >= 0x7f)
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
}

static char *
render(const struct event *ev, bool full)
{
	char *r = NULL, t[2048], lat[32], *ctx = NULL, list[512];
	size_t i, o;

	switch (ev->type) {
	case EV_COMMAND:
		esc(t, sizeof t, ev->arg, event_arg_len(ev));
		xasprintf(&r, "C %s|%s%s%s", ev->verb, t,
		    ev->encrypted ? "|enc" : "", ev->cut ? "|cut" : "");
		break;
	case EV_REPLY:
		esc(t, sizeof t, ev->text, ev->text_len);
		if (ev->latency_ms < 0)
			snprintf(lat, sizeof lat, "null");
		else
			snprintf(lat, sizeof lat, "%.0f", ev->latency_ms);
		if (full)
			xasprintf(&ctx,
			    " ctx seen=%u acc=%u rej=%u msgs=%u msize=%llu "
			    "esize=%llu db=%llu idle=%.3f sess=%.3f tx=%d "
			    "tls=%d pipe=%d unsol=%d g=%s h=%s la=%s mf=%s "
			    "rc=%s",
			    ev->ctx.rcpt_seen, ev->ctx.rcpt_accepted,
			    ev->ctx.rcpt_rejected, ev->ctx.messages,
			    (unsigned long long)ev->ctx.mail_size,
			    (unsigned long long)ev->ctx.ehlo_size,
			    (unsigned long long)ev->ctx.data_bytes,
			    ev->ctx.idle_ms, ev->ctx.session_ms,
			    ev->ctx.in_transaction, ev->ctx.tls_active,
			    ev->ctx.pipelining, ev->ctx.unsolicited,
			    ev->ctx.greeting ? ev->ctx.greeting : "(null)",
			    ev->ctx.helo ? ev->ctx.helo : "(null)",
			    ev->ctx.last_arg ? ev->ctx.last_arg : "(null)",
			    ev->ctx.mail_from ? ev->ctx.mail_from : "(null)",
			    ev->ctx.rcpt ? ev->ctx.rcpt : "(null)");
		xasprintf(&r, "R %d %s|%s|%u|%s|%s%s%s%s", ev->code,
		    ev->enhanced[0] ? ev->enhanced : "-", t, ev->lines,
		    ev->answers[0] ? ev->answers : "null", lat,
		    ev->encrypted ? "|enc" : "", ev->cut ? "|cut" : "",
		    ctx ? ctx : "");
		free(ctx);
		break;
	case EV_MESSAGE:
		o = 0;
		list[0] = '\0';
		for (i = 0; i < ev->n_accepted && o < 400; i++)
			o += (size_t)snprintf(list + o, sizeof list - o, "%s%s",
			    i ? "," : "", ev->rcpt_accepted[i]);
		o += (size_t)snprintf(list + o, sizeof list - o, "|");
		for (i = 0; i < ev->n_rejected && o < 400; i++)
			o += (size_t)snprintf(list + o, sizeof list - o, "%s%s",
			    i ? "," : "", ev->rcpt_rejected[i]);
		xasprintf(&r, "M %llu|%s|%s|%s", (unsigned long long)ev->bytes,
		    ev->mail_from ? ev->mail_from : "(null)", list,
		    ev->queue_id ? ev->queue_id : "null");
		break;
	case EV_ANOMALY:
		if (ev->what == EV_ANOM_NO_REPLY_CODE) {
			esc(t, sizeof t, ev->text, ev->text_len);
			xasprintf(&r, "A %s|%s|%s|%s", ev->what, ev->enhanced,
			    t, ev->answers[0] ? ev->answers : "null");
		} else if (ev->what == EV_ANOM_ODD_CODE)
			xasprintf(&r, "A %s|%s", ev->what, ev->detail);
		else
			xasprintf(&r, "A %s", ev->what);
		break;
	case EV_SESSION_CLOSE:
		o = 0;
		list[0] = '\0';
		for (i = 0; i < ev->n_codes && o < 400; i++)
			o += (size_t)snprintf(list + o, sizeof list - o,
			    "%s%d:%u", i ? "," : "", ev->codes[i].code,
			    ev->codes[i].count);
		xasprintf(&r, "X %s %.3f c=%u r=%u m=%u {%s}", ev->close_reason,
		    ev->duration, ev->commands, ev->replies, ev->messages,
		    list);
		break;
	default:
		xasprintf(&r, "? %d", (int)ev->type);
		break;
	}
	return r;
}

static void
collect(void *arg, struct event *ev)
{
	struct result *res = arg;

	assert_true(ev->session == 0 && ev->client[0] == '\0');
	res->lines = xreallocarray(res->lines, res->n + 1, sizeof *res->lines);
	res->full = xreallocarray(res->full, res->n + 1, sizeof *res->full);
	res->evs = xreallocarray(res->evs, res->n + 1, sizeof *res->evs);
	res->lines[res->n] = render(ev, false);
	res->full[res->n] = render(ev, true);
	/* Ownership passes to the sink, which may free the event at once
	   (the pipeline queues it to another thread): keep a copy and free
	   the original so that any later use by the engine shows up. */
	res->evs[res->n] = event_dup(ev);
	event_free(ev);
	res->n++;
}

static void
trace(void *arg, const char *what)
{
	struct result *res = arg;
	char *old = res->trace;

	xasprintf(&res->trace, "%s%s;", old ? old : "", what);
	free(old);
}

static void
result_free(struct result *res)
{
	size_t i;

	for (i = 0; i < res->n; i++) {
		free(res->lines[i]);
		free(res->full[i]);
		event_free(res->evs[i]);
	}
	free(res->lines);
	free(res->full);
	free(res->evs);
	free(res->trace);
	memset(res, 0, sizeof *res);
}

/* What the pipeline does with one chunk of bytes (see psess_feed). */
struct driver {
	struct smtp_session *s;
	uint8_t *hold;
	size_t hold_len;
	bool tls;
};

static void
drive(struct driver *dr, int dir, const uint8_t *p, size_t len,
    const struct timeval *ts)
{
	size_t used;

	while (len > 0) {
		switch (smtp_dir_state(dr->s, dir)) {
		case SMTP_DIR_TEXT:
			used = smtp_feed(dr->s, dir, p, len, ts, false);
			assert_true(used <= len);
			p += used;
			len -= used;
			if (used == 0 &&
			    smtp_dir_state(dr->s, dir) == SMTP_DIR_TEXT)
				len = 0;
			break;
		case SMTP_DIR_HOLD:
			dr->hold = xrealloc(dr->hold, dr->hold_len + len);
			memcpy(dr->hold + dr->hold_len, p, len);
			dr->hold_len += len;
			len = 0;
			break;
		case SMTP_DIR_TLS:
			/* These would be TLS records: the TLS layer takes
			   them and later hands plaintext back (CE/SE). */
			if (!dr->tls) {
				dr->tls = true;
				smtp_tls_started(dr->s, true);
			}
			len = 0;
			break;
		case SMTP_DIR_IGNORE:
			len = 0;
			break;
		}
	}
}

static void
feed_piece(struct driver *dr, const struct step *st, const uint8_t *p,
    size_t len, const struct timeval *ts)
{
	if (st->enc) {
		if (!dr->tls &&
		    smtp_dir_state(dr->s, st->dir) == SMTP_DIR_TLS) {
			dr->tls = true;
			smtp_tls_started(dr->s, true);
		}
		(void)smtp_feed(dr->s, st->dir, p, len, ts, true);
	} else
		drive(dr, st->dir, p, len, ts);
}

/*
 * Run a scenario.  split_step >= 0: that step is fed in two pieces cut at
 * split_pos; bytewise: every step one byte at a time.
 */
static void
run(const struct scen *sc, long split_step, size_t split_pos, bool bytewise,
    struct result *res)
{
	struct smtp_config cfg;
	struct smtp_ops ops = {collect};
	struct timeval start = at(0), syn = at(-5), ts;
	struct driver dr;
	size_t i, k;
	uint8_t *buf;

	memset(res, 0, sizeof *res);
	memset(&cfg, 0, sizeof cfg);
	memset(&dr, 0, sizeof dr);
	cfg.show_auth = sc->show_auth;
	cfg.trace = trace;
	cfg.trace_arg = res;
	dr.s = smtp_new(&cfg, &ops, res, &start, sc->syn ? &syn : NULL,
	    sc->implicit, sc->midstream);
	for (i = 0; i < sc->n; i++) {
		const struct step *st = &sc->steps[i];

		ts = at(st->ms);
		if (st->data == NULL) {
			smtp_gap(dr.s, st->dir, st->gap, &ts);
			continue;
		}
		/* A private copy, so that reads past the end show up. */
		buf = xmalloc(st->len == 0 ? 1 : st->len);
		memcpy(buf, st->data, st->len);
		if (bytewise) {
			for (k = 0; k < st->len; k++)
				feed_piece(&dr, st, buf + k, 1, &ts);
		} else if ((long)i == split_step && split_pos > 0 &&
			   split_pos < st->len) {
			feed_piece(&dr, st, buf, split_pos, &ts);
			feed_piece(
			    &dr, st, buf + split_pos, st->len - split_pos, &ts);
		} else
			feed_piece(&dr, st, buf, st->len, &ts);
		free(buf);
		/* Like the pipeline: after server bytes, release what the
		   client sent behind STARTTLS if it is no longer held. */
		if (st->dir == EV_DIR_SERVER && dr.hold_len > 0 &&
		    smtp_dir_state(dr.s, EV_DIR_CLIENT) != SMTP_DIR_HOLD) {
			uint8_t *h = dr.hold;
			size_t hl = dr.hold_len;

			dr.hold = NULL;
			dr.hold_len = 0;
			drive(&dr, EV_DIR_CLIENT, h, hl, &ts);
			free(h);
		}
	}
	if (sc->close != NULL) {
		ts = at(sc->close_ms);
		smtp_close(dr.s, sc->close, &ts);
	}
	smtp_free(dr.s);
	free(dr.hold);
}

static bool
same(const struct result *a, const struct result *b)
{
	size_t i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->full[i], b->full[i]) != 0)
			return false;
	return true;
}

static void
dump(const char *title, const struct result *r)
{
	size_t i;

	fprintf(stderr, "# %s (%zu events)\n", title, r->n);
	for (i = 0; i < r->n; i++)
		fprintf(stderr, "#   %s\n", r->full[i]);
}

/* Whole, split at every position of every step, byte by byte: same. */
static void
check_splits(const struct scen *sc, const struct result *whole)
{
	struct result r;
	size_t i, k;

	for (i = 0; i < sc->n; i++)
		for (k = 1; k < sc->steps[i].len; k++) {
			run(sc, (long)i, k, false, &r);
			if (!same(whole, &r)) {
				fprintf(
				    stderr, "# split step %zu at %zu\n", i, k);
				dump("whole", whole);
				dump("split", &r);
				fail();
			}
			result_free(&r);
		}
	run(sc, -1, 0, true, &r);
	if (!same(whole, &r)) {
		dump("whole", whole);
		dump("bytewise", &r);
		fail();
	}
	result_free(&r);
}

/* Run, compare with the expected short lines, then check the splits. */
static void
check(const struct scen *sc, const char *const *want, size_t nwant,
    struct result *res)
{
	size_t i;

	run(sc, -1, 0, false, res);
	for (i = 0; i < nwant || i < res->n; i++) {
		const char *got = i < res->n ? res->lines[i] : "(none)";
		const char *exp = i < nwant ? want[i] : "(none)";

		if (strcmp(got, exp) != 0) {
			dump("got", res);
			fprintf(stderr,
			    "# event %zu: want\n#   %s\n# got\n#   %s\n", i,
			    exp, got);
			fail();
		}
	}
	check_splits(sc, res);
}

#define SCEN(st) .steps = (st), .n = sizeof(st) / sizeof((st)[0])
#define NW(w) (sizeof(w) / sizeof((w)[0]))

/* ---- tests ---- */

static void
test_basic_session(void **state)
{
	static const struct step st[] = {
	    S(100, "220 mx.example.org ESMTP Postfix\r\n"),
	    C(200, "ehlo client.example\r\n"),
	    S(210, "250-mx.example.org\r\n250-PIPELINING\r\n"
		   "250-SIZE 10240000\r\n250 8BITMIME\r\n"),
	    C(300, "MAIL FROM:<alice@example.com> SIZE=42\r\n"),
	    S(310, "250 2.1.0 Ok\r\n"),
	    C(400, "RCPT TO:<bob@example.org>\r\n"),
	    S(420, "250 2.1.5 Ok\r\n"),
	    C(500, "DATA\r\n"),
	    S(505, "354 End data with <CR><LF>.<CR><LF>\r\n"),
	    C(600, "Subject: hi\r\n\r\n..dot\r\n.x\r\nline\r\n"),
	    C(610, ".\r\n"),
	    S(700, "250 2.0.0 Ok: queued as 4XyZ12\r\n"),
	    C(800, "QUIT\r\n"),
	    S(801, "221 2.0.0 Bye\r\n"),
	};
	static const struct scen sc = {
	    SCEN(st), .syn = true, .close = "fin", .close_ms = 900};
	static const char *const want[] = {
	    "R 220 -|mx.example.org ESMTP Postfix|1|CONNECT|105",
	    "C EHLO|client.example",
	    "R 250 -|mx.example.org\\nPIPELINING\\nSIZE 10240000\\n8BITMIME|4|"
	    "EHLO|10",
	    "C MAIL|FROM:<alice@example.com> SIZE=42",
	    "R 250 2.1.0|Ok|1|MAIL|10",
	    "C RCPT|TO:<bob@example.org>",
	    "R 250 2.1.5|Ok|1|RCPT|20",
	    "C DATA|",
	    "R 354 -|End data with <CR><LF>.<CR><LF>|1|DATA|5",
	    "R 250 2.0.0|Ok: queued as 4XyZ12|1|DATA-END|90",
	    "M 30|alice@example.com|bob@example.org||4XyZ12",
	    "C QUIT|",
	    "R 221 2.0.0|Bye|1|QUIT|1",
	    "X quit 0.900 c=5 r=7 m=1 {220:1,221:1,250:4,354:1}",
	};
	struct result r;
	const struct event *e;

	(void)state;
	check(&sc, want, NW(want), &r);
	/* The reply after the message: its context. */
	e = r.evs[9];
	assert_int_equal(e->ctx.data_bytes, 30);
	assert_int_equal(e->ctx.mail_size, 42);
	assert_int_equal(e->ctx.ehlo_size, 10240000);
	assert_true(e->ctx.in_transaction);
	assert_int_equal(e->ctx.rcpt_accepted, 1);
	/* Only a failure carries the greeting and HELO (the diagnosis is
	   their only reader). */
	assert_null(e->ctx.helo);
	assert_null(e->ctx.greeting);
	assert_true(e->ctx.idle_ms > 89.9 && e->ctx.idle_ms < 90.1);
	assert_true(e->ctx.session_ms > 699.9 && e->ctx.session_ms < 700.1);
	assert_false(e->ctx.tls_active);
	assert_false(e->ctx.unsolicited);
	/* After the message, the transaction is over. */
	e = r.evs[12];
	assert_false(e->ctx.in_transaction);
	assert_int_equal(e->ctx.messages, 1);
	assert_non_null(strstr(r.trace, "ready -> data (354)"));
	result_free(&r);
}

static void
test_greeting_without_syn(void **state)
{
	static const struct step st[] = {
	    S(100, "220 hi\r\n"),
	};
	static const struct scen sc = {
	    SCEN(st), .close = "rst", .close_ms = 150};
	static const char *const want[] = {
	    "R 220 -|hi|1|CONNECT|null",
	    "X rst 0.150 c=0 r=1 m=0 {220:1}",
	};
	struct result r;

	(void)state;
	check(&sc, want, NW(want), &r);
	result_free(&r);
}

static void
test_bare_lf(void **state)
{
	static const struct step st[] = {
	    S(1, "220 hi\n"),
	    C(2, "EHLO a\n"),
	    S(3, "250 ok\n"),
	    C(4, "NOOP\r\n"),
	    S(5, "250 ok\r\n"),
	};
	static const struct scen sc = {SCEN(st)};
	static const char *const want[] = {
	    "A bare LF line ending",
	    "R 220 -|hi|1|CONNECT|null",
	    "C EHLO|a",
	    "R 250 -|ok|1|EHLO|1",
	    "C NOOP|",
	    "R 250 -|ok|1|NOOP|1",
	};
	struct result r;

	(void)state;
	check(&sc, want, NW(want), &r);
	result_free(&r);
}

static void
test_pipelining_452(void **state)
{
	static const struct step st[] = {
	    S(0, "220 mx\r\n"),
	    C(10, "EHLO c\r\n"),
	    S(20, "250-mx\r\n250 PIPELINING\r\n"),
	    C(30, "MAIL FROM:<a@x>\r\nRCPT TO:<r1@y>\r\nRCPT TO:<r2@y>\r\n"
		  "RCPT TO:<r3@y>\r\nRCPT TO:<r4@y>\r\nDATA\r\n"),
	    S(45, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
		  "250 2.1.5 Ok\r\n452 4.5.3 Error: too many recipients\r\n"
		  "354 End data\r\n"),
	    C(50, "x\r\n.\r\n"),
	    S(60, "250 2.0.0 Ok: queued as ABC\r\n"),
	};
	static const struct scen sc = {
	    SCEN(st), .close = "fin", .close_ms = 70};
	static const char *const want[] = {
	    "R 220 -|mx|1|CONNECT|null",
	    "C EHLO|c",
	    "R 250 -|mx\\nPIPELINING|2|EHLO|10",
	    "C MAIL|FROM:<a@x>",
	    "C RCPT|TO:<r1@y>",
	    "C RCPT|TO:<r2@y>",
	    "C RCPT|TO:<r3@y>",
	    "C RCPT|TO:<r4@y>",
	    "C DATA|",
	    "R 250 2.1.0|Ok|1|MAIL|15",
	    "R 250 2.1.5|Ok|1|RCPT|15",
	    "R 250 2.1.5|Ok|1|RCPT|15",
	    "R 250 2.1.5|Ok|1|RCPT|15",
	    "R 452 4.5.3|Error: too many recipients|1|RCPT|15",
	    "R 354 -|End data|1|DATA|15",
	    "R 250 2.0.0|Ok: queued as ABC|1|DATA-END|10",
	    "M 3|a@x|r1@y,r2@y,r3@y|r4@y|ABC",
	    "X fin 0.070 c=7 r=9 m=1 {220:1,250:6,354:1,452:1}",
	};
	struct result r;
	const struct event *e;

	(void)state;
	check(&sc, want, NW(want), &r);
	e = r.evs[13];
	assert_int_equal(e->code, 452);
	assert_int_equal(e->ctx.rcpt_seen, 4);
	assert_int_equal(e->ctx.rcpt_accepted, 3);
	assert_int_equal(e->ctx.rcpt_rejected, 0);
	assert_true(e->ctx.in_transaction);
	assert_true(e->ctx.pipelining);
	assert_false(e->ctx.unsolicited);
	assert_string_equal(e->ctx.last_arg, "TO:<r4@y>");
	assert_string_equal(e->ctx.helo, "c");
	/* Pipelined: the 452 names the 4th recipient, not the last one
	   sent, and the sender of the transaction. */
	assert_string_equal(e->ctx.rcpt, "r4@y");
	assert_string_equal(e->ctx.mail_from, "a@x");
	assert_string_equal(r.evs[9]->ctx.mail_from, "a@x");
	assert_null(r.evs[9]->ctx.rcpt);
	assert_string_equal(r.evs[10]->ctx.rcpt, "r1@y");
	/* The DATA-END reply knows all four outcomes. */
	e = r.evs[15];
	assert_int_equal(e->ctx.rcpt_seen, 4);
	assert_int_equal(e->ctx.rcpt_accepted, 3);
	assert_int_equal(e->ctx.rcpt_rejected, 1);
	result_free(&r);
}

/*
 * The envelope on every reply: the reply to MAIL names the sender MAIL
 * named whatever its code; later replies carry the sender only while the
 * transaction is open (RSET, a refused MAIL and the end of the message
 * close it); replies to RCPT name the RCPT's address, accepted or not.
 */
static void
test_reply_envelope(void **state)
{
	static const struct step st[] = {
	    S(0, "220 mx\r\n"),
	    C(1, "EHLO c\r\n"),
	    S(2, "250 mx\r\n"),
	    C(3, "MAIL FROM:<full@x> SIZE=10\r\nRCPT TO:<r0@y>\r\n"),
	    S(4, "452 4.3.1 Insufficient system storage\r\n"
		 "503 5.5.1 Error: need MAIL command\r\n"),
	    C(5, "MAIL FROM:<>\r\n"),
	    S(6, "250 ok\r\n"),
	    C(7, "RCPT TO:<r1@y> NOTIFY=NEVER\r\n"),
	    S(8, "250 ok\r\n"),
	    C(9, "RSET\r\n"),
	    S(10, "250 ok\r\n"),
	    C(11, "NOOP\r\n"),
	    S(12, "250 ok\r\n"),
	    C(13, "MAIL FROM:<b@x>\r\n"),
	    S(14, "250 ok\r\n"),
	    C(15, "RCPT TO:<r2@y>\r\n"),
	    S(16, "452 4.2.2 Mailbox full\r\n"),
	    C(17, "RCPT TO:<r3@y>\r\n"),
	    S(18, "250 ok\r\n"),
	    C(19, "DATA\r\n"),
	    S(20, "354 go\r\n"),
	    C(21, "x\r\n.\r\n"),
	    S(22, "250 queued\r\n"),
	    C(23, "QUIT\r\n"),
	    S(24, "221 bye\r\n"),
	};
	static const struct scen sc = {SCEN(st)};
	/* For each reply, in order: mail_from and rcpt ("-" is NULL). */
	static const char *const env[][2] = {
	    {"-", "-"},	     /* 220 */
	    {"-", "-"},	     /* EHLO */
	    {"full@x", "-"}, /* 452 to MAIL: the sender it refused */
	    {"-", "r0@y"},   /* 503 to RCPT: no transaction */
	    {"", "-"},	     /* MAIL FROM:<>, the null sender */
	    {"", "r1@y"},    /* RCPT with parameters */
	    {"", "-"},	     /* RSET answers inside the transaction */
	    {"-", "-"},	     /* NOOP after RSET */
	    {"b@x", "-"},    /* MAIL */
	    {"b@x", "r2@y"}, /* 452 mailbox full */
	    {"b@x", "r3@y"}, /* RCPT */
	    {"b@x", "-"},    /* 354 */
	    {"b@x", "-"},    /* DATA-END */
	    {"-", "-"},	     /* QUIT: the message closed the transaction */
	};
	struct result r;
	size_t i, k = 0;
	const struct event *e;

	(void)state;
	run(&sc, -1, 0, false, &r);
	check_splits(&sc, &r);
	for (i = 0; i < r.n; i++) {
		e = r.evs[i];
		if (e->type != EV_REPLY)
			continue;
		assert_true(k < NW(env));
		if (strcmp(env[k][0], "-") == 0)
			assert_null(e->ctx.mail_from);
		else {
			assert_non_null(e->ctx.mail_from);
			assert_string_equal(e->ctx.mail_from, env[k][0]);
		}
		if (strcmp(env[k][1], "-") == 0)
			assert_null(e->ctx.rcpt);
		else {
			assert_non_null(e->ctx.rcpt);
			assert_string_equal(e->ctx.rcpt, env[k][1]);
		}
		k++;
	}
	assert_int_equal(k, NW(env));
	result_free(&r);
}

/*
 * A multi-line reply whose lines arrive apart is stamped with its first
 * line, the moment its latency runs to: ts - latency_ms is the command.
 */
static void
test_multiline_reply_ts(void **state)
{
	static const struct step st[] = {
	    S(0, "220-mx\r\n"),
	    S(40, "220 ready\r\n"),
	    C(50, "EHLO c\r\n"),
	    S(60, "250-mx\r\n250-PIPELINING\r\n"),
	    S(95, "250 SIZE 1000\r\n"),
	    C(100, "QUIT\r\n"),
	    S(130, "221 bye\r\n"),
	};
	static const struct scen sc = {SCEN(st), .syn = true};
	static const char *const want[] = {
	    "R 220 -|mx\\nready|2|CONNECT|5",
	    "C EHLO|c",
	    "R 250 -|mx\\nPIPELINING\\nSIZE 1000|3|EHLO|10",
	    "C QUIT|",
	    "R 221 -|bye|1|QUIT|30",
	};
	struct result r;
	struct timeval want_ts;

	(void)state;
	check(&sc, want, NW(want), &r);
	want_ts = at(0);
	assert_int_equal(r.evs[0]->ts.tv_sec, want_ts.tv_sec);
	assert_int_equal(r.evs[0]->ts.tv_usec, want_ts.tv_usec);
	want_ts = at(60);
	assert_int_equal(r.evs[2]->ts.tv_sec, want_ts.tv_sec);
	assert_int_equal(r.evs[2]->ts.tv_usec, want_ts.tv_usec);
	want_ts = at(130);
	assert_int_equal(r.evs[4]->ts.tv_usec, want_ts.tv_usec);
	result_free(&r);
}

static void
test_unsolicited_421(void **state)
{
	static const struct step st[] = {
	    S(0, "220 mx\r\n"),
	    C(10, "EHLO c\r\n"),
	    S(20, "250 mx\r\n"),
	    S(300020, "421 4.4.2 mx Error: timeout exceeded\r\n"),
	    C(300030, "MAIL FROM:<a@b>\r\n"),
	    C(300031, "QUIT\r\n"),
	};
	static const struct scen sc = {
	    SCEN(st), .close = "fin", .close_ms = 300040};
	static const char *const want[] = {
	    "R 220 -|mx|1|CONNECT|null",
	    "C EHLO|c",
	    "R 250 -|mx|1|EHLO|10",
	    "R 421 4.4.2|mx Error: timeout exceeded|1|null|null",
	    "C MAIL|FROM:<a@b>",
	    "A client data after 421",
	    "C QUIT|",
	    "X fin 300.040 c=3 r=3 m=0 {220:1,250:1,421:1}",
	};
	struct result r;
	const struct event *e;

	(void)state;
	check(&sc, want, NW(want), &r);
	e = r.evs[3];
	assert_true(e->ctx.unsolicited);
	assert_true(e->ctx.idle_ms > 299999.9 && e->ctx.idle_ms < 300000.1);
	assert_null(e->ctx.last_arg);
	result_free(&r);
}

static void
test_421_answers_oldest(void **state)
{
	static const struct step st[] = {
	    S(0, "220 mx\r\n"),
	    C(10, "EHLO c\r\n"),
	    S(20, "250 mx\r\n"),
	    C(30, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"),
	    S(40, "421-4.7.0 Too many errors\r\n421-4.7.0 from you\r\n"
		  "421 4.7.0 bye\r\n"),
	    S(41, "250 late\r\n"),
	};
	static const struct scen sc = {
	    SCEN(st), .close = "fin", .close_ms = 50};
	static const char *const want[] = {
	    "R 220 -|mx|1|CONNECT|null",
	    "C EHLO|c",
	    "R 250 -|mx|1|EHLO|10",
	    "C MAIL|FROM:<a@b>",
	    "C RCPT|TO:<c@d>",
	    "C DATA|",
	    "R 421 4.7.0|Too many errors\\nfrom you\\nbye|3|MAIL|10",
	    "R 250 -|late|1|null|null",
	    "X fin 0.050 c=4 r=4 m=0 {220:1,250:2,421:1}",
	};
	struct result r;

	(void)state;
	check(&sc, want, NW(want), &r);
	assert_true(r.evs[6]->ctx.pipelining);
	assert_false(r.evs[6]->ctx.unsolicited);
	result_free(&r);
}

static void
test_421_greeting(void **state)
{
	static const struct step st[] = {
	    S(0, "421 4.7.0 mx Error: too many connections from 1.2.3.4\r\n"),
	    C(5, "QUIT\r\n"),
	};
	static const struct scen sc = {
	    SCEN(st), .syn = true, .close = "fin", .close_ms = 6};
	static const char *const want[] = {
	    "R 421 4.7.0|mx Error: too many connections from 1.2.3.4|1|"
	    "CONNECT|5",
	    "C QUIT|",
	    "X fin 0.006 c=1 r=1 m=0 {421:1}",
	};
	struct result r;

	(void)state;
	check(&sc, want, NW(want), &r);
	/* The connection phase is traced apart from the parse mode. */
	assert_non_null(strstr(r.trace, "phase ungreeted -> open (greeting);"
					"greeting -> ready (greeting);"
					"phase open -> over-421 (421);"));
	result_free(&r);
}

static void
test_multiline_code_change(void **state)
{
	static const struct step st[] = {
	    S(0, "220-first\r\n220-second\r\n220\r\n"),
	    C(1, "HELP\r\n"),
	    S(2, "214-2.0.0 a\r\n215 2.0.0 b\r\n"),
	};
	static const struct scen sc = {SCEN(st)};
	static const char *const want[] = {
	    "R 220 -|first\\nsecond\\n|3|CONNECT|null",
	    "C HELP|",
	    "A reply code changed within multi-line reply",
	    "R 214 2.0.0|a\\nb|2|HELP|1",
	};
	struct result r;

	(void)state;
	check(&sc, want, NW(want), &r);
	result_free(&r);
}

static void
test_bad_reply_code(void **state)
{
	static const struct step st[] = {
	    S(0, "220 mx\r\n"),
	    C(1, "NOOP\r\n"),
	    S(2, "4x2 what\r\n2500 x\r\n250 ok\r\n"),
	};
	static const struct scen sc = {SCEN(st)};
	static const char *const want[] = {
	    "R 220 -|mx|1|CONNECT|null",
	    "C NOOP|",
	    "A malformed reply line",
	    "R 250 -|ok|1|NOOP|1",
	};
	static const struct step st2[] = {
	    S(0, "4x2 hello\r\n220 later\r\n"),
	    C(1, "EHLO x\r\n"),
	};
	static const struct scen sc2 = {SCEN(st2)};
	static const char *const want2[] = {
	    "A non-SMTP data",
	    "C EHLO|x",
	    "A client spoke before the greeting",
	};
	struct result r;

	(void)state;
	check(&sc, want, NW(want), &r);
	result_free(&r);
	check(&sc2, want2, NW(want2), &r);
	result_free(&r);
}

/* Codes no RFC defines are replies like any other, with an anomaly; a line
   with an enhanced code and no reply code is shown, matched to nothing. */
static void
test_odd_codes(void **state)
{
	static const struct step st[] = {
	    S(0, "220 mx\r\n"),
	    C(1, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\n"),
	    S(2, "472 a DNS A-record is empty\r\n400 try again\r\n"
		 "402 4.2.0 later\r\n"),
	    C(3, "DATA\r\n"),
	    S(4, "4.7.0 [TS04] Messages from 192.0.2.1 deferred\r\n"),
	    S(5, "700 odd\r\n"),
	};
	static const struct scen sc = {SCEN(st)};
	static const char *const want[] = {
	    "R 220 -|mx|1|CONNECT|null",
	    "C MAIL|FROM:<a@b>",
	    "C RCPT|TO:<c@d>",
	    "C RCPT|TO:<e@f>",
	    "R 472 -|a DNS A-record is empty|1|MAIL|1",
	    "A non-standard reply code|472: no RFC defines this code; read "
	    "as 4xx (transient failure) by its first digit",
	    "R 400 -|try again|1|RCPT|1",
	    "A non-standard reply code|400: no RFC defines this code; read "
	    "as 4xx (transient failure) by its first digit",
	    "R 402 4.2.0|later|1|RCPT|1",
	    "A non-standard reply code|402: no RFC defines this code; read "
	    "as 4xx (transient failure) by its first digit",
	    "C DATA|",
	    "A reply line without a reply code|4.7.0|[TS04] Messages from "
	    "192.0.2.1 deferred|DATA",
	    "R 700 -|odd|1|DATA|2",
	    "A non-standard reply code|700: outside 2xx-5xx, the classes RFC "
	    "5321 4.2.1 defines; read by its first digit",
	};
	struct result r;

	(void)state;
	check(&sc, want, NW(want), &r);
	result_free(&r);
}

static void
test_non_smtp(void **state)
{
	static const struct step st[] = {
	    S(0, "HTTP/1.1 400 Bad Request\r\n\r\n"),
	    C(1, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
	    S(2, "220 ignored\r\n"),
	};
	static const struct scen sc = {SCEN(st), .close = "fin", .close_ms = 3};
	static const char *const want[] = {
	    "A non-SMTP data",
	    "A non-SMTP data",
	    "X fin 0.003 c=0 r=0 m=0 {}",
	};
	struct result r;
	struct smtp_ops ops = {collect};
	struct timeval t0 = at(0);
	struct smtp_session *s;
	struct result r2;

	(void)state;
	check(&sc, want, NW(want), &r);
	result_free(&r);
	memset(&r2, 0, sizeof r2);
	s = smtp_new(NULL, &ops, &r2, &t0, NULL, false, false);
	(void)smtp_feed(
	    s, EV_DIR_SERVER, (const uint8_t *)"\x00\x01", 2, &t0, false);
	assert_int_equal(smtp_dir_state(s, EV_DIR_SERVER), SMTP_DIR_IGNORE);
	assert_int_equal(smtp_dir_state(s, EV_DIR_CLIENT), SMTP_DIR_TEXT);
	smtp_free(s);
	result_free(&r2);
}

static void
test_early_talker(void **state)
{
	static const struct step st[] = {
	    C(1, "EHLO early.example\r\n"),
	    S(50, "220-mx ESMTP\r\n220 more banner\r\n"),
	    S(51, "250-mx\r\n250 PIPELINING\r\n"),
	};
	static const struct scen sc = {SCEN(st), .syn = true};
	static const char *const want[] = {
	    "C EHLO|early.example",
	    "A client spoke before the greeting",
	    "R 220 -|mx ESMTP\\nmore banner|2|CONNECT|55",
	    "R 250 -|mx\\nPIPELINING|2|EHLO|50",
	};
	struct result r;

	(void)state;
	check(&sc, want, NW(want), &r);
	result_free(&r);
}

static void
test_midstream(void **state)
{
	static const struct step st[] = {
	    C(0, "ody text\r\nmore\r\n"),
	    S(1, "250 2.0.0 Ok: queued as X\r\n"),
	    S(2, "250 again\r\n"),
	    C(3, "QUIT\r\n"),
	    S(4, "221 bye\r\n"),
	    S(5, "250 stray\r\n"),
	};
	static const struct scen sc = {
	    SCEN(st), .midstream = true, .close = "fin", .close_ms = 6};
	static const char *const want[] = {
	    "R 250 2.0.0|Ok: queued as X|1|null|null",
	    "R 250 -|again|1|null|null",
	    "C QUIT|",
	    "R 221 -|bye|1|QUIT|1",
	    "R 250 -|stray|1|null|null",
	    "X quit 0.006 c=1 r=4 m=0 {221:1,250:3}",
	};
	static const struct step st2[] = {
	    S(0, "220 mx\r\n"),
	    S(1, "250 what\r\n"),
	};
	static const struct scen sc2 = {SCEN(st2)};
	static const char *const want2[] = {
	    "R 220 -|mx|1|CONNECT|null",
	    "A reply without command",
	    "R 250 -|what|1|null|null",
	};
	struct result r;

	(void)state;
	check(&sc, want, NW(want), &r);
	result_free(&r);
	check(&sc2, want2, NW(want2), &r);
	result_free(&r);
}

static void
test_data_end_splits(void **state)
{
	/* ".\r\n" after CRLF, in separate steps with different times. */
	static const struct step st[] = {
	    S(0, "220 mx\r\n"),
	    C(1, "DATA\r\n"),
	    S(2, "354 go\r\n"),
	    C(3, "a\r"),
	    C(4, "\n"),
	    C(5, "."),
	    C(6, "\r"),
	    C(7, "\n"),
	    S(8, "250 ok id=1rAbCd-000Xyz-Qq\r\n"),
	    C(9, "DATA\r\n"),
	    S(10, "354 go\r\n"),
	    /* A bare LF.LF never ends the data, nor does .\r without \n */
	    C(11, "x\n.\n.\rz\r\n\r\n"),
	    C(12, "..\r\n.\r\nNOOP\r\n"),
	    S(13, "250 2.0.0 u8ABCdef012345 Message accepted for delivery\r\n"
		  "250 2.0.0 ok\r\n"),
	};
	static const struct scen sc = {
	    SCEN(st), .close = "fin", .close_ms = 20};
	static const char *const want[] = {
	    "R 220 -|mx|1|CONNECT|null",
	    "C DATA|",
	    "R 354 -|go|1|DATA|1",
	    "R 250 -|ok id=1rAbCd-000Xyz-Qq|1|DATA-END|1",
	    "M 3|(null)|||1rAbCd-000Xyz-Qq",
	    "C DATA|",
	    "R 354 -|go|1|DATA|1",
	    "C NOOP|",
	    "R 250 2.0.0|u8ABCdef012345 Message accepted for delivery|1|"
	    "DATA-END|1",
	    "M 14|(null)|||u8ABCdef012345",
	    "R 250 2.0.0|ok|1|NOOP|1",
	    "X fin 0.020 c=3 r=6 m=2 {220:1,250:3,354:2}",
	};
	struct result r;

	(void)state;
	check(&sc, want, NW(want), &r);
	result_free(&r);
}

static void
test_data_rejected(void **state)
{
	static const struct step st[] = {
	    S(0, "220 mx\r\n"),
	    C(1, "MAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\n"),
	    S(2, "250 ok\r\n550 5.1.1 no such user\r\n"
		 "554 5.5.1 Error: no valid recipients\r\n"),
	    C(3, "RSET\r\n"),
	    S(4, "250 ok\r\n"),
	};
	static const struct scen sc = {SCEN(st)};
	static const char *const want[] = {
	    "R 220 -|mx|1|CONNECT|null",
	    "C MAIL|FROM:<a@b>",
	    "C RCPT|TO:<x@y>",
	    "C DATA|",
	    "R 250 -|ok|1|MAIL|1",
	    "R 550 5.1.1|no such user|1|RCPT|1",
	    "R 554 5.5.1|Error: no valid recipients|1|DATA|1",
	    "C RSET|",
	    "R 250 -|ok|1|RSET|1",
	};
	struct result r;

	(void)state;
	check(&sc, want, NW(want), &r);
	assert_int_equal(r.evs[6]->ctx.rcpt_rejected, 1);
	assert_true(r.evs[6]->ctx.in_transaction);
	/* The context is the state before the reply: RSET has not yet
	   cleared the transaction when its own reply is described. */
	assert_true(r.evs[8]->ctx.in_transaction);
	result_free(&r);
}

static void
test_body_without_354(void **state)
{
	/* A client that pipelines the body; the server refuses DATA and
	   answers each body line as a command. */
	static const struct step st[] = {
	    S(0, "220 mx\r\n"),
	    C(1, "MAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\n"
		 "Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n"),
	    S(2, "250 ok\r\n550 no\r\n554 no valid recipients\r\n"
		 "502 5.5.2 Error: command not recognized\r\n"
		 "500 5.5.2 Error: bad syntax\r\n"
		 "502 5.5.2 Error: command not recognized\r\n"
		 "502 5.5.2 Error: command not recognized\r\n"
		 "221 bye\r\n"),
	};
	static const struct scen sc = {SCEN(st), .close = "fin", .close_ms = 3};
	static const char *const want[] = {
	    "R 220 -|mx|1|CONNECT|null",
	    "C MAIL|FROM:<a@b>",
	    "C RCPT|TO:<x@y>",
	    "C DATA|",
	    "A message data without 354",
	    "C QUIT|",
	    "R 250 -|ok|1|MAIL|1",
	    "R 550 -|no|1|RCPT|1",
	    "R 554 -|no valid recipients|1|DATA|1",
	    "R 502 5.5.2|Error: command not recognized|1|null|null",
	    "R 500 5.5.2|Error: bad syntax|1|null|null",
	    "R 502 5.5.2|Error: command not recognized|1|null|null",
	    "R 502 5.5.2|Error: command not recognized|1|null|null",
	    "R 221 -|bye|1|QUIT|1",
	    "X quit 0.003 c=4 r=9 m=0 {220:1,221:1,250:1,500:1,502:3,550:1,"
	    "554:1}",
	};
	/* The same body accepted late by a 354. */
	static const struct step st2[] = {
	    S(0, "220 mx\r\n"),
	    C(1, "MAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\n"
		 "Subject: x\r\n\r\nbody\r\n.\r\n"),
	    S(2, "250 ok\r\n250 ok\r\n354 go\r\n250 ok queued as Q1\r\n"),
	};
	static const struct scen sc2 = {SCEN(st2)};
	static const char *const want2[] = {
	    "R 220 -|mx|1|CONNECT|null",
	    "C MAIL|FROM:<a@b>",
	    "C RCPT|TO:<x@y>",
	    "C DATA|",
	    "A message data without 354",
	    "R 250 -|ok|1|MAIL|1",
	    "R 250 -|ok|1|RCPT|1",
	    "R 354 -|go|1|DATA|1",
	    "R 250 -|ok queued as Q1|1|DATA-END|1",
	    "M 20|a@b|x@y||Q1",
	};
	struct result r;

	(void)state;
	check(&sc, want, NW(want), &r);
	/* The client-side qualifiers are traced as they change. */
	assert_non_null(strstr(r.trace, "+data-wait (DATA sent);"
					"ready -> data (message body);"));
	assert_non_null(strstr(r.trace, "-data-wait (reply to DATA);"));
	assert_non_null(strstr(r.trace, "phase open -> over (221 to QUIT);"));
	result_free(&r);
	check(&sc2, want2, NW(want2), &r);
	result_free(&r);
}

static void
test_data_never_ends(void **state)
{
	static const struct step st[] = {
	    S(0, "220 mx\r\n"),
	    C(1, "DATA\r\n"),
	    S(2, "354 go\r\n"),
	    C(3, "a\r\n.b\r\n"),
	};
	static const struct scen sc = {SCEN(st), .close = "rst", .close_ms = 4};
	static const char *const want[] = {
	    "R 220 -|mx|1|CONNECT|null",
	    "C DATA|",
	    "R 354 -|go|1|DATA|1",
	    "A session ended inside DATA",
	    "X rst 0.004 c=1 r=2 m=0 {220:1,354:1}",
	};
	struct result r;

	(void)state;
	check(&sc, want, NW(want), &r);
	result_free(&r);
}

static void
test_421_during_body(void **state)
{
	static const struct step st[] = {
	    S(0, "220 mx\r\n"),
	    C(1, "DATA\r\n"),
	    S(2, "354 go\r\n"),
	    C(3, "part of it\r\n"),
	    S(300003, "421 4.4.2 timeout\r\n"),
	    C(300004, "rest\r\n.\r\nQUIT\r\n"),
	};
	static const struct scen sc = {
	    SCEN(st), .close = "fin", .close_ms = 300005};
	static const char *const want[] = {
	    "R 220 -|mx|1|CONNECT|null",
	    "C DATA|",
	    "R 354 -|go|1|DATA|1",
	    "R 421 4.4.2|timeout|1|null|null",
	    "C QUIT|",
	    "X fin 300.005 c=2 r=3 m=0 {220:1,354:1,421:1}",
	};
	struct result r;

	(void)state;
	check(&sc, want, NW(want), &r);
	assert_true(r.evs[3]->ctx.unsolicited);
	assert_int_equal(r.evs[3]->ctx.data_bytes, 12);
	assert_true(r.evs[3]->ctx.idle_ms > 299999.9);
	result_free(&r);
}

static void
test_bdat(void **state)
{
	static const struct step st[] = {
	    S(0, "220 mx\r\n"),
	    C(1, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n"
		 "BDAT 12\r\nQUIT\r\n.\r\n\0\xff"
		 "Z"
		 "bdat 3 last\r\nxyzRSET\r\n"),
	    S(2, "250 ok\r\n250 ok\r\n250 2.0.0 12 octets\r\n"
		 "250 2.0.0 Ok: queued as BD1\r\n250 reset\r\n"),
	    C(3, "MAIL FROM:<e@f>\r\nBDAT 0 LAST\r\n"),
	    S(4, "250 ok\r\n250 queued as BD2\r\n"),
	};
	static const struct scen sc = {SCEN(st), .close = "fin", .close_ms = 5};
	static const char *const want[] = {
	    "R 220 -|mx|1|CONNECT|null",
	    "C MAIL|FROM:<a@b>",
	    "C RCPT|TO:<c@d>",
	    "C BDAT|12",
	    "C BDAT|3 last",
	    "C RSET|",
	    "R 250 -|ok|1|MAIL|1",
	    "R 250 -|ok|1|RCPT|1",
	    "R 250 2.0.0|12 octets|1|BDAT|1",
	    "R 250 2.0.0|Ok: queued as BD1|1|BDAT|1",
	    "M 15|a@b|c@d||BD1",
	    "R 250 -|reset|1|RSET|1",
	    "C MAIL|FROM:<e@f>",
	    "C BDAT|0 LAST",
	    "R 250 -|ok|1|MAIL|1",
	    "R 250 -|queued as BD2|1|BDAT|1",
	    "M 0|e@f|||BD2",
	    "X fin 0.005 c=7 r=8 m=2 {220:1,250:7}",
	};
	struct result r;

	(void)state;
	check(&sc, want, NW(want), &r);
	assert_int_equal(r.evs[9]->ctx.data_bytes, 15);
	result_free(&r);
}

static void
test_bdat_bad_sizes(void **state)
{
	static const char *const bad[] = {
	    "BDAT -5\r\n",
	    "BDAT 99999999999999999999999 LAST\r\n",
	    "BDAT 18446744073709551616\r\n", /* 2^64 */
	    "BDAT 18446744073709551615\r\n", /* fits, but absurd */
	    "BDAT 12abc\r\n",
	    "BDAT\r\n",
	    "BDAT 5 LASTX\r\n",
	    "BDAT 0x10\r\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct step st[] = {
		    S(0, "220 mx\r\n"),
		    C(1, "MAIL FROM:<a@b>\r\n"),
		    {EV_DIR_CLIENT, bad[i], strlen(bad[i]), 2, false, 0},
		    /* Chunk bytes that follow must not become commands. */
		    C(3, "garbage line\r\nmore: stuff\r\nRSET\r\n"),
		    S(4, "250 ok\r\n521 5.5.4 Syntax: BDAT count [LAST]\r\n"
			 "250 ok\r\n"),
		};
		struct scen sc = {SCEN(st)};
		char cmd[64];
		const char *a = bad[i] + 4;
		const char *want[] = {
		    "R 220 -|mx|1|CONNECT|null",
		    "C MAIL|FROM:<a@b>",
		    cmd,
		    "A malformed BDAT size",
		    "C RSET|",
		    "R 250 -|ok|1|MAIL|3",
		    "R 521 5.5.4|Syntax: BDAT count [LAST]|1|BDAT|2",
		    "R 250 -|ok|1|RSET|1",
		};
		struct result r;

		if (*a == ' ')
			a++;
		snprintf(cmd, sizeof cmd, "C BDAT|%.*s", (int)strlen(a) - 2, a);
		check(&sc, want, NW(want), &r);
		result_free(&r);
	}
}

static void
test_auth(void **state)
{
	static const struct step st[] = {
	    S(0, "220 mx\r\n"),
	    C(1, "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nMAIL FROM:<a@b>\r\n"),
	    S(2, "235 2.7.0 Authentication successful\r\n250 ok\r\n"),
	    C(3, "RSET\r\nAUTH LOGIN\r\n"),
	    S(4, "250 ok\r\n334 VXNlcm5hbWU6\r\n"),
	    C(5, "YWxpY2U=\r\n"),
	    S(6, "334 UGFzc3dvcmQ6\r\n"),
	    C(7, "c2VjcmV0\r\n"),
	    S(8, "535 5.7.8 Error: authentication failed\r\n"),
	    C(9, "AUTH LOGIN\r\n"),
	    S(10, "334 VXNlcm5hbWU6\r\n"),
	    C(11, "*\r\n"),
	    S(12, "501 5.7.0 Authentication aborted\r\n"),
	    C(13, "AUTH CRAM-MD5\r\n"),
	    S(14, "334 PDEyMzQ1QGV4YW1wbGU+\r\n"),
	    C(15, "Ym9iIDEyMzQ=\r\n"),
	};
	static const struct scen sc = {
	    SCEN(st), .close = "rst", .close_ms = 16};
	static const char *const want[] = {
	    "R 220 -|mx|1|CONNECT|null",
	    "C AUTH|PLAIN ***",
	    "C MAIL|FROM:<a@b>",
	    "R 235 2.7.0|Authentication successful|1|AUTH|1",
	    "R 250 -|ok|1|MAIL|1",
	    "C RSET|",
	    "C AUTH|LOGIN",
	    "R 250 -|ok|1|RSET|1",
	    "R 334 -|VXNlcm5hbWU6|1|AUTH|1",
	    "R 334 -|UGFzc3dvcmQ6|1|AUTH|1",
	    "R 535 5.7.8|Error: authentication failed|1|AUTH|1",
	    "C AUTH|LOGIN",
	    "R 334 -|VXNlcm5hbWU6|1|AUTH|1",
	    "R 501 5.7.0|Authentication aborted|1|AUTH|1",
	    "C AUTH|CRAM-MD5",
	    "R 334 -|PDEyMzQ1QGV4YW1wbGU+|1|AUTH|1",
	    "A session ended inside AUTH",
	    "X rst 0.016 c=6 r=10 m=0 {220:1,235:1,250:2,334:4,501:1,535:1}",
	};
	static const struct step st2[] = {
	    S(0, "220 mx\r\n"),
	    C(1, "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"),
	};
	static const struct scen sc2 = {SCEN(st2), .show_auth = true};
	static const char *const want2[] = {
	    "R 220 -|mx|1|CONNECT|null",
	    "C AUTH|PLAIN AGFsaWNlAHNlY3JldA==",
	};
	struct result r;
	size_t i;

	(void)state;
	check(&sc, want, NW(want), &r);
	/* No secret anywhere. */
	for (i = 0; i < r.n; i++) {
		assert_null(strstr(r.full[i], "YWxpY2U"));
		assert_null(strstr(r.full[i], "c2VjcmV0"));
		assert_null(strstr(r.full[i], "AGFsaWNl"));
		assert_null(strstr(r.full[i], "Ym9i"));
	}
	assert_string_equal(r.evs[3]->ctx.last_arg, "PLAIN ***");
	result_free(&r);
	check(&sc2, want2, NW(want2), &r);
	result_free(&r);
}

static void
test_starttls(void **state)
{
	static const struct step st[] = {
	    S(0, "220 mx\r\n"),
	    C(1, "EHLO c\r\n"),
	    S(2, "250-mx\r\n250-SIZE 1000\r\n250 STARTTLS\r\n"),
	    C(3, "STARTTLS\r\n\x16\x03\x01\x00\x05hello"),
	    S(4, "220 2.0.0 Ready to start TLS\r\n\x16\x03\x03\x00\x02hi"),
	    C(5, "\x17\x03\x03\x00\x10"
		 "encrypted......"),
	    CE(6, "EHLO c2\r\n"),
	    SE(7, "250-mx\r\n250 AUTH PLAIN\r\n"),
	    CE(8, "MAIL FROM:<a@b>\r\n"),
	    SE(9, "452 4.3.1 Insufficient system storage\r\n"),
	};
	static const struct scen sc = {
	    SCEN(st), .close = "fin", .close_ms = 10};
	static const char *const want[] = {
	    "R 220 -|mx|1|CONNECT|null",
	    "C EHLO|c",
	    "R 250 -|mx\\nSIZE 1000\\nSTARTTLS|3|EHLO|1",
	    "C STARTTLS|",
	    "R 220 2.0.0|Ready to start TLS|1|STARTTLS|1",
	    "C EHLO|c2|enc",
	    "R 250 -|mx\\nAUTH PLAIN|2|EHLO|1|enc",
	    "C MAIL|FROM:<a@b>|enc",
	    "R 452 4.3.1|Insufficient system storage|1|MAIL|1|enc",
	    "X fin 0.010 c=4 r=5 m=0 {220:2,250:2,452:1}",
	};
	/* Refused: the held bytes are commands after all. */
	static const struct step st2[] = {
	    S(0, "220 mx\r\n"),
	    C(1, "STARTTLS\r\nNOOP\r\n"),
	    S(2, "454 4.7.0 TLS not available due to local problem\r\n"),
	    S(3, "250 ok\r\n"),
	};
	static const struct scen sc2 = {SCEN(st2)};
	static const char *const want2[] = {
	    "R 220 -|mx|1|CONNECT|null",
	    "C STARTTLS|",
	    "R 454 4.7.0|TLS not available due to local problem|1|STARTTLS|1",
	    "C NOOP|",
	    "R 250 -|ok|1|NOOP|1",
	};
	struct result r;

	(void)state;
	check(&sc, want, NW(want), &r);
	assert_false(r.evs[4]->ctx.tls_active);
	assert_true(r.evs[6]->ctx.tls_active);
	/* RFC 3207: what was learned before TLS is forgotten. */
	assert_string_equal(r.evs[8]->ctx.helo, "c2");
	assert_null(r.evs[6]->ctx.helo); /* a 250: not diagnosed */
	assert_int_equal(r.evs[6]->ctx.ehlo_size, 0);
	assert_int_equal(r.evs[2]->ctx.ehlo_size, 0);
	assert_non_null(strstr(r.trace, "starttls -> tls (220 to STARTTLS)"));
	assert_non_null(strstr(r.trace, "tls -> ready (TLS started)"));
	result_free(&r);
	check(&sc2, want2, NW(want2), &r);
	result_free(&r);
}

static void
test_starttls_dir_states(void **state)
{
	struct smtp_ops ops = {collect};
	struct timeval t0 = at(0);
	struct smtp_session *s;
	struct result r;
	const char *c = "STARTTLS\r\nJUNK";
	const char *sv = "220 go\r\nTLSBYTES";

	(void)state;
	memset(&r, 0, sizeof r);
	s = smtp_new(NULL, &ops, &r, &t0, NULL, false, true);
	assert_int_equal(smtp_feed(s, EV_DIR_CLIENT, (const uint8_t *)c,
			     strlen(c), &t0, false),
	    10);
	assert_int_equal(smtp_dir_state(s, EV_DIR_CLIENT), SMTP_DIR_HOLD);
	assert_int_equal(smtp_dir_state(s, EV_DIR_SERVER), SMTP_DIR_TEXT);
	assert_int_equal(smtp_feed(s, EV_DIR_SERVER, (const uint8_t *)sv,
			     strlen(sv), &t0, false),
	    8);
	assert_int_equal(smtp_dir_state(s, EV_DIR_CLIENT), SMTP_DIR_TLS);
	assert_int_equal(smtp_dir_state(s, EV_DIR_SERVER), SMTP_DIR_TLS);
	/* Not decrypted: nothing more arrives, and closing is quiet. */
	smtp_tls_started(s, false);
	smtp_close(s, "fin", &t0);
	assert_int_equal(r.n, 3);
	assert_string_equal(r.lines[2], "X fin 0.000 c=1 r=1 m=0 {220:1}");
	smtp_free(s);
	result_free(&r);
}

static void
test_implicit_tls(void **state)
{
	static const struct step st[] = {
	    SE(5, "220 smtp.example ESMTP\r\n"),
	    CE(6, "EHLO c\r\n"),
	    SE(7, "250 ok\r\n"),
	};
	static const struct scen sc = {SCEN(st), .implicit = true, .syn = true};
	static const char *const want[] = {
	    "R 220 -|smtp.example ESMTP|1|CONNECT|10|enc",
	    "C EHLO|c|enc",
	    "R 250 -|ok|1|EHLO|1|enc",
	};
	struct result r;

	(void)state;
	check(&sc, want, NW(want), &r);
	assert_true(r.evs[0]->ctx.tls_active);
	result_free(&r);
}

static void
test_long_line(void **state)
{
	struct smtp_ops ops = {collect};
	struct timeval t0 = at(0);
	struct smtp_session *s;
	struct result r;
	uint8_t *big;
	size_t n = 1024 * 1024, i;
	unsigned toolong = 0;

	(void)state;
	memset(&r, 0, sizeof r);
	big = xmalloc(n);
	memset(big, 'A', n);
	s = smtp_new(NULL, &ops, &r, &t0, NULL, false, false);
	(void)smtp_feed(
	    s, EV_DIR_SERVER, (const uint8_t *)"220 x\r\n", 7, &t0, false);
	(void)smtp_feed(
	    s, EV_DIR_CLIENT, (const uint8_t *)"EHLO x\r\n", 8, &t0, false);
	/* 1 MB without a line end, in 1460-byte segments. */
	for (i = 0; i < n; i += 1460)
		(void)smtp_feed(s, EV_DIR_CLIENT, big + i,
		    n - i < 1460 ? n - i : 1460, &t0, false);
	/* And 1 MB of reply text without a line end. */
	big[0] = '2';
	big[1] = '5';
	big[2] = '0';
	big[3] = ' ';
	(void)smtp_feed(s, EV_DIR_SERVER, big, n, &t0, false);
	(void)smtp_feed(
	    s, EV_DIR_SERVER, (const uint8_t *)"\r\n250 b\r\n", 9, &t0, false);
	(void)smtp_feed(s, EV_DIR_CLIENT, (const uint8_t *)"AAA\r\nNOOP\r\n",
	    11, &t0, false);
	(void)smtp_feed(
	    s, EV_DIR_SERVER, (const uint8_t *)"250 c\r\n", 7, &t0, false);
	smtp_close(s, "fin", &t0);
	for (i = 0; i < r.n; i++)
		if (r.evs[i]->type == EV_ANOMALY &&
		    r.evs[i]->what == EV_ANOM_LINE_TOO_LONG)
			toolong++;
	assert_int_equal(toolong, 2);
	/* The long line's first bytes became the line: still matched. */
	assert_string_equal(r.lines[2], "A line too long");
	assert_string_equal(r.lines[3], "C AAAAAAAAAAAAAAA|");
	assert_string_equal(r.lines[4], "A line too long");
	assert_int_equal(r.evs[5]->code, 250);
	assert_int_equal(r.evs[5]->text_len, SMTP_LINE_MAX - 4);
	assert_string_equal(r.evs[5]->answers, "EHLO");
	assert_string_equal(r.lines[6], "R 250 -|b|1|AAAAAAAAAAAAAAA|0");
	/* "AAA\r\n" was the tail of the long line. */
	assert_string_equal(r.lines[7], "C NOOP|");
	assert_string_equal(r.lines[8], "R 250 -|c|1|NOOP|0");
	assert_int_equal(r.n, 10);
	smtp_free(s);
	free(big);
	result_free(&r);
}

static void
test_nul_bytes(void **state)
{
	static const struct step st[] = {
	    S(0, "220 mx\r\n"),
	    C(1, "MAIL FROM:<a\0b@c>\r\n"),
	    S(2, "250 o\0k\r\n"),
	    C(3, "\0\0\0\r\nNOOP\r\n"),
	    S(4, "500 what\r\n250 ok\r\n"),
	};
	static const struct scen sc = {SCEN(st)};
	static const char *const want[] = {
	    "R 220 -|mx|1|CONNECT|null",
	    "C MAIL|FROM:<a\\x00b@c>",
	    "R 250 -|o\\x00k|1|MAIL|1",
	    "A non-SMTP data",
	    "C NOOP|",
	    "R 500 -|what|1|null|1",
	    "R 250 -|ok|1|NOOP|1",
	};
	struct result r;

	(void)state;
	check(&sc, want, NW(want), &r);
	result_free(&r);
}

/* Deterministic garbage: no crash, bounded events. */
static void
test_binary_garbage(void **state)
{
	struct smtp_ops ops = {collect};
	struct timeval t0 = at(0);
	struct smtp_session *s;
	struct result r;
	uint8_t buf[4096];
	uint32_t x = 12345;
	size_t i, round;

	(void)state;
	for (round = 0; round < 4; round++) {
		memset(&r, 0, sizeof r);
		s = smtp_new(NULL, &ops, &r, &t0, NULL, false, round >= 2);
		if (round % 2 == 1) {
			(void)smtp_feed(s, EV_DIR_SERVER,
			    (const uint8_t *)"220 x\r\n", 7, &t0, false);
			(void)smtp_feed(s, EV_DIR_CLIENT,
			    (const uint8_t *)"EHLO x\r\n", 8, &t0, false);
		}
		for (i = 0; i < 64 * sizeof buf; i++) {
			x = x * 1103515245 + 12345;
			buf[i % sizeof buf] = (uint8_t)(x >> 16);
			if (i % sizeof buf == sizeof buf - 1) {
				(void)smtp_feed(s, (int)((x >> 8) & 1), buf,
				    sizeof buf, &t0, (x >> 9) & 1);
			}
		}
		smtp_close(s, "fin", &t0);
		/* Garbage gives a handful of anomalies, not a flood. */
		assert_true(r.n < 600);
		assert_int_equal(r.evs[r.n - 1]->type, EV_SESSION_CLOSE);
		smtp_free(s);
		result_free(&r);
	}
}

static void
test_pipelined_1000(void **state)
{
	char *c, *sv;
	size_t clen = 0, slen = 0, i, rcpt = 0;
	struct step st[3];
	struct scen sc;
	struct result r, rb;

	(void)state;
	c = xmalloc(1000 * 40);
	sv = xmalloc(1000 * 40 + 64);
	slen = (size_t)sprintf(sv, "220 mx\r\n");
	clen = (size_t)sprintf(c, "MAIL FROM:<a@b>\r\n");
	for (i = 0; i < 998; i++)
		clen += (size_t)sprintf(c + clen, "RCPT TO:<r%zu@x>\r\n", i);
	clen += (size_t)sprintf(c + clen, "RSET\r\n");
	slen += (size_t)sprintf(sv + slen, "250 ok\r\n");
	for (i = 0; i < 998; i++)
		slen += (size_t)sprintf(sv + slen, "%s\r\n",
		    i < 995 ? "250 2.1.5 ok" : "452 4.5.3 too many");
	slen += (size_t)sprintf(sv + slen, "250 reset\r\n");
	st[0] = (struct step){EV_DIR_SERVER, sv, 8, 0, false, 0};
	st[1] = (struct step){EV_DIR_CLIENT, c, clen, 1, false, 0};
	st[2] = (struct step){EV_DIR_SERVER, sv + 8, slen - 8, 2, false, 0};
	memset(&sc, 0, sizeof sc);
	sc.steps = st;
	sc.n = 3;
	sc.close = "fin";
	sc.close_ms = 3;
	run(&sc, -1, 0, false, &r);
	assert_int_equal(r.n, 1 + 1000 + 1000 + 1);
	for (i = 0; i < r.n; i++)
		if (r.evs[i]->type == EV_REPLY &&
		    strcmp(r.evs[i]->answers, "RCPT") == 0) {
			if (rcpt == 997) {
				assert_int_equal(r.evs[i]->code, 452);
				assert_int_equal(r.evs[i]->ctx.rcpt_seen, 998);
				assert_int_equal(
				    r.evs[i]->ctx.rcpt_accepted, 995);
				assert_int_equal(
				    r.evs[i]->ctx.rcpt_rejected, 2);
			}
			rcpt++;
		}
	assert_int_equal(rcpt, 998);
	assert_string_equal(r.lines[r.n - 2], "R 250 -|reset|1|RSET|1");
	assert_string_equal(r.lines[r.n - 1],
	    "X fin 0.003 c=1000 r=1001 m=0 {220:1,250:997,452:3}");
	/* Same events one byte at a time. */
	run(&sc, -1, 0, true, &rb);
	assert_true(same(&r, &rb));
	result_free(&r);
	result_free(&rb);
	free(c);
	free(sv);
}

static void
test_gaps(void **state)
{
	static const struct step st[] = {
	    S(0, "220 mx\r\n"),
	    C(1, "DATA\r\n"),
	    S(2, "354 go\r\n"),
	    C(3, "abc\r\n"),
	    GAP(4, EV_DIR_CLIENT, 1000),
	    C(5, ".\r\nNOOP\r\nNO"),
	    GAP(6, EV_DIR_CLIENT, 10),
	    C(7, "OP\r\nRSET\r\n"),
	    S(8, "250 queued as G\r\n250 ok\r\n"),
	    GAP(9, EV_DIR_SERVER, 5),
	    S(10, "ok\r\n250 ok\r\n"),
	};
	static const struct scen sc = {SCEN(st)};
	static const char *const want[] = {
	    "R 220 -|mx|1|CONNECT|null",
	    "C DATA|",
	    "R 354 -|go|1|DATA|1",
	    "C NOOP|",
	    "C RSET|",
	    "R 250 -|queued as G|1|DATA-END|3",
	    "M 1005|(null)|||G",
	    "R 250 -|ok|1|NOOP|3",
	    "R 250 -|ok|1|RSET|3",
	};
	/* A hole that runs past the end of a BDAT chunk and ends exactly
	   at the next command (Zeek's bdat-gap capture). */
	static const struct step st2[] = {
	    S(0, "220 mx\r\n"),
	    C(1, "BDAT 200\r\nAAAAAAAAAA"),
	    GAP(2, EV_DIR_CLIENT, 1000),
	    C(3, "DATA\r\n"),
	    S(4, "250 ok\r\n354 go\r\n"),
	};
	static const struct scen sc2 = {SCEN(st2)};
	static const char *const want2[] = {
	    "R 220 -|mx|1|CONNECT|null",
	    "C BDAT|200",
	    "C DATA|",
	    "R 250 -|ok|1|BDAT|2",
	    "R 354 -|go|1|DATA|1",
	};
	struct result r;

	(void)state;
	check(&sc, want, NW(want), &r);
	result_free(&r);
	check(&sc2, want2, NW(want2), &r);
	result_free(&r);
}

/* A capture cut by its snapshot length: each packet's first bytes, then a
   hole.  A reply whose code arrived is a reply (cut), a command whose verb
   arrived is a command (cut), and a multi-line reply the hole interrupts
   does not swallow the next one. */
static void
test_cut_by_snaplen(void **state)
{
	static const struct step st[] = {
	    S(0, "220 mx ESM"),
	    GAP(1, EV_DIR_SERVER, 10),
	    C(2, "EHLO"),
	    GAP(3, EV_DIR_CLIENT, 9),
	    S(4, "250-mx\r\n250-PIP"),
	    GAP(5, EV_DIR_SERVER, 30),
	    C(6, "MAIL FROM:<a@"),
	    GAP(7, EV_DIR_CLIENT, 5),
	    S(8, "250 2.1.0 Ok\r\n"),
	    C(9, "RCPT TO:<b@c>\r\n"),
	    S(10, "452 4.5."),
	    GAP(11, EV_DIR_SERVER, 30),
	    C(12, "RC"),
	    GAP(13, EV_DIR_CLIENT, 14),
	    S(14, "45"),
	    GAP(15, EV_DIR_SERVER, 30),
	};
	static const struct scen sc = {SCEN(st)};
	static const char *const want[] = {
	    "R 220 -|mx ESM|1|CONNECT|null|cut",
	    "C EHLO||cut",
	    "R 250 -|mx\\nPIP|2|EHLO|2|cut",
	    "C MAIL|FROM:<a@|cut",
	    "R 250 2.1.0|Ok|1|MAIL|2",
	    "C RCPT|TO:<b@c>",
	    "R 452 -|4.5.|1|RCPT|1|cut",
	};
	struct result r;

	(void)state;
	check(&sc, want, NW(want), &r);
	result_free(&r);
}

static void
test_data_end_early(void **state)
{
	/* Sendmail ends DATA on "\r\n.\n" (RFC 5321 says it must not):
	   its verdict arrives while the body is, by the rules, still open. */
	static const struct step st[] = {
	    S(0, "220 mx\r\n"),
	    C(1, "DATA\r\n"),
	    S(2, "354 go\r\n"),
	    C(3, "hate\r\n.\n"),
	    S(4, "250 2.0.0 x1ABC Message accepted for delivery\r\n"),
	    C(5, "QUIT\r\n"),
	    S(6, "221 bye\r\n"),
	};
	static const struct scen sc = {SCEN(st), .close = "fin", .close_ms = 7};
	static const char *const want[] = {
	    "R 220 -|mx|1|CONNECT|null",
	    "C DATA|",
	    "R 354 -|go|1|DATA|1",
	    "A reply before the end of data (no CRLF.CRLF)",
	    "R 250 2.0.0|x1ABC Message accepted for delivery|1|DATA-END|1",
	    "M 7|(null)|||x1ABC",
	    "C QUIT|",
	    "R 221 -|bye|1|QUIT|1",
	    "X quit 0.007 c=2 r=4 m=1 {220:1,221:1,250:1,354:1}",
	};
	struct result r;

	(void)state;
	check(&sc, want, NW(want), &r);
	result_free(&r);
}

static void
test_anchor_lost_reply(void **state)
{
	/* The reply to one RCPT is missing: 354 still answers DATA. */
	static const struct step st[] = {
	    S(0, "220 mx\r\n"),
	    C(1, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\n"
		 "DATA\r\n"),
	    S(2, "250 ok\r\n250 ok\r\n354 go\r\n"),
	    C(3, "x\r\n.\r\nQUIT\r\n"),
	    S(4, "250 ok\r\n221 bye\r\n"),
	};
	static const struct scen sc = {SCEN(st)};
	static const char *const want[] = {
	    "R 220 -|mx|1|CONNECT|null",
	    "C MAIL|FROM:<a@b>",
	    "C RCPT|TO:<c@d>",
	    "C RCPT|TO:<e@f>",
	    "C DATA|",
	    "R 250 -|ok|1|MAIL|1",
	    "R 250 -|ok|1|RCPT|1",
	    "R 354 -|go|1|DATA|1",
	    "C QUIT|",
	    "R 250 -|ok|1|DATA-END|1",
	    "M 3|a@b|c@d||null",
	    "R 221 -|bye|1|QUIT|1",
	};
	struct result r;

	(void)state;
	check(&sc, want, NW(want), &r);
	result_free(&r);
}

static void
test_rset_ehlo_clear(void **state)
{
	static const struct step st[] = {
	    S(0, "220 mx\r\n"),
	    C(1, "MAIL FROM:<a@b>\r\n"),
	    S(2, "250 ok\r\n"),
	    C(3, "RCPT TO:<c@d>\r\n"),
	    S(4, "250 ok\r\n"),
	    C(5, "EHLO again\r\n"),
	    S(6, "250 mx\r\n"),
	    C(7, "RCPT TO:<e@f>\r\n"),
	    S(8, "503 5.5.1 Error: need MAIL command\r\n"),
	};
	static const struct scen sc = {SCEN(st)};
	static const char *const want[] = {
	    "R 220 -|mx|1|CONNECT|null",
	    "C MAIL|FROM:<a@b>",
	    "R 250 -|ok|1|MAIL|1",
	    "C RCPT|TO:<c@d>",
	    "R 250 -|ok|1|RCPT|1",
	    "C EHLO|again",
	    "R 250 -|mx|1|EHLO|1",
	    "C RCPT|TO:<e@f>",
	    "R 503 5.5.1|Error: need MAIL command|1|RCPT|1",
	};
	struct result r;

	(void)state;
	check(&sc, want, NW(want), &r);
	assert_true(r.evs[6]->ctx.in_transaction);
	assert_int_equal(r.evs[6]->ctx.rcpt_accepted, 1);
	assert_false(r.evs[8]->ctx.in_transaction);
	assert_int_equal(r.evs[8]->ctx.rcpt_accepted, 0);
	assert_int_equal(r.evs[8]->ctx.rcpt_seen, 1);
	result_free(&r);
}

static void
test_verbs(void **state)
{
	static const struct step st[] = {
	    S(0, "220 mx\r\n"),
	    C(1,
		"vrfy bob\r\nExpn list\r\netrn example.org\r\n"
		"XCLIENT NAME=x\r\nxforward ADDR=1.2.3.4\r\nFOOBAR baz  qux\r\n"
		"\r\nLHLO l\r\nAVeryLongUnknownVerbIndeed x\r\n"),
	    S(2, "252 maybe\r\n550 no\r\n250 queuing\r\n220 mx again\r\n"
		 "250 ok\r\n502 5.5.2 what\r\n500 5.5.2 bad syntax\r\n"
		 "250 lmtp\r\n502 no\r\n"),
	};
	static const struct scen sc = {SCEN(st)};
	static const char *const want[] = {
	    "R 220 -|mx|1|CONNECT|null",
	    "C VRFY|bob",
	    "C EXPN|list",
	    "C ETRN|example.org",
	    "C XCLIENT|NAME=x",
	    "C XFORWARD|ADDR=1.2.3.4",
	    "C FOOBAR|baz  qux",
	    "C |",
	    "C LHLO|l",
	    "C AVERYLONGUNKNOW|x",
	    "R 252 -|maybe|1|VRFY|1",
	    "R 550 -|no|1|EXPN|1",
	    "R 250 -|queuing|1|ETRN|1",
	    "R 220 -|mx again|1|XCLIENT|1",
	    "R 250 -|ok|1|XFORWARD|1",
	    "R 502 5.5.2|what|1|FOOBAR|1",
	    "R 500 5.5.2|bad syntax|1|null|1",
	    "R 250 -|lmtp|1|LHLO|1",
	    "R 502 -|no|1|AVERYLONGUNKNOW|1",
	};
	struct result r;

	(void)state;
	check(&sc, want, NW(want), &r);
	result_free(&r);
}

static void
test_queue_ids(void **state)
{
	static const struct {
		const char *reply;
		const char *qid;
	} t[] = {
	    {"250 2.0.0 Ok: queued as 4XyZ12abc\r\n", "4XyZ12abc"},
	    {"250 OK id=1rAbCd-000Xyz-Qq\r\n", "1rAbCd-000Xyz-Qq"},
	    {"250 2.0.0 3BCDE12345 Message accepted for delivery\r\n",
		"3BCDE12345"},
	    {"250 2.0.0 <x8ABC.1> Message accepted for delivery\r\n",
		"x8ABC.1"},
	    {"250 Message Queued (4F1E2D3C-ABCD.1)\r\n", "4F1E2D3C-ABCD.1"},
	    {"250 2.0.0 OK  1700000000 d2-20020a05.123 - gsmtp\r\n",
		"d2-20020a05.123"},
	    {"250 Queued as 12345.\r\n", "12345"},
	    {"250 2.6.0 <a.b@c.d> [InternalId=97779625, Hostname=x] Queued "
	     "mail for delivery\r\n",
		"97779625"},
	    {"250 OK\r\n", NULL},
	    {"250-2.0.0 first line\r\n250 2.0.0 queued as MULTI\r\n", "MULTI"},
	    {"450 4.0.0 queued as NOTREALLY\r\n", NULL},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct step st[] = {
		    S(0, "220 mx\r\n"),
		    C(1, "DATA\r\n"),
		    S(2, "354 go\r\n"),
		    C(3, ".\r\n"),
		    {EV_DIR_SERVER, t[i].reply, strlen(t[i].reply), 4, false,
			0},
		};
		struct scen sc = {SCEN(st)};
		struct result r;

		run(&sc, -1, 0, false, &r);
		assert_int_equal(r.n, 5);
		assert_int_equal(r.evs[4]->type, EV_MESSAGE);
		if (t[i].qid == NULL)
			assert_null(r.evs[4]->queue_id);
		else
			assert_string_equal(r.evs[4]->queue_id, t[i].qid);
		result_free(&r);
	}
}

static void
test_pending_cap(void **state)
{
	struct smtp_ops ops = {collect};
	struct timeval t0 = at(0);
	struct smtp_session *s;
	struct result r;
	size_t i, caps = 0;

	(void)state;
	memset(&r, 0, sizeof r);
	s = smtp_new(NULL, &ops, &r, &t0, NULL, false, false);
	(void)smtp_feed(
	    s, EV_DIR_SERVER, (const uint8_t *)"220 x\r\n", 7, &t0, false);
	for (i = 0; i < SMTP_PENDING_MAX + 10; i++)
		(void)smtp_feed(s, EV_DIR_CLIENT, (const uint8_t *)"NOOP\r\n",
		    6, &t0, false);
	for (i = 0; i < r.n; i++)
		if (r.evs[i]->type == EV_ANOMALY &&
		    r.evs[i]->what == EV_ANOM_PENDING_CAP)
			caps++;
	assert_int_equal(caps, 1);
	smtp_free(s);
	result_free(&r);
}

/* Past the cap, replies still match in order: by verb, with no "reply
   without command"; a verb change inside the overflow is kept. */
static void
test_pending_cap_resync(void **state)
{
	struct smtp_ops ops = {collect};
	struct timeval t0 = at(0);
	struct smtp_session *s;
	struct result r;
	size_t i, unmatched = 0, rcpt = 0, rset = 0, noop = 0, first;

	(void)state;
	memset(&r, 0, sizeof r);
	s = smtp_new(NULL, &ops, &r, &t0, NULL, false, false);
	(void)smtp_feed(
	    s, EV_DIR_SERVER, (const uint8_t *)"220 x\r\n", 7, &t0, false);
	for (i = 0; i < SMTP_PENDING_MAX + 100; i++)
		(void)smtp_feed(s, EV_DIR_CLIENT,
		    (const uint8_t *)"RCPT TO:<a@b>\r\n", 15, &t0, false);
	(void)smtp_feed(
	    s, EV_DIR_CLIENT, (const uint8_t *)"RSET\r\n", 6, &t0, false);
	(void)smtp_feed(
	    s, EV_DIR_CLIENT, (const uint8_t *)"NOOP\r\n", 6, &t0, false);
	first = r.n;
	for (i = 0; i < SMTP_PENDING_MAX + 102; i++)
		(void)smtp_feed(s, EV_DIR_SERVER, (const uint8_t *)"250 ok\r\n",
		    8, &t0, false);
	/* One reply too many: nothing is left to answer. */
	(void)smtp_feed(
	    s, EV_DIR_SERVER, (const uint8_t *)"250 ok\r\n", 8, &t0, false);
	for (i = first; i < r.n; i++) {
		if (r.evs[i]->type == EV_ANOMALY &&
		    r.evs[i]->what == EV_ANOM_REPLY_WITHOUT_COMMAND)
			unmatched++;
		if (r.evs[i]->type != EV_REPLY)
			continue;
		if (strcmp(r.evs[i]->answers, "RCPT") == 0)
			rcpt++;
		else if (strcmp(r.evs[i]->answers, "RSET") == 0)
			rset++;
		else if (strcmp(r.evs[i]->answers, "NOOP") == 0)
			noop++;
	}
	assert_int_equal(rcpt, SMTP_PENDING_MAX + 100);
	assert_int_equal(rset, 1);
	assert_int_equal(noop, 1);
	assert_int_equal(unmatched, 1);
	/* ... the NOOP's reply, the anomaly, the reply to nothing */
	assert_string_equal(r.evs[r.n - 3]->answers, "NOOP");
	assert_int_equal(r.evs[r.n - 1]->type, EV_REPLY);
	assert_string_equal(r.evs[r.n - 1]->answers, "");
	smtp_free(s);
	result_free(&r);
}

/* Trimming frees pending arguments, an unfinished reply and a partial
   line; the session goes on and its replies still match. */
static void
test_trim(void **state)
{
	struct smtp_ops ops = {collect};
	struct timeval t0 = at(0);
	struct smtp_session *s;
	struct result r;
	char what[256];
	size_t before, freed, i;

	(void)state;
	memset(&r, 0, sizeof r);
	s = smtp_new(NULL, &ops, &r, &t0, NULL, false, false);
	(void)smtp_feed(
	    s, EV_DIR_SERVER, (const uint8_t *)"220 x\r\n", 7, &t0, false);
	(void)smtp_feed(s, EV_DIR_CLIENT,
	    (const uint8_t *)"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e",
	    42, &t0, false);
	(void)smtp_feed(s, EV_DIR_SERVER,
	    (const uint8_t *)"250-one\r\n250-two\r\n", 18, &t0, false);
	before = smtp_mem(s);
	freed = smtp_trim(s, what, sizeof what);
	assert_true(freed > 0);
	assert_int_equal(smtp_mem(s), before - freed);
	assert_string_equal(what, "the arguments of 2 pending commands, 7 "
				  "bytes of an unfinished 250 reply, a partial "
				  "client line of 10 bytes");
	/* The rest of the partial line is dropped up to its end. */
	(void)smtp_feed(s, EV_DIR_CLIENT, (const uint8_t *)"@f>\r\nQUIT\r\n",
	    11, &t0, false);
	(void)smtp_feed(s, EV_DIR_SERVER,
	    (const uint8_t *)"250 three\r\n250 ok\r\n221 bye\r\n", 29, &t0,
	    false);
	for (i = 0; i < r.n; i++)
		if (r.evs[i]->type == EV_REPLY && r.evs[i]->code == 221)
			break;
	assert_true(i < r.n);
	assert_string_equal(r.evs[i]->answers, "QUIT");
	smtp_free(s);
	result_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_basic_session),
	    cmocka_unit_test(test_greeting_without_syn),
	    cmocka_unit_test(test_bare_lf),
	    cmocka_unit_test(test_pipelining_452),
	    cmocka_unit_test(test_reply_envelope),
	    cmocka_unit_test(test_multiline_reply_ts),
	    cmocka_unit_test(test_unsolicited_421),
	    cmocka_unit_test(test_421_answers_oldest),
	    cmocka_unit_test(test_421_greeting),
	    cmocka_unit_test(test_multiline_code_change),
	    cmocka_unit_test(test_bad_reply_code),
	    cmocka_unit_test(test_non_smtp),
	    cmocka_unit_test(test_early_talker),
	    cmocka_unit_test(test_midstream),
	    cmocka_unit_test(test_data_end_splits),
	    cmocka_unit_test(test_data_rejected),
	    cmocka_unit_test(test_body_without_354),
	    cmocka_unit_test(test_data_never_ends),
	    cmocka_unit_test(test_421_during_body),
	    cmocka_unit_test(test_bdat),
	    cmocka_unit_test(test_bdat_bad_sizes),
	    cmocka_unit_test(test_auth),
	    cmocka_unit_test(test_starttls),
	    cmocka_unit_test(test_starttls_dir_states),
	    cmocka_unit_test(test_implicit_tls),
	    cmocka_unit_test(test_long_line),
	    cmocka_unit_test(test_nul_bytes),
	    cmocka_unit_test(test_binary_garbage),
	    cmocka_unit_test(test_pipelined_1000),
	    cmocka_unit_test(test_gaps),
	    cmocka_unit_test(test_data_end_early),
	    cmocka_unit_test(test_anchor_lost_reply),
	    cmocka_unit_test(test_rset_ehlo_clear),
	    cmocka_unit_test(test_verbs),
	    cmocka_unit_test(test_odd_codes),
	    cmocka_unit_test(test_cut_by_snaplen),
	    cmocka_unit_test(test_queue_ids),
	    cmocka_unit_test(test_pending_cap),
	    cmocka_unit_test(test_pending_cap_resync),
	    cmocka_unit_test(test_trim),
	};

	return cmocka_run_group_tests_name("smtp", tests, NULL, NULL);
}
