/*
 * Unit tests of flow: crafted decoded segments go into a table whose
 * callbacks write a transcript ("open 1 10.0.0.1:40000>10.0.0.2:25", "data
 * 1 C EHLO", "gap 1 S 10", "close 1 fin", "anomaly 1 flow table full"), and
 * each test asserts the exact transcript.  The callbacks also check that no
 * flow is named after its close.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "decode.h"
#include "event.h"
#include "flow.h"

struct log {
	char buf[8192];
	size_t len;
	uint64_t closed[64]; /* ids whose close was reported */
	size_t nclosed;
	struct flow *last_open;
};

static struct log lg;

static void log_add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
log_add(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(lg.buf + lg.len, sizeof lg.buf - lg.len, fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof lg.buf - lg.len);
	lg.len += (size_t)n;
}

static void
log_check_alive(const struct flow *f)
{
	size_t i;

	for (i = 0; i < lg.nclosed; i++)
		assert_true(lg.closed[i] != f->id);
}

static void
cb_open(void *arg, struct flow *f, const struct timeval *ts)
{
	char c[64], s[64];

	(void)arg;
	(void)ts;
	log_check_alive(f);
	decode_format_endpoint(c, sizeof c, f->af, f->client, f->cport);
	decode_format_endpoint(s, sizeof s, f->af, f->server, f->sport);
	log_add("open %llu %s>%s%s\n", (unsigned long long)f->id, c, s,
	    f->midstream ? " mid" : "");
	lg.last_open = f;
}

static void
cb_data(void *arg, struct flow *f, int dir, const uint8_t *data, size_t len,
    const struct timeval *ts)
{
	(void)arg;
	(void)ts;
	log_check_alive(f);
	log_add("data %llu %c %.*s\n", (unsigned long long)f->id,
	    dir == EV_DIR_CLIENT ? 'C' : 'S', (int)len, (const char *)data);
}

static void
cb_gap(void *arg, struct flow *f, int dir, uint64_t bytes,
    const struct timeval *ts)
{
	(void)arg;
	(void)ts;
	log_check_alive(f);
	log_add("gap %llu %c %llu\n", (unsigned long long)f->id,
	    dir == EV_DIR_CLIENT ? 'C' : 'S', (unsigned long long)bytes);
}

static const char *const close_names[] = {
    "fin", "rst", "timeout", "evicted", "end"};

static void
cb_close(void *arg, struct flow *f, enum flow_close_reason why,
    const struct timeval *ts)
{
	(void)arg;
	log_check_alive(f);
	log_add("close %llu %s @%ld\n", (unsigned long long)f->id,
	    close_names[why], (long)ts->tv_sec);
	assert_true(lg.nclosed < 64);
	lg.closed[lg.nclosed++] = f->id;
}

static void
cb_anomaly(void *arg, struct flow *f, const char *what, const char *detail,
    const struct timeval *ts)
{
	(void)arg;
	(void)detail;
	(void)ts;
	if (f != NULL)
		log_check_alive(f);
	log_add(
	    "anomaly %llu %s\n", f ? (unsigned long long)f->id : 0ULL, what);
}

/* A half-open connection that ended without becoming a session. */
static void
cb_aborted(void *arg, struct flow *f, enum flow_close_reason why,
    const struct timeval *ts)
{
	char c[64], s[64];

	(void)arg;
	assert_int_equal(f->id, 0);
	decode_format_endpoint(c, sizeof c, f->af, f->client, f->cport);
	decode_format_endpoint(s, sizeof s, f->af, f->server, f->sport);
	log_add("aborted %s>%s %s @%ld\n", c, s, close_names[why],
	    (long)ts->tv_sec);
}

static const struct flow_ops ops = {
    cb_open, cb_data, cb_gap, cb_close, cb_anomaly, cb_aborted, NULL};
static const uint16_t smtp_ports[] = {25, 465, 587};

static struct flow_config
cfg_default(void)
{
	struct flow_config c;

	flow_config_default(&c);
	c.ports = smtp_ports;
	c.n_ports = 3;
	return c;
}

static int
setup(void **state)
{
	(void)state;
	memset(&lg, 0, sizeof lg);
	return 0;
}

/* Endpoints: "10.0.0.1" or "2001:db8::1". */
struct ep {
	const char *addr;
	uint16_t port;
};

static const struct ep C1 = {"10.0.0.1", 40000}, S1 = {"10.0.0.2", 25};

#define F_SYN DECODE_TH_SYN
#define F_ACK DECODE_TH_ACK
#define F_FIN DECODE_TH_FIN
#define F_RST DECODE_TH_RST
#define F_PSH DECODE_TH_PSH

