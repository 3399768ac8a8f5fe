/*
 * flow: the table of TCP connections on SMTP ports.  Each flow owns two
 * reassembly directions and reports open, ordered data and gaps, and close
 * through struct flow_ops.
 *
 * Lookup is a chained hash on the 4-tuple normalised so that both directions
 * find the same flow; the seed is random so that crafted addresses cannot
 * pile flows into one chain.  Active flows sit on an LRU list (most recently
 * active last) that makes idle expiry and eviction O(1) per flow, and on a
 * list in id order for the end of the capture.
 *
 * A closed flow stays a short while as a tombstone (TIME_WAIT, RFC 9293
 * section 3.6.1): the last ACK, a retransmitted FIN or a late RST must not
 * be mistaken for a new connection picked up mid-stream.  Only a SYN reopens
 * the 4-tuple.  No callback ever names a flow after its close callback.
 *
 * A connection begun by a SYN is a session only once its handshake is
 * complete (the client's ACK, or any payload): until then it waits on its
 * own list, without an id and without the open callback, and if it ends
 * first (RST, FLOW_EMBRYO_TIMEOUT, the flow cap, the end of the capture)
 * the consumer hears of it through ops->aborted only.  A SYN flood thus
 * makes no sessions, and it makes room for itself among its own half-open
 * connections before it touches a real session.
 *
 * Who is the server: the receiver of a SYN (without ACK), else the sender of
 * a SYN-ACK, else (mid-stream) the side whose port is an SMTP port; when both
 * ports are SMTP ports the one listed first in cfg->ports wins (25 before
 * 587 with the defaults), and with the same port on both sides the receiver
 * of the first packet seen.
 *
 * The start of a direction: SYN/SYN-ACK sequence + 1, else the first data
 * segment seen in that direction.  A hole that the peer has acknowledged
 * will never be retransmitted (the capture missed it): it becomes a gap as
 * soon as it is bounded (see reasm_ack).  Holes left when a flow ends,
 * times out or is evicted become gaps before the close callback.
 */
#include "config.h"

#include "flow.h"

#include <bsd/sys/queue.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "seq.h"
#include "xmalloc.h"

/* How long (capture seconds) a half-open connection waits for the rest of
   its handshake (a client retransmits its SYN for about half a minute). */
#define FLOW_EMBRYO_TIMEOUT 30
/* How long (capture seconds) a closed 4-tuple ignores stray segments. */
#define FLOW_LINGER 60
/*
 * Closed connections remembered at most.  A tombstone only has to outlive
 * the stragglers of its connection (the last ACK, a late retransmission),
 * so a few thousand suffice however many flows are open, and the memory
 * they hold stays small and flat on long captures.
 */
#define FLOW_TOMBSTONES_MAX 4096
/* Bounds of the hash table's bucket array (a power of two). */
#define FLOW_BUCKETS_MIN 256
#define FLOW_BUCKETS_MAX (1u << 20)
/* flow_prefetch: levels of the consumer's state behind an entry. */
#define FLOW_PF_LEVELS 3

struct flow_entry {
	/*
	 * What a lookup reads comes first, so that finding a flow touches
	 * the cache lines of its 4-tuple and little else: with thousands of
	 * sessions open, each packet's entry is usually a cache miss.
	 */
	LIST_ENTRY(flow_entry) hash;
	uint32_t hval;
	bool closed;
	bool opened;	/* the handshake completed: a session */
	time_t lru_sec; /* capture second of the last move to the LRU tail */
	struct flow f;
	/* active: LRU order; closed: order of closing */
	TAILQ_ENTRY(flow_entry) lru;
	TAILQ_ENTRY(flow_entry) order; /* active flows by id */
	bool ack_seen[2];	       /* ack[d] valid */
	uint32_t ack[2]; /* highest ACK acknowledging direction d */
	bool cap_reported[2];
	bool trunc_reported;
	bool seq_hi_set[2];
	uint32_t seq_hi[2]; /* end of the highest segment seen, per dir */
};

LIST_HEAD(flow_bucket, flow_entry);
TAILQ_HEAD(flow_list, flow_entry);

