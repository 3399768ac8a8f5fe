/*
 * diag: the knowledge base and the rule engine that explains replies.
 *
 * For every reply, diag_reply decides `highlight` (421 and 452) and, when a
 * rule matches, attaches an event_diag whose texts are the rule's templates
 * filled from the session's context (event_reply_ctx), the server software
 * recognised from the greeting, and a small per-server history of recent
 * sessions (to spot bursts of 421/452 across sessions).
 *
 * Precedence: site rules (--rules, added with diag_add_rules_take) in their
 * order, then the built-in rules (data/rules.conf) in file order, first match
 * wins; then a generic explanation built from the code tables
 * (diag_tables.c).  Other 4xx/5xx replies get a diagnosis only from a real
 * rule, to keep the output lean.
 *
 * Bounds: the history holds DIAG_HIST_SERVERS servers (the least recently
 * touched is evicted) of DIAG_HIST_SESSIONS sessions each; reply text
 * given to regexec is cut at DIAG_TEXT_MAX bytes; expanded texts at
 * DIAG_OUT_MAX bytes.
 */
#include "config.h"

#include "diag.h"

#include "diag_tables.h"

#include <ctype.h>
#include <regex.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "kb.h"
#include "lexicon.h"
#include "rxbound.h"
#include "vis.h"
#include "xmalloc.h"

#define DIAG_HIST_SERVERS 256
/* Chains of the servers' index: a power of two, twice the servers. */
#define DIAG_HIST_BUCKETS 512
#define DIAG_LEX_MAX 9 /* lexicons: 8 --lexicon files and the built-in */
#define DIAG_HIST_SESSIONS 16
#define DIAG_TEXT_MAX 4096
#define DIAG_OUT_MAX 16384
#define DIAG_BURST_WINDOW 600.0 /* s: window of the {burst} placeholder */
#define DIAG_BURST_NOTE 3	/* sessions: append a burst note from here */
#define DIAG_OPEN_MAX 1800.0	/* s: a session silent longer is not "open" */
#define DIAG_FEW_CONNS 20	/* open connections below this are "few" */
/* RFC 5321 4.5.3.2.7: a server waits 5 minutes for the next command; a
   measured idle time within 10 % of that is that timeout. */
#define DIAG_RFC_IDLE_LOW 270000.0  /* ms */
#define DIAG_RFC_IDLE_HIGH 330000.0 /* ms */

/* ---- history of recent sessions per server ---- */

/*
 * The kind of a 421/452, so that a burst counts only failures that have the
 * same cause: a recipient limit, a connection limit and an idle timeout on
 * one server are three unrelated things, not an overload.  Two replies are
 * of the same kind when they have the same code and the same base rule (the
 * rule that matches when burst rules are left out), or the same specific
 * enhanced code.
 */
struct diag_kind {
	int code;
	char enhanced[16];	 /* "" when none */
	const struct rule *rule; /* base rule; NULL: the generic text */
	unsigned ans_bit;	 /* tells generic kinds apart */
};

#define DIAG_HSESS_FLAGS 4 /* kinds remembered per session */

struct diag_hflag {
	struct diag_kind kind;
	double t;
};

struct diag_hsess {
	uint64_t session;
	char client[48]; /* client address without the port */
	bool open;	 /* between its open and close events */
	bool greeted;	 /* its 220 greeting was looked at */
	double last;	 /* last activity, s */
	struct diag_hflag f[DIAG_HSESS_FLAGS];
	size_t nf;
};

struct diag_hserver {
	char server[64];
	uint32_t server_hash; /* diag_server_hash of server */
	int software;	      /* 1 + kb_servers index named by a 220 greeting */
	/* The last greeting looked at, by hash, and what it named (-1:
	   nothing): a server greets every session alike, and matching it
	   against every known software is costly. */
	uint32_t greet_hash;
	int greet_sw;
	bool greet_seen;
	/* The same for the greeting a later reply's context carries, by a
	   64-bit hash and its length. */
	uint64_t ctx_greet_hash;
	size_t ctx_greet_len;
	int ctx_greet_sw;
	bool ctx_greet_seen;
	struct diag_hsess s[DIAG_HIST_SESSIONS];
	size_t n;
	/* s[i].session and s[i].last again, side by side: every reply
	   looks its session up, and a session new to a full server looks
	   for the oldest; each s[i] is several cache lines. */
	uint64_t sid[DIAG_HIST_SESSIONS];
	double slast[DIAG_HIST_SESSIONS];
	/* diag_hist_touch's links, each 1 + an index into diag.hist (0:
	   none): the next entry of the index chain, and the neighbours in
	   the order of last touch. */
	uint16_t chain, newer, older;
};

/* One remembered lexicon answer. */
struct diag_wcache {
	bool used, found;
	uint32_t hash;
	char text[200];
	struct lexicon_hit hit;
};

#define DIAG_WCACHE 64

#define DIAG_CODES 1000

#define DIAG_XCACHE 256

struct diag_xcache {
	const char *tmpl; /* the address it was asked for */
	char *src;	  /* a copy: an address can be reused */
	char *out;
};

struct diag_rlist {
	const struct rule **v;
	size_t n;
	bool built;
};

/*
 * A template with placeholders, read once (diag_compile): runs of plain
 * text, placeholders by number, and [[ ]] segments as ops, so that each
 * expansion only walks them.  DIAG_TCACHE of them, by address.
 */
#define DIAG_TCACHE 512

enum diag_opk {
	DIAG_OP_TEXT, /* off, len: bytes of the template */
	DIAG_OP_PH,   /* ph: a placeholder (-1: a name not known) */
	DIAG_OP_SEG,  /* [[ ... ]]: the next len ops, kept when all known */
	DIAG_OP_BANG, /* [[!{ph} ...]]: the next len ops, when ph is not */
};

struct diag_op {
	enum diag_opk k;
	int ph;
	size_t off, len;
};

struct diag_tcache {
	const char *tmpl; /* the address it was asked for */
	char *src;	  /* a copy: an address can be reused */
	struct diag_op *ops;
	size_t nops;
};

/* The text expressions already run on this reply's text, and where they
   matched: several steps of a diagnosis ask the same rule again. */
#define DIAG_TMEMO 8

struct diag_tmatch {
	const struct rule *r;
	bool ok, pos; /* pos: so and eo are known */
	size_t so, eo;
};

struct diag_tmemo {
	struct diag_tmatch v[DIAG_TMEMO];
	size_t n;
};

struct diag {
	struct rules *site[8]; /* --rules files, first has precedence */
	size_t nsite;
	struct rules *builtin;
	/* --lexicon files first, the built-in one last */
	const struct lexicon *lex[DIAG_LEX_MAX];
	size_t nlex;
	struct diag_wcache wcache[DIAG_WCACHE];
	regex_t *server_re; /* kb_nservers */
	regex_t busy_re;    /* texts that speak of load or connection limits */
	struct diag_hserver *hist;
	size_t nhist;
	/* By diag_server_hash: 1 + the index of a chain's first entry. */
	uint16_t hist_bucket[DIAG_HIST_BUCKETS];
	uint16_t hist_oldest, hist_newest; /* 1 + index, 0: none */
	/* Per reply code 0-999 (DIAG_CODES: any other code), the rules whose
	   codes: match it, site rules first, in precedence order: a reply is
	   tried against these only.  Built when first needed, dropped when
	   rules are added. */
	struct diag_rlist *bycode;
	/* Expanded texts of templates without placeholders (most of them),
	   by address, DIAG_XCACHE of them; NULL until first needed. */
	struct diag_xcache *xcache;
	/* Templates with placeholders, read (DIAG_TCACHE); NULL until
	   first needed. */
	struct diag_tcache *tcache;
};

/* What a rule is matched against. */
struct diag_input {
	const struct diag *d;
	int code;
	char enhanced[16]; /* "" when none */
	int enh[3];
	bool has_enh;
	bool enh_in_text;    /* quoted in the text, not sent as the code */
	const char *text;    /* NULL in --explain without text */
	const char *answers; /* "" = none / unknown */
	bool answers_known;  /* false in --explain without --after */
	unsigned ans_bit;
	const struct event_reply_ctx *ctx; /* NULL without a capture */
	int server; /* index into kb_servers, -1 unknown */
	const struct diag_hserver *hist;
	const struct diag_hsess *sess; /* this session in hist */
	const struct diag_kind *kind;  /* of this reply; NULL in --explain */
	bool skip_burst;	       /* finding the base rule */
	const struct rule *rule;       /* being expanded, NULL if generic */
	struct diag_tmemo *tm;	       /* NULL: nothing remembered */
	double now;
	char *helo; /* sanitised copy, owned */
	/* Values several placeholders of one diagnosis ask for, counted
	   once: {open_conns} (for hist, sess and now) and {burst} (for
	   hist, kind and now). */
	struct diag_vmemo *vm;
};

struct diag_vmemo {
	bool open_done, burst_done;
	const struct diag_hserver *open_hist, *burst_hist;
	const struct diag_hsess *open_sess;
	const struct diag_kind *burst_kind;
	double open_now, burst_now;
	unsigned open_n, burst_k, burst_t;
	double burst_span;
};

struct diag *
diag_new(void)
{
	struct diag *d = xcalloc(1, sizeof *d);
	size_t i;

	d->builtin = rules_builtin();
	d->lex[d->nlex++] = lexicon_builtin();
	d->server_re = xcalloc(kb_nservers, sizeof *d->server_re);
	for (i = 0; i < kb_nservers; i++) {
		if (rxbound_regcomp(&d->server_re[i], kb_servers[i].pattern,
			REG_EXTENDED | REG_ICASE | REG_NOSUB) != 0)
			fatalx("diag: bad server pattern %s", kb_servers[i].id);
	}
	if (rxbound_regcomp(&d->busy_re,
		"too many (concurrent )?(smtp )?(connections|sessions)|busy|"
		"load|rate limit|throttl|resources|congest",
		REG_EXTENDED | REG_ICASE | REG_NOSUB) != 0)
		fatalx("diag: bad busy pattern");
	return d;
}

static void
diag_drop_lists(struct diag *d)
{
	size_t i;

	if (d->bycode == NULL)
		return;
	for (i = 0; i <= DIAG_CODES; i++)
		free(d->bycode[i].v);
	free(d->bycode);
	d->bycode = NULL;
}

void
diag_free(struct diag *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->nsite; i++)
		rules_free(d->site[i]);
	rules_free(d->builtin);
	for (i = 0; i < d->nlex; i++)
		lexicon_free((struct lexicon *)d->lex[i]);
	for (i = 0; i < kb_nservers; i++)
		regfree(&d->server_re[i]);
	free(d->server_re);
	regfree(&d->busy_re);
	free(d->hist);
	diag_drop_lists(d);
	for (i = 0; d->xcache != NULL && i < DIAG_XCACHE; i++) {
		free(d->xcache[i].src);
		free(d->xcache[i].out);
	}
	free(d->xcache);
	for (i = 0; d->tcache != NULL && i < DIAG_TCACHE; i++) {
		free(d->tcache[i].src);
		free(d->tcache[i].ops);
	}
	free(d->tcache);
	free(d);
}

void
diag_forget(struct diag *d)
{
	/* The array stays for reuse: diag_hist() clears an entry it
	   hands out. */
	d->nhist = 0;
	memset(d->hist_bucket, 0, sizeof d->hist_bucket);
	d->hist_oldest = d->hist_newest = 0;
	memset(d->wcache, 0, sizeof d->wcache);
}

