/* Unit tests of maillog: line forms, dates, and each join rule. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "event.h"
#include "maillog.h"

/* 2026-12-05T03:04:05Z */
#define T0 1796439845

static void
test_parse_forms(void **state)
{
	struct maillog_rec r;
	const char *l;

	(void)state;
	setenv("TZ", "UTC", 1);
	l = "Dec  5 03:04:05 mx postfix/smtpd[123]: connect from "
	    "localhost[127.0.0.1]";
	assert_int_equal(maillog_parse(l, strlen(l), T0, &r), 0);
	assert_int_equal(r.ts.tv_sec, T0);
	assert_string_equal(r.program, "postfix/smtpd");
	assert_int_equal(r.pid, 123);
	assert_string_equal(r.addr, "127.0.0.1");
	assert_int_equal(r.port, -1);
	assert_int_equal(r.kind, MAILLOG_CONNECT);

	/* ISO with a zone and microseconds; port logged. */
	l = "2026-12-05T04:04:05.250000+01:00 mx postfix/smtpd[9]: "
	    "disconnect from h[192.0.2.1]:4567 ehlo=1 rcpt=3/5 commands=4/6";
	assert_int_equal(maillog_parse(l, strlen(l), T0, &r), 0);
	assert_int_equal(r.ts.tv_sec, T0);
	assert_int_equal(r.ts.tv_usec, 250000);
	assert_string_equal(r.addr, "192.0.2.1");
	assert_int_equal(r.port, 4567);
	assert_int_equal(r.kind, MAILLOG_DISCONNECT);

	/* journalctl -o short-iso: +hhmm. */
	l = "2026-12-05T03:04:05+0000 mx postfix/qmgr[7]: 4XyZ1abcD: removed";
	assert_int_equal(maillog_parse(l, strlen(l), T0, &r), 0);
	assert_int_equal(r.ts.tv_sec, T0);
	assert_string_equal(r.qid, "4XyZ1abcD");

	/* "warning:" is no queue id. */
	l = "Dec  5 03:04:05 mx postfix/smtpd[1]: warning: hostname x does "
	    "not resolve";
	assert_int_equal(maillog_parse(l, strlen(l), T0, &r), 0);
	assert_string_equal(r.qid, "");

	/* Outbound: relay and the quoted reply. */
	l = "Dec  5 03:04:05 mx postfix/smtp[5]: ABCDEF123: to=<a@b>, "
	    "relay=mx.b[192.0.2.9]:25, delay=1, dsn=4.5.3, status=deferred "
	    "(host mx.b[192.0.2.9] said: 452 4.5.3 Too many recipients (in "
	    "reply to RCPT TO command))";
	assert_int_equal(maillog_parse(l, strlen(l), T0, &r), 0);
	assert_true(r.outbound);
	assert_string_equal(r.relay, "192.0.2.9");
	assert_int_equal(r.relay_port, 25);
	assert_string_equal(r.said, "452 4.5.3 Too many recipients");
	assert_string_equal(r.rcpt, "a@b");
	assert_int_equal(r.outcome, MAILLOG_DEFERRED);

	/* Exim's main log, with pid; an Exim id. */
	l = "2026-12-05 03:04:05 [77] 1t9Xyz-0001Ab-Cd <= s@x H=h "
	    "[192.0.2.3]:999 P=esmtp";
	assert_int_equal(maillog_parse(l, strlen(l), T0, &r), 0);
	assert_string_equal(r.program, "exim");
	assert_int_equal(r.pid, 77);
	assert_string_equal(r.qid, "1t9Xyz-0001Ab-Cd");
	assert_string_equal(r.addr, "192.0.2.3");
	assert_int_equal(r.port, 999);

	/* Sendmail outbound. */
	l = "Dec  5 03:04:05 mx sm-mta[4]: 0B53456e012345: to=<a@b>, "
	    "delay=00:00:01, mailer=esmtp, relay=mx.b. [2001:db8::1], "
	    "dsn=4.0.0, stat=Deferred: 452 4.2.2 Mailbox full";
	assert_int_equal(maillog_parse(l, strlen(l), T0, &r), 0);
	assert_true(r.outbound);
	assert_string_equal(r.relay, "2001:db8::1");
	assert_string_equal(r.said, "452 4.2.2 Mailbox full");
	assert_string_equal(r.qid, "0B53456e012345");
	assert_string_equal(r.rcpt, "a@b");
	assert_int_equal(r.outcome, MAILLOG_DEFERRED);

	/* Exim deliveries: == deferred, ** bounced, => sent. */
	l = "2026-12-05 03:04:05 [8] 1t9Xyz-0001Ab-Cd == full@x R=r "
	    "T=remote_smtp defer (-44) H=mx [192.0.2.9]:25: SMTP error from "
	    "remote mail server after RCPT TO:<full@x>: 452 4.2.2 Full";
	assert_int_equal(maillog_parse(l, strlen(l), T0, &r), 0);
	assert_true(r.outbound);
	assert_string_equal(r.rcpt, "full@x");
	assert_int_equal(r.outcome, MAILLOG_DEFERRED);
	l = "2026-12-05 03:04:05 [8] 1t9Xyz-0001Ab-Cd ** gone@x R=r "
	    "T=remote_smtp H=mx [192.0.2.9]:25: SMTP error from remote mail "
	    "server after RCPT TO:<gone@x>: 550 5.1.1 No such user";
	assert_int_equal(maillog_parse(l, strlen(l), T0, &r), 0);
	assert_int_equal(r.outcome, MAILLOG_BOUNCED);
	l = "2026-12-05 03:04:05 [8] 1t9Xyz-0001Ab-Cd => ok@x R=r "
	    "T=remote_smtp H=mx [192.0.2.9]:25 C=\"250 OK\"";
	assert_int_equal(maillog_parse(l, strlen(l), T0, &r), 0);
	assert_int_equal(r.outcome, MAILLOG_SENT);
	/* Not a delivery: no outcome. */
	l = "Dec  5 03:04:05 mx postfix/smtp[5]: connect to "
	    "mx.b[192.0.2.9]:25: Connection refused";
	assert_int_equal(maillog_parse(l, strlen(l), T0, &r), 0);
	assert_int_equal(r.outcome, MAILLOG_NO_OUTCOME);

	/* Not log lines, cut lines. */
	assert_int_equal(maillog_parse("hello", 5, T0, &r), -1);
	l = "Dec  5 03:04:05 mx";
	assert_int_equal(maillog_parse(l, strlen(l), T0, &r), -1);
	l = "Foo  5 03:04:05 mx a[1]: b";
	assert_int_equal(maillog_parse(l, strlen(l), T0, &r), -1);
	l = "2026-13-05T03:04:05Z mx a[1]: b";
	assert_int_equal(maillog_parse(l, strlen(l), T0, &r), -1);
}

