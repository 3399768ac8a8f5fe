/*
 * metrics.c: the counters of --metrics and their Prometheus text exposition
 * (see metrics.h).  Written by one thread with relaxed atomics (a load and a
 * store: there is a single writer), read by the HTTP thread.
 */
#include "config.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb.h"
#include "metrics.h"
#include "xmalloc.h"

typedef _Atomic uint64_t metrics_ctr;

/* Commands of the latency histogram (the reply's `answers` values). */
static const char *const metrics_commands[] = {"CONNECT", "EHLO", "HELO",
    "LHLO", "MAIL", "RCPT", "DATA", "DATA-END", "BDAT", "STARTTLS", "AUTH",
    "RSET", "NOOP", "VRFY", "QUIT", "other", "none"};
#define METRICS_NCOMMANDS (sizeof metrics_commands / sizeof metrics_commands[0])

static const double metrics_bounds[METRICS_LATENCY_BUCKETS] = {
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

/* Decryption failure reasons: a fixed set of short labels. */
static const struct {
	const char *words; /* found in the reason's text */
	const char *label;
} metrics_reasons[] = {
    {"no key log", "no-keylog"},
    {"no key for this session", "no-key"},
    {"ClientHello was not captured", "midstream"},
    {"resumes an earlier TLS session", "resumed"},
    {"truncated", "handshake-incomplete"},
    {"too long to keep", "handshake-incomplete"},
    {"not for the key given", "wrong-server-key"},
    {"key derivation failed", "key-derivation"},
};
static const char *const metrics_reason_labels[] = {"no-keylog", "no-key",
    "midstream", "resumed", "handshake-incomplete", "wrong-server-key",
    "key-derivation", "other"};
#define METRICS_NREASONS                                                       \
	(sizeof metrics_reason_labels / sizeof metrics_reason_labels[0])

/* Anomalies: the fixed table of event.h; anything else is "other". */
static const char *const metrics_anomalies[] = {EV_ANOM_LINE_TOO_LONG,
    EV_ANOM_BARE_LF, EV_ANOM_REPLY_WITHOUT_COMMAND, EV_ANOM_NON_SMTP,
    EV_ANOM_CODE_CHANGED, EV_ANOM_BAD_REPLY, EV_ANOM_EARLY_TALKER,
    EV_ANOM_AFTER_421, EV_ANOM_DATA_WITHOUT_354, EV_ANOM_BAD_BDAT,
    EV_ANOM_IP_FRAGMENT, EV_ANOM_FLOW_CAP, EV_ANOM_OOO_CAP, EV_ANOM_TLS_RECORD,
    EV_ANOM_TLS_DECRYPT, EV_ANOM_TLS_CAP, EV_ANOM_SESSION_END_IN_AUTH,
    EV_ANOM_SESSION_END_IN_DATA, EV_ANOM_TRUNCATED_PACKET, EV_ANOM_PENDING_CAP,
    EV_ANOM_DATA_END_EARLY, EV_ANOM_MEMORY, EV_ANOM_NO_HANDSHAKE,
    EV_ANOM_ODD_CODE, EV_ANOM_NO_PAYLOAD, EV_ANOM_TLS_MISMATCH,
    EV_ANOM_NO_REPLY_CODE};
#define METRICS_NANOM (sizeof metrics_anomalies / sizeof metrics_anomalies[0])

struct metrics_server {
	char addr[64];
	metrics_ctr n421, n452;
};

struct metrics {
	metrics_ctr sessions, sessions_closed, messages, packets, wire_bytes;
	metrics_ctr payload[2];
	metrics_ctr kernel_drops, queue_drops;
	/* Connection attempts without a handshake, as reported. */
	metrics_ctr no_handshake;
	/* [code][cause]: cause kb_ncauses is "none" (not diagnosed). */
	metrics_ctr *replies;
	size_t ncause;
	metrics_ctr decrypt[METRICS_NREASONS];
	metrics_ctr anomalies[METRICS_NANOM + 1];
	metrics_ctr lat_count[METRICS_NCOMMANDS];
	metrics_ctr lat_bucket[METRICS_NCOMMANDS][METRICS_LATENCY_BUCKETS + 1];
	/* Sum of latencies in microseconds (exact, no atomic double). */
	metrics_ctr lat_sum_us[METRICS_NCOMMANDS];
	/* Servers with a 421 or 452; [METRICS_SERVERS_MAX] is "other". */
	pthread_mutex_t lock;
	struct metrics_server servers[METRICS_SERVERS_MAX + 1];
	size_t nservers;
};

/* Single writer: a relaxed load and store, no locked instruction. */
static inline void
metrics_add(metrics_ctr *c, uint64_t n)
{
	atomic_store_explicit(c,
	    atomic_load_explicit(c, memory_order_relaxed) + n,
	    memory_order_relaxed);
}

static inline uint64_t
metrics_get(metrics_ctr *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

struct metrics *
metrics_new(void)
{
	struct metrics *m = xcalloc(1, sizeof *m);

	m->ncause = kb_ncauses + 1;
	m->replies = xcalloc(METRICS_CODES * m->ncause, sizeof *m->replies);
	pthread_mutex_init(&m->lock, NULL);
	snprintf(m->servers[METRICS_SERVERS_MAX].addr,
	    sizeof m->servers[METRICS_SERVERS_MAX].addr, "other");
	return m;
}

void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m->replies);
	free(m);
}

