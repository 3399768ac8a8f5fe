/*
 * fuzz_reasm: libFuzzer target for TCP reassembly (reasm.c), both
 * directions of a connection sharing one budget, checked against a model.
 *
 * The content of a stream is a function of the sequence number (and the
 * direction), so any segment at any sequence number carries the bytes the
 * sender "sent" there; a segment of the second variant carries their
 * complement, to make overlaps disagree.  Every byte delivered must be the
 * model's byte at its sequence number (or, when complements were sent, its
 * complement): the bytes delivered are exactly the bytes sent wherever no
 * hole was declared.  After each operation the counters must agree
 * (delivered + gaps = next offset, caps respected, the shared budget
 * balanced).  When the input used only plain, captured segments inside the
 * first 64 KiB and no cap, ACK, FIN or skipped gap intervened, what is
 * delivered must be exactly the covered prefix, without gaps.
 *
 * Input: byte 0 flags (bit 0: set the ISN; bit 1: ISN just before the
 * 2^32 wrap; bits 2-3: cap per direction), bytes 1-4 the ISN, then
 * operations, each an op byte and operands:
 *
 *	op & 7 = 0..3: insert; op & 3 picks the offset kind (0, 3: offset
 *	         from the ISN; 1: before the ISN; 2: near REASM_AHEAD_MAX),
 *	         operands offset (16 bits) and length (8 bits, times 16 when
 *	         op bit 6); op bit 4: complement, bit 5: not captured
 *	4: skip gap; 5: ACK at offset (16 bits), final when op bit 4;
 *	6: FIN at offset (16 bits); 7: nothing
 *
 * op bit 3 is the direction.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reasm.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_SPAN 65536
#define FUZZ_SEG_MAX (255 * 16)
#define FUZZ_GLOBAL (12 * 1024)

struct fuzz_side {
	struct reasm r;
	int dir;
	bool isn_known;
	uint32_t isn; /* sequence number of stream offset 0 */
	uint64_t pos; /* offset after what the callbacks reported */
	bool complements;
	/* Offsets [0, FUZZ_SPAN + FUZZ_SEG_MAX) sent, for the strict check */
	uint8_t covered[(FUZZ_SPAN + FUZZ_SEG_MAX) / 8];
};

static void
fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz_reasm: model check failed: %s\n", what);
	abort();
}

static uint8_t
fuzz_byte(int dir, uint32_t seq)
{
	return (uint8_t)(((seq * 2654435761u) >> 13) ^ (dir ? 0x5a : 0));
}

static void
fuzz_data(void *arg, const uint8_t *data, size_t len, const struct timeval *ts)
{
	struct fuzz_side *s = arg;
	uint32_t seq = s->r.next_seq - (uint32_t)len;
	uint8_t want;
	size_t i;

	(void)ts;
	if (len == 0)
		fuzz_fail("empty delivery");
	for (i = 0; i < len; i++) {
		want = fuzz_byte(s->dir, seq + (uint32_t)i);
		if (data[i] != want &&
		    !(s->complements && data[i] == (uint8_t)~want))
			fuzz_fail("a delivered byte was never sent there");
	}
	s->pos += len;
}

static void
fuzz_gap(void *arg, uint64_t bytes, const struct timeval *ts)
{
	struct fuzz_side *s = arg;

	(void)ts;
	if (bytes == 0)
		fuzz_fail("empty gap");
	s->pos += bytes;
}

static const struct reasm_ops fuzz_ops = {fuzz_data, fuzz_gap};

static void
fuzz_check(struct fuzz_side *sd, size_t global_left)
{
	size_t held = 0;
	int i;

	for (i = 0; i < 2; i++) {
		struct fuzz_side *s = &sd[i];
		struct reasm *r = &s->r;

		if (r->delivered + r->gaps != r->next_off)
			fuzz_fail("delivered + gaps != next offset");
		if (s->pos != r->next_off)
			fuzz_fail("callbacks disagree with next offset");
		if (r->ooo_mem > r->ooo_max)
			fuzz_fail("over the cap");
		if ((r->nsegs == 0) != (r->ooo_mem == 0) ||
		    r->ooo_bytes > r->ooo_mem)
			fuzz_fail("held bytes miscounted");
		if (r->have_isn) {
			if (!s->isn_known) {
				s->isn_known = true;
				s->isn = r->next_seq - (uint32_t)r->next_off;
			} else if (s->isn + (uint32_t)r->next_off !=
				   r->next_seq)
				fuzz_fail("next_seq moved apart from next_off");
		}
		held += reasm_pending(r);
	}
	if (global_left + held != FUZZ_GLOBAL)
		fuzz_fail("shared budget unbalanced");
}

