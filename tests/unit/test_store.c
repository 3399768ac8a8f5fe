/*
 * Unit tests of store: sessions built from synthetic events, eviction order,
 * the caps on transcripts and packets, per-code and per-minute counts, top
 * hosts and the list filters.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "event.h"
#include "kb.h"
#include "store.h"
#include "ui_screen.h"
#include "xmalloc.h"

static struct event *
ev_make(enum event_type t, uint64_t id, time_t sec)
{
	struct event *ev = event_new(t);

	ev->session = id;
	ev->ts.tv_sec = sec;
	snprintf(ev->client, sizeof ev->client, "192.0.2.%u:5000%u",
	    (unsigned)(id % 200), (unsigned)(id % 10));
	snprintf(ev->server, sizeof ev->server, "198.51.100.%u:25",
	    (unsigned)(id % 3));
	return ev;
}

static void
open_s(struct store *s, uint64_t id, time_t sec)
{
	assert_non_null(store_add_take(s, ev_make(EV_SESSION_OPEN, id, sec)));
}

static void
close_s(struct store *s, uint64_t id, time_t sec)
{
	struct event *ev = ev_make(EV_SESSION_CLOSE, id, sec);

	ev->close_reason = "quit";
	store_add_take(s, ev);
}

static void
cmd(struct store *s, uint64_t id, time_t sec, const char *verb, const char *arg)
{
	struct event *ev = ev_make(EV_COMMAND, id, sec);

	snprintf(ev->verb, sizeof ev->verb, "%s", verb);
	ev->arg = xstrdup(arg);
	store_add_take(s, ev);
}

static void
reply(struct store *s, uint64_t id, time_t sec, int code)
{
	struct event *ev = ev_make(EV_REPLY, id, sec);

	ev->code = code;
	ev->text = xstrdup("text");
	ev->text_len = 4;
	ev->lines = 1;
	store_add_take(s, ev);
}

/*
 * A storm: many short sessions close among longer ones, so the session
 * closed longest ago is far from either end when it is evicted.  The holes
 * it leaves are closed up later; whatever the order, what the store shows
 * is the kept sessions in id order, each found by its id, its key beside
 * it, events of an evicted one counted as orphans, and later events filed
 * where they belong.  Checked against a plain model after every step.
 */
static void
test_holes(void **state)
{
	enum { LIMIT = 300, SESSIONS = 5000, LONG = 7 };
	struct store *s = store_new(LIMIT);
	static bool kept[SESSIONS + 1];
	static uint64_t closed_at[SESSIONS + 1];
	uint64_t id, next_close = 1, k, want_evicted = 0, orphans;
	struct store_session *ss;
	size_t i, n;
	unsigned seed = 7;

	(void)state;
	for (id = 1; id <= SESSIONS; id++) {
		open_s(s, id, (time_t)id);
		kept[id] = true;
		/* Every LONG-th session stays open a long while; the others
		   close a few sessions later. */
		seed = seed * 1103515245u + 12345u;
		closed_at[id] =
		    id % LONG == 0 ? id + 400 + seed % 200 : id + 1 + seed % 5;
		for (k = next_close; k <= id; k++) {
			if (closed_at[k] != 0 && closed_at[k] <= id &&
			    kept[k]) {
				cmd(s, k, (time_t)id, "QUIT", "");
				close_s(s, k, (time_t)id);
				closed_at[k] = 0;
			}
		}
		while (next_close <= id && closed_at[next_close] == 0)
			next_close++;
		if (id % 97 == 0) {
			n = store_count(s);
			assert_true(n <= LIMIT);
			for (i = 0; i < n; i++) {
				ss = store_at(s, i);
				assert_non_null(ss);
				assert_int_equal(store_keys(s)[i].id, ss->id);
				assert_ptr_equal(store_sessions(s)[i], ss);
				assert_ptr_equal(store_find(s, ss->id), ss);
				if (i > 0)
					assert_true(
					    store_at(s, i - 1)->id < ss->id);
			}
		}
	}
	/* Which were evicted: the model is what the store still finds. */
	n = store_count(s);
	assert_int_equal(n, LIMIT);
	for (id = 1; id <= SESSIONS; id++) {
		kept[id] = store_find(s, id) != NULL;
		want_evicted += !kept[id];
	}
	assert_int_equal(store_stats(s)->evicted, want_evicted);
	/* Events of evicted sessions are orphans; kept ones still file. */
	orphans = store_stats(s)->orphans;
	for (id = 1; id <= SESSIONS; id += 13) {
		reply(s, id, 9999, 250);
		if (kept[id])
			assert_int_equal(store_find(s, id)->n_events > 0, 1);
		else
			assert_null(store_find(s, id));
	}
	k = 0;
	for (id = 1; id <= SESSIONS; id += 13)
		k += !kept[id];
	assert_int_equal(store_stats(s)->orphans - orphans, k);
	store_free(s);
}