size_t
metrics_latency_bucket(double seconds)
{
	size_t i;

	for (i = 0; i < METRICS_LATENCY_BUCKETS; i++)
		if (seconds <= metrics_bounds[i])
			return i;
	return METRICS_LATENCY_BUCKETS;
}

double
metrics_latency_bound(size_t i)
{
	return i < METRICS_LATENCY_BUCKETS ? metrics_bounds[i] : 0;
}

static size_t
metrics_command_index(const char *answers)
{
	size_t i;

	if (answers == NULL || answers[0] == '\0')
		return METRICS_NCOMMANDS - 1;
	for (i = 0; i < METRICS_NCOMMANDS - 2; i++)
		if (strcmp(answers, metrics_commands[i]) == 0)
			return i;
	return METRICS_NCOMMANDS - 2;
}

const char *
metrics_command_label(const char *answers)
{
	return metrics_commands[metrics_command_index(answers)];
}

static size_t
metrics_reason_index(const char *reason)
{
	size_t i, j;

	for (i = 0; reason != NULL &&
		    i < sizeof metrics_reasons / sizeof metrics_reasons[0];
	     i++)
		if (strstr(reason, metrics_reasons[i].words) != NULL)
			for (j = 0; j < METRICS_NREASONS; j++)
				if (strcmp(metrics_reason_labels[j],
					metrics_reasons[i].label) == 0)
					return j;
	return METRICS_NREASONS - 1;
}

const char *
metrics_decrypt_reason(const char *reason)
{
	return metrics_reason_labels[metrics_reason_index(reason)];
}

static size_t
metrics_anomaly_index(const char *what)
{
	size_t i;

	if (what == NULL)
		return METRICS_NANOM;
	for (i = 0; i < METRICS_NANOM; i++)
		if (what == metrics_anomalies[i] ||
		    strcmp(what, metrics_anomalies[i]) == 0)
			return i;
	return METRICS_NANOM;
}

/* "192.0.2.1:25" -> "192.0.2.1", "[2001:db8::1]:25" -> "2001:db8::1". */
static void
metrics_server_addr(char *dst, size_t size, const char *server)
{
	const char *end;

	if (server[0] == '[') {
		end = strchr(server, ']');
		server++;
	} else
		end = strrchr(server, ':');
	if (end == NULL)
		end = server + strlen(server);
	snprintf(dst, size, "%.*s", (int)(end - server), server);
}

static void
metrics_server_reply(struct metrics *m, const char *server, int code)
{
	char addr[64];
	struct metrics_server *s = NULL;
	size_t i;

	metrics_server_addr(addr, sizeof addr, server);
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->nservers; i++)
		if (strcmp(m->servers[i].addr, addr) == 0) {
			s = &m->servers[i];
			break;
		}
	if (s == NULL && m->nservers < METRICS_SERVERS_MAX) {
		s = &m->servers[m->nservers++];
		memcpy(s->addr, addr, sizeof s->addr);
	}
	if (s == NULL)
		s = &m->servers[METRICS_SERVERS_MAX];
	pthread_mutex_unlock(&m->lock);
	metrics_add(code == 421 ? &s->n421 : &s->n452, 1);
}