void
diag_drop_site(struct diag *d)
{
	size_t i;

	for (i = 0; i < d->nsite; i++)
		rules_free(d->site[i]);
	d->nsite = 0;
	/* The per-code lists point into the rules just freed. */
	diag_drop_lists(d);
	/* The built-in lexicon is the last one. */
	for (i = 0; i + 1 < d->nlex; i++)
		lexicon_free((struct lexicon *)d->lex[i]);
	d->lex[0] = d->lex[d->nlex - 1];
	d->nlex = 1;
	diag_forget(d);
}

void
diag_add_rules_take(struct diag *d, struct rules *r)
{
	if (r == NULL)
		return;
	if (d->nsite == sizeof d->site / sizeof d->site[0]) {
		rules_free(r);
		return;
	}
	d->site[d->nsite++] = r;
	diag_drop_lists(d);
}

void
diag_add_lexicon_take(struct diag *d, struct lexicon *lx)
{
	if (lx == NULL)
		return;
	if (d->nlex == DIAG_LEX_MAX) {
		lexicon_free(lx);
		return;
	}
	memset(d->wcache, 0, sizeof d->wcache);
	/* Before the built-in one, after the files given earlier. */
	d->lex[d->nlex] = d->lex[d->nlex - 1];
	d->lex[d->nlex - 1] = lx;
	d->nlex++;
}

/* "4.5.3" into three numbers; -1 when not an enhanced code. */
static int
diag_parse_enhanced(const char *s, int out[3])
{
	int k, v, digits;

	if (s == NULL)
		return -1;
	for (k = 0; k < 3; k++) {
		v = 0;
		digits = 0;
		while (isdigit((unsigned char)*s)) {
			if (++digits > 3)
				return -1;
			v = v * 10 + (*s++ - '0');
		}
		if (digits == 0)
			return -1;
		out[k] = v;
		if (k < 2 && *s++ != '.')
			return -1;
	}
	if (*s != '\0' || (out[0] != 2 && out[0] != 4 && out[0] != 5))
		return -1;
	return 0;
}

const char *
diag_enhanced_meaning(const struct diag *d, const char *enhanced)
{
	int e[3], causes[LEXICON_CAUSES];
	size_t n;

	if (diag_parse_enhanced(enhanced, e) != 0)
		return NULL;
	/* An unregistered detail gets what its subject is about. */
	return lexicon_enhanced(d->lex, d->nlex, e[1], e[2], causes, &n);
}

/* ---- history ---- */

