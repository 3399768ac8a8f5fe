/*
 * pipeline: the capture side's glue.  For each packet: decode, flow table and
 * reassembly; for each session the bytes go to the SMTP engine in clear, or
 * through the TLS layer (implicit TLS ports, or after STARTTLS/220) whose
 * plaintext goes back into the same engine marked encrypted.  Every event is
 * stamped with its session header here, replies pass through the diagnosis,
 * and the result goes to the sink in capture order.
 *
 * Memory: every session's holdings (psess_mem) and the flow table's are
 * summed as they change; over the budget (cfg.memory) pipeline_reclaim trims
 * the largest sessions, then evicts the least recently active ones, each
 * with an anomaly.  Connection attempts that never complete a handshake are
 * not sessions: the flow table reports them through aborted, and they are
 * counted per server and reported once per PIPELINE_HALF_INTERVAL.
 *
 * Invariants: a session's psess lives exactly as long as its flow; bytes the
 * client sends after STARTTLS are held (capped) until the server's answer
 * says whether they are TLS or SMTP; mem_sessions is the sum of the psess'
 * mem fields.
 */
#include "config.h"

#include "pipeline.h"

#include <bsd/sys/queue.h>
#include <sys/socket.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "decode.h"
#include "metrics.h"
#include "smtp.h"
#include "tls.h"
#include "xmalloc.h"

/* Sessions smaller than this are not worth trimming: evict instead. */
#define PIPELINE_TRIM_MIN (16 * 1024)
/* Anomalies per session for the memory budget's trims (then counted). */
#define PIPELINE_TRIM_REPORTS 1
/* Room for the list of what a trim dropped. */
#define PIPELINE_WHAT_MAX 320

/* Connection attempts without a handshake are reported per server, once
   per this many capture seconds. */
#define PIPELINE_HALF_INTERVAL 10
/* Servers named in those reports per interval (the rest are summed). */
#define PIPELINE_HALF_SERVERS 32
/* HyperLogLog registers counting their distinct sources (error ~6.5 %). */
#define PIPELINE_HLL 256
/* Packet copies kept per half-open connection for the UI's save. */
#define PIPELINE_HALF_PKTS 4

/* Client bytes held while STARTTLS awaits its reply. */
#define PIPELINE_HOLD_MAX (64 * 1024)
/* How often (capture seconds) the key log is re-read. */
#define PIPELINE_KEYLOG_INTERVAL 1

struct psess {
	TAILQ_ENTRY(psess) entry;
	struct pipeline *p;
	struct flow *flow;
	uint64_t id;
	char client[64], server[64];
	bool implicit_tls;
	struct smtp_session *smtp;
	struct tls_conn *tls;
	uint8_t *hold;
	size_t hold_len, hold_cap;
	char greeting_host[256]; /* first word of the 220 greeting */
	bool sniffed[2];	 /* first bytes of that direction looked at */
	bool client_tls;	 /* the client's first bytes were TLS */
	bool no_payload;	 /* header-only: no payload byte captured */
	/* -P any: what the connection's first payload said.  Until it is
	   SMTP the psess has no engine, no id and emits nothing. */
	enum psess_any {
		PSESS_ANY_SMTP,
		PSESS_ANY_UNDECIDED,
		PSESS_ANY_NOT_SMTP,
	} any;
	size_t mem;	/* psess_mem() when last accounted */
	unsigned trims; /* times the memory budget trimmed it */
};

/* Connection attempts to one server that never became sessions. */
struct pipeline_half {
	char server[64]; /* "" for the sum of the servers not named */
	uint64_t n;
	uint8_t hll[PIPELINE_HLL];
};

/* Packet copies of a half-open connection (flow->pre), for the UI. */
struct pipeline_pre {
	TAILQ_ENTRY(pipeline_pre) entry; /* on the pipeline's list */
	struct event *pkt[PIPELINE_HALF_PKTS];
	size_t n;
};

/* A session and what it holds, for pipeline_reclaim. */
struct pipeline_holder {
	struct psess *ps;
	size_t mem;
};

/* A packet pipeline_peek decoded; ts is filled in at delivery. */
struct pipeline_peeked {
	const uint8_t *data;
	uint32_t caplen;
	int linktype;
	enum decode_result r;
	const char *why;
	struct decode_pkt pkt;
	uint32_t hval; /* its flow hash (flow_prefetch), when r is DECODE_OK */
};

/* More than capture's look-ahead (CAPTURE_PEEK_AHEAD): the packets it did
   not show (the first of each block) are delivered meanwhile. */
#define PIPELINE_PEEKED 8

struct pipeline {
	struct pipeline_config cfg;
	struct diag *diag;
	struct keylog *keylog;
	pipeline_emit_fn emit;
	void *arg;
	struct flow_table *flows;
	struct smtp_config smtp_cfg;
	TAILQ_HEAD(psess_list, psess) sessions;
	uint64_t packets, bytes, sessions_seen;
	uint64_t fragments, truncated;
	uint64_t cap_line, cap_tls;
	uint64_t last_session;
	uint64_t no_payload; /* sessions seen from their headers only */
	size_t mem_sessions; /* sum of the sessions' mem */
	uint64_t mem_trim, mem_evict; /* the budget's actions */
	bool last_half_open;	      /* the last packet: a half-open one */
	struct pipeline_half half[PIPELINE_HALF_SERVERS + 1];
	size_t n_half;
	time_t half_start; /* capture second the interval began */
	uint64_t no_handshake;
	TAILQ_HEAD(pre_list, pipeline_pre) pres; /* every flow->pre */
	struct timeval now;
	time_t keylog_checked;
	/* TCP packets outside the SMTP ports by server port, and the ports
	   seen as a SYN's destination (bit set); allocated on first use. */
	uint32_t *other;
	uint8_t *other_syn;
	/* Packets peeked at and decoded, oldest first: when one is then
	   delivered (the same bytes at the same address) its decoding is
	   taken from here instead of being done twice. */
	struct pipeline_peeked peeked[PIPELINE_PEEKED];
	size_t peeked_head, peeked_n;
};

void
pipeline_config_default(struct pipeline_config *c)
{
	memset(c, 0, sizeof *c);
	c->ports[0] = 25;
	c->ports[1] = 465;
	c->ports[2] = 587;
	c->n_ports = 3;
	c->tls_ports[0] = 465;
	c->n_tls_ports = 1;
	flow_config_default(&c->flow);
}

static bool
pipeline_is_tls_port(const struct pipeline *p, uint16_t port)
{
	size_t i;

	for (i = 0; i < p->cfg.n_tls_ports; i++)
		if (p->cfg.tls_ports[i] == port)
			return true;
	return false;
}

/* What a session holds besides its flow: engine, TLS, held bytes. */
static size_t
psess_mem(const struct psess *ps)
{
	return sizeof *ps + ps->hold_cap +
	       (ps->smtp != NULL ? smtp_mem(ps->smtp) : 0) +
	       tls_conn_mem(ps->tls);
}

