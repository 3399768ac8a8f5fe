#ifndef SMTPSCOPE_REASM_H
#define SMTPSCOPE_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

/*
 * One direction of a TCP stream: delivers bytes in sequence order.  Out of
 * order segments wait in a sorted structure, retransmissions and overlaps
 * are resolved first-copy-wins, sequence numbers wrap safely (seq.h).  A hole
 * that does not fill becomes a gap (reasm_skip_gap) and delivery resumes.
 */

/* Buffered out-of-order bytes per direction (default cap). */
#define REASM_OOO_MAX_DEFAULT (1024 * 1024)

struct reasm_ops {
	/* In-order bytes; data borrowed for the call. */
	void (*data)(void *arg, const uint8_t *data, size_t len,
	    const struct timeval *ts);
	/* bytes missing before the next delivered byte. */
	void (*gap)(void *arg, uint64_t bytes, const struct timeval *ts);
};

struct reasm_seg;

struct reasm {
	bool have_isn;		/* next_seq is valid */
	uint32_t next_seq;	/* the next byte to deliver */
	bool fin_seen;
	uint32_t fin_seq;
	size_t ooo_bytes;	/* bytes held out of order */
	size_t ooo_max;
	uint64_t delivered;	/* bytes delivered so far */
	uint64_t gaps;		/* bytes declared missing */
	void *segs;		/* private: sorted pending segments */
	size_t nsegs;
};

/* ooo_max: the cap on buffered bytes for this direction. */
void reasm_init(struct reasm *, size_t ooo_max);
/* Release held segments (does not deliver). */
void reasm_clear(struct reasm *);
/* Set the initial sequence number (from SYN: isn = seq + 1). */
void reasm_set_isn(struct reasm *, uint32_t next_seq);

/*
 * Insert a segment.  Delivers whatever becomes contiguous through ops.
 * When the out-of-order cap would be exceeded, the earliest hole is declared
 * a gap (ops->gap) so memory stays bounded; *capped is set to true then.
 * global_left, when not NULL, is the table-wide budget of out-of-order
 * bytes: it is decremented and incremented as bytes are held and released.
 */
void reasm_insert(struct reasm *, uint32_t seq, const uint8_t *data,
    size_t len, const struct timeval *ts, const struct reasm_ops *, void *arg,
    size_t *global_left, bool *capped);
/* Give up on the current hole: report it as a gap and deliver what follows.
   Returns true when something was pending. */
bool reasm_skip_gap(struct reasm *, const struct timeval *ts,
    const struct reasm_ops *, void *arg, size_t *global_left);
/* Held bytes (for the global cap). */
size_t reasm_pending(const struct reasm *);

#endif
