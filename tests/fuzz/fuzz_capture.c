/*
 * fuzz_capture: libFuzzer target for reading a capture file (capture.c):
 * the input (pcap, pcapng, or anything) is written to a file in memory
 * (memfd_create: no file system write per input) and read through
 * capture_open and capture_loop, which on a machine with more
 * than one CPU hands the packets over through the read-ahead thread and
 * its ring of blocks.
 *
 * Model: the packets delivered are exactly those libpcap itself reads
 * from the file, in order, with the same times, lengths and bytes (a
 * running hash of each), and a file cut in the middle of a packet gives
 * -1 after the complete packets.  Every packet is copied into a buffer of
 * exactly its caplen so that ASan sees a read past it.  The packets shown
 * to the peek callback (capture_set_peek) are, in order, among those
 * delivered afterwards, each one delivered after it was shown, and are
 * copied the same way.
 */
#include "config.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "capture.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct fuzz_sum {
	uint64_t n;
	uint64_t hash;
};

/* Packets peeked at and not yet delivered, oldest first. */
struct fuzz_peeks {
	uint64_t *h;
	size_t head, n, cap;
};

static struct fuzz_peeks fuzz_pk;

static char fuzz_path[64];
static int fuzz_fd = -1;

static void
fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz_capture: model check failed: %s\n", what);
	abort();
}

static void
fuzz_mix(struct fuzz_sum *s, const struct timeval *ts, const uint8_t *data,
    uint32_t caplen, uint32_t len)
{
	uint64_t h = s->hash ^ 0x9e3779b97f4a7c15ULL;
	uint32_t i;

	h = (h ^ (uint64_t)ts->tv_sec) * 0x100000001b3ULL;
	h = (h ^ (uint64_t)ts->tv_usec) * 0x100000001b3ULL;
	h = (h ^ caplen) * 0x100000001b3ULL;
	h = (h ^ len) * 0x100000001b3ULL;
	for (i = 0; i < caplen; i++)
		h = (h ^ data[i]) * 0x100000001b3ULL;
	s->hash = h;
	s->n++;
}

/* A packet's bytes and caplen, read from an exact copy. */
static uint64_t
fuzz_bytes(const uint8_t *data, uint32_t caplen)
{
	uint8_t *copy = malloc(caplen ? caplen : 1);
	uint64_t h = 0xcbf29ce484222325ULL ^ caplen;
	uint32_t i;

	if (copy == NULL)
		abort();
	memcpy(copy, data, caplen);
	for (i = 0; i < caplen; i++)
		h = (h ^ copy[i]) * 0x100000001b3ULL;
	free(copy);
	return h;
}

static void
fuzz_peek(void *arg, int linktype, const uint8_t *data, uint32_t caplen)
{
	struct fuzz_peeks *q = arg;

	(void)linktype;
	if (q->head + q->n == q->cap) {
		q->cap = q->cap * 2 + 64;
		q->h = realloc(q->h, q->cap * sizeof *q->h);
		if (q->h == NULL)
			abort();
	}
	q->h[q->head + q->n++] = fuzz_bytes(data, caplen);
}

static void
fuzz_packet(void *arg, int linktype, const struct timeval *ts,
    const uint8_t *data, uint32_t caplen, uint32_t len)
{
	uint8_t *copy = malloc(caplen ? caplen : 1);

	(void)linktype;
	if (copy == NULL)
		abort();
	memcpy(copy, data, caplen);
	fuzz_mix(arg, ts, copy, caplen, len);
	free(copy);
	/* the oldest packet peeked at, if this is it */
	if (fuzz_pk.n > 0 &&
	    fuzz_pk.h[fuzz_pk.head] == fuzz_bytes(data, caplen)) {
		fuzz_pk.head++;
		fuzz_pk.n--;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct capture_config cfg;
	struct fuzz_sum got = {0, 0}, want = {0, 0};
	struct pcap_pkthdr *h;
	const u_char *pkt;
	char *why = NULL;
	struct capture *c;
	pcap_t *p;
	int rc, wrc = 1, n;

	if (fuzz_fd == -1) {
		fuzz_fd = memfd_create("fuzz_capture", MFD_CLOEXEC);
		if (fuzz_fd == -1)
			abort();
		snprintf(
		    fuzz_path, sizeof fuzz_path, "/proc/self/fd/%d", fuzz_fd);
	}
	if (ftruncate(fuzz_fd, 0) != 0 ||
	    pwrite(fuzz_fd, data, size, 0) != (ssize_t)size)
		abort();

	/* What libpcap reads on its own. */
	p = pcap_open_offline(fuzz_path, errbuf);
	if (p != NULL) {
		while ((rc = pcap_next_ex(p, &h, &pkt)) == 1)
			fuzz_mix(&want, &h->ts, pkt, h->caplen, h->len);
		wrc = rc == PCAP_ERROR_BREAK ? 1 : -1;
		pcap_close(p);
	}

	memset(&cfg, 0, sizeof cfg);
	cfg.file = fuzz_path;
	cfg.snaplen = 262144;
	if (capture_open(&cfg, &c, &why) != 0) {
		free(why);
		return 0; /* e.g. a link type smtpscope does not decode */
	}
	if (p == NULL)
		fuzz_fail("capture_open opened what libpcap refused");
	fuzz_pk.head = fuzz_pk.n = 0;
	capture_set_peek(c, fuzz_peek, &fuzz_pk);
	for (n = 0; n < 100000; n++) {
		rc = capture_loop(c, fuzz_packet, &got, 0, &why);
		free(why);
		why = NULL;
		if (rc != 0)
			break;
	}
	capture_close(c);
	if (rc != wrc)
		fuzz_fail("the end differs from libpcap's");
	if (got.n != want.n || got.hash != want.hash)
		fuzz_fail("the packets differ from libpcap's");
	if (fuzz_pk.n != 0)
		fuzz_fail("a packet peeked at was not delivered after");
	return 0;
}