static double
diag_secs(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

/* The first n bytes of s into buf, truncated to fit (snprintf "%.*s" for
   an s of at least n bytes, without its cost on every event). */
static void
diag_copy(char *buf, size_t len, const char *s, size_t n)
{
	if (len == 0)
		return;
	if (n > len - 1)
		n = len - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
}

struct diag_buf {
	char *s;
	size_t len, cap;
	bool own;   /* s is on the heap, not the caller's array (or NULL) */
	bool fixed; /* the caller's array only: truncated as snprintf */
};

/* A buffer that starts in the caller's array of n bytes (n > 0), and
   moves to the heap only if it outgrows it. */
static void
diag_buf_on(struct diag_buf *b, char *arr, size_t n)
{
	b->s = arr;
	b->len = 0;
	b->cap = n;
	b->own = false;
	b->fixed = false;
	arr[0] = '\0';
}

/* Text put together in the caller's array of n bytes (n > 0), truncated
   to fit as snprintf would: the formats of the diagnosis' values are few,
   and snprintf's setup cost more than the words. */
static void
diag_buf_fixed(struct diag_buf *b, char *arr, size_t n)
{
	diag_buf_on(b, arr, n);
	b->fixed = true;
}

/* The text, for the caller to free; b is spent. */
static char *
diag_buf_take(struct diag_buf *b)
{
	return b->own ? b->s : xmemdup0(b->s, b->len);
}

static void
diag_buf_free(struct diag_buf *b)
{
	if (b->own)
		free(b->s);
}

static void
diag_put(struct diag_buf *b, const char *s, size_t n)
{
	char *t;

	if (b->len + n > DIAG_OUT_MAX)
		n = DIAG_OUT_MAX - b->len;
	if (b->fixed && b->len + n + 1 > b->cap)
		n = b->cap - 1 - b->len;
	if (b->len + n + 1 > b->cap) {
		b->cap =
		    b->cap * 2 > b->len + n + 64 ? b->cap * 2 : b->len + n + 64;
		if (b->own)
			b->s = xrealloc(b->s, b->cap);
		else {
			t = xmalloc(b->cap);
			if (b->len > 0)
				memcpy(t, b->s, b->len);
			b->s = t;
			b->own = true;
		}
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void
diag_puts(struct diag_buf *b, const char *s)
{
	diag_put(b, s, strlen(s));
}

static void
diag_put_u(struct diag_buf *b, uint64_t v)
{
	char tmp[VIS_U64_LEN];

	diag_put(b, tmp, vis_u64(tmp, v));
}

static void
diag_put_d(struct diag_buf *b, int v)
{
	if (v < 0) {
		diag_put(b, "-", 1);
		diag_put_u(b, (uint64_t)(-(int64_t)v));
	} else
		diag_put_u(b, (uint64_t)v);
}

/* "%.1f" of x. */
static void
diag_put_tenths(struct diag_buf *b, double x)
{
	char tmp[VIS_FIXED_LEN];

	diag_put(b, tmp, vis_fixed(tmp, x, 1));
}

/* The address part of "192.0.2.1:51234" or "[2001:db8::1]:25". */
static void
diag_client_addr(char *buf, size_t len, const char *client)
{
	const char *colon = strrchr(client, ':');
	size_t n = colon != NULL ? (size_t)(colon - client) : strlen(client);

	if (client[0] == '[' && n >= 2 && client[n - 1] == ']') {
		client++;
		n -= 2;
	}
	diag_copy(buf, len, client, n);
}

/* FNV-1a of a server address, so that the history is searched by a number
   and only an equal one is compared as text. */
static uint32_t
diag_server_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* Take entry h off the order of last touch. */
static void
diag_hist_unlink(struct diag *d, struct diag_hserver *h)
{
	if (h->older != 0)
		d->hist[h->older - 1].newer = h->newer;
	else
		d->hist_oldest = h->newer;
	if (h->newer != 0)
		d->hist[h->newer - 1].older = h->older;
	else
		d->hist_newest = h->older;
	h->newer = h->older = 0;
}

/* Put entry h, 1 + index k, at the newest end of that order. */
static void
diag_hist_append(struct diag *d, struct diag_hserver *h, uint16_t k)
{
	h->older = d->hist_newest;
	h->newer = 0;
	if (d->hist_newest != 0)
		d->hist[d->hist_newest - 1].newer = k;
	else
		d->hist_oldest = k;
	d->hist_newest = k;
}

/* Take entry h, 1 + index k, out of its index chain. */
static void
diag_hist_unchain(struct diag *d, const struct diag_hserver *h, uint16_t k)
{
	uint16_t *link =
	    &d->hist_bucket[h->server_hash & (DIAG_HIST_BUCKETS - 1)];

	while (*link != 0 && *link != k)
		link = &d->hist[*link - 1].chain;
	if (*link == k)
		*link = h->chain;
}

/*
 * The server's entry and this session's in it, created when new.  Found
 * through the hash index and kept in the order of last touch, so that a
 * capture with many servers costs no more per reply than one with a few:
 * when all DIAG_HIST_SERVERS are taken, the least recently touched one
 * makes room.
 */
static struct diag_hserver *
diag_hist_touch(
    struct diag *d, const struct event *ev, double now, struct diag_hsess **sp)
{
	struct diag_hserver *h = NULL;
	struct diag_hsess *s = NULL;
	size_t i;
	uint32_t hv = diag_server_hash(ev->server);
	uint16_t k, *bucket = &d->hist_bucket[hv & (DIAG_HIST_BUCKETS - 1)];

	_Static_assert(DIAG_HIST_SERVERS < UINT16_MAX &&
			   (DIAG_HIST_BUCKETS & (DIAG_HIST_BUCKETS - 1)) == 0,
	    "diag_hist_touch: links are 16-bit, buckets a power of two");
	for (k = *bucket; k != 0; k = d->hist[k - 1].chain) {
		if (d->hist[k - 1].server_hash == hv &&
		    strcmp(d->hist[k - 1].server, ev->server) == 0) {
			h = &d->hist[k - 1];
			break;
		}
	}
	if (h == NULL) {
		if (d->hist == NULL)
			d->hist = xcalloc(DIAG_HIST_SERVERS, sizeof *d->hist);
		if (d->nhist < DIAG_HIST_SERVERS) {
			k = (uint16_t)++d->nhist;
			h = &d->hist[k - 1];
		} else {
			/* Evict the least recently touched. */
			k = d->hist_oldest;
			h = &d->hist[k - 1];
			diag_hist_unchain(d, h, k);
			diag_hist_unlink(d, h);
		}
		memset(h, 0, sizeof *h);
		diag_copy(h->server, sizeof h->server, ev->server,
		    strlen(ev->server));
		h->server_hash = hv;
		h->chain = *bucket;
		*bucket = k;
		diag_hist_append(d, h, k);
	} else if (d->hist_newest != k) {
		diag_hist_unlink(d, h);
		diag_hist_append(d, h, k);
	}
	for (i = 0; i < h->n; i++) {
		if (h->sid[i] == ev->session)
			break;
	}
	if (i == h->n) {
		if (h->n < DIAG_HIST_SESSIONS)
			i = h->n++;
		else {
			/* Replace the session with the oldest activity. */
			size_t j;

			for (i = 0, j = 1; j < h->n; j++) {
				if (h->slast[j] < h->slast[i])
					i = j;
			}
		}
		s = &h->s[i];
		memset(s, 0, sizeof *s);
		s->session = ev->session;
		h->sid[i] = ev->session;
		s->open = true;
		diag_client_addr(s->client, sizeof s->client, ev->client);
	}
	s = &h->s[i];
	s->last = now;
	h->slast[i] = now;
	*sp = s;
	return h;
}

static bool
diag_kind_same(const struct diag_kind *a, const struct diag_kind *b)
{
	if (a->code != b->code)
		return false;
	if (a->rule == b->rule && (a->rule != NULL || a->ans_bit == b->ans_bit))
		return true;
	/* X.Y.0 says too little to tie two replies together. */
	return a->enhanced[0] != '\0' &&
	       strcmp(a->enhanced, b->enhanced) == 0 &&
	       strcmp(a->enhanced + strlen(a->enhanced) - 2, ".0") != 0;
}

/* Remember that this session got a 421/452 of this kind. */
static void
diag_hist_flag(struct diag_hsess *s, const struct diag_kind *k, double now)
{
	size_t i, old = 0;

	for (i = 0; i < s->nf; i++) {
		if (diag_kind_same(&s->f[i].kind, k)) {
			s->f[i].t = now;
			return;
		}
		if (s->f[i].t < s->f[old].t)
			old = i;
	}
	if (s->nf < DIAG_HSESS_FLAGS)
		old = s->nf++;
	s->f[old].kind = *k;
	s->f[old].t = now;
}

/* Sessions that got a 421/452 of this kind within window seconds before
   now; *total gets the sessions active in the window and *span the age of
   the oldest such reply.  A NULL kind counts nothing. */
static unsigned
diag_hist_count(const struct diag_hserver *h, const struct diag_kind *kind,
    double now, double window, unsigned *total, double *span)
{
	unsigned k = 0, t = 0;
	double oldest = now, ft;
	size_t i, j;

	if (h != NULL && kind != NULL) {
		for (i = 0; i < h->n; i++) {
			if (h->s[i].last >= now - window)
				t++;
			ft = 0;
			for (j = 0; j < h->s[i].nf; j++) {
				if (diag_kind_same(&h->s[i].f[j].kind, kind))
					ft = h->s[i].f[j].t;
			}
			if (ft > 0 && ft >= now - window) {
				k++;
				if (ft < oldest)
					oldest = ft;
			}
		}
	}
	if (total != NULL)
		*total = t;
	if (span != NULL)
		*span = now - oldest;
	return k;
}

/* Other sessions from the same client address to this server that are
   open now (seen within DIAG_OPEN_MAX s, in case a close was missed). */
static unsigned
diag_hist_open(
    const struct diag_hserver *h, const struct diag_hsess *me, double now)
{
	unsigned n = 0;
	size_t i;

	if (h == NULL || me == NULL)
		return 0;
	for (i = 0; i < h->n; i++) {
		if (&h->s[i] != me && h->s[i].open &&
		    h->s[i].last >= now - DIAG_OPEN_MAX &&
		    strcmp(h->s[i].client, me->client) == 0)
			n++;
	}
	return n;
}

void
diag_session(struct diag *d, const struct event *ev)
{
	struct diag_hsess *s;
	double now = diag_secs(&ev->ts);

	if (ev->type != EV_SESSION_OPEN && ev->type != EV_SESSION_CLOSE)
		return;
	diag_hist_touch(d, ev, now, &s);
	s->open = ev->type == EV_SESSION_OPEN;
}

/* ---- formatting helpers ---- */

static void
diag_ordinal(char *buf, size_t len, unsigned n)
{
	const char *suf = "th";

	struct diag_buf o;

	if (n % 100 < 11 || n % 100 > 13) {
		if (n % 10 == 1)
			suf = "st";
		else if (n % 10 == 2)
			suf = "nd";
		else if (n % 10 == 3)
			suf = "rd";
	}
	diag_buf_fixed(&o, buf, len);
	diag_put_u(&o, n);
	diag_puts(&o, suf);
}

void
diag_duration(char *buf, size_t len, double ms)
{
	unsigned long s;
	struct diag_buf o;

	diag_buf_fixed(&o, buf, len);
	if (ms < 10000) {
		diag_put_tenths(&o, ms / 1000.0);
		diag_put(&o, " s", 2);
		return;
	}
	s = (unsigned long)(ms / 1000.0 + 0.5);
	if (s < 60) {
		diag_put_u(&o, s);
		diag_put(&o, " s", 2);
	} else if (s < 3600) {
		diag_put_u(&o, s / 60);
		diag_put(&o, " min", 4);
		if (s % 60 != 0) {
			diag_put(&o, " ", 1);
			diag_put_u(&o, s % 60);
			diag_put(&o, " s", 2);
		}
	} else {
		diag_put_u(&o, s / 3600);
		diag_put(&o, " h ", 3);
		diag_put_u(&o, (s % 3600) / 60);
		diag_put(&o, " min", 4);
	}
}

static void
diag_size(char *buf, size_t len, uint64_t n)
{
	if (n >= 1024 * 1024)
		snprintf(buf, len, "%llu bytes (%.1f MiB)",
		    (unsigned long long)n, (double)n / (1024.0 * 1024.0));
	else if (n >= 1024)
		snprintf(buf, len, "%llu bytes (%.1f KiB)",
		    (unsigned long long)n, (double)n / 1024.0);
	else
		snprintf(buf, len, "%llu bytes", (unsigned long long)n);
}

static const char *
diag_phase(const char *answers, bool known)
{
	static const struct {
		const char *verb, *phrase;
	} t[] = {
	    {"CONNECT", "connect, as the greeting"},
	    {"EHLO", "EHLO"},
	    {"HELO", "HELO"},
	    {"MAIL", "MAIL FROM"},
	    {"RCPT", "RCPT TO"},
	    {"DATA", "DATA"},
	    {"DATA-END", "the end of the message data"},
	    {"BDAT", "a BDAT chunk"},
	    {"AUTH", "AUTH"},
	    {"STARTTLS", "STARTTLS"},
	    {"QUIT", "QUIT"},
	    {"RSET", "RSET"},
	};
	size_t i;

	if (!known)
		return "a command";
	if (*answers == '\0')
		return "no command pending: it came unsolicited";
	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		if (strcmp(t[i].verb, answers) == 0)
			return t[i].phrase;
	}
	return answers;
}

/* What the measured idle time says about the server's timeout: it gave up
   after ms of silence, so its timeout is about that. */
static void
diag_idle_timeout(const struct diag_input *in, double ms, char *buf, size_t len)
{
	const struct diag_idle_default *def = NULL;
	const char *id = NULL;
	char dur[32], dflt[160] = "";

	if (in->rule != NULL && in->rule->vendor != NULL)
		id = in->rule->vendor;
	else if (in->server >= 0)
		id = kb_servers[in->server].id;
	if (id != NULL && strcmp(id, "postscreen") == 0)
		id = "postfix";
	if (id != NULL)
		def = diag_idle_default(id);
	diag_duration(dur, sizeof dur, ms);
	if (ms < DIAG_RFC_IDLE_LOW) {
		if (def != NULL && ms < def->ms)
			snprintf(dflt, sizeof dflt, " below %s of %.0f s and",
			    def->knob, def->ms / 1000);
		snprintf(buf, len,
		    "about %s,%s below the 5 minutes RFC 5321 (section "
		    "4.5.3.2.7) asks a server to wait for the next command%s",
		    dur, dflt,
		    id != NULL && strcmp(id, "postfix") == 0 && ms >= 8000 &&
			    ms <= 13000
			? "; about 10 s is also what Postfix uses while it is "
			  "overloaded (\"stress\" in its log)"
			: "");
	} else if (ms <= DIAG_RFC_IDLE_HIGH)
		snprintf(buf, len,
		    "about %s, the usual value (RFC 5321's minimum%s): the "
		    "client really was silent that long",
		    dur,
		    def != NULL && def->ms >= DIAG_RFC_IDLE_LOW &&
			    def->ms <= DIAG_RFC_IDLE_HIGH
			? " and the default"
			: "");
	else
		snprintf(buf, len,
		    "about %s, longer than RFC 5321's 5-minute minimum: the "
		    "client really was silent that long",
		    dur);
}

/*
 * The value of a placeholder into buf.  Returns true when the value is
 * known from the context; otherwise buf holds a neutral phrase, used when
 * the placeholder is outside a [[ ]] segment.
 */
/* snprintf(buf, len, "%s", s) without its cost (len > 0). */
static void
diag_scopy(char *buf, size_t len, const char *s)
{
	diag_copy(buf, len, s, strlen(s));
}

/* snprintf(buf, len, "%u", v) without its cost (len > 0). */
static void
diag_ucopy(char *buf, size_t len, unsigned v)
{
	char tmp[VIS_U64_LEN];

	diag_copy(buf, len, tmp, vis_u64(tmp, v));
}

/* A count placeholder: known when above zero. */
static bool
diag_count(unsigned v, char *buf, size_t len)
{
	if (v == 0)
		return false;
	diag_ucopy(buf, len, v);
	return true;
}

/* A size placeholder: known when above zero. */
static bool
diag_bytes(uint64_t v, char *buf, size_t len)
{
	if (v == 0)
		return false;
	diag_size(buf, len, v);
	return true;
}

/* A duration placeholder: known from one second up. */
static bool
diag_time(double ms, char *buf, size_t len)
{
	if (ms < 1000)
		return false;
	diag_duration(buf, len, ms);
	return true;
}

/*
 * The value of placeholder ph (a kb_placeholders entry) into buf; false
 * when it is not known, and then buf holds the table's "unknown" text (or,
 * for a few, words that read well in its place).
 */
static bool
diag_fill(const struct diag_input *in, enum kb_ph ph, char *buf, size_t len)
{
	const struct event_reply_ctx *c = in->ctx;
	unsigned n;

	diag_scopy(buf, len, kb_placeholders[ph].unknown);
	switch (ph) {
	case KB_PH_CODE: {
		struct diag_buf o;

		diag_buf_fixed(&o, buf, len);
		diag_put_d(&o, in->code);
		return true;
	}
	case KB_PH_ENHANCED:
		if (!in->has_enh)
			return false;
		diag_scopy(buf, len, in->enhanced);
		return true;
	case KB_PH_ANSWERS:
		if (!in->answers_known || *in->answers == '\0')
			return false;
		diag_scopy(buf, len, in->answers);
		return true;
	case KB_PH_PHASE:
		diag_scopy(
		    buf, len, diag_phase(in->answers, in->answers_known));
		return in->answers_known;
	case KB_PH_RCPT_SEEN:
		return c != NULL && diag_count(c->rcpt_seen, buf, len);
	case KB_PH_RCPT_ACCEPTED:
		return c != NULL && diag_count(c->rcpt_accepted, buf, len);
	case KB_PH_RCPT_REJECTED:
		return c != NULL && diag_count(c->rcpt_rejected, buf, len);
	case KB_PH_NO_RCPT_ACCEPTED:
		return c != NULL && c->rcpt_accepted == 0;
	case KB_PH_MESSAGES:
		return c != NULL && diag_count(c->messages, buf, len);
	case KB_PH_ORDINAL_RCPT:
		if (c == NULL || c->rcpt_seen == 0)
			return false;
		diag_ordinal(buf, len, c->rcpt_seen);
		return true;
	case KB_PH_ORDINAL_MESSAGE:
		if (c == NULL)
			return false;
		diag_ordinal(buf, len, c->messages + 1);
		return true;
	case KB_PH_MAIL_SIZE:
		return c != NULL && diag_bytes(c->mail_size, buf, len);
	case KB_PH_EHLO_SIZE:
		return c != NULL && diag_bytes(c->ehlo_size, buf, len);
	case KB_PH_DATA_BYTES:
		return c != NULL && diag_bytes(c->data_bytes, buf, len);
	case KB_PH_IDLE:
		return c != NULL && diag_time(c->idle_ms, buf, len);
	case KB_PH_SESSION_TIME:
		return c != NULL && diag_time(c->session_ms, buf, len);
	case KB_PH_SERVER_SOFTWARE:
		if (in->server < 0)
			return false;
		diag_scopy(buf, len, kb_servers[in->server].name);
		return true;
	case KB_PH_HELO:
		if (in->helo == NULL)
			return false;
		diag_scopy(buf, len, in->helo);
		return true;
	case KB_PH_BURST: {
		unsigned k, t;
		double span;
		char dur[32];
		struct diag_buf o;

		struct diag_vmemo *vm = in->vm;

		if (vm != NULL && vm->burst_done &&
		    vm->burst_hist == in->hist && vm->burst_kind == in->kind &&
		    vm->burst_now == in->now) {
			k = vm->burst_k;
			t = vm->burst_t;
			span = vm->burst_span;
		} else {
			k = diag_hist_count(in->hist, in->kind, in->now,
			    DIAG_BURST_WINDOW, &t, &span);
			if (vm != NULL) {
				vm->burst_done = true;
				vm->burst_hist = in->hist;
				vm->burst_kind = in->kind;
				vm->burst_now = in->now;
				vm->burst_k = k;
				vm->burst_t = t;
				vm->burst_span = span;
			}
		}
		if (c == NULL || k < 2)
			return false;
		diag_duration(dur, sizeof dur, span * 1000.0);
		diag_buf_fixed(&o, buf, len);
		diag_put_u(&o, k);
		diag_puts(&o, " of the last ");
		diag_put_u(&o, t);
		diag_puts(&o, " sessions to this server got this same ");
		diag_put_d(&o, in->code);
		diag_puts(&o, " within ");
		diag_puts(&o, dur);
		return true;
	}
	case KB_PH_TLS:
		if (c == NULL)
			return false;
		diag_scopy(
		    buf, len, c->tls_active ? "inside TLS" : "in clear text");
		return true;
	case KB_PH_RCPT_LIMIT_LOW:
		/* The limit a 452 to RCPT revealed, when it is below the 100
		   recipients RFC 5321 4.5.3.1.8 obliges a server to take. */
		if (c == NULL || c->rcpt_accepted == 0 ||
		    c->rcpt_accepted >= 100 ||
		    (in->ans_bit & RULES_ANS_RCPT) == 0)
			return false;
		diag_ucopy(buf, len, c->rcpt_accepted);
		return true;
	case KB_PH_IDLE_TIMEOUT:
		if (c == NULL || c->idle_ms < 1000)
			return false;
		diag_idle_timeout(in, c->idle_ms, buf, len);
		return true;
	case KB_PH_OPEN_CONNS:
	case KB_PH_OPEN_CONNS_LOW:
		if (c == NULL)
			return false;
		if (in->vm != NULL && in->vm->open_done &&
		    in->vm->open_hist == in->hist &&
		    in->vm->open_sess == in->sess &&
		    in->vm->open_now == in->now)
			n = in->vm->open_n;
		else {
			n = diag_hist_open(in->hist, in->sess, in->now);
			if (in->vm != NULL) {
				in->vm->open_done = true;
				in->vm->open_hist = in->hist;
				in->vm->open_sess = in->sess;
				in->vm->open_now = in->now;
				in->vm->open_n = n;
			}
		}
		/* Few: well below the defaults of the connection limits,
		   so they cannot be what was hit. */
		if (ph == KB_PH_OPEN_CONNS_LOW && n >= DIAG_FEW_CONNS)
			return false;
		return diag_count(n, buf, len);
	case KB_PH_COUNT:
		break;
	}
	return false;
}

/* Append one op; returns its index. */
static size_t
diag_compile_op(
    struct diag_op **v, size_t *n, size_t *cap, enum diag_opk k, int ph)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*v = xreallocarray(*v, *cap, sizeof **v);
	}
	memset(&(*v)[*n], 0, sizeof **v);
	(*v)[*n].k = k;
	(*v)[*n].ph = ph;
	return (*n)++;
}