struct flow_table {
	struct flow_config cfg;
	uint16_t *ports; /* own copy of cfg.ports */
	const struct flow_ops *ops;
	void *arg;
	struct flow_bucket *buckets;
	size_t mask;
	struct flow_list lru;	 /* active, least recently active first */
	struct flow_list embryo; /* half-open (not opened), oldest first */
	size_t nembryo;
	struct flow_list order;	 /* active, by id */
	struct flow_list closed; /* tombstones, oldest first */
	size_t nclosed;
	uint64_t next_id;
	struct flow_entry *last; /* of the last flow_input, for flow_last */
	/* The capture clock: the earlier of the last two packets' times, so
	   that a single packet with a wild timestamp moves nothing. */
	struct timeval ts_last[2];
	uint64_t npackets;
	struct timeval clock;
	size_t global_left; /* out-of-order budget left */
	uint64_t seed;
	struct flow_stats stats;
	/* flow_prefetch: the hash of the packet it was last shown */
	uint32_t pf_hval;
	bool pf_have;
	const struct flow_entry *pf_entry[FLOW_PF_LEVELS];
};

/* What reasm callbacks need to reach the flow's consumer. */
struct flow_cb {
	struct flow_table *t;
	struct flow_entry *e;
	int dir;
};

void
flow_config_default(struct flow_config *c)
{
	c->ports = NULL;
	c->n_ports = 0;
	c->max_flows = FLOW_MAX_DEFAULT;
	c->ooo_per_dir = REASM_OOO_MAX_DEFAULT;
	c->ooo_total = FLOW_OOO_TOTAL_DEFAULT;
	c->idle_timeout = FLOW_IDLE_TIMEOUT_DEFAULT;
	c->any_port = false;
}

bool
flow_is_smtp_port(const struct flow_config *c, uint16_t port)
{
	size_t i;

	if (c->any_port)
		return true;
	for (i = 0; i < c->n_ports; i++)
		if (c->ports[i] == port)
			return true;
	return false;
}

/* Position of port in the SMTP port list, -1 when absent. */
static int
flow_port_rank(const struct flow_table *t, uint16_t port)
{
	size_t i;

	for (i = 0; i < t->cfg.n_ports; i++)
		if (t->ports[i] == port)
			return (int)i;
	return -1;
}

struct flow_table *
flow_table_new(
    const struct flow_config *c, const struct flow_ops *ops, void *arg)
{
	struct flow_table *t = xcalloc(1, sizeof *t);
	size_t n;

	t->cfg = *c;
	if (t->cfg.max_flows == 0)
		t->cfg.max_flows = 1;
	if (c->n_ports > 0) {
		t->ports = xreallocarray(NULL, c->n_ports, sizeof *t->ports);
		memcpy(t->ports, c->ports, c->n_ports * sizeof *t->ports);
	}
	t->cfg.ports = t->ports;
	t->ops = ops;
	t->arg = arg;
	/* About one flow per bucket at the cap (tombstones add at most as
	   many again). */
	for (n = FLOW_BUCKETS_MIN; n < t->cfg.max_flows && n < FLOW_BUCKETS_MAX;
	     n *= 2)
		;
	t->buckets = xreallocarray(NULL, n, sizeof *t->buckets);
	for (t->mask = 0; t->mask < n; t->mask++)
		LIST_INIT(&t->buckets[t->mask]);
	t->mask = n - 1;
	TAILQ_INIT(&t->lru);
	TAILQ_INIT(&t->embryo);
	TAILQ_INIT(&t->order);
	TAILQ_INIT(&t->closed);
	t->global_left = t->cfg.ooo_total;
	if (getentropy(&t->seed, sizeof t->seed) != 0)
		t->seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)t;
	return t;
}

/* Take an active entry off its activity list (lru or embryo). */
static void
flow_unlist(struct flow_table *t, struct flow_entry *e)
{
	if (e->opened)
		TAILQ_REMOVE(&t->lru, e, lru);
	else {
		TAILQ_REMOVE(&t->embryo, e, lru);
		t->nembryo--;
	}
}

static void
flow_entry_free(struct flow_table *t, struct flow_entry *e)
{
	int d;

	if (t->last == e)
		t->last = NULL;
	for (d = 0; d < FLOW_PF_LEVELS; d++)
		if (t->pf_entry[d] == e)
			t->pf_entry[d] = NULL;
	LIST_REMOVE(e, hash);
	if (e->closed) {
		TAILQ_REMOVE(&t->closed, e, lru);
		t->nclosed--;
	} else {
		flow_unlist(t, e);
		TAILQ_REMOVE(&t->order, e, order);
		t->stats.active--;
	}
	for (d = 0; d < 2; d++) {
		t->global_left += reasm_pending(&e->f.dir[d]);
		reasm_clear(&e->f.dir[d]);
	}
	free(e);
}