static void
test_columns(void **state)
{
	struct store *s = store_new(10);
	struct store_session *ss;

	(void)state;
	open_s(s, 1, 100);
	cmd(s, 1, 101, "EHLO", "client.example");
	cmd(s, 1, 101, "MAIL", "FROM:<a@example.org> SIZE=100");
	cmd(s, 1, 102, "RCPT", "TO:<b@example.net>");
	cmd(s, 1, 102, "RCPT", "TO:<c@example.net>");
	reply(s, 1, 103, 250);
	reply(s, 1, 103, 452);
	ss = store_find(s, 1);
	assert_non_null(ss);
	assert_string_equal(ss->helo, "client.example");
	assert_string_equal(ss->helo_verb, "EHLO");
	assert_string_equal(ss->mail_from, "a@example.org");
	assert_int_equal(ss->rcpts, 2);
	assert_int_equal(ss->last_code, 452);
	assert_int_equal(ss->n452, 1);
	assert_true(ss->flags & STORE_F_452);
	assert_false(ss->flags & STORE_F_421);
	assert_int_equal(ss->n_events, 7);
	assert_false(ss->closed);
	assert_string_equal(ss->tls, "none");
	close_s(s, 1, 104);
	assert_true(ss->closed);
	assert_string_equal(ss->close_reason, "quit");
	assert_int_equal(store_stats(s)->n452, 1);
	assert_int_equal(store_stats(s)->sessions, 1);
	store_free(s);
}

static void
test_eviction_order(void **state)
{
	struct store *s = store_new(3);
	uint64_t id;

	(void)state;
	for (id = 1; id <= 3; id++)
		open_s(s, id, 100);
	close_s(s, 2, 101);
	close_s(s, 3, 101);
	/* 1 is open: 2, the oldest closed one, goes first. */
	open_s(s, 4, 102);
	assert_int_equal(store_count(s), 3);
	assert_non_null(store_find(s, 1));
	assert_null(store_find(s, 2));
	assert_non_null(store_find(s, 3));
	assert_non_null(store_find(s, 4));
	open_s(s, 5, 103);
	assert_null(store_find(s, 3));
	/* Nothing closed: the oldest open session goes. */
	open_s(s, 6, 104);
	assert_null(store_find(s, 1));
	assert_int_equal(store_at(s, 0)->id, 4);
	assert_int_equal(store_at(s, 1)->id, 5);
	assert_int_equal(store_at(s, 2)->id, 6);
	assert_int_equal(store_stats(s)->evicted, 3);
	assert_int_equal(store_stats(s)->sessions, 6);
	/* Late events of an evicted session are counted, not resurrected. */
	reply(s, 2, 105, 250);
	assert_null(store_find(s, 2));
	assert_int_equal(store_stats(s)->orphans, 1);
	assert_int_equal(store_count(s), 3);
	/* ... and its 421 and 452 still count where the status bar reads. */
	reply(s, 1, 106, 452);
	reply(s, 1, 106, 421);
	assert_int_equal(store_stats(s)->orphans, 3);
	assert_int_equal(store_stats(s)->n452, 1);
	assert_int_equal(store_stats(s)->n421, 1);
	{
		struct event_code_count cc[8];
		size_t k, n = store_code_counts(s, cc, 8);
		unsigned n452 = 0;

		for (k = 0; k < n; k++)
			if (cc[k].code == 452)
				n452 = cc[k].count;
		assert_int_equal(n452, 1);
	}
	store_free(s);
}

static void
test_many_sessions(void **state)
{
	struct store *s = store_new(100);
	uint64_t id;

	(void)state;
	for (id = 1; id <= 5000; id++) {
		open_s(s, id, (time_t)id);
		reply(s, id, (time_t)id, 250);
		close_s(s, id, (time_t)id);
	}
	assert_int_equal(store_count(s), 100);
	assert_int_equal(store_at(s, 0)->id, 4901);
	assert_int_equal(store_at(s, 99)->id, 5000);
	assert_non_null(store_find(s, 4950));
	assert_null(store_find(s, 4900));
	store_free(s);
}

static void
test_event_cap(void **state)
{
	struct store *s = store_new(10);
	struct store_session *ss;
	size_t i;

	(void)state;
	open_s(s, 1, 100);
	for (i = 0; i < STORE_EVENTS_PER_SESSION_MAX + 10; i++)
		cmd(s, 1, 100, "NOOP", "");
	close_s(s, 1, 101);
	ss = store_find(s, 1);
	assert_true(ss->events_truncated);
	assert_int_equal(ss->n_events, STORE_EVENTS_PER_SESSION_MAX + 1);
	assert_int_equal(ss->events[ss->n_events - 1]->type, EV_SESSION_CLOSE);
	assert_int_equal(store_stats(s)->events_capped, 11);
	store_free(s);
}