static long now_sec = 1000;

static uint64_t
send_pkt(struct flow_table *t, struct ep src, struct ep dst, uint32_t seq,
    uint32_t ack, uint8_t flags, const char *payload)
{
	struct decode_pkt p;

	memset(&p, 0, sizeof p);
	p.ts.tv_sec = now_sec;
	if (strchr(src.addr, ':') != NULL) {
		p.af = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, src.addr, p.src), 1);
		assert_int_equal(inet_pton(AF_INET6, dst.addr, p.dst), 1);
	} else {
		p.af = AF_INET;
		assert_int_equal(inet_pton(AF_INET, src.addr, p.src), 1);
		assert_int_equal(inet_pton(AF_INET, dst.addr, p.dst), 1);
	}
	p.sport = src.port;
	p.dport = dst.port;
	p.seq = seq;
	p.ack = ack;
	p.flags = flags;
	p.window = 65535;
	p.payload = (const uint8_t *)payload;
	p.len = p.wire_len = payload ? strlen(payload) : 0;
	return flow_input(t, &p);
}

/* A handshake: client ISN 1000, server ISN 5000 (data from 1001/5001). */
static void
handshake(struct flow_table *t, struct ep c, struct ep s)
{
	send_pkt(t, c, s, 1000, 0, F_SYN, NULL);
	send_pkt(t, s, c, 5000, 1001, F_SYN | F_ACK, NULL);
	send_pkt(t, c, s, 1001, 5001, F_ACK, NULL);
}

static void
test_direction_by_syn(void **state)
{
	struct flow_config cfg = cfg_default();
	struct flow_table *t = flow_table_new(&cfg, &ops, NULL);
	const struct flow_stats *st = flow_table_stats(t);
	struct flow *f;

	(void)state;
	now_sec = 1000;
	handshake(t, C1, S1);
	f = lg.last_open;
	assert_non_null(f);
	assert_true(f->syn_seen);
	assert_false(f->midstream);
	assert_int_equal(f->syn_ts.tv_sec, 1000);
	now_sec = 1002;
	assert_int_equal(
	    send_pkt(t, S1, C1, 5001, 1001, F_ACK, "220 hi\r\n"), 1);
	assert_int_equal(send_pkt(t, C1, S1, 1001, 5009, F_ACK, "QUIT\r\n"), 1);
	assert_int_equal(f->first_ts.tv_sec, 1000);
	assert_int_equal(f->last_ts.tv_sec, 1002);
	assert_int_equal(f->dir[EV_DIR_CLIENT].delivered, 6);
	send_pkt(t, S1, C1, 5009, 1007, F_ACK | F_FIN, "221 bye\r\n");
	assert_string_equal(lg.buf, "open 1 10.0.0.1:40000>10.0.0.2:25\n"
				    "data 1 S 220 hi\r\n\n"
				    "data 1 C QUIT\r\n\n"
				    "data 1 S 221 bye\r\n\n");
	assert_true(f->fin[EV_DIR_SERVER]);
	/* the client's FIN completes the close */
	assert_int_equal(
	    send_pkt(t, C1, S1, 1007, 5019, F_ACK | F_FIN, NULL), 1);
	assert_non_null(
	    strstr(lg.buf, "data 1 S 221 bye\r\n\nclose 1 fin @1002\n"));
	/* the last ACK is a straggler of the closed flow: it belongs to
	   that session (for -w), and changes nothing */
	assert_int_equal(send_pkt(t, S1, C1, 5018, 1008, F_ACK, NULL), 1);
	assert_int_equal(st->flows, 1);
	assert_int_equal(st->active, 0);
	/* a SYN sent from port 25 to a high port: the receiver is server;
	   a session once the handshake completes */
	handshake(
	    t, (struct ep){"10.0.0.9", 25}, (struct ep){"10.0.0.8", 50000});
	assert_non_null(strstr(lg.buf, "open 2 10.0.0.9:25>10.0.0.8:50000\n"));
	flow_table_free(t);
}

/* -P any: every port is followed, the lower port of a mid-stream flow is
   the server's, and ids come only from flow_assign_id, in its order. */
