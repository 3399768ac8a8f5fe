/* Unit tests of event: ownership, deep copies, timestamps, the queue. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <pthread.h>

#include <cmocka.h>

#include "event.h"
#include "xmalloc.h"

static void
test_new_defaults(void **state)
{
	struct event *ev = event_new(EV_REPLY);

	(void)state;
	assert_int_equal(ev->type, EV_REPLY);
	assert_true(ev->latency_ms < 0);
	assert_true(ev->ctx.idle_ms < 0);
	assert_null(ev->diag);
	assert_string_equal(ev->answers, "");
	event_free(ev);
	event_free(NULL);
}

/* A freed event may be handed out again by event_new: it must come back
   as clear as a new one, whatever the event it was. */
static void
test_new_after_free_is_clear(void **state)
{
	struct event *ev[40], want;
	size_t i;

	(void)state;
	for (i = 0; i < 40; i++) {
		ev[i] = event_new(i % 2 ? EV_REPLY : EV_MESSAGE);
		ev[i]->session = 7 + i;
		ev[i]->code = 452;
		ev[i]->latency_ms = 3.5;
		ev[i]->dir = EV_DIR_SERVER;
		ev[i]->highlight = true;
		strcpy(ev[i]->client, "192.0.2.1:2525");
		strcpy(ev[i]->answers, "RCPT");
		ev[i]->text = xstrdup("4.5.3 Too many recipients");
		ev[i]->text_len = strlen(ev[i]->text);
		ev[i]->ctx.idle_ms = 12;
		ev[i]->ctx.rcpt = xstrdup("r@example.test");
		ev[i]->mail_from = xstrdup("s@example.test");
	}
	for (i = 0; i < 40; i++)
		event_free(ev[i]);
	for (i = 0; i < 40; i++) {
		ev[i] = event_new(EV_COMMAND);
		memset(&want, 0, sizeof want);
		want.type = EV_COMMAND;
		want.latency_ms = -1;
		want.ctx.idle_ms = -1;
		want.dir = -1;
		assert_memory_equal(ev[i], &want, sizeof want);
	}
	for (i = 0; i < 40; i++)
		event_free(ev[i]);
}

/* A packet is a short event with its bytes in the same block: its size
   is that, a copy of it is deep, and one given its data apart frees it. */
static void
test_packet_event(void **state)
{
	static const uint8_t data[] = {0x45, 0, 0, 40, 1, 2, 3, 4};
	struct timeval ts = {1700000000, 250000};
	struct event *ev, *copy;

	(void)state;
	ev = event_new_packet(&ts, 1, data, sizeof data, 60);
	assert_int_equal(ev->type, EV_PACKET);
	assert_int_equal(ev->ts.tv_sec, ts.tv_sec);
	assert_int_equal(ev->pkt_ts.tv_usec, ts.tv_usec);
	assert_int_equal(ev->pkt_caplen, sizeof data);
	assert_int_equal(ev->pkt_len, 60);
	assert_int_equal(ev->linktype, 1);
	assert_int_equal(ev->session, 0);
	assert_ptr_equal(ev->pkt_data, (uint8_t *)ev + EVENT_PACKET_HEAD);
	assert_memory_equal(ev->pkt_data, data, sizeof data);
	assert_int_equal(event_size(ev), EVENT_PACKET_HEAD + sizeof data);
	assert_true(event_size(ev) < sizeof *ev);
	ev->session = 7;
	copy = event_dup(ev);
	assert_int_equal(copy->session, 7);
	assert_ptr_not_equal(copy->pkt_data, ev->pkt_data);
	assert_memory_equal(copy->pkt_data, data, sizeof data);
	event_free(ev);
	event_free(copy);
	ev = event_new(EV_PACKET);
	ev->pkt_caplen = 4;
	ev->pkt_data = xcalloc(1, 4);
	event_free(ev);
}

static void
test_dup_is_deep(void **state)
{
	struct event *a = event_new(EV_MESSAGE), *b;

	(void)state;
	a->mail_from = xstrdup("s@example.test");
	a->rcpt_accepted = xcalloc(2, sizeof(char *));
	a->rcpt_accepted[0] = xstrdup("a@example.test");
	a->rcpt_accepted[1] = xstrdup("b@example.test");
	a->n_accepted = 2;
	a->text = xmemdup0("x\0y", 3);
	a->text_len = 3;
	a->diag = xcalloc(1, sizeof *a->diag);
	a->diag->title = xstrdup("T");
	b = event_dup(a);
	assert_ptr_not_equal(a->mail_from, b->mail_from);
	assert_string_equal(b->mail_from, "s@example.test");
	assert_string_equal(b->rcpt_accepted[1], "b@example.test");
	assert_ptr_not_equal(a->rcpt_accepted, b->rcpt_accepted);
	assert_memory_equal(b->text, "x\0y", 3);
	assert_string_equal(b->diag->title, "T");
	assert_null(b->diag->rule);
	event_free(a);
	/* b survives a's death. */
	assert_string_equal(b->rcpt_accepted[0], "a@example.test");
	event_free(b);
}

static void
test_format_ts(void **state)
{
	struct timeval tv = {1764379475, 42};
	char buf[40];

	(void)state;
	event_format_ts(buf, sizeof buf, &tv);
	assert_string_equal(buf, "2025-11-29T01:24:35.000042Z");
	assert_string_equal(event_type_name(EV_SESSION_CLOSE), "session_close");
}

