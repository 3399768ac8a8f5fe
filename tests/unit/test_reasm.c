/*
 * Unit tests of reasm: crafted segments against one direction.  The
 * consumer records a transcript where delivered bytes appear as they are and
 * a gap of N bytes appears as "[N]", so each test asserts the exact output.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "reasm.h"
#include "seq.h"

struct rec {
	char out[65536];
	size_t len;
	unsigned ncalls;
	const uint8_t *last_ptr; /* where the last data came from */
	uint64_t gap_bytes;
	long ts_sec[16]; /* the time each delivery carried */
};

static void
rec_data(void *arg, const uint8_t *data, size_t len, const struct timeval *ts)
{
	struct rec *r = arg;

	assert_true(len > 0);
	assert_true(r->len + len < sizeof r->out);
	if (r->ncalls < 16)
		r->ts_sec[r->ncalls] = (long)ts->tv_sec;
	memcpy(r->out + r->len, data, len);
	r->len += len;
	r->out[r->len] = '\0';
	r->ncalls++;
	r->last_ptr = data;
}

static void
rec_gap(void *arg, uint64_t bytes, const struct timeval *ts)
{
	struct rec *r = arg;
	int n;

	(void)ts;
	assert_true(bytes > 0);
	n = snprintf(r->out + r->len, sizeof r->out - r->len, "[%llu]",
	    (unsigned long long)bytes);
	r->len += (size_t)n;
	r->ncalls++;
	r->gap_bytes += bytes;
}

static const struct reasm_ops rec_ops = {rec_data, rec_gap};
static const struct timeval ts0 = {1000, 0};

struct fix {
	struct reasm r;
	struct rec rec;
	size_t global;
	bool capped;
};

static void
put(struct fix *f, uint32_t seq, const char *s)
{
	reasm_insert(&f->r, seq, (const uint8_t *)s, strlen(s), &ts0, &rec_ops,
	    &f->rec, &f->global, &f->capped);
}

static struct fix *
fix_new(uint32_t isn, size_t ooo_max, size_t global)
{
	struct fix *f = calloc(1, sizeof *f);

	assert_non_null(f);
	reasm_init(&f->r, ooo_max);
	reasm_set_isn(&f->r, isn);
	f->global = global;
	return f;
}

static void
fix_free(struct fix *f, size_t global)
{
	f->global += reasm_pending(&f->r);
	reasm_clear(&f->r);
	assert_int_equal(f->r.nsegs, 0);
	assert_int_equal(f->r.ooo_bytes, 0);
	assert_int_equal(f->r.ooo_mem, 0);
	/* every held byte went back to the global budget */
	assert_int_equal(f->global, global);
	free(f);
}

#define BIG ((size_t)1 << 30)

static void
test_in_order(void **state)
{
	struct fix *f = fix_new(1000, REASM_OOO_MAX_DEFAULT, BIG);
	static const char a[] = "EHLO x\r\n", b[] = "MAIL FROM:<a@b>\r\n";

	(void)state;
	reasm_insert(&f->r, 1000, (const uint8_t *)a, 8, &ts0, &rec_ops,
	    &f->rec, &f->global, &f->capped);
	/* delivered straight from the packet buffer, no copy */
	assert_ptr_equal(f->rec.last_ptr, (const uint8_t *)a);
	reasm_insert(&f->r, 1008, (const uint8_t *)b, strlen(b), &ts0, &rec_ops,
	    &f->rec, &f->global, &f->capped);
	assert_ptr_equal(f->rec.last_ptr, (const uint8_t *)b);
	assert_string_equal(f->rec.out, "EHLO x\r\nMAIL FROM:<a@b>\r\n");
	assert_int_equal(f->r.delivered, 25);
	assert_int_equal(f->r.next_seq, 1025);
	assert_int_equal(f->r.next_off, 25);
	assert_int_equal(f->rec.ncalls, 2);
	assert_int_equal(f->r.nsegs, 0);
	assert_false(f->capped);
	fix_free(f, BIG);
}

/* Held bytes are delivered with the time they were captured, not the time
   of the segment that released them: a command held behind a lost
   segment was sent when it was seen. */
