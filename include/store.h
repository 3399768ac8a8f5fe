#ifndef SMTPSCOPE_STORE_H
#define SMTPSCOPE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bsd/sys/queue.h>

#include "event.h"

/*
 * The bounded session store of the UI (main thread): sessions built from
 * events, each with its transcript (the events themselves) and, when kept,
 * its packets.  At most `limit` sessions are kept: the one that closed
 * longest ago is evicted first (the oldest open one when none is closed).
 * Per-session transcripts and packets are capped too, and so are packets in
 * total; every cap hit is counted in store_stats.
 *
 * The statistics (codes, 421/452 per minute, top hosts by 4xx) are counted
 * as events arrive, so they cover evicted sessions too.
 *
 * Not thread-safe: owned by the main thread.
 */

#define STORE_LIMIT_DEFAULT 10000
#define STORE_EVENTS_PER_SESSION_MAX 20000
#define STORE_PACKETS_PER_SESSION_MAX 50000
#define STORE_PACKET_BYTES_PER_SESSION_MAX (32u * 1024 * 1024)
#define STORE_PACKET_BYTES_MAX (256u * 1024 * 1024)
/* Recipients remembered per session for the filter (bytes). */
#define STORE_RCPT_TEXT_MAX 2048
/* Minutes of 421/452 history (a ring: one day). */
#define STORE_MINUTES 1440
/* Distinct hosts counted for the "top by 4xx" tables. */
#define STORE_HOSTS_MAX 4096
#define STORE_CODE_MAX 600
/* Servers named in the table of connection attempts without a handshake;
   the others are summed in one row (server ""). */
#define STORE_HALF_MAX 32

struct store_session {
	/*
	 * What the list's filter and layout read for every session come
	 * first, together: walking 100,000 sessions is mostly waiting for
	 * memory, so each should cost as few cache lines as possible.
	 */
	uint64_t id;
	unsigned flags;
#define STORE_F_421 0x01
#define STORE_F_452 0x02
#define STORE_F_GAP 0x04
#define STORE_F_ANOMALY 0x08
#define STORE_F_ENCRYPTED 0x10 /* some part was TLS */
#define STORE_F_MIDSTREAM 0x20
#define STORE_F_NO_PAYLOAD 0x40 /* seen from packet headers only */
#define STORE_F_CAUSE 0x80	/* some reply has a diagnosis cause */
	unsigned n421, n452, n4xx, n5xx;
	uint8_t client_w, server_w; /* columns of client and server (":25"
				       implied) */
	/* What free text in the filter searches, in one block and in lower
	   case (the blocks of all sessions share one arena, mostly in session
	   order, so that a walk reads memory in order): client, server, HELO,
	   MAIL FROM and the recipients kept, NUL-separated (a filter's text
	   holds no NUL, so a match never spans two fields). */
	char *search; /* in the store's search arena, at search_pos */
	size_t search_len, search_pos;
	/* Where server, HELO, MAIL FROM and the recipients start in search
	   (the client starts at 0): a FIELD:VALUE term reads its part of the
	   block instead of the separate strings. */
	uint32_t search_off[4];
	uint8_t codes_seen[STORE_CODE_MAX / 8];
	uint64_t codesum; /* store_codesum() of every code seen */
	uint64_t causes;  /* store_cause_bit() of every diagnosis cause */

	struct timeval start, last;
	char client[64], server[64];
	char *helo, *mail_from; /* raw wire bytes (escape before display) */
	char helo_verb[5];	/* "EHLO", "HELO" or "LHLO" that gave helo */
	char *rcpt_text;	/* RCPT addresses, NUL-separated, capped */
	size_t rcpt_len;
	unsigned rcpts;	   /* RCPT commands */
	unsigned rcpts_ok; /* RCPT commands answered 2xx */
	char tls[32];	   /* "none", "starttls", "implicit", +"+dec" */
	int last_code;
	bool closed;
	const char *close_reason;
	uint64_t gen;	       /* store generation of the last change */
	struct event **events; /* owned, in order */
	size_t n_events, cap_events;
	bool events_truncated;
	struct event **packets; /* owned EV_PACKET events */
	uint64_t *pkt_seq;	/* arrival number of each packet */
	size_t n_packets, cap_packets;
	size_t pkt_bytes;
	size_t ev_bytes; /* event_size() of the events kept */
	bool packets_truncated;
	/* Packet copies of this session not kept, or released later, to stay
	   under the per-session caps and the budget: a save lacks them. */
	uint64_t pkt_dropped;
	int linktype;
	/* The store's lists of closed sessions, in the order they closed:
	   all of them (eviction), and those holding packet copies (the
	   packet budget's reclaim).  Store-private. */
	TAILQ_ENTRY(store_session) closed_entry;
	TAILQ_ENTRY(store_session) pkt_entry;
};