/* diag_compile's ops for the span [s, e) of src (no segments): text up to
   each "{name}" in one piece, the placeholder; a '{' without its '}' is
   text. */
static void
diag_compile_span(struct diag_op **v, size_t *n, size_t *cap, const char *src,
    const char *s, const char *e)
{
	const char *close, *open;
	size_t at;

	while (s < e) {
		if (*s == '{' &&
		    (close = memchr(s, '}', (size_t)(e - s))) != NULL) {
			diag_compile_op(v, n, cap, DIAG_OP_PH,
			    kb_placeholder_find(
				s + 1, (size_t)(close - s - 1)));
			s = close + 1;
		} else {
			open = memchr(s + 1, '{', (size_t)(e - s - 1));
			if (open == NULL)
				open = e;
			at = diag_compile_op(v, n, cap, DIAG_OP_TEXT, -1);
			(*v)[at].off = (size_t)(s - src);
			(*v)[at].len = (size_t)(open - s);
			s = open;
		}
	}
}

/*
 * Read a template into ops (caller frees *ops): the reading of
 * diag_expand_all, once.  A [[ ]] segment or a [[!{name} ...]] one is an
 * op followed by the ops of its text (len of them).
 */
static void
diag_compile(const char *tmpl, struct diag_op **ops, size_t *nops)
{
	const char *s = tmpl, *open, *close, *name;
	size_t cap = 0, at;

	*ops = NULL;
	*nops = 0;
	while (*s != '\0') {
		open = strstr(s, "[[");
		if (open == NULL) {
			diag_compile_span(
			    ops, nops, &cap, tmpl, s, s + strlen(s));
			break;
		}
		diag_compile_span(ops, nops, &cap, tmpl, s, open);
		close = strstr(open + 2, "]]");
		if (close == NULL) /* the parser rejects this; be safe */
			close = open + strlen(open);
		if (open[2] == '!' && open[3] == '{' &&
		    (name = memchr(
			 open + 4, '}', (size_t)(close - open - 4))) != NULL) {
			at = diag_compile_op(ops, nops, &cap, DIAG_OP_BANG,
			    kb_placeholder_find(
				open + 4, (size_t)(name - open - 4)));
			diag_compile_span(
			    ops, nops, &cap, tmpl, name + 1, close);
		} else {
			at = diag_compile_op(ops, nops, &cap, DIAG_OP_SEG, -1);
			diag_compile_span(
			    ops, nops, &cap, tmpl, open + 2, close);
		}
		(*ops)[at].len = *nops - at - 1;
		s = *close != '\0' ? close + 2 : close;
	}
}

/* A placeholder's value into val (diag_value, its name already looked
   up: ph -1 for a name not known). */
static bool
diag_ph_value(const struct diag_input *in, int ph, char *val, size_t len)
{
	if (ph < 0) {
		snprintf(val, len, "?");
		return false;
	}
	return diag_fill(in, (enum kb_ph)ph, val, len);
}

/* Run n ops of a span (text and placeholders) into b; false when a
   placeholder was not known. */
static bool
diag_run_span(struct diag_buf *b, const struct diag_input *in, const char *src,
    const struct diag_op *op, size_t n)
{
	char val[256];
	bool all = true;
	size_t i;

	for (i = 0; i < n; i++) {
		if (op[i].k == DIAG_OP_TEXT)
			diag_put(b, src + op[i].off, op[i].len);
		else {
			if (!diag_ph_value(in, op[i].ph, val, sizeof val))
				all = false;
			diag_puts(b, val);
		}
	}
	return all;
}

/*
 * A cache slot kept by a template's address, with a copy of its text (an
 * address can be reused): true when it holds another template, which it
 * now names (the caller makes the slot's result again).
 */
static bool
diag_slot_stale(const char **slot, char **src, const char *tmpl)
{
	if (*slot == tmpl && strcmp(*src, tmpl) == 0)
		return false;
	free(*src);
	*slot = tmpl;
	*src = xstrdup(tmpl);
	return true;
}

/* A template read by diag_compile, from d's cache; with d NULL, read now
   into own, whose ops the caller frees. */
static const struct diag_tcache *
diag_template(struct diag *d, const char *tmpl, struct diag_tcache *own)
{
	struct diag_tcache *c;

	if (d == NULL) {
		own->tmpl = tmpl;
		own->src = NULL;
		diag_compile(tmpl, &own->ops, &own->nops);
		return own;
	}
	if (d->tcache == NULL)
		d->tcache = xcalloc(DIAG_TCACHE, sizeof *d->tcache);
	c = &d->tcache[((uintptr_t)tmpl >> 3) % DIAG_TCACHE];
	if (diag_slot_stale(&c->tmpl, &c->src, tmpl)) {
		free(c->ops);
		diag_compile(tmpl, &c->ops, &c->nops);
	}
	return c;
}

/* Where the first blank followed by another is in s (n bytes, a NUL
   after them), or the last blank when it ends s; n when neither. */
static size_t
diag_double_blank(const char *s, size_t n)
{
	size_t i = 0;

#ifdef __SSE2__
	const __m128i sp = _mm_set1_epi8(' ');
	__m128i a, c;
	unsigned m;

	/* Sixteen pairs of neighbours at a time (every x86-64). */
	for (; i + 17 <= n; i += 16) {
		a = _mm_cmpeq_epi8(
		    _mm_loadu_si128((const __m128i *)(s + i)), sp);
		c = _mm_cmpeq_epi8(
		    _mm_loadu_si128((const __m128i *)(s + i + 1)), sp);
		m = (unsigned)_mm_movemask_epi8(_mm_and_si128(a, c));
		if (m != 0)
			return i + (size_t)__builtin_ctz(m);
	}
#endif
	for (; i < n; i++) {
		if (s[i] == ' ' && (i + 1 == n || s[i + 1] == ' '))
			return i;
	}
	return n;
}

/* A template: [[ ... ]] segments are kept only when every placeholder in
   them is known.  Caller frees. */
static char *
diag_expand_all(const char *tmpl, const struct diag_input *in)
{
	struct diag_buf b, seg;
	struct diag_tcache own;
	const struct diag_tcache *t;
	const struct diag_op *op;
	char val[256], barr[1024], segarr[512];
	size_t i, n;

	diag_buf_on(&b, barr, sizeof barr);
	if (tmpl == NULL)
		return diag_buf_take(&b);
	memset(&own, 0, sizeof own);
	/* the cache is not the engine */
	t = diag_template((struct diag *)in->d, tmpl, &own);
	op = t->ops;
	for (i = 0; i < t->nops; i += n) {
		if (op[i].k == DIAG_OP_TEXT || op[i].k == DIAG_OP_PH) {
			/* Outside segments: as it comes. */
			for (n = 0;
			     i + n < t->nops && (op[i + n].k == DIAG_OP_TEXT ||
						    op[i + n].k == DIAG_OP_PH);
			     n++)
				;
			diag_run_span(&b, in, tmpl, op + i, n);
			continue;
		}
		diag_buf_on(&seg, segarr, sizeof segarr);
		if (op[i].k == DIAG_OP_BANG) {
			/* [[!{name} text]]: the text stands in for what the
			   placeholder would say, so only when it is unknown. */
			if (!diag_ph_value(in, op[i].ph, val, sizeof val)) {
				diag_run_span(
				    &seg, in, tmpl, op + i + 1, op[i].len);
				diag_puts(&b, seg.s);
			}
		} else if (diag_run_span(&seg, in, tmpl, op + i + 1, op[i].len))
			diag_puts(&b, seg.s);
		diag_buf_free(&seg);
		n = 1 + op[i].len;
	}
	free(own.ops);
	/* Tidy: no leading/trailing blanks, no double spaces left behind.
	   Up to the first double blank, only the leading ones move. */
	{
		size_t lead = 0, k;
		char *r, *w;

		while (lead < b.len && b.s[lead] == ' ')
			lead++;
		k = diag_double_blank(b.s + lead, b.len - lead);
		if (lead > 0)
			memmove(b.s, b.s + lead, k);
		w = b.s + k;
		r = b.s + lead + k;
		for (; *r != '\0'; r++) {
			if (*r == ' ' && (r[1] == ' ' || r[1] == '\0'))
				continue;
			*w++ = *r;
		}
		*w = '\0';
		b.len = (size_t)(w - b.s);
	}
	return diag_buf_take(&b);
}

/*
 * diag_expand, through a cache for templates without a placeholder: their
 * text is the same whatever the reply, and tidying it costs more than a
 * copy.  Caller frees.
 */
static char *
diag_expand(const char *tmpl, const struct diag_input *in)
{
	struct diag *d = (struct diag *)in->d; /* the cache is not the engine */
	struct diag_xcache *c;

	if (tmpl == NULL || d == NULL || strchr(tmpl, '{') != NULL)
		return diag_expand_all(tmpl, in);
	if (d->xcache == NULL)
		d->xcache = xcalloc(DIAG_XCACHE, sizeof *d->xcache);
	c = &d->xcache[((uintptr_t)tmpl >> 3) % DIAG_XCACHE];
	if (diag_slot_stale(&c->tmpl, &c->src, tmpl)) {
		free(c->out);
		c->out = diag_expand_all(tmpl, in);
	}
	return xstrdup(c->out);
}