void
flow_table_free(struct flow_table *t)
{
	struct flow_entry *e;

	if (t == NULL)
		return;
	while ((e = TAILQ_FIRST(&t->lru)) != NULL)
		flow_entry_free(t, e);
	while ((e = TAILQ_FIRST(&t->embryo)) != NULL)
		flow_entry_free(t, e);
	while ((e = TAILQ_FIRST(&t->closed)) != NULL)
		flow_entry_free(t, e);
	free(t->buckets);
	free(t->ports);
	free(t);
}

static size_t
flow_addr_len(int af)
{
	return af == AF_INET6 ? 16 : 4;
}

static uint64_t
flow_mix(uint64_t h, uint32_t w)
{
	h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
	return h ^ (h >> 29);
}

/*
 * Whether the n-byte addresses a and b are equal.  n is 4 or 16, and a
 * constant size lets the compiler compare in registers instead of calling
 * memcmp, which this did several times per packet.
 */
static bool
flow_addr_eq(const uint8_t *a, const uint8_t *b, size_t n)
{
	return n == 4 ? memcmp(a, b, 4) == 0 : memcmp(a, b, 16) == 0;
}

/*
 * Symmetric: both directions of a connection hash alike.  The endpoints
 * are put in a canonical order first; any total order does (the seed is
 * random, so no hash value is ever seen outside), and for IPv4 comparing
 * the addresses as native 32-bit words is the cheapest.
 */
static uint32_t
flow_hash(const struct flow_table *t, const struct decode_pkt *p)
{
	const uint8_t *a = p->src, *b = p->dst;
	uint16_t pa = p->sport, pb = p->dport;
	size_t alen = flow_addr_len(p->af), i;
	uint64_t h = t->seed ^ (uint64_t)p->af;
	uint32_t w, wa, wb;
	int cmp;

	if (alen == 4) {
		memcpy(&wa, a, 4);
		memcpy(&wb, b, 4);
		cmp = wa < wb ? -1 : wa > wb;
	} else
		cmp = memcmp(a, b, alen);
	if (cmp > 0 || (cmp == 0 && pa > pb)) {
		a = p->dst;
		b = p->src;
		pa = p->dport;
		pb = p->sport;
	}
	for (i = 0; i < alen; i += 4) {
		memcpy(&w, a + i, 4);
		h = flow_mix(h, w);
		memcpy(&w, b + i, 4);
		h = flow_mix(h, w);
	}
	h = flow_mix(h, (uint32_t)pa << 16 | pb);
	return (uint32_t)(h ^ (h >> 32));
}

/* Which side of e sent p: EV_DIR_CLIENT, EV_DIR_SERVER, or -1 if p is not
   part of e at all. */
static int
flow_dir(const struct flow_entry *e, const struct decode_pkt *p)
{
	size_t alen = flow_addr_len(p->af);
	const struct flow *f = &e->f;

	if (f->af != p->af)
		return -1;
	if (p->sport == f->cport && p->dport == f->sport &&
	    flow_addr_eq(p->src, f->client, alen) &&
	    flow_addr_eq(p->dst, f->server, alen))
		return EV_DIR_CLIENT;
	if (p->sport == f->sport && p->dport == f->cport &&
	    flow_addr_eq(p->src, f->server, alen) &&
	    flow_addr_eq(p->dst, f->client, alen))
		return EV_DIR_SERVER;
	return -1;
}

static struct flow_entry *
flow_find(const struct flow_table *t, const struct decode_pkt *p, uint32_t hval,
    int *dir)
{
	struct flow_entry *e;

	LIST_FOREACH(e, &t->buckets[hval & t->mask], hash)
	{
		/* cppcheck-suppress uninitvar */
		if (e->hval != hval)
			continue;
		if ((*dir = flow_dir(e, p)) != -1)
			return e;
	}
	return NULL;
}

/*
 * With thousands of connections open, finding a packet's flow is two cache
 * misses in a row, the bucket, then the entry, and its consumer's state a
 * few more.  Shown each packet a few packets before flow_input gets it
 * (capture's CAPTURE_PEEK_AHEAD), this asks for the packet's bucket, for
 * the first entry of the bucket asked for at the previous call, which has
 * arrived meanwhile, and through ops->prefetch for the state behind the
 * entries of the calls before, one level per call.  Only hints: nothing
 * changes.
 */