/* Bring the pipeline's total up to date after ps may have changed. */
static void
psess_account(struct psess *ps)
{
	size_t m = psess_mem(ps);

	ps->p->mem_sessions += m;
	ps->p->mem_sessions -= ps->mem;
	ps->mem = m;
}

/* A line without a reply code was diagnosed under its class digit ("400"):
   let the title name the enhanced code the line does carry. */
static void
psess_codeless_title(struct event *ev)
{
	char code[8], *t;
	size_t n;

	if (ev->diag == NULL || ev->diag->title == NULL)
		return;
	n = (size_t)snprintf(code, sizeof code, "%d", ev->code);
	if (strncmp(ev->diag->title, code, n) != 0)
		return;
	xasprintf(&t, "%s%s", ev->enhanced, ev->diag->title + n);
	free(ev->diag->title);
	ev->diag->title = t;
}

/*
 * The one place every event leaves the pipeline: counted for --metrics
 * (when enabled: a NULL test otherwise), then handed to the sink.
 */
static inline void
pipeline_out(struct pipeline *p, struct event *ev)
{
	if (!p->cfg.defer_finish)
		pipeline_event_finish(p->diag, p->cfg.metrics, ev);
	p->emit(p->arg, ev);
}

void
pipeline_event_finish(struct diag *d, struct metrics *m, struct event *ev)
{
	if (ev->type == EV_PACKET) /* nothing past its head */
		return;
	if (ev->diagnose) {
		ev->diagnose = false;
		if (ev->type == EV_REPLY || ev->type == EV_ANOMALY) {
			diag_reply(d, ev);
			if (ev->type == EV_ANOMALY) {
				ev->highlight = false; /* not a reply */
				psess_codeless_title(ev);
			}
		} else
			diag_session(d, ev);
	}
	if (m != NULL)
		metrics_event(m, ev);
}

/* Stamp the header, diagnose replies, hand to the sink. */
static void
psess_emit(void *arg, struct event *ev)
{
	struct psess *ps = arg;

	ev->session = ps->id;
	memcpy(ev->client, ps->client, sizeof ev->client);
	memcpy(ev->server, ps->server, sizeof ev->server);
	if (ev->type == EV_ANOMALY && ev->what == EV_ANOM_LINE_TOO_LONG)
		ps->p->cap_line++;
	if (ev->type == EV_ANOMALY && ev->what == EV_ANOM_TLS_CAP)
		ps->p->cap_tls++;
	if (ev->type == EV_SESSION_CLOSE && ps->no_payload) {
		int d;

		ev->no_payload = true;
		for (d = 0; d < 2; d++) {
			ev->dir_pkts[d] = ps->flow->pkts[d];
			ev->dir_bytes[d] = ps->flow->wire_bytes[d];
			ev->dir_retrans[d] = ps->flow->retrans[d];
		}
	}
	/* Diagnosed in pipeline_event_finish, here or on the output's thread:
	   replies, and session open and close (the history diag keeps). */
	ev->diagnose =
	    ev->type == EV_REPLY ||
	    (ev->type == EV_ANOMALY && ev->what == EV_ANOM_NO_REPLY_CODE) ||
	    ev->type == EV_SESSION_OPEN || ev->type == EV_SESSION_CLOSE;
	/* The server's name from its greeting: the TLS layer checks the
	   certificate against it. */
	if (ev->type == EV_REPLY && ev->code == 220 &&
	    strcmp(ev->answers, "CONNECT") == 0 &&
	    ps->greeting_host[0] == '\0' && ev->text != NULL) {
		/* snprintf "%.*s" without its cost: once per session */
		size_t n = strcspn(ev->text, " \r\n");

		if (n > sizeof ps->greeting_host - 1)
			n = sizeof ps->greeting_host - 1;
		memcpy(ps->greeting_host, ev->text, n);
		ps->greeting_host[n] = '\0';
	}
	pipeline_out(ps->p, ev);
}

static void
psess_anomaly(struct psess *ps, const char *what, const char *detail,
    const struct timeval *ts)
{
	psess_emit(ps, event_new_anomaly(ts, what, detail));
}

static void
psess_plaintext(void *arg, int dir, const uint8_t *data, size_t len,
    const struct timeval *ts)
{
	struct psess *ps = arg;

	/* After TLS the engine consumes everything (no nested STARTTLS). */
	smtp_feed_tls(
	    ps->smtp, dir, data, len, ts, !tls_conn_clear(ps->tls, dir));
}

static const struct smtp_ops psess_smtp_ops = {psess_emit};
static const struct tls_ops psess_tls_ops = {psess_plaintext, psess_emit};

static void
psess_start_tls(struct psess *ps, bool starttls)
{
	if (ps->tls != NULL)
		return;
	ps->tls = tls_conn_new(ps->p->keylog, &psess_tls_ops, ps, starttls,
	    ps->greeting_host[0] != '\0' ? ps->greeting_host : NULL);
	if (starttls)
		smtp_tls_started(ps->smtp, ps->p->keylog != NULL);
}

static void psess_feed(
    struct psess *, int, const uint8_t *, size_t, const struct timeval *);

/* ---- TLS where plain SMTP was expected, and the reverse */

enum psess_mismatch {
	PSESS_MM_TLS_TO_PLAIN,	   /* client TLS, server plain SMTP */
	PSESS_MM_PLAIN_ON_TLS,	   /* server plain SMTP on a TLS port */
	PSESS_MM_CLIENT_PLAIN_TLS, /* client plain text on a TLS port */
	PSESS_MM_SERVER_TLS,	   /* server TLS on a plain SMTP port */
	PSESS_MM_CLIENT_TLS_PLAIN, /* client TLS on a plain SMTP port */
};

/* What each mismatch means and how each side fixes it (the diagnosis of
   the anomaly). */
