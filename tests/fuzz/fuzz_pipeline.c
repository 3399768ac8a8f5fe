/*
 * fuzz_pipeline: libFuzzer target for the whole capture side (decode, flow
 * table, reassembly, SMTP, TLS, diagnosis) fed IPv4 and IPv6 packets.
 *
 * The diagnosis engine (the built-in rules compiled, the server patterns)
 * is built once per process and only made to forget its history between
 * inputs (diag_forget), so that an input is diagnosed as by a new engine:
 * building it per input held this target under 100 executions a second.
 *
 * The input is a sequence of records.  A record whose first byte has bit 7
 * set is a raw packet: two bytes of length, then that many bytes as an IP
 * datagram (version from its first nibble).  Otherwise the record describes
 * a TCP segment between fixed endpoints, so that the fuzzer reaches
 * reassembly without having to guess valid headers:
 *
 *	control  bit 0: server to client; bit 1: second client (its server
 *	         port is 465, implicit TLS, and its sequence numbers start
 *	         just before the 2^32 wrap); bit 2: IPv6; bits 3-5: FIN,
 *	         SYN, RST; bit 6: no ACK flag
 *	seq      16 bits, offset from the direction's base
 *	ack      16 bits, offset from the other direction's base
 *	len      8 bits, then that many payload bytes
 *
 * Small caps make every limit reachable.  Each packet is copied into a
 * buffer of exactly its size so that ASan sees any overread.
 *
 * Every input runs twice: packet by packet, then as a capture file is read,
 * each packet shown to pipeline_peek five packets before it is delivered
 * (and the first few not shown, as at the start of a read-ahead block).
 * The peek only prefetches and keeps the decoding for the delivery: both
 * runs must emit the same events, byte for byte (checked as JSON).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "diag.h"
#include "event.h"
#include "out_json.h"
#include "pipeline.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_IP4_HDR 20
#define FUZZ_IP6_HDR 40
#define FUZZ_TCP_HDR 20

static struct diag *fuzz_diag;

/* What a run emitted, as JSON, every event one after the other. */
struct fuzz_out {
	char *buf;
	size_t len, cap;
};

static void
fuzz_emit(void *arg, struct event *ev)
{
	struct fuzz_out *o = arg;
	char *s = out_json_string(ev);
	size_t n = strlen(s);

	if (o->len + n + 1 > o->cap) {
		o->cap = (o->len + n + 1) * 2;
		o->buf = realloc(o->buf, o->cap);
		if (o->buf == NULL)
			abort();
	}
	memcpy(o->buf + o->len, s, n);
	o->buf[o->len + n] = '\n';
	o->len += n + 1;
	free(s);
	event_free(ev);
}

/* The input's packets, each in a buffer of its own size, and the time
   each is delivered at. */
#define FUZZ_PKTS_MAX 4096
#define FUZZ_PEEK_AHEAD 5

struct fuzz_pkts {
	uint8_t *data[FUZZ_PKTS_MAX];
	uint32_t len[FUZZ_PKTS_MAX];
	struct timeval ts[FUZZ_PKTS_MAX];
	size_t n;
};

static void
fuzz_feed(struct fuzz_pkts *k, const struct timeval *ts, const uint8_t *pkt,
    size_t len)
{
	uint8_t *copy;

	if (k->n == FUZZ_PKTS_MAX || (copy = malloc(len ? len : 1)) == NULL)
		return;
	memcpy(copy, pkt, len);
	k->data[k->n] = copy;
	k->len[k->n] = (uint32_t)len;
	k->ts[k->n] = *ts;
	k->n++;
}

/* One run over the packets, with or without the peek; the ticks a second
   as the input's times cross them. */
static void
fuzz_run(const struct fuzz_pkts *k, bool peek, struct fuzz_out *o)
{
	struct pipeline_config cfg;
	struct pipeline *p;
	size_t i;

	diag_forget(fuzz_diag);
	pipeline_config_default(&cfg);
	cfg.flow.max_flows = 3;
	cfg.flow.ooo_per_dir = 4096;
	cfg.flow.ooo_total = 8192;
	cfg.flow.idle_timeout = 5;
	p = pipeline_new(&cfg, fuzz_diag, NULL, fuzz_emit, o);
	for (i = 0; i < k->n; i++) {
		if (i > 0 && k->ts[i].tv_sec != k->ts[i - 1].tv_sec)
			pipeline_tick(p, &k->ts[i]);
		if (peek && i + FUZZ_PEEK_AHEAD < k->n)
			pipeline_peek(p, DLT_RAW, k->data[i + FUZZ_PEEK_AHEAD],
			    k->len[i + FUZZ_PEEK_AHEAD]);
		pipeline_packet(
		    p, DLT_RAW, &k->ts[i], k->data[i], k->len[i], k->len[i]);
	}
	pipeline_finish(p);
	pipeline_free(p);
}

