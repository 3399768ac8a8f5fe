/*
 * fuzz_pipeline: libFuzzer target for the whole capture side (decode, flow
 * table, reassembly, SMTP, TLS, diagnosis) fed raw IPv4 packets.
 *
 * The input is a sequence of records.  A record whose first byte has bit 7
 * set is a raw packet: two bytes of length, then that many bytes as the
 * IPv4 datagram.  Otherwise the record describes a TCP segment between a
 * few fixed endpoints (so that the fuzzer reaches reassembly without having
 * to guess valid headers): endpoint pair, flags, sequence offset, ACK
 * offset, payload length, payload; the IPv4 and TCP headers are built
 * here.  Small caps make every limit reachable.  Each packet is copied into
 * a buffer of exactly its size so ASan sees any overread.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "event.h"
#include "pipeline.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_DLT_IPV4 228

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
	pipeline_packet(
	    p, FUZZ_DLT_IPV4, ts, copy, (uint32_t)len, (uint32_t)len);
	free(copy);
}

static void
fuzz_put32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pipeline_config cfg;
	struct pipeline *p;
	struct diag *diag = diag_new();
	struct timeval ts = {1700000000, 0};
	uint8_t pkt[40 + 512];
	size_t off = 0, n, plen;
	uint32_t seq, ack;
	unsigned pair;

	pipeline_config_default(&cfg);
	cfg.flow.max_flows = 4;
	cfg.flow.ooo_per_dir = 4096;
	cfg.flow.ooo_total = 8192;
	cfg.flow.idle_timeout = 5;
	p = pipeline_new(&cfg, diag, NULL, fuzz_emit, NULL);
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
			/* control, seq(2), ack(2), len(1), payload */
			if (size - off < 6)
				break;
			pair = data[off] & 7;
			seq = 1000 +
			      ((uint32_t)data[off + 1] << 8 | data[off + 2]);
			ack = 5000 +
			      ((uint32_t)data[off + 3] << 8 | data[off + 4]);
			plen = data[off + 5];
			off += 6;
			if (plen > size - off)
				plen = size - off;
			memset(pkt, 0, 40);
			pkt[0] = 0x45;
			pkt[2] = (uint8_t)((40 + plen) >> 8);
			pkt[3] = (uint8_t)(40 + plen);
			pkt[8] = 64;
			pkt[9] = 6;
			/* client 10.0.0.(1..4):4000x <-> server 10.0.0.9:25 */
			pkt[12] = pkt[16] = 10;
			if (pair & 1) { /* server to client */
				pkt[15] = 9;
				pkt[19] = (uint8_t)(1 + (pair >> 1));
				pkt[20] = 0;
				pkt[21] = 25;
				pkt[22] = 0x9c;
				pkt[23] = (uint8_t)(0x40 + (pair >> 1));
			} else {
				pkt[15] = (uint8_t)(1 + (pair >> 1));
				pkt[19] = 9;
				pkt[20] = 0x9c;
				pkt[21] = (uint8_t)(0x40 + (pair >> 1));
				pkt[22] = 0;
				pkt[23] = 25;
			}
			fuzz_put32(pkt + 24, seq);
			fuzz_put32(pkt + 28, ack);
			pkt[32] = 0x50;
			/* flags from the control byte: FIN, SYN, RST, ACK */
			pkt[33] =
			    (uint8_t)(((data[off - 6] >> 3) & 0x07) | 0x10);
			if (data[off - 6] & 0x40)
				pkt[33] &= (uint8_t)~0x10;
			pkt[34] = 0xff;
			memcpy(pkt + 40, data + off, plen);
			off += plen;
			fuzz_feed(p, &ts, pkt, 40 + plen);
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
	diag_free(diag);
	return 0;
}