uint32_t
flow_prefetch(struct flow_table *t, const struct decode_pkt *p)
{
	const struct flow_entry *e;
	size_t off;
	int level;

	/* The entries asked for at the previous calls have arrived: their
	   consumer's state, one level deeper per call. */
	for (level = FLOW_PF_LEVELS; level >= 1; level--) {
		e = t->pf_entry[level - 1];
		if (e != NULL && e->f.user != NULL && t->ops->prefetch != NULL)
			t->ops->prefetch(t->arg, &e->f, level);
		if (level < FLOW_PF_LEVELS)
			t->pf_entry[level] = e;
	}
	t->pf_entry[0] = NULL;
	if (t->pf_have) {
		e = LIST_FIRST(&t->buckets[t->pf_hval & t->mask]);
		if (e != NULL) {
			for (off = 0; off < sizeof *e; off += 64)
				__builtin_prefetch((const char *)e + off);
			t->pf_entry[0] = e;
		}
	}
	t->pf_have = p != NULL && (p->af == AF_INET || p->af == AF_INET6);
	if (!t->pf_have)
		return 0;
	t->pf_hval = flow_hash(t, p);
	__builtin_prefetch(&t->buckets[t->pf_hval & t->mask]);
	return t->pf_hval;
}

struct flow *
flow_lookup(struct flow_table *t, const struct decode_pkt *p)
{
	struct flow_entry *e;
	int dir;

	if (p->af != AF_INET && p->af != AF_INET6)
		return NULL;
	e = flow_find(t, p, flow_hash(t, p), &dir);
	if (e == NULL || e->closed)
		return NULL;
	return &e->f;
}

static void
flow_cb_data(
    void *arg, const uint8_t *data, size_t len, const struct timeval *ts)
{
	struct flow_cb *c = arg;

	if (c->t->ops->data != NULL)
		c->t->ops->data(c->t->arg, &c->e->f, c->dir, data, len, ts);
}

static void
flow_cb_gap(void *arg, uint64_t bytes, const struct timeval *ts)
{
	struct flow_cb *c = arg;

	c->t->stats.gap_bytes += bytes;
	if (c->t->ops->gap != NULL)
		c->t->ops->gap(c->t->arg, &c->e->f, c->dir, bytes, ts);
}

static const struct reasm_ops flow_reasm_ops = {flow_cb_data, flow_cb_gap};

static void
flow_anomaly(struct flow_table *t, struct flow *f, const char *what,
    const char *detail, const struct timeval *ts)
{
	if (t->ops->anomaly != NULL)
		t->ops->anomaly(t->arg, f, what, detail, ts);
}

/* An out-of-order cap forced a gap: counted every time, reported once per
   direction so that a flood does not bury the session in anomalies. */
static void
flow_capped(struct flow_table *t, struct flow_entry *e, int dir,
    const struct timeval *ts)
{
	char detail[128];

	t->stats.cap_ooo++;
	if (e->cap_reported[dir])
		return;
	e->cap_reported[dir] = true;
	snprintf(detail, sizeof detail,
	    "%s data: out-of-order bytes over the cap (%zu per direction, "
	    "%zu in all); a hole was declared a gap",
	    dir == EV_DIR_CLIENT ? "client" : "server", t->cfg.ooo_per_dir,
	    t->cfg.ooo_total);
	flow_anomaly(t, &e->f, EV_ANOM_OOO_CAP, detail, ts);
}

static void
flow_insert(struct flow_table *t, struct flow_entry *e, int dir, uint32_t seq,
    const uint8_t *data, size_t len, const struct timeval *ts)
{
	struct flow_cb c = {t, e, dir};
	bool capped = false;

	reasm_insert(&e->f.dir[dir], seq, data, len, ts, &flow_reasm_ops, &c,
	    &t->global_left, &capped);
	if (capped)
		flow_capped(t, e, dir, ts);
}

/* Every hole of both directions becomes a gap: the flow is ending. */
static void
flow_flush(struct flow_table *t, struct flow_entry *e, const struct timeval *ts)
{
	struct flow_cb c = {t, e, 0};
	struct reasm *r;
	int d;

	for (d = 0; d < 2; d++) {
		c.dir = d;
		r = &e->f.dir[d];
		while (
		    reasm_skip_gap(r, ts, &flow_reasm_ops, &c, &t->global_left))
			;
		/* Bytes the peer acknowledged (or that precede a FIN) but
		   that never showed up in the capture. */
		if (e->ack_seen[d])
			reasm_ack(r, e->ack[d], true, ts, &flow_reasm_ops, &c,
			    &t->global_left);
		if (r->fin_seen)
			reasm_ack(r, r->fin_seq, true, ts, &flow_reasm_ops, &c,
			    &t->global_left);
	}
}

/* Declare the holes, tell the consumer, keep a tombstone. */
static void
flow_close(struct flow_table *t, struct flow_entry *e,
    enum flow_close_reason why, const struct timeval *ts)
{
	struct flow_entry *old;
	int d;