static const struct {
	const char *rule, *title, *meaning, *fix_sender, *fix_operator,
	    *evidence;
} psess_mismatches[] = {
    [PSESS_MM_TLS_TO_PLAIN] = {"tls-plain-mismatch-client-tls",
	"The client speaks TLS, the server plain SMTP",
	"The client opened the connection with a TLS ClientHello, as for "
	"implicit TLS (RFC 8314), but the server answered in clear text: it "
	"expects plain SMTP (with STARTTLS, RFC 3207) on this port. No mail "
	"can pass until both sides agree.",
	"Use STARTTLS on this port (or plain SMTP), or connect to the "
	"server's implicit-TLS port, usually 465.",
	"If this port is meant for implicit TLS, turn TLS on for it (Postfix: "
	"-o smtpd_tls_wrappermode=yes on that master.cf service); otherwise "
	"tell the client to use STARTTLS here.",
	"client's first bytes: a TLS record; server's: a plain-text reply"},
    [PSESS_MM_PLAIN_ON_TLS] = {"tls-plain-mismatch-server-plain",
	"Plain SMTP on a port watched as implicit TLS",
	"The server greeted in clear text on a port where TLS comes first "
	"(implicit TLS, RFC 8314); the dialogue is followed as plain SMTP.",
	"A client that starts TLS at once will fail here: use STARTTLS or the "
	"server's implicit-TLS port.",
	"If the port should be implicit TLS, enable it (Postfix: -o "
	"smtpd_tls_wrappermode=yes); if it is plain SMTP, tell smtpscope "
	"with --tls-ports.",
	"server's first bytes: a plain-text reply"},
    [PSESS_MM_CLIENT_PLAIN_TLS] = {"tls-plain-mismatch-client-plain",
	"The client speaks plain SMTP to an implicit-TLS port",
	"The client sent clear text on a port where TLS comes first "
	"(implicit TLS, RFC 8314); a TLS server waits for a ClientHello and "
	"hangs up or answers with a TLS alert.",
	"Turn on implicit TLS (often called SSL/TLS, as opposed to STARTTLS) "
	"for this port, or use port 587 with STARTTLS.",
	"Tell the client's owner which port takes which mode; if the port "
	"should take plain SMTP, turn implicit TLS off for it. If it is "
	"plain SMTP, tell smtpscope with --tls-ports.",
	"client's first bytes: plain text"},
    [PSESS_MM_SERVER_TLS] = {"tls-plain-mismatch-server-tls",
	"The server speaks TLS where the client expects plain SMTP",
	"The server sent a TLS record on a port the client treats as plain "
	"SMTP: the server runs implicit TLS here (RFC 8314) or a TLS proxy "
	"sits in front of it.",
	"Connect with implicit TLS (SSL/TLS) to this port, or use the "
	"server's plain SMTP port with STARTTLS.",
	"If this port should take plain SMTP, remove TLS wrapping from it; "
	"if it is implicit TLS, tell smtpscope with --tls-ports.",
	"server's first bytes: a TLS record"},
    [PSESS_MM_CLIENT_TLS_PLAIN] = {"tls-plain-mismatch-client-tls-plain-port",
	"The client speaks TLS on a plain SMTP port",
	"The client opened the connection with a TLS ClientHello, as for "
	"implicit TLS (RFC 8314), on a port where SMTP starts in clear text "
	"(STARTTLS, RFC 3207, comes after the greeting). A plain SMTP server "
	"answers it with errors or hangs up.",
	"Use STARTTLS on this port, or connect to the server's implicit-TLS "
	"port, usually 465.",
	"If this port is meant for implicit TLS, turn TLS on for it (Postfix: "
	"-o smtpd_tls_wrappermode=yes on that master.cf service) and tell "
	"smtpscope with --tls-ports; otherwise tell the client to use "
	"STARTTLS here.",
	"client's first bytes: a TLS record"},
};

/* A TLS record header (RFC 8446 5.1: type 20-24, version 3.x) or an
   SSLv2-compatible ClientHello. */
static bool
psess_looks_tls(const uint8_t *b, size_t n)
{
	if (n >= 3 && (b[0] & 0x80) != 0 && b[2] == 1)
		return true;
	return b[0] >= 20 && b[0] <= 24 && (n < 2 || b[1] == 3) &&
	       (n < 3 || b[2] <= 4);
}

/* The start of an SMTP command or reply. */
static bool
psess_looks_plain(const uint8_t *b, size_t n)
{
	(void)n;
	return (b[0] >= 'A' && b[0] <= 'Z') || (b[0] >= 'a' && b[0] <= 'z') ||
	       (b[0] >= '0' && b[0] <= '9');
}

static void
psess_mismatch(
    struct psess *ps, enum psess_mismatch m, const struct timeval *ts)
{
	struct event *ev = event_new_anomaly(
	    ts, EV_ANOM_TLS_MISMATCH, psess_mismatches[m].title);
	struct event_diag *x = xcalloc(1, sizeof *x);

	x->rule = xstrdup(psess_mismatches[m].rule);
	x->title = xstrdup(psess_mismatches[m].title);
	x->meaning = xstrdup(psess_mismatches[m].meaning);
	xasprintf(
	    &x->when, "port %u, at connection", (unsigned)ps->flow->sport);
	x->fix_sender = xstrdup(psess_mismatches[m].fix_sender);
	x->fix_operator = xstrdup(psess_mismatches[m].fix_operator);
	x->cause = xstrdup("tls-required");
	x->evidence = xcalloc(2, sizeof *x->evidence);
	x->evidence[x->n_evidence++] = xstrdup(psess_mismatches[m].evidence);
	xasprintf(&x->evidence[x->n_evidence++], "port %u: %s",
	    (unsigned)ps->flow->sport,
	    pipeline_is_tls_port(ps->p, ps->flow->sport)
		? "implicit TLS by --tls-ports"
		: "plain SMTP by --tls-ports");
	x->confidence = "certain";
	ev->diag = x;
	psess_emit(ps, ev);
}

/* The session was taken for implicit TLS; one side speaks clear text. */
static void
psess_to_plain(struct psess *ps, int ignore_dir)
{
	tls_conn_free(ps->tls);
	ps->tls = NULL;
	ps->implicit_tls = false;
	smtp_not_tls(ps->smtp, ignore_dir);
}

/*
 * The first bytes of each direction of a session seen from its start tell
 * TLS from plain SMTP.  On an implicit-TLS port a side that speaks clear
 * text turns the session into plain SMTP (the TLS side's bytes are then
 * dropped); on a plain port a side that speaks TLS is named.  Either way
 * an anomaly explains the mismatch.
 */
static void
psess_sniff(struct psess *ps, int dir, const uint8_t *data, size_t len,
    const struct timeval *ts)
{
	bool tls, plain;

	if (len == 0 || ps->sniffed[dir])
		return;
	ps->sniffed[dir] = true;
	if (ps->flow->midstream)
		return;
	tls = psess_looks_tls(data, len);
	plain = !tls && psess_looks_plain(data, len);
	if (ps->implicit_tls && ps->tls != NULL) {
		if (dir == EV_DIR_CLIENT && tls)
			ps->client_tls = true;
		else if (dir == EV_DIR_SERVER && plain) {
			psess_to_plain(ps, ps->client_tls ? EV_DIR_CLIENT : -1);
			psess_mismatch(ps,
			    ps->client_tls ? PSESS_MM_TLS_TO_PLAIN
					   : PSESS_MM_PLAIN_ON_TLS,
			    ts);
		} else if (dir == EV_DIR_CLIENT && plain &&
			   !ps->sniffed[EV_DIR_SERVER]) {
			psess_to_plain(ps, -1);
			psess_mismatch(ps, PSESS_MM_CLIENT_PLAIN_TLS, ts);
		}
		return;
	}
	if (ps->implicit_tls)
		return;
	if (dir == EV_DIR_CLIENT && tls)
		psess_mismatch(ps,
		    ps->sniffed[EV_DIR_SERVER] ? PSESS_MM_TLS_TO_PLAIN
					       : PSESS_MM_CLIENT_TLS_PLAIN,
		    ts);
	else if (dir == EV_DIR_SERVER && tls)
		psess_mismatch(ps, PSESS_MM_SERVER_TLS, ts);
}