static void
test_any_port(void **state)
{
	struct flow_config cfg = cfg_default();
	struct flow_table *t;
	struct flow *a, *b;

	(void)state;
	cfg.any_port = true;
	t = flow_table_new(&cfg, &ops, NULL);
	assert_int_equal(
	    send_pkt(t, (struct ep){"10.3.0.1", 40000},
		(struct ep){"10.3.0.2", 2525}, 1, 1, F_ACK, "EHLO x"),
	    0);
	a = lg.last_open;
	assert_non_null(a);
	assert_int_equal(a->sport, 2525);
	assert_int_equal(a->id, 0);
	assert_int_equal(
	    send_pkt(t, (struct ep){"10.3.0.3", 80},
		(struct ep){"10.3.0.4", 50000}, 1, 1, F_ACK, "HTTP"),
	    0);
	b = lg.last_open;
	assert_int_equal(b->sport, 80);
	assert_int_equal(flow_assign_id(t, b), 1);
	assert_int_equal(flow_assign_id(t, a), 2);
	assert_int_equal(flow_assign_id(t, b), 1);
	assert_int_equal(
	    send_pkt(t, (struct ep){"10.3.0.3", 80},
		(struct ep){"10.3.0.4", 50000}, 5, 1, F_ACK, "/1.1"),
	    1);
	flow_table_free(t);
}

static void
test_midstream_by_port(void **state)
{
	struct flow_config cfg = cfg_default();
	struct flow_table *t = flow_table_new(&cfg, &ops, NULL);
	struct flow *f;

	(void)state;
	/* the server speaks first: it is the side on port 25 */
	assert_int_equal(send_pkt(t, S1, C1, 777, 333, F_ACK, "250 ok\r\n"), 1);
	f = lg.last_open;
	assert_true(f->midstream);
	assert_false(f->syn_seen);
	/* the client's ISN comes from its first data segment */
	send_pkt(t, C1, S1, 333, 785, F_ACK, "RSET\r\n");
	send_pkt(t, C1, S1, 339, 785, F_ACK, "NOOP\r\n");
	/* both ports are SMTP ports: the one listed first (25) is server */
	send_pkt(t, (struct ep){"10.1.0.1", 587}, (struct ep){"10.1.0.2", 25},
	    1, 1, F_ACK, "X");
	send_pkt(t, (struct ep){"10.1.0.3", 25}, (struct ep){"10.1.0.4", 587},
	    1, 1, F_ACK, "Y");
	/* same port on both sides: the receiver of the first packet */
	send_pkt(t, (struct ep){"10.2.0.1", 25}, (struct ep){"10.2.0.2", 25}, 1,
	    1, F_ACK, "Z");
	/* a pure ACK or a FIN alone does not start a flow */
	assert_int_equal(
	    send_pkt(t, (struct ep){"10.3.0.1", 1234}, S1, 1, 1, F_ACK, NULL),
	    0);
	assert_int_equal(send_pkt(t, (struct ep){"10.3.0.1", 1234}, S1, 1, 1,
			     F_ACK | F_FIN, NULL),
	    0);
	/* not an SMTP port at all */
	assert_int_equal(send_pkt(t, (struct ep){"10.3.0.1", 1234},
			     (struct ep){"10.3.0.2", 80}, 1, 1, F_ACK, "GET"),
	    0);
	assert_string_equal(lg.buf, "open 1 10.0.0.1:40000>10.0.0.2:25 mid\n"
				    "data 1 S 250 ok\r\n\n"
				    "data 1 C RSET\r\n\n"
				    "data 1 C NOOP\r\n\n"
				    "open 2 10.1.0.1:587>10.1.0.2:25 mid\n"
				    "data 2 C X\n"
				    "open 3 10.1.0.4:587>10.1.0.3:25 mid\n"
				    "data 3 S Y\n"
				    "open 4 10.2.0.1:25>10.2.0.2:25 mid\n"
				    "data 4 C Z\n");
	assert_int_equal(flow_table_stats(t)->flows, 4);
	flow_table_free(t);
}