	flow_flush(t, e, ts);
	if (!e->opened) {
		t->stats.aborted++;
		if (t->ops->aborted != NULL)
			t->ops->aborted(t->arg, &e->f, why, ts);
	} else if (t->ops->close != NULL)
		t->ops->close(t->arg, &e->f, why, ts);
	/* From here on the consumer never hears of e again. */
	for (d = 0; d < 2; d++) {
		t->global_left += reasm_pending(&e->f.dir[d]);
		reasm_clear(&e->f.dir[d]);
	}
	if (why != FLOW_CLOSE_FIN && why != FLOW_CLOSE_RST) {
		/* Timed out, evicted, replaced or the end: nothing more is
		   expected from this connection, so no tombstone; should it
		   speak again, it is picked up mid-stream as a new flow. */
		flow_entry_free(t, e);
		return;
	}
	flow_unlist(t, e);
	TAILQ_REMOVE(&t->order, e, order);
	t->stats.active--;
	e->closed = true;
	e->f.last_ts = *ts;
	TAILQ_INSERT_TAIL(&t->closed, e, lru);
	t->nclosed++;
	if (t->nclosed > FLOW_TOMBSTONES_MAX || t->nclosed > t->cfg.max_flows) {
		old = TAILQ_FIRST(&t->closed);
		flow_entry_free(t, old);
	}
}

/* The flow cap: the least recently active flow makes room. */
static void
flow_evict(struct flow_table *t, const struct timeval *ts)
{
	char detail[128];

	if (TAILQ_FIRST(&t->lru) == NULL)
		return;
	t->stats.cap_flows++;
	snprintf(detail, sizeof detail,
	    "%zu flows tracked: the least recently active one was evicted",
	    t->cfg.max_flows);
	(void)flow_evict_oldest(t, ts, EV_ANOM_FLOW_CAP, detail);
}

bool
flow_evict_oldest(struct flow_table *t, const struct timeval *ts,
    const char *what, const char *detail)
{
	struct flow_entry *e = TAILQ_FIRST(&t->lru);

	if (e == NULL)
		return false;
	flow_anomaly(t, &e->f, what, detail, ts);
	flow_close(t, e, FLOW_CLOSE_EVICTED, ts);
	return true;
}

size_t
flow_trim(struct flow_table *t, struct flow *f, const struct timeval *ts)
{
	struct flow_entry *e = f->priv;
	struct flow_cb c = {t, e, 0};
	size_t before = 0, after = 0;
	int d;

	for (d = 0; d < 2; d++) {
		before += reasm_pending(&f->dir[d]);
		c.dir = d;
		while (reasm_skip_gap(
		    &f->dir[d], ts, &flow_reasm_ops, &c, &t->global_left))
			;
		after += reasm_pending(&f->dir[d]);
	}
	return before > after ? before - after : 0;
}

size_t
flow_mem(const struct flow *f)
{
	return sizeof(struct flow_entry) + reasm_pending(&f->dir[0]) +
	       reasm_pending(&f->dir[1]);
}

size_t
flow_table_mem(const struct flow_table *t)
{
	return (size_t)(t->stats.active + t->nclosed) *
		   sizeof(struct flow_entry) +
	       (t->mask + 1) * sizeof *t->buckets +
	       (t->cfg.ooo_total - t->global_left);
}

/* Mid-stream: does the sender of p look like the server? */
static bool
flow_src_is_server(const struct flow_table *t, const struct decode_pkt *p)
{
	int s = flow_port_rank(t, p->sport), d = flow_port_rank(t, p->dport);

	if (t->cfg.any_port) /* clients pick ports from the top */
		return p->sport < p->dport;
	if (s < 0)
		return false;
	if (d < 0)
		return true;
	if (s != d)
		return s < d;
	return false;
}

static void flow_open(
    struct flow_table *, struct flow_entry *, const struct timeval *);