static void
metrics_reply(struct metrics *m, const struct event *ev)
{
	size_t cause = kb_ncauses, cmd;
	int idx;
	double sec;

	if (ev->diag != NULL && ev->diag->cause != NULL &&
	    (idx = kb_cause_index(ev->diag->cause)) >= 0)
		cause = (size_t)idx;
	if (ev->code >= 0 && ev->code < METRICS_CODES)
		metrics_add(
		    &m->replies[(size_t)ev->code * m->ncause + cause], 1);
	if (ev->code == 421 || ev->code == 452)
		metrics_server_reply(m, ev->server, ev->code);
	if (ev->latency_ms >= 0) {
		cmd = metrics_command_index(ev->answers);
		sec = ev->latency_ms / 1000.0;
		metrics_add(&m->lat_count[cmd], 1);
		metrics_add(
		    &m->lat_bucket[cmd][metrics_latency_bucket(sec)], 1);
		metrics_add(&m->lat_sum_us[cmd],
		    (uint64_t)(ev->latency_ms * 1000.0 + 0.5));
	}
}

void
metrics_event(struct metrics *m, const struct event *ev)
{
	switch (ev->type) {
	case EV_SESSION_OPEN:
		metrics_add(&m->sessions, 1);
		break;
	case EV_SESSION_CLOSE:
		metrics_add(&m->sessions_closed, 1);
		break;
	case EV_REPLY:
		metrics_reply(m, ev);
		break;
	case EV_MESSAGE:
		if (ev->code >= 200 && ev->code < 300)
			metrics_add(&m->messages, 1);
		break;
	case EV_TLS:
		if (!ev->decrypted && ev->reason != NULL && ev->phase != NULL &&
		    strcmp(ev->phase, "alert") != 0)
			metrics_add(
			    &m->decrypt[metrics_reason_index(ev->reason)], 1);
		break;
	case EV_ANOMALY:
		metrics_add(&m->anomalies[metrics_anomaly_index(ev->what)], 1);
		/* One report stands for many attempts: they are what a
		   SYN flood alert wants. */
		if (ev->what == EV_ANOM_NO_HANDSHAKE)
			metrics_add(&m->no_handshake, ev->no_handshake);
		break;
	default:
		break;
	}
}

void
metrics_packet(struct metrics *m, uint32_t len)
{
	metrics_add(&m->packets, 1);
	metrics_add(&m->wire_bytes, len);
}

void
metrics_payload(struct metrics *m, int dir, size_t len)
{
	metrics_add(&m->payload[dir == EV_DIR_SERVER], len);
}

void
metrics_drops(struct metrics *m, uint64_t kernel, uint64_t queue)
{
	atomic_store_explicit(&m->kernel_drops, kernel, memory_order_relaxed);
	atomic_store_explicit(&m->queue_drops, queue, memory_order_relaxed);
}

size_t
metrics_escape(char *dst, size_t size, const char *src)
{
	size_t n = 0;
	char tmp[5];
	const char *add;
	size_t alen;
	unsigned char c;

	for (; *src != '\0'; src++) {
		c = (unsigned char)*src;
		if (c == '\\')
			add = "\\\\";
		else if (c == '"')
			add = "\\\"";
		else if (c == '\n')
			add = "\\n";
		else if (c < 0x20 || c >= 0x7f) {
			snprintf(tmp, sizeof tmp, "\\x%02x", c);
			add = tmp;
		} else {
			tmp[0] = (char)c;
			tmp[1] = '\0';
			add = tmp;
		}
		alen = strlen(add);
		if (n + alen + 1 > size)
			break;
		memcpy(dst + n, add, alen);
		n += alen;
	}
	dst[n] = '\0';
	return n;
}

/* ---- rendering */

struct metrics_buf {
	char *b;
	size_t len, cap;
};

static void metrics_printf(struct metrics_buf *mb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
metrics_printf(struct metrics_buf *mb, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(mb->b + mb->len, mb->cap - mb->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < mb->cap - mb->len) {
			mb->len += (size_t)n;
			return;
		}
		mb->cap = mb->cap * 2 + (size_t)n;
		mb->b = xrealloc(mb->b, mb->cap);
	}
}