static void
fuzz_cover(struct fuzz_side *s, uint64_t off, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		s->covered[(off + i) / 8] |= (uint8_t)(1u << ((off + i) % 8));
}

static uint64_t
fuzz_prefix(const struct fuzz_side *s)
{
	uint64_t i;

	for (i = 0; i < FUZZ_SPAN + FUZZ_SEG_MAX; i++)
		if (!(s->covered[i / 8] >> (i % 8) & 1))
			break;
	return i;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t caps[] = {512, 2048, 8192, 65536};
	static struct fuzz_side sd[2];
	static uint8_t buf[FUZZ_SEG_MAX];
	struct timeval ts = {1700000000, 0};
	size_t global_left = FUZZ_GLOBAL, off = 5, len, i;
	bool strict, capped = false;
	uint32_t isn, seq, base;
	uint8_t op, flags;
	int d;
	struct fuzz_side *s;

	if (size < 5)
		return 0;
	flags = data[0];
	isn = (uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 |
	      (uint32_t)data[3] << 8 | data[4];
	if (flags & 2)
		isn |= 0xffff0000u;
	strict = (flags & 1) != 0;
	for (d = 0; d < 2; d++) {
		memset(&sd[d], 0, sizeof sd[d]);
		sd[d].dir = d;
		reasm_init(&sd[d].r, caps[(flags >> 2) & 3]);
		if (flags & 1)
			reasm_set_isn(
			    &sd[d].r, isn + (uint32_t)d * 0x10000000u);
	}
	while (off < size) {
		op = data[off++];
		s = &sd[(op >> 3) & 1];
		/* Offsets count from the ISN; before it is known, from the
		   value it would have. */
		base = s->r.have_isn ? s->isn
				     : isn + (uint32_t)s->dir * 0x10000000u;
		if (s->r.have_isn && !s->isn_known)
			base = s->r.next_seq - (uint32_t)s->r.next_off;
		switch (op & 7) {
		case 0:
		case 1:
		case 2:
		case 3:
			if (size - off < 3)
				goto out;
			seq = (uint32_t)data[off] << 8 | data[off + 1];
			len = data[off + 2];
			off += 3;
			if (op & 0x40)
				len *= 16;
			if ((op & 3) == 1) {
				/* Only its part from the ISN on is new. */
				if (!(op & 0x20) && seq + len > FUZZ_SPAN)
					fuzz_cover(s, 0, seq + len - FUZZ_SPAN);
				seq -= FUZZ_SPAN;
			} else if ((op & 3) == 2) {
				seq += REASM_AHEAD_MAX - FUZZ_SPAN / 2;
				strict = false;
			} else if (!(op & 0x20))
				fuzz_cover(s, seq, len);
			seq += base;
			if (op & 0x10)
				s->complements = true;
			if (op & 0x20)
				strict = false;
			for (i = 0; i < len; i++) {
				uint8_t b =
				    fuzz_byte(s->dir, seq + (uint32_t)i);

				buf[i] = (op & 0x10) ? (uint8_t)~b : b;
			}
			reasm_insert(&s->r, seq, (op & 0x20) ? NULL : buf, len,
			    &ts, &fuzz_ops, s, &global_left, &capped);
			break;
		case 4:
			reasm_skip_gap(&s->r, &ts, &fuzz_ops, s, &global_left);
			strict = false;
			break;
		case 5:
		case 6:
			if (size - off < 2)
				goto out;
			seq = base + ((uint32_t)data[off] << 8 | data[off + 1]);
			off += 2;
			if ((op & 7) == 5)
				reasm_ack(&s->r, seq, (op & 0x10) != 0, &ts,
				    &fuzz_ops, s, &global_left);
			else
				reasm_fin(&s->r, seq);
			strict = false;
			break;
		default:
			break;
		}
		fuzz_check(sd, global_left);
		ts.tv_usec += 1000;
	}
out:
	for (d = 0; d < 2; d++) {
		s = &sd[d];
		if (strict && !capped &&
		    (s->r.next_off != fuzz_prefix(s) || s->r.gaps != 0))
			fuzz_fail(
			    "a contiguous stream was not delivered whole");
		global_left += reasm_pending(&s->r);
		reasm_clear(&s->r);
	}
	return 0;
}