static void
test_rst_midstream(void **state)
{
	struct flow_config cfg = cfg_default();
	struct flow_table *t = flow_table_new(&cfg, &ops, NULL);

	(void)state;
	now_sec = 2000;
	handshake(t, C1, S1);
	send_pkt(t, C1, S1, 1001, 5001, F_ACK, "MAIL");
	/* 5 bytes at 1005 lost, then a held segment */
	send_pkt(t, C1, S1, 1010, 5001, F_ACK, "RCPT\r\n");
	assert_int_equal(
	    send_pkt(t, S1, C1, 5001, 1005, F_RST | F_ACK, NULL), 1);
	assert_true(lg.last_open->rst);
	assert_string_equal(lg.buf, "open 1 10.0.0.1:40000>10.0.0.2:25\n"
				    "data 1 C MAIL\n"
				    "gap 1 C 5\n"
				    "data 1 C RCPT\r\n\n"
				    "close 1 rst @2000\n");
	/* more from either side is ignored, nothing is reopened (the
	   segments still count as the closed session's) */
	assert_int_equal(send_pkt(t, C1, S1, 1016, 5001, F_ACK, "DATA\r\n"), 1);
	assert_int_equal(send_pkt(t, S1, C1, 5001, 1005, F_RST, NULL), 1);
	assert_int_equal(flow_table_stats(t)->gap_bytes, 5);
	assert_int_equal(flow_table_stats(t)->flows, 1);
	/* a lone RST on an unknown 4-tuple does not create a flow */
	assert_int_equal(
	    send_pkt(t, (struct ep){"10.9.9.9", 25}, C1, 1, 1, F_RST, NULL), 0);
	flow_table_free(t);
}

static void
test_fin_both_sides(void **state)
{
	struct flow_config cfg = cfg_default();
	struct flow_table *t = flow_table_new(&cfg, &ops, NULL);

	(void)state;
	now_sec = 3000;
	handshake(t, C1, S1);
	/* the client's last data segment is reordered after its FIN */
	send_pkt(t, C1, S1, 1001, 5001, F_ACK, "QU");
	send_pkt(t, C1, S1, 1007, 5001, F_ACK | F_FIN, NULL);
	send_pkt(t, S1, C1, 5001, 1003, F_ACK | F_FIN, "bye");
	assert_null(strstr(lg.buf, "close"));
	now_sec = 3001;
	send_pkt(t, C1, S1, 1003, 5005, F_ACK, "IT\r\n");
	assert_string_equal(lg.buf, "open 1 10.0.0.1:40000>10.0.0.2:25\n"
				    "data 1 C QU\n"
				    "data 1 S bye\n"
				    "data 1 C IT\r\n\n"
				    "close 1 fin @3001\n");
	flow_table_free(t);

	/* the client's last data was not captured before its FIN: the
	   server's ACK of the FIN proves it was sent, so it becomes a gap and
	   the flow closes without waiting */
	memset(&lg, 0, sizeof lg);
	now_sec = 3000;
	t = flow_table_new(&cfg, &ops, NULL);
	handshake(t, C1, S1);
	send_pkt(t, S1, C1, 5001, 1001, F_ACK, "221 x\r\n");
	send_pkt(t, C1, S1, 1007, 5008, F_ACK | F_FIN, NULL);
	assert_null(strstr(lg.buf, "close"));
	send_pkt(t, S1, C1, 5008, 1008, F_ACK | F_FIN, NULL);
	assert_string_equal(lg.buf, "open 1 10.0.0.1:40000>10.0.0.2:25\n"
				    "data 1 S 221 x\r\n\n"
				    "gap 1 C 6\n"
				    "close 1 fin @3000\n");
	flow_table_free(t);
}

static void
test_syn_reuse(void **state)
{
	struct flow_config cfg = cfg_default();
	struct flow_table *t = flow_table_new(&cfg, &ops, NULL);

	(void)state;
	now_sec = 4000;
	handshake(t, C1, S1);
	send_pkt(t, S1, C1, 5001, 1001, F_ACK, "220\r\n");
	send_pkt(t, C1, S1, 1001, 5006, F_ACK | F_FIN, NULL);
	send_pkt(t, S1, C1, 5006, 1002, F_ACK | F_FIN, NULL);
	send_pkt(t, C1, S1, 1002, 5007, F_ACK, NULL);
	/* a retransmitted SYN-ACK is a straggler of flow 1 */
	assert_int_equal(
	    send_pkt(t, S1, C1, 5000, 1001, F_SYN | F_ACK, NULL), 1);
	/* a new SYN on the closed 4-tuple: a new flow, half-open */
	now_sec = 4001;
	assert_true(
	    send_pkt(t, C1, S1, 9000, 0, F_SYN, NULL) == FLOW_ID_HALF_OPEN);
	/* a retransmission of that SYN is the same flow */
	assert_true(
	    send_pkt(t, C1, S1, 9000, 0, F_SYN, NULL) == FLOW_ID_HALF_OPEN);
	assert_true(send_pkt(t, S1, C1, 7000, 9001, F_SYN | F_ACK, NULL) ==
		    FLOW_ID_HALF_OPEN);
	/* data completes the handshake (the client's ACK was missed) */
	assert_int_equal(
	    send_pkt(t, S1, C1, 7001, 9001, F_ACK, "220 again\r\n"), 2);
	/* the 4-tuple reused while flow 2 is live (its end was missed) */
	now_sec = 4002;
	assert_true(
	    send_pkt(t, C1, S1, 100, 0, F_SYN, NULL) == FLOW_ID_HALF_OPEN);
	send_pkt(t, S1, C1, 800, 101, F_SYN | F_ACK, NULL);
	assert_int_equal(send_pkt(t, C1, S1, 101, 801, F_ACK, NULL), 3);
	assert_string_equal(lg.buf, "open 1 10.0.0.1:40000>10.0.0.2:25\n"
				    "data 1 S 220\r\n\n"
				    "close 1 fin @4000\n"
				    "open 2 10.0.0.1:40000>10.0.0.2:25\n"
				    "data 2 S 220 again\r\n\n"
				    "close 2 timeout @4002\n"
				    "open 3 10.0.0.1:40000>10.0.0.2:25\n");
	assert_int_equal(lg.last_open->dir[EV_DIR_CLIENT].next_seq, 101);
	flow_table_free(t);
}

