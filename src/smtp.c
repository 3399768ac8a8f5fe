/*
 * smtp: the SMTP engine of one session.
 *
 * Each direction is framed into lines (RFC 5321 2.3.8: CRLF, bare LF
 * tolerated and noted once) held in a per-direction buffer that never grows
 * past SMTP_LINE_MAX; an over-long line is reported once, its first
 * SMTP_LINE_MAX bytes are processed as the line and the rest is discarded up
 * to the next LF.  Message bodies are never copied: DATA content goes
 * through a five-state matcher looking for CRLF.CRLF (RFC 5321 4.1.1.4) and
 * BDAT chunks (RFC 3030) are counted by octets.
 *
 * Client lines are commands, looked up in a verb table whose handlers run
 * when the command is sent and when its reply arrives.  Every command goes
 * into a FIFO of outstanding commands (RFC 2920 3.2: replies come in the
 * order of the commands); each complete reply answers the head of that FIFO.
 * Pseudo entries stand for the end of a message (DATA-END) and for the lines
 * of a body the server refused, which it will answer as if they were
 * commands.
 *
 * Connection state (greeting, TLS, QUIT/421) and transaction state (MAIL,
 * RCPT lists, message bytes) are kept apart; the transaction is cleared by
 * RSET, EHLO/HELO, STARTTLS and the end of a message (RFC 5321 4.1.4).
 * The client-side parse mode is an explicit enum changed only through
 * smtp_enter_state(); the connection phase (before the greeting, open,
 * over after 221 or 421) is another, changed only through
 * smtp_enter_phase(), and the mode's two qualifiers (resynchronising,
 * waiting for DATA's reply) only through smtp_client_flag().  All three
 * are traced when the caller asks.  Anomalies said once per session are
 * bits behind smtp_note_once().
 *
 * Invariants: memory per session is bounded by SMTP_LINE_MAX per direction,
 * SMTP_REPLY_MAX for the reply being assembled, SMTP_PENDING_MAX outstanding
 * commands of at most SMTP_PENDING_ARG_MAX argument bytes each (beyond them
 * SMTP_OVERFLOW_RUNS runs of verbs, so that replies stay matched) and
 * SMTP_RCPT_LIST_MAX recipients per list; smtp_mem() tells what it is now
 * and smtp_trim() gives back what the session can do without.  Events are
 * emitted without the session header; the caller stamps it.
 */
#include "config.h"

#include "smtp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

/* A BDAT chunk larger than this is taken as a framing error, not data: no
   real message is a terabyte, and believing such a size would swallow the
   rest of the session. */
#define SMTP_BDAT_MAX ((uint64_t)1 << 40)
/* Distinct reply codes tallied for session_close (000-999). */
#define SMTP_CODES_MAX 1000
/* Longest queue id kept from a final reply. */
#define SMTP_QUEUEID_MAX 64

/* What the client's bytes are, as far as the engine knows. */
enum smtp_state {
	SMTP_ST_GREETING, /* no greeting yet (client may talk early) */
	SMTP_ST_READY,	  /* client lines are commands */
	SMTP_ST_AUTH,	  /* client lines are SASL responses */
	SMTP_ST_DATA,	  /* client bytes are a message body */
	SMTP_ST_BDAT,	  /* client bytes are a BDAT chunk */
	SMTP_ST_STARTTLS, /* STARTTLS sent: client bytes held */
	SMTP_ST_TLS,	  /* 220 to STARTTLS: bytes are TLS */
	SMTP_ST_CLOSED,	  /* smtp_close() was called */
};

static const char *const smtp_state_names[] = {
    "greeting",
    "ready",
    "auth",
    "data",
    "bdat",
    "starttls",
    "tls",
    "closed",
};

/* Where the connection is, apart from how client bytes are parsed: the
   two change independently (a 421 may come in any parse mode). */
enum smtp_phase {
	SMTP_PH_UNGREETED, /* no greeting yet */
	SMTP_PH_OPEN,	   /* greeted: replies answer commands */
	SMTP_PH_OVER,	   /* 221 to QUIT: no more replies expected */
	SMTP_PH_OVER_421,  /* 421: the server closed the channel */
};

static const char *const smtp_phase_names[] = {
    "ungreeted",
    "open",
    "over",
    "over-421",
};

/* Qualifiers of the client-side parse mode (struct smtp_session.cflags),
   set and cleared only through smtp_client_flag(). */
#define SMTP_CF_RESYNC 0x1u    /* skip lines until a known verb */
#define SMTP_CF_DATA_WAIT 0x2u /* DATA sent, its reply not seen */

/* Anomalies reported at most once per session (struct
   smtp_session.noted), through smtp_note_once(). */
#define SMTP_NOTE_BARE_LF 0x01u
#define SMTP_NOTE_EARLY 0x02u
#define SMTP_NOTE_421 0x04u
#define SMTP_NOTE_354 0x08u
#define SMTP_NOTE_CAP 0x10u

/* Which command an outstanding entry stands for. */
enum smtp_kind {
	SMTP_K_OTHER,
	SMTP_K_HELO,
	SMTP_K_MAIL,
	SMTP_K_RCPT,
	SMTP_K_DATA,
	SMTP_K_DATAEND,
	SMTP_K_BDAT,
	SMTP_K_RSET,
	SMTP_K_QUIT,
	SMTP_K_STARTTLS,
	SMTP_K_AUTH,
	SMTP_K_SKIP,
};

struct smtp_session;
struct smtp_pending;
struct smtp_reply;
struct smtp_verb {
	const char *name;
	enum smtp_kind kind;
	/* The command was sent (it is already in the FIFO at seq). */
	void (*cmd)(struct smtp_session *, uint64_t seq, const char *arg,
	    size_t arglen, const struct timeval *, bool encrypted);
	/* Its reply arrived (the entry has been popped). */
	void (*reply)(struct smtp_session *, struct smtp_pending *,
	    const struct smtp_reply *, const struct timeval *);
};

/* One outstanding command. */
struct smtp_pending {
	const struct smtp_verb *v;
	char verb[16];	   /* what "answers" says */
	char *arg;	   /* as reported (AUTH masked), owned */
	size_t arg_len;	   /* strlen(arg), kept by smtp_fifo_push */
	struct timeval ts; /* when it (or its last part) was sent */
	bool pipelined;	   /* sent while others were outstanding */
	bool last;	   /* BDAT ... LAST */
	bool spec;	   /* DATA-END of a body sent without 354 */
	uint64_t lines;	   /* DATA-END: body lines; SKIP: replies left */
	uint64_t bytes;	   /* DATA-END, BDAT: message bytes so far */
};

/*
 * Commands beyond SMTP_PENDING_MAX: only their verbs, run-length encoded
 * (a flood repeats one verb), so that their replies still match in order.
 */
struct smtp_over_run {
	char verb[16]; /* "" once runs of several verbs had to merge */
	uint64_t n;
};

struct smtp_fifo {
	struct smtp_pending *ring;
	size_t cap, first, count;
	uint64_t popped;  /* entries ever popped: seq of the head */
	size_t arg_bytes; /* heap bytes of the entries' args */
	/* Behind the ring: later commands, verb only (see above). */
	struct smtp_over_run *over; /* SMTP_OVERFLOW_RUNS, on first use */
	size_t over_first, over_runs;
	uint64_t over_total;
	uint64_t over_ever; /* commands that went there, for the stats */
};

struct smtp_dir {
	uint8_t *buf; /* the current line, without terminator */
	size_t len, cap;
	bool in_line;		/* bytes of the current line were seen */
	bool overflow;		/* discarding up to the next LF */
	bool crlf;		/* the last complete line ended in CRLF */
	bool any;		/* any byte seen */
	bool valid;		/* a well-formed command/reply was seen */
	bool ignore;		/* not SMTP: drop everything */
	bool garbage_noted;	/* one anomaly per run of bad lines */
	struct timeval line_ts; /* first byte of the current line */
	double line_idle;	/* silence before that byte (ms) */
};

/* The reply being assembled. */
struct smtp_reply {
	bool active;
	int code;
	char enhanced[16];
	char *text;
	size_t text_len, text_cap;
	unsigned lines;
	struct timeval first_ts;
	double idle_ms;
	bool encrypted;
	bool cut;      /* a hole in the capture ended it early */
	bool has_size; /* EHLO keyword SIZE seen */
	uint64_t size;
};

/* The mail transaction (RFC 5321 4.1.4). */
struct smtp_txn {
	bool active; /* MAIL accepted */
	char *mail_from;
	uint64_t mail_size;
	char **acc, **rej;
	size_t n_acc, n_rej;
	size_t list_bytes; /* heap bytes of the addresses in acc and rej */
	unsigned rcpt_seen, rcpt_accepted, rcpt_rejected;
};

struct smtp_session {
	struct smtp_config cfg;
	const struct smtp_ops *ops;
	void *arg;
	struct timeval start;
	struct timeval syn_ts;
	bool have_syn;
	bool implicit_tls, midstream;
	bool cmd_cut; /* the command line being parsed ends at a hole */

	enum smtp_state state;
	struct smtp_dir d[2];
	struct timeval last_ts; /* last byte seen in either direction */
	struct timeval body_ts; /* last message byte seen (DATA) */

	enum smtp_phase phase; /* changed only by smtp_enter_phase() */
	unsigned cflags;       /* SMTP_CF_*, changed by smtp_client_flag() */
	bool quit;	       /* QUIT answered by 221 */
	bool tls_active;
	bool decrypting; /* the TLS layer hands us plaintext */
	bool tls_dirs;	 /* 220 to STARTTLS: both directions TLS */
	bool cmd_seen;
	bool auth_open; /* an AUTH exchange is unfinished */
	uint64_t auth_seq;
	uint64_t data_seq;
	uint64_t bdat_seq;
	uint64_t bdat_left;
	bool bdat_last;
	/* Bytes of the message the client is sending (client side: with
	   PIPELINING this runs ahead of the replies, so each DATA-END/BDAT
	   entry keeps its own count). */
	uint64_t msg_bytes;
	int body_m; /* DATA end matcher state */
	uint64_t body_lines;
	bool body_spec;	    /* body sent before DATA's reply */
	bool body_rejected; /* ... and DATA was refused */

	unsigned noted; /* SMTP_NOTE_*: anomalies already reported */

	char *greeting;
	char *helo;
	size_t greeting_len, helo_len; /* for smtp_mem */
	uint64_t ehlo_size;

	struct smtp_fifo fifo;
	struct smtp_reply rep;
	struct smtp_txn txn;

	unsigned commands, replies, messages;
	struct event_code_count *codes;
	size_t n_codes, cap_codes;
};

static void smtp_cmd_helo(struct smtp_session *, uint64_t, const char *, size_t,
    const struct timeval *, bool);

void
smtp_prefetch(const struct smtp_session *s, bool deep)
{
	const struct smtp_fifo *f = &s->fifo;
	size_t off;
	int d;

	if (!deep) {
		for (off = 0; off < sizeof *s; off += 64)
			__builtin_prefetch((const char *)s + off);
		return;
	}
	/* What a reply or a command reads behind s: the line being
	   assembled, the reply's text, the oldest outstanding command and
	   the next free slot, the per-code counts. */
	for (d = 0; d < 2; d++)
		if (s->d[d].buf != NULL)
			__builtin_prefetch(s->d[d].buf);
	if (s->rep.text != NULL)
		__builtin_prefetch(s->rep.text);
	if (f->ring != NULL && f->cap > 0) {
		__builtin_prefetch(&f->ring[f->first]);
		__builtin_prefetch(&f->ring[(f->first + f->count) % f->cap]);
	}
	if (s->codes != NULL)
		__builtin_prefetch(s->codes);
}
static void smtp_cmd_data(struct smtp_session *, uint64_t, const char *, size_t,
    const struct timeval *, bool);