/* The server answered; bytes the client sent after STARTTLS can go on. */
static void
psess_release_hold(struct psess *ps, const struct timeval *ts)
{
	uint8_t *buf;
	size_t len;

	if (ps->hold_len == 0 ||
	    smtp_dir_state(ps->smtp, EV_DIR_CLIENT) == SMTP_DIR_HOLD)
		return;
	buf = ps->hold;
	len = ps->hold_len;
	ps->hold = NULL;
	ps->hold_len = ps->hold_cap = 0;
	psess_feed(ps, EV_DIR_CLIENT, buf, len, ts);
	free(buf);
}

static void
psess_feed(struct psess *ps, int dir, const uint8_t *data, size_t len,
    const struct timeval *ts)
{
	size_t used;

	psess_sniff(ps, dir, data, len, ts);
	while (len > 0) {
		if (ps->tls != NULL &&
		    (ps->implicit_tls ||
			smtp_dir_state(ps->smtp, dir) == SMTP_DIR_TLS)) {
			tls_conn_feed(ps->tls, dir, data, len, ts);
			break;
		}
		switch (smtp_dir_state(ps->smtp, dir)) {
		case SMTP_DIR_TEXT:
			used = smtp_feed(ps->smtp, dir, data, len, ts, false);
			if (used > len)
				used = len;
			data += used;
			len -= used;
			if (used == 0 &&
			    smtp_dir_state(ps->smtp, dir) == SMTP_DIR_TEXT)
				len = 0; /* no progress: never spin */
			continue;
		case SMTP_DIR_HOLD:
			if (xcapped_grow((void **)&ps->hold, &ps->hold_cap,
				ps->hold_len + len, PIPELINE_HOLD_MAX) != 0) {
				psess_anomaly(ps, EV_ANOM_TLS_CAP,
				    "client data after STARTTLS exceeds the "
				    "hold "
				    "buffer",
				    ts);
				return;
			}
			memcpy(ps->hold + ps->hold_len, data, len);
			ps->hold_len += len;
			len = 0;
			continue;
		case SMTP_DIR_TLS:
			psess_start_tls(ps, true);
			continue;
		case SMTP_DIR_IGNORE:
			len = 0;
			continue;
		}
	}
	if (dir == EV_DIR_SERVER)
		psess_release_hold(ps, ts);
}

/* ---- connection attempts that never became sessions */