static struct flow_entry *
flow_create(struct flow_table *t, const struct decode_pkt *p, uint32_t hval)
{
	struct flow_entry *e;
	struct flow *f;
	size_t alen = flow_addr_len(p->af);
	bool src_server;

	/* Half-open connections make room first, silently (their end is
	   counted by the consumer through ops->aborted). */
	while (t->stats.active >= t->cfg.max_flows) {
		if (TAILQ_FIRST(&t->embryo) != NULL)
			flow_close(t, TAILQ_FIRST(&t->embryo),
			    FLOW_CLOSE_EVICTED, &p->ts);
		else
			flow_evict(t, &p->ts);
	}
	e = xcalloc(1, sizeof *e);
	f = &e->f;
	f->priv = e;
	e->hval = hval;
	f->af = p->af;
	if ((p->flags & (DECODE_TH_SYN | DECODE_TH_ACK)) == DECODE_TH_SYN)
		src_server = false;
	else if (p->flags & DECODE_TH_SYN)
		src_server = true; /* SYN-ACK: the client's SYN was missed */
	else
		src_server = flow_src_is_server(t, p);
	memcpy(src_server ? f->server : f->client, p->src, alen);
	memcpy(src_server ? f->client : f->server, p->dst, alen);
	f->sport = src_server ? p->sport : p->dport;
	f->cport = src_server ? p->dport : p->sport;
	f->midstream = (p->flags & DECODE_TH_SYN) == 0;
	f->first_ts = f->last_ts = p->ts;
	/* Known before the open callback: the greeting's latency runs from
	   the client's SYN (as the JSON's client and server). */
	if (!src_server && (p->flags & DECODE_TH_SYN)) {
		f->syn_seen = true;
		f->syn_ts = p->ts;
	}
	reasm_init(&f->dir[EV_DIR_CLIENT], t->cfg.ooo_per_dir);
	reasm_init(&f->dir[EV_DIR_SERVER], t->cfg.ooo_per_dir);
	e->lru_sec = p->ts.tv_sec;
	LIST_INSERT_HEAD(&t->buckets[hval & t->mask], e, hash);
	TAILQ_INSERT_TAIL(&t->embryo, e, lru);
	t->nembryo++;
	TAILQ_INSERT_TAIL(&t->order, e, order);
	t->stats.active++;
	/* A client's SYN: a session once the handshake completes.  Else
	   (mid-stream, or the SYN was missed) it is one now. */
	if (!f->syn_seen)
		flow_open(t, e, &p->ts);
	return e;
}

/* The handshake completed (or was never to be seen): a session. */
static void
flow_open(struct flow_table *t, struct flow_entry *e, const struct timeval *ts)
{
	TAILQ_REMOVE(&t->embryo, e, lru);
	t->nembryo--;
	TAILQ_INSERT_TAIL(&t->lru, e, lru);
	e->opened = true;
	if (!t->cfg.any_port)
		e->f.id = ++t->next_id;
	t->stats.flows++;
	if (t->ops->open != NULL)
		t->ops->open(t->arg, &e->f, e->f.syn_seen ? &e->f.syn_ts : ts);
}

uint64_t
flow_assign_id(struct flow_table *t, struct flow *f)
{
	if (f->id == 0)
		f->id = ++t->next_id;
	return f->id;
}

/* A SYN from the client of a live flow: a retransmission, or (another ISN,
   bytes already seen) the 4-tuple reused by a new connection whose
   predecessor ended unseen. */
static bool
flow_syn_reuses(const struct flow_entry *e, int dir, const struct decode_pkt *p)
{
	const struct reasm *c = &e->f.dir[EV_DIR_CLIENT];
	const struct reasm *s = &e->f.dir[EV_DIR_SERVER];
	uint32_t isn;

	if (dir != EV_DIR_CLIENT)
		return false;
	if (c->next_off == 0 && c->nsegs == 0 && s->next_off == 0 &&
	    s->nsegs == 0)
		return false; /* no byte seen yet: at most a new ISN */
	if (e->f.midstream)
		return true;
	/* next_off counts the bytes since the ISN: a SYN with the same ISN
	   is a late duplicate. */
	isn = c->next_seq - (uint32_t)c->next_off;
	return p->seq + 1 != isn;
}

static bool
flow_tv_lt(const struct timeval *a, const struct timeval *b)
{
	return a->tv_sec < b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_usec < b->tv_usec);
}

static void
flow_clock(struct flow_table *t, const struct timeval *ts)
{
	if (t->npackets++ == 0)
		t->ts_last[1] = *ts;
	t->ts_last[0] = t->ts_last[1];
	t->ts_last[1] = *ts;
	t->clock = flow_tv_lt(&t->ts_last[0], &t->ts_last[1]) ? t->ts_last[0]
							      : t->ts_last[1];
}

static uint64_t flow_input_at(
    struct flow_table *, const struct decode_pkt *, const uint32_t *);

uint64_t
flow_input(struct flow_table *t, const struct decode_pkt *p)
{
	return flow_input_at(t, p, NULL);
}

uint64_t
flow_input_hashed(
    struct flow_table *t, const struct decode_pkt *p, uint32_t hval)
{
	return flow_input_at(t, p, &hval);
}

