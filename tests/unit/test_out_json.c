/* Unit tests of out_json: exact objects, as EVENTS in doc/smtpscope.1 lists
 * their keys. */
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
#include "explain.h"
#include "out_json.h"
#include "vis.h"
#include "xmalloc.h"

static struct event *
hdr(enum event_type t)
{
	struct event *ev = event_new(t);

	ev->ts.tv_sec = 1764379475;
	ev->ts.tv_usec = 5;
	ev->session = 3;
	strcpy(ev->client, "192.0.2.1:51234");
	strcpy(ev->server, "[2001:db8::1]:25");
	return ev;
}

static void
check(struct event *ev, const char *want)
{
	char *s = out_json_string(ev);

	assert_string_equal(s, want);
	free(s);
	event_free(ev);
}

#define H                                                                      \
	"\"ts\":\"2025-11-29T01:24:35.000005Z\",\"session\":3,"                \
	"\"client\":\"192.0.2.1:51234\",\"server\":\"[2001:db8::1]:25\""

static void
test_reply(void **state)
{
	struct event *ev = hdr(EV_REPLY);

	(void)state;
	ev->code = 452;
	strcpy(ev->enhanced, "4.5.3");
	ev->text = xstrdup("Error: too many recipients\nsecond \"line\"");
	ev->text_len = strlen(ev->text);
	ev->lines = 2;
	strcpy(ev->answers, "RCPT");
	ev->highlight = true;
	ev->latency_ms = 0.25;
	ev->ctx.mail_from = xstrdup("s@example.test");
	ev->ctx.rcpt = xstrdup("r\"4@example.test");
	ev->diag = xcalloc(1, sizeof *ev->diag);
	ev->diag->rule = xstrdup("r1");
	ev->diag->title = xstrdup("Too many recipients");
	check(ev,
	    "{\"event\":\"reply\"," H ",\"code\":452,\"enhanced\":\"4.5.3\","
	    "\"text\":\"Error: too many recipients\\nsecond \\\"line\\\"\","
	    "\"lines\":2,\"answers\":\"RCPT\",\"encrypted\":false,"
	    "\"highlight\":true,\"diagnosis\":{\"rule\":\"r1\",\"title\":"
	    "\"Too many recipients\",\"meaning\":null,\"when\":null,"
	    "\"fix_sender\":null,\"fix_operator\":null,\"cause\":\"unknown\","
	    "\"evidence\":[],\"confidence\":\"guess\"},\"latency_ms\":0.250,"
	    "\"mail_from\":\"s@example.test\",\"rcpt\":\"r\\\"4@example."
	    "test\"}");
}

static void
test_reply_nulls(void **state)
{
	struct event *ev = hdr(EV_REPLY);

	(void)state;
	ev->code = 220;
	ev->lines = 1;
	check(ev,
	    "{\"event\":\"reply\"," H ",\"code\":220,\"enhanced\":null,"
	    "\"text\":\"\",\"lines\":1,\"answers\":null,\"encrypted\":false,"
	    "\"highlight\":false,\"latency_ms\":null,\"mail_from\":null}");
	/* The null sender <> is an empty string, not null. */
	ev = hdr(EV_REPLY);
	ev->code = 250;
	ev->lines = 1;
	ev->ctx.mail_from = xstrdup("");
	check(ev,
	    "{\"event\":\"reply\"," H ",\"code\":250,\"enhanced\":null,"
	    "\"text\":\"\",\"lines\":1,\"answers\":null,\"encrypted\":false,"
	    "\"highlight\":false,\"latency_ms\":null,\"mail_from\":\"\"}");
}

static void
test_command_binary(void **state)
{
	struct event *ev = hdr(EV_COMMAND);

	(void)state;
	strcpy(ev->verb, "MAIL");
	ev->arg = xstrdup("FROM:<\x1b\xff@x>");
	ev->encrypted = true;
	check(ev, "{\"event\":\"command\"," H ",\"verb\":\"MAIL\",\"arg\":"
		  "\"FROM:<\\u001b\xef\xbf\xbd@x>\",\"encrypted\":true}");
}

/* One command with arg s: its JSON must quote s as vis_json does. */
static void
check_escaped(const char *s)
{
	struct event *ev = hdr(EV_COMMAND);
	char *got, *want, *exp;

	strcpy(ev->verb, "X");
	ev->arg = xstrdup(s);
	got = out_json_string(ev);
	want = vis_json(s, strlen(s));
	xasprintf(&exp,
	    "{\"event\":\"command\"," H
	    ",\"verb\":\"X\",\"arg\":\"%s\",\"encrypted\":false}",
	    want);
	assert_string_equal(got, exp);
	free(got);
	free(want);
	free(exp);
	event_free(ev);
}

/* Escaping in place must give exactly what vis_json gives. */
static void
test_escapes_match_vis_json(void **state)
{
	static const char *const in[] = {
	    "plain text that needs nothing at all",
	    "250-mx\n250-PIPELINING\n250 SIZE",
	    "q\"b\\s\r\t\x01\x7f end",
	    "long plain prefix before a quote \" and caf\xc3\xa9 \xff\x1b[31m",
	    "\xc2\x85 then \"",
	};
	/* Plain bytes around one or two that are not, at every offset of
	   the words checked at once, and the punctuation just above 0x20
	   that a word-wide test could mistake for a control. */
	static const char plain[] =
	    " !#$%&'()*+,-./0123456789:;<=>?@AZaz[]^_`{|}~ plain";
	static const char special[] = {
	    '"', '\\', '\n', '\r', '\t', 0x01, 0x1f, 0x7f, (char)0xc3};
	char buf[sizeof plain + 4];
	size_t i, k, pos, len;

	(void)state;
	for (i = 0; i < sizeof in / sizeof in[0]; i++)
		check_escaped(in[i]);
	for (len = 0; len < sizeof plain; len++) {
		memcpy(buf, plain, len);
		buf[len] = '\0';
		check_escaped(buf);
		for (k = 0; k < sizeof special; k++) {
			for (pos = 0; pos < len; pos++) {
				memcpy(buf, plain, len);
				buf[len] = '\0';
				buf[pos] = special[k];
				if (special[k] != (char)0xc3 && pos + 9 < len)
					buf[pos + 9] = '"';
				check_escaped(buf);
			}
		}
	}
}

