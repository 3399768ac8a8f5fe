/*
 * fuzz_maillog: libFuzzer target for the MTA log reader and joiner
 * (maillog_feed, maillog_parse, maillog_advance, maillog_finish).
 *
 * Input: byte 0 picks where the text is split in two pieces (a fraction of
 * it) and byte 1 how far the capture's clock has gone when the first piece
 * is in; the rest is log text.  The joiner knows four sessions, made up
 * the same way for every input: two inbound from 127.0.0.1 (one with a 452
 * and queue id ABCDE12345), one inbound from [2001:db8::1], one outbound to
 * 192.0.2.9:25 that got "452 4.5.3 Too many recipients".
 *
 * The joiner is made once per process and reset between inputs: its
 * tables (megabytes) are not allocated again for every input.
 *
 * Model: every event is a log line or a "line too long" anomaly; a log
 * line names one of the four sessions (with its client) or none (with no
 * client), says how it was joined, holds no newline and at most
 * MAILLOG_LINE_MAX bytes; as many log lines come out as the counter says,
 * and no more than the text has newlines plus one.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "maillog.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* 2026-12-05T03:04:05Z */
#define FUZZ_T0 1796439845

static struct maillog *fuzz_ml;
static uint64_t fuzz_logs, fuzz_max_logs;

static void
fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz_maillog: model check failed: %s\n", what);
	abort();
}

static void
fuzz_emit(void *arg, struct event *ev)
{
	(void)arg;
	if (ev->type == EV_ANOMALY) {
		if (ev->what != EV_ANOM_LINE_TOO_LONG)
			fuzz_fail("an anomaly other than line too long");
	} else if (ev->type == EV_LOG) {
		fuzz_logs++;
		if (ev->join == NULL || ev->program == NULL || ev->text == NULL)
			fuzz_fail("log event without join, program or line");
		if (ev->session > 4)
			fuzz_fail("a session that does not exist");
		if ((ev->session == 0) != (ev->client[0] == '\0'))
			fuzz_fail("client does not go with the session");
		if ((ev->session == 0) !=
		    (strcmp(ev->join, MAILLOG_JOIN_NONE) == 0))
			fuzz_fail("join does not go with the session");
		if (ev->text_len > MAILLOG_LINE_MAX ||
		    memchr(ev->text, '\n', ev->text_len) != NULL)
			fuzz_fail("line too long or with a newline");
	} else
		fuzz_fail("an event of another type");
	event_free(ev);
}

static void
fuzz_session(uint64_t id, long dt, const char *client, const char *server)
{
	struct event *ev = event_new(EV_SESSION_OPEN);

	ev->ts.tv_sec = FUZZ_T0 + dt;
	ev->session = id;
	snprintf(ev->client, sizeof ev->client, "%s", client);
	snprintf(ev->server, sizeof ev->server, "%s", server);
	maillog_observe(fuzz_ml, ev);
	event_free(ev);
}

static void
fuzz_reply(uint64_t id, const char *enhanced, const char *text)
{
	struct event *ev = event_new(EV_REPLY);

	ev->ts.tv_sec = FUZZ_T0 + 2;
	ev->session = id;
	ev->code = 452;
	snprintf(ev->enhanced, sizeof ev->enhanced, "%s", enhanced);
	ev->text = strdup(text);
	ev->text_len = strlen(text);
	strcpy(ev->answers, "RCPT");
	maillog_observe(fuzz_ml, ev);
	event_free(ev);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct timeval ref = {FUZZ_T0, 0}, now;
	struct event *ev;
	size_t cut, i;
	uint64_t lines, joined, too_long;

	if (size < 2)
		return 0;
	if (fuzz_ml == NULL)
		fuzz_ml = maillog_new(5, fuzz_emit, NULL);
	maillog_reset(fuzz_ml);
	fuzz_logs = 0;
	fuzz_max_logs = 1;
	for (i = 2; i < size; i++)
		fuzz_max_logs += data[i] == '\n';

	fuzz_session(1, 0, "127.0.0.1:1000", "127.0.0.1:25");
	fuzz_session(2, 1, "127.0.0.1:1001", "127.0.0.1:25");
	fuzz_session(3, 1, "[2001:db8::1]:4000", "[2001:db8::2]:25");
	fuzz_session(4, 2, "127.0.0.1:2000", "192.0.2.9:25");
	fuzz_reply(2, "4.5.3", "Error: too many recipients");
	fuzz_reply(4, "4.5.3", "Too many recipients");
	ev = event_new(EV_MESSAGE);
	ev->ts.tv_sec = FUZZ_T0 + 2;
	ev->session = 2;
	ev->queue_id = strdup("ABCDE12345");
	maillog_observe(fuzz_ml, ev);
	event_free(ev);

	cut = (size - 2) * data[0] / 255;
	maillog_feed(fuzz_ml, (const char *)data + 2, cut, &ref);
	now.tv_sec = FUZZ_T0 + data[1] % 32;
	now.tv_usec = 0;
	maillog_advance(fuzz_ml, &now);
	maillog_feed(
	    fuzz_ml, (const char *)data + 2 + cut, size - 2 - cut, &ref);
	maillog_feed(fuzz_ml, "\n", 1, &ref);
	maillog_finish(fuzz_ml);
	maillog_counts(fuzz_ml, &lines, &joined, &too_long);
	if (lines != fuzz_logs || fuzz_logs > fuzz_max_logs + 1)
		fuzz_fail("log events and lines read differ");
	if (joined > lines)
		fuzz_fail("more lines joined than read");
	return 0;
}