static void
metrics_head(struct metrics_buf *mb, const char *name, const char *type,
    const char *help)
{
	metrics_printf(
	    mb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
metrics_render_replies(struct metrics *m, struct metrics_buf *mb)
{
	size_t code, cause;
	uint64_t v;

	metrics_head(mb, "smtpscope_replies_total", "counter",
	    "SMTP replies by code and by the diagnosis cause id, "
	    "cause \"none\" when not diagnosed.");
	for (code = 0; code < METRICS_CODES; code++)
		for (cause = 0; cause < m->ncause; cause++) {
			v = metrics_get(&m->replies[code * m->ncause + cause]);
			if (v == 0)
				continue;
			metrics_printf(mb,
			    "smtpscope_replies_total{code=\"%03zu\","
			    "cause=\"%s\"} %" PRIu64 "\n",
			    code,
			    cause < kb_ncauses ? kb_causes[cause].id : "none",
			    v);
		}
}

static void
metrics_render_servers(struct metrics *m, struct metrics_buf *mb)
{
	struct metrics_server snap[METRICS_SERVERS_MAX + 1];
	char esc[256];
	size_t i, n;
	uint64_t v421, v452;

	metrics_head(mb, "smtpscope_server_replies_total", "counter",
	    "421 and 452 replies by server address (the first 20 servers; "
	    "the rest as \"other\").");
	pthread_mutex_lock(&m->lock);
	n = m->nservers;
	for (i = 0; i < n; i++)
		memcpy(snap[i].addr, m->servers[i].addr, sizeof snap[i].addr);
	pthread_mutex_unlock(&m->lock);
	memcpy(snap[n].addr, "other", sizeof "other");
	for (i = 0; i <= n; i++) {
		struct metrics_server *s =
		    i < n ? &m->servers[i] : &m->servers[METRICS_SERVERS_MAX];

		v421 = metrics_get(&s->n421);
		v452 = metrics_get(&s->n452);
		metrics_escape(esc, sizeof esc, snap[i].addr);
		if (v421 > 0)
			metrics_printf(mb,
			    "smtpscope_server_replies_total{server=\"%s\","
			    "code=\"421\"} %" PRIu64 "\n",
			    esc, v421);
		if (v452 > 0)
			metrics_printf(mb,
			    "smtpscope_server_replies_total{server=\"%s\","
			    "code=\"452\"} %" PRIu64 "\n",
			    esc, v452);
	}
}

static void
metrics_render_latency(struct metrics *m, struct metrics_buf *mb)
{
	const char *name = "smtpscope_reply_latency_seconds";
	size_t c, b;
	uint64_t cum, count;

	metrics_head(mb, name, "histogram",
	    "Time from a command to the first byte of its reply, by the "
	    "command answered.");
	for (c = 0; c < METRICS_NCOMMANDS; c++) {
		count = metrics_get(&m->lat_count[c]);
		if (count == 0)
			continue;
		cum = 0;
		for (b = 0; b < METRICS_LATENCY_BUCKETS; b++) {
			cum += metrics_get(&m->lat_bucket[c][b]);
			metrics_printf(mb,
			    "%s_bucket{command=\"%s\",le=\"%g\"} %" PRIu64 "\n",
			    name, metrics_commands[c], metrics_bounds[b], cum);
		}
		cum += metrics_get(&m->lat_bucket[c][METRICS_LATENCY_BUCKETS]);
		/* Read apart from the buckets: make the +Inf bucket and
		   _count agree whatever the writer did meanwhile. */
		metrics_printf(mb,
		    "%s_bucket{command=\"%s\",le=\"+Inf\"} %" PRIu64 "\n", name,
		    metrics_commands[c], cum);
		metrics_printf(mb, "%s_sum{command=\"%s\"} %.6f\n", name,
		    metrics_commands[c],
		    (double)metrics_get(&m->lat_sum_us[c]) / 1e6);
		metrics_printf(mb, "%s_count{command=\"%s\"} %" PRIu64 "\n",
		    name, metrics_commands[c], cum);
	}
}

char *
metrics_render(struct metrics *m, size_t *len)
{
	struct metrics_buf mb = {NULL, 0, 0};
	uint64_t open, closed;
	char esc[256];
	size_t i;

	mb.cap = 8192;
	mb.b = xmalloc(mb.cap);
	mb.b[0] = '\0';
	metrics_head(
	    &mb, "smtpscope_sessions_total", "counter", "SMTP sessions seen.");
	metrics_printf(&mb, "smtpscope_sessions_total %" PRIu64 "\n",
	    metrics_get(&m->sessions));
	metrics_head(
	    &mb, "smtpscope_sessions_open", "gauge", "SMTP sessions open now.");
	closed = metrics_get(&m->sessions_closed);
	open = metrics_get(&m->sessions);
	metrics_printf(&mb, "smtpscope_sessions_open %" PRIu64 "\n",
	    open > closed ? open - closed : 0);
	metrics_render_replies(m, &mb);
	metrics_render_servers(m, &mb);
	metrics_head(&mb, "smtpscope_messages_accepted_total", "counter",
	    "Messages the server accepted (2xx after the data).");
	metrics_printf(&mb, "smtpscope_messages_accepted_total %" PRIu64 "\n",
	    metrics_get(&m->messages));
	metrics_head(&mb, "smtpscope_bytes_total", "counter",
	    "SMTP session payload bytes (TCP stream, in order) by direction.");
	metrics_printf(&mb,
	    "smtpscope_bytes_total{direction=\"client\"} %" PRIu64 "\n"
	    "smtpscope_bytes_total{direction=\"server\"} %" PRIu64 "\n",
	    metrics_get(&m->payload[0]), metrics_get(&m->payload[1]));
	metrics_head(&mb, "smtpscope_captured_bytes_total", "counter",
	    "Bytes of the packets captured, on the wire.");
	metrics_printf(&mb, "smtpscope_captured_bytes_total %" PRIu64 "\n",
	    metrics_get(&m->wire_bytes));
	metrics_head(
	    &mb, "smtpscope_packets_total", "counter", "Packets captured.");
	metrics_printf(&mb, "smtpscope_packets_total %" PRIu64 "\n",
	    metrics_get(&m->packets));
	metrics_head(&mb, "smtpscope_kernel_drops_total", "counter",
	    "Packets the kernel dropped (live capture).");
	metrics_printf(&mb, "smtpscope_kernel_drops_total %" PRIu64 "\n",
	    metrics_get(&m->kernel_drops));
	metrics_head(&mb, "smtpscope_queue_drops_total", "counter",
	    "Events dropped on the queue to the UI when it fell behind.");
	metrics_printf(&mb, "smtpscope_queue_drops_total %" PRIu64 "\n",
	    metrics_get(&m->queue_drops));
	metrics_head(&mb, "smtpscope_decrypt_failures_total", "counter",
	    "TLS sessions that could not be decrypted, by reason.");
	for (i = 0; i < METRICS_NREASONS; i++)
		if (metrics_get(&m->decrypt[i]) > 0)
			metrics_printf(&mb,
			    "smtpscope_decrypt_failures_total{reason=\"%s\"} "
			    "%" PRIu64 "\n",
			    metrics_reason_labels[i],
			    metrics_get(&m->decrypt[i]));
	metrics_head(
	    &mb, "smtpscope_anomalies_total", "counter", "Anomalies by kind.");
	for (i = 0; i <= METRICS_NANOM; i++) {
		if (metrics_get(&m->anomalies[i]) == 0)
			continue;
		metrics_escape(esc, sizeof esc,
		    i < METRICS_NANOM ? metrics_anomalies[i] : "other");
		metrics_printf(&mb,
		    "smtpscope_anomalies_total{kind=\"%s\"} %" PRIu64 "\n", esc,
		    metrics_get(&m->anomalies[i]));
	}
	metrics_head(&mb,
	    "smtpscope_connection_attempts_without_handshake_total", "counter",
	    "Connection attempts that never completed a handshake (not "
	    "sessions), counted as reported.");
	metrics_printf(&mb,
	    "smtpscope_connection_attempts_without_handshake_total %" PRIu64
	    "\n",
	    metrics_get(&m->no_handshake));
	metrics_render_latency(m, &mb);
	*len = mb.len;
	return mb.b;
}