static void
packet(struct store *s, uint64_t id, uint32_t caplen)
{
	struct timeval ts = {100, 0};
	uint8_t *data = xcalloc(1, caplen);
	struct event *ev = event_new_packet(&ts, 1, data, caplen, caplen);

	free(data);
	ev->session = id;
	store_add_take(s, ev);
}

static void
test_packet_caps(void **state)
{
	struct store *s = store_new(10);
	struct store_session *a, *b;
	size_t i;

	(void)state;
	open_s(s, 1, 100);
	open_s(s, 2, 100);
	packet(s, 1, 60);
	packet(s, 2, 60);
	packet(s, 1, 60);
	a = store_find(s, 1);
	b = store_find(s, 2);
	assert_int_equal(a->n_packets, 2);
	assert_int_equal(b->n_packets, 1);
	/* Arrival numbers keep the capture order across sessions. */
	assert_true(a->pkt_seq[0] < b->pkt_seq[0]);
	assert_true(b->pkt_seq[0] < a->pkt_seq[1]);
	assert_int_equal(a->linktype, 1);
	/* The per-session byte cap. */
	for (i = 0; i < 40; i++)
		packet(s, 2, 1024 * 1024);
	assert_true(b->packets_truncated);
	assert_true(b->pkt_bytes <= STORE_PACKET_BYTES_PER_SESSION_MAX);
	assert_true(b->n_packets < 41);
	assert_true(store_stats(s)->packets_capped > 0);
	assert_false(a->packets_truncated);
	store_free(s);
}

/*
 * The session that closed first is evicted first, whatever its id, and the
 * packet budget takes copies back from closed sessions in the order they
 * closed, never from an open one.  Both take from a list of closed
 * sessions: thousands of open sessions are not walked for each packet.
 */
static void
test_closed_order(void **state)
{
	enum { PKT = 65536 };
	struct store *s = store_new(4);
	uint64_t id;

	(void)state;
	for (id = 1; id <= 4; id++)
		open_s(s, id, 100);
	close_s(s, 3, 101);
	close_s(s, 2, 102);
	close_s(s, 3, 103); /* a second close changes nothing */
	open_s(s, 5, 104);
	assert_null(store_find(s, 3));
	assert_non_null(store_find(s, 2));
	open_s(s, 6, 105);
	assert_null(store_find(s, 2));
	/* None closed: the oldest open one. */
	open_s(s, 7, 106);
	assert_null(store_find(s, 1));
	assert_int_equal(store_stats(s)->evicted, 3);
	store_free(s);

	/* A hole near either end is closed from that end: the order stays. */
	s = store_new(6);
	for (id = 1; id <= 6; id++)
		open_s(s, id, 100);
	close_s(s, 5, 101); /* near the end */
	close_s(s, 2, 101); /* near the start */
	open_s(s, 7, 102);
	open_s(s, 8, 102);
	{
		static const uint64_t want[] = {1, 3, 4, 6, 7, 8};
		size_t k;

		assert_int_equal(store_count(s), 6);
		for (k = 0; k < 6; k++) {
			assert_int_equal(store_at(s, k)->id, want[k]);
			assert_ptr_equal(
			    store_find(s, want[k]), store_at(s, k));
			assert_int_equal(store_keys(s)[k].id, want[k]);
		}
	}
	store_free(s);

	/* Packets: room for ten copies of 64 KiB (the copies dominate the
	   budget, so that no session is evicted for them). */
	s = store_new(100);
	store_set_budget(s, 2 * 10 * (PKT + EVENT_PACKET_HEAD));
	for (id = 1; id <= 10; id++) {
		open_s(s, id, 100);
		packet(s, id, PKT);
	}
	for (id = 1; id <= 10; id++)
		assert_int_equal(store_find(s, id)->n_packets, 1);
	/* Full, and nothing closed: the copy is not kept, none is freed. */
	packet(s, 1, PKT);
	assert_int_equal(store_find(s, 1)->n_packets, 1);
	assert_true(store_find(s, 1)->packets_truncated);
	for (id = 10; id >= 6; id--)
		close_s(s, id, 101);
	packet(s, 2, PKT);
	packet(s, 2, PKT);
	/* 10 then 9 closed first: their copies went; 8 and the open kept. */
	assert_int_equal(store_find(s, 10)->n_packets, 0);
	assert_true(store_find(s, 10)->packets_truncated);
	assert_int_equal(store_find(s, 9)->n_packets, 0);
	assert_int_equal(store_find(s, 8)->n_packets, 1);
	assert_false(store_find(s, 8)->packets_truncated);
	assert_int_equal(store_find(s, 2)->n_packets, 3);
	/* Sessions listed, reclaimed or not, then evicted: no dangling
	   entry (ASan would see one). */
	for (id = 11; id <= 300; id++) {
		open_s(s, id, 102);
		packet(s, id, PKT);
		close_s(s, id, 102);
	}
	assert_int_equal(store_count(s), 100);
	assert_true(
	    store_stats(s)->packet_bytes <= 10 * (PKT + EVENT_PACKET_HEAD));
	store_free(s);
}

