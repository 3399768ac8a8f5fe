/*
 * store: the UI's bounded memory of sessions, built from the events the
 * capture thread sends.  It runs on the main thread only.
 *
 * Invariants: sessions are kept in increasing id order (a session's
 * session_open arrives before any later session's), in an array used as a
 * deque so that evicting the oldest is O(1); every kept thing is capped (see
 * store.h) and each cap hit is counted.  Statistics are updated as events
 * arrive, so they survive eviction.
 */
#include "config.h"

#include "store.h"
#include "rx.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kb.h"
#include "xmalloc.h"

/* Open addressing, twice STORE_HOSTS_MAX slots: never full. */
#define STORE_HOST_SLOTS (2 * STORE_HOSTS_MAX)

struct store_hosts {
	struct store_host *slot; /* allocated on first use */
	size_t n;
};

struct store_min {
	int64_t minute; /* -1: unused */
	unsigned n421, n452;
};

struct store {
	size_t limit;
	size_t max_bytes; /* store_bytes() at most; SIZE_MAX: no budget */
	size_t pkt_max;	  /* packet copies' bytes at most */
	size_t overhead;  /* per session, held by the front end */
	struct store_session **sess; /* sess[off .. off+n) */
	struct store_key *keys;	     /* keys[off .. off+n), parallel */
	/* The sessions' search texts, one after another; dead bytes are
	   those of evicted sessions and of texts since rebuilt elsewhere. */
	char *arena;
	size_t arena_len, arena_cap, arena_dead;
	/* Slots [off, off + n) are in use; ndead of them hold sessions
	   evicted since the arrays were last closed up (sess NULL, the key's
	   id kept so that the keys stay in order).  Closing the hole at each
	   eviction moved thousands of slots when the session closed longest
	   ago was not near an end (a storm of short sessions among longer
	   ones): the holes are closed up together, when they are an eighth
	   of the slots or before the arrays are shown (store_close_up). */
	size_t off, n, cap, ndead;
	/* The place (from off) of the session the last event went to, a
	   guess checked before use: a session's events and packets come in
	   runs, and a search of thousands of keys cost more than filing. */
	size_t hint;
	uint64_t max_id;
	uint64_t gen;
	uint64_t pkt_seq;
	struct store_stats stats;
	uint64_t codes[STORE_CODE_MAX];
	struct store_min minutes[STORE_MINUTES];
	bool have_minutes;
	int64_t first_minute, last_minute;
	struct store_hosts servers, clients;
	/* Connection attempts without a handshake per server: the last slot
	   sums the servers there is no room for. */
	struct store_half half[STORE_HALF_MAX + 1];
	size_t n_half;
	/* Closed sessions in the order they closed: all (store_evict), and
	   those still holding packet copies (store_reclaim_packets; a
	   session is on it exactly when closed and n_packets > 0).  Both
	   take from the head, so neither walks past sessions it cannot use:
	   with thousands of sessions open, a scan from the oldest for every
	   packet or every new session made the UI fall behind live. */
	TAILQ_HEAD(store_closed, store_session) closed;
	struct store_closed pkt_closed;
};

struct store *
store_new(size_t limit)
{
	struct store *s = xcalloc(1, sizeof *s);
	size_t i;

	s->limit = limit == 0 ? STORE_LIMIT_DEFAULT : limit;
	s->max_bytes = SIZE_MAX;
	s->pkt_max = STORE_PACKET_BYTES_MAX;
	for (i = 0; i < STORE_MINUTES; i++)
		s->minutes[i].minute = -1;
	TAILQ_INIT(&s->closed);
	TAILQ_INIT(&s->pkt_closed);
	return s;
}

static void
store_session_free(struct store_session *ss)
{
	size_t i;

	if (ss == NULL)
		return;
	for (i = 0; i < ss->n_events; i++)
		event_free(ss->events[i]);
	for (i = 0; i < ss->n_packets; i++)
		event_free(ss->packets[i]);
	free(ss->events);
	free(ss->packets);
	free(ss->pkt_seq);
	free(ss->helo);
	free(ss->mail_from);
	free(ss->rcpt_text);
	free(ss);
}

void
store_free(struct store *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n; i++)
		store_session_free(s->sess[s->off + i]); /* NULL is fine */
	free(s->sess);
	free(s->keys);
	free(s->arena);
	free(s->servers.slot);
	free(s->clients.slot);
	event_free(s->stats.last_stats);
	free(s);
}

/* The arrays without the holes evictions left.  The store is not changed
   as its user sees it, so the functions that show the arrays call it on a
   const store. */
static void
store_close_up(struct store *s)
{
	size_t r, w = 0;

	if (s->ndead == 0)
		return;
	for (r = 0; r < s->n; r++) {
		if (s->sess[s->off + r] == NULL)
			continue;
		if (w != r) {
			s->sess[s->off + w] = s->sess[s->off + r];
			s->keys[s->off + w] = s->keys[s->off + r];
		}
		if (r == s->hint)
			s->hint = w;
		w++;
	}
	if (s->hint >= w)
		s->hint = SIZE_MAX;
	s->n = w;
	s->ndead = 0;
	if (s->n == 0)
		s->off = 0;
}

size_t
store_count(const struct store *s)
{
	store_close_up((struct store *)s);
	return s->n;
}

struct store_session *
store_at(const struct store *s, size_t i)
{
	store_close_up((struct store *)s);
	if (i >= s->n)
		return NULL;
	return s->sess[s->off + i];
}

/*
 * Index of the session with id, or of where it would go (the slot of an
 * evicted one may still hold its id: the caller checks the session).  It
 * reads the dense keys, not the sessions: every event is looked up, and a step
 * through the session pointers cost two cache misses instead of one.
 */
