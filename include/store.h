#ifndef SMTPSCOPE_STORE_H
#define SMTPSCOPE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

/*
 * The bounded session store of the UI (main thread): sessions built from
 * events, each with its transcript (the events themselves) and, when kept,
 * its packets.  At most `limit` sessions are kept: the oldest closed ones
 * are evicted first.  Per-session transcripts and packets are capped too.
 */

#define STORE_LIMIT_DEFAULT 10000
#define STORE_EVENTS_PER_SESSION_MAX 20000
#define STORE_PACKET_BYTES_MAX (256u * 1024 * 1024)

struct store_session {
	uint64_t id;
	struct timeval start, last;
	char client[64], server[64];
	char *helo, *mail_from;
	unsigned rcpts;
	char tls[32];		/* "none", "starttls", "decrypted", ... */
	int last_code;
	unsigned n421, n452, n4xx, n5xx;
	bool closed;
	const char *close_reason;
	struct event **events;	/* owned, in order */
	size_t n_events, cap_events;
	bool events_truncated;
	struct event **packets; /* owned EV_PACKET events */
	size_t n_packets, cap_packets;
	int linktype;
};

struct store_stats {
	uint64_t packets, bytes, dropped;
	uint64_t sessions;	/* seen, including evicted */
	uint64_t n421, n452;
	uint64_t evicted;
	struct event *last_stats;
};

struct store;
struct store *store_new(size_t limit);
void store_free(struct store *);
/* Takes ev.  Returns the session it changed, or NULL. */
struct store_session *store_add_take(struct store *, struct event *ev);
size_t store_count(const struct store *);
/* i from 0 (oldest kept) to store_count()-1. */
struct store_session *store_at(const struct store *, size_t i);
struct store_session *store_find(const struct store *, uint64_t id);
const struct store_stats *store_stats(const struct store *);
/* Per-code counts and per-minute 421/452, for the statistics view. */
size_t store_code_counts(const struct store *, struct event_code_count *out,
    size_t max);

#endif