/*
 * Packet copies that the budget or a cap drops are counted per session, and
 * the pcap save (the UI's w) says the file lacks them.
 */
static void
test_packet_dropped_save(void **state)
{
	struct store *s = store_new(10);
	struct store_session *a, *b;
	char dir[] = "/tmp/test_store.XXXXXX", path[64], *why = NULL;
	size_t i, written;
	FILE *f;
	long len;

	(void)state;
	assert_non_null(mkdtemp(dir));
	/* 1 MiB for the store: packet copies get 512 KiB. */
	store_set_budget(s, 1024 * 1024);
	open_s(s, 1, 100);
	for (i = 0; i < 3; i++)
		packet(s, 1, 1000);
	close_s(s, 1, 101);
	open_s(s, 2, 102);
	a = store_find(s, 1);
	assert_int_equal(a->n_packets, 3);
	assert_int_equal(a->pkt_dropped, 0);
	/* Session 2's copies take the room: the closed session 1 gives its
	   three up, then session 2 loses some of its own. */
	for (i = 0; i < 40; i++)
		packet(s, 2, 16 * 1024);
	a = store_find(s, 1);
	b = store_find(s, 2);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(a->n_packets, 0);
	assert_int_equal(a->pkt_dropped, 3);
	assert_true(b->n_packets > 0);
	assert_true(b->pkt_dropped > 0);
	assert_int_equal(b->n_packets + b->pkt_dropped, 40);
	assert_int_equal(store_stats(s)->packets_capped, 3 + b->pkt_dropped);

	/* Nothing kept: no file, and the reason counts the copies. */
	snprintf(path, sizeof path, "%s/a.pcap", dir);
	assert_int_equal(ui_save_pcap(&a, 1, path, &written, &why), -1);
	assert_string_equal(why, "no packets kept for this session: 3 copies "
				 "dropped under the memory budget");
	free(why);
	assert_null(fopen(path, "r"));

	/* Some kept: saved, and the message says what the file lacks. */
	snprintf(path, sizeof path, "%s/b.pcap", dir);
	assert_int_equal(ui_save_pcap(&b, 1, path, &written, &why), 0);
	assert_int_equal(written, b->n_packets);
	{
		char want[128];

		snprintf(want, sizeof want,
		    "INCOMPLETE: %llu packets not kept (memory budget for the "
		    "save)",
		    (unsigned long long)b->pkt_dropped);
		assert_string_equal(why, want);
		free(why);
	}
	/* The file holds the kept ones: 24-byte header, 16 per record. */
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	fclose(f);
	assert_int_equal(len, 24 + (long)b->n_packets * (16 + 16 * 1024));
	unlink(path);
	rmdir(dir);
	store_free(s);
}

static void
test_codes_minutes(void **state)
{
	struct store *s = store_new(10);
	struct event_code_count cc[8];
	unsigned a, b;
	int64_t first, last;
	size_t n;

	(void)state;
	assert_false(store_minute_range(s, &first, &last));
	open_s(s, 1, 600);
	reply(s, 1, 600, 220);
	reply(s, 1, 610, 452);
	reply(s, 1, 659, 452);
	reply(s, 1, 660, 421);
	reply(s, 1, 725, 250);
	n = store_code_counts(s, cc, 8);
	assert_int_equal(n, 4);
	assert_int_equal(cc[0].code, 220);
	assert_int_equal(cc[0].count, 1);
	assert_int_equal(cc[1].code, 250);
	assert_int_equal(cc[2].code, 421);
	assert_int_equal(cc[3].code, 452);
	assert_int_equal(cc[3].count, 2);
	store_minute(s, 10, &a, &b);
	assert_int_equal(a, 0);
	assert_int_equal(b, 2);
	store_minute(s, 11, &a, &b);
	assert_int_equal(a, 1);
	assert_int_equal(b, 0);
	store_minute(s, 12, &a, &b);
	assert_int_equal(a + b, 0);
	assert_true(store_minute_range(s, &first, &last));
	assert_int_equal(first, 10);
	assert_int_equal(last, 12);
	/* A minute that fell out of the one-day ring reads as zero. */
	reply(s, 1, 600 + 60 * STORE_MINUTES, 421);
	store_minute(s, 10, &a, &b);
	assert_int_equal(a + b, 0);
	store_minute(s, 10 + STORE_MINUTES, &a, &b);
	assert_int_equal(a, 1);
	store_free(s);
}

