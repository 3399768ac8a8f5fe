/* Unit tests of metrics and metrics_http: counting, rendering, escaping,
   label caps, histogram buckets, the request parser and addresses. */
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
#include "metrics.h"
#include "metrics_http.h"
#include "xmalloc.h"

static struct event *
reply(int code, const char *server, const char *answers, double ms,
    const char *cause)
{
	struct event *ev = event_new(EV_REPLY);

	ev->code = code;
	snprintf(ev->server, sizeof ev->server, "%s", server);
	snprintf(ev->answers, sizeof ev->answers, "%s", answers);
	ev->latency_ms = ms;
	if (cause != NULL) {
		ev->diag = xcalloc(1, sizeof *ev->diag);
		ev->diag->cause = xstrdup(cause);
	}
	return ev;
}

static void
feed(struct metrics *m, struct event *ev)
{
	metrics_event(m, ev);
	event_free(ev);
}

/* The text holds line exactly (a whole line). */
static int
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
		p += n;
	}
	return 0;
}

static void
test_render_counts(void **state)
{
	struct metrics *m = metrics_new();
	char *t;
	size_t len;

	(void)state;
	feed(m, event_new(EV_SESSION_OPEN));
	feed(m, event_new(EV_SESSION_OPEN));
	feed(m, event_new(EV_SESSION_CLOSE));
	feed(m, reply(250, "192.0.2.1:25", "RCPT", 0.5, NULL));
	feed(m, reply(452, "192.0.2.1:25", "RCPT", 2, "rcpt-limit"));
	feed(m, reply(421, "[2001:db8::1]:25", "CONNECT", -1, "conn-limit"));
	{
		struct event *ev = event_new(EV_MESSAGE);

		ev->code = 250;
		feed(m, ev);
		ev = event_new(EV_MESSAGE);
		ev->code = 452;
		feed(m, ev);
	}
	metrics_packet(m, 60);
	metrics_packet(m, 40);
	metrics_payload(m, EV_DIR_CLIENT, 10);
	metrics_payload(m, EV_DIR_SERVER, 7);
	metrics_drops(m, 3, 4);
	t = metrics_render(m, &len);
	assert_int_equal(len, strlen(t));
	assert_true(has_line(t, "# TYPE smtpscope_sessions_total counter"));
	assert_true(has_line(t, "smtpscope_sessions_total 2"));
	assert_true(has_line(t, "smtpscope_sessions_open 1"));
	assert_true(has_line(
	    t, "smtpscope_replies_total{code=\"250\",cause=\"none\"} 1"));
	assert_true(has_line(
	    t, "smtpscope_replies_total{code=\"452\",cause=\"rcpt-limit\"} 1"));
	assert_true(has_line(
	    t, "smtpscope_replies_total{code=\"421\",cause=\"conn-limit\"} 1"));
	assert_true(has_line(t, "smtpscope_server_replies_total{server="
				"\"192.0.2.1\",code=\"452\"} 1"));
	assert_true(has_line(t, "smtpscope_server_replies_total{server="
				"\"2001:db8::1\",code=\"421\"} 1"));
	assert_true(has_line(t, "smtpscope_messages_accepted_total 1"));
	assert_true(has_line(t, "smtpscope_packets_total 2"));
	assert_true(has_line(t, "smtpscope_captured_bytes_total 100"));
	assert_true(
	    has_line(t, "smtpscope_bytes_total{direction=\"client\"} 10"));
	assert_true(
	    has_line(t, "smtpscope_bytes_total{direction=\"server\"} 7"));
	assert_true(has_line(t, "smtpscope_kernel_drops_total 3"));
	assert_true(has_line(t, "smtpscope_queue_drops_total 4"));
	/* The 421 had no latency: no CONNECT series. */
	assert_null(strstr(t, "command=\"CONNECT\""));
	assert_true(has_line(t, "smtpscope_reply_latency_seconds_count{"
				"command=\"RCPT\"} 2"));
	assert_true(has_line(t, "smtpscope_reply_latency_seconds_sum{"
				"command=\"RCPT\"} 0.002500"));
	/* Every line is a comment or "name{...} value". */
	assert_int_equal(t[len - 1], '\n');
	free(t);
	metrics_free(m);
}