static void
test_held_keep_their_time(void **state)
{
	struct fix *f = fix_new(1, REASM_OOO_MAX_DEFAULT, BIG);
	struct timeval t5 = {5, 0}, t9 = {9, 0};

	(void)state;
	reasm_insert(&f->r, 4, (const uint8_t *)"AUTH", 4, &t5, &rec_ops,
	    &f->rec, &f->global, &f->capped);
	reasm_insert(&f->r, 1, (const uint8_t *)"abc", 3, &t9, &rec_ops,
	    &f->rec, &f->global, &f->capped);
	assert_string_equal(f->rec.out, "abcAUTH");
	assert_int_equal(f->rec.ncalls, 2);
	assert_int_equal(f->rec.ts_sec[0], 9);
	assert_int_equal(f->rec.ts_sec[1], 5);
	fix_free(f, BIG);
}

static void
test_reorder(void **state)
{
	struct fix *f = fix_new(1, REASM_OOO_MAX_DEFAULT, BIG);

	(void)state;
	put(f, 9, "GHI");
	put(f, 6, "DEF");
	assert_int_equal(f->rec.len, 0);
	assert_int_equal(f->r.nsegs, 2);
	assert_int_equal(f->r.ooo_bytes, 6);
	assert_int_equal(f->r.ooo_mem, 6 + 2 * REASM_SEG_OVERHEAD);
	assert_int_equal(f->global, BIG - 6 - 2 * REASM_SEG_OVERHEAD);
	put(f, 1, "ab");
	assert_string_equal(f->rec.out, "ab");
	put(f, 3, "c");
	assert_string_equal(f->rec.out, "abc");
	put(f, 4, "de");
	assert_string_equal(f->rec.out, "abcdeDEFGHI");
	assert_int_equal(f->r.nsegs, 0);
	assert_int_equal(f->r.ooo_bytes, 0);
	assert_int_equal(f->global, BIG);
	assert_int_equal(f->r.delivered, 11);
	fix_free(f, BIG);
}

static void
test_duplicate(void **state)
{
	struct fix *f = fix_new(100, REASM_OOO_MAX_DEFAULT, BIG);

	(void)state;
	put(f, 100, "hello ");
	put(f, 100, "hello "); /* retransmission of delivered bytes */
	put(f, 109, "ld");
	put(f, 109, "ld"); /* duplicate of a held segment */
	assert_int_equal(f->r.nsegs, 1);
	assert_int_equal(f->r.ooo_bytes, 2);
	put(f, 106, "wo");
	put(f, 106, "wo");
	put(f, 108, "r");
	assert_string_equal(f->rec.out, "hello world");
	assert_int_equal(f->r.delivered, 11);
	assert_int_equal(f->r.gaps, 0);
	fix_free(f, BIG);
}

static void
test_overlap_first_copy_wins(void **state)
{
	struct fix *f = fix_new(0, REASM_OOO_MAX_DEFAULT, BIG);

	(void)state;
	/* held copies win over a later, larger segment */
	put(f, 4, "BBBB");
	put(f, 10, "C");
	put(f, 0, "xxxxxxxxxxxxxx");
	assert_string_equal(f->rec.out, "xxxxBBBBxxCxxx");
	/* delivered bytes win over a conflicting retransmission */
	put(f, 11, "ZZZef");
	assert_string_equal(f->rec.out, "xxxxBBBBxxCxxxef");
	fix_free(f, BIG);

	/* a new segment overlapping a held one from the left and the right */
	f = fix_new(0, REASM_OOO_MAX_DEFAULT, BIG);
	put(f, 5, "MMM");   /* 5..8 */
	put(f, 3, "LLLLL"); /* 3..8: only 3..5 is new */
	put(f, 7, "RRRR");  /* 7..11: only 8..11 is new */
	assert_int_equal(f->r.nsegs, 3);
	assert_int_equal(f->r.ooo_bytes, 8);
	put(f, 0, "ooo");
	assert_string_equal(f->rec.out, "oooLLMMMRRR");
	fix_free(f, BIG);

	/* a segment spanning several held ones fills only the holes */
	f = fix_new(0, REASM_OOO_MAX_DEFAULT, BIG);
	put(f, 2, "a");
	put(f, 4, "b");
	put(f, 6, "c");
	put(f, 1, "-------"); /* 1..8 */
	assert_int_equal(f->r.nsegs, 7);
	assert_int_equal(f->r.ooo_bytes, 7);
	put(f, 0, "!");
	assert_string_equal(f->rec.out, "!-a-b-c-");
	fix_free(f, BIG);
}