static void
test_queue_order_and_drop(void **state)
{
	struct event_queue *q = event_queue_new(2);
	struct event *ev;
	struct pollfd pfd;

	(void)state;
	pfd.fd = event_queue_fd(q);
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 0), 0);
	ev = event_new(EV_COMMAND);
	ev->session = 1;
	assert_int_equal(event_queue_push(q, ev, false), 0);
	ev = event_new(EV_COMMAND);
	ev->session = 2;
	assert_int_equal(event_queue_push(q, ev, false), 0);
	/* Full: a non-blocking push drops and counts. */
	assert_int_equal(event_queue_push(q, event_new(EV_GAP), false), -1);
	assert_int_equal(event_queue_dropped(q), 1);
	assert_int_equal(poll(&pfd, 1, 0), 1);
	event_queue_ack(q);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	ev = event_queue_pop(q);
	assert_int_equal(ev->session, 1);
	event_free(ev);
	ev = event_queue_pop(q);
	assert_int_equal(ev->session, 2);
	event_free(ev);
	assert_null(event_queue_pop(q));
	event_queue_free(q);
}

static void *
pusher(void *arg)
{
	struct event_queue *q = arg;
	int i;

	for (i = 0; i < 1000; i++) {
		struct event *ev = event_new(EV_COMMAND);

		ev->session = (uint64_t)i + 1;
		if (event_queue_push(q, ev, true) != 0)
			break;
	}
	return NULL;
}

static void
test_queue_blocking(void **state)
{
	struct event_queue *q = event_queue_new(8);
	pthread_t t;
	uint64_t want = 1;
	struct event *ev;

	(void)state;
	pthread_create(&t, NULL, pusher, q);
	while (want <= 1000) {
		if ((ev = event_queue_pop(q)) == NULL) {
			usleep(100);
			continue;
		}
		/* Blocking pushes lose nothing and keep order. */
		assert_int_equal(ev->session, want);
		want++;
		event_free(ev);
	}
	pthread_join(t, NULL);
	assert_int_equal(event_queue_dropped(q), 0);
	event_queue_free(q);
}

/* A batch is taken whole; packet copies drop first, at three quarters. */
static void
test_queue_batch_packets_first(void **state)
{
	struct event_queue *q = event_queue_new(8);
	struct event *b[8], *out[16];
	size_t i, n;

	(void)state;
	for (i = 0; i < 8; i++) {
		b[i] = event_new(EV_PACKET);
		b[i]->session = i + 1;
	}
	/* 6 packets fit (3/4 of 8), 2 are dropped. */
	assert_int_equal(event_queue_push_batch(q, b, 8, false), 2);
	for (i = 0; i < 8; i++)
		assert_null(b[i]);
	assert_int_equal(event_queue_dropped_packets(q), 2);
	assert_int_equal(event_queue_dropped(q), 0);
	/* A reply still fits in the quarter kept for other events. */
	b[0] = event_new(EV_REPLY);
	b[1] = event_new(EV_REPLY);
	b[2] = event_new(EV_REPLY);
	assert_int_equal(event_queue_push_batch(q, b, 3, false), 1);
	assert_int_equal(event_queue_dropped(q), 1);
	n = event_queue_pop_batch(q, out, 16);
	assert_int_equal(n, 8);
	for (i = 0; i < 6; i++) {
		assert_int_equal(out[i]->type, EV_PACKET);
		assert_int_equal(out[i]->session, i + 1);
	}
	assert_int_equal(out[6]->type, EV_REPLY);
	for (i = 0; i < n; i++)
		event_free(out[i]);
	assert_int_equal(event_queue_pop_batch(q, out, 16), 0);
	event_queue_free(q);
}

/* The byte bound: a big packet copy leaves room for replies. */
static void
test_queue_bytes(void **state)
{
	struct event_queue *q = event_queue_new(100);
	struct event *ev;
	size_t one = sizeof(struct event);

	(void)state;
	event_queue_limit_bytes(q, 4 * one);
	/* A packet counts its short head and its bytes. */
	ev = event_new(EV_PACKET);
	ev->pkt_caplen = (uint32_t)(3 * one - EVENT_PACKET_HEAD);
	ev->pkt_data = xcalloc(1, ev->pkt_caplen);
	assert_int_equal(event_size(ev), 3 * one);
	assert_int_equal(event_queue_push(q, ev, false), 0);
	/* Another packet would pass three quarters of the bytes. */
	ev = event_new(EV_PACKET);
	assert_int_equal(event_queue_push(q, ev, false), -1);
	/* A reply fits in the last quarter, a second one does not. */
	assert_int_equal(event_queue_push(q, event_new(EV_REPLY), false), 0);
	assert_int_equal(event_queue_push(q, event_new(EV_REPLY), false), -1);
	ev = event_queue_pop(q);
	event_free(ev);
	assert_int_equal(event_queue_push(q, event_new(EV_REPLY), false), 0);
	event_queue_free(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_new_defaults),
	    cmocka_unit_test(test_new_after_free_is_clear),
	    cmocka_unit_test(test_dup_is_deep),
	    cmocka_unit_test(test_packet_event),
	    cmocka_unit_test(test_format_ts),
	    cmocka_unit_test(test_queue_order_and_drop),
	    cmocka_unit_test(test_queue_blocking),
	    cmocka_unit_test(test_queue_batch_packets_first),
	    cmocka_unit_test(test_queue_bytes),
	};

	return cmocka_run_group_tests_name("event", tests, NULL, NULL);
}