static void
test_histogram_buckets(void **state)
{
	struct metrics *m = metrics_new();
	char *t;
	size_t len;

	(void)state;
	assert_int_equal(metrics_latency_bucket(0), 0);
	assert_int_equal(metrics_latency_bucket(0.001), 0);
	assert_int_equal(metrics_latency_bucket(0.0011), 1);
	assert_int_equal(
	    metrics_latency_bucket(60), METRICS_LATENCY_BUCKETS - 1);
	assert_int_equal(metrics_latency_bucket(61), METRICS_LATENCY_BUCKETS);
	assert_true(metrics_latency_bound(0) < metrics_latency_bound(1));
	feed(m, reply(250, "192.0.2.1:25", "MAIL", 0.2, NULL)); /* 0.001 */
	feed(m, reply(250, "192.0.2.1:25", "MAIL", 300, NULL)); /* 0.5 */
	feed(m, reply(250, "192.0.2.1:25", "MAIL", 1e6, NULL)); /* +Inf */
	feed(m, reply(250, "192.0.2.1:25", "XYZZY", 1, NULL));	/* other */
	feed(m, reply(250, "192.0.2.1:25", "", 1, NULL));	/* none */
	t = metrics_render(m, &len);
	assert_true(has_line(t, "smtpscope_reply_latency_seconds_bucket{"
				"command=\"MAIL\",le=\"0.001\"} 1"));
	assert_true(has_line(t, "smtpscope_reply_latency_seconds_bucket{"
				"command=\"MAIL\",le=\"0.25\"} 1"));
	assert_true(has_line(t, "smtpscope_reply_latency_seconds_bucket{"
				"command=\"MAIL\",le=\"0.5\"} 2"));
	assert_true(has_line(t, "smtpscope_reply_latency_seconds_bucket{"
				"command=\"MAIL\",le=\"60\"} 2"));
	assert_true(has_line(t, "smtpscope_reply_latency_seconds_bucket{"
				"command=\"MAIL\",le=\"+Inf\"} 3"));
	assert_true(has_line(t, "smtpscope_reply_latency_seconds_count{"
				"command=\"MAIL\"} 3"));
	assert_true(has_line(t, "smtpscope_reply_latency_seconds_count{"
				"command=\"other\"} 1"));
	assert_true(has_line(t, "smtpscope_reply_latency_seconds_count{"
				"command=\"none\"} 1"));
	free(t);
	metrics_free(m);
	assert_string_equal(metrics_command_label("DATA-END"), "DATA-END");
	assert_string_equal(metrics_command_label("FOO"), "other");
	assert_string_equal(metrics_command_label(NULL), "none");
}

static void
test_server_cap(void **state)
{
	struct metrics *m = metrics_new();
	char server[64], line[160], *t;
	size_t len;
	int i;

	(void)state;
	for (i = 0; i < METRICS_SERVERS_MAX + 5; i++) {
		snprintf(server, sizeof server, "198.51.100.%d:25", i);
		feed(m, reply(421, server, "CONNECT", 1, "overload"));
	}
	/* An address already seen keeps its series. */
	feed(m, reply(452, "198.51.100.0:25", "RCPT", 1, NULL));
	t = metrics_render(m, &len);
	for (i = 0; i < METRICS_SERVERS_MAX; i++) {
		snprintf(line, sizeof line,
		    "smtpscope_server_replies_total{server=\"198.51.100.%d\","
		    "code=\"421\"} 1",
		    i);
		assert_true(has_line(t, line));
	}
	assert_null(strstr(t, "server=\"198.51.100.20\""));
	assert_true(has_line(t, "smtpscope_server_replies_total{server="
				"\"other\",code=\"421\"} 5"));
	assert_true(has_line(t, "smtpscope_server_replies_total{server="
				"\"198.51.100.0\",code=\"452\"} 1"));
	free(t);
	metrics_free(m);
}

static void
test_escape(void **state)
{
	char buf[64];
	size_t n;

	(void)state;
	n = metrics_escape(buf, sizeof buf, "a\"b\\c\nd");
	assert_string_equal(buf, "a\\\"b\\\\c\\nd");
	assert_int_equal(n, strlen(buf));
	metrics_escape(buf, sizeof buf, "\x01\xff");
	assert_string_equal(buf, "\\x01\\xff");
	/* Truncated on an escape's boundary, always terminated. */
	n = metrics_escape(buf, 4, "ab\"c");
	assert_string_equal(buf, "ab");
	assert_int_equal(n, 2);
}