/* ---- matching ---- */

static bool
diag_match_code(const struct rule *r, int code)
{
	char c[4];
	size_t i, j;

	/* Called for every rule on every failure: no snprintf here. */
	if (code >= 0 && code <= 999) {
		c[0] = (char)('0' + code / 100);
		c[1] = (char)('0' + code / 10 % 10);
		c[2] = (char)('0' + code % 10);
		c[3] = '\0';
	} else
		snprintf(c, sizeof c, "%03d", code);
	for (i = 0; i < r->ncodes; i++) {
		for (j = 0; j < 3; j++) {
			if (r->codes[i].d[j] != 'x' && r->codes[i].d[j] != c[j])
				break;
		}
		if (j == 3)
			return true;
	}
	return false;
}

static bool
diag_match_enh(const struct rule *r, const struct diag_input *in)
{
	size_t i, k;

	if (!r->has_enh)
		return true;
	if (!in->has_enh)
		return r->enh_none;
	for (i = 0; i < r->nenh; i++) {
		for (k = 0; k < 3; k++) {
			if (r->enh[i].lo[k] >= 0 &&
			    (in->enh[k] < r->enh[i].lo[k] ||
				in->enh[k] > r->enh[i].hi[k]))
				break;
		}
		if (k == 3)
			return true;
	}
	return false;
}

static bool
diag_match_num(const struct rules_num *n, const struct event_reply_ctx *c)
{
	double v;

	switch (n->field) {
	case RULES_F_RCPT_SEEN:
		v = c->rcpt_seen;
		break;
	case RULES_F_RCPT_ACCEPTED:
		v = c->rcpt_accepted;
		break;
	case RULES_F_RCPT_REJECTED:
		v = c->rcpt_rejected;
		break;
	case RULES_F_MESSAGES:
		v = c->messages;
		break;
	case RULES_F_MAIL_SIZE:
		v = (double)c->mail_size;
		break;
	case RULES_F_EHLO_SIZE:
		v = (double)c->ehlo_size;
		break;
	case RULES_F_DATA_BYTES:
		v = (double)c->data_bytes;
		break;
	case RULES_F_IDLE_MS:
		if (c->idle_ms < 0)
			return false; /* unknown never matches */
		v = c->idle_ms;
		break;
	case RULES_F_SESSION_MS:
		v = c->session_ms;
		break;
	default:
		return false;
	}
	switch (n->op) {
	case RULES_OP_GE:
		return v >= (double)n->value;
	case RULES_OP_GT:
		return v > (double)n->value;
	case RULES_OP_LE:
		return v <= (double)n->value;
	case RULES_OP_LT:
		return v < (double)n->value;
	case RULES_OP_EQ:
		return v == (double)n->value;
	}
	return false;
}

static bool
diag_match_bool(enum rules_tri want, bool v)
{
	return want == RULES_ANY || (want == RULES_YES) == v;
}

/*
 * Whether rule r's text expression matches the reply text (r->has_text,
 * in->text not NULL).  With so: whether it matched and where, false when
 * that is not known.  The expression that reports where costs about what
 * the one without does, so with a memo it is the one run, and once per rule
 * and reply.
 */
static bool
diag_text(
    const struct diag_input *in, const struct rule *r, size_t *so, size_t *eo)
{
	struct diag_tmemo *tm = in->tm;
	struct diag_tmatch *m = NULL;
	size_t i, s0 = 0, e0 = 0;
	bool ok, pos = false;

	for (i = 0; tm != NULL && i < tm->n; i++) {
		if (tm->v[i].r == r) {
			m = &tm->v[i];
			break;
		}
	}
	if (m != NULL && (so == NULL || m->pos || !m->ok)) {
		ok = m->ok;
		pos = m->pos;
		s0 = m->so;
		e0 = m->eo;
	} else {
		if (r->text_src != NULL && (so != NULL || tm != NULL)) {
			/* The rule's lazily compiled copy is a cache, not a
			   change of it. */
			ok = rules_text_words(
			    (struct rule *)r, in->text, &s0, &e0);
			pos = ok;
			if (!ok && r->text_words == NULL) /* no copy */
				ok = regexec(&r->text, in->text, 0, NULL, 0) ==
				     0;
		} else
			ok = regexec(&r->text, in->text, 0, NULL, 0) == 0;
		if (m == NULL && tm != NULL)
			m = &tm->v[tm->n < DIAG_TMEMO ? tm->n++
						      : DIAG_TMEMO - 1];
		if (m != NULL) {
			m->r = r;
			m->ok = ok;
			m->pos = pos;
			m->so = s0;
			m->eo = e0;
		}
	}
	if (so != NULL) {
		if (!ok || !pos)
			return false;
		*so = s0;
		*eo = e0;
	}
	return ok;
}

static bool
diag_match(const struct rule *r, const struct diag_input *in)
{
	const struct event_reply_ctx *c = in->ctx;
	size_t i;

	if (!diag_match_code(r, in->code) || !diag_match_enh(r, in))
		return false;
	if (r->answers != 0 &&
	    (!in->answers_known || (r->answers & in->ans_bit) == 0))
		return false;
	if (r->has_text && (in->text == NULL || !diag_text(in, r, NULL, NULL)))
		return false;
	/* The greeting names other software: not this vendor's wording. */
	if (r->vendor != NULL && in->server >= 0 &&
	    !kb_server_fits(r->vendor, kb_servers[in->server].id))
		return false;
	if (c == NULL)
		return !rules_needs_context(r);
	if (r->has_greeting &&
	    (c->greeting == NULL ||
		regexec(&r->greeting, c->greeting, 0, NULL, 0) != 0))
		return false;
	if (r->nservers > 0) {
		bool ok = false;

		for (i = 0; i < r->nservers && in->server >= 0; i++) {
			if (strcmp(r->servers[i], kb_servers[in->server].id) ==
			    0)
				ok = true;
		}
		if (!ok)
			return false;
	}
	for (i = 0; i < r->nnums; i++) {
		if (!diag_match_num(&r->nums[i], c))
			return false;
	}
	if (!diag_match_bool(r->bools[RULES_B_TLS], c->tls_active) ||
	    !diag_match_bool(
		r->bools[RULES_B_IN_TRANSACTION], c->in_transaction) ||
	    !diag_match_bool(r->bools[RULES_B_UNSOLICITED], c->unsolicited) ||
	    !diag_match_bool(r->bools[RULES_B_PIPELINING], c->pipelining))
		return false;
	if (r->burst_sessions > 0 &&
	    (in->skip_burst ||
		diag_hist_count(in->hist, in->kind, in->now,
		    (double)r->burst_window_s, NULL, NULL) < r->burst_sessions))
		return false;
	return true;
}

/* A cause's own texts ("cause-ID" rules): chosen by cause, never by
   matching alone. */
static bool
diag_is_cause_rule(const struct rule *r)
{
	return r->cause_text;
}

/*
 * The rules that may match a reply of this code, in precedence order: those
 * whose codes: list it (every rule for a code outside 0-999).  The lists are
 * a cache, not a change of the engine.
 */
static const struct diag_rlist *
diag_rules_for(const struct diag *dc, int code)
{
	struct diag *d = (struct diag *)dc;
	struct diag_rlist *l;
	const struct rule *r;
	size_t i, j, n;
	bool all = code < 0 || code >= DIAG_CODES;

	if (d->bycode == NULL)
		d->bycode = xcalloc(DIAG_CODES + 1, sizeof *d->bycode);
	l = &d->bycode[all ? DIAG_CODES : code];
	if (l->built)
		return l;
	n = rules_count(d->builtin);
	for (i = 0; i < d->nsite; i++)
		n += rules_count(d->site[i]);
	l->v = xcalloc(n > 0 ? n : 1, sizeof *l->v);
	for (i = 0; i <= d->nsite; i++) {
		const struct rules *rs = i < d->nsite ? d->site[i] : d->builtin;

		for (j = 0; (r = rules_get(rs, j)) != NULL; j++) {
			if (all || diag_match_code(r, code))
				l->v[l->n++] = r;
		}
	}
	l->built = true;
	return l;
}

/*
 * The first matching rule in precedence order; with after, the first one
 * that comes after that rule; with generic_only, rules with a vendor are
 * passed over (the generic advice for a reply whose vendor is a guess).
 */
static const struct rule *
diag_find(const struct diag *d, const struct diag_input *in,
    const struct rule *after, bool generic_only)
{
	/* after need not match this code: then the whole list. */
	const struct diag_rlist *l =
	    diag_rules_for(d, after == NULL ? in->code : -1);
	const struct rule *r;
	bool go = after == NULL;
	size_t k;

	for (k = 0; k < l->n; k++) {
		r = l->v[k];
		if (!go) {
			go = r == after;
			continue;
		}
		if (generic_only && r->vendor != NULL)
			continue;
		if (diag_is_cause_rule(r))
			continue;
		if (diag_match(r, in))
			return r;
	}
	return NULL;
}

/*
 * diag_find again, now with the burst conditions, given base, what
 * diag_find found without them: only a rule with a burst condition that
 * comes before base can match now, every other rule gives the answer it
 * gave then.
 */
static const struct rule *
diag_find_burst(
    const struct diag *d, const struct diag_input *in, const struct rule *base)
{
	/* base matched this code, so it is in the list. */
	const struct diag_rlist *l = diag_rules_for(d, in->code);
	const struct rule *r;
	size_t k;

	for (k = 0; k < l->n; k++) {
		r = l->v[k];
		if (r == base)
			return base;
		if (r->burst_sessions == 0 || diag_is_cause_rule(r))
			continue;
		if (diag_match(r, in))
			return r;
	}
	return NULL;
}

/* ---- building the diagnosis ---- */

static struct event_diag *diag_generic(const struct diag_input *);

/* "452 Postfix: queue full": the length of "Postfix" at *label, or 0 when
   the title is not of that form. */
static size_t
diag_title_vendor(const char *title, const char **label)
{
	const char *colon;

	if (strlen(title) < 5 || !isdigit((unsigned char)title[0]) ||
	    !isdigit((unsigned char)title[1]) ||
	    !isdigit((unsigned char)title[2]) || title[3] != ' ')
		return 0;
	colon = strstr(title + 4, ": ");
	if (colon == NULL || colon == title + 4 || colon - title > 40 ||
	    colon[2] == '\0')
		return 0;
	*label = title + 4;
	return (size_t)(colon - title - 4);
}

#define DIAG_SAME_ADVICE 24 /* first bytes that make two sentences one */

/* Case-insensitive strstr. */
static const char *
diag_strcasestr(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay != '\0'; hay++) {
		if (strncasecmp(hay, needle, n) == 0)
			return hay;
	}
	return NULL;
}

/* "A; if the server is Postfix: B" with the generic advice A first. */
static char *
diag_join_fix(
    const char *generic, const char *label, size_t llen, const char *vendor)
{
	struct diag_buf b = {NULL, 0, 0, false, false};
	const char *p = vendor, *e;
	char *s, key[DIAG_SAME_ADVICE + 1];
	size_t n;

	/* The vendor's sentences that the generic advice does not already
	   give (judged by their first words), so no advice is said twice. */
	diag_puts(&b, "");
	while (*p != '\0') {
		while (*p == ' ')
			p++;
		e = strstr(p, ". ");
		n = e != NULL ? (size_t)(e - p) + 1 : strlen(p);
		snprintf(key, sizeof key, "%.*s",
		    (int)(n < DIAG_SAME_ADVICE ? n : DIAG_SAME_ADVICE), p);
		if (n > 0 && diag_strcasestr(generic, key) == NULL) {
			if (b.len > 0)
				diag_puts(&b, " ");
			diag_put(&b, p, n);
		}
		p += n;
	}
	if (b.len == 0) {
		free(b.s);
		return xstrdup(generic);
	}
	xasprintf(
	    &s, "%s If the server is %.*s: %s", generic, (int)llen, label, b.s);
	free(b.s);
	return s;
}