static void
test_top_hosts(void **state)
{
	struct store *s = store_new(10);
	struct store_host h[4];
	size_t n;
	uint64_t id;

	(void)state;
	for (id = 1; id <= 6; id++) {
		open_s(s, id, 100);
		/* Servers: id%3 -> .1 gets 2 sessions x 2, .2 2 x 1, .0 none.
		 */
		if (id % 3 == 1) {
			reply(s, id, 100, 452);
			reply(s, id, 100, 421);
		} else if (id % 3 == 2)
			reply(s, id, 100, 450);
		else
			reply(s, id, 100, 550);
	}
	n = store_top(s, true, h, 4);
	assert_int_equal(n, 2);
	assert_string_equal(h[0].name, "198.51.100.1");
	assert_int_equal(h[0].n4xx, 4);
	assert_int_equal(h[0].n421, 2);
	assert_int_equal(h[0].n452, 2);
	assert_string_equal(h[1].name, "198.51.100.2");
	assert_int_equal(h[1].n4xx, 2);
	n = store_top(s, false, h, 1);
	assert_int_equal(n, 1);
	assert_int_equal(h[0].n4xx, 2);
	store_free(s);
}

/* An anomaly of connection attempts without a handshake, as the pipeline
   makes it at the end of an interval: session 0, no client. */
static void
half(struct store *s, const char *server, uint64_t n, uint64_t src, time_t sec)
{
	struct event *ev = event_new_anomaly(
	    &(struct timeval){.tv_sec = sec}, EV_ANOM_NO_HANDSHAKE, "x");

	snprintf(ev->server, sizeof ev->server, "%s", server);
	ev->no_handshake = n;
	ev->sources = src;
	assert_null(store_add_take(s, ev));
}

/* Connection attempts without a handshake: per server, summed over the
   reports, most first; no session made; the servers past the table and
   the pipeline's own "other servers" row count in the total only. */
static void
test_half_open(void **state)
{
	struct store *s = store_new(10);
	struct store_half h[STORE_HALF_MAX + 4];
	char name[64];
	size_t n, i;

	(void)state;
	assert_int_equal(store_half_top(s, h, 4), 0);
	half(s, "192.0.2.1:25", 300, 120, 100);
	half(s, "192.0.2.2:25", 500, 480, 100);
	half(s, "", 70, 60, 100);
	half(s, "192.0.2.1:25", 400, 9, 110);
	assert_int_equal(store_count(s), 0);
	assert_int_equal(store_stats(s)->sessions, 0);
	assert_int_equal(store_stats(s)->no_handshake, 1270);
	n = store_half_top(s, h, 4);
	assert_int_equal(n, 2);
	assert_string_equal(h[0].server, "192.0.2.1:25");
	assert_int_equal(h[0].attempts, 700);
	assert_int_equal(h[0].last_attempts, 400);
	assert_int_equal(h[0].last_sources, 9);
	assert_int_equal(h[0].last_ts.tv_sec, 110);
	assert_string_equal(h[1].server, "192.0.2.2:25");
	assert_int_equal(h[1].attempts, 500);
	assert_int_equal(store_half_top(s, h, 1), 1);
	assert_string_equal(h[0].server, "192.0.2.1:25");
	assert_int_equal(store_half_top(s, h, 0), 0);

	/* Other anomalies of no session change nothing here. */
	assert_null(store_add_take(
	    s, event_new_anomaly(
		   &(struct timeval){.tv_sec = 120}, EV_ANOM_FLOW_CAP, "y")));
	assert_int_equal(store_stats(s)->no_handshake, 1270);

	/* A full table: later servers are counted, not named. */
	for (i = 0; i < STORE_HALF_MAX + 3; i++) {
		snprintf(name, sizeof name, "198.51.100.%zu:25", i);
		half(s, name, 1, 1, 130);
	}
	assert_int_equal(
	    store_stats(s)->no_handshake, 1270 + STORE_HALF_MAX + 3);
	n = store_half_top(s, h, STORE_HALF_MAX + 4);
	assert_int_equal(n, STORE_HALF_MAX);
	assert_int_equal(h[0].attempts, 700);
	assert_int_equal(h[n - 1].attempts, 1);
	for (i = 0; i < n; i++)
		assert_true(h[i].server[0] != '\0');
	store_free(s);
}

