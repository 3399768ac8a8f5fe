/*
 * reasm: one direction of a TCP byte stream, delivered in sequence order.
 *
 * Positions are 64-bit stream offsets: next_off counts every byte delivered
 * or declared missing since the ISN, and a segment's offset is next_off plus
 * SEQ_DIFF(seq, next_seq).  Sequence numbers are never compared directly, so
 * the 2^32 wrap is invisible here.
 *
 * Held (out-of-order) segments live in a red-black tree keyed by offset.
 * A sorted list would be simpler, but its insertion is linear in the number
 * of held segments, and a peer (or a lossy capture) can make that number
 * large: 1 MiB of 1-byte segments would make every insertion walk ~16000
 * nodes.  The tree keeps insertion and lookup logarithmic (Suricata keeps
 * its segments in a tree for the same reason).
 *
 * Invariants: held segments never overlap each other and all start after
 * next_off (a hole precedes the first one).  First copy wins: a new segment
 * only fills the parts of its range that nothing held or delivered covers,
 * so bytes, once seen, never change.  ooo_mem (payload plus a fixed
 * overhead per segment) never exceeds ooo_max, and what is held is charged
 * to the caller's global budget.  In-order data with nothing held is handed
 * to ops->data straight from the packet, without a copy.
 */
#include "config.h"

#include "reasm.h"

#include <stdlib.h>
#include <string.h>

#include "seq.h"
#include "xmalloc.h"

struct reasm_seg {
	RB_ENTRY(reasm_seg) entry;
	uint64_t off; /* stream offset of the first byte */
	size_t len;
	bool missing;	   /* on the wire but not captured: no data */
	struct timeval ts; /* when it was captured: delivered with that time */
	uint8_t data[];
};

static int
reasm_seg_cmp(const struct reasm_seg *a, const struct reasm_seg *b)
{
	if (a->off < b->off)
		return -1;
	return a->off > b->off;
}

/* libbsd leaves __unused undefined (a Linux header uses the name for a
   struct member), and its static tree functions need it. */
#ifndef __unused
#define __unused __attribute__((__unused__))
#define REASM_UNDEF_UNUSED
#endif
RB_GENERATE_STATIC(reasm_tree, reasm_seg, entry, reasm_seg_cmp)
#ifdef REASM_UNDEF_UNUSED
#undef __unused
#undef REASM_UNDEF_UNUSED
#endif

struct reasm_ctx {
	struct reasm *r;
	const struct timeval *ts;
	const struct reasm_ops *ops;
	void *arg;
	size_t *global_left;
};

void
reasm_init(struct reasm *r, size_t ooo_max)
{
	memset(r, 0, sizeof *r);
	RB_INIT(&r->segs);
	r->ooo_max = ooo_max;
}

static size_t
reasm_seg_cost(const struct reasm_seg *s)
{
	return (s->missing ? 0 : s->len) + REASM_SEG_OVERHEAD;
}

static void
reasm_seg_free(struct reasm *r, struct reasm_seg *s, size_t *global_left)
{
	size_t cost = reasm_seg_cost(s);

	RB_REMOVE(reasm_tree, &r->segs, s);
	r->nsegs--;
	if (!s->missing)
		r->ooo_bytes -= s->len;
	r->ooo_mem -= cost;
	if (global_left != NULL)
		*global_left += cost;
	free(s);
}

void
reasm_clear(struct reasm *r)
{
	struct reasm_seg *s;

	while ((s = RB_MIN(reasm_tree, &r->segs)) != NULL)
		reasm_seg_free(r, s, NULL);
}

void
reasm_set_isn(struct reasm *r, uint32_t next_seq)
{
	if (r->next_off != 0 || r->nsegs != 0)
		return;
	r->have_isn = true;
	r->next_seq = next_seq;
}

/* Hand len bytes at next_off to the consumer (data NULL: missing bytes). */
static void
reasm_emit_at(struct reasm_ctx *c, const uint8_t *data, uint64_t len,
    const struct timeval *ts)
{
	struct reasm *r = c->r;

	if (len == 0)
		return;
	r->next_off += len;
	r->next_seq += (uint32_t)len;
	if (data == NULL) {
		r->gaps += len;
		c->ops->gap(c->arg, len, c->ts);
	} else {
		r->delivered += len;
		c->ops->data(c->arg, data, (size_t)len, ts);
	}
}

static void
reasm_emit(struct reasm_ctx *c, const uint8_t *data, uint64_t len)
{
	reasm_emit_at(c, data, len, c->ts);
}