/* hashed: the packet's hash when known, else NULL. */
static uint64_t
flow_input_at(
    struct flow_table *t, const struct decode_pkt *p, const uint32_t *hashed)
{
	struct flow_entry *e;
	struct flow_cb c;
	struct reasm *r;
	uint32_t hval, seq, *ack;
	uint64_t id;
	bool syn;
	int dir = 0, peer;

	t->last = NULL;
	if (p->af != AF_INET && p->af != AF_INET6)
		return 0;
	if (!flow_is_smtp_port(&t->cfg, p->sport) &&
	    !flow_is_smtp_port(&t->cfg, p->dport))
		return 0;
	flow_clock(t, &p->ts);
	syn = (p->flags & (DECODE_TH_SYN | DECODE_TH_ACK)) == DECODE_TH_SYN;
	hval = hashed != NULL ? *hashed : flow_hash(t, p);
	e = flow_find(t, p, hval, &dir);
	if (e != NULL && !e->closed && syn && flow_syn_reuses(e, dir, p)) {
		/* Its end was not captured: say so as a time-out. */
		flow_close(t, e, FLOW_CLOSE_TIMEOUT, &p->ts);
		e = NULL;
	}
	if (e != NULL && e->closed) {
		/* A straggler of a closed connection (its last ACK): it
		   belongs to that session, for -w and the UI's save. */
		if (!syn)
			return e->opened ? e->f.id : FLOW_ID_HALF_OPEN;
		flow_entry_free(t, e);
		e = NULL;
	}
	if (e == NULL) {
		/* Only a handshake or data starts a flow: a lone ACK, FIN or
		   RST is the end of something we never saw. */
		if ((p->flags & DECODE_TH_RST) ||
		    ((p->flags & DECODE_TH_SYN) == 0 && p->wire_len == 0))
			return 0;
		e = flow_create(t, p, hval);
		dir = flow_dir(e, p);
	}
	/* The client's ACK after the SYN, or any payload: the handshake is
	   complete (a lost ACK is implied by data). */
	if (!e->opened &&
	    (p->wire_len > 0 ||
		(dir == EV_DIR_CLIENT && (p->flags & DECODE_TH_ACK) && !syn &&
		    (p->flags & DECODE_TH_RST) == 0)))
		flow_open(t, e, &p->ts);
	id = e->opened ? e->f.id : FLOW_ID_HALF_OPEN;
	t->last = e;
	peer = !dir;
	e->f.last_ts = p->ts;
	/*
	 * Keep the LRU list in order to the second: moving an entry on every
	 * packet would touch its neighbours' cache lines each time.  Idle
	 * timeouts (minutes) and evictions can live with one second.
	 */
	if (e->lru_sec != p->ts.tv_sec) {
		struct flow_list *l = e->opened ? &t->lru : &t->embryo;

		e->lru_sec = p->ts.tv_sec;
		TAILQ_REMOVE(l, e, lru);
		TAILQ_INSERT_TAIL(l, e, lru);
	}

	seq = p->seq;
	if (p->flags & DECODE_TH_SYN) {
		/* The SYN takes one sequence number (RFC 9293 3.4). */
		if (syn && dir == EV_DIR_CLIENT) {
			if (!e->f.syn_seen) {
				e->f.syn_seen = true;
				e->f.syn_ts = p->ts;
			}
			reasm_set_isn(&e->f.dir[dir], seq + 1);
		} else if (!syn && dir == EV_DIR_SERVER)
			reasm_set_isn(&e->f.dir[dir], seq + 1);
		seq++;
	}
	/*
	 * The acknowledgement first: a reply usually carries the ACK that
	 * proves a client segment was lost, and the gap it declares (and the
	 * client bytes held behind it) come before the reply itself.
	 */
	if (p->flags & DECODE_TH_ACK) {
		ack = &e->ack[peer];
		if (!e->ack_seen[peer] || SEQ_GT(p->ack, *ack)) {
			e->ack_seen[peer] = true;
			*ack = p->ack;
		}
		r = &e->f.dir[peer];
		if (r->nsegs > 0 || r->fin_seen) {
			c.t = t;
			c.e = e;
			c.dir = peer;
			reasm_ack(r, *ack, false, &p->ts, &flow_reasm_ops, &c,
			    &t->global_left);
		}
	}
	e->f.pkts[dir]++;
	if (p->wire_len > 0) {
		uint32_t end = seq + (uint32_t)p->wire_len;

		e->f.wire_bytes[dir] += p->wire_len;
		e->f.cap_bytes[dir] += p->len;
		if (e->seq_hi_set[dir] && SEQ_LEQ(end, e->seq_hi[dir]))
			e->f.retrans[dir]++;
		else {
			e->seq_hi_set[dir] = true;
			e->seq_hi[dir] = end;
		}
	}
	if (p->len > 0)
		flow_insert(t, e, dir, seq, p->payload, p->len, &p->ts);
	if (p->wire_len > p->len) {
		/* The snapshot length cut the payload: what is missing
		   becomes a gap in its turn.  A packet of which no payload
		   byte was kept is the pipeline's to report (header-only
		   captures). */
		flow_insert(t, e, dir, seq + (uint32_t)p->len, NULL,
		    p->wire_len - p->len, &p->ts);
		if (!e->trunc_reported && p->len > 0) {
			e->trunc_reported = true;
			flow_anomaly(t, &e->f, EV_ANOM_TRUNCATED_PACKET,
			    "payload cut by the snapshot length (-s)", &p->ts);
		}
	}
	if (p->flags & DECODE_TH_FIN) {
		reasm_fin(&e->f.dir[dir], seq + (uint32_t)p->wire_len);
		e->f.fin[dir] = true;
	}
	if (p->flags & DECODE_TH_RST) {
		e->f.rst = true;
		flow_close(t, e, FLOW_CLOSE_RST, &p->ts);
	} else if (reasm_done(&e->f.dir[EV_DIR_CLIENT]) &&
		   reasm_done(&e->f.dir[EV_DIR_SERVER]))
		flow_close(t, e, FLOW_CLOSE_FIN, &p->ts);
	return id;
}