/*
 * A vendor rule matched on the wording alone (the greeting names no known
 * software): say so instead of naming the vendor as fact, and put generic
 * advice (the next rule without a vendor, or the code tables) first.
 */
static void
diag_unconfirmed(const struct diag *d, const struct rule *r,
    const struct diag_input *in, struct event_diag *x)
{
	const struct rule *g = diag_find(d, in, r, true);
	struct diag_input gin = *in;
	struct event_diag *gen = NULL;
	char *gs, *go, *t, *lab;
	const char *label;
	size_t llen;

	llen = diag_title_vendor(x->title, &label);
	if (llen > 0) {
		lab = xstrndup(label, llen);
		xasprintf(&t, "%.3s %c%s", x->title,
		    toupper((unsigned char)label[llen + 2]), label + llen + 3);
	} else {
		lab = xstrdup(kb_servers[kb_server_index(r->vendor) < 0
					     ? 0
					     : kb_server_index(r->vendor)]
				  .name);
		t = xstrdup(x->title);
	}
	free(x->title);
	x->title = t;
	xasprintf(&t,
	    "This wording is %s's; the greeting does not name the server "
	    "software, so that is likely, not certain. %s",
	    lab, x->meaning);
	free(x->meaning);
	x->meaning = t;

	if (g != NULL) {
		gin.rule = g;
		gs = diag_expand(g->fix_sender, &gin);
		go = diag_expand(g->fix_operator, &gin);
	} else {
		gen = diag_generic(in);
		gs = xstrdup(gen->fix_sender);
		go = xstrdup(gen->fix_operator);
		event_diag_free(gen);
	}
	t = diag_join_fix(gs, lab, strlen(lab), x->fix_sender);
	free(x->fix_sender);
	x->fix_sender = t;
	t = diag_join_fix(go, lab, strlen(lab), x->fix_operator);
	free(x->fix_operator);
	x->fix_operator = t;
	free(gs);
	free(go);
	free(lab);
}

static struct event_diag *
diag_from_rule(
    const struct diag *d, const struct rule *r, const struct diag_input *in)
{
	struct event_diag *x = xcalloc(1, sizeof *x);
	struct diag_input rin = *in;

	rin.rule = r;
	x->rule = xstrdup(r->id);
	x->title = diag_expand(r->title, &rin);
	x->meaning = diag_expand(r->meaning, &rin);
	if (in->ctx == NULL && r->when_general != NULL)
		x->when = diag_expand(r->when_general, &rin);
	else
		x->when = diag_expand(r->when, &rin);
	x->fix_sender = diag_expand(r->fix_sender, &rin);
	x->fix_operator = diag_expand(r->fix_operator, &rin);
	if (r->vendor != NULL && in->server < 0)
		diag_unconfirmed(d, r, in, x);
	return x;
}

/* The explanation from the code tables alone. */
static struct event_diag *
diag_generic(const struct diag_input *in)
{
	struct event_diag *x = xcalloc(1, sizeof *x);
	const char *name = diag_code_name(in->code), *m;
	const char *em =
	    in->has_enh ? diag_enhanced_meaning(in->d, in->enhanced) : NULL;
	int d1 = in->code / 100, d2 = (in->code / 10) % 10;
	struct diag_buf b = {NULL, 0, 0, false, false};
	const char *tmpl;

	if (name != NULL) {
		xasprintf(&x->rule, "generic-%d", in->code);
		xasprintf(&x->title, "%d %s", in->code, name);
	} else {
		xasprintf(&x->rule, "generic-%dxx", d1);
		xasprintf(&x->title,
		    "%d: not a standard code; read by its "
		    "first digit",
		    in->code);
	}
	m = diag_code_meaning(in->code);
	diag_puts(&b, "");
	if (m != NULL) {
		diag_puts(&b, m);
		diag_puts(&b, " ");
	}
	if (d1 >= 2 && d1 <= 5)
		diag_puts(&b, diag_first_digit[d1]);
	if (m == NULL && d2 >= 0 && d2 <= 5) {
		diag_puts(&b, " ");
		diag_puts(&b, diag_second_digit[d2]);
	}
	if (em != NULL) {
		diag_puts(&b, " Enhanced code ");
		diag_puts(&b, in->enhanced);
		diag_puts(&b, ": ");
		diag_puts(&b, em);
		diag_puts(&b, ".");
	}
	x->meaning = b.s;

	if (in->ctx != NULL)
		tmpl = "The server sent it in answer to {phase}, {tls}."
		       "[[ The greeting identifies {server_software}.]]"
		       "[[ Pattern: {burst}.]]";
	else if (in->answers_known)
		tmpl = "In answer to {phase}. The session's context (what was "
		       "accepted before, how long it was idle) would say more: "
		       "look at the capture.";
	else
		tmpl = "Without a capture the situation is unknown; the "
		       "command it answers decides much of what it means (try "
		       "--after VERB).";
	x->when = diag_expand(tmpl, in);
	switch (d1) {
	case 4:
		x->fix_sender = xstrdup(
		    "Transient: keep the message queued "
		    "and let the queue retry with back-off; do not bounce it. "
		    "If it keeps coming back, read the reply text and the "
		    "receiving site's postmaster pages.");
		x->fix_operator = xstrdup(
		    "Find the matching line in the "
		    "server's mail log (same time, same client) for the real "
		    "reason, and fix that condition.");
		break;
	case 5:
		x->fix_sender = xstrdup(
		    "Permanent: retrying unchanged will "
		    "fail again. Fix the address, message, credentials or "
		    "route first, then resend.");
		x->fix_operator = xstrdup(
		    "If the refusal is wrong, find the "
		    "restriction or lookup that produced it in the mail log "
		    "and correct it.");
		break;
	default:
		x->fix_sender = xstrdup("Nothing to fix: this is not an "
					"error.");
		x->fix_operator = xstrdup("Nothing to fix.");
		break;
	}
	return x;
}

/* ---- the cause: layers of evidence (see data/lexicon.conf) ---- */

struct diag_why {
	int cause; /* kb_causes index */
	const char *confidence;
	char *ev[EVENT_DIAG_EVIDENCE_MAX];
	size_t nev;
	bool fallback; /* nothing pointed to a cause: the class's default */
};

static void diag_ev(struct diag_why *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void diag_vfmt(char *buf, size_t size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/*
 * vsnprintf(buf, size, fmt, ap) (size > 0) for formats of only %s, %u and
 * %.*s, as the facts use: vsnprintf's setup cost more than the facts.
 * Any other conversion goes to vsnprintf itself.
 */
static void
diag_vfmt(char *buf, size_t size, const char *fmt, va_list ap)
{
	const char *p, *s;
	char tmp[VIS_U64_LEN];
	size_t o = 0, n;
	unsigned u;
	int prec;

	for (p = fmt; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] != 's' && p[1] != 'u' &&
		    !(p[1] == '.' && p[2] == '*' && p[3] == 's')) {
			vsnprintf(buf, size, fmt, ap);
			return;
		}
	}
	for (p = fmt; *p != '\0'; p++) {
		if (*p != '%') {
			/* The run of text up to the next conversion. */
			s = p;
			n = strcspn(p, "%");
			p += n - 1;
		} else if (p[1] == 's') {
			s = va_arg(ap, const char *);
			n = strlen(s);
			p++;
		} else if (p[1] == 'u') {
			u = va_arg(ap, unsigned);
			s = tmp;
			n = vis_u64(tmp, u);
			p++;
		} else {
			prec = va_arg(ap, int);
			s = va_arg(ap, const char *);
			n = prec < 0 ? strlen(s) : strnlen(s, (size_t)prec);
			p += 3;
		}
		if (n > size - 1 - o)
			n = size - 1 - o;
		memcpy(buf + o, s, n);
		o += n;
	}
	buf[o] = '\0';
}

/* Add one fact (bounded, no duplicates). */
static void
diag_ev(struct diag_why *w, const char *fmt, ...)
{
	va_list ap;
	char buf[160];
	size_t i;

	va_start(ap, fmt);
	diag_vfmt(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (w->nev == EVENT_DIAG_EVIDENCE_MAX)
		return;
	for (i = 0; i < w->nev; i++) {
		if (strcmp(w->ev[i], buf) == 0)
			return;
	}
	w->ev[w->nev++] = xstrdup(buf);
}

static bool
diag_has_cause(int c, const int *cs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (cs[i] == c)
			return true;
	}
	return false;
}

/*
 * The lexicon's answer for a text, through a small cache: servers repeat
 * their replies word for word, and the lexicon is many expressions.
 */
static bool
diag_words(const struct diag *dc, const char *text, struct lexicon_hit *hit)
{
	struct diag *d = (struct diag *)dc; /* the cache is not the engine */
	struct diag_wcache *c;
	uint32_t h = 2166136261u;
	size_t n, i;

	if (text == NULL) {
		memset(hit, 0, sizeof *hit);
		hit->cause = -1;
		return false;
	}
	n = strlen(text);
	if (n >= sizeof c->text)
		return lexicon_match(d->lex, d->nlex, text, hit);
	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)text[i]) * 16777619u;
	c = &d->wcache[h % DIAG_WCACHE];
	if (c->used && c->hash == h && strcmp(c->text, text) == 0) {
		*hit = c->hit;
		return c->found;
	}
	c->found = lexicon_match(d->lex, d->nlex, text, hit);
	c->hit = *hit;
	c->hash = h;
	c->used = true;
	memcpy(c->text, text, n + 1);
	return c->found;
}

/* Among the causes an enhanced code can mean, the one the session points
   to: the phase decides between a refusal at connect and one later. */
static int
diag_pick(const struct diag_input *in, const int *cs, size_t n)
{
	bool connect = (in->ans_bit & RULES_ANS_CONNECT) != 0;
	int overload = kb_cause_index("overload");
	int grey = kb_cause_index("greylist");
	int shutdown = kb_cause_index("shutdown");
	int bad = kb_cause_index("bad-address");
	size_t i;

	if (n > 1 && diag_has_cause(overload, cs, n) && connect)
		return overload;
	if (n > 1 && diag_has_cause(grey, cs, n) && in->code >= 450 &&
	    in->code <= 451 && (in->ans_bit & RULES_ANS_RCPT) != 0)
		return grey;
	/* Only a 421 ends the session: a server going down sends that.  A
	   missing address is permanent: a 4xx does not mean that. */
	for (i = 0; i < n; i++) {
		if ((cs[i] != shutdown || in->code == 421) &&
		    (cs[i] != bad || in->code / 100 != 4))
			return cs[i];
	}
	return in->code / 100 == 4 ? kb_cause_index("temporary") : cs[0];
}

/* The words of the reply that rule r's text: matched, lower case. */
static void
diag_rule_words(
    const struct diag_input *in, const struct rule *r, char *buf, size_t len)
{
	const char *text = in->text;
	size_t i, o = 0, so, eo;

	buf[0] = '\0';
	if (text == NULL || !r->has_text || !diag_text(in, r, &so, &eo))
		return;
	for (i = so; i < eo && o + 1 < len; i++) {
		unsigned char ch = (unsigned char)text[i];

		if (ch < 0x20 || ch >= 0x7f || ch == '\'')
			ch = ' ';
		buf[o++] = (char)tolower(ch);
	}
	while (o > 0 && buf[o - 1] == ' ')
		o--;
	buf[o] = '\0';
}