static void
test_idle_timeout(void **state)
{
	struct flow_config cfg = cfg_default();
	struct flow_table *t;

	(void)state;
	cfg.idle_timeout = 30;
	t = flow_table_new(&cfg, &ops, NULL);
	now_sec = 5000;
	handshake(t, C1, S1);
	send_pkt(t, S1, C1, 5001, 1001, F_ACK, "220 ");
	send_pkt(t, S1, C1, 5008, 1001, F_ACK, "ok\r\n"); /* 3 bytes lost */
	/* the clock is what two packets agree on */
	now_sec = 5016;
	send_pkt(t, (struct ep){"10.0.0.3", 1}, S1, 1, 0, F_SYN, NULL);
	send_pkt(t, (struct ep){"10.0.0.3", 1}, S1, 1, 0, F_SYN, NULL);
	flow_expire(t, &(struct timeval){5029, 999999});
	assert_null(strstr(lg.buf, "close"));
	flow_expire(t, &(struct timeval){5030, 0});
	/* (10.0.0.3's SYNs are a half-open connection: not a session) */
	assert_string_equal(lg.buf, "open 1 10.0.0.1:40000>10.0.0.2:25\n"
				    "data 1 S 220 \n"
				    "gap 1 S 3\n"
				    "data 1 S ok\r\n\n"
				    "close 1 timeout @5030\n");
	/* no tombstone after a time-out: should the connection speak again,
	   it is picked up mid-stream as a new flow */
	now_sec = 5031;
	assert_int_equal(send_pkt(t, C1, S1, 1001, 5012, F_ACK, "x"), 2);
	assert_true(lg.last_open->midstream);
	/* one packet with a wild timestamp does not time everything out */
	now_sec = 99999999;
	send_pkt(t, C1, S1, 1002, 5012, F_ACK, "y");
	now_sec = 5032;
	send_pkt(t, C1, S1, 1003, 5012, F_ACK, "z");
	flow_expire(t, &(struct timeval){99999999, 0});
	assert_null(strstr(lg.buf, "close 2"));
	assert_int_equal(flow_table_stats(t)->active, 1);
	/* but time passing, as packets tell it, does */
	now_sec = 5070;
	send_pkt(t, (struct ep){"10.0.0.5", 2}, S1, 1, 0, F_SYN, NULL);
	send_pkt(t, (struct ep){"10.0.0.5", 2}, S1, 1, 0, F_SYN, NULL);
	flow_expire(t, &(struct timeval){5070, 0});
	assert_non_null(strstr(lg.buf, "data 2 C z\n"
				       "aborted 10.0.0.3:1>10.0.0.2:25 timeout "
				       "@5047\n"
				       "close 2 timeout @5070\n"));
	/* 10.0.0.5 is half-open: no session, and its time-out is shorter */
	assert_null(strstr(lg.buf, "open 3"));
	assert_int_equal(flow_table_stats(t)->aborted, 1);
	flow_table_free(t);
}