static void
test_parse_year(void **state)
{
	struct maillog_rec r;
	const char *l = "Dec 31 23:59:59 mx postfix/smtpd[1]: x";

	(void)state;
	setenv("TZ", "UTC", 1);
	/* Read on 2027-01-01: December is last year's. */
	assert_int_equal(maillog_parse(l, strlen(l), T0 + 30 * 86400, &r), 0);
	assert_int_equal(r.ts.tv_sec, 1798761599); /* 2026-12-31T23:59:59Z */
}

struct sink {
	struct event *ev[32];
	size_t n;
};

static void
sink_emit(void *arg, struct event *ev)
{
	struct sink *s = arg;

	if (s->n < 32)
		s->ev[s->n++] = ev;
	else
		event_free(ev);
}

static void
sink_free(struct sink *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		event_free(s->ev[i]);
	s->n = 0;
}

static void
observe(struct maillog *m, enum event_type t, uint64_t id, long sec,
    const char *client, const char *server)
{
	struct event *ev = event_new(t);

	ev->ts.tv_sec = sec;
	ev->session = id;
	strcpy(ev->client, client);
	strcpy(ev->server, server);
	maillog_observe(m, ev);
	event_free(ev);
}

static void
feed(struct maillog *m, const char *text)
{
	struct timeval ref = {T0, 0};

	maillog_feed(m, text, strlen(text), &ref);
}

