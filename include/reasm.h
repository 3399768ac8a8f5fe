#ifndef SMTPSCOPE_REASM_H
#define SMTPSCOPE_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include <bsd/sys/tree.h>

/*
 * One direction of a TCP stream: delivers bytes in sequence order.  Out of
 * order segments wait in a sorted structure, retransmissions and overlaps
 * are resolved first-copy-wins, sequence numbers wrap safely (seq.h).  A hole
 * that does not fill becomes a gap (reasm_skip_gap) and delivery resumes.
 *
 * Positions inside the structure are 64-bit stream offsets (bytes since the
 * initial sequence number), derived from sequence numbers with SEQ_DIFF
 * against next_seq only; so the sorted tree never compares raw sequence
 * numbers and stays consistent across the 2^32 wrap.
 */

/* Buffered out-of-order bytes per direction (default cap). */
#define REASM_OOO_MAX_DEFAULT (1024 * 1024)
/* What one held segment costs beyond its payload (node and allocator
   overhead), charged against the caps so that a flood of 1-byte segments
   is bounded as well as a few large ones. */
#define REASM_SEG_OVERHEAD 64
/* A segment starting further ahead than this is not part of the stream
   (a TCP window is at most 1 GiB, RFC 7323 section 2.3): dropped. */
#define REASM_AHEAD_MAX (1u << 30)

struct reasm_ops {
	/* In-order bytes; data borrowed for the call. */
	void (*data)(void *arg, const uint8_t *data, size_t len,
	    const struct timeval *ts);
	/* bytes missing before the next delivered byte. */
	void (*gap)(void *arg, uint64_t bytes, const struct timeval *ts);
};

struct reasm_seg;
RB_HEAD(reasm_tree, reasm_seg);

struct reasm {
	bool have_isn;	   /* next_seq is valid */
	uint32_t next_seq; /* the next byte to deliver */
	uint64_t next_off; /* its stream offset (delivered + gaps) */
	bool fin_seen;
	uint32_t fin_seq; /* sequence number of the FIN itself */
	size_t ooo_bytes; /* payload bytes held out of order */
	size_t ooo_mem;	  /* what is charged to the caps: payload plus
			     REASM_SEG_OVERHEAD per held segment */
	size_t ooo_max;
	uint64_t delivered;	/* bytes delivered so far */
	uint64_t gaps;		/* bytes declared missing */
	uint64_t dropped;	/* bytes of segments ignored as implausible
				   (too far ahead, after the FIN) */
	struct reasm_tree segs; /* private: sorted, non-overlapping */
	size_t nsegs;
};

/* ooo_max: the cap on buffered bytes for this direction. */
void reasm_init(struct reasm *, size_t ooo_max);
/* Release held segments (does not deliver).  The caller gives
   reasm_pending() back to its global budget before calling this. */
void reasm_clear(struct reasm *);
/* Set the initial sequence number (from SYN: isn = seq + 1).  Only before
   anything was delivered or held; ignored otherwise. */
void reasm_set_isn(struct reasm *, uint32_t next_seq);

/*
 * Insert a segment.  Delivers whatever becomes contiguous through ops.
 * When the out-of-order cap would be exceeded, the earliest hole is declared
 * a gap (ops->gap) so memory stays bounded; *capped is set to true then.
 * global_left, when not NULL, is the table-wide budget of out-of-order
 * bytes: it is decremented and incremented as bytes are held and released.
 *
 * Without an ISN yet (mid-stream pickup), seq becomes the ISN.  data NULL
 * with len > 0 marks bytes that were on the wire but not captured (snapshot
 * length): they are delivered as a gap in their turn.  In-order data with
 * nothing held is delivered straight from data, without a copy.
 */
void reasm_insert(struct reasm *, uint32_t seq, const uint8_t *data, size_t len,
    const struct timeval *ts, const struct reasm_ops *, void *arg,
    size_t *global_left, bool *capped);
/* Give up on the current hole: report it as a gap and deliver what follows.
   Returns true when something was pending. */
bool reasm_skip_gap(struct reasm *, const struct timeval *ts,
    const struct reasm_ops *, void *arg, size_t *global_left);
/*
 * The receiver acknowledged everything before ack: a hole before ack will
 * never be retransmitted, the capture missed it.  Declares such holes gaps
 * and delivers what follows.  Unless final, it acts only when the hole is
 * bounded (segments held after it, or the FIN seen), so that an ACK alone
 * never invents gaps.  final (the flow is closing) also reports bytes
 * acknowledged after the last captured byte.  Returns the gap bytes.
 */
uint64_t reasm_ack(struct reasm *, uint32_t ack, bool final,
    const struct timeval *ts, const struct reasm_ops *, void *arg,
    size_t *global_left);
/* Record a FIN at fin_seq (the sequence number it occupies); the first one
   counts.  Later data beyond it is dropped. */
void reasm_fin(struct reasm *, uint32_t fin_seq);
/* A FIN was seen and every byte before it was delivered (or declared a
   gap). */
bool reasm_done(const struct reasm *);
/* Held bytes as charged to the caps (for the global cap). */
size_t reasm_pending(const struct reasm *);

#endif