static uint64_t
pipeline_hash(const uint8_t *b, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	/* FNV alone mixes the last bytes poorly into the top bits. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* ln(x) for x >= 1, without libm: halve into [1, 2), then the atanh
   series (x = (1 + y) / (1 - y), y <= 1/3, converges fast). */
static double
pipeline_ln(double x)
{
	double y, y2, term, sum = 0;
	int k = 0, i;

	while (x >= 2) {
		x /= 2;
		k++;
	}
	y = (x - 1) / (x + 1);
	y2 = y * y;
	term = y;
	for (i = 1; i < 40; i += 2) {
		sum += term / i;
		term *= y2;
	}
	return k * 0.69314718055994531 + 2 * sum;
}

/* HyperLogLog (Flajolet et al. 2007) with linear counting while many
   registers are still zero: exact enough for "about N sources". */
static uint64_t
pipeline_hll_estimate(const uint8_t *reg)
{
	double sum = 0, m = PIPELINE_HLL, e;
	size_t i, zeros = 0;

	for (i = 0; i < PIPELINE_HLL; i++) {
		sum += 1.0 / (double)((uint64_t)1 << reg[i]);
		if (reg[i] == 0)
			zeros++;
	}
	e = (0.7213 / (1 + 1.079 / m)) * m * m / sum;
	if (e <= 2.5 * m && zeros > 0)
		e = m * pipeline_ln(m / (double)zeros);
	return (uint64_t)(e + 0.5);
}

static void
pipeline_hll_add(uint8_t *reg, uint64_t h)
{
	size_t i = (size_t)(h >> 56);
	uint64_t w = h << 8;
	uint8_t rank = 1;

	while (rank < 57 && (w & ((uint64_t)1 << 63)) == 0) {
		rank++;
		w <<= 1;
	}
	if (rank > reg[i])
		reg[i] = rank;
}

static void
pipeline_pre_free(struct pipeline *p, struct pipeline_pre *pre)
{
	size_t i;

	TAILQ_REMOVE(&p->pres, pre, entry);
	for (i = 0; i < pre->n; i++)
		event_free(pre->pkt[i]);
	free(pre);
}

/* A packet of a half-open connection, kept for the session it may become
   (the UI saves whole sessions, handshake included). */
static void
pipeline_pre_add(struct pipeline *p, struct event *take)
{
	struct flow *f = flow_last(p->flows);
	struct pipeline_pre *pre;

	if (f == NULL) {
		event_free(take);
		return;
	}
	if ((pre = f->pre) == NULL) {
		pre = xcalloc(1, sizeof *pre);
		TAILQ_INSERT_TAIL(&p->pres, pre, entry);
		f->pre = pre;
	}
	if (pre->n == PIPELINE_HALF_PKTS) {
		event_free(take);
		return;
	}
	pre->pkt[pre->n++] = take;
}

/* One anomaly per server for the interval that ends, then a new one. */
static void
pipeline_half_flush(struct pipeline *p, const struct timeval *ts)
{
	struct pipeline_half *h;
	struct event *ev;
	char detail[256];
	uint64_t src;
	size_t i;

	for (i = 0; i <= PIPELINE_HALF_SERVERS; i++) {
		h = &p->half[i];
		if ((i >= p->n_half && i < PIPELINE_HALF_SERVERS) || h->n == 0)
			continue;
		src = pipeline_hll_estimate(h->hll);
		if (src == 0)
			src = 1;
		if (src > h->n)
			src = h->n;
		snprintf(detail, sizeof detail,
		    "%" PRIu64 " connection attempt%s without a completed "
		    "handshake (SYN unanswered, refused or abandoned) from "
		    "%s%" PRIu64 " source%s%s, within %d s",
		    h->n, h->n == 1 ? "" : "s", src >= 100 ? "about " : "", src,
		    src == 1 ? "" : "s",
		    h->server[0] == '\0' ? " to other servers" : "",
		    PIPELINE_HALF_INTERVAL);
		ev = event_new_anomaly(ts, EV_ANOM_NO_HANDSHAKE, detail);
		snprintf(ev->server, sizeof ev->server, "%s", h->server);
		ev->no_handshake = h->n;
		ev->sources = src;
		pipeline_out(p, ev);
	}
	p->n_half = 0;
	memset(&p->half[PIPELINE_HALF_SERVERS], 0, sizeof *p->half);
	p->half_start = ts->tv_sec;
}

static void
pipeline_flow_aborted(void *arg, struct flow *f, enum flow_close_reason why,
    const struct timeval *ts)
{
	struct pipeline *p = arg;
	struct pipeline_pre *pre = f->pre;
	struct pipeline_half *h = NULL;
	char server[64];
	size_t i;

	(void)why;
	if (pre != NULL) {
		pipeline_pre_free(p, pre);
		f->pre = NULL;
	}
	p->no_handshake++;
	if (p->n_half > 0 &&
	    ts->tv_sec - p->half_start >= PIPELINE_HALF_INTERVAL)
		pipeline_half_flush(p, ts);
	if (p->n_half == 0)
		p->half_start = ts->tv_sec;
	decode_format_endpoint(
	    server, sizeof server, f->af, f->server, f->sport);
	for (i = 0; i < p->n_half; i++)
		if (strcmp(p->half[i].server, server) == 0) {
			h = &p->half[i];
			break;
		}
	if (h == NULL && p->n_half < PIPELINE_HALF_SERVERS) {
		h = &p->half[p->n_half++];
		memset(h, 0, sizeof *h);
		snprintf(h->server, sizeof h->server, "%s", server);
	} else if (h == NULL) {
		/* The last slot sums the servers there is no room for. */
		h = &p->half[PIPELINE_HALF_SERVERS];
	}
	h->n++;
	pipeline_hll_add(
	    h->hll, pipeline_hash(f->client, f->af == AF_INET6 ? 16 : 4));
}

/* ---- -P any: SMTP on any port */

/* Verbs that open a client's side of SMTP (RFC 5321 4.1.1, RFC 2033);
   mid-stream, any command of RFC 5321 and its common extensions. */
static const char *const psess_open_verbs[] = {"EHLO", "HELO", "LHLO"};
static const char *const psess_mid_verbs[] = {"MAIL", "RCPT", "DATA", "QUIT",
    "RSET", "NOOP", "AUTH", "STARTTLS", "BDAT", "VRFY", "EXPN", "HELP", "ETRN",
    "XCLIENT", "XFORWARD"};

static bool
psess_verb_in(
    const uint8_t *b, size_t n, const char *const *verbs, size_t nverbs)
{
	size_t i, k;

	for (i = 0; i < nverbs; i++) {
		k = strlen(verbs[i]);
		if (n <= k || strncasecmp((const char *)b, verbs[i], k) != 0)
			continue;
		if (b[k] == ' ' || b[k] == '\r' || b[k] == '\n')
			return true;
	}
	return false;
}

/*
 * Whether the first payload of a connection (dir's) is SMTP.  From the
 * start: a server greeting 220 (or refusing with 421/554, RFC 5321 3.1),
 * unless it names FTP, whose greeting is 220 too; or a client that talks
 * first with EHLO/HELO/LHLO.  Mid-stream: a reply line with a code of
 * 2xx-5xx, or a line that starts with an SMTP command.  HTTP, IMAP, POP3
 * and TLS all start otherwise.
 */
static bool
psess_is_smtp(const struct psess *ps, int dir, const uint8_t *b, size_t n)
{
	bool mid = ps->flow->midstream;
	const uint8_t *lf;
	size_t line, i;
	int code;

	if (dir == EV_DIR_CLIENT)
		return psess_verb_in(b, n, psess_open_verbs,
			   sizeof psess_open_verbs /
			       sizeof *psess_open_verbs) ||
		       (mid && psess_verb_in(b, n, psess_mid_verbs,
				   sizeof psess_mid_verbs /
				       sizeof *psess_mid_verbs));
	if (n < 4 || b[0] < '2' || b[0] > '5' || b[1] < '0' || b[1] > '9' ||
	    b[2] < '0' || b[2] > '9' || (b[3] != ' ' && b[3] != '-'))
		return false;
	if (mid)
		return true;
	code = (b[0] - '0') * 100 + (b[1] - '0') * 10 + (b[2] - '0');
	if (code != 220 && code != 421 && code != 554)
		return false;
	lf = memchr(b, '\n', n);
	line = lf != NULL ? (size_t)(lf - b) : n;
	for (i = 0; i + 3 <= line; i++)
		if (strncasecmp((const char *)b + i, "FTP", 3) == 0)
			return false;
	return true;
}

/* The connection is an SMTP session: number it, announce it, start its
   engine, hand on the handshake's packets kept meanwhile. */
static void
psess_begin(struct psess *ps, const struct timeval *ts)
{
	struct pipeline *p = ps->p;
	struct flow *f = ps->flow;
	struct pipeline_pre *pre;
	struct event *ev;
	size_t i;

	ps->any = PSESS_ANY_SMTP;
	ps->id = flow_assign_id(p->flows, f);
	p->sessions_seen++;
	ev = event_new(EV_SESSION_OPEN);
	ev->ts = *ts;
	ev->tls_implicit = ps->implicit_tls;
	ev->midstream = f->midstream;
	psess_emit(ps, ev);

	ps->smtp = smtp_new(&p->smtp_cfg, &psess_smtp_ops, ps, &f->first_ts,
	    f->syn_seen ? &f->syn_ts : NULL, ps->implicit_tls, f->midstream);
	if (ps->implicit_tls)
		psess_start_tls(ps, false);
	psess_account(ps);
	/* The handshake's packets, kept while it was incomplete. */
	if ((pre = f->pre) != NULL) {
		for (i = 0; i < pre->n; i++) {
			pre->pkt[i]->session = ps->id;
			pipeline_out(p, pre->pkt[i]);
		}
		pre->n = 0;
		pipeline_pre_free(p, pre);
		f->pre = NULL;
	}
}

/* Not SMTP (-P any): forget what was kept for it. */
static void
psess_not_smtp(struct psess *ps)
{
	ps->any = PSESS_ANY_NOT_SMTP;
	if (ps->flow->pre != NULL) {
		pipeline_pre_free(ps->p, ps->flow->pre);
		ps->flow->pre = NULL;
	}
}

static void
pipeline_flow_open(void *arg, struct flow *f, const struct timeval *ts)
{
	struct pipeline *p = arg;
	struct psess *ps = xcalloc(1, sizeof *ps);

	ps->p = p;
	ps->flow = f;
	decode_format_endpoint(
	    ps->client, sizeof ps->client, f->af, f->client, f->cport);
	decode_format_endpoint(
	    ps->server, sizeof ps->server, f->af, f->server, f->sport);
	ps->implicit_tls = pipeline_is_tls_port(p, f->sport);
	f->user = ps;
	TAILQ_INSERT_TAIL(&p->sessions, ps, entry);
	/* -P any: an implicit-TLS port is SMTP by configuration; any other
	   connection waits for its first payload. */
	if (p->cfg.flow.any_port && !ps->implicit_tls) {
		ps->any = PSESS_ANY_UNDECIDED;
		psess_account(ps);
		return;
	}
	psess_begin(ps, ts);
}

static void
pipeline_flow_data(void *arg, struct flow *f, int dir, const uint8_t *data,
    size_t len, const struct timeval *ts)
{
	struct psess *ps = f->user;

	(void)arg;
	if (ps != NULL && ps->any == PSESS_ANY_UNDECIDED) {
		/* Stamped like any session: its SYN, else its first
		   packet. */
		if (psess_is_smtp(ps, dir, data, len))
			psess_begin(
			    ps, f->syn_seen ? &f->syn_ts : &f->first_ts);
		else
			psess_not_smtp(ps);
	}
	if (ps != NULL && ps->any == PSESS_ANY_SMTP) {
		if (ps->p->cfg.metrics != NULL)
			metrics_payload(ps->p->cfg.metrics, dir, len);
		psess_feed(f->user, dir, data, len, ts);
		psess_account(f->user);
	}
}

static void
pipeline_flow_gap(void *arg, struct flow *f, int dir, uint64_t bytes,
    const struct timeval *ts)
{
	struct pipeline *p = arg;
	struct psess *ps = f->user;
	struct event *ev;

	if (ps == NULL || ps->any != PSESS_ANY_SMTP)
		return; /* -P any cannot tell SMTP without its bytes */
	if (f->cap_bytes[EV_DIR_CLIENT] == 0 &&
	    f->cap_bytes[EV_DIR_SERVER] == 0) {
		/* Not one payload byte so far: a capture that keeps only
		   headers.  The session is what its packets tell (handshake,
		   end, sizes, timing), summed at its close, not a gap per
		   packet. */
		if (!ps->no_payload) {
			ps->no_payload = true;
			p->no_payload++;
			psess_anomaly(ps, EV_ANOM_NO_PAYLOAD,
			    "the capture kept only packet headers (snapshot "
			    "length too short): the session is shown from "
			    "its packets alone; capture with -s 0 to see the "
			    "dialogue",
			    ts);
		}
		return;
	}
	ev = event_new(EV_GAP);
	ev->ts = *ts;
	ev->dir = dir;
	ev->bytes = bytes;
	psess_emit(ps, ev);
	if (ps->tls != NULL &&
	    (ps->implicit_tls || smtp_dir_state(ps->smtp, dir) == SMTP_DIR_TLS))
		tls_conn_gap(ps->tls, dir, bytes, ts);
	else
		smtp_gap(ps->smtp, dir, bytes, ts);
	psess_account(ps);
}

static void
pipeline_flow_close(void *arg, struct flow *f, enum flow_close_reason why,
    const struct timeval *ts)
{
	struct pipeline *p = arg;
	struct psess *ps = f->user;

	if (ps == NULL)
		return;
	if (ps->any != PSESS_ANY_SMTP)
		psess_not_smtp(ps); /* never a session: nothing to say */
	else {
		if (ps->tls != NULL)
			tls_conn_finish(ps->tls, ts);
		/* The engine says "quit" itself when QUIT/221 ended it. */
		smtp_close(ps->smtp, flow_close_reason_name(why), ts);
	}
	p->mem_sessions -= ps->mem;
	TAILQ_REMOVE(&p->sessions, ps, entry);
	tls_conn_free(ps->tls);
	smtp_free(ps->smtp);
	free(ps->hold);
	free(ps);
	f->user = NULL;
}

static void
pipeline_flow_anomaly(void *arg, struct flow *f, const char *what,
    const char *detail, const struct timeval *ts)
{
	struct pipeline *p = arg;

	if (f != NULL && f->user != NULL) {
		if (((struct psess *)f->user)->any == PSESS_ANY_SMTP)
			psess_anomaly(f->user, what, detail, ts);
		return;
	}
	pipeline_out(p, event_new_anomaly(ts, what, detail));
}

static void
pipeline_flow_prefetch(void *arg, const struct flow *f, int level)
{
	const struct psess *ps = f->user;

	(void)arg;
	if (level == 1) {
		/* What every packet reads: not the greeting's host name */
		__builtin_prefetch(ps);
		__builtin_prefetch(ps->client);
		__builtin_prefetch(&ps->smtp);
		__builtin_prefetch(&ps->sniffed);
	} else if (ps->smtp != NULL)
		smtp_prefetch(ps->smtp, level > 2);
}

static const struct flow_ops pipeline_flow_ops = {
    pipeline_flow_open,
    pipeline_flow_data,
    pipeline_flow_gap,
    pipeline_flow_close,
    pipeline_flow_anomaly,
    pipeline_flow_aborted,
    pipeline_flow_prefetch,
};

struct pipeline *
pipeline_new(const struct pipeline_config *cfg, struct diag *diag,
    struct keylog *keylog, pipeline_emit_fn emit, void *arg)
{
	struct pipeline *p = xcalloc(1, sizeof *p);

	p->cfg = *cfg;
	p->cfg.flow.ports = p->cfg.ports;
	p->cfg.flow.n_ports = p->cfg.n_ports;
	p->diag = diag;
	p->keylog = keylog;
	p->emit = emit;
	p->arg = arg;
	p->smtp_cfg.show_auth = cfg->show_auth;
	TAILQ_INIT(&p->sessions);
	TAILQ_INIT(&p->pres);
	p->flows = flow_table_new(&p->cfg.flow, &pipeline_flow_ops, p);
	return p;
}

void
pipeline_free(struct pipeline *p)
{
	struct psess *ps;
	struct pipeline_pre *pre;

	if (p == NULL)
		return;
	while ((ps = TAILQ_FIRST(&p->sessions)) != NULL) {
		TAILQ_REMOVE(&p->sessions, ps, entry);
		tls_conn_free(ps->tls);
		smtp_free(ps->smtp);
		free(ps->hold);
		free(ps);
	}
	/* pipeline_pre_free() unlinks pre (the analyzer loses track). */
	while ((pre = TAILQ_FIRST(&p->pres)) != NULL)
		pipeline_pre_free(p, pre); /* NOLINT */
	flow_table_free(p->flows);
	free(p->other);
	free(p->other_syn);
	free(p);
}

/*
 * A TCP packet on no SMTP port: count it under its server port.  The
 * destination of a SYN is a server port; mid-stream, the lower port is the
 * better guess (clients pick ephemeral ports from the top of the range).
 */
static void
pipeline_count_other(struct pipeline *p, const struct decode_pkt *pkt)
{
	uint16_t port;
	bool s_syn, d_syn;

	if (flow_is_smtp_port(&p->cfg.flow, pkt->sport) ||
	    flow_is_smtp_port(&p->cfg.flow, pkt->dport))
		return;
	if (p->other == NULL) {
		p->other = xcalloc(65536, sizeof *p->other);
		p->other_syn = xcalloc(65536 / 8, 1);
	}
	if ((pkt->flags & (DECODE_TH_SYN | DECODE_TH_ACK)) == DECODE_TH_SYN)
		p->other_syn[pkt->dport >> 3] |=
		    (uint8_t)(1u << (pkt->dport & 7));
	s_syn = (p->other_syn[pkt->sport >> 3] >> (pkt->sport & 7)) & 1;
	d_syn = (p->other_syn[pkt->dport >> 3] >> (pkt->dport & 7)) & 1;
	if (s_syn != d_syn)
		port = d_syn ? pkt->dport : pkt->sport;
	else
		port = pkt->sport < pkt->dport ? pkt->sport : pkt->dport;
	if (p->other[port] != UINT32_MAX)
		p->other[port]++;
}

size_t
pipeline_other_ports(
    const struct pipeline *p, struct pipeline_port *out, size_t max)
{
	size_t n = 0, i;
	uint32_t port;

	if (p->other == NULL || max == 0)
		return 0;
	/* Keep the top max in out[], busiest first (max is small). */
	for (port = 0; port < 65536; port++) {
		if (p->other[port] == 0 ||
		    (n == max && p->other[port] <= out[n - 1].packets))
			continue;
		i = n < max ? n++ : n - 1;
		while (i > 0 && out[i - 1].packets < p->other[port]) {
			out[i] = out[i - 1];
			i--;
		}
		out[i].port = (uint16_t)port;
		out[i].packets = p->other[port];
	}
	return n;
}

/* How many ports the no-session hint names. */
#define PIPELINE_HINT_PORTS 3

bool
pipeline_no_session_hint(const struct pipeline *p, char *buf, size_t len)
{
	struct pipeline_port top[PIPELINE_HINT_PORTS];
	size_t n, i, o = 0;

#define PIPELINE_PUT(...)                                                      \
	do {                                                                   \
		if (o < len)                                                   \
			o += (size_t)snprintf(buf + o, len - o, __VA_ARGS__);  \
	} while (0)
	if (len == 0)
		return false;
	if (p->no_payload > 0) {
		PIPELINE_PUT("%" PRIu64 " of %" PRIu64 " session%s had no "
			     "payload captured (only packet headers): capture "
			     "with -s 0 to see the dialogue",
		    p->no_payload, p->sessions_seen,
		    p->sessions_seen == 1 ? "" : "s");
		return true;
	}
	if (p->sessions_seen > 0)
		return false;
	n = pipeline_other_ports(p, top, PIPELINE_HINT_PORTS);
	if (n == 0)
		return false;
	buf[0] = '\0';
	PIPELINE_PUT(
	    "no SMTP session on port%s ", p->cfg.n_ports == 1 ? "" : "s");
	for (i = 0; i < p->cfg.n_ports; i++)
		PIPELINE_PUT("%s%u", i > 0 ? "," : "", p->cfg.ports[i]);
	PIPELINE_PUT("; TCP traffic on port%s ", n == 1 ? "" : "s");
	for (i = 0; i < n; i++)
		PIPELINE_PUT("%s%u (%" PRIu64 " packet%s)", i > 0 ? ", " : "",
		    top[i].port, top[i].packets,
		    top[i].packets == 1 ? "" : "s");
	PIPELINE_PUT(": try -P ");
	for (i = 0; i < n; i++)
		PIPELINE_PUT("%s%u", i > 0 ? "," : "", top[i].port);
#undef PIPELINE_PUT
	return true;
}

/* Larger first, for qsort. */
static int
pipeline_mem_cmp(const void *a, const void *b)
{
	const struct pipeline_holder *x = a, *y = b;

	return x->mem < y->mem ? 1 : x->mem > y->mem ? -1 : 0;
}

static void
pipeline_mib(char *buf, size_t size, size_t bytes)
{
	if (bytes >= 1024 * 1024)
		snprintf(buf, size, "%.1f MiB", (double)bytes / 1048576.0);
	else
		snprintf(buf, size, "%zu KiB", (bytes + 1023) / 1024);
}

/*
 * Over the memory budget: first trim the largest sessions (out-of-order
 * bytes become gaps; pending command arguments, unfinished reply text,
 * partial lines and TLS records waiting for keys are dropped; the session
 * goes on), then evict the least recently active sessions, until the total
 * is under nine tenths of the budget, so that the scan is not repeated on
 * every packet.  Each action is an anomaly on the session it hit.
 */
static void
pipeline_reclaim(struct pipeline *p, const struct timeval *ts)
{
	struct pipeline_holder *h;
	struct psess *ps;
	size_t n = 0, i, target, freed, held;
	char what[PIPELINE_WHAT_MAX], detail[PIPELINE_WHAT_MAX + 128];
	char a[32], b[32];

	target = p->cfg.memory - p->cfg.memory / 10;
	TAILQ_FOREACH(ps, &p->sessions, entry)
	n++;
	h = xreallocarray(NULL, n > 0 ? n : 1, sizeof *h);
	n = 0;
	TAILQ_FOREACH(ps, &p->sessions, entry)
	{
		h[n].ps = ps;
		h[n].mem = ps->mem + flow_mem(ps->flow);
		n++;
	}
	qsort(h, n, sizeof *h, pipeline_mem_cmp);
	for (i = 0; i < n && pipeline_mem(p) > target; i++) {
		ps = h[i].ps;
		if (h[i].mem < PIPELINE_TRIM_MIN)
			break;
		held = h[i].mem;
		freed = flow_trim(p->flows, ps->flow, ts);
		what[0] = '\0';
		if (ps->smtp != NULL)
			freed += smtp_trim(ps->smtp, what, sizeof what);
		if (ps->tls != NULL) {
			size_t t = tls_conn_trim(ps->tls, ts);

			if (t > 0) {
				freed += t;
				snprintf(what + strlen(what),
				    sizeof what - strlen(what),
				    "%sTLS records waiting for keys",
				    what[0] != '\0' ? ", " : "");
			}
		}
		psess_account(ps);
		if (freed == 0)
			continue;
		p->mem_trim++;
		if (ps->trims++ >= PIPELINE_TRIM_REPORTS ||
		    ps->any != PSESS_ANY_SMTP)
			continue;
		pipeline_mib(a, sizeof a, p->cfg.memory);
		pipeline_mib(b, sizeof b, held);
		snprintf(detail, sizeof detail,
		    "the budget is %s; this session held %s: dropped %s%s", a,
		    b, what[0] != '\0' ? what : "out-of-order bytes (now gaps)",
		    ps->trims == PIPELINE_TRIM_REPORTS
			? " (further trims of this session are counted in the "
			  "stats)"
			: "");
		psess_anomaly(ps, EV_ANOM_MEMORY, detail, ts);
	}
	free(h);
	pipeline_mib(a, sizeof a, p->cfg.memory);
	snprintf(detail, sizeof detail,
	    "the budget is %s, held by many sessions: the least recently "
	    "active session was evicted",
	    a);
	while (pipeline_mem(p) > target &&
	       flow_evict_oldest(p->flows, ts, EV_ANOM_MEMORY, detail))
		p->mem_evict++;
}

size_t
pipeline_mem(const struct pipeline *p)
{
	return sizeof *p + p->mem_sessions + flow_table_mem(p->flows);
}

void
pipeline_peek(
    struct pipeline *p, int linktype, const uint8_t *data, uint32_t caplen)
{
	struct pipeline_peeked *k;

	if (p->peeked_n == PIPELINE_PEEKED) {
		/* never delivered (cannot happen: each is, in order) */
		p->peeked_head = (p->peeked_head + 1) % PIPELINE_PEEKED;
		p->peeked_n--;
	}
	k = &p->peeked[(p->peeked_head + p->peeked_n) % PIPELINE_PEEKED];
	p->peeked_n++;
	k->data = data;
	k->caplen = caplen;
	k->linktype = linktype;
	k->why = NULL;
	k->r = decode_packet(linktype, data, caplen, NULL, &k->pkt, &k->why);
	k->hval = flow_prefetch(p->flows, k->r == DECODE_OK ? &k->pkt : NULL);
}

/* The packet's decoding (and, *hashed set, its flow hash): the one
   pipeline_peek made, when this is the packet it was shown (the oldest it
   kept), else done now. */
static enum decode_result
pipeline_decode(struct pipeline *p, int linktype, const struct timeval *ts,
    const uint8_t *data, uint32_t caplen, struct decode_pkt *pkt,
    const char **why, uint32_t *hval, bool *hashed)
{
	struct pipeline_peeked *k = &p->peeked[p->peeked_head];

	if (p->peeked_n > 0 && k->data == data && k->caplen == caplen &&
	    k->linktype == linktype) {
		p->peeked_head = (p->peeked_head + 1) % PIPELINE_PEEKED;
		p->peeked_n--;
		*pkt = k->pkt;
		pkt->ts = *ts;
		*why = k->why;
		*hval = k->hval;
		*hashed = true;
		return k->r;
	}
	*hashed = false;
	return decode_packet(linktype, data, caplen, ts, pkt, why);
}

void
pipeline_packet(struct pipeline *p, int linktype, const struct timeval *ts,
    const uint8_t *data, uint32_t caplen, uint32_t len)
{
	struct decode_pkt pkt;
	const char *why = NULL;
	uint32_t hval;
	bool hashed;
	enum decode_result r;

	p->packets++;
	p->bytes += len;
	if (p->cfg.metrics != NULL)
		metrics_packet(p->cfg.metrics, len);
	p->now = *ts;
	p->last_session = 0;
	p->last_half_open = false;
	r = pipeline_decode(
	    p, linktype, ts, data, caplen, &pkt, &why, &hval, &hashed);
	switch (r) {
	case DECODE_OK:
		p->last_session = hashed
				      ? flow_input_hashed(p->flows, &pkt, hval)
				      : flow_input(p->flows, &pkt);
		if (p->last_session == FLOW_ID_HALF_OPEN) {
			p->last_session = 0;
			p->last_half_open = true;
		}
		/* -P any: this very packet may have made its connection a
		   session (for -w and the UI's save); a connection not (yet)
		   SMTP still counts against the memory budget. */
		if (p->last_session == 0 && !p->last_half_open &&
		    p->cfg.flow.any_port && flow_last(p->flows) != NULL)
			p->last_session = flow_last(p->flows)->id;
		if (p->last_session == 0 && !p->last_half_open &&
		    !p->cfg.flow.any_port)
			pipeline_count_other(p, &pkt);
		else if (p->cfg.memory > 0 && pipeline_mem(p) > p->cfg.memory)
			pipeline_reclaim(p, ts);
		break;
	case DECODE_FRAGMENT:
		p->fragments++;
		pipeline_flow_anomaly(p, NULL, EV_ANOM_IP_FRAGMENT, why, ts);
		break;
	case DECODE_TRUNCATED:
	case DECODE_MALFORMED:
		p->truncated++;
		break;
	case DECODE_NOT_IP:
	case DECODE_NOT_TCP:
		break;
	}
	if ((p->last_session != 0 || p->last_half_open) &&
	    p->cfg.keep_packets) {
		struct event *ev =
		    event_new_packet(ts, linktype, data, caplen, len);

		ev->session = p->last_session;
		if (p->last_half_open)
			pipeline_pre_add(p, ev);
		else
			pipeline_out(p, ev);
	}
}

/* Read what the key log gained; true when new keys came.  A read error
   is not reported here: the key log is read again at the next tick. */
static bool
pipeline_keylog_grew(struct pipeline *p)
{
	char *cause;
	int rc = keylog_refresh(p->keylog, &cause);

	free(cause);
	return rc == 1;
}

void
pipeline_tick(struct pipeline *p, const struct timeval *now)
{
	struct psess *ps;

	if (now->tv_sec > p->now.tv_sec)
		p->now = *now;
	flow_expire(p->flows, &p->now);
	if (p->n_half > 0 &&
	    p->now.tv_sec - p->half_start >= PIPELINE_HALF_INTERVAL)
		pipeline_half_flush(p, &p->now);
	if (p->keylog != NULL &&
	    p->now.tv_sec - p->keylog_checked >= PIPELINE_KEYLOG_INTERVAL) {
		p->keylog_checked = p->now.tv_sec;
		if (pipeline_keylog_grew(p))
			TAILQ_FOREACH(ps, &p->sessions, entry)
		if (ps->tls != NULL) {
			tls_conn_retry(ps->tls, &p->now);
			psess_account(ps);
		}
	}
}

void
pipeline_finish(struct pipeline *p)
{
	struct psess *ps;

	if (p->keylog != NULL && pipeline_keylog_grew(p))
		TAILQ_FOREACH(ps, &p->sessions, entry)
	if (ps->tls != NULL)
		tls_conn_retry(ps->tls, &p->now);
	flow_finish(p->flows, &p->now);
	if (p->n_half > 0)
		pipeline_half_flush(p, &p->now);
}

void
pipeline_fill_stats(struct pipeline *p, struct event *ev)
{
	const struct flow_stats *fs = flow_table_stats(p->flows);

	ev->packets = p->packets;
	ev->pkt_bytes = p->bytes;
	ev->sessions = p->sessions_seen;
	ev->cap_flows = fs->cap_flows;
	ev->cap_ooo = fs->cap_ooo;
	ev->cap_line = p->cap_line;
	ev->cap_tls = p->cap_tls;
	ev->no_handshake = p->no_handshake;
	ev->cap_mem_trim = p->mem_trim;
	ev->cap_mem_evict = p->mem_evict;
	ev->ts = p->now;
}

uint64_t
pipeline_last_session(const struct pipeline *p)
{
	return p->last_session;
}

bool
pipeline_last_smtp(const struct pipeline *p)
{
	return p->last_session != 0 || p->last_half_open;
}