static void
test_join_rules(void **state)
{
	struct sink s = {0};
	struct maillog *m = maillog_new(5, sink_emit, &s);
	struct event *ev;
	uint64_t lines, joined, too_long;

	(void)state;
	setenv("TZ", "UTC", 1);
	/* Two inbound sessions from one address, one outbound. */
	observe(m, EV_SESSION_OPEN, 1, T0, "127.0.0.1:1000", "127.0.0.1:25");
	observe(
	    m, EV_SESSION_OPEN, 2, T0 + 1, "127.0.0.1:1001", "127.0.0.1:25");
	observe(
	    m, EV_SESSION_OPEN, 3, T0 + 2, "127.0.0.1:2000", "192.0.2.9:25");
	ev = event_new(EV_REPLY);
	ev->ts.tv_sec = T0 + 2;
	ev->session = 3;
	ev->code = 452;
	strcpy(ev->enhanced, "4.5.3");
	ev->text = strdup("Too many recipients");
	ev->text_len = strlen(ev->text);
	strcpy(ev->answers, "RCPT");
	maillog_observe(m, ev);
	event_free(ev);
	ev = event_new(EV_MESSAGE);
	ev->session = 2;
	ev->ts.tv_sec = T0 + 2;
	ev->queue_id = strdup("ABCDE12345");
	maillog_observe(m, ev);
	event_free(ev);

	feed(m, "Dec  5 03:04:05 mx postfix/smtpd[10]: connect from "
		"localhost[127.0.0.1]\n"
		"Dec  5 03:04:06 mx postfix/smtpd[11]: connect from "
		"localhost[127.0.0.1]\n"
		"Dec  5 03:04:06 mx postfix/smtpd[11]: warning: Connection "
		"concurrency limit exceeded\n"
		"Dec  5 03:04:06 mx postscreen[3]: CONNECT from "
		"[127.0.0.1]:1000 to [127.0.0.1]:25\n"
		"Dec  5 03:04:07 mx postfix/qmgr[4]: ABCDE12345: removed\n"
		"Dec  5 03:04:07 mx postfix/smtp[5]: QQQQQ1: to=<a@b>, "
		"relay=b[192.0.2.9]:25, status=deferred (host b[192.0.2.9] "
		"said: 452 4.5.3 Too many recipients (in reply to RCPT TO "
		"command))\n"
		"Dec  5 03:04:07 mx postfix/smtpd[11]: disconnect from "
		"localhost[127.0.0.1]\n"
		"Dec  5 03:04:08 mx postfix/smtpd[11]: after disconnect\n"
		"Dec  5 03:04:08 mx postfix/anvil[2]: statistics: max "
		"connection count 2 for (smtp:127.0.0.1) at Dec  5 03:04:06\n");
	/* Nothing is due before the capture passes the time + skew. */
	assert_int_equal(s.n, 0);
	{
		struct timeval now = {T0 + 7, 0};

		maillog_advance(m, &now);
	}
	assert_int_equal(s.n, 4);
	maillog_finish(m);
	assert_int_equal(s.n, 9);
	assert_int_equal(s.ev[0]->type, EV_LOG);
	assert_int_equal(s.ev[0]->session, 1);
	assert_string_equal(s.ev[0]->join, MAILLOG_JOIN_ADDR_TIME);
	assert_int_equal(s.ev[1]->session, 2);
	assert_string_equal(s.ev[1]->join, MAILLOG_JOIN_ADDR_TIME);
	assert_int_equal(s.ev[2]->session, 2);
	assert_string_equal(s.ev[2]->join, MAILLOG_JOIN_PID);
	assert_int_equal(s.ev[3]->session, 1);
	assert_string_equal(s.ev[3]->join, MAILLOG_JOIN_ADDR_PORT);
	assert_string_equal(s.ev[3]->client, "127.0.0.1:1000");
	assert_int_equal(s.ev[4]->session, 2);
	assert_string_equal(s.ev[4]->join, MAILLOG_JOIN_QUEUE_ID);
	assert_string_equal(s.ev[4]->queue_id, "ABCDE12345");
	assert_int_equal(s.ev[5]->session, 3);
	assert_string_equal(s.ev[5]->join, MAILLOG_JOIN_RELAY_REPLY);
	assert_string_equal(s.ev[5]->program, "postfix/smtp");
	/* It quotes the 452's reason; the reply had no diagnosis here. */
	assert_int_equal(s.ev[5]->log_code, 452);
	assert_int_equal(s.ev[5]->log_reply_ts.tv_sec, T0 + 2);
	assert_string_equal(s.ev[5]->log_cause, "rcpt-limit");
	assert_null(s.ev[5]->log_diag_cause);
	/* A reason in a session without a 421 or 452 is no evidence. */
	assert_int_equal(s.ev[2]->log_code, 0);
	assert_int_equal(s.ev[6]->session, 2);
	assert_string_equal(s.ev[6]->join, MAILLOG_JOIN_PID);
	/* After its disconnect the process names no session. */
	assert_int_equal(s.ev[7]->session, 0);
	assert_string_equal(s.ev[7]->join, MAILLOG_JOIN_NONE);
	assert_string_equal(s.ev[7]->client, "");
	assert_int_equal(s.ev[8]->session, 0);
	maillog_counts(m, &lines, &joined, &too_long);
	assert_int_equal(lines, 9);
	assert_int_equal(joined, 7);
	assert_int_equal(too_long, 0);
	sink_free(&s);
	maillog_free(m);
}