static void
fuzz_put16(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static void
fuzz_put32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

/* The address of a client (1, 2) or of the server (9) into b. */
static void
fuzz_addr(uint8_t *b, int v6, uint8_t host)
{
	if (v6) {
		/* 2001:db8::host */
		memset(b, 0, 16);
		b[0] = 0x20;
		b[1] = 0x01;
		b[2] = 0x0d;
		b[3] = 0xb8;
		b[15] = host;
	} else {
		b[0] = 10;
		b[1] = 0;
		b[2] = 0;
		b[3] = host;
	}
}

/* Build the segment a control record describes into pkt; returns its
   length. */
static size_t
fuzz_segment(uint8_t *pkt, uint8_t ctl, uint16_t seq_off, uint16_t ack_off,
    const uint8_t *payload, size_t plen)
{
	int to_client = ctl & 1, second = (ctl >> 1) & 1, v6 = (ctl >> 2) & 1;
	uint8_t client = (uint8_t)(1 + second), server = 9;
	uint16_t cport = (uint16_t)(40000 + second);
	uint16_t sport = second ? 465 : 25;
	/* The first client's bytes start low, the second's just before the
	   wrap; servers likewise. */
	uint32_t cbase = second ? 0xffffff00u : 1000;
	uint32_t sbase = second ? 0xffffff80u : 5000;
	size_t ip = v6 ? FUZZ_IP6_HDR : FUZZ_IP4_HDR;
	uint8_t *tcp = pkt + ip;

	memset(pkt, 0, ip + FUZZ_TCP_HDR);
	if (v6) {
		pkt[0] = 0x60;
		fuzz_put16(pkt + 4, (uint32_t)(FUZZ_TCP_HDR + plen));
		pkt[6] = 6;
		pkt[7] = 64;
		fuzz_addr(pkt + 8, 1, to_client ? server : client);
		fuzz_addr(pkt + 24, 1, to_client ? client : server);
	} else {
		pkt[0] = 0x45;
		fuzz_put16(pkt + 2, (uint32_t)(ip + FUZZ_TCP_HDR + plen));
		pkt[8] = 64;
		pkt[9] = 6;
		fuzz_addr(pkt + 12, 0, to_client ? server : client);
		fuzz_addr(pkt + 16, 0, to_client ? client : server);
	}
	fuzz_put16(tcp, to_client ? sport : cport);
	fuzz_put16(tcp + 2, to_client ? cport : sport);
	fuzz_put32(tcp + 4, (to_client ? sbase : cbase) + seq_off);
	fuzz_put32(tcp + 8, (to_client ? cbase : sbase) + ack_off);
	tcp[12] = 0x50;
	/* FIN, SYN, RST from bits 3-5; ACK unless bit 6 */
	tcp[13] = (uint8_t)(((ctl >> 3) & 0x07) | ((ctl & 0x40) ? 0 : 0x10));
	tcp[14] = 0xff;
	memcpy(tcp + FUZZ_TCP_HDR, payload, plen);
	return ip + FUZZ_TCP_HDR + plen;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_pkts k;
	struct fuzz_out plain = {NULL, 0, 0}, peeked = {NULL, 0, 0};
	struct timeval ts = {1700000000, 0};
	uint8_t pkt[FUZZ_IP6_HDR + FUZZ_TCP_HDR + 255];
	size_t off = 0, n, plen, i;

	if (fuzz_diag == NULL)
		fuzz_diag = diag_new();
	k.n = 0;
	while (off < size) {
		if (data[off] & 0x80) {
			if (size - off < 3)
				break;
			n = (size_t)data[off + 1] << 8 | data[off + 2];
			off += 3;
			if (n > size - off)
				n = size - off;
			fuzz_feed(&k, &ts, data + off, n);
			off += n;
		} else {
			if (size - off < 6)
				break;
			plen = data[off + 5];
			if (plen > size - off - 6)
				plen = size - off - 6;
			n = fuzz_segment(pkt, data[off],
			    (uint16_t)(data[off + 1] << 8 | data[off + 2]),
			    (uint16_t)(data[off + 3] << 8 | data[off + 4]),
			    data + off + 6, plen);
			off += 6 + plen;
			fuzz_feed(&k, &ts, pkt, n);
		}
		ts.tv_usec += 300000;
		if (ts.tv_usec >= 1000000) {
			ts.tv_usec -= 1000000;
			ts.tv_sec++;
		}
	}
	fuzz_run(&k, false, &plain);
	fuzz_run(&k, true, &peeked);
	/* The peek is only a hint: the same events either way. */
	if (plain.len != peeked.len ||
	    (plain.len > 0 && memcmp(plain.buf, peeked.buf, plain.len) != 0))
		abort();
	free(plain.buf);
	free(peeked.buf);
	for (i = 0; i < k.n; i++)
		free(k.data[i]);
	return 0;
}