static void
test_flow_cap_eviction(void **state)
{
	struct flow_config cfg = cfg_default();
	struct flow_table *t;
	const struct flow_stats *st;
	struct ep c2 = {"10.0.0.3", 40001}, c3 = {"10.0.0.4", 40002};

	(void)state;
	cfg.max_flows = 2;
	t = flow_table_new(&cfg, &ops, NULL);
	st = flow_table_stats(t);
	now_sec = 6000;
	handshake(t, C1, S1);
	handshake(t, c2, S1);
	/* flow 1 is active again after flow 2: flow 2 is now the least
	   recently active (recency counts to the second) */
	send_pkt(t, C1, S1, 1001, 5001, F_ACK, "A");
	now_sec = 6001;
	send_pkt(t, c2, S1, 1005, 5001, F_ACK, "B"); /* held: 4 bytes lost */
	now_sec = 6002;
	send_pkt(t, C1, S1, 1002, 5001, F_ACK, "C");
	handshake(t, c3, S1);
	assert_string_equal(lg.buf, "open 1 10.0.0.1:40000>10.0.0.2:25\n"
				    "open 2 10.0.0.3:40001>10.0.0.2:25\n"
				    "data 1 C A\n"
				    "data 1 C C\n"
				    "anomaly 2 flow table full\n"
				    "gap 2 C 4\n"
				    "data 2 C B\n"
				    "close 2 evicted @6002\n"
				    "open 3 10.0.0.4:40002>10.0.0.2:25\n");
	assert_int_equal(st->cap_flows, 1);
	assert_int_equal(st->active, 2);
	assert_int_equal(st->flows, 3);
	/* flow_finish closes the rest in id order */
	flow_finish(t, &(struct timeval){6003, 0});
	assert_non_null(
	    strstr(lg.buf, "close 1 end @6003\nclose 3 end @6003\n"));
	assert_int_equal(st->active, 0);
	flow_table_free(t);
}

/* A SYN flood is no session: half-open connections make room among
   themselves, and never evict a real one. */
static void
test_half_open_flood(void **state)
{
	struct flow_config cfg = cfg_default();
	struct flow_table *t;
	const struct flow_stats *st;
	struct ep c = {"10.0.1.1", 1};
	int i;

	(void)state;
	cfg.max_flows = 3;
	t = flow_table_new(&cfg, &ops, NULL);
	st = flow_table_stats(t);
	now_sec = 7000;
	handshake(t, C1, S1);
	for (i = 0; i < 10; i++) {
		c.port = (uint16_t)(1 + i);
		assert_true(
		    send_pkt(t, c, S1, 1, 0, F_SYN, NULL) == FLOW_ID_HALF_OPEN);
	}
	/* refused: RST to a SYN */
	send_pkt(t, S1, c, 0, 2, F_RST | F_ACK, NULL);
	assert_string_equal(lg.buf,
	    "open 1 10.0.0.1:40000>10.0.0.2:25\n"
	    "aborted 10.0.1.1:1>10.0.0.2:25 evicted @7000\n"
	    "aborted 10.0.1.1:2>10.0.0.2:25 evicted @7000\n"
	    "aborted 10.0.1.1:3>10.0.0.2:25 evicted @7000\n"
	    "aborted 10.0.1.1:4>10.0.0.2:25 evicted @7000\n"
	    "aborted 10.0.1.1:5>10.0.0.2:25 evicted @7000\n"
	    "aborted 10.0.1.1:6>10.0.0.2:25 evicted @7000\n"
	    "aborted 10.0.1.1:7>10.0.0.2:25 evicted @7000\n"
	    "aborted 10.0.1.1:8>10.0.0.2:25 evicted @7000\n"
	    "aborted 10.0.1.1:10>10.0.0.2:25 rst @7000\n");
	assert_int_equal(st->flows, 1);
	assert_int_equal(st->cap_flows, 0);
	assert_int_equal(st->aborted, 9);
	/* the one left half-open ends with the capture */
	flow_finish(t, &(struct timeval){7001, 0});
	assert_non_null(strstr(lg.buf,
	    "close 1 end @7001\naborted 10.0.1.1:9>10.0.0.2:25 end @7001\n"));
	flow_table_free(t);
}

static void
test_ipv6(void **state)
{
	struct flow_config cfg = cfg_default();
	struct flow_table *t = flow_table_new(&cfg, &ops, NULL);
	struct ep c = {"2001:db8::1", 50000}, s = {"2001:db8::25", 587};
	struct decode_pkt p;
	struct flow *f;

	(void)state;
	now_sec = 7000;
	handshake(t, c, s);
	send_pkt(t, s, c, 5001, 1001, F_ACK, "220 v6\r\n");
	send_pkt(t, c, s, 1001, 5009, F_ACK, "EHLO v6\r\n");
	/* an IPv4 flow with the same first address bytes is another flow */
	send_pkt(t, (struct ep){"32.1.13.184", 50000},
	    (struct ep){"32.1.13.184", 587}, 1, 1, F_ACK, "v4");
	assert_string_equal(lg.buf,
	    "open 1 [2001:db8::1]:50000>[2001:db8::25]:587\n"
	    "data 1 S 220 v6\r\n\n"
	    "data 1 C EHLO v6\r\n\n"
	    "open 2 32.1.13.184:50000>32.1.13.184:587 mid\n"
	    "data 2 C v4\n");
	memset(&p, 0, sizeof p);
	p.af = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::25", p.src);
	inet_pton(AF_INET6, "2001:db8::1", p.dst);
	p.sport = 587;
	p.dport = 50000;
	f = flow_lookup(t, &p);
	assert_non_null(f);
	assert_int_equal(f->id, 1);
	assert_int_equal(f->af, AF_INET6);
	p.dport = 50001;
	assert_null(flow_lookup(t, &p));
	flow_table_free(t);
}