/* The same recipient of the same message deferred, then tried again. */
static void
test_attempts(void **state)
{
	struct sink s = {0};
	struct maillog *m = maillog_new(5, sink_emit, &s);

	(void)state;
	setenv("TZ", "UTC", 1);
	feed(m, "Dec  5 03:04:05 mx postfix/smtp[5]: QQQQQ1: to=<a@b>, "
		"relay=b[192.0.2.9]:25, status=deferred (host b[192.0.2.9] "
		"said: 452 4.2.2 Full (in reply to RCPT TO command))\n"
		"Dec  5 03:04:05 mx postfix/smtp[5]: QQQQQ1: to=<c@b>, "
		"relay=b[192.0.2.9]:25, status=sent (250 OK)\n"
		"Dec  5 03:09:05 mx postfix/smtp[6]: QQQQQ1: to=<a@b>, "
		"relay=b[192.0.2.9]:25, status=deferred (host b[192.0.2.9] "
		"said: 452 4.2.2 Full (in reply to RCPT TO command))\n"
		"Dec  5 03:19:05 mx postfix/smtp[7]: QQQQQ1: to=<a@b>, "
		"relay=c[192.0.2.10]:25, status=sent (250 OK)\n"
		"Dec  5 03:19:06 mx postfix/qmgr[4]: QQQQQ1: removed\n");
	maillog_finish(m);
	assert_int_equal(s.n, 5);
	assert_string_equal(s.ev[0]->log_outcome, "deferred");
	assert_int_equal(s.ev[0]->log_attempt, 1);
	assert_string_equal(s.ev[1]->log_outcome, "sent");
	assert_int_equal(s.ev[1]->log_attempt, 1);
	assert_int_equal(s.ev[2]->log_attempt, 2);
	assert_int_equal(s.ev[2]->log_prev_attempt.tv_sec, T0);
	/* Another MX, the same message and recipient: attempt 3. */
	assert_string_equal(s.ev[3]->log_outcome, "sent");
	assert_int_equal(s.ev[3]->log_attempt, 3);
	assert_int_equal(s.ev[3]->log_prev_attempt.tv_sec, T0 + 300);
	assert_null(s.ev[4]->log_outcome);
	assert_int_equal(s.ev[4]->log_attempt, 0);
	sink_free(&s);
	maillog_free(m);
}