static void
test_filters(void **state)
{
	struct store *s = store_new(10);
	struct store_session *a, *b;

	(void)state;
	open_s(s, 1, 100);
	cmd(s, 1, 100, "HELO", "Relay.Example.COM");
	cmd(s, 1, 100, "MAIL", "FROM:<alice@example.org>");
	cmd(s, 1, 100, "RCPT", "TO:<bob@example.net>");
	cmd(s, 1, 100, "RCPT", "TO:<carol@example.net>");
	reply(s, 1, 100, 452);
	open_s(s, 2, 100);
	reply(s, 2, 100, 250);
	a = store_find(s, 1);
	b = store_find(s, 2);
	assert_true(store_session_match(a, ""));
	assert_true(store_session_match(a, NULL));
	assert_true(store_session_match(a, "relay.example"));
	assert_true(store_session_match(a, "ALICE"));
	assert_true(store_session_match(a, "carol@"));
	assert_true(store_session_match(a, "452"));
	assert_true(store_session_match(a, "4xx"));
	assert_false(store_session_match(a, "5xx"));
	assert_false(store_session_match(a, "250"));
	assert_true(store_session_match(a, "192.0.2.1:"));
	assert_true(store_session_match(a, "452 bob"));
	assert_false(store_session_match(a, "452 dave"));
	assert_false(store_session_match(b, "452"));
	assert_true(store_session_match(b, "250"));
	assert_true(store_session_match(b, "198.51.100.2"));
	assert_true(store_session_problem(a));
	assert_false(store_session_problem(b));
	/* Free text searches what the session says now: a second HELO and
	   MAIL FROM replace the first; recipients add up. */
	cmd(s, 1, 101, "EHLO", "Other.Example");
	cmd(s, 1, 101, "MAIL", "FROM:<dave@example.org>");
	cmd(s, 1, 101, "RCPT", "TO:<Erin@Example.NET>");
	a = store_find(s, 1);
	assert_false(store_session_match(a, "relay.example"));
	assert_false(store_session_match(a, "alice"));
	assert_true(store_session_match(a, "OTHER.example"));
	assert_true(store_session_match(a, "dave@"));
	assert_true(store_session_match(a, "bob@"));
	assert_true(store_session_match(a, "erin@example.net"));
	/* Never across two fields: the HELO's end and the sender's start. */
	assert_false(store_session_match(a, "exampledave"));
	store_free(s);
}

static bool
narrows(const char *from, const char *to)
{
	char *cause = NULL;
	struct store_filter *a = store_filter_new(from, &cause);
	struct store_filter *b = store_filter_new(to, &cause);
	bool r;

	assert_non_null(a);
	assert_non_null(b);
	r = store_filter_narrows(a, b);
	store_filter_free(a);
	store_filter_free(b);
	return r;
}

/*
 * A filter typed further may only be re-tested on the sessions it listed
 * when every match of the new one is a match of the old one.
 */
static void
test_filter_narrows(void **state)
{
	struct store *s = store_new(10);
	struct store_session *a;

	(void)state;
	/* Typing on: a longer substring, a new term. */
	assert_true(narrows("", "4"));
	assert_true(narrows("4", "45"));
	assert_true(narrows("ali", "ALICE"));
	assert_true(narrows("alice", "alice 452"));
	assert_true(narrows("from:", "from:al"));
	assert_true(narrows("from:al", "from:ali"));
	assert_true(narrows("45", "45 "));
	assert_true(narrows("lice", "alice")); /* a substring, not a prefix */
	assert_true(store_filter_narrows(NULL, NULL));
	/* A code matches codes only, so "45" -> "452" is not a narrowing
	   (a session with a 452 reply and no "45" in its addresses). */
	open_s(s, 1, 100);
	reply(s, 1, 100, 452);
	a = store_find(s, 1);
	assert_false(store_session_match(a, "45"));
	assert_true(store_session_match(a, "452"));
	assert_false(narrows("45", "452"));
	assert_false(narrows("452", "4520"));
	assert_false(narrows("4xx", "4xx1"));
	/* "from" -> "from:" changes the field: everything matches again. */
	assert_false(narrows("from", "from:"));
	/* Backspace, a term removed, another word, regexes. */
	assert_false(narrows("45", "4"));
	assert_false(narrows("alice 452", "alice"));
	assert_false(narrows("alice", "bob"));
	assert_false(narrows("/al/", "/ali/"));
	assert_false(narrows("a", "/a/"));
	store_free(s);
}