static void
test_ooo_cap_and_ack_gap(void **state)
{
	struct flow_config cfg = cfg_default();
	struct flow_table *t;
	const struct flow_stats *st;

	(void)state;
	cfg.ooo_per_dir = 2 * (4 + REASM_SEG_OVERHEAD);
	t = flow_table_new(&cfg, &ops, NULL);
	st = flow_table_stats(t);
	now_sec = 8000;
	handshake(t, C1, S1);
	send_pkt(t, C1, S1, 1003, 5001, F_ACK, "cccc");
	send_pkt(t, C1, S1, 1009, 5001, F_ACK, "dddd");
	send_pkt(t, C1, S1, 1015, 5001, F_ACK, "eeee"); /* over the cap */
	send_pkt(t, C1, S1, 1021, 5001, F_ACK, "ffff"); /* over again */
	assert_int_equal(st->cap_ooo, 2);
	/* the server acknowledges past the next hole: it becomes a gap at
	   once, not at the end of the session */
	send_pkt(t, S1, C1, 5001, 1021, F_ACK, NULL);
	assert_string_equal(lg.buf, "open 1 10.0.0.1:40000>10.0.0.2:25\n"
				    "gap 1 C 2\n"
				    "data 1 C cccc\n"
				    "anomaly 1 out-of-order buffer full\n"
				    "gap 1 C 2\n"
				    "data 1 C dddd\n"
				    "gap 1 C 2\n"
				    "data 1 C eeee\n"
				    "gap 1 C 2\n"
				    "data 1 C ffff\n");
	assert_int_equal(st->gap_bytes, 8);
	flow_table_free(t);
}

static void
test_snaplen_cut(void **state)
{
	struct flow_config cfg = cfg_default();
	struct flow_table *t = flow_table_new(&cfg, &ops, NULL);
	struct decode_pkt p;

	(void)state;
	now_sec = 9000;
	handshake(t, C1, S1);
	memset(&p, 0, sizeof p);
	p.ts.tv_sec = now_sec;
	p.af = AF_INET;
	inet_pton(AF_INET, C1.addr, p.src);
	inet_pton(AF_INET, S1.addr, p.dst);
	p.sport = C1.port;
	p.dport = S1.port;
	p.seq = 1001;
	p.ack = 5001;
	p.flags = F_ACK;
	p.payload = (const uint8_t *)"DATA\r\n";
	p.len = 2;
	p.wire_len = 6;
	assert_int_equal(flow_input(t, &p), 1);
	send_pkt(t, C1, S1, 1007, 5001, F_ACK, "ok");
	assert_string_equal(lg.buf, "open 1 10.0.0.1:40000>10.0.0.2:25\n"
				    "data 1 C DA\n"
				    "gap 1 C 4\n"
				    "anomaly 1 truncated packet\n"
				    "data 1 C ok\n");
	flow_table_free(t);
}

/* flow_prefetch: the consumer's hook, one level deeper per call. */
static int pf_user;

static void
pf_open(void *arg, struct flow *f, const struct timeval *ts)
{
	cb_open(arg, f, ts);
	f->user = &pf_user;
}

static void
pf_close(void *arg, struct flow *f, enum flow_close_reason why,
    const struct timeval *ts)
{
	cb_close(arg, f, why, ts);
	f->user = NULL;
}

static void
pf_hook(void *arg, const struct flow *f, int level)
{
	(void)arg;
	log_check_alive(f);
	assert_ptr_equal(f->user, &pf_user);
	log_add("prefetch %llu L%d\n", (unsigned long long)f->id, level);
}

static const struct flow_ops pf_ops = {
    pf_open, cb_data, cb_gap, pf_close, cb_anomaly, cb_aborted, pf_hook};