static void smtp_cmd_bdat(struct smtp_session *, uint64_t, const char *, size_t,
    const struct timeval *, bool);
static void smtp_cmd_starttls(struct smtp_session *, uint64_t, const char *,
    size_t, const struct timeval *, bool);
static void smtp_cmd_auth(struct smtp_session *, uint64_t, const char *, size_t,
    const struct timeval *, bool);
static void smtp_reply_helo(struct smtp_session *, struct smtp_pending *,
    const struct smtp_reply *, const struct timeval *);
static void smtp_reply_mail(struct smtp_session *, struct smtp_pending *,
    const struct smtp_reply *, const struct timeval *);
static void smtp_reply_rcpt(struct smtp_session *, struct smtp_pending *,
    const struct smtp_reply *, const struct timeval *);
static void smtp_reply_data(struct smtp_session *, struct smtp_pending *,
    const struct smtp_reply *, const struct timeval *);
static void smtp_reply_dataend(struct smtp_session *, struct smtp_pending *,
    const struct smtp_reply *, const struct timeval *);
static void smtp_reply_bdat(struct smtp_session *, struct smtp_pending *,
    const struct smtp_reply *, const struct timeval *);
static void smtp_reply_rset(struct smtp_session *, struct smtp_pending *,
    const struct smtp_reply *, const struct timeval *);
static void smtp_reply_quit(struct smtp_session *, struct smtp_pending *,
    const struct smtp_reply *, const struct timeval *);
static void smtp_reply_starttls(struct smtp_session *, struct smtp_pending *,
    const struct smtp_reply *, const struct timeval *);
static void smtp_reply_auth(struct smtp_session *, struct smtp_pending *,
    const struct smtp_reply *, const struct timeval *);

/* RFC 5321 verbs and the common extensions. */
static const struct smtp_verb smtp_verbs[] = {
    {"EHLO", SMTP_K_HELO, smtp_cmd_helo, smtp_reply_helo},
    {"HELO", SMTP_K_HELO, smtp_cmd_helo, smtp_reply_helo},
    {"LHLO", SMTP_K_HELO, smtp_cmd_helo, smtp_reply_helo},
    {"MAIL", SMTP_K_MAIL, NULL, smtp_reply_mail},
    {"RCPT", SMTP_K_RCPT, NULL, smtp_reply_rcpt},
    {"DATA", SMTP_K_DATA, smtp_cmd_data, smtp_reply_data},
    {"BDAT", SMTP_K_BDAT, smtp_cmd_bdat, smtp_reply_bdat},
    {"RSET", SMTP_K_RSET, NULL, smtp_reply_rset},
    {"VRFY", SMTP_K_OTHER, NULL, NULL},
    {"EXPN", SMTP_K_OTHER, NULL, NULL},
    {"HELP", SMTP_K_OTHER, NULL, NULL},
    {"NOOP", SMTP_K_OTHER, NULL, NULL},
    {"QUIT", SMTP_K_QUIT, NULL, smtp_reply_quit},
    {"STARTTLS", SMTP_K_STARTTLS, smtp_cmd_starttls, smtp_reply_starttls},
    {"AUTH", SMTP_K_AUTH, smtp_cmd_auth, smtp_reply_auth},
    {"ETRN", SMTP_K_OTHER, NULL, NULL},
    {"XCLIENT", SMTP_K_OTHER, NULL, NULL},
    {"XFORWARD", SMTP_K_OTHER, NULL, NULL},
    {"TURN", SMTP_K_OTHER, NULL, NULL},
    {"ATRN", SMTP_K_OTHER, NULL, NULL},
    {"SEND", SMTP_K_OTHER, NULL, NULL},
    {"SOML", SMTP_K_OTHER, NULL, NULL},
    {"SAML", SMTP_K_OTHER, NULL, NULL},
};
/* Pseudo entries: the end of a message, refused body lines, and any verb
   not in the table (its name is copied into the pending entry). */
static const struct smtp_verb smtp_verb_dataend = {
    "DATA-END", SMTP_K_DATAEND, NULL, smtp_reply_dataend};
static const struct smtp_verb smtp_verb_skip = {"", SMTP_K_SKIP, NULL, NULL};
static const struct smtp_verb smtp_verb_other = {"", SMTP_K_OTHER, NULL, NULL};

/* ---- small helpers ---- */

static double
smtp_ms(const struct timeval *a, const struct timeval *b)
{
	return (double)(a->tv_sec - b->tv_sec) * 1e3 +
	       (double)(a->tv_usec - b->tv_usec) / 1e3;
}