/*
 * What the list's walk reads of a session, kept by the store in one dense
 * array in session order (store_keys): testing 100,000 sessions against a
 * filter reads consecutive records instead of chasing a pointer to each
 * session.  Copied from the session whenever an event changes it.
 */
struct store_key {
	uint64_t id;
	uint64_t gen;	    /* the session's gen */
	uint64_t codes;	    /* STORE_CODESUM_* bits of the codes seen */
	uint64_t causes;    /* as in the session */
	const char *search; /* the session's search text */
	uint32_t search_len;
	uint32_t search_off[4]; /* as in the session */
	uint16_t flags;		/* STORE_F_* and STORE_K_PROBLEM */
#define STORE_K_PROBLEM 0x8000	/* store_session_problem() */
	uint8_t client_w, server_w;
};
/*
 * The code summary: one bit per class and tens digit (bit (c-1)*10+d for
 * codes cd0..cd9 of class c, 1-5), and one bit for exactly 421 and 452, so
 * that a code filter tests a word before the session's codes.
 */
#define STORE_CODESUM_BIT(c, d) (UINT64_C(1) << (((c)-1) * 10 + (d)))
#define STORE_CODESUM_421 (UINT64_C(1) << 50)
#define STORE_CODESUM_452 (UINT64_C(1) << 51)
/* The summary bits of one code (0 outside 100-599). */
uint64_t store_codesum(int code);
/*
 * The bit of a diagnosis cause (a kb_causes id): bit i for kb_causes[i],
 * STORE_CAUSE_MORE for an index past 62 or an unknown id, which a cause:
 * filter then reads from the session's replies.
 */
#define STORE_CAUSE_MORE (UINT64_C(1) << 63)
uint64_t store_cause_bit(const char *cause);

struct store_stats {
	uint64_t packets, bytes, dropped; /* from the last EV_STATS */
	uint64_t sessions;		  /* seen, including evicted */
	uint64_t n421, n452;
	uint64_t evicted;
	uint64_t events_capped;	  /* transcript events not kept */
	uint64_t packets_capped;  /* packets not kept (or released) */
	uint64_t orphans;	  /* events of unknown (evicted) sessions */
	size_t packet_bytes;	  /* packet bytes kept now */
	size_t event_bytes;	  /* event_size() of the events kept now */
	struct event *last_stats; /* owned, NULL until one arrives */
	/* Connection attempts without a handshake (not sessions), from the
	   anomalies reporting them. */
	uint64_t no_handshake;
};

/* Connection attempts without a handshake to one server. */
struct store_half {
	char server[64]; /* address and port; "" for other servers */
	uint64_t attempts;
	/* The latest report (an interval of the pipeline's): its attempts,
	   about how many sources made them, and its time. */
	uint64_t last_attempts, last_sources;
	struct timeval last_ts;
};

struct store_host {
	char name[64]; /* address without port */
	uint64_t n4xx, n421, n452;
};

struct store;
/* limit 0 means STORE_LIMIT_DEFAULT.  Never fails. */
struct store *store_new(size_t limit);
void store_free(struct store *);
/*
 * Also keep what the store holds (store_bytes) under bytes, evicting as
 * store_add_take does; packet copies get at most half of it (and
 * STORE_PACKET_BYTES_MAX).  0: no budget but the caps.  Never fails.
 */
void store_set_budget(struct store *, size_t bytes);
/*
 * Bytes a front end holds per session kept, outside the store (the list's
 * views of it), to count in store_bytes and so in the budget.  Never fails.
 */
void store_set_overhead(struct store *, size_t per_session);
/* Bytes held: events, packet copies, sessions, and the overhead per
   session.  Never fails. */