/* Whether the enhanced code's detail is in the table itself (not only its
   subject), so that it says something specific; *cs gets its causes. */
static const char *
diag_enh_causes(const struct diag_input *in, int *cs, size_t *n, bool *specific)
{
	const char *m, *subj;
	int tmp[LEXICON_CAUSES];
	size_t tn;

	*n = 0;
	*specific = false;
	if (!in->has_enh)
		return NULL;
	m = lexicon_enhanced(
	    in->d->lex, in->d->nlex, in->enh[1], in->enh[2], cs, n);
	subj =
	    lexicon_enhanced(in->d->lex, in->d->nlex, in->enh[1], -1, tmp, &tn);
	*specific = m != NULL && *n > 0 && m != subj && in->enh[2] != 0 &&
		    !(*n == 1 && cs[0] == kb_cause_index("unknown"));
	return m;
}

/* The length of the gist of a meaning: up to its first ':' or ';', so
   that a fact stays a few words. */
static int
diag_gist(const char *m)
{
	size_t n = strcspn(m, ":;");

	while (n > 0 && m[n - 1] == ' ')
		n--;
	return (int)n;
}

/* Facts of the session that bear on the cause, as evidence. */
static void
diag_facts(const struct diag_input *in, struct diag_why *w)
{
	const struct event_reply_ctx *c = in->ctx;
	const char *cause = kb_causes[w->cause].id;
	char buf[64];

	if (in->answers_known)
		diag_ev(w, "phase: %s",
		    (in->ans_bit & RULES_ANS_CONNECT) != 0
			? "greeting"
			: diag_phase(in->answers, true));
	if (in->server >= 0)
		diag_ev(w, "greeting names %s", kb_servers[in->server].name);
	if (c == NULL)
		return;
	if ((in->ans_bit & RULES_ANS_RCPT) != 0) {
		if (c->rcpt_accepted == 0)
			diag_ev(w, "no recipient accepted before");
		else
			diag_ev(w, "%u recipient%s accepted before",
			    c->rcpt_accepted, event_plural(c->rcpt_accepted));
	}
	if (c->messages > 0 && (strcmp(cause, "msgs-per-conn") == 0 ||
				   strcmp(cause, "msg-rate") == 0))
		diag_ev(w, "%u message%s sent on this connection before",
		    c->messages, event_plural(c->messages));
	if (c->idle_ms >= 1000 && strcmp(cause, "idle-timeout") == 0) {
		diag_duration(buf, sizeof buf, c->idle_ms);
		diag_ev(w, "silence of %s before it", buf);
	}
	if (strcmp(cause, "conn-limit") == 0 ||
	    strcmp(cause, "conn-rate") == 0 || strcmp(cause, "overload") == 0) {
		unsigned n = diag_hist_open(in->hist, in->sess, in->now);

		if (n > 0)
			diag_ev(w,
			    "%u other connection%s from this client open", n,
			    event_plural(n));
	}
	if (strcmp(cause, "tls-required") == 0)
		diag_ev(
		    w, "%s", c->tls_active ? "inside TLS" : "in clear text");
}

/* Lexicon weights: words at or above STRONG beat a rule that knows only
   the enhanced code; at or above FIRM they beat the enhanced-code table
   and the phase (data/lexicon.conf says the same). */
#define DIAG_WORDS_STRONG 80
#define DIAG_WORDS_FIRM 50

/*
 * Decide the cause of a reply, in layers: a rule that knows the wording;
 * else the words of the text (a weighty lexicon entry wins over the
 * enhanced code, and the evidence says so when they disagree); else the
 * enhanced code, with the session choosing among its causes; else the
 * cause of the phase rule that matched; else what the class leaves.
 */
static void
diag_decide(const struct diag_input *in, const struct rule *r, bool site,
    struct diag_why *w)
{
	const struct diag *d = in->d;
	struct lexicon_hit hit;
	int cs[LEXICON_CAUSES], rc = -1;
	size_t ncs;
	bool specific, words, knows;
	const char *em = diag_enh_causes(in, cs, &ncs, &specific);
	char buf[64];

	memset(w, 0, sizeof *w);
	if (r != NULL && r->cause != NULL)
		rc = kb_cause_index(r->cause);
	knows = rc >= 0 &&
		(r->has_text || site || (r->has_enh && r->vendor != NULL));
	/* The lexicon is the costly part: a rule that knows the wording
	   needs it only when all it knows is that the fault is temporary. */
	if (knows &&
	    (site || r->vendor != NULL || rc != kb_cause_index("temporary"))) {
		words = false;
		memset(&hit, 0, sizeof hit);
	} else
		words = diag_words(d, in->text, &hit);
	if (knows &&
	    !(rc == kb_cause_index("temporary") && !site && r->vendor == NULL &&
		words && hit.weight >= DIAG_WORDS_STRONG && hit.cause != rc)) {
		/* A rule knows this wording, or this vendor's code (a rule
		   that knows only that the fault is temporary gives way to
		   words that name the cause). */
		w->cause = rc;
		w->confidence =
		    r->vendor != NULL && in->server < 0 ? "likely" : "certain";
		diag_rule_words(in, r, buf, sizeof buf);
		if (*buf != '\0')
			diag_ev(w, "text: '%s'", buf);
		else if (words && hit.cause == rc)
			diag_ev(w, "text: '%s'", hit.words);
	} else if (words && (hit.weight >= DIAG_WORDS_STRONG ||
				(hit.weight >= DIAG_WORDS_FIRM &&
				    (rc < 0 || !r->has_enh)))) {
		/* The words say it: strong words beat a rule that knows
		   only the enhanced code, firm words beat the code table. */
		w->cause = hit.cause;
		w->confidence = "likely";
		diag_ev(w, "text: '%s'", hit.words);
		if (specific && diag_has_cause(hit.cause, cs, ncs))
			w->confidence = "certain";
	} else if (rc >= 0 && r->has_enh) {
		/* A rule that knows this enhanced code. */
		w->cause = rc;
		w->confidence =
		    r->vendor != NULL && in->server < 0 ? "guess" : "likely";
	} else if (specific) {
		w->cause = diag_pick(in, cs, ncs);
		w->confidence = ncs == 1 ? "likely" : "guess";
	} else if (rc >= 0) {
		w->cause = rc;
		w->confidence = r->nnums > 0 ? "likely" : "guess";
	} else if (words) {
		w->cause = hit.cause;
		w->confidence = "guess";
		diag_ev(w, "text: '%s'", hit.words);
	} else {
		w->cause = kb_cause_index(
		    in->code / 100 == 4 ? "temporary" : "unknown");
		w->confidence = "guess";
		w->fallback = true;
	}
	if (em != NULL) {
		if (specific && !diag_has_cause(w->cause, cs, ncs))
			diag_ev(w,
			    "enhanced %s (%.*s) would say %s; the text is more "
			    "specific and wins",
			    in->enhanced, diag_gist(em), em,
			    kb_causes[cs[0]].id);
		else
			diag_ev(w, "enhanced %s%s: %.*s", in->enhanced,
			    in->enh_in_text ? " (in the text)" : "",
			    diag_gist(em), em);
	}
	diag_facts(in, w);
}

/* The texts of a cause: its first "cause-" rule whose conditions hold
   (site rules first, so a site can reword a cause). */
static const struct rule *
diag_cause_rule(const struct diag *d, const struct diag_input *in, int cause,
    bool situational)
{
	const struct diag_rlist *l = diag_rules_for(d, in->code);
	const struct rule *r;
	size_t k;

	for (k = 0; k < l->n; k++) {
		r = l->v[k];
		if (diag_is_cause_rule(r) && r->cause != NULL &&
		    (!situational || r->nnums > 0) &&
		    strcmp(r->cause, kb_causes[cause].id) == 0 &&
		    diag_match(r, in))
			return r;
	}
	return NULL;
}

static bool
diag_is_site(const struct diag *d, const struct rule *r)
{
	size_t i, j;

	for (i = 0; r != NULL && i < d->nsite; i++) {
		for (j = 0; j < rules_count(d->site[i]); j++) {
			if (rules_get(d->site[i], j) == r)
				return true;
		}
	}
	return false;
}

/*
 * The diagnosis of a reply for which rule r (or none) matched: its cause,
 * evidence and confidence, with the texts of r when r knows this wording
 * or diagnoses the same cause, else the texts of the cause.  NULL when
 * there is nothing to say (no rule and not asked for).
 */
static struct event_diag *
diag_conclude(const struct diag_input *in, const struct rule *r, bool always)
{
	const struct diag *d = in->d;
	bool site = diag_is_site(d, r);
	const struct rule *cr = NULL;
	struct event_diag *x;
	struct diag_why w;
	size_t i;

	diag_decide(in, r, site, &w);
	/* No rule for a reply that is not highlighted: say something only
	   when its words or code name a cause with some confidence. */
	if (r == NULL && !always &&
	    (w.fallback || strcmp(w.confidence, "guess") == 0)) {
		for (i = 0; i < w.nev; i++)
			free(w.ev[i]);
		return NULL;
	}
	/* A cause text for this very situation (a recipient limit with no
	   recipient accepted) beats the general words of a built-in rule;
	   otherwise a rule that diagnoses another cause than the one decided
	   gives way to the cause's texts. */
	if (!w.fallback && !site)
		cr = diag_cause_rule(d, in, w.cause, true);
	if (cr == NULL && !w.fallback &&
	    (r == NULL ||
		(!r->has_text && !site &&
		    (r->cause == NULL ||
			strcmp(r->cause, kb_causes[w.cause].id) != 0))))
		cr = diag_cause_rule(d, in, w.cause, false);
	if (cr != NULL)
		x = diag_from_rule(d, cr, in);
	else if (r != NULL)
		x = diag_from_rule(d, r, in);
	else
		x = diag_generic(in);
	x->cause = xstrdup(kb_causes[w.cause].id);
	x->confidence = w.confidence;
	x->evidence = xcalloc(w.nev > 0 ? w.nev : 1, sizeof *x->evidence);
	for (i = 0; i < w.nev; i++)
		x->evidence[i] = w.ev[i];
	x->n_evidence = w.nev;
	return x;
}

/* The reply text with lines joined by a space, NUL-free, capped. */
static char *
diag_join_text(const char *text, size_t len)
{
	char *s;
	size_t i;

	if (text == NULL)
		return xstrdup("");
	if (len > DIAG_TEXT_MAX)
		len = DIAG_TEXT_MAX;
	s = xmemdup0(text, len);
	for (i = 0; i < len; i++) {
		if (s[i] == '\n' || s[i] == '\r' || s[i] == '\0' ||
		    s[i] == '\t')
			s[i] = ' ';
	}
	return s;
}

/* A printable, bounded copy of a wire string for the `when` text. */
static char *
diag_clean(const char *s)
{
	char *c;
	size_t i;

	if (s == NULL || *s == '\0')
		return NULL;
	c = xstrndup(s, 64);
	for (i = 0; c[i] != '\0'; i++) {
		if ((unsigned char)c[i] < 0x20 || c[i] == 0x7f ||
		    (unsigned char)c[i] >= 0x80 || c[i] == '{' || c[i] == '[')
			c[i] = '?';
	}
	return c;
}

/* The software the greeting names, or -1.  The reply text is not used:
   a wording shared or copied between products proves nothing. */