static struct decode_pkt
pf_pkt(struct ep src, struct ep dst)
{
	struct decode_pkt p;

	memset(&p, 0, sizeof p);
	p.af = AF_INET;
	assert_int_equal(inet_pton(AF_INET, src.addr, p.src), 1);
	assert_int_equal(inet_pton(AF_INET, dst.addr, p.dst), 1);
	p.sport = src.port;
	p.dport = dst.port;
	return p;
}

static void
test_prefetch(void **state)
{
	struct flow_config cfg = cfg_default();
	struct flow_table *t = flow_table_new(&cfg, &pf_ops, NULL);
	struct ep c2 = {"10.0.0.3", 40001};
	struct decode_pkt p1 = pf_pkt(C1, S1), p2 = pf_pkt(S1, c2);
	size_t mark;

	(void)state;
	now_sec = 9000;
	handshake(t, C1, S1);
	handshake(t, c2, S1);
	mark = lg.len;
	/* bucket of 1; bucket of 2 and entry of 1; then the levels */
	flow_prefetch(t, &p1);
	flow_prefetch(t, &p2);
	assert_int_equal(lg.len, mark);
	flow_prefetch(t, NULL);
	assert_string_equal(lg.buf + mark, "prefetch 1 L1\n");
	flow_prefetch(t, NULL);
	flow_prefetch(t, NULL);
	flow_prefetch(t, NULL);
	assert_string_equal(lg.buf + mark, "prefetch 1 L1\n"
					   "prefetch 1 L2\n"
					   "prefetch 2 L1\n"
					   "prefetch 1 L3\n"
					   "prefetch 2 L2\n"
					   "prefetch 2 L3\n");
	/* A closed flow has no consumer state: no hook. */
	send_pkt(t, C1, S1, 1001, 5001, F_RST, NULL);
	mark = lg.len;
	flow_prefetch(t, &p1);
	flow_prefetch(t, NULL);
	flow_prefetch(t, NULL);
	assert_int_equal(lg.len, mark);
	/* An entry freed between two calls (its 4-tuple reused by a new
	   SYN) is forgotten: under ASan a read of it would fail. */
	flow_prefetch(t, &p1);
	flow_prefetch(t, NULL);
	send_pkt(t, C1, S1, 7000, 0, F_SYN, NULL);
	flow_prefetch(t, NULL);
	flow_prefetch(t, NULL);
	flow_prefetch(t, NULL);
	assert_null(strstr(lg.buf + mark, "prefetch"));
	flow_table_free(t);
}

static void
test_finish_declares_gaps(void **state)
{
	struct flow_config cfg = cfg_default();
	struct flow_table *t = flow_table_new(&cfg, &ops, NULL);

	(void)state;
	now_sec = 9500;
	handshake(t, C1, S1);
	send_pkt(t, S1, C1, 5001, 1001, F_ACK, "220 ");
	send_pkt(t, S1, C1, 5010, 1001, F_ACK, "x"); /* 5 bytes missing */
	/* the client acknowledged 20 more bytes than were captured */
	send_pkt(t, C1, S1, 1001, 5005, F_ACK, NULL);
	send_pkt(t, C1, S1, 1001, 5031, F_ACK, NULL);
	flow_finish(t, &(struct timeval){9501, 0});
	assert_string_equal(lg.buf, "open 1 10.0.0.1:40000>10.0.0.2:25\n"
				    "data 1 S 220 \n"
				    "gap 1 S 5\n"
				    "data 1 S x\n"
				    "gap 1 S 20\n"
				    "close 1 end @9501\n");
	flow_table_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_direction_by_syn, setup),
	    cmocka_unit_test_setup(test_midstream_by_port, setup),
	    cmocka_unit_test_setup(test_any_port, setup),
	    cmocka_unit_test_setup(test_rst_midstream, setup),
	    cmocka_unit_test_setup(test_fin_both_sides, setup),
	    cmocka_unit_test_setup(test_syn_reuse, setup),
	    cmocka_unit_test_setup(test_idle_timeout, setup),
	    cmocka_unit_test_setup(test_flow_cap_eviction, setup),
	    cmocka_unit_test_setup(test_half_open_flood, setup),
	    cmocka_unit_test_setup(test_ipv6, setup),
	    cmocka_unit_test_setup(test_ooo_cap_and_ack_gap, setup),
	    cmocka_unit_test_setup(test_snaplen_cut, setup),
	    cmocka_unit_test_setup(test_finish_declares_gaps, setup),
	    cmocka_unit_test_setup(test_prefetch, setup),
	};

	return cmocka_run_group_tests_name("flow", tests, NULL, NULL);
}