static int64_t
flow_usec_since(const struct timeval *then, const struct timeval *now)
{
	return ((int64_t)now->tv_sec - then->tv_sec) * 1000000 +
	       ((int64_t)now->tv_usec - then->tv_usec);
}

void
flow_expire(struct flow_table *t, const struct timeval *now)
{
	struct flow_entry *e;
	struct timeval lim = t->clock;
	int64_t idle = (int64_t)t->cfg.idle_timeout * 1000000, d;

	/* Trust now only half an idle period ahead of the packets' clock:
	   on a quiet live link flows idle that long still expire, but one
	   packet with a corrupt timestamp cannot time every flow out. */
	lim.tv_sec += t->cfg.idle_timeout / 2;
	if (flow_tv_lt(&lim, now))
		now = &lim;
	while ((e = TAILQ_FIRST(&t->lru)) != NULL &&
	       flow_usec_since(&e->f.last_ts, now) >= idle)
		flow_close(t, e, FLOW_CLOSE_TIMEOUT, now);
	idle = (int64_t)FLOW_EMBRYO_TIMEOUT * 1000000;
	while ((e = TAILQ_FIRST(&t->embryo)) != NULL &&
	       flow_usec_since(&e->f.last_ts, now) >= idle)
		flow_close(t, e, FLOW_CLOSE_TIMEOUT, now);
	/* Tombstones go after FLOW_LINGER, or when time runs backwards
	   that far (a capture with non-monotonic timestamps). */
	while ((e = TAILQ_FIRST(&t->closed)) != NULL) {
		d = flow_usec_since(&e->f.last_ts, now);
		if (d < (int64_t)FLOW_LINGER * 1000000 &&
		    -d < (int64_t)FLOW_LINGER * 1000000)
			break;
		flow_entry_free(t, e);
	}
}

void
flow_finish(struct flow_table *t, const struct timeval *now)
{
	struct flow_entry *e;

	/* flow_close() frees e and unlinks it (the analyzer loses track). */
	while ((e = TAILQ_FIRST(&t->order)) != NULL)
		flow_close(t, e, FLOW_CLOSE_END, now); /* NOLINT */
	while ((e = TAILQ_FIRST(&t->closed)) != NULL)
		flow_entry_free(t, e); /* NOLINT */
}

struct flow *
flow_last(struct flow_table *t)
{
	return t->last != NULL && !t->last->closed ? &t->last->f : NULL;
}

bool
flow_is_open(const struct flow *f)
{
	const struct flow_entry *e = f->priv;

	return e->opened;
}

const char *
flow_close_reason_name(enum flow_close_reason why)
{
	switch (why) {
	case FLOW_CLOSE_FIN:
		return "fin";
	case FLOW_CLOSE_RST:
		return "rst";
	case FLOW_CLOSE_TIMEOUT:
		return "timeout";
	case FLOW_CLOSE_EVICTED:
		return "evicted";
	case FLOW_CLOSE_END:
		return "end-of-capture";
	}
	return "fin";
}

const struct flow_stats *
flow_table_stats(const struct flow_table *t)
{
	return &t->stats;
}