static void
test_message(void **state)
{
	struct event *ev = hdr(EV_MESSAGE);

	(void)state;
	ev->bytes = 1234;
	ev->mail_from = xstrdup("s@example.test");
	ev->rcpt_accepted = xcalloc(1, sizeof(char *));
	ev->rcpt_accepted[0] = xstrdup("a@example.test");
	ev->n_accepted = 1;
	ev->code = 452;
	check(ev, "{\"event\":\"message\"," H ",\"bytes\":1234,\"mail_from\":"
		  "\"s@example.test\",\"rcpt_accepted\":[\"a@example.test\"],"
		  "\"rcpt_rejected\":[],\"queue_id\":null,\"code\":452,"
		  "\"accepted\":false}");
}

static void
test_close_and_gap(void **state)
{
	struct event *ev = hdr(EV_SESSION_CLOSE);
	static struct event_code_count codes[] = {{250, 5}, {452, 1}};

	(void)state;
	ev->close_reason = "quit";
	ev->duration = 1.5;
	ev->commands = 6;
	ev->replies = 7;
	ev->messages = 1;
	ev->codes = xmalloc(sizeof codes);
	memcpy(ev->codes, codes, sizeof codes);
	ev->n_codes = 2;
	check(ev,
	    "{\"event\":\"session_close\"," H ",\"reason\":\"quit\","
	    "\"duration\":1.500,\"commands\":6,\"replies\":7,\"messages\":1,"
	    "\"codes\":{\"250\":5,\"452\":1}}");
	ev = hdr(EV_GAP);
	ev->dir = EV_DIR_SERVER;
	ev->bytes = 1448;
	check(
	    ev, "{\"event\":\"gap\"," H ",\"dir\":\"server\",\"bytes\":1448}");
}

static void
test_stats_and_open(void **state)
{
	struct event *ev = hdr(EV_STATS);

	(void)state;
	ev->session = 0;
	ev->packets = 10;
	ev->pkt_bytes = 2000;
	ev->sessions = 2;
	ev->elapsed = 0.0125;
	check(ev,
	    "{\"event\":\"stats\",\"ts\":\"2025-11-29T01:24:35.000005Z\","
	    "\"session\":0,\"client\":null,\"server\":null,\"packets\":10,"
	    "\"bytes\":2000,\"sessions\":2,"
	    "\"dropped\":0,\"elapsed\":0.013,\"caps\":{\"flows\":0,\"ooo\":0,"
	    "\"line\":0,\"tls\":0}}");
	ev = hdr(EV_SESSION_OPEN);
	ev->tls_implicit = true;
	check(ev, "{\"event\":\"session_open\"," H ",\"tls\":\"implicit\","
		  "\"midstream\":false}");
}

static void
test_file_output(void **state)
{
	struct event *ev = hdr(EV_ANOMALY);
	char buf[512] = "";
	FILE *f = fmemopen(buf, sizeof buf, "w");

	(void)state;
	ev->what = EV_ANOM_LINE_TOO_LONG;
	assert_int_equal(out_json_event(f, ev), 0);
	fclose(f);
	assert_string_equal(
	    buf, "{\"event\":\"anomaly\"," H ",\"what\":\"line too long\"}\n");
	event_free(ev);
}

/* --explain -j: one object; empty enhanced and answers are null. */
static void
test_explain(void **state)
{
	struct explain_reply r;
	char buf[512] = "";
	FILE *f = fmemopen(buf, sizeof buf, "w");

	(void)state;
	memset(&r, 0, sizeof r);
	r.code = 452;
	r.text = xstrdup("first \"line\"\nsecond\x1b");
	assert_int_equal(out_json_explain(f, &r, NULL), 0);
	strcpy(r.enhanced, "4.5.3");
	strcpy(r.answers, "RCPT");
	assert_int_equal(out_json_explain(f, &r, NULL), 0);
	fclose(f);
	assert_string_equal(buf,
	    "{\"code\":452,\"enhanced\":null,\"text\":\"first \\\"line\\\"\\n"
	    "second\\u001b\",\"answers\":null}\n"
	    "{\"code\":452,\"enhanced\":\"4.5.3\",\"text\":\"first "
	    "\\\"line\\\"\\nsecond\\u001b\",\"answers\":\"RCPT\"}\n");
	explain_reply_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reply),
	    cmocka_unit_test(test_reply_nulls),
	    cmocka_unit_test(test_command_binary),
	    cmocka_unit_test(test_escapes_match_vis_json),
	    cmocka_unit_test(test_message),
	    cmocka_unit_test(test_close_and_gap),
	    cmocka_unit_test(test_stats_and_open),
	    cmocka_unit_test(test_file_output),
	    cmocka_unit_test(test_explain),
	};

	return cmocka_run_group_tests_name("out_json", tests, NULL, NULL);
}