static void
test_wraparound(void **state)
{
	struct fix *f = fix_new(0xfffffffaU, REASM_OOO_MAX_DEFAULT, BIG);

	(void)state;
	/* 0xfffffffa + 6 wraps to 0 */
	put(f, 2, "89");	     /* after the wrap, held */
	put(f, 0xfffffffeU, "4567"); /* crosses 2^32 */
	assert_int_equal(f->rec.len, 0);
	put(f, 0xfffffffaU, "0123");
	assert_string_equal(f->rec.out, "0123456789");
	assert_int_equal(f->r.next_seq, 4);
	assert_int_equal(f->r.next_off, 10);
	/* an old retransmission from before the wrap is ignored */
	put(f, 0xfffffffcU, "XX");
	put(f, 4, "!");
	assert_string_equal(f->rec.out, "0123456789!");
	assert_true(SEQ_GT(5, 0xfffffff0U));
	fix_free(f, BIG);
}

static void
test_gap_then_resume(void **state)
{
	struct fix *f = fix_new(500, REASM_OOO_MAX_DEFAULT, BIG);
	struct timeval ts = {2000, 0};

	(void)state;
	put(f, 500, "220 ok\r\n");
	put(f, 518, "250 later\r\n"); /* 10 bytes at 508 never come */
	assert_string_equal(f->rec.out, "220 ok\r\n");
	assert_false(f->capped);
	assert_true(reasm_skip_gap(&f->r, &ts, &rec_ops, &f->rec, &f->global));
	assert_string_equal(f->rec.out, "220 ok\r\n[10]250 later\r\n");
	assert_int_equal(f->r.gaps, 10);
	assert_int_equal(f->r.delivered, 19);
	/* the missing bytes arriving late change nothing */
	put(f, 508, "0123456789");
	put(f, 529, "221 bye\r\n");
	assert_string_equal(
	    f->rec.out, "220 ok\r\n[10]250 later\r\n221 bye\r\n");
	assert_false(reasm_skip_gap(&f->r, &ts, &rec_ops, &f->rec, &f->global));
	fix_free(f, BIG);
}

static void
test_skip_gap_several(void **state)
{
	struct fix *f = fix_new(0, REASM_OOO_MAX_DEFAULT, BIG);

	(void)state;
	assert_false(
	    reasm_skip_gap(&f->r, &ts0, &rec_ops, &f->rec, &f->global));
	put(f, 3, "b");
	put(f, 4, "c");
	put(f, 8, "d");
	assert_true(reasm_skip_gap(&f->r, &ts0, &rec_ops, &f->rec, &f->global));
	assert_string_equal(f->rec.out, "[3]bc");
	assert_true(reasm_skip_gap(&f->r, &ts0, &rec_ops, &f->rec, &f->global));
	assert_string_equal(f->rec.out, "[3]bc[3]d");
	assert_false(
	    reasm_skip_gap(&f->r, &ts0, &rec_ops, &f->rec, &f->global));
	assert_int_equal(f->r.gaps, 6);
	assert_int_equal(f->r.next_off, 9);
	assert_int_equal(f->global, BIG);
	fix_free(f, BIG);
}

static void
test_cap_per_direction(void **state)
{
	/* room for exactly two held 10-byte segments */
	struct fix *f = fix_new(0, 2 * (10 + REASM_SEG_OVERHEAD), BIG);

	(void)state;
	put(f, 10, "AAAAAAAAAA");
	put(f, 30, "BBBBBBBBBB");
	assert_false(f->capped);
	assert_int_equal(f->r.ooo_mem, 2 * (10 + REASM_SEG_OVERHEAD));
	/* the third does not fit: the hole 0..10 becomes a gap, A is
	   delivered, and C is held in the room it freed */
	put(f, 50, "CCCCCCCCCC");
	assert_true(f->capped);
	assert_string_equal(f->rec.out, "[10]AAAAAAAAAA");
	assert_int_equal(f->r.nsegs, 2);
	assert_int_equal(f->r.ooo_mem, 2 * (10 + REASM_SEG_OVERHEAD));
	/* a segment larger than the whole cap: every hole before it goes */
	f->capped = false;
	put(f, 100,
	    "0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789");
	assert_true(f->capped);
	assert_string_equal(f->rec.out,
	    "[10]AAAAAAAAAA[10]BBBBBBBBBB[10]CCCCCCCCCC[40]"
	    "0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789");
	assert_int_equal(f->r.nsegs, 0);
	assert_int_equal(f->r.gaps, 70);
	assert_int_equal(f->r.delivered, 190);
	fix_free(f, BIG);

	/* ooo_max 0: nothing is ever held */
	f = fix_new(0, 0, BIG);
	put(f, 5, "x");
	assert_true(f->capped);
	assert_string_equal(f->rec.out, "[5]x");
	fix_free(f, BIG);
}

