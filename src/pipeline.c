/*
 * pipeline: the capture side's glue.  For each packet: decode, flow table and
 * reassembly; for each session the bytes go to the SMTP engine in clear, or
 * through the TLS layer (implicit TLS ports, or after STARTTLS/220) whose
 * plaintext goes back into the same engine marked encrypted.  Every event is
 * stamped with its session header here, replies pass through the diagnosis,
 * and the result goes to the sink in capture order.
 *
 * Invariants: a session's psess lives exactly as long as its flow; bytes the
 * client sends after STARTTLS are held (capped) until the server's answer
 * says whether they are TLS or SMTP.
 */
#include "config.h"

#include "pipeline.h"

#include <bsd/sys/queue.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "smtp.h"
#include "tls.h"
#include "xmalloc.h"

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
};

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
	struct timeval now;
	time_t keylog_checked;
	/* TCP packets outside the SMTP ports by server port, and the ports
	   seen as a SYN's destination (bit set); allocated on first use. */
	uint32_t *other;
	uint8_t *other_syn;
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
	if (ev->type == EV_REPLY)
		diag_reply(ps->p->diag, ev);
	else if (ev->type == EV_SESSION_OPEN || ev->type == EV_SESSION_CLOSE)
		diag_session(ps->p->diag, ev);
	/* The server's name from its greeting: the TLS layer checks the
	   certificate against it. */
	if (ev->type == EV_REPLY && ev->code == 220 &&
	    strcmp(ev->answers, "CONNECT") == 0 &&
	    ps->greeting_host[0] == '\0' && ev->text != NULL)
		snprintf(ps->greeting_host, sizeof ps->greeting_host, "%.*s",
		    (int)strcspn(ev->text, " \r\n"), ev->text);
	ps->p->emit(ps->p->arg, ev);
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

static void
pipeline_flow_open(void *arg, struct flow *f, const struct timeval *ts)
{
	struct pipeline *p = arg;
	struct psess *ps = xcalloc(1, sizeof *ps);
	struct event *ev;

	ps->p = p;
	ps->flow = f;
	ps->id = f->id;
	decode_format_endpoint(
	    ps->client, sizeof ps->client, f->af, f->client, f->cport);
	decode_format_endpoint(
	    ps->server, sizeof ps->server, f->af, f->server, f->sport);
	ps->implicit_tls = pipeline_is_tls_port(p, f->sport);
	f->user = ps;
	TAILQ_INSERT_TAIL(&p->sessions, ps, entry);
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
}

static void
pipeline_flow_data(void *arg, struct flow *f, int dir, const uint8_t *data,
    size_t len, const struct timeval *ts)
{
	(void)arg;
	if (f->user != NULL)
		psess_feed(f->user, dir, data, len, ts);
}

static void
pipeline_flow_gap(void *arg, struct flow *f, int dir, uint64_t bytes,
    const struct timeval *ts)
{
	struct psess *ps = f->user;
	struct event *ev;

	(void)arg;
	if (ps == NULL)
		return;
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
}

static void
pipeline_flow_close(void *arg, struct flow *f, enum flow_close_reason why,
    const struct timeval *ts)
{
	struct pipeline *p = arg;
	struct psess *ps = f->user;

	if (ps == NULL)
		return;
	if (ps->tls != NULL)
		tls_conn_finish(ps->tls, ts);
	/* The engine says "quit" itself when QUIT/221 ended the session. */
	smtp_close(ps->smtp, flow_close_reason_name(why), ts);
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
		psess_anomaly(f->user, what, detail, ts);
		return;
	}
	p->emit(p->arg, event_new_anomaly(ts, what, detail));
}

static const struct flow_ops pipeline_flow_ops = {
    pipeline_flow_open,
    pipeline_flow_data,
    pipeline_flow_gap,
    pipeline_flow_close,
    pipeline_flow_anomaly,
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
	p->flows = flow_table_new(&p->cfg.flow, &pipeline_flow_ops, p);
	return p;
}

void
pipeline_free(struct pipeline *p)
{
	struct psess *ps;

	if (p == NULL)
		return;
	while ((ps = TAILQ_FIRST(&p->sessions)) != NULL) {
		TAILQ_REMOVE(&p->sessions, ps, entry);
		tls_conn_free(ps->tls);
		smtp_free(ps->smtp);
		free(ps->hold);
		free(ps);
	}
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
	if (p->sessions_seen > 0 || len == 0)
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

void
pipeline_packet(struct pipeline *p, int linktype, const struct timeval *ts,
    const uint8_t *data, uint32_t caplen, uint32_t len)
{
	struct decode_pkt pkt;
	const char *why = NULL;
	enum decode_result r;

	p->packets++;
	p->bytes += len;
	p->now = *ts;
	p->last_session = 0;
	r = decode_packet(linktype, data, caplen, ts, &pkt, &why);
	switch (r) {
	case DECODE_OK:
		p->last_session = flow_input(p->flows, &pkt);
		if (p->last_session == 0)
			pipeline_count_other(p, &pkt);
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
	if (p->last_session != 0 && p->cfg.keep_packets) {
		struct event *ev = event_new(EV_PACKET);

		ev->ts = *ts;
		ev->session = p->last_session;
		ev->pkt_ts = *ts;
		ev->pkt_len = len;
		ev->pkt_caplen = caplen;
		ev->linktype = linktype;
		ev->pkt_data = xmalloc(caplen);
		memcpy(ev->pkt_data, data, caplen);
		p->emit(p->arg, ev);
	}
}

void
pipeline_tick(struct pipeline *p, const struct timeval *now)
{
	struct psess *ps;
	const char *why;

	if (now->tv_sec > p->now.tv_sec)
		p->now = *now;
	flow_expire(p->flows, &p->now);
	if (p->keylog != NULL &&
	    p->now.tv_sec - p->keylog_checked >= PIPELINE_KEYLOG_INTERVAL) {
		p->keylog_checked = p->now.tv_sec;
		if (keylog_refresh(p->keylog, &why) == 1)
			TAILQ_FOREACH(ps, &p->sessions, entry)
		if (ps->tls != NULL)
			tls_conn_retry(ps->tls, &p->now);
	}
}

void
pipeline_finish(struct pipeline *p)
{
	const char *why;
	struct psess *ps;

	if (p->keylog != NULL && keylog_refresh(p->keylog, &why) == 1)
		TAILQ_FOREACH(ps, &p->sessions, entry)
	if (ps->tls != NULL)
		tls_conn_retry(ps->tls, &p->now);
	flow_finish(p->flows, &p->now);
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
	ev->ts = p->now;
}

uint64_t
pipeline_last_session(const struct pipeline *p)
{
	return p->last_session;
}