/*
 * Deliver everything contiguous at next_off: held segments, and the part of
 * the new segment [start, end) (data, may be NULL) that they do not cover.
 * Held bytes come first where both cover an offset (first copy wins).
 */
static void
reasm_deliver(
    struct reasm_ctx *c, uint64_t start, uint64_t end, const uint8_t *data)
{
	struct reasm *r = c->r;
	struct reasm_seg *s;
	uint64_t lim, skip;

	for (;;) {
		s = RB_MIN(reasm_tree, &r->segs);
		if (s != NULL && s->off <= r->next_off) {
			if (s->off + s->len > r->next_off) {
				skip = r->next_off - s->off;
				/* Held bytes keep the time they were seen:
				   a command held behind a lost segment was
				   still sent then (latencies run from it). */
				reasm_emit_at(c,
				    s->missing ? NULL : s->data + skip,
				    s->len - skip, s->missing ? c->ts : &s->ts);
			}
			reasm_seg_free(r, s, c->global_left);
			continue;
		}
		if (start <= r->next_off && r->next_off < end) {
			lim = end;
			if (s != NULL && s->off < lim)
				lim = s->off;
			reasm_emit(c,
			    data == NULL ? NULL : data + (r->next_off - start),
			    lim - r->next_off);
			continue;
		}
		break;
	}
}

/*
 * Walk the parts of [start, end) that no held segment covers.  Returns what
 * holding them would cost; with store, holds them (copies of data).
 */
static size_t
reasm_walk(struct reasm *r, uint64_t start, uint64_t end, const uint8_t *data,
    const struct timeval *ts, bool store, size_t *global_left)
{
	struct reasm_seg key, *s, *p, *n;
	uint64_t pos = start, pend;
	size_t cost = 0, plen;

	key.off = start;
	s = RB_NFIND(reasm_tree, &r->segs, &key);
	p = s != NULL ? RB_PREV(reasm_tree, &r->segs, s)
		      : RB_MAX(reasm_tree, &r->segs);
	if (p != NULL && p->off + p->len > pos)
		s = p;
	while (pos < end) {
		if (s != NULL && s->off <= pos) {
			if (s->off + s->len > pos)
				pos = s->off + s->len;
			s = RB_NEXT(reasm_tree, &r->segs, s);
			continue;
		}
		pend = end;
		if (s != NULL && s->off < pend)
			pend = s->off;
		plen = (size_t)(pend - pos);
		cost += (data == NULL ? 0 : plen) + REASM_SEG_OVERHEAD;
		if (store) {
			/* plen is bounded: the caller checked cost against
			   the caps before storing. */
			n = xmalloc(sizeof *n + (data == NULL ? 0 : plen));
			n->off = pos;
			n->len = plen;
			n->missing = data == NULL;
			n->ts = *ts;
			if (data != NULL) {
				memcpy(n->data, data + (pos - start), plen);
				r->ooo_bytes += plen;
			}
			RB_INSERT(reasm_tree, &r->segs, n);
			r->nsegs++;
			r->ooo_mem += reasm_seg_cost(n);
			if (global_left != NULL)
				*global_left -= reasm_seg_cost(n);
		}
		pos = pend;
	}
	return cost;
}

static bool
reasm_fits(const struct reasm *r, size_t need, const size_t *global_left)
{
	if (r->ooo_mem > r->ooo_max || need > r->ooo_max - r->ooo_mem)
		return false;
	return global_left == NULL || need <= *global_left;
}

/* The offset of the FIN, or UINT64_MAX when none. */
static uint64_t
reasm_fin_off(const struct reasm *r)
{
	int32_t d;

	if (!r->fin_seen)
		return UINT64_MAX;
	d = SEQ_DIFF(r->fin_seq, r->next_seq);
	if (d <= 0)
		return r->next_off;
	return r->next_off + (uint64_t)d;
}