static void
test_cap_global(void **state)
{
	size_t global = 10 + REASM_SEG_OVERHEAD + 5;
	struct fix *f = fix_new(0, REASM_OOO_MAX_DEFAULT, global);
	struct fix *g = fix_new(0, REASM_OOO_MAX_DEFAULT, 0);

	(void)state;
	put(f, 10, "AAAAAAAAAA");
	assert_false(f->capped);
	assert_int_equal(f->global, 5);
	/* another direction sharing the same budget is out of room */
	g->global = f->global;
	reasm_insert(&g->r, 7, (const uint8_t *)"zz", 2, &ts0, &rec_ops,
	    &g->rec, &g->global, &g->capped);
	assert_true(g->capped);
	assert_string_equal(g->rec.out, "[7]zz");
	assert_int_equal(g->global, 5);
	/* the first direction also hits the global cap, which frees A */
	f->global = g->global;
	put(f, 30, "B");
	assert_true(f->capped);
	assert_string_equal(f->rec.out, "[10]AAAAAAAAAA");
	assert_int_equal(f->r.nsegs, 1);
	assert_int_equal(f->global, global - 1 - REASM_SEG_OVERHEAD);
	g->global = 0;
	fix_free(g, 0);
	fix_free(f, global);
}

static void
test_zero_length(void **state)
{
	struct fix *f;
	struct reasm r;
	struct rec rec;

	(void)state;
	memset(&rec, 0, sizeof rec);
	reasm_init(&r, 100);
	/* an empty segment does not set the ISN */
	reasm_insert(
	    &r, 77, (const uint8_t *)"", 0, &ts0, &rec_ops, &rec, NULL, NULL);
	assert_false(r.have_isn);
	/* without an ISN, the first data segment gives it (mid-stream) */
	reasm_insert(
	    &r, 90, (const uint8_t *)"ab", 2, &ts0, &rec_ops, &rec, NULL, NULL);
	assert_true(r.have_isn);
	assert_int_equal(r.next_seq, 92);
	assert_string_equal(rec.out, "ab");
	reasm_clear(&r);

	f = fix_new(0, 100, BIG);
	put(f, 0, "");
	put(f, 50, "");
	assert_int_equal(f->rec.ncalls, 0);
	assert_int_equal(f->r.nsegs, 0);
	assert_int_equal(f->r.next_off, 0);
	fix_free(f, BIG);
}

static void
test_syn_fin_accounting(void **state)
{
	struct fix *f = fix_new(0, REASM_OOO_MAX_DEFAULT, BIG);
	uint32_t syn = 0xfffffffeU;

	(void)state;
	/* SYN at syn takes one number: data starts at syn + 1 */
	reasm_init(&f->r, REASM_OOO_MAX_DEFAULT);
	reasm_set_isn(&f->r, syn + 1);
	assert_int_equal(f->r.next_seq, 0xffffffffU);
	/* the FIN arrives first, after the data it follows */
	reasm_fin(&f->r, syn + 1 + 7);
	assert_false(reasm_done(&f->r));
	put(f, syn + 1 + 4, "\r\n!"); /* ends exactly at the FIN */
	assert_false(reasm_done(&f->r));
	put(f, syn + 1, "QUI");
	assert_false(reasm_done(&f->r));
	put(f, syn + 1 + 3, "T");
	assert_true(reasm_done(&f->r));
	assert_string_equal(f->rec.out, "QUIT\r\n!");
	/* bytes after the FIN are not part of the stream */
	put(f, syn + 1 + 7, "late");
	assert_string_equal(f->rec.out, "QUIT\r\n!");
	assert_int_equal(f->r.dropped, 4);
	/* a second FIN with another number is ignored */
	reasm_fin(&f->r, 5);
	assert_int_equal(f->r.fin_seq, 6);
	fix_free(f, BIG);

	/* data straddling the FIN is cut at it */
	f = fix_new(10, REASM_OOO_MAX_DEFAULT, BIG);
	reasm_fin(&f->r, 13);
	put(f, 10, "abcdef");
	assert_string_equal(f->rec.out, "abc");
	assert_true(reasm_done(&f->r));
	assert_int_equal(f->r.dropped, 3);
	fix_free(f, BIG);

	/* reasm_set_isn is refused once bytes went through */
	f = fix_new(10, REASM_OOO_MAX_DEFAULT, BIG);
	put(f, 10, "x");
	reasm_set_isn(&f->r, 500);
	assert_int_equal(f->r.next_seq, 11);
	fix_free(f, BIG);
}