static int
smtp_upper(int c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

/* Case-insensitive search of needle (ASCII) in p[0..n). */
static const char *
smtp_ci_find(const char *p, size_t n, const char *needle)
{
	size_t m = strlen(needle), i, j;

	if (m == 0 || m > n)
		return NULL;
	for (i = 0; i + m <= n; i++) {
		for (j = 0; j < m; j++)
			if (smtp_upper((unsigned char)p[i + j]) !=
			    smtp_upper((unsigned char)needle[j]))
				break;
		if (j == m)
			return p + i;
	}
	return NULL;
}

static bool
smtp_ci_prefix(const char *p, size_t n, const char *prefix)
{
	size_t m = strlen(prefix), j;

	if (m > n)
		return false;
	for (j = 0; j < m; j++)
		if (smtp_upper((unsigned char)p[j]) !=
		    smtp_upper((unsigned char)prefix[j]))
			return false;
	return true;
}

/* Decimal digits into *out; false on none, a non-digit or overflow. */
static bool
smtp_parse_u64(const char *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		if (v > (UINT64_MAX - (uint64_t)(p[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*out = v;
	return true;
}

/* What snprintf(dst, size, "%s", src) does, without its cost: it ran for
   every command and reply. */
static void
smtp_copy(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void
smtp_emit(struct smtp_session *s, struct event *ev)
{
	s->ops->emit(s->arg, ev);
}

static void
smtp_anomaly(struct smtp_session *s, const char *what, const char *detail,
    const struct timeval *ts)
{
	smtp_emit(s, event_new_anomaly(ts, what, detail));
}

/* The one place the client-side mode changes; traced when asked. */
static void
smtp_enter_state(struct smtp_session *s, enum smtp_state to, const char *why)
{
	char buf[128];

	if (s->state == to)
		return;
	if (s->cfg.trace != NULL) {
		snprintf(buf, sizeof buf, "%s -> %s (%s)",
		    smtp_state_names[s->state], smtp_state_names[to], why);
		s->cfg.trace(s->cfg.trace_arg, buf);
	}
	s->state = to;
}

/* The one place the connection phase changes; traced like the mode. */
static void
smtp_enter_phase(struct smtp_session *s, enum smtp_phase to, const char *why)
{
	char buf[128];

	if (s->phase == to)
		return;
	if (s->cfg.trace != NULL) {
		snprintf(buf, sizeof buf, "phase %s -> %s (%s)",
		    smtp_phase_names[s->phase], smtp_phase_names[to], why);
		s->cfg.trace(s->cfg.trace_arg, buf);
	}
	s->phase = to;
}

static bool
smtp_greeted(const struct smtp_session *s)
{
	return s->phase != SMTP_PH_UNGREETED;
}

/* 421 or 221: no more replies expected. */
static bool
smtp_over(const struct smtp_session *s)
{
	return s->phase == SMTP_PH_OVER || s->phase == SMTP_PH_OVER_421;
}

/* Set (on) or clear a SMTP_CF_* qualifier; traced when it changes. */
static void
smtp_client_flag(
    struct smtp_session *s, unsigned flag, bool on, const char *why)
{
	char buf[128];
	unsigned to = on ? s->cflags | flag : s->cflags & ~flag;

	if (to == s->cflags)
		return;
	if (s->cfg.trace != NULL) {
		snprintf(buf, sizeof buf, "%c%s (%s)", on ? '+' : '-',
		    flag == SMTP_CF_RESYNC ? "resync" : "data-wait", why);
		s->cfg.trace(s->cfg.trace_arg, buf);
	}
	s->cflags = to;
}

static bool
smtp_client_has(const struct smtp_session *s, unsigned flag)
{
	return (s->cflags & flag) != 0;
}

/* True the first time a SMTP_NOTE_* anomaly is due in this session. */
static bool
smtp_note_once(struct smtp_session *s, unsigned note)
{
	if (s->noted & note)
		return false;
	s->noted |= note;
	return true;
}

/* Append part to the comma-separated list in what (size bytes). */
static void
smtp_trim_note(char *what, size_t size, const char *part)
{
	size_t n = strlen(what);

	if (n + 1 >= size)
		return;
	snprintf(what + n, size - n, "%s%s", n > 0 ? ", " : "", part);
}

/* ---- the FIFO of outstanding commands ---- */

static struct smtp_pending *
smtp_fifo_at(struct smtp_fifo *f, uint64_t seq)
{
	if (seq < f->popped || seq - f->popped >= f->count)
		return NULL;
	return &f->ring[(f->first + (size_t)(seq - f->popped)) % f->cap];
}

static struct smtp_pending *
smtp_fifo_head(struct smtp_fifo *f)
{
	return f->count == 0 ? NULL : &f->ring[f->first];
}

/* The verb-only overflow behind the ring (struct smtp_over_run). */
static void
smtp_over_push(struct smtp_fifo *f, const char *verb)
{
	struct smtp_over_run *r;
	size_t last;

	if (f->over == NULL)
		f->over = xcalloc(SMTP_OVERFLOW_RUNS, sizeof *f->over);
	last = (f->over_first + f->over_runs + SMTP_OVERFLOW_RUNS - 1) %
	       SMTP_OVERFLOW_RUNS;
	if (f->over_runs > 0 && strcmp(f->over[last].verb, verb) == 0)
		r = &f->over[last]; /* the same verb again */
	else if (f->over_runs < SMTP_OVERFLOW_RUNS) {
		r = &f->over[(f->over_first + f->over_runs) %
			     SMTP_OVERFLOW_RUNS];
		f->over_runs++;
		snprintf(r->verb, sizeof r->verb, "%s", verb);
		r->n = 0;
	} else {
		r = &f->over[last]; /* out of runs: the verb is unknown */
		r->verb[0] = '\0';
	}
	r->n++;
	f->over_total++;
	f->over_ever++;
}

/* Pop the oldest overflow command's verb into verb ("" when unknown). */
static bool
smtp_over_pop(struct smtp_fifo *f, char *verb, size_t size)
{
	struct smtp_over_run *r;

	if (f->over_total == 0)
		return false;
	r = &f->over[f->over_first];
	snprintf(verb, size, "%s", r->verb);
	f->over_total--;
	if (--r->n == 0) {
		f->over_first = (f->over_first + 1) % SMTP_OVERFLOW_RUNS;
		f->over_runs--;
	}
	return true;
}

/*
 * Append; returns the new entry's seq, or UINT64_MAX when the ring is full
 * or commands already wait in the overflow: then only the verb is kept, in
 * the overflow, and p->arg stays the caller's.  The entry keeps at most
 * SMTP_PENDING_ARG_MAX bytes of p->arg (the rest of the line was in the
 * command event).
 */
static uint64_t
smtp_fifo_push(struct smtp_fifo *f, const struct smtp_pending *p)
{
	struct smtp_pending *nr;
	size_t ncap, i;

	if (f->over_total > 0 ||
	    (f->count == f->cap && f->cap >= SMTP_PENDING_MAX)) {
		smtp_over_push(f, p->verb);
		return UINT64_MAX;
	}
	if (f->count == f->cap) {
		if (f->cap >= SMTP_PENDING_MAX)
			return UINT64_MAX;
		ncap = f->cap == 0 ? 16 : f->cap * 2;
		if (ncap > SMTP_PENDING_MAX)
			ncap = SMTP_PENDING_MAX;
		nr = xreallocarray(NULL, ncap, sizeof *nr);
		for (i = 0; i < f->count; i++)
			nr[i] = f->ring[(f->first + i) % f->cap];
		free(f->ring);
		f->ring = nr;
		f->cap = ncap;
		f->first = 0;
	}
	nr = &f->ring[(f->first + f->count) % f->cap];
	*nr = *p;
	if (nr->arg != NULL) {
		i = strlen(nr->arg);
		if (i > SMTP_PENDING_ARG_MAX) {
			nr->arg[SMTP_PENDING_ARG_MAX] = '\0';
			nr->arg = xrealloc(nr->arg, SMTP_PENDING_ARG_MAX + 1);
			i = SMTP_PENDING_ARG_MAX;
		}
		nr->arg_len = i;
		f->arg_bytes += i + 1;
	}
	f->count++;
	return f->popped + f->count - 1;
}

/* Remove the head into *out (which then owns its arg). */
static void
smtp_fifo_pop(struct smtp_fifo *f, struct smtp_pending *out)
{
	*out = f->ring[f->first];
	if (out->arg != NULL)
		f->arg_bytes -= out->arg_len + 1;
	f->first = (f->first + 1) % f->cap;
	f->count--;
	f->popped++;
}

static void
smtp_fifo_clear(struct smtp_fifo *f)
{
	struct smtp_pending p;

	while (f->count > 0) {
		smtp_fifo_pop(f, &p);
		free(p.arg);
	}
	f->over_total = 0;
	f->over_runs = 0;
	f->over_first = 0;
}

/* ---- transaction ---- */

static void
smtp_txn_clear(struct smtp_txn *t)
{
	size_t i;

	free(t->mail_from);
	for (i = 0; i < t->n_acc; i++)
		free(t->acc[i]);
	for (i = 0; i < t->n_rej; i++)
		free(t->rej[i]);
	free(t->acc);
	free(t->rej);
	memset(t, 0, sizeof *t);
}

static void
smtp_list_add(struct smtp_txn *t, char ***v, size_t *n, char *take)
{
	if (*n >= SMTP_RCPT_LIST_MAX) {
		free(take);
		return;
	}
	t->list_bytes += strlen(take) + 1 + sizeof **v;
	/* Grow by powers of two: n is a power of two when full. */
	if (*n == 0 || (*n & (*n - 1)) == 0)
		*v = xreallocarray(*v, *n == 0 ? 1 : *n * 2, sizeof **v);
	(*v)[(*n)++] = take;
}

/*
 * The address of "FROM:<a@b> SIZE=1" or "TO:<a@b>" without the brackets;
 * caller frees.  *rest is set to what follows it (the parameters).
 */
static char *
smtp_path(const char *arg, const char *key, const char **rest)
{
	const char *p = arg, *e;
	size_t n = strlen(arg);

	*rest = arg + n;
	if (!smtp_ci_prefix(p, n, key))
		return xstrdup("");
	p += strlen(key);
	while (*p == ' ')
		p++;
	if (*p == '<') {
		p++;
		e = strchr(p, '>');
		if (e == NULL)
			e = p + strlen(p);
		*rest = *e == '>' ? e + 1 : e;
	} else {
		e = strchr(p, ' ');
		if (e == NULL)
			e = p + strlen(p);
		*rest = e;
	}
	return xstrndup(p, (size_t)(e - p));
}

/* SIZE=n among MAIL parameters (RFC 1870 section 6), 0 when absent. */
static uint64_t
smtp_size_param(const char *rest)
{
	const char *p = rest, *e;
	uint64_t v;

	while (*p != '\0') {
		while (*p == ' ')
			p++;
		e = strchr(p, ' ');
		if (e == NULL)
			e = p + strlen(p);
		if (smtp_ci_prefix(p, (size_t)(e - p), "SIZE=") &&
		    smtp_parse_u64(p + 5, (size_t)(e - p) - 5, &v))
			return v;
		p = e;
	}
	return 0;
}

/* ---- queue id from the reply after the message ---- */

static bool
smtp_qid_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z') || c == '-' || c == '_' || c == '.' ||
	       c == '@' || c == '/' || c == '+' || c == '=' || c == ':';
}

static char *
smtp_qid_token(const char *p, const char *end)
{
	const char *e;

	while (p < end && (*p == ' ' || *p == '<' || *p == '(' || *p == '['))
		p++;
	e = p;
	while (e < end && smtp_qid_char(*e))
		e++;
	while (e > p && (e[-1] == '.' || e[-1] == ':'))
		e--;
	if (e == p || e - p > SMTP_QUEUEID_MAX)
		return NULL;
	return xstrndup(p, (size_t)(e - p));
}

/*
 * Postfix "queued as ID", Exchange "InternalId=ID", Exim "id=ID", Sendmail and
 * OpenSMTPD "ID Message accepted for delivery", Haraka "Message Queued (ID)",
 * Gmail "OK <time> ID - gsmtp".  NULL when none is recognised; caller frees.
 */
static char *
smtp_queue_id(const char *t, size_t n)
{
	const char *end = t + n, *p, *b;

	if ((p = smtp_ci_find(t, n, "queued as ")) != NULL)
		return smtp_qid_token(p + 10, end);
	/* Microsoft Exchange: "<msgid> [InternalId=123, ...] Queued". */
	if ((p = smtp_ci_find(t, n, "InternalId=")) != NULL)
		return smtp_qid_token(p + 11, end);
	if ((p = smtp_ci_find(t, n, "id=")) != NULL &&
	    (p == t || p[-1] == ' ' || p[-1] == '('))
		return smtp_qid_token(p + 3, end);
	if ((p = smtp_ci_find(t, n, "queued (")) != NULL)
		return smtp_qid_token(p + 8, end);
	if ((p = smtp_ci_find(t, n, " message accepted")) != NULL ||
	    (p = smtp_ci_find(t, n, " - gsmtp")) != NULL) {
		while (p > t && p[-1] == ' ')
			p--;
		while (p > t && p[-1] == '>')
			p--;
		b = p;
		while (b > t && smtp_qid_char(b[-1]))
			b--;
		if (b == p)
			return NULL;
		return smtp_qid_token(b, p);
	}
	return NULL;
}

/* ---- events ---- */

static void
smtp_count_code(struct smtp_session *s, int code)
{
	size_t i;

	for (i = 0; i < s->n_codes && s->codes[i].code < code; i++)
		;
	if (i < s->n_codes && s->codes[i].code == code) {
		s->codes[i].count++;
		return;
	}
	if (s->n_codes >= SMTP_CODES_MAX)
		return;
	if (s->n_codes == s->cap_codes) {
		s->cap_codes = s->cap_codes == 0 ? 8 : s->cap_codes * 2;
		s->codes =
		    xreallocarray(s->codes, s->cap_codes, sizeof *s->codes);
	}
	memmove(&s->codes[i + 1], &s->codes[i],
	    (s->n_codes - i) * sizeof *s->codes);
	s->codes[i].code = code;
	s->codes[i].count = 1;
	s->n_codes++;
}

static void
smtp_emit_message(struct smtp_session *s, const struct smtp_reply *rep,
    const struct timeval *ts, uint64_t bytes)
{
	struct event *ev = event_new(EV_MESSAGE);
	struct smtp_txn *t = &s->txn;
	size_t i;

	ev->ts = *ts;
	ev->bytes = bytes;
	ev->mail_from = t->mail_from != NULL ? xstrdup(t->mail_from) : NULL;
	ev->rcpt_accepted = xcalloc(t->n_acc + 1, sizeof *ev->rcpt_accepted);
	for (i = 0; i < t->n_acc; i++)
		ev->rcpt_accepted[i] = xstrdup(t->acc[i]);
	ev->n_accepted = t->n_acc;
	ev->rcpt_rejected = xcalloc(t->n_rej + 1, sizeof *ev->rcpt_rejected);
	for (i = 0; i < t->n_rej; i++)
		ev->rcpt_rejected[i] = xstrdup(t->rej[i]);
	ev->n_rejected = t->n_rej;
	if (rep->code >= 200 && rep->code < 300 && rep->text != NULL)
		ev->queue_id = smtp_queue_id(rep->text, rep->text_len);
	/* The final reply decides the message's fate (RFC 5321 4.2.5). */
	ev->code = rep->code;
	s->messages++;
	smtp_emit(s, ev);
}

static void
smtp_emit_command(struct smtp_session *s, const char *verb, const char *arg,
    size_t arglen, const struct timeval *ts, bool encrypted)
{
	struct event *ev = event_new(EV_COMMAND);

	ev->ts = *ts;
	smtp_copy(ev->verb, sizeof ev->verb, verb);
	/* NUL bytes stay: the front ends show them escaped. */
	ev->arg = xmemdup0(arg, arglen);
	ev->arg_len = arglen;
	ev->cut = s->cmd_cut;
	ev->encrypted = encrypted;
	s->commands++;
	smtp_emit(s, ev);
}

/* ---- command handlers (client side) ---- */

static void
smtp_cmd_helo(struct smtp_session *s, uint64_t seq, const char *arg,
    size_t arglen, const struct timeval *ts, bool encrypted)
{
	(void)seq;
	(void)ts;
	(void)encrypted;
	free(s->helo);
	s->helo = xstrndup(arg, arglen);
	s->helo_len = strlen(s->helo);
}

static void
smtp_cmd_data(struct smtp_session *s, uint64_t seq, const char *arg,
    size_t arglen, const struct timeval *ts, bool encrypted)
{
	(void)arg;
	(void)arglen;
	(void)ts;
	(void)encrypted;
	smtp_client_flag(s, SMTP_CF_DATA_WAIT, true, "DATA sent");
	s->data_seq = seq;
}

/* "n" or "n LAST" (RFC 3030 2); false on anything else. */
static bool
smtp_bdat_args(const char *arg, size_t n, uint64_t *size, bool *last)
{
	size_t i = 0, j;

	while (i < n && arg[i] == ' ')
		i++;
	j = i;
	while (j < n && arg[j] >= '0' && arg[j] <= '9')
		j++;
	if (!smtp_parse_u64(arg + i, j - i, size) || *size > SMTP_BDAT_MAX)
		return false;
	if (j < n && arg[j] != ' ')
		return false;
	while (j < n && arg[j] == ' ')
		j++;
	*last = false;
	if (j < n) {
		if (n - j < 4 || !smtp_ci_prefix(arg + j, n - j, "LAST"))
			return false;
		j += 4;
		while (j < n && arg[j] == ' ')
			j++;
		if (j != n)
			return false;
		*last = true;
	}
	return true;
}

static void
smtp_cmd_bdat(struct smtp_session *s, uint64_t seq, const char *arg,
    size_t arglen, const struct timeval *ts, bool encrypted)
{
	struct smtp_pending *p = smtp_fifo_at(&s->fifo, seq);
	uint64_t size;
	bool last;

	(void)encrypted;
	if (!smtp_bdat_args(arg, arglen, &size, &last)) {
		/*
		 * The octets that follow cannot be framed.  Skip lines until
		 * one starts with a known verb (the server normally answers
		 * and hangs up, like Postfix's 521 5.5.4).
		 */
		smtp_anomaly(s, EV_ANOM_BAD_BDAT, arg, ts);
		smtp_client_flag(s, SMTP_CF_RESYNC, true, "bad BDAT");
		return;
	}
	if (p != NULL)
		p->last = last;
	s->bdat_seq = seq;
	s->bdat_last = last;
	s->bdat_left = size;
	if (size == 0) {
		if (p != NULL)
			p->bytes = s->msg_bytes;
		if (last)
			s->msg_bytes = 0;
		return;
	}
	smtp_enter_state(s, SMTP_ST_BDAT, "BDAT chunk");
}

static void
smtp_cmd_starttls(struct smtp_session *s, uint64_t seq, const char *arg,
    size_t arglen, const struct timeval *ts, bool encrypted)
{
	(void)seq;
	(void)arg;
	(void)arglen;
	(void)ts;
	/* Inside TLS a second STARTTLS is only an error for the server
	   (RFC 3207 4.2); nothing changes for us. */
	if (!encrypted)
		smtp_enter_state(s, SMTP_ST_STARTTLS, "STARTTLS sent");
}

static void
smtp_cmd_auth(struct smtp_session *s, uint64_t seq, const char *arg,
    size_t arglen, const struct timeval *ts, bool encrypted)
{
	(void)ts;
	(void)encrypted;
	s->auth_open = true;
	s->auth_seq = seq;
	/* Without an initial response the next client line is a SASL
	   response (RFC 4954 4): never let it be read as a command, even
	   when the client does not wait for the 334. */
	if (memchr(arg, ' ', arglen) == NULL)
		smtp_enter_state(s, SMTP_ST_AUTH,
		    "AUTH without initial "
		    "response");
}

/* Mechanism kept, initial response hidden (unless --show-auth). */
static char *
smtp_mask_auth(const struct smtp_session *s, const char *arg, size_t arglen)
{
	const char *sp = memchr(arg, ' ', arglen);
	char *r;

	if (s->cfg.show_auth || sp == NULL)
		return xmemdup0(arg, arglen);
	xasprintf(&r, "%.*s ***", (int)(sp - arg), arg);
	return r;
}

/* ---- reply handlers ---- */

static void
smtp_reply_helo(struct smtp_session *s, struct smtp_pending *p,
    const struct smtp_reply *rep, const struct timeval *ts)
{
	(void)ts;
	if (rep->code / 100 != 2)
		return;
	/* A new EHLO/HELO resets the transaction like RSET (RFC 5321
	   4.1.4). */
	smtp_txn_clear(&s->txn);
	if (strcmp(p->v->name, "HELO") != 0)
		s->ehlo_size = s->rep.has_size ? s->rep.size : 0;
}

static void
smtp_reply_mail(struct smtp_session *s, struct smtp_pending *p,
    const struct smtp_reply *rep, const struct timeval *ts)
{
	(void)ts;
	const char *rest;

	if (rep->code / 100 != 2)
		return;
	smtp_txn_clear(&s->txn);
	s->txn.active = true;
	/* The argument may have been trimmed (memory budget): unknown. */
	if (p->arg == NULL)
		return;
	s->txn.mail_from = smtp_path(p->arg, "FROM:", &rest);
	s->txn.mail_size = smtp_size_param(rest);
}

static void
smtp_reply_rcpt(struct smtp_session *s, struct smtp_pending *p,
    const struct smtp_reply *rep, const struct timeval *ts)
{
	(void)ts;
	const char *rest;
	struct smtp_txn *t = &s->txn;

	t->rcpt_seen++;
	if (p->arg == NULL) {
		/* Trimmed (memory budget): counted, not listed. */
		if (rep->code / 100 == 2)
			t->rcpt_accepted++;
		else if (rep->code / 100 == 4 || rep->code / 100 == 5)
			t->rcpt_rejected++;
		return;
	}
	if (rep->code / 100 == 2) {
		t->rcpt_accepted++;
		smtp_list_add(
		    t, &t->acc, &t->n_acc, smtp_path(p->arg, "TO:", &rest));
	} else if (rep->code / 100 == 4 || rep->code / 100 == 5) {
		t->rcpt_rejected++;
		smtp_list_add(
		    t, &t->rej, &t->n_rej, smtp_path(p->arg, "TO:", &rest));
	}
}

static void
smtp_reply_data(struct smtp_session *s, struct smtp_pending *p,
    const struct smtp_reply *rep, const struct timeval *ts)
{
	(void)ts;
	struct smtp_pending *h = smtp_fifo_head(&s->fifo);
	bool spec_done;

	(void)p;
	smtp_client_flag(s, SMTP_CF_DATA_WAIT, false, "reply to DATA");
	/* A body sent before this reply may be complete already: its
	   DATA-END entry follows DATA directly. */
	spec_done = h != NULL && h->v->kind == SMTP_K_DATAEND && h->spec;
	if (rep->code == 354) {
		if (spec_done)
			h->spec = false;
		else if (!s->body_spec) {
			s->msg_bytes = 0;
			s->body_m = 0;
			s->body_lines = 0;
			smtp_enter_state(s, SMTP_ST_DATA, "354");
		}
		return;
	}
	/* DATA refused (RFC 5321 3.3): the client's next lines are commands
	   again; a body it sent anyway will be answered line by line. */
	if (s->state == SMTP_ST_DATA && s->body_spec) {
		s->body_rejected = true;
		return;
	}
	if (spec_done) {
		h->v = &smtp_verb_skip;
		h->verb[0] = '\0';
		h->spec = false;
	}
}

static void
smtp_reply_dataend(struct smtp_session *s, struct smtp_pending *p,
    const struct smtp_reply *rep, const struct timeval *ts)
{
	(void)ts;
	smtp_emit_message(s, rep, ts, p->bytes);
	smtp_txn_clear(&s->txn);
}

static void
smtp_reply_bdat(struct smtp_session *s, struct smtp_pending *p,
    const struct smtp_reply *rep, const struct timeval *ts)
{
	(void)ts;
	if (!p->last)
		return;
	smtp_emit_message(s, rep, ts, p->bytes);
	smtp_txn_clear(&s->txn);
}

static void
smtp_reply_rset(struct smtp_session *s, struct smtp_pending *p,
    const struct smtp_reply *rep, const struct timeval *ts)
{
	(void)ts;
	(void)p;
	if (rep->code / 100 == 2)
		smtp_txn_clear(&s->txn);
}

static void
smtp_reply_quit(struct smtp_session *s, struct smtp_pending *p,
    const struct smtp_reply *rep, const struct timeval *ts)
{
	(void)ts;
	(void)p;
	if (rep->code == 221) {
		s->quit = true;
		smtp_enter_phase(s, SMTP_PH_OVER, "221 to QUIT");
	}
}

static void
smtp_reply_starttls(struct smtp_session *s, struct smtp_pending *p,
    const struct smtp_reply *rep, const struct timeval *ts)
{
	(void)ts;
	(void)p;
	if (s->state != SMTP_ST_STARTTLS)
		return;
	if (rep->code == 220) {
		/* RFC 3207 4: the next bytes of both sides are TLS. */
		s->tls_dirs = true;
		smtp_enter_state(s, SMTP_ST_TLS, "220 to STARTTLS");
	} else
		smtp_enter_state(s, SMTP_ST_READY, "STARTTLS refused");
}

static void
smtp_reply_auth(struct smtp_session *s, struct smtp_pending *p,
    const struct smtp_reply *rep, const struct timeval *ts)
{
	(void)ts;
	(void)p;
	(void)rep;
	/* A final reply (334 never reaches here). */
	s->auth_open = false;
	if (s->state == SMTP_ST_AUTH)
		smtp_enter_state(s, SMTP_ST_READY, "AUTH finished");
}

/* ---- replies ---- */

static void
smtp_reply_reset(struct smtp_reply *r)
{
	r->active = false;
	r->code = 0;
	r->enhanced[0] = '\0';
	r->text_len = 0;
	r->lines = 0;
	r->cut = false;
	r->has_size = false;
	r->size = 0;
}

/* Length of an enhanced status code at p (RFC 3463 2), 0 if none. */
static size_t
smtp_enhanced_len(const char *p, size_t n)
{
	size_t i = 0, k, part;

	if (n < 5 || (p[0] != '2' && p[0] != '4' && p[0] != '5') || p[1] != '.')
		return 0;
	i = 2;
	for (part = 0; part < 2; part++) {
		for (k = 0; k < 3 && i < n && p[i] >= '0' && p[i] <= '9'; k++)
			i++;
		if (k == 0)
			return 0;
		if (part == 0) {
			if (i >= n || p[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < n && p[i] != ' ')
		return 0;
	return i;
}

static void
smtp_reply_append(struct smtp_reply *r, const char *p, size_t n)
{
	size_t need = r->text_len + n + (r->lines > 0 ? 1 : 0) + 1;

	if (need > SMTP_REPLY_MAX)
		return; /* keep what fits: a reply this long is abuse */
	if (xcapped_grow(
		(void **)&r->text, &r->text_cap, need, SMTP_REPLY_MAX) != 0)
		return;
	if (r->lines > 0)
		r->text[r->text_len++] = '\n';
	memcpy(r->text + r->text_len, p, n);
	r->text_len += n;
	r->text[r->text_len] = '\0';
}

static void smtp_body_end(struct smtp_session *, const struct timeval *);

/*
 * Some codes answer one verb only: 354 DATA, 334 AUTH, 221 QUIT.  When such
 * a reply finds another command at the head of the FIFO, replies were lost
 * (a capture hole, a broken server): drop the entries before that verb so
 * the rest of the session stays matched.
 */
static struct smtp_pending *
smtp_anchor(struct smtp_session *s, int code)
{
	struct smtp_pending *h = smtp_fifo_head(&s->fifo), *p = NULL, drop;
	enum smtp_kind want;
	uint64_t seq;

	if (code == 354)
		want = SMTP_K_DATA;
	else if (code == 334)
		want = SMTP_K_AUTH;
	else if (code == 221)
		want = SMTP_K_QUIT;
	else
		return h;
	if (h == NULL || h->v->kind == want)
		return h;
	for (seq = s->fifo.popped; (p = smtp_fifo_at(&s->fifo, seq)) != NULL;
	     seq++)
		if (p->v->kind == want)
			break;
	if (p == NULL)
		return h;
	while (s->fifo.popped < seq) {
		smtp_fifo_pop(&s->fifo, &drop);
		free(drop.arg);
	}
	return smtp_fifo_head(&s->fifo);
}

/*
 * Reply codes some RFC defines: RFC 5321 4.2.3, RFC 3207 (STARTTLS), RFC
 * 4954 (AUTH), RFC 7504 (521, 556), RFC 1985 (ETRN), RFC 2645 (ATRN), RFC
 * 3865 (NO-SOLICITING).  Anything else is still a reply, read by its first
 * digit (RFC 5321 4.2.1), but worth naming.
 */
static const char smtp_known_codes[] =
    "211 214 220 221 235 250 251 252 253 334 354 421 432 450 451 452 453 "
    "454 455 458 459 500 501 502 503 504 521 530 534 535 538 550 551 552 "
    "553 554 555 556";

/* NULL for a code some RFC defines, else what is odd about it. */
static const char *
smtp_code_oddity(int code, char *buf, size_t size)
{
	char want[8];
	size_t i;

	/* Called for every reply: no snprintf for a three-digit code. */
	if (code >= 0 && code <= 999) {
		want[0] = (char)('0' + code / 100);
		want[1] = (char)('0' + code / 10 % 10);
		want[2] = (char)('0' + code % 10);
		want[3] = '\0';
	} else
		snprintf(want, sizeof want, "%03d", code);
	for (i = 0; i + 3 <= sizeof smtp_known_codes - 1; i += 4)
		if (memcmp(smtp_known_codes + i, want, 3) == 0)
			return NULL;
	if (code < 200 || code > 599)
		snprintf(buf, size,
		    "%d: outside 2xx-5xx, the classes RFC 5321 4.2.1 "
		    "defines; read by its first digit",
		    code);
	else
		snprintf(buf, size,
		    "%d: no RFC defines this code; read as %dxx (%s) by its "
		    "first digit",
		    code, code / 100,
		    code / 100 == 4   ? "transient failure"
		    : code / 100 == 5 ? "permanent failure"
				      : "success or intermediate");
	return buf;
}

/*
 * A server line that starts with an enhanced status code and has no reply
 * code before it (Yahoo's "4.7.0 [TSS04] Messages from ... deferred").  It
 * is not a reply and answers nothing, but what it says is shown, and its
 * enhanced code, with the command it would have answered, feeds the
 * diagnosis (class digit as the code).
 */
static void
smtp_codeless_line(struct smtp_session *s, const char *line, size_t len,
    size_t el, const struct timeval *ts)
{
	struct smtp_pending *h = smtp_fifo_head(&s->fifo);
	struct event *ev = event_new_anomaly(ts, EV_ANOM_NO_REPLY_CODE, NULL);
	const char *text = line + el;
	size_t tlen = len - el;

	while (tlen > 0 && *text == ' ')
		text++, tlen--;
	memcpy(ev->enhanced, line, el);
	ev->enhanced[el] = '\0';
	ev->code = (line[0] - '0') * 100;
	ev->text = xmemdup0(text, tlen);
	ev->text_len = tlen;
	ev->lines = 1;
	if (h != NULL && h->v->kind != SMTP_K_SKIP)
		smtp_copy(ev->answers, sizeof ev->answers, h->verb);
	ev->ctx.unsolicited = h == NULL;
	ev->ctx.idle_ms = s->d[EV_DIR_SERVER].line_idle;
	ev->ctx.session_ms = smtp_ms(ts, &s->start);
	ev->ctx.in_transaction = s->txn.active;
	ev->ctx.tls_active = s->tls_active;
	ev->ctx.messages = s->messages;
	ev->ctx.greeting = s->greeting != NULL ? xstrdup(s->greeting) : NULL;
	ev->ctx.helo = s->helo != NULL ? xstrdup(s->helo) : NULL;
	if (s->txn.active && s->txn.mail_from != NULL)
		ev->ctx.mail_from = xstrdup(s->txn.mail_from);
	smtp_emit(s, ev);
}

/* What matching a reply found. */
struct smtp_match {
	struct smtp_pending ans; /* the command answered (arg owned) */
	bool have;		 /* ans was taken off the FIFO */
	bool challenge;		 /* 334 to AUTH: ans is a copy, no arg */
	bool in_body;		 /* client bytes were a body */
	size_t outstanding;	 /* commands outstanding when it came */
};

/* Match a complete reply (fields of ev: what it answers, its latency). */
static void
smtp_reply_match(struct smtp_session *s, struct event *ev, struct smtp_match *m,
    const struct timeval *ts)
{
	struct smtp_reply *r = &s->rep;
	struct smtp_pending *h;

	memset(m, 0, sizeof *m);
	m->outstanding = s->fifo.count;
	if (smtp_greeted(s) && !smtp_over(s) && s->state == SMTP_ST_DATA &&
	    s->fifo.count == 0 && r->code != 421) {
		/*
		 * The server answers while the body has not ended by the
		 * rules: it ended the data on something else (Sendmail takes
		 * "\r\n.\n", the pattern of SMTP smuggling) or gave up on
		 * it.  Either way this reply is the verdict on the message.
		 */
		smtp_anomaly(s, EV_ANOM_DATA_END_EARLY, NULL, ts);
		/* The message ended with its last byte, not with this
		   reply: the verdict's latency runs from there. */
		smtp_body_end(s, &s->body_ts);
		m->outstanding = s->fifo.count;
	}
	m->in_body = s->state == SMTP_ST_DATA || s->state == SMTP_ST_BDAT;

	h = smtp_greeted(s) ? smtp_anchor(s, r->code)
			    : smtp_fifo_head(&s->fifo);
	if (!smtp_greeted(s)) {
		/* The greeting answers the connection (RFC 5321 3.1); an
		   early talker's commands stay queued behind it. */
		smtp_enter_phase(s, SMTP_PH_OPEN, "greeting");
		if (s->state == SMTP_ST_GREETING)
			smtp_enter_state(s, SMTP_ST_READY, "greeting");
		smtp_copy(ev->answers, sizeof ev->answers, "CONNECT");
		if (s->have_syn)
			ev->latency_ms = smtp_ms(&r->first_ts, &s->syn_ts);
		free(s->greeting);
		s->greeting = xstrdup(ev->text);
		s->greeting_len = strlen(s->greeting);
		m->outstanding = 0;
	} else if (smtp_over(s)) {
		/* After 421 or 221 (Exim keeps answering): nothing to match. */
		ev->ctx.unsolicited = true;
	} else if (h != NULL && h->v->kind == SMTP_K_SKIP) {
		/* A line of a refused body, answered as a command. */
		if (--h->lines == 0) {
			smtp_fifo_pop(&s->fifo, &m->ans);
			free(m->ans.arg);
			memset(&m->ans, 0, sizeof m->ans);
		}
	} else if (h != NULL) {
		smtp_copy(ev->answers, sizeof ev->answers, h->verb);
		ev->latency_ms = smtp_ms(&r->first_ts, &h->ts);
		if (h->v->kind == SMTP_K_AUTH && r->code == 334) {
			/* A challenge: the exchange goes on (RFC 4954 4). */
			m->challenge = true;
			m->ans = *h;
			m->ans.arg = NULL;
			ev->ctx.last_arg = h->arg ? xstrdup(h->arg) : NULL;
		} else {
			smtp_fifo_pop(&s->fifo, &m->ans);
			m->have = true;
			ev->ctx.last_arg =
			    m->ans.arg ? xmemdup0(m->ans.arg, m->ans.arg_len)
				       : NULL;
		}
	} else if (s->fifo.over_total > 0) {
		/* A command that only the overflow remembers: its verb. */
		char verb[16];

		(void)smtp_over_pop(&s->fifo, verb, sizeof verb);
		smtp_copy(ev->answers, sizeof ev->answers, verb);
		/* The end of the session still counts as a QUIT. */
		if (strcmp(verb, "QUIT") == 0 && r->code == 221) {
			s->quit = true;
			smtp_enter_phase(s, SMTP_PH_OVER, "221 to QUIT");
		}
	} else {
		ev->ctx.unsolicited = true;
		/* A 421 may come at any time (RFC 5321 3.8); a reply while
		   the body is still arriving is the server giving up on it;
		   mid-stream, earlier commands were not seen. */
		if (r->code != 421 && !m->in_body &&
		    !(s->midstream && !s->cmd_seen) &&
		    !s->d[EV_DIR_CLIENT].ignore)
			smtp_anomaly(
			    s, EV_ANOM_REPLY_WITHOUT_COMMAND, NULL, ts);
	}
}

/* The situation before the reply, for the diagnosis. */
static void
smtp_reply_context(
    struct smtp_session *s, struct event *ev, const struct smtp_match *m)
{
	const struct smtp_reply *r = &s->rep;
	const struct smtp_pending *ans = &m->ans;
	const char *rest;

	ev->ctx.rcpt_seen = s->txn.rcpt_seen +
			    ((m->have && ans->v->kind == SMTP_K_RCPT) ? 1 : 0);
	ev->ctx.rcpt_accepted = s->txn.rcpt_accepted;
	ev->ctx.rcpt_rejected = s->txn.rcpt_rejected;
	ev->ctx.messages = s->messages;
	ev->ctx.mail_size = s->txn.mail_size;
	ev->ctx.ehlo_size = s->ehlo_size;
	if (m->have &&
	    (ans->v->kind == SMTP_K_DATAEND || ans->v->kind == SMTP_K_BDAT))
		ev->ctx.data_bytes = ans->bytes;
	else if (m->in_body)
		ev->ctx.data_bytes = s->msg_bytes;
	ev->ctx.idle_ms = r->idle_ms;
	ev->ctx.session_ms = smtp_ms(&r->first_ts, &s->start);
	ev->ctx.in_transaction = s->txn.active;
	ev->ctx.tls_active = s->tls_active;
	ev->ctx.pipelining =
	    (m->have || m->challenge) && (ans->pipelined || m->outstanding > 1);
	/* Only the diagnosis of a failure reads these: a copy for every
	   reply would cost more than the rest of the context. */
	if (r->code >= 400 && r->code <= 599) {
		ev->ctx.greeting =
		    s->greeting != NULL ? xstrdup(s->greeting) : NULL;
		ev->ctx.helo = s->helo != NULL ? xstrdup(s->helo) : NULL;
	}
	/* Whom the reply concerns: the reply to MAIL belongs to the
	   transaction that MAIL tries to open, whatever its code. */
	if (m->have && ans->v->kind == SMTP_K_MAIL && ans->arg != NULL)
		ev->ctx.mail_from = smtp_path(ans->arg, "FROM:", &rest);
	else if (s->txn.active && s->txn.mail_from != NULL)
		ev->ctx.mail_from = xstrdup(s->txn.mail_from);
	if (m->have && ans->v->kind == SMTP_K_RCPT && ans->arg != NULL)
		ev->ctx.rcpt = smtp_path(ans->arg, "TO:", &rest);
}

/* What the reply does to the session, once it is emitted. */
static void
smtp_reply_apply(
    struct smtp_session *s, struct smtp_match *m, const struct timeval *ts)
{
	const struct smtp_reply *r = &s->rep;

	if (m->challenge) {
		smtp_enter_state(s, SMTP_ST_AUTH, "334 challenge");
	} else if (m->have && m->ans.v->reply != NULL)
		m->ans.v->reply(s, &m->ans, r, ts);
	free(m->ans.arg);
	m->ans.arg = NULL;

	if (r->code == 421) {
		/* The server is closing the channel: pipelined commands get
		   no replies and the transaction is abandoned. */
		smtp_enter_phase(s, SMTP_PH_OVER_421, "421");
		smtp_fifo_clear(&s->fifo);
		s->auth_open = false;
		smtp_client_flag(s, SMTP_CF_DATA_WAIT, false, "421");
		if (s->state == SMTP_ST_AUTH || s->state == SMTP_ST_STARTTLS)
			smtp_enter_state(s, SMTP_ST_READY, "421");
	}
}

/* A complete reply: match it, describe it, emit it, apply it. */
static void
smtp_reply_done(struct smtp_session *s, const struct timeval *ts)
{
	struct smtp_reply *r = &s->rep;
	struct event *ev = event_new(EV_REPLY);
	struct smtp_match m;
	char odd[128];

	/* A reply is stamped with its first byte, the moment latency_ms runs
	   to: the first line of a multi-line reply, not the last. */
	ev->ts = r->first_ts;
	ev->code = r->code;
	memcpy(ev->enhanced, r->enhanced, sizeof ev->enhanced);
	ev->text = xmemdup0(r->text != NULL ? r->text : "", r->text_len);
	ev->text_len = r->text_len;
	ev->lines = r->lines;
	ev->encrypted = r->encrypted;
	ev->cut = r->cut;
	smtp_reply_match(s, ev, &m, ts);
	smtp_reply_context(s, ev, &m);

	s->replies++;
	smtp_count_code(s, r->code);
	smtp_emit(s, ev);
	/* ev was handed over in smtp_emit: do not touch it below. */
	if (smtp_code_oddity(r->code, odd, sizeof odd) != NULL)
		smtp_anomaly(s, EV_ANOM_ODD_CODE, odd, ts);
	smtp_reply_apply(s, &m, ts);
	smtp_reply_reset(r);
}

/* A complete server line (terminator stripped). */
static void
smtp_server_line(struct smtp_session *s, const char *line, size_t len,
    const struct timeval *ts, bool encrypted)
{
	struct smtp_dir *d = &s->d[EV_DIR_SERVER];
	struct smtp_reply *r = &s->rep;
	const char *text;
	size_t tlen, el;
	int code;
	bool more;
	uint64_t v;

	if (len < 3 || line[0] < '0' || line[0] > '9' || line[1] < '0' ||
	    line[1] > '9' || line[2] < '0' || line[2] > '9' ||
	    (len > 3 && line[3] != ' ' && line[3] != '-')) {
		el = smtp_enhanced_len(line, len);
		if (el > 0 && el < sizeof r->enhanced && !r->active &&
		    (d->valid || s->midstream)) {
			smtp_codeless_line(s, line, len, el, ts);
			return;
		}
		if (!d->valid && !s->midstream) {
			smtp_anomaly(s, EV_ANOM_NON_SMTP, "server", ts);
			d->ignore = true;
		} else if (d->valid && !d->garbage_noted) {
			smtp_anomaly(s, EV_ANOM_BAD_REPLY, NULL, ts);
			d->garbage_noted = true;
		}
		return;
	}
	d->valid = true;
	d->garbage_noted = false;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	more = len > 3 && line[3] == '-';
	text = len > 4 ? line + 4 : "";
	tlen = len > 4 ? len - 4 : 0;
	if (!r->active) {
		r->active = true;
		r->code = code;
		r->first_ts = d->line_ts;
		r->idle_ms = d->line_idle;
		r->encrypted = encrypted;
		el = smtp_enhanced_len(text, tlen);
		if (el > 0 && el < sizeof r->enhanced) {
			memcpy(r->enhanced, text, el);
			r->enhanced[el] = '\0';
			text += el;
			tlen -= el;
			while (tlen > 0 && *text == ' ')
				text++, tlen--;
		}
	} else {
		if (code != r->code)
			smtp_anomaly(s, EV_ANOM_CODE_CHANGED, NULL, ts);
		/* Gmail and others repeat the enhanced code on every line. */
		el = strlen(r->enhanced);
		if (el > 0 && tlen >= el &&
		    memcmp(text, r->enhanced, el) == 0 &&
		    (tlen == el || text[el] == ' ')) {
			text += el;
			tlen -= el;
			while (tlen > 0 && *text == ' ')
				text++, tlen--;
		}
		/* EHLO keywords (RFC 1870 4: "SIZE n"). */
		if (smtp_ci_prefix(text, tlen, "SIZE") &&
		    (tlen == 4 || text[4] == ' ')) {
			r->has_size = true;
			r->size = 0;
			if (tlen > 5 && smtp_parse_u64(text + 5, tlen - 5, &v))
				r->size = v;
		}
	}
	smtp_reply_append(r, text, tlen);
	r->lines++;
	if (!more)
		smtp_reply_done(s, ts);
}

/* ---- client side ---- */

static const struct smtp_verb *
smtp_verb_find(const char *verb)
{
	size_t i;

	/* The first letter tells most verbs apart without a call. */
	for (i = 0; i < sizeof smtp_verbs / sizeof smtp_verbs[0]; i++)
		if (smtp_verbs[i].name[0] == verb[0] &&
		    strcmp(smtp_verbs[i].name, verb) == 0)
			return &smtp_verbs[i];
	return NULL;
}

static void
smtp_body_start(struct smtp_session *s)
{
	s->msg_bytes = 0;
	s->body_m = 0;
	s->body_lines = 0;
	smtp_enter_state(s, SMTP_ST_DATA, "message body");
}

/*
 * A command went to the overflow (struct smtp_over_run): said once per
 * session.  Its reply still matches, by verb.
 */
static void
smtp_note_cap(struct smtp_session *s, const struct timeval *ts)
{
	char detail[160];

	if (!smtp_note_once(s, SMTP_NOTE_CAP))
		return;
	snprintf(detail, sizeof detail,
	    "more than %u commands without a reply: later ones are kept by "
	    "verb only, and their replies matched in order",
	    (unsigned)SMTP_PENDING_MAX);
	smtp_anomaly(s, EV_ANOM_PENDING_CAP, detail, ts);
}

/* CRLF.CRLF seen: the message is complete. */
static void
smtp_body_end(struct smtp_session *s, const struct timeval *ts)
{
	struct smtp_pending p;

	s->body_lines++;
	smtp_enter_state(s, SMTP_ST_READY, "end of data");
	if (smtp_over(s)) {
		s->body_spec = s->body_rejected = false;
		return;
	}
	memset(&p, 0, sizeof p);
	p.ts = *ts;
	p.lines = s->body_lines;
	p.bytes = s->msg_bytes;
	if (s->body_rejected) {
		p.v = &smtp_verb_skip;
	} else {
		p.v = &smtp_verb_dataend;
		smtp_copy(p.verb, sizeof p.verb, p.v->name);
		p.spec = s->body_spec;
	}
	p.pipelined = s->fifo.count > 0;
	if (smtp_fifo_push(&s->fifo, &p) == UINT64_MAX)
		smtp_note_cap(s, ts);
	s->body_spec = s->body_rejected = false;
}

/*
 * Scan message bytes for the end of data.  States: 0 line start, 1 "." at
 * line start, 2 ".\r" at line start, 3 inside a line, 4 CR inside a line.
 * A bare LF never ends a line here (RFC 5321 4.1.1.4; SMTP smuggling).
 * Counts bytes without the stuffed dots and without the final ".\r\n".
 */
static size_t
smtp_body_scan(struct smtp_session *s, const uint8_t *p, size_t n,
    const struct timeval *ts)
{
	size_t i = 0;
	uint64_t count = 0;
	int m = s->body_m;
	const uint8_t *cr;

	while (i < n) {
		switch (m) {
		case 0:
			if (p[i] == '.') {
				m = 1; /* stuffing or the end: not counted */
			} else {
				count++;
				m = p[i] == '\r' ? 4 : 3;
			}
			break;
		case 1:
			if (p[i] == '\r')
				m = 2;
			else {
				count++;
				m = 3;
			}
			break;
		case 2:
			if (p[i] == '\n') {
				s->msg_bytes += count;
				s->body_m = 0;
				smtp_body_end(s, ts);
				return i + 1;
			}
			count += 2; /* the held CR and this byte */
			m = p[i] == '\r' ? 4 : 3;
			break;
		case 3:
			if (!s->body_spec) {
				/*
				 * After a 354 only a line that starts with
				 * "." matters (stuffing or the end), and
				 * lines need not be counted: jump from dot
				 * to dot (base64 has none) and look back
				 * for the CRLF before it.
				 */
				cr = memchr(p + i, '.', n - i);
				if (cr != NULL) {
					size_t k = (size_t)(cr - p);

					if (k - i >= 2 && p[k - 2] == '\r' &&
					    p[k - 1] == '\n') {
						count += k - i;
						i = k;
						m = 0;
					} else {
						count += k - i + 1;
						i = k + 1;
					}
					continue;
				}
				count += n - i;
				if (n - i >= 2 && p[n - 2] == '\r' &&
				    p[n - 1] == '\n')
					m = 0;
				else if (p[n - 1] == '\r')
					m = 4;
				i = n;
				continue;
			}
			cr = memchr(p + i, '\r', n - i);
			if (cr == NULL) {
				count += n - i;
				i = n;
				continue;
			}
			count += (size_t)(cr - (p + i)) + 1;
			i = (size_t)(cr - p);
			m = 4;
			break;
		case 4:
			count++;
			if (p[i] == '\n') {
				m = 0;
				s->body_lines++;
			} else if (p[i] != '\r')
				m = 3;
			break;
		}
		i++;
	}
	s->msg_bytes += count;
	s->body_m = m;
	return n;
}

static size_t
smtp_bdat_take(struct smtp_session *s, size_t n, const struct timeval *ts)
{
	struct smtp_pending *p;
	size_t take = n;

	if ((uint64_t)take > s->bdat_left)
		take = (size_t)s->bdat_left;
	s->bdat_left -= take;
	if (s->msg_bytes <= UINT64_MAX - take)
		s->msg_bytes += take;
	if (s->bdat_left == 0) {
		/* The chunk is complete: its reply's latency runs from
		   here. */
		if ((p = smtp_fifo_at(&s->fifo, s->bdat_seq)) != NULL) {
			p->ts = *ts;
			p->bytes = s->msg_bytes;
		}
		if (s->bdat_last)
			s->msg_bytes = 0;
		smtp_enter_state(s, SMTP_ST_READY, "end of chunk");
	}
	return take;
}

/* Is this line a command with a known verb (for resynchronisation)? */
static const struct smtp_verb *
smtp_line_verb(const char *line, size_t len, char *verb, size_t vsize)
{
	size_t i;

	for (i = 0; i < len && line[i] != ' ' && i + 1 < vsize; i++)
		verb[i] = (char)smtp_upper((unsigned char)line[i]);
	verb[i] = '\0';
	if (i < len && line[i] != ' ')
		return NULL; /* longer than any verb */
	return smtp_verb_find(verb);
}

/* A client line whose verb is not printable ASCII: binary in the command
   stream. */
static void
smtp_client_binary(struct smtp_session *s, const struct timeval *ts)
{
	struct smtp_dir *d = &s->d[EV_DIR_CLIENT];
	struct smtp_pending p;

	if (smtp_client_has(s, SMTP_CF_RESYNC))
		return;
	if (!d->valid && !s->midstream) {
		smtp_anomaly(s, EV_ANOM_NON_SMTP, "client", ts);
		d->ignore = true;
		return;
	}
	if (!d->garbage_noted) {
		smtp_anomaly(s, EV_ANOM_NON_SMTP, "client", ts);
		d->garbage_noted = true;
	}
	/* A server usually answers such a line with 500: keep a nameless
	   entry so later replies stay matched.  No event, and no cap
	   anomaly for a flood of them. */
	if (!smtp_over(s) && smtp_greeted(s)) {
		memset(&p, 0, sizeof p);
		p.v = &smtp_verb_other;
		p.ts = *ts;
		p.pipelined = s->fifo.count > 0;
		(void)smtp_fifo_push(&s->fifo, &p);
	}
}

/*
 * Bytes after DATA before its reply, not a command (v is NULL): a body
 * sent without waiting for 354 (RFC 2920 3.1 says DATA ends a group).
 * Counted as the body; false when the line is not that.
 */
static bool
smtp_client_spec_body(struct smtp_session *s, const struct smtp_verb *v,
    const char *line, size_t len, const struct timeval *ts)
{
	const struct smtp_dir *d = &s->d[EV_DIR_CLIENT];

	if (!smtp_client_has(s, SMTP_CF_DATA_WAIT) || v != NULL ||
	    smtp_over(s) || smtp_fifo_at(&s->fifo, s->data_seq) == NULL ||
	    s->data_seq != s->fifo.popped + s->fifo.count - 1)
		return false;
	if (smtp_note_once(s, SMTP_NOTE_354))
		smtp_anomaly(s, EV_ANOM_DATA_WITHOUT_354, NULL, ts);
	s->body_spec = true;
	smtp_body_start(s);
	smtp_body_scan(s, (const uint8_t *)line, len, ts);
	if (s->state == SMTP_ST_DATA)
		smtp_body_scan(s, (const uint8_t *)(d->crlf ? "\r\n" : "\n"),
		    d->crlf ? 2 : 1, ts);
	return true;
}

/* Queue a command (its argument arg, owned, alen bytes as received in
   raw) and run its verb's handler. */
static void
smtp_client_apply(struct smtp_session *s, const struct smtp_verb *v,
    const char *verb, char *arg, const char *raw, size_t alen,
    const struct timeval *ts, bool encrypted)
{
	struct smtp_pending p;
	uint64_t seq;

	if (smtp_over(s)) {
		/* A QUIT after the 421 is what a polite client does. */
		if (s->phase == SMTP_PH_OVER_421 &&
		    (v == NULL || v->kind != SMTP_K_QUIT) &&
		    smtp_note_once(s, SMTP_NOTE_421))
			smtp_anomaly(s, EV_ANOM_AFTER_421, NULL, ts);
		free(arg);
		return;
	}
	/* A new transaction or a reset: the client's next message starts
	   from zero. */
	if (v != NULL && (v->kind == SMTP_K_MAIL || v->kind == SMTP_K_RSET ||
			     v->kind == SMTP_K_HELO))
		s->msg_bytes = 0;
	memset(&p, 0, sizeof p);
	p.v = v != NULL ? v : &smtp_verb_other;
	memcpy(p.verb, verb, sizeof p.verb);
	if (s->cmd_cut && arg != NULL && strchr(arg, '>') == NULL) {
		/* A path the capture cut: unknown, not a wrong address. */
		free(arg);
		arg = NULL;
	}
	p.arg = arg;
	p.ts = *ts;
	p.pipelined = s->fifo.count > 0;
	seq = smtp_fifo_push(&s->fifo, &p);
	if (seq == UINT64_MAX) {
		smtp_note_cap(s, ts);
		free(arg);
		return;
	}
	if (p.v->cmd != NULL)
		p.v->cmd(s, seq, raw, alen, ts, encrypted);
}

/* A complete client line (terminator stripped): match it (a SASL
   response, binary, a body sent early, a command), describe it in a
   command event, apply it. */
static void
smtp_client_line(struct smtp_session *s, const char *line, size_t len,
    const struct timeval *ts, bool encrypted)
{
	struct smtp_dir *d = &s->d[EV_DIR_CLIENT];
	struct smtp_pending *a;
	const struct smtp_verb *v;
	char verb[16], *arg;
	const char *sp;
	size_t vlen, i, alen;

	if (s->state == SMTP_ST_AUTH) {
		/* A SASL response (or "*" to cancel): not a command and
		   never shown. */
		if ((a = smtp_fifo_at(&s->fifo, s->auth_seq)) != NULL)
			a->ts = *ts;
		return;
	}
	sp = memchr(line, ' ', len);
	vlen = sp != NULL ? (size_t)(sp - line) : len;
	for (i = 0; i < vlen; i++)
		if ((unsigned char)line[i] < 0x21 ||
		    (unsigned char)line[i] > 0x7e)
			break;
	if (i < vlen) {
		smtp_client_binary(s, ts);
		return;
	}
	v = smtp_line_verb(line, len, verb, sizeof verb);
	if (smtp_client_has(s, SMTP_CF_RESYNC)) {
		if (v == NULL)
			return;
		smtp_client_flag(s, SMTP_CF_RESYNC, false, "known verb");
	}
	if (smtp_client_spec_body(s, v, line, len, ts))
		return;
	d->valid = true;
	d->garbage_noted = false;

	/* Upper-case verb, cut to what the event holds. */
	for (i = 0; i < vlen && i + 1 < sizeof verb; i++)
		verb[i] = (char)smtp_upper((unsigned char)line[i]);
	verb[i] = '\0';
	alen = sp != NULL ? len - vlen - 1 : 0;
	if (v != NULL && v->kind == SMTP_K_AUTH && !s->cfg.show_auth &&
	    sp != NULL && memchr(sp + 1, ' ', alen) != NULL) {
		arg = smtp_mask_auth(s, sp + 1, alen);
		alen = strlen(arg);
	} else
		arg = xmemdup0(sp != NULL ? sp + 1 : "", alen);
	smtp_emit_command(s, verb, arg, alen, ts, encrypted);
	s->cmd_seen = true;
	/* RFC 5321 3.1: the client waits for the greeting; Exim's
	   PIPE_CONNECT does not. */
	if (!smtp_greeted(s) && smtp_note_once(s, SMTP_NOTE_EARLY))
		smtp_anomaly(s, EV_ANOM_EARLY_TALKER, NULL, ts);
	smtp_client_apply(
	    s, v, verb, arg, sp != NULL ? sp + 1 : "", alen, ts, encrypted);
}

/* ---- line framing ---- */

static void
smtp_line(
    struct smtp_session *s, int dir, const struct timeval *ts, bool encrypted)
{
	struct smtp_dir *d = &s->d[dir];

	if (dir == EV_DIR_SERVER)
		smtp_server_line(
		    s, (const char *)d->buf, d->len, ts, encrypted);
	else
		smtp_client_line(
		    s, (const char *)d->buf, d->len, ts, encrypted);
	d->len = 0;
}

/*
 * Take bytes of the current line; returns how many were consumed.  *done is
 * set when a line is complete in d->buf (terminator stripped, NUL after
 * it).  An over-long line is reported, its first SMTP_LINE_MAX bytes are
 * delivered as the line, and the rest is dropped up to the next LF.
 */
static size_t
smtp_take_line(struct smtp_session *s, int dir, const uint8_t *p, size_t n,
    size_t off, const struct timeval *ts, bool *done)
{
	struct smtp_dir *d = &s->d[dir];
	const uint8_t *lf = memchr(p, '\n', n);
	size_t take = lf != NULL ? (size_t)(lf - p) : n, room;

	*done = false;
	if (!d->in_line) {
		d->in_line = true;
		d->line_ts = *ts;
		/* Bytes earlier in this chunk were just seen: no silence. */
		d->line_idle = off == 0 ? smtp_ms(ts, &s->last_ts) : 0;
	}
	if (d->overflow) {
		if (lf == NULL)
			return n;
		d->overflow = false;
		d->in_line = false;
		d->len = 0;
		return take + 1;
	}
	if (d->len + take > SMTP_LINE_MAX) {
		room = SMTP_LINE_MAX - d->len;
		(void)xcapped_grow((void **)&d->buf, &d->cap, SMTP_LINE_MAX + 1,
		    SMTP_LINE_MAX + 1);
		memcpy(d->buf + d->len, p, room);
		d->len = SMTP_LINE_MAX;
		d->buf[d->len] = '\0';
		smtp_anomaly(s, EV_ANOM_LINE_TOO_LONG,
		    dir == EV_DIR_SERVER ? "server" : "client", ts);
		d->crlf = true;
		d->in_line = false;
		*done = true;
		if (lf != NULL)
			return take + 1;
		d->overflow = true;
		return n;
	}
	(void)xcapped_grow(
	    (void **)&d->buf, &d->cap, d->len + take + 1, SMTP_LINE_MAX + 1);
	memcpy(d->buf + d->len, p, take);
	d->len += take;
	d->buf[d->len] = '\0';
	if (lf == NULL)
		return n;
	d->in_line = false;
	*done = true;
	if (d->len > 0 && d->buf[d->len - 1] == '\r') {
		d->buf[--d->len] = '\0';
		d->crlf = true;
	} else {
		d->crlf = false;
		if (smtp_note_once(s, SMTP_NOTE_BARE_LF))
			smtp_anomaly(s, EV_ANOM_BARE_LF,
			    dir == EV_DIR_SERVER ? "server" : "client", ts);
	}
	return take + 1;
}

/* The first byte of a direction tells whether it can be SMTP at all. */
static bool
smtp_first_byte_ok(const struct smtp_session *s, int dir, uint8_t c)
{
	if (s->midstream)
		return true;
	if (dir == EV_DIR_SERVER)
		return c >= '0' && c <= '9';
	return (c >= 0x20 && c < 0x7f) || c == '\r' || c == '\n' || c == '\t';
}

static size_t
smtp_feed_in(struct smtp_session *s, int dir, const uint8_t *data, size_t len,
    const struct timeval *ts, bool from_tls, bool encrypted)
{
	struct smtp_dir *d;
	size_t off = 0, used;
	bool done;

	if (s->state == SMTP_ST_CLOSED ||
	    (dir != EV_DIR_CLIENT && dir != EV_DIR_SERVER))
		return len;
	d = &s->d[dir];
	while (off < len) {
		if (d->ignore) {
			off = len;
			break;
		}
		/* In clear text, stop where the bytes stop being SMTP: the
		   caller holds them or hands them to TLS. */
		if (!from_tls && smtp_dir_state(s, dir) != SMTP_DIR_TEXT)
			break;
		if (dir == EV_DIR_CLIENT && s->state == SMTP_ST_DATA) {
			s->body_ts = *ts;
			off += smtp_body_scan(s, data + off, len - off, ts);
			continue;
		}
		if (dir == EV_DIR_CLIENT && s->state == SMTP_ST_BDAT) {
			off += smtp_bdat_take(s, len - off, ts);
			continue;
		}
		if (!d->any) {
			d->any = true;
			if (!smtp_first_byte_ok(s, dir, data[off])) {
				smtp_anomaly(s, EV_ANOM_NON_SMTP,
				    dir == EV_DIR_SERVER ? "server" : "client",
				    ts);
				d->ignore = true;
				continue;
			}
		}
		used = smtp_take_line(
		    s, dir, data + off, len - off, off, ts, &done);
		off += used;
		if (done)
			smtp_line(s, dir, ts, encrypted);
	}
	s->last_ts = *ts;
	return from_tls ? len : off;
}

size_t
smtp_feed(struct smtp_session *s, int dir, const uint8_t *data, size_t len,
    const struct timeval *ts, bool encrypted)
{
	return smtp_feed_in(s, dir, data, len, ts, encrypted, encrypted);
}

size_t
smtp_feed_tls(struct smtp_session *s, int dir, const uint8_t *data, size_t len,
    const struct timeval *ts, bool encrypted)
{
	return smtp_feed_in(s, dir, data, len, ts, true, encrypted);
}

enum smtp_dir_state
smtp_dir_state(const struct smtp_session *s, int dir)
{
	if (dir != EV_DIR_CLIENT && dir != EV_DIR_SERVER)
		return SMTP_DIR_IGNORE;
	if (s->d[dir].ignore)
		return SMTP_DIR_IGNORE;
	if (s->tls_dirs)
		return SMTP_DIR_TLS;
	if (dir == EV_DIR_CLIENT && s->state == SMTP_ST_STARTTLS)
		return SMTP_DIR_HOLD;
	return SMTP_DIR_TEXT;
}

void
smtp_not_tls(struct smtp_session *s, int ignore_dir)
{
	s->implicit_tls = false;
	s->tls_active = false;
	if (ignore_dir == EV_DIR_CLIENT || ignore_dir == EV_DIR_SERVER) {
		s->d[ignore_dir].any = true;
		s->d[ignore_dir].ignore = true;
	}
}

void
smtp_tls_started(struct smtp_session *s, bool decrypting)
{
	int i;

	/* RFC 3207 4.2: back to the state after the greeting, everything
	   learned before forgotten; the client must EHLO again. */
	s->decrypting = decrypting;
	s->tls_active = true;
	smtp_fifo_clear(&s->fifo);
	smtp_txn_clear(&s->txn);
	free(s->helo);
	s->helo = NULL;
	s->helo_len = 0;
	s->ehlo_size = 0;
	s->auth_open = false;
	smtp_client_flag(s, SMTP_CF_DATA_WAIT, false, "TLS started");
	smtp_client_flag(s, SMTP_CF_RESYNC, false, "TLS started");
	if (s->phase == SMTP_PH_UNGREETED)
		smtp_enter_phase(s, SMTP_PH_OPEN, "TLS started");
	smtp_reply_reset(&s->rep);
	for (i = 0; i < 2; i++) {
		s->d[i].len = 0;
		s->d[i].in_line = false;
		s->d[i].overflow = false;
	}
	if (s->state != SMTP_ST_CLOSED)
		smtp_enter_state(s, SMTP_ST_READY, "TLS started");
}

/*
 * A hole in the server's bytes: a reply whose code arrived is still a
 * reply (a snapshot length that cut the packet after "452 4." keeps the
 * 452), ended here and marked cut; so is a multi-line reply the hole
 * interrupts, which would otherwise swallow the next reply.
 */
static void
smtp_server_cut(struct smtp_session *s, const struct timeval *ts)
{
	struct smtp_dir *d = &s->d[EV_DIR_SERVER];
	struct smtp_reply *r = &s->rep;
	const uint8_t *b = d->buf;

	if (d->in_line && !d->overflow && d->len >= 3 && b[0] >= '0' &&
	    b[0] <= '9' && b[1] >= '0' && b[1] <= '9' && b[2] >= '0' &&
	    b[2] <= '9' && (d->len == 3 || b[3] == ' ' || b[3] == '-')) {
		d->buf[d->len] = '\0';
		/* Marked before the line: a last line completes it. */
		r->cut = true;
		smtp_server_line(s, (const char *)b, d->len, ts, r->encrypted);
		if (!r->active)
			return;
	}
	if (r->active) {
		r->cut = true;
		smtp_reply_done(s, ts);
	}
}

/* A hole in the client's bytes: a command whose verb arrived is still a
   command, its argument cut (replies stay matched to it). */
static void
smtp_client_cut(struct smtp_session *s)
{
	struct smtp_dir *d = &s->d[EV_DIR_CLIENT];
	struct timeval start;
	char verb[16];

	if (!d->in_line || d->overflow ||
	    (s->state != SMTP_ST_READY && s->state != SMTP_ST_GREETING) ||
	    d->len < 4 ||
	    smtp_line_verb((const char *)d->buf, d->len, verb, sizeof verb) ==
		NULL)
		return;
	d->buf[d->len] = '\0';
	/* The command was sent when its first byte was. */
	start = d->line_ts;
	s->cmd_cut = true;
	smtp_client_line(s, (const char *)d->buf, d->len, &start, false);
	s->cmd_cut = false;
}

void
smtp_gap(
    struct smtp_session *s, int dir, uint64_t bytes, const struct timeval *ts)
{
	struct smtp_dir *d;

	if (s->state == SMTP_ST_CLOSED ||
	    (dir != EV_DIR_CLIENT && dir != EV_DIR_SERVER) || bytes == 0)
		return;
	d = &s->d[dir];
	if (dir == EV_DIR_CLIENT && s->state == SMTP_ST_DATA) {
		/* Count the lost body bytes; assume a line start so a
		   terminator right after the hole is still found. */
		if (s->msg_bytes <= UINT64_MAX - bytes)
			s->msg_bytes += bytes;
		s->body_m = 0;
		return;
	}
	if (dir == EV_DIR_CLIENT && s->state == SMTP_ST_BDAT) {
		if (bytes < s->bdat_left) {
			(void)smtp_bdat_take(s, (size_t)bytes, ts);
			return;
		}
		/* The hole ran past the chunk: framing is lost. */
		(void)smtp_bdat_take(s, (size_t)s->bdat_left, ts);
		smtp_client_flag(s, SMTP_CF_RESYNC, true, "hole past chunk");
	}
	/*
	 * Resynchronise.  The client: drop lines until one starts with a
	 * known verb (the hole often ends on a line boundary, so dropping
	 * blindly up to the next LF could lose a command).  The server: the
	 * broken line will not parse as a reply; do not report it.
	 */
	if (dir == EV_DIR_SERVER && !d->ignore)
		smtp_server_cut(s, ts);
	else if (dir == EV_DIR_CLIENT && !d->ignore)
		smtp_client_cut(s);
	d->len = 0;
	d->in_line = false;
	d->overflow = false;
	d->any = true;
	if (dir == EV_DIR_CLIENT)
		smtp_client_flag(s, SMTP_CF_RESYNC, true, "hole");
	else
		d->garbage_noted = true;
}

void
smtp_close(struct smtp_session *s, const char *reason, const struct timeval *ts)
{
	struct event *ev;

	if (s->state == SMTP_ST_CLOSED)
		return;
	if (s->state == SMTP_ST_DATA || s->state == SMTP_ST_BDAT)
		smtp_anomaly(s, EV_ANOM_SESSION_END_IN_DATA, NULL, ts);
	if (s->auth_open)
		smtp_anomaly(s, EV_ANOM_SESSION_END_IN_AUTH, NULL, ts);
	ev = event_new(EV_SESSION_CLOSE);
	ev->ts = *ts;
	/* A QUIT answered by 221 is a clean end, whatever TCP did next. */
	ev->close_reason = s->quit ? "quit" : reason;
	ev->duration = smtp_ms(ts, &s->start) / 1e3;
	if (ev->duration < 0)
		ev->duration = 0;
	ev->commands = s->commands;
	ev->replies = s->replies;
	ev->messages = s->messages;
	if (s->n_codes > 0) {
		ev->codes = xreallocarray(NULL, s->n_codes, sizeof *ev->codes);
		memcpy(ev->codes, s->codes, s->n_codes * sizeof *ev->codes);
		ev->n_codes = s->n_codes;
	}
	smtp_enter_state(s, SMTP_ST_CLOSED, reason);
	smtp_emit(s, ev);
}

struct smtp_session *
smtp_new(const struct smtp_config *cfg, const struct smtp_ops *ops, void *arg,
    const struct timeval *start, const struct timeval *syn_ts,
    bool implicit_tls, bool midstream)
{
	struct smtp_session *s = xcalloc(1, sizeof *s);

	if (cfg != NULL)
		s->cfg = *cfg;
	s->ops = ops;
	s->arg = arg;
	s->start = *start;
	s->last_ts = *start;
	if (syn_ts != NULL) {
		s->syn_ts = *syn_ts;
		s->have_syn = true;
	}
	s->implicit_tls = implicit_tls;
	s->tls_active = implicit_tls;
	s->midstream = midstream;
	s->state = SMTP_ST_GREETING;
	if (midstream) {
		/* Joined late: no greeting will come, and the client may be
		   in the middle of a body, so wait for a known verb. */
		s->phase = SMTP_PH_OPEN;
		s->state = SMTP_ST_READY;
		s->cflags = SMTP_CF_RESYNC;
	}
	return s;
}

void
smtp_free(struct smtp_session *s)
{
	int i;

	if (s == NULL)
		return;
	smtp_fifo_clear(&s->fifo);
	free(s->fifo.ring);
	free(s->fifo.over);
	smtp_txn_clear(&s->txn);
	for (i = 0; i < 2; i++)
		free(s->d[i].buf);
	free(s->rep.text);
	free(s->greeting);
	free(s->helo);
	free(s->codes);
	free(s);
}

size_t
smtp_mem(const struct smtp_session *s)
{
	size_t n = sizeof *s;

	n += s->d[0].cap + s->d[1].cap + s->rep.text_cap;
	n += s->fifo.cap * sizeof *s->fifo.ring + s->fifo.arg_bytes;
	if (s->fifo.over != NULL)
		n += SMTP_OVERFLOW_RUNS * sizeof *s->fifo.over;
	n += s->txn.list_bytes + s->cap_codes * sizeof *s->codes;
	return n + s->greeting_len + s->helo_len;
}

size_t
smtp_trim(struct smtp_session *s, char *what, size_t size)
{
	size_t before = smtp_mem(s), i, nargs = 0;
	struct smtp_pending *p;
	char part[96];

	if (what != NULL && size > 0)
		what[0] = '\0';
	/* The arguments of commands waiting for replies: the command events
	   carried them already; the replies will lack "rcpt". */
	for (i = 0; i < s->fifo.count; i++) {
		p = &s->fifo.ring[(s->fifo.first + i) % s->fifo.cap];
		if (p->arg != NULL) {
			free(p->arg);
			p->arg = NULL;
			nargs++;
		}
	}
	s->fifo.arg_bytes = 0;
	if (nargs > 0 && what != NULL) {
		snprintf(part, sizeof part,
		    "the arguments of %zu pending command%s", nargs,
		    nargs == 1 ? "" : "s");
		smtp_trim_note(what, size, part);
	}
	/* An unfinished reply keeps its code and loses its text so far. */
	if (s->rep.text_cap > 0) {
		if (s->rep.active && s->rep.text_len > 0 && what != NULL) {
			snprintf(part, sizeof part,
			    "%zu bytes of an unfinished %d reply",
			    s->rep.text_len, s->rep.code);
			smtp_trim_note(what, size, part);
		}
		free(s->rep.text);
		s->rep.text = NULL;
		s->rep.text_len = s->rep.text_cap = 0;
	}
	/* Line buffers: a line in progress is discarded up to its end, as
	   an over-long line is. */
	for (i = 0; i < 2; i++) {
		if (s->d[i].cap == 0)
			continue;
		if (s->d[i].len > 0) {
			s->d[i].overflow = true;
			if (what != NULL) {
				snprintf(part, sizeof part,
				    "a partial %s line of %zu bytes",
				    i == EV_DIR_CLIENT ? "client" : "server",
				    s->d[i].len);
				smtp_trim_note(what, size, part);
			}
		}
		free(s->d[i].buf);
		s->d[i].buf = NULL;
		s->d[i].len = s->d[i].cap = 0;
	}
	return before - smtp_mem(s);
}

const char *
smtp_state_name(const struct smtp_session *s)
{
	return smtp_state_names[s->state];
}