static int
diag_recognise(const struct diag *d, const char *greeting)
{
	size_t i;

	if (greeting == NULL)
		return -1;
	for (i = 0; i < kb_nservers; i++) {
		if (regexec(&d->server_re[i], greeting, 0, NULL, 0) == 0)
			return (int)i;
	}
	return -1;
}

/* diag_recognise of joined, the cleaned form of raw, a reply context's
   greeting: remembered per server, as every reply of every session to it
   carries the same greeting. */
static int
diag_recognise_ctx(const struct diag *d, struct diag_hserver *h,
    const char *joined, const char *raw)
{
	uint64_t gh = 14695981039346656037u;
	size_t k;

	for (k = 0; raw[k] != '\0'; k++)
		gh = (gh ^ (unsigned char)raw[k]) * 1099511628211u;
	if (h->ctx_greet_seen && h->ctx_greet_hash == gh &&
	    h->ctx_greet_len == k)
		return h->ctx_greet_sw;
	h->ctx_greet_sw = diag_recognise(d, joined);
	h->ctx_greet_hash = gh;
	h->ctx_greet_len = k;
	h->ctx_greet_seen = true;
	return h->ctx_greet_sw;
}

static void
diag_set_enhanced(struct diag_input *in, const char *enhanced)
{
	if (enhanced != NULL && diag_parse_enhanced(enhanced, in->enh) == 0) {
		in->has_enh = true;
		diag_scopy(in->enhanced, sizeof in->enhanced, enhanced);
	}
}

/* A reply without an enhanced code that quotes one in its text, as qmail
   does ("(#4.3.0)"): use it, and say where it came from. */
static void
diag_enhanced_in_text(struct diag_input *in, const char *text)
{
	const char *p;
	char code[16];
	size_t n;

	if (in->has_enh || text == NULL)
		return;
	for (p = strchr(text, '#'); p != NULL; p = strchr(p + 1, '#')) {
		n = strspn(p + 1, "0123456789.");
		if (n < 5 || n >= sizeof code)
			continue;
		memcpy(code, p + 1, n);
		code[n] = '\0';
		if (code[n - 1] == '.')
			code[n - 1] = '\0';
		diag_set_enhanced(in, code);
		if (in->has_enh) {
			in->enh_in_text = true;
			return;
		}
	}
}

/*
 * What a repeat of this kind of failure says, for the burst note.  Only
 * limits on connections, load and resources make a burst mean overload or
 * throttling; a repeated recipient limit or idle timeout is the client's
 * own pattern.
 */
static const char *
diag_burst_cause(
    const struct diag *d, const struct diag_input *in, const struct rule *base)
{
	const char *id = base != NULL ? base->id : "";
	bool e = in->has_enh;

	if ((e && in->enh[1] == 5 && in->enh[2] == 3) ||
	    strstr(id, "rcpt-limit") != NULL ||
	    (in->code == 452 && (in->ans_bit & RULES_ANS_RCPT) != 0 &&
		in->ctx != NULL && in->ctx->rcpt_accepted > 0))
		return "the client keeps sending more recipients per message "
		       "than this server takes: a client configuration "
		       "pattern, not overload; set the client's recipients "
		       "per message to the server's limit";
	if (strstr(id, "msgs-per-conn") != NULL ||
	    strstr(id, "max-msgs") != NULL || strstr(id, "max-mails") != NULL ||
	    strstr(id, "after-messages") != NULL)
		return "the client keeps sending more messages per connection "
		       "than this server takes: a client configuration "
		       "pattern, not overload; make it reconnect sooner";
	if ((e && in->enh[1] == 4 && in->enh[2] == 2) ||
	    strstr(id, "timeout") != NULL)
		return "this client's sessions keep going silent until the "
		       "server's timeout: look at the client and the network "
		       "path, not at the server's load";
	if (strstr(id, "errors") != NULL || strstr(id, "bad-") != NULL)
		return "the client keeps repeating what the server refuses: "
		       "fix its commands or recipient list; retrying harder "
		       "will not help";
	if ((in->code == 421 && (in->ans_bit & RULES_ANS_CONNECT) != 0) ||
	    (e &&
		(in->enh[1] == 7 ||
		    (in->enh[1] == 3 && (in->enh[2] == 1 || in->enh[2] == 2)) ||
		    (in->enh[1] == 4 && in->enh[2] == 5))) ||
	    (in->text != NULL &&
		regexec(&d->busy_re, in->text, 0, NULL, 0) == 0))
		return "the server is overloaded or is throttling this client";
	return "the same failure keeps coming back, so it is not a one-off";
}

static const char *
diag_class_name(int c)
{
	return c == 2	? "success"
	       : c == 4 ? "temporary failure"
			: "permanent failure";
}

/* A 4xx reply with a 5.x.x enhanced code (or the reverse) contradicts
   itself; clients go by the reply code, so say which one counts. */
static void
diag_class_note(const struct diag_input *in, struct event_diag *x)
{
	char *t;
	int d1 = in->code / 100;

	if (!in->has_enh || (d1 != 2 && d1 != 4 && d1 != 5) || in->enh[0] == d1)
		return;
	xasprintf(&t,
	    "%s Note: the enhanced code %s is of class %d (%s) but the reply "
	    "code %d is a %s; the two should agree (RFC 3463), so the server "
	    "is inconsistent. Clients act on the reply code: %s.",
	    x->meaning, in->enhanced, in->enh[0], diag_class_name(in->enh[0]),
	    in->code, diag_class_name(d1),
	    d1 == 4   ? "the client keeps the message and retries"
	    : d1 == 5 ? "the client gives up (no retry)"
		      : "the command succeeded");
	free(x->meaning);
	x->meaning = t;
}

void
diag_reply(struct diag *d, struct event *ev)
{
	struct diag_input in;
	struct diag_kind kind;
	struct diag_hsess *sess;
	struct diag_hserver *h;
	const struct rule *r, *base;
	char *text, *greeting = NULL;
	bool highlight = ev->code == 421 || ev->code == 452;
	struct diag_tmemo tm;
	struct diag_vmemo vm;
	int sw;

	memset(&in, 0, sizeof in);
	memset(&vm, 0, sizeof vm);
	in.d = d;
	tm.n = 0;
	in.tm = &tm;
	in.vm = &vm;
	ev->highlight = highlight;
	in.now = diag_secs(&ev->ts);
	h = diag_hist_touch(d, ev, in.now, &sess);
	in.hist = h;
	in.sess = sess;
	/* The software a 220 greeting names holds for the server address,
	   also for sessions it refuses at connect (421 instead of 220). */
	if (ev->code == 220 && strcmp(ev->answers, "CONNECT") == 0 &&
	    !sess->greeted) {
		uint32_t gh = 2166136261u;
		size_t k;

		sess->greeted = true;
		for (k = 0; k < ev->text_len; k++)
			gh = (gh ^ (unsigned char)ev->text[k]) * 16777619u;
		if (h->greet_seen && h->greet_hash == gh)
			sw = h->greet_sw;
		else {
			text = diag_join_text(ev->text, ev->text_len);
			sw = diag_recognise(d, text);
			free(text);
			h->greet_hash = gh;
			h->greet_sw = sw;
			h->greet_seen = true;
		}
		if (sw >= 0)
			h->software = sw + 1;
	}
	if (ev->code < 400 || ev->code > 599)
		return; /* only failures are diagnosed */

	text = diag_join_text(ev->text, ev->text_len);
	/* A 421/554 greeting is this very reply: it names nothing more than
	   the wording does. */
	if (ev->ctx.greeting != NULL && strcmp(ev->answers, "CONNECT") != 0)
		greeting =
		    diag_join_text(ev->ctx.greeting, strlen(ev->ctx.greeting));
	in.code = ev->code;
	diag_set_enhanced(&in, ev->enhanced);
	diag_enhanced_in_text(&in, text);
	in.text = text;
	in.answers = ev->answers;
	in.answers_known = true;
	in.ans_bit = rules_answers_bit(ev->answers);
	in.ctx = &ev->ctx;
	in.server = greeting != NULL
			? diag_recognise_ctx(d, h, greeting, ev->ctx.greeting)
			: h->software - 1;
	in.helo = diag_clean(ev->ctx.helo);

	/* The kind of this reply, from the rule that matches regardless of
	   bursts; recorded before counting, so that it counts itself. */
	in.skip_burst = true;
	base = diag_find(d, &in, NULL, false);
	in.skip_burst = false;
	memset(&kind, 0, sizeof kind);
	kind.code = ev->code;
	if (in.has_enh)
		diag_scopy(kind.enhanced, sizeof kind.enhanced, in.enhanced);
	kind.rule = base;
	kind.ans_bit = in.ans_bit;
	in.kind = &kind;
	if (highlight)
		diag_hist_flag(sess, &kind, in.now);

	r = diag_find_burst(d, &in, base);
	ev->diag = diag_conclude(&in, r, highlight);

	/* A burst is worth saying whatever the rule: it changes the fix. */
	if (ev->diag != NULL && highlight && r != NULL &&
	    strstr(r->when, "{burst}") == NULL &&
	    diag_hist_count(in.hist, in.kind, in.now, DIAG_BURST_WINDOW, NULL,
		NULL) >= DIAG_BURST_NOTE) {
		char *note = diag_expand("Pattern: {burst}", &in);
		const char *cause = diag_burst_cause(d, &in, base);
		char *w = xmalloc(strlen(ev->diag->when) + strlen(note) +
				  strlen(cause) + 5),
		     *p;

		/* "%s %s: %s." */
		p = stpcpy(w, ev->diag->when);
		p = stpcpy(p, " ");
		p = stpcpy(p, note);
		p = stpcpy(p, ": ");
		p = stpcpy(p, cause);
		(void)stpcpy(p, ".");
		free(ev->diag->when);
		ev->diag->when = w;
		free(note);
	}
	if (ev->diag != NULL)
		diag_class_note(&in, ev->diag);
	free(in.helo);
	free(text);
	free(greeting);
}

struct event_diag *
diag_explain(struct diag *d, int code, const char *enhanced, const char *text,
    const char *answers)
{
	struct diag_input in;
	const struct rule *r;
	struct event_diag *x;
	struct diag_tmemo tm;
	struct diag_vmemo vm;
	char *t = NULL, verb[16];
	size_t i;

	memset(&in, 0, sizeof in);
	memset(&vm, 0, sizeof vm);
	in.d = d;
	tm.n = 0;
	in.tm = &tm;
	in.vm = &vm;
	in.code = code;
	in.server = -1;
	diag_set_enhanced(&in, enhanced);
	if (text != NULL) {
		t = diag_join_text(text, strlen(text));
		in.text = t;
		diag_enhanced_in_text(&in, t);
	}
	verb[0] = '\0';
	if (answers != NULL) {
		for (i = 0; i < sizeof verb - 1 && answers[i] != '\0'; i++)
			verb[i] = (char)toupper((unsigned char)answers[i]);
		verb[i] = '\0';
		if (strcmp(verb, "GREETING") == 0 ||
		    strcmp(verb, "CONNECT") == 0)
			snprintf(verb, sizeof verb, "CONNECT");
		else if (strcmp(verb, "END-OF-DATA") == 0)
			snprintf(verb, sizeof verb, "DATA-END");
		else if (strcmp(verb, "NONE") == 0)
			verb[0] = '\0';
		in.answers_known = true;
		in.ans_bit = rules_answers_bit(verb);
	}
	in.answers = verb;

	r = diag_find(d, &in, NULL, false);
	x = diag_conclude(&in, r, true);
	diag_class_note(&in, x);
	free(t);
	return x;
}