static void
test_missing_bytes(void **state)
{
	struct fix *f = fix_new(0, REASM_OOO_MAX_DEFAULT, BIG);

	(void)state;
	/* a packet cut by the snapshot length: 3 bytes captured of 8 */
	put(f, 0, "abc");
	reasm_insert(
	    &f->r, 3, NULL, 5, &ts0, &rec_ops, &f->rec, &f->global, &f->capped);
	assert_string_equal(f->rec.out, "abc[5]");
	/* out of order: held as a placeholder, no payload charged */
	reasm_insert(&f->r, 12, NULL, 4, &ts0, &rec_ops, &f->rec, &f->global,
	    &f->capped);
	put(f, 10, "yy");
	assert_int_equal(f->r.ooo_bytes, 2);
	assert_int_equal(f->r.ooo_mem, 2 + 2 * REASM_SEG_OVERHEAD);
	put(f, 8, "xx");
	put(f, 16, "z");
	assert_string_equal(f->rec.out, "abc[5]xxyy[4]z");
	assert_int_equal(f->r.gaps, 9);
	assert_int_equal(f->r.delivered, 8);
	fix_free(f, BIG);
}

static void
test_ack_declares_gap(void **state)
{
	struct fix *f = fix_new(0, REASM_OOO_MAX_DEFAULT, BIG);

	(void)state;
	put(f, 0, "abc");
	/* nothing held: an ACK alone never invents a gap */
	assert_int_equal(
	    reasm_ack(&f->r, 10, false, &ts0, &rec_ops, &f->rec, &f->global),
	    0);
	put(f, 5, "fg");
	put(f, 9, "j");
	/* ACK of 6: 3..5 was received by the peer but not captured */
	assert_int_equal(
	    reasm_ack(&f->r, 6, false, &ts0, &rec_ops, &f->rec, &f->global), 2);
	assert_string_equal(f->rec.out, "abc[2]fg");
	/* ACK far past what is held: only up to the held end */
	assert_int_equal(
	    reasm_ack(&f->r, 50, false, &ts0, &rec_ops, &f->rec, &f->global),
	    2);
	assert_string_equal(f->rec.out, "abc[2]fg[2]j");
	assert_int_equal(f->r.next_seq, 10);
	/* closing: bytes acknowledged but never captured are a gap too */
	assert_int_equal(
	    reasm_ack(&f->r, 15, true, &ts0, &rec_ops, &f->rec, &f->global), 5);
	assert_string_equal(f->rec.out, "abc[2]fg[2]j[5]");
	/* an old ACK does nothing */
	assert_int_equal(
	    reasm_ack(&f->r, 3, true, &ts0, &rec_ops, &f->rec, &f->global), 0);
	fix_free(f, BIG);

	/* with a FIN: the hole before it is bounded, the FIN's own number is
	   not a byte */
	f = fix_new(100, REASM_OOO_MAX_DEFAULT, BIG);
	put(f, 100, "ab");
	reasm_fin(&f->r, 110);
	assert_int_equal(
	    reasm_ack(&f->r, 111, false, &ts0, &rec_ops, &f->rec, &f->global),
	    8);
	assert_string_equal(f->rec.out, "ab[8]");
	assert_true(reasm_done(&f->r));
	fix_free(f, BIG);
}

static void
test_implausible(void **state)
{
	struct fix *f = fix_new(0, REASM_OOO_MAX_DEFAULT, BIG);

	(void)state;
	/* further ahead than any TCP window: not this stream */
	put(f, REASM_AHEAD_MAX + 1, "x");
	assert_int_equal(f->r.nsegs, 0);
	assert_int_equal(f->r.dropped, 1);
	/* half the sequence space away: behind, a very old retransmission */
	put(f, 0x80000001U, "y");
	assert_int_equal(f->r.nsegs, 0);
	put(f, 0, "ok");
	assert_string_equal(f->rec.out, "ok");
	fix_free(f, BIG);
}