size_t store_bytes(const struct store *);
/* Takes ev.  Returns the session it changed, or NULL. */
struct store_session *store_add_take(struct store *, struct event *ev);
size_t store_count(const struct store *);
/* i from 0 (oldest kept) to store_count()-1; ids increase with i. */
struct store_session *store_at(const struct store *, size_t i);
/* All of them, store_count() long, oldest first; valid until the store
   changes.  Never fails (NULL when empty). */
struct store_session *const *store_sessions(const struct store *);
/* The keys of all sessions, parallel to store_sessions(); valid until the
   store changes.  NULL when empty. */
const struct store_key *store_keys(const struct store *);
/* The session with this id, or NULL (never seen, or evicted). */
struct store_session *store_find(const struct store *, uint64_t id);
const struct store_stats *store_stats(const struct store *);
/* Incremented by every change: a cheap "redraw needed" test. */
uint64_t store_gen(const struct store *);
/* Per-code counts (ascending code) into out; returns how many filled. */
size_t store_code_counts(
    const struct store *, struct event_code_count *out, size_t max);
/*
 * 421 and 452 replies in the minute `minute` (seconds since the epoch / 60)
 * of capture time; 0 when that minute is outside the kept window.
 */
void store_minute(
    const struct store *, int64_t minute, unsigned *n421, unsigned *n452);
/* First and last minute with any reply; false when none yet. */
bool store_minute_range(const struct store *, int64_t *first, int64_t *last);
/* Top hosts by 4xx replies (servers or clients), most first. */
size_t store_top(
    const struct store *, bool servers, struct store_host *out, size_t max);
/* Servers by connection attempts without a handshake, most first: those
   named (STORE_HALF_MAX at most; the rest only count in the stats'
   no_handshake).  Never fails. */
size_t store_half_top(const struct store *, struct store_half *out, size_t max);
/*
 * Start loading what the filter reads of a session that a walk will reach
 * soon (a hint: it changes nothing).  Call it on the session a few ahead
 * of the one tested, after a prefetch of the session itself further ahead.
 */
void store_session_prefetch(const struct store_session *);
/* Some reply code of the session. */
bool store_session_has_code(const struct store_session *, int code);
/* A problem: a 4xx or 5xx reply, or a gap. */
bool store_session_problem(const struct store_session *);
/*
 * The list filter: terms separated by spaces, all of which must match.  A
 * term is free text or FIELD:VALUE with a field of store_filter_fields.
 * Free text matches, case-insensitively, a substring of the client, server,
 * HELO, MAIL FROM or a recipient; free text that is a reply code ("452") or
 * class ("4xx") matches reply codes only, never a port number.  A value (or
 * the free text) between slashes is an extended regular expression,
 * case-insensitive: "/^bounce-/", "rcpt:/@example\\.(com|net)$/".
 */
struct store_filter_field {
	const char *name; /* before the colon: "code" */
	const char *help; /* one line for the help screen */
};
extern const struct store_filter_field store_filter_fields[];
extern const size_t store_filter_nfields;

struct store_filter;
/*
 * Compile a filter (NULL or "" matches everything).  Returns NULL and sets
 * *cause (caller frees) when a regular expression is invalid.  Caller frees
 * the result with store_filter_free.
 */
struct store_filter *store_filter_new(const char *text, char **cause);
void store_filter_free(struct store_filter *);
bool store_filter_match(
    const struct store_filter *, const struct store_session *);
/*
 * The same answer from the session's key, reading the session itself only
 * for what the key does not hold (regular expressions, cause:, server:,
 * client:, and codes the summary cannot decide).
 */
bool store_filter_match_key(const struct store_filter *,
    const struct store_key *, const struct store_session *);
/*
 * True when every session that `to` matches is sure to match `from` too
 * (typing narrowed the filter: "45" to "455", a term added), so that only
 * the sessions `from` matched need testing.  False when it cannot tell.
 * NULL is the empty filter.  Never fails.
 */
bool store_filter_narrows(
    const struct store_filter *from, const struct store_filter *to);
/* The filter matches every session ("", "from:" being typed). */
bool store_filter_all(const struct store_filter *);
/* One-off: compile, match, free; an invalid filter matches nothing. */
bool store_session_match(const struct store_session *, const char *filter);

#endif
