/*
 * Unit tests of out_text (-N): wire text reaches the line escaped.  The
 * sender of a message (the client's MAIL argument, any bytes) was printed
 * as it came until fuzz_output found it.
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
#include "out_text.h"
#include "xmalloc.h"

/* The -N line of ev (freed), as a new string. */
static char *
text_of(struct event *ev, bool utf8)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(out_text_write(f, ev, utf8, true), 0);
	fclose(f);
	event_free(ev);
	return buf;
}

static struct event *
hdr(enum event_type t)
{
	struct event *ev = event_new(t);

	ev->ts.tv_sec = 1764379475;
	ev->session = 3;
	strcpy(ev->client, "192.0.2.1:51234");
	strcpy(ev->server, "192.0.2.25:25");
	return ev;
}

static void
test_message_sender_escaped(void **state)
{
	struct event *ev = hdr(EV_MESSAGE);
	char *s;

	(void)state;
	ev->code = 250;
	ev->bytes = 10;
	ev->mail_from = xstrdup("a\x1b[2J\x07@example.org\xc2\x85");
	ev->queue_id = xstrdup("4ABC");
	s = text_of(ev, false);
	assert_string_equal(s,
	    "2025-11-29T01:24:35.000000Z #3 192.0.2.1:51234 > 192.0.2.25:25 "
	    "-- message accepted (250): 10 bytes from "
	    "<a\\e[2J\\x07@example.org\\xc2\\x85>, 0 recipients accepted, 0 "
	    "rejected, queue id 4ABC\n");
	free(s);
}

static void
test_command_and_anomaly_escaped(void **state)
{
	struct event *ev = hdr(EV_COMMAND);
	char *s;

	(void)state;
	strcpy(ev->verb, "MAIL");
	ev->arg = xstrdup("FROM:<\x1b]0;x\x07>");
	s = text_of(ev, true);
	assert_null(strchr(s, '\x1b'));
	assert_non_null(strstr(s, "C: MAIL FROM:<\\e]0;x\\x07>\n"));
	free(s);
	ev = event_new_anomaly(
	    &(struct timeval){0, 0}, EV_ANOM_NON_SMTP, "bad\r\nline");
	s = text_of(ev, false);
	assert_non_null(
	    strstr(s, "-- anomaly: non-SMTP data: bad\\r\\nline\n"));
	free(s);
}

/* The fixes a mismatch anomaly prints are escaped too (fuzz_output). */
static void
test_anomaly_fixes_escaped(void **state)
{
	struct event *ev =
	    event_new_anomaly(&(struct timeval){0, 0}, EV_ANOM_NON_SMTP, NULL);
	char *s;

	(void)state;
	ev->diag = xcalloc(1, sizeof *ev->diag);
	ev->diag->cause = xstrdup("protocol");
	ev->diag->fix_sender = xstrdup("use TLS\x1b[2J on \xff");
	ev->diag->fix_operator = xstrdup("ok\x07");
	s = text_of(ev, false);
	assert_null(strchr(s, '\x1b'));
	assert_non_null(strstr(
	    s, "  << client: use TLS\\e[2J on \\xff Server: ok\\x07 >>\n"));
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_message_sender_escaped),
	    cmocka_unit_test(test_command_and_anomaly_escaped),
	    cmocka_unit_test(test_anomaly_fixes_escaped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