static void
test_many_tiny_segments(void **state)
{
	/* 4000 one-byte segments in reverse order: bounded by the cap */
	struct fix *f = fix_new(0, 4000 * (1 + REASM_SEG_OVERHEAD), BIG);
	char expect[4001];
	uint32_t i;
	char c;

	(void)state;
	for (i = 4000; i > 0; i--) {
		c = (char)('a' + i % 26);
		expect[i - 1] = c;
		reasm_insert(&f->r, i - 1, (const uint8_t *)&c, 1, &ts0,
		    &rec_ops, &f->rec, &f->global, &f->capped);
	}
	expect[4000] = '\0';
	assert_false(f->capped);
	assert_string_equal(f->rec.out, expect);
	assert_int_equal(f->r.nsegs, 0);
	fix_free(f, BIG);
}

/* Random segmentation, order, duplication and overlaps of one stream
   (consistent bytes): the output is the stream, whatever the order. */
static void
test_random_orders(void **state)
{
	enum { LEN = 3000, NSEG = 400 };
	static uint8_t stream[LEN];
	struct {
		uint32_t off;
		uint32_t len;
	} seg[NSEG];
	uint32_t isn, i, j, n;
	unsigned round;
	struct fix *f;

	(void)state;
	srand(42);
	for (i = 0; i < LEN; i++)
		stream[i] = (uint8_t)('A' + rand() % 26);
	for (round = 0; round < 50; round++) {
		isn = (uint32_t)rand() * 2654435761U;
		if (round % 5 == 0)
			isn = 0xffffffffU - (uint32_t)(rand() % LEN);
		f = fix_new(isn, REASM_OOO_MAX_DEFAULT, BIG);
		/* cover everything once, then add random overlapping ones */
		for (n = 0, i = 0; i < LEN; n++) {
			seg[n].off = i;
			seg[n].len = 1 + (uint32_t)(rand() % 60);
			if (seg[n].off + seg[n].len > LEN)
				seg[n].len = LEN - seg[n].off;
			i += seg[n].len;
		}
		for (; n < NSEG; n++) {
			seg[n].off = (uint32_t)(rand() % LEN);
			seg[n].len = 1 + (uint32_t)(rand() % 200);
			if (seg[n].off + seg[n].len > LEN)
				seg[n].len = LEN - seg[n].off;
		}
		for (i = NSEG - 1; i > 0; i--) {
			j = (uint32_t)rand() % (i + 1);
			n = seg[i].off;
			seg[i].off = seg[j].off;
			seg[j].off = n;
			n = seg[i].len;
			seg[i].len = seg[j].len;
			seg[j].len = n;
		}
		for (i = 0; i < NSEG; i++)
			reasm_insert(&f->r, isn + seg[i].off,
			    stream + seg[i].off, seg[i].len, &ts0, &rec_ops,
			    &f->rec, &f->global, &f->capped);
		assert_false(f->capped);
		assert_int_equal(f->rec.len, LEN);
		assert_memory_equal(f->rec.out, stream, LEN);
		assert_int_equal(f->r.gaps, 0);
		assert_int_equal(f->r.nsegs, 0);
		fix_free(f, BIG);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_in_order),
	    cmocka_unit_test(test_reorder),
	    cmocka_unit_test(test_held_keep_their_time),
	    cmocka_unit_test(test_duplicate),
	    cmocka_unit_test(test_overlap_first_copy_wins),
	    cmocka_unit_test(test_wraparound),
	    cmocka_unit_test(test_gap_then_resume),
	    cmocka_unit_test(test_skip_gap_several),
	    cmocka_unit_test(test_cap_per_direction),
	    cmocka_unit_test(test_cap_global),
	    cmocka_unit_test(test_zero_length),
	    cmocka_unit_test(test_syn_fin_accounting),
	    cmocka_unit_test(test_missing_bytes),
	    cmocka_unit_test(test_ack_declares_gap),
	    cmocka_unit_test(test_implausible),
	    cmocka_unit_test(test_many_tiny_segments),
	    cmocka_unit_test(test_random_orders),
	};

	return cmocka_run_group_tests_name("reasm", tests, NULL, NULL);
}