void
reasm_insert(struct reasm *r, uint32_t seq, const uint8_t *data, size_t len,
    const struct timeval *ts, const struct reasm_ops *ops, void *arg,
    size_t *global_left, bool *capped)
{
	struct reasm_ctx c = {r, ts, ops, arg, global_left};
	struct reasm_seg *s;
	uint64_t start, end, fin_off, hole_end, back;
	int32_t diff;
	size_t need;

	if (len == 0)
		return;
	if (!r->have_isn) {
		r->have_isn = true;
		r->next_seq = seq;
	}
	diff = SEQ_DIFF(seq, r->next_seq);

	/* The common case: the next bytes, nothing waiting, no FIN. */
	if (diff == 0 && r->nsegs == 0 && !r->fin_seen) {
		reasm_emit(&c, data, len);
		return;
	}

	if (diff > 0 && (uint32_t)diff > REASM_AHEAD_MAX) {
		r->dropped += len;
		return;
	}
	if (diff < 0) {
		back = (uint64_t) - (int64_t)diff;
		if (back >= len)
			return; /* all delivered already: a retransmission */
		if (data != NULL)
			data += back;
		len -= (size_t)back;
		start = r->next_off;
	} else
		start = r->next_off + (uint64_t)diff;
	end = start + len;

	fin_off = reasm_fin_off(r);
	if (end > fin_off) {
		/* Nothing follows a FIN (RFC 9293 section 3.10.7.4). */
		r->dropped += end - (start > fin_off ? start : fin_off);
		end = fin_off;
		if (end <= start)
			return;
	}

	for (;;) {
		reasm_deliver(&c, start, end, data);
		if (r->next_off >= end)
			return;
		/* Here start > next_off: a hole precedes the new bytes. */
		need = reasm_walk(r, start, end, data, ts, false, NULL);
		if (need == 0)
			return; /* held copies cover it all */
		if (reasm_fits(r, need, global_left)) {
			reasm_walk(r, start, end, data, ts, true, global_left);
			return;
		}
		/* A cap: the earliest hole becomes a gap; what follows it
		   is delivered and frees room.  Each round moves next_off
		   forward, so the loop ends. */
		if (capped != NULL)
			*capped = true;
		hole_end = start;
		s = RB_MIN(reasm_tree, &r->segs);
		if (s != NULL && s->off < hole_end)
			hole_end = s->off;
		reasm_emit(&c, NULL, hole_end - r->next_off);
	}
}

bool
reasm_skip_gap(struct reasm *r, const struct timeval *ts,
    const struct reasm_ops *ops, void *arg, size_t *global_left)
{
	struct reasm_ctx c = {r, ts, ops, arg, global_left};
	struct reasm_seg *s;

	s = RB_MIN(reasm_tree, &r->segs);
	if (s == NULL)
		return false;
	if (s->off > r->next_off)
		reasm_emit(&c, NULL, s->off - r->next_off);
	reasm_deliver(&c, 0, 0, NULL);
	return true;
}

uint64_t
reasm_ack(struct reasm *r, uint32_t ack, bool final, const struct timeval *ts,
    const struct reasm_ops *ops, void *arg, size_t *global_left)
{
	struct reasm_ctx c = {r, ts, ops, arg, global_left};
	struct reasm_seg *s;
	uint64_t ack_off, bound, hole_end, before = r->gaps;
	int32_t diff;

	if (!r->have_isn)
		return 0;
	diff = SEQ_DIFF(ack, r->next_seq);
	if (diff <= 0 || (uint32_t)diff > REASM_AHEAD_MAX)
		return 0;
	ack_off = r->next_off + (uint64_t)diff;
	/* The FIN takes a sequence number but carries no byte. */
	bound = reasm_fin_off(r);
	if (!final && !r->fin_seen) {
		/* Only up to what is held: bytes after it may still come. */
		s = RB_MAX(reasm_tree, &r->segs);
		if (s == NULL)
			return 0;
		bound = s->off + s->len;
	}
	if (ack_off > bound)
		ack_off = bound;
	while (r->next_off < ack_off) {
		s = RB_MIN(reasm_tree, &r->segs);
		hole_end = ack_off;
		if (s != NULL && s->off < hole_end)
			hole_end = s->off;
		if (hole_end > r->next_off)
			reasm_emit(&c, NULL, hole_end - r->next_off);
		reasm_deliver(&c, 0, 0, NULL);
	}
	return r->gaps - before;
}

void
reasm_fin(struct reasm *r, uint32_t fin_seq)
{
	if (r->fin_seen)
		return;
	if (!r->have_isn) {
		/* A FIN with no data before it: it marks the stream's end. */
		r->have_isn = true;
		r->next_seq = fin_seq;
	}
	r->fin_seen = true;
	r->fin_seq = fin_seq;
}

bool
reasm_done(const struct reasm *r)
{
	return r->fin_seen && SEQ_GEQ(r->next_seq, r->fin_seq);
}

size_t
reasm_pending(const struct reasm *r)
{
	return r->ooo_mem;
}
