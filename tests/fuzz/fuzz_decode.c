/*
 * fuzz_decode: libFuzzer target for decode_packet.  The first input byte
 * picks one of the supported link types, the rest is the captured frame.
 * The frame is copied into a buffer of exactly its size so that ASan catches
 * any read past caplen.  Decoded results are checked for the invariants the
 * rest of the pipeline relies on.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <pcap/pcap.h>

#include "decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const int fuzz_dlts[] = {DLT_NULL, DLT_LOOP, DLT_EN10MB, DLT_RAW, 101,
    228 /* DLT_IPV4 */, 229 /* DLT_IPV6 */, DLT_LINUX_SLL,
    276 /* DLT_LINUX_SLL2 */};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct decode_pkt p;
	struct timeval ts = {0, 0};
	const char *why;
	enum decode_result r;
	uint8_t *frame;
	char buf[64];
	int dlt;

	if (size < 1)
		return 0;
	dlt = fuzz_dlts[data[0] % (sizeof fuzz_dlts / sizeof fuzz_dlts[0])];
	frame = malloc(size > 1 ? size - 1 : 1);
	if (frame == NULL)
		return 0;
	memcpy(frame, data + 1, size - 1);
	r = decode_packet(dlt, frame, size - 1, &ts, &p, &why);
	switch (r) {
	case DECODE_OK:
		if (p.len > p.wire_len ||
		    (p.len > 0 && (p.payload < frame ||
				      p.payload + p.len > frame + (size - 1))))
			abort();
		if (p.af != AF_INET && p.af != AF_INET6)
			abort();
		decode_format_endpoint(buf, sizeof buf, p.af, p.src, p.sport);
		decode_format_endpoint(buf, sizeof buf, p.af, p.dst, p.dport);
		break;
	case DECODE_FRAGMENT:
	case DECODE_TRUNCATED:
	case DECODE_MALFORMED:
		if (why == NULL || strlen(why) == 0)
			abort();
		break;
	case DECODE_NOT_IP:
	case DECODE_NOT_TCP:
		break;
	}
	free(frame);
	return 0;
}