#define REASON(line) maillog_reason(line, strlen(line))

static void
test_reasons(void **state)
{
	(void)state;
	assert_string_equal(REASON("warning: Connection concurrency limit "
				   "exceeded: 51 from a[192.0.2.1] for "
				   "service smtp")
				->cause,
	    "conn-limit");
	assert_string_equal(REASON("warning: Connection rate limit exceeded: "
				   "61 from a[192.0.2.1] for service smtp")
				->cause,
	    "conn-rate");
	assert_string_equal(REASON("NOQUEUE: reject: CONNECT from "
				   "[192.0.2.1]:4242: all server ports busy")
				->cause,
	    "overload");
	assert_string_equal(REASON("Connection from [192.0.2.1] refused: too "
				   "many connections")
				->cause,
	    "overload");
	assert_string_equal(REASON("Connection from [192.0.2.1] refused: too "
				   "many connections from that IP address")
				->cause,
	    "conn-limit");
	assert_string_equal(REASON("warning: not enough free space in mail "
				   "queue: 10240 bytes < 1.5*message size "
				   "limit")
				->cause,
	    "storage");
	assert_string_equal(REASON("status=deferred (host b[192.0.2.9] said: "
				   "452 4.5.3 TOO MANY RECIPIENTS)")
				->cause,
	    "rcpt-limit");
	assert_string_equal(
	    REASON("PREGREET 11 after 0.1 from [192.0.2.1]:4242")->cause,
	    "protocol");
	assert_string_equal(REASON("timeout after END-OF-MESSAGE from "
				   "a[192.0.2.1]")
				->cause,
	    "idle-timeout");
	assert_null(REASON("connect from a[192.0.2.1]"));
	assert_null(REASON("disconnect from a[192.0.2.1] ehlo=1 quit=1"));
	assert_null(maillog_reason("too many", 8));
	/* Bounded by len, not by a NUL. */
	assert_null(maillog_reason("load average", 11));
	assert_null(maillog_reason(NULL, 0));
}

static void
test_too_long_and_pieces(void **state)
{
	struct sink s = {0};
	struct maillog *m = maillog_new(5, sink_emit, &s);
	char *big = malloc(MAILLOG_LINE_MAX + 100);
	uint64_t lines, joined, too_long;

	(void)state;
	memset(big, 'x', MAILLOG_LINE_MAX + 99);
	big[MAILLOG_LINE_MAX + 99] = '\0';
	feed(m, big);
	feed(m, "x\nDec  5 03:04:05 mx postfix/smtpd[1]: con");
	feed(m, "nect from h[192.0.2.1]\n");
	maillog_finish(m);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.ev[0]->type, EV_ANOMALY);
	assert_string_equal(s.ev[0]->what, EV_ANOM_LINE_TOO_LONG);
	assert_int_equal(s.ev[1]->type, EV_LOG);
	assert_int_equal(s.ev[1]->text_len,
	    strlen("Dec  5 03:04:05 mx postfix/smtpd[1]: connect from "
		   "h[192.0.2.1]"));
	maillog_counts(m, &lines, &joined, &too_long);
	assert_int_equal(lines, 1);
	assert_int_equal(too_long, 1);
	free(big);
	sink_free(&s);
	maillog_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_forms),
	    cmocka_unit_test(test_parse_year),
	    cmocka_unit_test(test_join_rules),
	    cmocka_unit_test(test_reasons),
	    cmocka_unit_test(test_attempts),
	    cmocka_unit_test(test_too_long_and_pieces),
	};

	return cmocka_run_group_tests_name("maillog", tests, NULL, NULL);
}