static size_t
store_search(const struct store *s, uint64_t id)
{
	const struct store_key *k = s->keys + s->off;
	size_t lo = 0, hi = s->n, mid;

	/* A new session's first event: after the newest. */
	if (hi == 0 || k[hi - 1].id < id)
		return hi;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (k[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct store_session *const *
store_sessions(const struct store *s)
{
	store_close_up((struct store *)s);
	return s->n > 0 ? s->sess + s->off : NULL;
}

const struct store_key *
store_keys(const struct store *s)
{
	store_close_up((struct store *)s);
	return s->n > 0 ? s->keys + s->off : NULL;
}

uint64_t
store_codesum(int code)
{
	uint64_t b;

	if (code < 100 || code >= STORE_CODE_MAX)
		return 0;
	b = STORE_CODESUM_BIT(code / 100, (code / 10) % 10);
	if (code == 421)
		b |= STORE_CODESUM_421;
	else if (code == 452)
		b |= STORE_CODESUM_452;
	return b;
}

uint64_t
store_cause_bit(const char *cause)
{
	int i = kb_cause_index(cause);

	return i >= 0 && i < 63 ? UINT64_C(1) << i : STORE_CAUSE_MORE;
}

/* The key of a session, from the session. */
static void
store_key_of(const struct store_session *ss, struct store_key *k)
{
	k->id = ss->id;
	k->gen = ss->gen;
	k->codes = ss->codesum;
	k->causes = ss->causes;
	k->search = ss->search;
	k->search_len = (uint32_t)ss->search_len;
	memcpy(k->search_off, ss->search_off, sizeof k->search_off);
	k->flags = (uint16_t)(ss->flags & 0x7fff);
	if (store_session_problem(ss))
		k->flags |= STORE_K_PROBLEM;
	k->client_w = ss->client_w;
	k->server_w = ss->server_w;
}

/* The place of the kept session with id, the hint tried first; s->n when
   there is none. */
static size_t
store_locate(const struct store *s, uint64_t id)
{
	size_t i = s->hint < s->n && s->keys[s->off + s->hint].id == id
		       ? s->hint
		       : store_search(s, id);

	if (i < s->n && s->sess[s->off + i] != NULL &&
	    s->sess[s->off + i]->id == id)
		return i;
	return s->n;
}

struct store_session *
store_find(const struct store *s, uint64_t id)
{
	size_t i = store_locate(s, id);

	return i < s->n ? s->sess[s->off + i] : NULL;
}

const struct store_stats *
store_stats(const struct store *s)
{
	return &s->stats;
}

uint64_t
store_gen(const struct store *s)
{
	return s->gen;
}

static void
store_remove_at(struct store *s, size_t i)
{
	struct store_session *ss = s->sess[s->off + i];

	s->stats.packet_bytes -= ss->pkt_bytes;
	s->stats.event_bytes -= ss->ev_bytes;
	s->arena_dead += ss->search_len;
	if (ss->closed)
		TAILQ_REMOVE(&s->closed, ss, closed_entry);
	if (ss->closed && ss->n_packets > 0)
		TAILQ_REMOVE(&s->pkt_closed, ss, pkt_entry);
	store_session_free(ss);
	/* A hole, closed up later; holes at either end go at once. */
	s->sess[s->off + i] = NULL;
	s->ndead++;
	while (s->n > 0 && s->sess[s->off + s->n - 1] == NULL) {
		s->n--;
		s->ndead--;
	}
	while (s->n > 0 && s->sess[s->off] == NULL) {
		s->off++;
		s->n--;
		s->ndead--;
		s->hint = s->hint > 0 ? s->hint - 1 : SIZE_MAX;
	}
	if (s->n == 0)
		s->off = 0;
	if (s->ndead > 64 && s->ndead > s->n / 8)
		store_close_up(s);
}

size_t
store_bytes(const struct store *s)
{
	return s->stats.packet_bytes + s->stats.event_bytes +
	       (s->n - s->ndead) *
		   (sizeof(struct store_session) + s->overhead) +
	       s->cap * (sizeof *s->sess + sizeof *s->keys);
}

void
store_set_overhead(struct store *s, size_t per_session)
{
	s->overhead = per_session;
}

void
store_set_budget(struct store *s, size_t bytes)
{
	s->max_bytes = bytes == 0 ? SIZE_MAX : bytes;
	s->pkt_max = bytes == 0 || bytes / 2 > STORE_PACKET_BYTES_MAX
			 ? STORE_PACKET_BYTES_MAX
			 : bytes / 2;
}

/* Keep at most limit sessions and max_bytes: first the session that
   closed longest ago, the oldest open one when none is closed (the newest
   session stays, whatever it holds). */
static void
store_evict(struct store *s)
{
	struct store_session *ss;
	size_t i;

	while (s->n - s->ndead > s->limit ||
	       (s->n - s->ndead > 1 && store_bytes(s) > s->max_bytes)) {
		i = 0; /* the first slot is never a hole */
		/* Most often the oldest session is the first closed. */
		if ((ss = TAILQ_FIRST(&s->closed)) != NULL &&
		    s->sess[s->off] != ss)
			i = store_search(s, ss->id);
		store_remove_at(s, i);
		s->stats.evicted++;
	}
}

/* ASCII case folding: the filter's case-insensitivity is ASCII's. */
static inline unsigned char
store_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* The parts of the search text after the client, in order. */
enum store_part {
	STORE_PART_SERVER,
	STORE_PART_HELO,
	STORE_PART_FROM,
	STORE_PART_RCPT
};

/* Point the sessions and their keys at their texts in a moved arena. */
static void
store_arena_moved(struct store *s)
{
	struct store_session *ss;
	size_t i;

	for (i = 0; i < s->n; i++) {
		if ((ss = s->sess[s->off + i]) == NULL)
			continue;
		ss->search = s->arena + ss->search_pos;
		s->keys[s->off + i].search = ss->search;
	}
}

/*
 * Room for n more bytes at the end of the arena.  When more than half of
 * it is dead, the live texts are copied into a new arena in session order
 * (which a walk reads in order); else it grows.  Either may move every
 * text: the sessions' and keys' pointers follow.  Amortised, each byte
 * appended is copied a bounded number of times.
 */
static void
store_arena_room(struct store *s, size_t n)
{
	struct store_session *ss;
	size_t i, live = s->arena_len - s->arena_dead, cap;
	char *a;

	if (s->arena_len + n <= s->arena_cap)
		return;
	if (s->arena_dead > live) {
		cap = 2 * (live + n) > 65536 ? 2 * (live + n) : 65536;
		a = xmalloc(cap);
		live = 0;
		for (i = 0; i < s->n; i++) {
			if ((ss = s->sess[s->off + i]) == NULL)
				continue;
			if (ss->search_len > 0)
				memcpy(a + live, ss->search, ss->search_len);
			ss->search_pos = live;
			live += ss->search_len;
		}
		free(s->arena);
		s->arena = a;
		s->arena_cap = cap;
		s->arena_len = live;
		s->arena_dead = 0;
	} else {
		cap = s->arena_cap > 0 ? s->arena_cap * 2 : 65536;
		while (cap < s->arena_len + n)
			cap *= 2;
		s->arena = xrealloc(s->arena, cap);
		s->arena_cap = cap;
	}
	store_arena_moved(s);
}

/* Write n bytes, lowered, and a NUL at the end of the arena. */
static void
store_arena_put(struct store *s, const char *p, size_t n)
{
	char *d = s->arena + s->arena_len;
	size_t i;

	for (i = 0; i < n; i++)
		d[i] = (char)store_lower((unsigned char)p[i]);
	d[n] = '\0';
	s->arena_len += n + 1;
}

/*
 * Append n bytes, lowered, and a NUL to the session's search text: in
 * place when the text ends the arena, else the text moves to the end.
 */
static void
store_search_add(
    struct store *s, struct store_session *ss, const char *p, size_t n)
{
	store_arena_room(s, ss->search_len + n + 1);
	if (ss->search == NULL ||
	    ss->search_pos + ss->search_len != s->arena_len) {
		if (ss->search_len > 0 && ss->search != NULL)
			memcpy(s->arena + s->arena_len, ss->search,
			    ss->search_len);
		s->arena_dead += ss->search_len;
		ss->search_pos = s->arena_len;
		s->arena_len += ss->search_len;
	}
	ss->search = s->arena + ss->search_pos;
	store_arena_put(s, p, n);
	ss->search_len += n + 1;
}

/*
 * Build the search text again (HELO or MAIL FROM changed), at the end of
 * the arena.  Its bytes are counted with the session's events, so the
 * budget sees them.
 */
static void
store_search_build(struct store *s, struct store_session *ss)
{
	size_t before = ss->search_len, lc = strlen(ss->client),
	       ls = strlen(ss->server), lh = ss->helo ? strlen(ss->helo) : 0,
	       lf = ss->mail_from ? strlen(ss->mail_from) : 0;

	/* Each part is at most a command line (SMTP_LINE_MAX) or
	   STORE_RCPT_TEXT_MAX long, so the offsets fit 32 bits. */
	store_arena_room(s, lc + ls + lh + lf + ss->rcpt_len + 5);
	s->arena_dead += ss->search_len;
	ss->search_pos = s->arena_len;
	ss->search = s->arena + ss->search_pos;
	store_arena_put(s, ss->client, lc);
	ss->search_off[STORE_PART_SERVER] = (uint32_t)(lc + 1);
	store_arena_put(s, ss->server, ls);
	ss->search_off[STORE_PART_HELO] = (uint32_t)(lc + ls + 2);
	store_arena_put(s, ss->helo, lh);
	ss->search_off[STORE_PART_FROM] = (uint32_t)(lc + ls + lh + 3);
	store_arena_put(s, ss->mail_from, lf);
	ss->search_off[STORE_PART_RCPT] = (uint32_t)(lc + ls + lh + lf + 4);
	/* The recipients: NUL-separated already (lowered by put). */
	if (ss->rcpt_len > 0)
		store_arena_put(s, ss->rcpt_text, ss->rcpt_len - 1);
	ss->search_len = s->arena_len - ss->search_pos;
	ss->ev_bytes += ss->search_len - before;
	s->stats.event_bytes += ss->search_len - before;
}

static struct store_session *
store_append(struct store *s, const struct event *ev)
{
	struct store_session *ss = xcalloc(1, sizeof *ss);
	size_t n;

	ss->id = ev->session;
	ss->start = ss->last = ev->ts;
	/* A packet event has no addresses (nor room for them). */
	if (ev->type != EV_PACKET) {
		memcpy(ss->client, ev->client, sizeof ss->client);
		ss->client[sizeof ss->client - 1] = '\0';
		memcpy(ss->server, ev->server, sizeof ss->server);
		ss->server[sizeof ss->server - 1] = '\0';
	}
	n = strlen(ss->client);
	ss->client_w = (uint8_t)n;
	n = strlen(ss->server);
	if (n > 3 && strcmp(ss->server + n - 3, ":25") == 0)
		n -= 3;
	ss->server_w = (uint8_t)n;
	strcpy(ss->tls, "none");
	ss->linktype = -1;
	/* Full at the end: slide down when a quarter of the array is free at
	   its start (so that each slide is paid for by as many evictions),
	   else grow.  Sliding whenever off > 0 made every new session move
	   them all once the limit was one short of the capacity. */
	if (s->off + s->n == s->cap)
		store_close_up(s);
	if (s->off + s->n == s->cap) {
		if (s->off > 0 && s->off >= s->cap / 4) {
			memmove(
			    s->sess, s->sess + s->off, s->n * sizeof *s->sess);
			memmove(
			    s->keys, s->keys + s->off, s->n * sizeof *s->keys);
			s->off = 0;
		} else {
			s->cap = s->cap == 0 ? 64 : s->cap * 2;
			s->sess =
			    xreallocarray(s->sess, s->cap, sizeof *s->sess);
			s->keys =
			    xreallocarray(s->keys, s->cap, sizeof *s->keys);
		}
	}
	s->sess[s->off + s->n++] = ss;
	store_search_build(s, ss);
	store_key_of(ss, &s->keys[s->off + s->n - 1]);
	s->max_id = ev->session;
	s->stats.sessions++;
	return ss;
}

/* "1.2.3.4:25" -> "1.2.3.4", "[::1]:25" -> "::1". */
static void
store_host_of(char *out, size_t len, const char *ep)
{
	const char *colon;
	size_t n;

	if (ep[0] == '[') {
		colon = strchr(ep, ']');
		n = colon != NULL ? (size_t)(colon - ep - 1) : strlen(ep + 1);
		ep++;
	} else {
		colon = strrchr(ep, ':');
		n = colon != NULL ? (size_t)(colon - ep) : strlen(ep);
	}
	if (n >= len)
		n = len - 1;
	memcpy(out, ep, n);
	out[n] = '\0';
}

/* FNV-1a: host names are short and the table is small. */
static size_t
store_host_hash(const char *name)
{
	uint32_t h = 2166136261u;

	for (; *name != '\0'; name++)
		h = (h ^ (uint8_t)*name) * 16777619u;
	return h % STORE_HOST_SLOTS;
}

static void
store_count_host(struct store_hosts *t, const char *ep, int code)
{
	char name[64];
	struct store_host *h;
	size_t i;

	store_host_of(name, sizeof name, ep);
	if (name[0] == '\0')
		strcpy(name, "?"); /* an empty name marks a free slot */
	if (t->slot == NULL)
		t->slot = xcalloc(STORE_HOST_SLOTS, sizeof *t->slot);
	for (i = store_host_hash(name);; i = (i + 1) % STORE_HOST_SLOTS) {
		h = &t->slot[i];
		if (h->name[0] == '\0') {
			if (t->n >= STORE_HOSTS_MAX)
				return;
			memcpy(h->name, name, sizeof h->name);
			t->n++;
			break;
		}
		if (strcmp(h->name, name) == 0)
			break;
	}
	h->n4xx++;
	if (code == 421)
		h->n421++;
	if (code == 452)
		h->n452++;
}

static void
store_count_minute(struct store *s, time_t sec, int code)
{
	int64_t minute = (int64_t)sec / 60;
	struct store_min *m;

	if (minute < 0)
		minute = 0;
	if (!s->have_minutes) {
		s->have_minutes = true;
		s->first_minute = s->last_minute = minute;
	}
	if (minute < s->first_minute)
		s->first_minute = minute;
	if (minute > s->last_minute)
		s->last_minute = minute;
	if (code != 421 && code != 452)
		return;
	/* Older than the window: nothing to count it in. */
	if (minute <= s->last_minute - STORE_MINUTES)
		return;
	m = &s->minutes[minute % STORE_MINUTES];
	if (m->minute != minute) {
		m->minute = minute;
		m->n421 = m->n452 = 0;
	}
	if (code == 421)
		m->n421++;
	else
		m->n452++;
}

void
store_minute(
    const struct store *s, int64_t minute, unsigned *n421, unsigned *n452)
{
	const struct store_min *m;

	*n421 = *n452 = 0;
	if (minute < 0)
		return;
	m = &s->minutes[minute % STORE_MINUTES];
	if (m->minute == minute) {
		*n421 = m->n421;
		*n452 = m->n452;
	}
}

bool
store_minute_range(const struct store *s, int64_t *first, int64_t *last)
{
	if (!s->have_minutes)
		return false;
	*first = s->first_minute;
	*last = s->last_minute;
	return true;
}

/* An anomaly of connection attempts without a handshake: to its server's
   row (servers past STORE_HALF_MAX, and the pipeline's own sum of those
   past its table, "" in both, share the last). */
static void
store_count_half(struct store *s, const struct event *ev)
{
	struct store_half *h = NULL;
	size_t i;

	if (ev->server[0] != '\0') {
		for (i = 0; i < s->n_half; i++)
			if (strcmp(s->half[i].server, ev->server) == 0) {
				h = &s->half[i];
				break;
			}
		if (h == NULL && s->n_half < STORE_HALF_MAX) {
			h = &s->half[s->n_half++];
			memcpy(h->server, ev->server, sizeof h->server);
			h->server[sizeof h->server - 1] = '\0';
		}
	}
	if (h == NULL)
		h = &s->half[STORE_HALF_MAX];
	h->attempts += ev->no_handshake;
	h->last_attempts = ev->no_handshake;
	h->last_sources = ev->sources;
	h->last_ts = ev->ts;
	s->stats.no_handshake += ev->no_handshake;
}

static int
store_half_cmp(const void *a, const void *b)
{
	const struct store_half *x = a, *y = b;

	if (x->attempts != y->attempts)
		return x->attempts > y->attempts ? -1 : 1;
	return strcmp(x->server, y->server);
}

size_t
store_half_top(const struct store *s, struct store_half *out, size_t max)
{
	struct store_half all[STORE_HALF_MAX];
	size_t cnt = s->n_half;

	if (cnt == 0 || max == 0)
		return 0;
	memcpy(all, s->half, cnt * sizeof *all);
	qsort(all, cnt, sizeof *all, store_half_cmp);
	if (cnt > max)
		cnt = max;
	memcpy(out, all, cnt * sizeof *out);
	return cnt;
}

static int
store_host_cmp(const void *a, const void *b)
{
	const struct store_host *x = a, *y = b;

	if (x->n4xx != y->n4xx)
		return x->n4xx > y->n4xx ? -1 : 1;
	return strcmp(x->name, y->name);
}

size_t
store_top(
    const struct store *s, bool servers, struct store_host *out, size_t max)
{
	const struct store_hosts *t = servers ? &s->servers : &s->clients;
	struct store_host *all;
	size_t cnt = 0, i;

	if (max == 0 || t->n == 0)
		return 0;
	all = xcalloc(t->n, sizeof *all);
	for (i = 0; i < STORE_HOST_SLOTS; i++)
		if (t->slot[i].name[0] != '\0')
			all[cnt++] = t->slot[i];
	qsort(all, cnt, sizeof *all, store_host_cmp);
	if (cnt > max)
		cnt = max;
	memcpy(out, all, cnt * sizeof *out);
	free(all);
	return cnt;
}

size_t
store_code_counts(
    const struct store *s, struct event_code_count *out, size_t max)
{
	size_t n = 0;
	int c;

	for (c = 0; c < STORE_CODE_MAX && n < max; c++) {
		if (s->codes[c] == 0)
			continue;
		out[n].code = c;
		out[n].count = (unsigned)s->codes[c];
		n++;
	}
	return n;
}

void
store_session_prefetch(const struct store_session *ss)
{
	__builtin_prefetch(ss->search);
}

bool
store_session_has_code(const struct store_session *ss, int code)
{
	if (code < 0 || code >= STORE_CODE_MAX)
		return false;
	return (ss->codes_seen[code / 8] >> (code % 8)) & 1;
}

bool
store_session_problem(const struct store_session *ss)
{
	return ss->n4xx > 0 || ss->n5xx > 0 || (ss->flags & STORE_F_GAP);
}

/* The address inside "FROM:<a@b> SIZE=1" or "TO:<c@d>", as raw bytes. */
static char *
store_path_arg(const char *arg)
{
	const char *p, *e;

	if (arg == NULL)
		return xstrdup("");
	p = strchr(arg, ':');
	p = p != NULL ? p + 1 : arg;
	while (*p == ' ')
		p++;
	if (*p == '<') {
		e = strchr(p + 1, '>');
		if (e != NULL)
			return xstrndup(p + 1, (size_t)(e - p - 1));
		p++;
	}
	e = strchr(p, ' ');
	return e != NULL ? xstrndup(p, (size_t)(e - p)) : xstrdup(p);
}

static void
store_add_rcpt(struct store *s, struct store_session *ss, const char *arg)
{
	char *a = store_path_arg(arg);
	size_t n = strlen(a) + 1;

	ss->rcpts++;
	if (ss->rcpt_len + n <= STORE_RCPT_TEXT_MAX) {
		ss->rcpt_text = xrealloc(ss->rcpt_text, ss->rcpt_len + n);
		memcpy(ss->rcpt_text + ss->rcpt_len, a, n);
		ss->rcpt_len += n;
		store_search_add(s, ss, a, n - 1);
		ss->ev_bytes += n;
		s->stats.event_bytes += n;
	}
	free(a);
}

static void
store_tls_dec(struct store_session *ss)
{
	if (strstr(ss->tls, "+dec") == NULL &&
	    strlen(ss->tls) + 5 <= sizeof ss->tls)
		strcat(ss->tls, "+dec");
}

/*
 * The store-wide counts of a reply: the status bar's 421 and 452, the
 * statistics' codes, minutes and hosts.  They count every reply, also one
 * of a session already evicted, so that a busy capture under --limit or
 * --memory still shows how many 421 and 452 replies went by.
 */
static void
store_count_reply(struct store *s, const struct event *ev)
{
	int code = ev->code;

	if (code >= 0 && code < STORE_CODE_MAX)
		s->codes[code]++;
	store_count_minute(s, ev->ts.tv_sec, code);
	if (code == 421)
		s->stats.n421++;
	else if (code == 452)
		s->stats.n452++;
	if (code >= 400 && code < 500) {
		store_count_host(&s->servers, ev->server, code);
		store_count_host(&s->clients, ev->client, code);
	}
}

/* Update the list columns from one event. */
static void
store_columns(struct store *s, struct store_session *ss, const struct event *ev)
{
	int code;

	if (ev->type != EV_LOG) /* its own clock, joined late */
		ss->last = ev->ts;
	switch (ev->type) {
	case EV_SESSION_OPEN:
		if (ev->tls_implicit) {
			strcpy(ss->tls, "implicit");
			ss->flags |= STORE_F_ENCRYPTED;
		}
		if (ev->midstream)
			ss->flags |= STORE_F_MIDSTREAM;
		break;
	case EV_COMMAND:
		if (ev->encrypted)
			ss->flags |= STORE_F_ENCRYPTED;
		if (strcmp(ev->verb, "EHLO") == 0 ||
		    strcmp(ev->verb, "HELO") == 0 ||
		    strcmp(ev->verb, "LHLO") == 0) {
			free(ss->helo);
			ss->helo = xstrdup(ev->arg != NULL ? ev->arg : "");
			memcpy(
			    ss->helo_verb, ev->verb, sizeof ss->helo_verb - 1);
			ss->helo_verb[sizeof ss->helo_verb - 1] = '\0';
			store_search_build(s, ss);
		} else if (strcmp(ev->verb, "MAIL") == 0) {
			free(ss->mail_from);
			ss->mail_from = store_path_arg(ev->arg);
			store_search_build(s, ss);
		} else if (strcmp(ev->verb, "RCPT") == 0)
			store_add_rcpt(s, ss, ev->arg);
		break;
	case EV_REPLY:
		if (ev->encrypted)
			ss->flags |= STORE_F_ENCRYPTED;
		if (ev->diag != NULL && ev->diag->cause != NULL) {
			ss->flags |= STORE_F_CAUSE;
			ss->causes |= store_cause_bit(ev->diag->cause);
		}
		code = ev->code;
		ss->last_code = code;
		if (code >= 200 && code < 300 &&
		    strcmp(ev->answers, "RCPT") == 0)
			ss->rcpts_ok++;
		if (code >= 0 && code < STORE_CODE_MAX) {
			ss->codes_seen[code / 8] |= (uint8_t)(1u << (code % 8));
			ss->codesum |= store_codesum(code);
		}
		if (code == 421) {
			ss->n421++;
			ss->flags |= STORE_F_421;
		} else if (code == 452) {
			ss->n452++;
			ss->flags |= STORE_F_452;
		}
		if (code >= 400 && code < 500)
			ss->n4xx++;
		else if (code >= 500 && code < 600)
			ss->n5xx++;
		if (code == 220 && strcmp(ev->answers, "STARTTLS") == 0 &&
		    strcmp(ss->tls, "none") == 0)
			strcpy(ss->tls, "starttls");
		break;
	case EV_TLS:
		ss->flags |= STORE_F_ENCRYPTED;
		if (ev->decrypted)
			store_tls_dec(ss);
		if (ev->phase != NULL && strcmp(ev->phase, "alert") == 0 &&
		    strcmp(ss->tls, "none") == 0)
			strcpy(ss->tls, "failed");
		break;
	case EV_GAP:
		ss->flags |= STORE_F_GAP;
		break;
	case EV_ANOMALY:
		ss->flags |= STORE_F_ANOMALY;
		if (ev->what == EV_ANOM_NO_PAYLOAD)
			ss->flags |= STORE_F_NO_PAYLOAD;
		break;
	case EV_SESSION_CLOSE:
		if (!ss->closed) {
			ss->closed = true;
			TAILQ_INSERT_TAIL(&s->closed, ss, closed_entry);
			if (ss->n_packets > 0)
				TAILQ_INSERT_TAIL(
				    &s->pkt_closed, ss, pkt_entry);
		}
		ss->close_reason = ev->close_reason;
		break;
	case EV_MESSAGE:
	case EV_STATS:
	case EV_LOG:
	case EV_PACKET:
		break;
	}
}

/* Release the packets of the sessions that closed longest ago to make
   room. */
static bool
store_reclaim_packets(struct store *s, size_t need)
{
	struct store_session *ss;
	size_t j;

	while (s->stats.packet_bytes + need > s->pkt_max &&
	       (ss = TAILQ_FIRST(&s->pkt_closed)) != NULL) {
		TAILQ_REMOVE(&s->pkt_closed, ss, pkt_entry);
		for (j = 0; j < ss->n_packets; j++)
			event_free(ss->packets[j]);
		s->stats.packets_capped += ss->n_packets;
		ss->pkt_dropped += ss->n_packets;
		ss->n_packets = 0;
		s->stats.packet_bytes -= ss->pkt_bytes;
		ss->pkt_bytes = 0;
		ss->packets_truncated = true;
	}
	return s->stats.packet_bytes + need <= s->pkt_max;
}

static void
store_add_packet(struct store *s, struct store_session *ss, struct event *ev)
{
	size_t need = event_size(ev);

	if (ss->n_packets >= STORE_PACKETS_PER_SESSION_MAX ||
	    ss->pkt_bytes + need > STORE_PACKET_BYTES_PER_SESSION_MAX ||
	    !store_reclaim_packets(s, need)) {
		ss->packets_truncated = true;
		ss->pkt_dropped++;
		s->stats.packets_capped++;
		event_free(ev);
		return;
	}
	if (ss->n_packets == ss->cap_packets) {
		ss->cap_packets =
		    ss->cap_packets == 0 ? 16 : ss->cap_packets * 2;
		ss->packets = xreallocarray(
		    ss->packets, ss->cap_packets, sizeof *ss->packets);
		ss->pkt_seq = xreallocarray(
		    ss->pkt_seq, ss->cap_packets, sizeof *ss->pkt_seq);
	}
	if (ss->linktype == -1)
		ss->linktype = ev->linktype;
	ss->packets[ss->n_packets] = ev;
	ss->pkt_seq[ss->n_packets] = s->pkt_seq++;
	ss->n_packets++;
	ss->pkt_bytes += need;
	s->stats.packet_bytes += need;
	if (ss->closed && ss->n_packets == 1)
		TAILQ_INSERT_TAIL(&s->pkt_closed, ss, pkt_entry);
}

/* a is later than b (timercmp(a, b, >), which cppcheck cannot parse). */
static bool
store_ts_after(const struct timeval *a, const struct timeval *b)
{
	return a->tv_sec != b->tv_sec ? a->tv_sec > b->tv_sec
				      : a->tv_usec > b->tv_usec;
}

static void
store_add_event(struct store *s, struct store_session *ss, struct event *ev)
{
	/* The close always fits, so a capped transcript still ends. */
	if (ss->n_events >= STORE_EVENTS_PER_SESSION_MAX &&
	    ev->type != EV_SESSION_CLOSE) {
		ss->events_truncated = true;
		s->stats.events_capped++;
		event_free(ev);
		return;
	}
	if (ss->n_events == ss->cap_events) {
		ss->cap_events = ss->cap_events == 0 ? 32 : ss->cap_events * 2;
		ss->events = xreallocarray(
		    ss->events, ss->cap_events, sizeof *ss->events);
	}
	if (ev->type == EV_LOG) {
		/* The MTA's log line goes where its time puts it (it is
		   joined a few seconds late). */
		size_t at = ss->n_events;

		while (
		    at > 0 && store_ts_after(&ss->events[at - 1]->ts, &ev->ts))
			at--;
		memmove(ss->events + at + 1, ss->events + at,
		    (ss->n_events - at) * sizeof *ss->events);
		ss->events[at] = ev;
		ss->n_events++;
	} else
		ss->events[ss->n_events++] = ev;
	ss->ev_bytes += event_size(ev);
	s->stats.event_bytes += event_size(ev);
}

struct store_session *
store_add_take(struct store *s, struct event *ev)
{
	struct store_session *ss;
	uint64_t id;
	size_t i;

	if (ev == NULL)
		return NULL;
	s->gen++;
	if (ev->type == EV_STATS) {
		s->stats.packets = ev->packets;
		s->stats.bytes = ev->pkt_bytes;
		s->stats.dropped = ev->dropped;
		event_free(s->stats.last_stats);
		s->stats.last_stats = ev;
		return NULL;
	}
	if (ev->session == 0) {
		if (ev->type == EV_ANOMALY && ev->what == EV_ANOM_NO_HANDSHAKE)
			store_count_half(s, ev);
		event_free(ev);
		return NULL;
	}
	if (ev->type == EV_REPLY)
		store_count_reply(s, ev);
	i = store_locate(s, ev->session);
	if (i < s->n)
		ss = s->sess[s->off + i];
	else {
		/* An id at or below the newest is an evicted session. */
		if (ev->session <= s->max_id) {
			s->stats.orphans++;
			event_free(ev);
			return NULL;
		}
		ss = store_append(s, ev);
		i = s->n - 1;
	}
	ss->gen = s->gen;
	id = ss->id;
	if (ev->type == EV_PACKET)
		store_add_packet(s, ss, ev);
	else {
		store_columns(s, ss, ev);
		store_add_event(s, ss, ev);
	}
	/* Nothing above moved the sessions: i is still ss's place. */
	store_key_of(ss, &s->keys[s->off + i]);
	s->hint = i;
	store_evict(s);
	/* The session itself may have been evicted (limit reached, all open).
	 */
	return store_find(s, id);
}

/*
 * Case-insensitive substring over n bytes (hay may hold any byte); needle is
 * already lower case.  The first byte is looked for in both cases with plain
 * comparisons: this runs for every listed session on a filter's change.
 */
static bool
store_contains(const char *hay, size_t n, const char *needle, size_t nl)
{
	const unsigned char *h = (const unsigned char *)hay;
	const unsigned char *nd = (const unsigned char *)needle;
	unsigned char lo, up;
	size_t i, j;

	if (nl == 0)
		return true;
	if (nl > n)
		return false;
	lo = nd[0];
	up = lo >= 'a' && lo <= 'z' ? (unsigned char)(lo - ('a' - 'A')) : lo;
	for (i = 0; i + nl <= n; i++) {
		if (h[i] != lo && h[i] != up)
			continue;
		for (j = 1; j < nl; j++)
			if (store_lower(h[i + j]) != nd[j])
				break;
		if (j == nl)
			return true;
	}
	return false;
}

/* The fields of the filter, in the order of enum store_field. */
enum store_field {
	STORE_FIELD_CODE,
	STORE_FIELD_FROM,
	STORE_FIELD_RCPT,
	STORE_FIELD_SERVER,
	STORE_FIELD_CLIENT,
	STORE_FIELD_HELO,
	STORE_FIELD_CAUSE,
	STORE_FIELD_TEXT /* free text: no name */
};

const struct store_filter_field store_filter_fields[] = {
    [STORE_FIELD_CODE] = {"code", "a reply code (code:452), a class "
				  "(code:4xx) or digits with x (code:45x)"},
    [STORE_FIELD_FROM] = {"from", "the MAIL FROM address"},
    [STORE_FIELD_RCPT] = {"rcpt", "a RCPT TO address"},
    [STORE_FIELD_SERVER] = {"server", "the server's address and port"},
    [STORE_FIELD_CLIENT] = {"client", "the client's address and port"},
    [STORE_FIELD_HELO] = {"helo", "the EHLO/HELO name"},
    [STORE_FIELD_CAUSE] = {"cause", "the cause a diagnosis gave "
				    "(cause:rcpt-limit, cause:overload)"},
};
const size_t store_filter_nfields =
    sizeof store_filter_fields / sizeof store_filter_fields[0];

struct store_term {
	enum store_field field;
	char *text;  /* the value, without the slashes of a regex */
	char *lower; /* text in lower case (substring search) */
	size_t len;  /* of text */
	bool is_re;
	bool code;     /* text is a code or class: "452", "4xx" */
	struct rx *re; /* is_re */
	bool re_empty; /* re matches the empty string */
	/* cause: the store_cause_bit()s of the causes it matches, and
	   STORE_CAUSE_MORE (those the bits cannot tell). */
	uint64_t causes;
};

struct store_filter {
	struct store_term *terms;
	size_t n;
};

/* "452", "4xx", "45x": three digits or x, the first a digit 1-5. */
static bool
store_code_pattern(const char *w, size_t n)
{
	size_t i;

	if (n != 3 || w[0] < '1' || w[0] > '5')
		return false;
	for (i = 1; i < 3; i++)
		if (!isdigit((unsigned char)w[i]) && w[i] != 'x' && w[i] != 'X')
			return false;
	return true;
}

static bool
store_code_matches(const struct store_session *ss, const char *w)
{
	int c, d;

	/* A whole code: one bit. */
	if (isdigit((unsigned char)w[1]) && isdigit((unsigned char)w[2]))
		return store_session_has_code(
		    ss, (w[0] - '0') * 100 + (w[1] - '0') * 10 + (w[2] - '0'));

	for (c = (w[0] - '0') * 100; c < (w[0] - '0') * 100 + 100; c++) {
		d = (c / 10) % 10;
		if (isdigit((unsigned char)w[1]) && w[1] - '0' != d)
			continue;
		if (isdigit((unsigned char)w[2]) && w[2] - '0' != c % 10)
			continue;
		if (store_session_has_code(ss, c))
			return true;
	}
	return false;
}

/* A string field: substring, or the regex. */
static bool
store_term_str(const struct store_term *t, const char *s, size_t n)
{
	if (s == NULL)
		return false;
	if (!t->is_re)
		return store_contains(s, n, t->lower, t->len);
	return rx_test(t->re, s, n);
}

static bool
store_term_rcpts(const struct store_term *t, const struct store_session *ss)
{
	size_t o = 0, l;

	if (ss->rcpt_text == NULL)
		return false;
	/* The NULs between recipients never match a filter's bytes. */
	if (!t->is_re)
		return store_contains(
		    ss->rcpt_text, ss->rcpt_len, t->lower, t->len);
	/* Every recipient kept ends with its NUL (store_add_rcpt). */
	while (o < ss->rcpt_len) {
		l = strnlen(ss->rcpt_text + o, ss->rcpt_len - o);
		if (o + l == ss->rcpt_len)
			break;
		if (store_term_str(t, ss->rcpt_text + o, l))
			return true;
		o += l + 1;
	}
	return false;
}

/* A cause: term against the fixed list of cause ids, once. */
static void
store_term_cause_bits(struct store_term *t)
{
	size_t i;

	t->causes = STORE_CAUSE_MORE;
	for (i = 0; i < kb_ncauses && i < 63; i++)
		if (store_term_str(t, kb_causes[i].id, strlen(kb_causes[i].id)))
			t->causes |= UINT64_C(1) << i;
}

static bool
store_term_causes(const struct store_term *t, const struct store_session *ss)
{
	const struct event *ev;
	size_t i;

	for (i = 0; i < ss->n_events; i++) {
		ev = ss->events[i];
		if (ev->type == EV_REPLY && ev->diag != NULL &&
		    ev->diag->cause != NULL &&
		    store_term_str(t, ev->diag->cause, strlen(ev->diag->cause)))
			return true;
	}
	return false;
}

static bool
store_term_codes(const struct store_term *t, const struct store_session *ss)
{
	char buf[8];
	int c;

	if (!t->is_re)
		return t->code && store_code_matches(ss, t->text);
	for (c = 100; c < STORE_CODE_MAX; c++) {
		if (!store_session_has_code(ss, c))
			continue;
		snprintf(buf, sizeof buf, "%d", c);
		if (rx_test(t->re, buf, strlen(buf)))
			return true;
	}
	return false;
}

/*
 * A code term ("452", "4xx", "45x", "4x2") from the key's summary, reading
 * the session's codes only when the summary cannot tell.
 */
static bool
store_code_matches_key(
    const struct store_key *k, const struct store_session *ss, const char *w)
{
	int c = w[0] - '0', d;
	uint64_t cls = 0;

	if (isdigit((unsigned char)w[1])) {
		if ((k->codes & STORE_CODESUM_BIT(c, w[1] - '0')) == 0)
			return false;
		if (!isdigit((unsigned char)w[2]))
			return true; /* "45x": the bit is the answer */
		if (c == 4 && w[1] == '2' && w[2] == '1')
			return (k->codes & STORE_CODESUM_421) != 0;
		if (c == 4 && w[1] == '5' && w[2] == '2')
			return (k->codes & STORE_CODESUM_452) != 0;
		return store_code_matches(ss, w);
	}
	for (d = 0; d < 10; d++)
		cls |= STORE_CODESUM_BIT(c, d);
	if ((k->codes & cls) == 0)
		return false;
	if (!isdigit((unsigned char)w[2]))
		return true; /* "4xx" */
	return store_code_matches(ss, w);
}

/*
 * A substring term against one part of the search text (already lower
 * case): the same bytes as the separate string, read from the one block
 * the walk has loaded rather than from another allocation.  The
 * recipients' part holds NULs between addresses, which never match a
 * term's bytes.
 */
static bool
store_term_part(
    const struct store_term *t, const struct store_key *k, enum store_part part)
{
	size_t b = k->search_off[part];
	size_t e = part < STORE_PART_RCPT ? k->search_off[part + 1] - 1
					  : k->search_len;

	if (e <= b || e - b < t->len)
		return false;
	return memmem(k->search + b, e - b, t->lower, t->len) != NULL;
}

/*
 * A regular expression against the search text's part for one field
 * (client, server, HELO or MAIL FROM), read from the key's block like a
 * substring: no pointer chased to the session.  The block is in lower
 * case, which a case-insensitive expression cannot tell.  A field the
 * session lacks (no HELO yet) has an empty part, as an empty field would:
 * only an expression that matches nothing at all needs the session to
 * tell them apart.
 */
static bool
store_term_re_part(const struct store_term *t, const struct store_key *k,
    const struct store_session *ss, int part)
{
	size_t b = part < 0 ? 0 : k->search_off[part];
	size_t e = k->search_off[part + 1] - 1;

	if (e > b || part < STORE_PART_HELO)
		return rx_test(t->re, k->search + b, e - b);
	if (!t->re_empty)
		return false;
	return part == STORE_PART_HELO ? ss->helo != NULL
				       : ss->mail_from != NULL;
}

/* The recipients' part: each address ends with its NUL. */
static bool
store_term_re_rcpts(const struct store_term *t, const struct store_key *k)
{
	size_t o = k->search_off[STORE_PART_RCPT], l;

	while (o < k->search_len) {
		l = strnlen(k->search + o, k->search_len - o);
		if (rx_test(t->re, k->search + o, l))
			return true;
		o += l + 1;
	}
	return false;
}

static bool
store_term_re(const struct store_term *t, const struct store_key *k,
    const struct store_session *ss)
{
	switch (t->field) {
	case STORE_FIELD_CLIENT:
		return store_term_re_part(t, k, ss, -1);
	case STORE_FIELD_SERVER:
		return store_term_re_part(t, k, ss, STORE_PART_SERVER);
	case STORE_FIELD_HELO:
		return store_term_re_part(t, k, ss, STORE_PART_HELO);
	case STORE_FIELD_FROM:
		return store_term_re_part(t, k, ss, STORE_PART_FROM);
	case STORE_FIELD_RCPT:
		return store_term_re_rcpts(t, k);
	case STORE_FIELD_TEXT:
		return store_term_re_part(t, k, ss, -1) ||
		       store_term_re_part(t, k, ss, STORE_PART_SERVER) ||
		       store_term_re_part(t, k, ss, STORE_PART_HELO) ||
		       store_term_re_part(t, k, ss, STORE_PART_FROM) ||
		       store_term_re_rcpts(t, k);
	case STORE_FIELD_CODE:
	case STORE_FIELD_CAUSE:
		break;
	}
	return false;
}

static bool
store_term_match(const struct store_term *t, const struct store_key *k,
    const struct store_session *ss)
{
	/* "from:" while it is being typed: no constraint yet. */
	if (!t->is_re && t->text[0] == '\0')
		return true;
	if (!t->is_re) {
		switch (t->field) {
		case STORE_FIELD_FROM:
			return store_term_part(t, k, STORE_PART_FROM);
		case STORE_FIELD_RCPT:
			return store_term_part(t, k, STORE_PART_RCPT);
		case STORE_FIELD_HELO:
			return store_term_part(t, k, STORE_PART_HELO);
		case STORE_FIELD_CODE:
			return t->code &&
			       store_code_matches_key(k, ss, t->text);
		case STORE_FIELD_TEXT:
			/* A code or class is a code, never part of a port. */
			if (t->code)
				return store_code_matches_key(k, ss, t->text);
			return memmem(k->search, k->search_len, t->lower,
				   t->len) != NULL;
		case STORE_FIELD_SERVER: /* in the session itself */
		case STORE_FIELD_CLIENT:
		case STORE_FIELD_CAUSE:
			break;
		}
	} else if (t->field != STORE_FIELD_CODE &&
		   t->field != STORE_FIELD_CAUSE)
		return store_term_re(t, k, ss);
	switch (t->field) {
	case STORE_FIELD_CODE:
		return store_term_codes(t, ss);
	case STORE_FIELD_FROM:
		return ss->mail_from != NULL &&
		       store_term_str(t, ss->mail_from, strlen(ss->mail_from));
	case STORE_FIELD_RCPT:
		return store_term_rcpts(t, ss);
	case STORE_FIELD_SERVER:
		return store_term_str(t, ss->server, strlen(ss->server));
	case STORE_FIELD_CLIENT:
		return store_term_str(t, ss->client, strlen(ss->client));
	case STORE_FIELD_HELO:
		return ss->helo != NULL &&
		       store_term_str(t, ss->helo, strlen(ss->helo));
	case STORE_FIELD_CAUSE:
		/* The bits answer for every known cause; only a cause past
		   them (STORE_CAUSE_MORE) needs the session's replies. */
		if ((k->causes & t->causes & ~STORE_CAUSE_MORE) != 0)
			return true;
		return (k->causes & STORE_CAUSE_MORE) != 0 &&
		       store_term_causes(t, ss);
	case STORE_FIELD_TEXT:
		break;
	}
	/* Free text, a regular expression. */
	return store_term_str(t, ss->client, strlen(ss->client)) ||
	       store_term_str(t, ss->server, strlen(ss->server)) ||
	       (ss->helo != NULL &&
		   store_term_str(t, ss->helo, strlen(ss->helo))) ||
	       (ss->mail_from != NULL &&
		   store_term_str(t, ss->mail_from, strlen(ss->mail_from))) ||
	       store_term_rcpts(t, ss);
}

void
store_filter_free(struct store_filter *f)
{
	size_t i;

	if (f == NULL)
		return;
	for (i = 0; i < f->n; i++) {
		rx_free(f->terms[i].re);
		free(f->terms[i].text);
		free(f->terms[i].lower);
	}
	free(f->terms);
	free(f);
}

/* The field named before a colon at p (n bytes), or STORE_FIELD_TEXT. */
static enum store_field
store_field_at(const char *p, size_t n, size_t *name_len)
{
	size_t i, l;

	for (i = 0; i < store_filter_nfields; i++) {
		l = strlen(store_filter_fields[i].name);
		if (l < n && p[l] == ':' &&
		    strncasecmp(p, store_filter_fields[i].name, l) == 0) {
			*name_len = l + 1;
			return (enum store_field)i;
		}
	}
	*name_len = 0;
	return STORE_FIELD_TEXT;
}

struct store_filter *
store_filter_new(const char *text, char **cause)
{
	struct store_filter *f = xcalloc(1, sizeof *f);
	struct store_term *t;
	const char *p = text != NULL ? text : "", *v, *e;
	size_t cap = 0, skip, k;
	char *why;

	*cause = NULL;
	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		if (f->n == cap) {
			cap = cap ? cap * 2 : 4;
			f->terms =
			    xreallocarray(f->terms, cap, sizeof *f->terms);
		}
		t = &f->terms[f->n];
		memset(t, 0, sizeof *t);
		e = strchr(p, ' ');
		t->field = store_field_at(
		    p, e != NULL ? (size_t)(e - p) : strlen(p), &skip);
		v = p + skip;
		if (*v == '/') {
			/* Up to a slash that ends the term (or the text): a
			   regex may hold spaces and slashes. */
			v++;
			for (e = v; *e != '\0'; e++)
				if (*e == '/' && (e[1] == ' ' || e[1] == '\0'))
					break;
			t->text = xstrndup(v, (size_t)(e - v));
			t->is_re = true;
			p = *e == '/' ? e + 1 : e;
			if ((t->re = rx_new(t->text, &why)) == NULL) {
				xasprintf(cause, "/%s/: %s", t->text, why);
				free(why);
				free(t->text);
				store_filter_free(f);
				return NULL;
			}
			t->re_empty = rx_test(t->re, "", 0);
		} else {
			e = strchr(v, ' ');
			if (e == NULL)
				e = v + strlen(v);
			t->text = xstrndup(v, (size_t)(e - v));
			p = e;
		}
		t->len = strlen(t->text);
		t->lower = xstrdup(t->text);
		for (k = 0; k < t->len; k++)
			t->lower[k] =
			    (char)store_lower((unsigned char)t->lower[k]);
		t->code = !t->is_re && store_code_pattern(t->text, t->len);
		if (t->field == STORE_FIELD_CAUSE)
			store_term_cause_bits(t);
		f->n++;
	}
	return f;
}

bool
store_filter_match_key(const struct store_filter *f, const struct store_key *k,
    const struct store_session *ss)
{
	size_t i;

	if (f == NULL)
		return true;
	for (i = 0; i < f->n; i++)
		if (!store_term_match(&f->terms[i], k, ss))
			return false;
	return true;
}

bool
store_filter_match(const struct store_filter *f, const struct store_session *ss)
{
	struct store_key k;

	if (f == NULL)
		return true;
	store_key_of(ss, &k);
	return store_filter_match_key(f, &k, ss);
}

/* Every session that the term b matches, a matches too. */
static bool
store_term_narrows(const struct store_term *a, const struct store_term *b)
{
	if (a->field != b->field || a->is_re || b->is_re)
		return false;
	/* "from:" being typed matches everything. */
	if (a->len == 0)
		return true;
	/* A code is matched against codes only: "45" -> "452" widens. */
	if (a->code || b->code)
		return false;
	return store_contains(b->lower, b->len, a->lower, a->len);
}

bool
store_filter_narrows(
    const struct store_filter *from, const struct store_filter *to)
{
	size_t i;

	if (from == NULL || from->n == 0)
		return true;
	if (to == NULL || to->n < from->n)
		return false;
	for (i = 0; i < from->n; i++)
		if (!store_term_narrows(&from->terms[i], &to->terms[i]))
			return false;
	return true;
}

bool
store_filter_all(const struct store_filter *f)
{
	size_t i;

	if (f == NULL)
		return true;
	for (i = 0; i < f->n; i++)
		if (f->terms[i].is_re || f->terms[i].len > 0)
			return false;
	return true;
}

bool
store_session_match(const struct store_session *ss, const char *filter)
{
	struct store_filter *f;
	char *cause;
	bool hit;

	f = store_filter_new(filter, &cause);
	if (f == NULL) {
		free(cause);
		return false;
	}
	hit = store_filter_match(f, ss);
	store_filter_free(f);
	return hit;
}
