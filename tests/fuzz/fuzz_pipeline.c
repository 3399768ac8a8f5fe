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
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "diag.h"
#include "event.h"
#include "pipeline.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_IP4_HDR 20
#define FUZZ_IP6_HDR 40
#define FUZZ_TCP_HDR 20

static struct diag *fuzz_diag;

static void
fuzz_emit(void *arg, struct event *ev)
{
	(void)arg;
	event_free(ev);
}

static void
fuzz_feed(struct pipeline *p, const struct timeval *ts, const uint8_t *pkt,
    size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);

	if (copy == NULL)
		return;
	memcpy(copy, pkt, len);
	pipeline_packet(p, DLT_RAW, ts, copy, (uint32_t)len, (uint32_t)len);
	free(copy);
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
	struct pipeline_config cfg;
	struct pipeline *p;
	struct timeval ts = {1700000000, 0};
	uint8_t pkt[FUZZ_IP6_HDR + FUZZ_TCP_HDR + 255];
	size_t off = 0, n, plen;

	if (fuzz_diag == NULL)
		fuzz_diag = diag_new();
	diag_forget(fuzz_diag);
	pipeline_config_default(&cfg);
	cfg.flow.max_flows = 3;
	cfg.flow.ooo_per_dir = 4096;
	cfg.flow.ooo_total = 8192;
	cfg.flow.idle_timeout = 5;
	p = pipeline_new(&cfg, fuzz_diag, NULL, fuzz_emit, NULL);
	while (off < size) {
		if (data[off] & 0x80) {
			if (size - off < 3)
				break;
			n = (size_t)data[off + 1] << 8 | data[off + 2];
			off += 3;
			if (n > size - off)
				n = size - off;
			fuzz_feed(p, &ts, data + off, n);
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
			fuzz_feed(p, &ts, pkt, n);
		}
		ts.tv_usec += 300000;
		if (ts.tv_usec >= 1000000) {
			ts.tv_usec -= 1000000;
			ts.tv_sec++;
			pipeline_tick(p, &ts);
		}
	}
	pipeline_finish(p);
	pipeline_free(p);
	return 0;
}