static void
test_anomalies_and_tls(void **state)
{
	struct metrics *m = metrics_new();
	struct event *ev;
	char *t;
	size_t len;

	struct timeval ts = {0, 0};

	(void)state;
	feed(m, event_new_anomaly(&ts, EV_ANOM_BARE_LF, NULL));
	ev = event_new(EV_ANOMALY);
	ev->what = "something new";
	feed(m, ev);
	ev = event_new(EV_TLS);
	ev->phase = "handshake";
	ev->reason = xstrdup("no key log");
	feed(m, ev);
	ev = event_new(EV_TLS);
	ev->phase = "alert";
	ev->reason = xstrdup("the server aborted TLS");
	feed(m, ev); /* an alert is not a decryption failure */
	ev = event_new(EV_TLS);
	ev->phase = "established";
	ev->reason = xstrdup("no key for this session in the key log");
	feed(m, ev);
	t = metrics_render(m, &len);
	assert_true(has_line(
	    t, "smtpscope_anomalies_total{kind=\"bare LF line ending\"} 1"));
	assert_true(has_line(t, "smtpscope_anomalies_total{kind=\"other\"} 1"));
	assert_true(has_line(
	    t, "smtpscope_decrypt_failures_total{reason=\"no-keylog\"} 1"));
	assert_true(has_line(
	    t, "smtpscope_decrypt_failures_total{reason=\"no-key\"} 1"));
	assert_null(strstr(t, "reason=\"other\""));
	free(t);
	metrics_free(m);
	assert_string_equal(metrics_decrypt_reason("whatever"), "other");
	assert_string_equal(metrics_decrypt_reason(NULL), "other");
}

static enum metrics_http_req
parse(const char *s)
{
	return metrics_http_parse(s, strlen(s));
}

static void
test_http_parse(void **state)
{
	(void)state;
	assert_int_equal(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
	    METRICS_REQ_METRICS);
	assert_int_equal(
	    parse("GET /metrics?x=1 HTTP/1.0\n\n"), METRICS_REQ_METRICS);
	assert_int_equal(
	    parse("HEAD /metrics HTTP/1.1\r\n\r\n"), METRICS_REQ_HEAD);
	assert_int_equal(parse("GET http://h:9187/metrics HTTP/1.1\r\n\r\n"),
	    METRICS_REQ_METRICS);
	assert_int_equal(
	    parse("GET / HTTP/1.1\r\n\r\n"), METRICS_REQ_NOT_FOUND);
	assert_int_equal(
	    parse("GET /metricsx HTTP/1.1\r\n\r\n"), METRICS_REQ_NOT_FOUND);
	assert_int_equal(
	    parse("POST /metrics HTTP/1.1\r\n\r\n"), METRICS_REQ_METHOD);
	assert_int_equal(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n"),
	    METRICS_REQ_INCOMPLETE);
	assert_int_equal(parse(""), METRICS_REQ_INCOMPLETE);
	assert_int_equal(parse("GET /metrics\r\n\r\n"), METRICS_REQ_BAD);
	assert_int_equal(
	    parse("GET /metrics HTTP/2.0\r\n\r\n"), METRICS_REQ_BAD);
	assert_int_equal(
	    parse("get /metrics HTTP/1.1\r\n\r\n"), METRICS_REQ_BAD);
	assert_int_equal(parse("\r\n\r\n"), METRICS_REQ_BAD);
}

static void
test_http_addr(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char *why = NULL;

	(void)state;
	assert_int_equal(metrics_http_addr("9187", &ss, &len, &why), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(metrics_http_addr("0.0.0.0:9187", &ss, &len, &why), 0);
	assert_int_equal(metrics_http_addr("[::1]:9187", &ss, &len, &why), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(metrics_http_addr("::1:9187", &ss, &len, &why), -1);
	assert_non_null(why);
	free(why);
	assert_int_equal(metrics_http_addr("[::1]9187", &ss, &len, &why), -1);
	assert_non_null(why);
	free(why);
	assert_int_equal(metrics_http_addr("0", &ss, &len, &why), -1);
	assert_non_null(why);
	free(why);
	assert_int_equal(metrics_http_addr("65536", &ss, &len, &why), -1);
	assert_non_null(why);
	free(why);
	assert_int_equal(
	    metrics_http_addr("localhost:9187", &ss, &len, &why), -1);
	assert_non_null(why);
	free(why);
	assert_int_equal(metrics_http_addr("", &ss, &len, &why), -1);
	assert_non_null(why);
	free(why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_render_counts),
	    cmocka_unit_test(test_histogram_buckets),
	    cmocka_unit_test(test_server_cap),
	    cmocka_unit_test(test_escape),
	    cmocka_unit_test(test_anomalies_and_tls),
	    cmocka_unit_test(test_http_parse),
	    cmocka_unit_test(test_http_addr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