/* The fields, regular expressions and codes that are not port numbers. */
static void
test_filter_fields(void **state)
{
	struct store *s = store_new(10);
	struct store_session *a, *b;
	struct store_filter *f;
	struct event *ev;
	char *cause = NULL;

	(void)state;
	open_s(s, 1, 100);
	cmd(s, 1, 100, "EHLO", "relay.example.com");
	cmd(s, 1, 100, "MAIL", "FROM:<alice@example.org>");
	cmd(s, 1, 100, "RCPT", "TO:<bob@example.net>");
	cmd(s, 1, 100, "RCPT", "TO:<carol@example.com>");
	ev = ev_make(EV_REPLY, 1, 100);
	ev->code = 452;
	ev->diag = xcalloc(1, sizeof *ev->diag);
	ev->diag->cause = xstrdup("rcpt-limit");
	store_add_take(s, ev);
	open_s(s, 2, 100);
	cmd(s, 2, 100, "HELO", "alice.example.net");
	reply(s, 2, 100, 250);
	reply(s, 2, 100, 421);
	a = store_find(s, 1);
	b = store_find(s, 2);
	/* A port that holds 452 or 421 is not a reply code. */
	snprintf(b->client, sizeof b->client, "192.0.2.2:45210");
	snprintf(a->client, sizeof a->client, "192.0.2.1:54211");
	assert_false(store_session_match(b, "452"));
	assert_false(store_session_match(a, "421"));
	assert_true(store_session_match(b, "421"));
	assert_true(store_session_match(b, "client:45210"));
	assert_true(store_session_match(a, "code:452"));
	assert_true(store_session_match(a, "code:45x"));
	assert_true(store_session_match(a, "CODE:4xx"));
	assert_false(store_session_match(a, "code:421"));
	assert_false(store_session_match(b, "code:452"));
	assert_true(store_session_match(b, "code:/^42/"));
	/* from: is the sender only, helo: the greeting name only. */
	assert_true(store_session_match(a, "from:alice"));
	assert_false(store_session_match(b, "from:alice"));
	assert_true(store_session_match(b, "alice"));
	assert_true(store_session_match(b, "helo:alice"));
	assert_false(store_session_match(a, "helo:alice"));
	assert_true(store_session_match(a, "rcpt:carol"));
	assert_false(store_session_match(a, "rcpt:dave"));
	assert_true(store_session_match(a, "rcpt:/^bob@.*\\.net$/"));
	assert_false(store_session_match(a, "rcpt:/^bob@.*\\.com$/"));
	assert_true(store_session_match(a, "server:198.51.100"));
	assert_false(store_session_match(a, "client:198.51.100"));
	assert_true(store_session_match(a, "cause:rcpt-limit"));
	assert_true(store_session_match(a, "cause:rcpt"));
	assert_false(store_session_match(b, "cause:rcpt"));
	assert_false(store_session_match(a, "cause:overload"));
	assert_true(store_session_match(a, "cause:/^rcpt-(limit|rate)$/"));
	assert_false(store_session_match(a, "cause:/^limit/"));
	assert_true(store_session_match(a, "cause:"));
	assert_false(store_session_match(b, "cause:/./"));
	/* A cause id past the ones the bits name is read from the replies. */
	assert_int_equal(store_cause_bit("no-such-cause"), STORE_CAUSE_MORE);
	assert_int_equal(store_cause_bit("rcpt-limit"),
	    UINT64_C(1) << kb_cause_index("rcpt-limit"));
	ev = ev_make(EV_REPLY, 2, 100);
	ev->code = 421;
	ev->diag = xcalloc(1, sizeof *ev->diag);
	ev->diag->cause = xstrdup("no-such-cause");
	store_add_take(s, ev);
	assert_true(store_session_match(b, "cause:no-such"));
	assert_false(store_session_match(b, "cause:rcpt"));
	assert_true(store_session_match(a, "cause:rcpt"));
	/* Free text between slashes, with a space inside. */
	assert_true(store_session_match(a, "/^relay\\.ex/"));
	assert_true(store_session_match(a, "/a (b|z)/ code:452") == false);
	assert_true(store_session_match(a, "/^(alice|zed)@/ code:452"));
	/* Each field's expression reads its own part of the search block,
	   case-insensitive; a field the session lacks matches nothing, not
	   even an expression that matches the empty string. */
	assert_true(store_session_match(a, "helo:/^RELAY\\.example\\.COM$/"));
	assert_false(store_session_match(a, "helo:/^alice\\./"));
	assert_true(store_session_match(b, "helo:/^alice\\./"));
	assert_true(store_session_match(a, "from:/x*/"));
	assert_false(store_session_match(b, "from:/x*/"));
	assert_false(store_session_match(b, "from:/^$/"));
	assert_true(store_session_match(a, "rcpt:/^carol@/"));
	assert_false(store_session_match(a, "rcpt:/^alice@/"));
	assert_false(store_session_match(b, "rcpt:/./"));
	assert_true(
	    store_session_match(a, "server:/^198\\.51\\.100\\.[0-9]+:25$/"));
	assert_false(store_session_match(a, "server:/^192\\./"));
	assert_true(store_session_match(a, "client:/^192\\.0\\.2\\./"));
	assert_true(store_session_match(a, "/@example\\.com$/"));
	assert_false(store_session_match(b, "/@example\\.com$/"));
	assert_false(store_session_match(a, "/org\\.net/"));
	/* An empty value while typing, and an unknown field as text. */
	assert_true(store_session_match(a, "from:"));
	assert_false(store_session_match(a, "nosuch:x"));
	/* A bad regular expression says why. */
	f = store_filter_new("rcpt:/(/", &cause);
	assert_null(f);
	assert_non_null(cause);
	free(cause);
	f = store_filter_new("code:452 from:alice", &cause);
	assert_non_null(f);
	assert_null(cause);
	assert_true(store_filter_match(f, a));
	assert_false(store_filter_match(f, b));
	store_filter_free(f);
	store_free(s);
}

/*
 * from:, rcpt: and helo: read their part of the lower-case search block:
 * same matches as the separate strings, case-insensitive, never across a
 * part's end, and following a later MAIL FROM or HELO.
 */
static void
test_filter_field_parts(void **state)
{
	struct store *s = store_new(10);
	struct store_session *a;

	(void)state;
	open_s(s, 1, 100);
	cmd(s, 1, 100, "EHLO", "Relay.Example.COM");
	cmd(s, 1, 100, "MAIL", "FROM:<Alice@Example.org>");
	cmd(s, 1, 100, "RCPT", "TO:<bob@example.net>");
	cmd(s, 1, 100, "RCPT", "TO:<Carol@example.com>");
	a = store_find(s, 1);
	assert_true(store_session_match(a, "rcpt:CAROL@"));
	assert_true(store_session_match(a, "rcpt:bob@example.net"));
	assert_false(store_session_match(a, "rcpt:netcarol"));
	assert_false(store_session_match(a, "rcpt:alice"));
	assert_true(store_session_match(a, "from:alice@example.ORG"));
	assert_false(store_session_match(a, "from:example.orgbob"));
	assert_false(store_session_match(a, "from:relay"));
	assert_false(store_session_match(a, "from:bob"));
	assert_true(store_session_match(a, "helo:relay.example.com"));
	assert_false(store_session_match(a, "helo:comalice"));
	assert_false(store_session_match(a, "helo:alice"));
	/* A second MAIL FROM and HELO replace the first; recipients stay. */
	cmd(s, 1, 100, "MAIL", "FROM:<dave@example.org>");
	cmd(s, 1, 100, "HELO", "other.example");
	assert_false(store_session_match(a, "from:alice"));
	assert_true(store_session_match(a, "from:dave"));
	assert_false(store_session_match(a, "helo:relay"));
	assert_true(store_session_match(a, "helo:other"));
	assert_true(store_session_match(a, "rcpt:carol"));
	/* A recipient added after the rebuild is found too. */
	cmd(s, 1, 100, "RCPT", "TO:<erin@example.net>");
	assert_true(store_session_match(a, "rcpt:erin"));
	assert_false(store_session_match(a, "from:erin"));
	store_free(s);
}

static void
test_tls_state(void **state)
{
	struct store *s = store_new(10);
	struct store_session *ss;
	struct event *ev;

	(void)state;
	open_s(s, 1, 100);
	cmd(s, 1, 100, "STARTTLS", "");
	ev = ev_make(EV_REPLY, 1, 100);
	ev->code = 220;
	strcpy(ev->answers, "STARTTLS");
	store_add_take(s, ev);
	ss = store_find(s, 1);
	assert_string_equal(ss->tls, "starttls");
	ev = ev_make(EV_TLS, 1, 100);
	ev->phase = "established";
	ev->decrypted = true;
	store_add_take(s, ev);
	assert_string_equal(ss->tls, "starttls+dec");
	assert_true(ss->flags & STORE_F_ENCRYPTED);
	ev = ev_make(EV_SESSION_OPEN, 2, 100);
	ev->tls_implicit = true;
	store_add_take(s, ev);
	assert_string_equal(store_find(s, 2)->tls, "implicit");
	store_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_columns),
	    cmocka_unit_test(test_holes),
	    cmocka_unit_test(test_eviction_order),
	    cmocka_unit_test(test_closed_order),
	    cmocka_unit_test(test_many_sessions),
	    cmocka_unit_test(test_event_cap),
	    cmocka_unit_test(test_packet_caps),
	    cmocka_unit_test(test_packet_dropped_save),
	    cmocka_unit_test(test_codes_minutes),
	    cmocka_unit_test(test_top_hosts),
	    cmocka_unit_test(test_half_open),
	    cmocka_unit_test(test_filters),
	    cmocka_unit_test(test_filter_narrows),
	    cmocka_unit_test(test_filter_fields),
	    cmocka_unit_test(test_filter_field_parts),
	    cmocka_unit_test(test_tls_state),
	};

	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
