/*
 * event: the self-contained records passed from the pipeline to the front
 * ends, and the bounded queue between the capture thread and the main
 * thread.  Invariant: an event owns all its heap strings; the queue owns the
 * events it holds.
 */
#include "config.h"

#include "event.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "xmalloc.h"

const char EV_ANOM_LINE_TOO_LONG[] = "line too long";
const char EV_ANOM_BARE_LF[] = "bare LF line ending";
const char EV_ANOM_REPLY_WITHOUT_COMMAND[] = "reply without command";
const char EV_ANOM_NON_SMTP[] = "non-SMTP data";
const char EV_ANOM_CODE_CHANGED[] =
    "reply code changed within multi-line reply";
const char EV_ANOM_BAD_REPLY[] = "malformed reply line";
const char EV_ANOM_EARLY_TALKER[] = "client spoke before the greeting";
const char EV_ANOM_AFTER_421[] = "client data after 421";
const char EV_ANOM_DATA_WITHOUT_354[] = "message data without 354";
const char EV_ANOM_BAD_BDAT[] = "malformed BDAT size";
const char EV_ANOM_IP_FRAGMENT[] = "IP fragment";
const char EV_ANOM_FLOW_CAP[] = "flow table full";
const char EV_ANOM_OOO_CAP[] = "out-of-order buffer full";
const char EV_ANOM_TLS_RECORD[] = "malformed TLS record";
const char EV_ANOM_TLS_DECRYPT[] = "TLS decryption failed";
const char EV_ANOM_TLS_CAP[] = "TLS buffer full";
const char EV_ANOM_SESSION_END_IN_AUTH[] = "session ended inside AUTH";
const char EV_ANOM_SESSION_END_IN_DATA[] = "session ended inside DATA";
const char EV_ANOM_TRUNCATED_PACKET[] = "truncated packet";
const char EV_ANOM_PENDING_CAP[] = "too many outstanding commands";
const char EV_ANOM_MEMORY[] = "memory budget reached";
const char EV_ANOM_NO_HANDSHAKE[] = "connection attempts without a handshake";
const char EV_ANOM_NO_PAYLOAD[] = "payload not captured";
const char EV_ANOM_TLS_MISMATCH[] = "TLS and plain SMTP mismatch";
const char EV_ANOM_ODD_CODE[] = "non-standard reply code";
const char EV_ANOM_NO_REPLY_CODE[] = "reply line without a reply code";
const char EV_ANOM_DATA_END_EARLY[] =
    "reply before the end of data (no CRLF.CRLF)";

/*
 * Freed events are kept for the next event_new: an event is large (most of
 * its fields belong to other types), and a cleared spare costs far less
 * than a calloc of it and its free.  Up to 256 per thread (about 230 KiB):
 * headless output frees events in runs, some way behind their making.  Any
 * thread may make or free events: each keeps its own spares (a lock per event
 * cost a few per cent of a dialogue-heavy run), so an event freed by the UI's
 * thread waits there for that thread's next event_new.  Sanitizer builds free
 * at once, so that a use after free is still caught.
 */
#if defined(__SANITIZE_ADDRESS__)
#define EVENT_SPARES 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EVENT_SPARES 0
#endif
#endif
#ifndef EVENT_SPARES
#define EVENT_SPARES 256
#endif

#if EVENT_SPARES > 0
static _Thread_local struct event *event_spare[EVENT_SPARES];
static _Thread_local size_t event_nspare;
#endif

struct event *
event_new(enum event_type type)
{
	struct event *ev = NULL;

	if (type == EV_PACKET) {
		static const struct timeval zero;

		return event_new_packet(&zero, 0, NULL, 0, 0);
	}
#if EVENT_SPARES > 0
	if (event_nspare > 0)
		ev = event_spare[--event_nspare];
	if (ev != NULL)
		memset(ev, 0, sizeof *ev);
	else
#endif
		ev = xcalloc(1, sizeof *ev);
	ev->type = type;
	ev->latency_ms = -1;
	ev->ctx.idle_ms = -1;
	ev->dir = -1;
	return ev;
}

struct event *
event_new_packet(const struct timeval *ts, int linktype, const uint8_t *data,
    uint32_t caplen, uint32_t len)
{
	struct event *ev = xmalloc(EVENT_PACKET_HEAD + caplen);

	memset(ev, 0, EVENT_PACKET_HEAD);
	ev->type = EV_PACKET;
	ev->ts = *ts;
	ev->pkt_ts = *ts;
	ev->pkt_len = len;
	ev->pkt_caplen = caplen;
	ev->linktype = linktype;
	ev->pkt_data = (uint8_t *)ev + EVENT_PACKET_HEAD;
	if (caplen > 0)
		memcpy(ev->pkt_data, data, caplen);
	return ev;
}

size_t
event_arg_len(const struct event *ev)
{
	if (ev->arg == NULL)
		return 0;
	return ev->arg_len > 0 ? ev->arg_len : strlen(ev->arg);
}

struct event *
event_new_anomaly(
    const struct timeval *ts, const char *what, const char *detail)
{
	struct event *ev = event_new(EV_ANOMALY);

	ev->ts = *ts;
	ev->what = what;
	if (detail != NULL)
		ev->detail = xstrdup(detail);
	return ev;
}

char *
event_diag_why(const struct event_diag *d, size_t max_evidence)
{
	size_t len = 0, cap = 64, i, n;
	char *s;

	n = d->n_evidence < max_evidence ? d->n_evidence : max_evidence;
	for (i = 0; i < n; i++)
		cap += strlen(d->evidence[i]) + 2;
	cap += d->cause != NULL ? strlen(d->cause) : 8;
	s = xmalloc(cap);
	len = (size_t)snprintf(s, cap, "%s (%s)",
	    d->cause != NULL ? d->cause : "unknown",
	    d->confidence != NULL ? d->confidence : "guess");
	for (i = 0; i < n && len < cap; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s%s",
		    i == 0 ? ": " : "; ", d->evidence[i]);
	return s;
}

void
event_diag_free(struct event_diag *d)
{
	if (d == NULL)
		return;
	free(d->rule);
	free(d->title);
	free(d->meaning);
	free(d->when);
	free(d->fix_sender);
	free(d->fix_operator);
	free(d->cause);
	for (size_t i = 0; i < d->n_evidence; i++)
		free(d->evidence[i]);
	free(d->evidence);
	free(d);
}

static void
event_strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

#define EVENT_FREE(p)                                                          \
	do {                                                                   \
		if ((p) != NULL)                                               \
			free(p);                                               \
	} while (0)

void
event_free(struct event *ev)
{
	if (ev == NULL)
		return;
	if (ev->type == EV_PACKET) {
		/* Its data follows it, or was given apart (event_new). */
		if (ev->pkt_data != (uint8_t *)ev + EVENT_PACKET_HEAD)
			free(ev->pkt_data);
		free(ev);
		return;
	}
	/* Most fields are NULL for a given type: a call to free(NULL) per
	   field cost more than all the real frees of a short event. */
	EVENT_FREE(ev->arg);
	EVENT_FREE(ev->text);
	if (ev->diag != NULL)
		event_diag_free(ev->diag);
	EVENT_FREE(ev->ctx.greeting);
	EVENT_FREE(ev->ctx.helo);
	EVENT_FREE(ev->ctx.last_arg);
	EVENT_FREE(ev->ctx.mail_from);
	EVENT_FREE(ev->ctx.rcpt);
	EVENT_FREE(ev->mail_from);
	if (ev->rcpt_accepted != NULL)
		event_strv_free(ev->rcpt_accepted, ev->n_accepted);
	if (ev->rcpt_rejected != NULL)
		event_strv_free(ev->rcpt_rejected, ev->n_rejected);
	EVENT_FREE(ev->queue_id);
	EVENT_FREE(ev->version);
	EVENT_FREE(ev->cipher);
	EVENT_FREE(ev->sni);
	EVENT_FREE(ev->alpn);
	EVENT_FREE(ev->cert_subject);
	EVENT_FREE(ev->cert_issuer);
	EVENT_FREE(ev->cert_san);
	EVENT_FREE(ev->cert_not_after);
	EVENT_FREE(ev->cert_problems);
	EVENT_FREE(ev->alert);
	EVENT_FREE(ev->reason);
	EVENT_FREE(ev->detail);
	EVENT_FREE(ev->program);
	EVENT_FREE(ev->codes);
#if EVENT_SPARES > 0
	if (event_nspare < EVENT_SPARES) {
		event_spare[event_nspare++] = ev;
		ev = NULL;
	}
#endif
	free(ev);
}

void
event_thread_done(void)
{
#if EVENT_SPARES > 0
	while (event_nspare > 0)
		free(event_spare[--event_nspare]);
#endif
}

static char *
dupornull(const char *s)
{
	return s == NULL ? NULL : xstrdup(s);
}

static char **
strv_dup(char **v, size_t n)
{
	char **r;
	size_t i;

	if (v == NULL)
		return NULL;
	r = xcalloc(n == 0 ? 1 : n, sizeof *r);
	for (i = 0; i < n; i++)
		r[i] = dupornull(v[i]);
	return r;
}

struct event *
event_dup(const struct event *src)
{
	struct event *ev;

	if (src->type == EV_PACKET) {
		ev = event_new_packet(&src->pkt_ts, src->linktype,
		    src->pkt_data, src->pkt_caplen, src->pkt_len);
		ev->ts = src->ts;
		ev->session = src->session;
		return ev;
	}
	ev = xmalloc(sizeof *ev);
	*ev = *src;
	ev->arg_len = event_arg_len(src);
	ev->arg = src->arg == NULL ? NULL : xmemdup0(src->arg, ev->arg_len);
	ev->text =
	    src->text == NULL ? NULL : xmemdup0(src->text, src->text_len);
	if (src->diag != NULL) {
		ev->diag = xcalloc(1, sizeof *ev->diag);
		ev->diag->rule = dupornull(src->diag->rule);
		ev->diag->title = dupornull(src->diag->title);
		ev->diag->meaning = dupornull(src->diag->meaning);
		ev->diag->when = dupornull(src->diag->when);
		ev->diag->fix_sender = dupornull(src->diag->fix_sender);
		ev->diag->fix_operator = dupornull(src->diag->fix_operator);
		ev->diag->cause = dupornull(src->diag->cause);
		ev->diag->confidence = src->diag->confidence;
		if (src->diag->n_evidence > 0) {
			size_t i;

			ev->diag->evidence = xcalloc(
			    src->diag->n_evidence, sizeof *ev->diag->evidence);
			for (i = 0; i < src->diag->n_evidence; i++)
				ev->diag->evidence[i] =
				    xstrdup(src->diag->evidence[i]);
			ev->diag->n_evidence = src->diag->n_evidence;
		}
	}
	ev->ctx.greeting = dupornull(src->ctx.greeting);
	ev->ctx.helo = dupornull(src->ctx.helo);
	ev->ctx.last_arg = dupornull(src->ctx.last_arg);
	ev->ctx.mail_from = dupornull(src->ctx.mail_from);
	ev->ctx.rcpt = dupornull(src->ctx.rcpt);
	ev->mail_from = dupornull(src->mail_from);
	ev->rcpt_accepted = strv_dup(src->rcpt_accepted, src->n_accepted);
	ev->rcpt_rejected = strv_dup(src->rcpt_rejected, src->n_rejected);
	ev->queue_id = dupornull(src->queue_id);
	ev->version = dupornull(src->version);
	ev->cipher = dupornull(src->cipher);
	ev->sni = dupornull(src->sni);
	ev->alpn = dupornull(src->alpn);
	ev->cert_subject = dupornull(src->cert_subject);
	ev->cert_issuer = dupornull(src->cert_issuer);
	ev->cert_san = dupornull(src->cert_san);
	ev->cert_not_after = dupornull(src->cert_not_after);
	ev->cert_problems = dupornull(src->cert_problems);
	ev->alert = dupornull(src->alert);
	ev->reason = dupornull(src->reason);
	ev->detail = dupornull(src->detail);
	ev->program = dupornull(src->program);
	if (src->codes != NULL) {
		ev->codes = xcalloc(src->n_codes + 1, sizeof *ev->codes);
		memcpy(ev->codes, src->codes, src->n_codes * sizeof *ev->codes);
	}
	return ev;
}

void
event_format_ts(char *buf, size_t len, const struct timeval *ts)
{
	/* Events come in bursts within one second: format the seconds once
	   per thread and per second. */
	static _Thread_local time_t cached = -1;
	static _Thread_local char tmp[32];
	static _Thread_local size_t tmp_len;
	time_t t = ts->tv_sec;
	struct tm tm;
	long us = (long)ts->tv_usec;
	char frac[9];
	size_t n, m;
	int i;

	if (t != cached) {
		if (gmtime_r(&t, &tm) == NULL)
			memset(&tm, 0, sizeof tm);
		strftime(tmp, sizeof tmp, "%Y-%m-%dT%H:%M:%S", &tm);
		tmp_len = strlen(tmp);
		cached = t;
	}
	if (us < 0 || us > 999999)
		us = 0;
	frac[0] = '.';
	for (i = 6; i >= 1; i--) {
		frac[i] = (char)('0' + us % 10);
		us /= 10;
	}
	frac[7] = 'Z';
	frac[8] = '\0';
	/* snprintf(buf, len, "%s%s", tmp, frac), at a fraction of its cost */
	if (len == 0)
		return;
	n = tmp_len;
	if (n > len - 1)
		n = len - 1;
	memcpy(buf, tmp, n);
	m = len - 1 - n < sizeof frac - 1 ? len - 1 - n : sizeof frac - 1;
	memcpy(buf + n, frac, m);
	buf[n + m] = '\0';
}

const char *
event_plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

const char *
event_type_name(enum event_type t)
{
	switch (t) {
	case EV_SESSION_OPEN:
		return "session_open";
	case EV_COMMAND:
		return "command";
	case EV_REPLY:
		return "reply";
	case EV_MESSAGE:
		return "message";
	case EV_TLS:
		return "tls";
	case EV_GAP:
		return "gap";
	case EV_ANOMALY:
		return "anomaly";
	case EV_SESSION_CLOSE:
		return "session_close";
	case EV_STATS:
		return "stats";
	case EV_LOG:
		return "log";
	case EV_PACKET:
		return "packet";
	}
	return "unknown";
}

struct event_queue {
	pthread_mutex_t lock;
	pthread_cond_t room;
	struct event **ring;
	size_t cap, head, n;
	size_t bytes, max_bytes; /* event_size() of what is queued */
	uint64_t dropped, dropped_packets;
	int closed;
	int pipe[2];
	int signalled;
};

size_t
event_size(const struct event *ev)
{
	size_t n;

	if (ev->type == EV_PACKET)
		return EVENT_PACKET_HEAD + ev->pkt_caplen;
	n = sizeof *ev + ev->text_len;
	if (ev->arg != NULL)
		n += event_arg_len(ev) + 1;
	if (ev->diag != NULL)
		n += sizeof *ev->diag + EVENT_DIAG_SIZE_GUESS;
	return n;
}

struct event_queue *
event_queue_new(size_t cap)
{
	struct event_queue *q = xcalloc(1, sizeof *q);
	int i;

	if (cap == 0)
		cap = 1;
	q->cap = cap;
	q->max_bytes = SIZE_MAX;
	q->ring = xcalloc(cap, sizeof *q->ring);
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->room, NULL);
	if (pipe(q->pipe) != 0)
		fatalx("pipe: %s", strerror(errno));
	for (i = 0; i < 2; i++) {
		fcntl(q->pipe[i], F_SETFL,
		    fcntl(q->pipe[i], F_GETFL) | O_NONBLOCK);
		fcntl(q->pipe[i], F_SETFD, FD_CLOEXEC);
	}
	return q;
}

void
event_queue_limit_bytes(struct event_queue *q, size_t max_bytes)
{
	pthread_mutex_lock(&q->lock);
	q->max_bytes = max_bytes == 0 ? SIZE_MAX : max_bytes;
	pthread_mutex_unlock(&q->lock);
}

void
event_queue_free(struct event_queue *q)
{
	struct event *ev;

	if (q == NULL)
		return;
	while ((ev = event_queue_pop(q)) != NULL)
		event_free(ev);
	close(q->pipe[0]);
	close(q->pipe[1]);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->room);
	free(q->ring);
	free(q);
}

/*
 * Room for ev (lock held)?  A packet copy may fill the queue only to three
 * quarters, by count and by bytes: a burst of packets kept for the UI's save
 * never crowds out the replies and commands that the screen shows.
 */
static bool
event_queue_fits(
    const struct event_queue *q, const struct event *ev, size_t size)
{
	size_t cap = q->cap, bytes = q->max_bytes;

	if (ev->type == EV_PACKET) {
		cap -= cap / 4;
		bytes -= bytes / 4;
	}
	/* One event always fits an empty queue, whatever its size. */
	return q->n < cap && (q->n == 0 || q->bytes + size <= bytes);
}

size_t
event_queue_push_batch(
    struct event_queue *q, struct event **evs, size_t n, bool may_block)
{
	size_t i, size, dropped = 0;
	int wake = 0;

	pthread_mutex_lock(&q->lock);
	for (i = 0; i < n; i++) {
		size = event_size(evs[i]);
		while (may_block && !q->closed &&
		       !event_queue_fits(q, evs[i], size))
			pthread_cond_wait(&q->room, &q->lock);
		if (q->closed || !event_queue_fits(q, evs[i], size)) {
			if (evs[i]->type == EV_PACKET)
				q->dropped_packets++;
			else
				q->dropped++;
			dropped++;
			event_free(evs[i]);
			evs[i] = NULL;
			continue;
		}
		q->ring[(q->head + q->n) % q->cap] = evs[i];
		q->n++;
		q->bytes += size;
		evs[i] = NULL;
		if (!q->signalled) {
			q->signalled = 1;
			wake = 1;
		}
	}
	pthread_mutex_unlock(&q->lock);
	if (wake) {
		ssize_t w = write(q->pipe[1], "", 1);
		(void)w; /* a full pipe already wakes the reader */
	}
	return dropped;
}

int
event_queue_push(struct event_queue *q, struct event *ev, bool may_block)
{
	return event_queue_push_batch(q, &ev, 1, may_block) == 0 ? 0 : -1;
}

size_t
event_queue_pop_batch(struct event_queue *q, struct event **out, size_t max)
{
	size_t i;

	pthread_mutex_lock(&q->lock);
	for (i = 0; i < max && q->n > 0; i++) {
		out[i] = q->ring[q->head];
		q->ring[q->head] = NULL;
		q->head = (q->head + 1) % q->cap;
		q->n--;
		q->bytes -= event_size(out[i]);
	}
	if (i > 0)
		pthread_cond_broadcast(&q->room);
	pthread_mutex_unlock(&q->lock);
	return i;
}

struct event *
event_queue_pop(struct event_queue *q)
{
	struct event *ev;

	return event_queue_pop_batch(q, &ev, 1) == 1 ? ev : NULL;
}

int
event_queue_fd(struct event_queue *q)
{
	return q->pipe[0];
}

void
event_queue_ack(struct event_queue *q)
{
	char buf[64];

	pthread_mutex_lock(&q->lock);
	q->signalled = 0;
	pthread_mutex_unlock(&q->lock);
	while (read(q->pipe[0], buf, sizeof buf) > 0)
		;
}

uint64_t
event_queue_dropped(struct event_queue *q)
{
	uint64_t d;

	pthread_mutex_lock(&q->lock);
	d = q->dropped;
	pthread_mutex_unlock(&q->lock);
	return d;
}

uint64_t
event_queue_dropped_packets(struct event_queue *q)
{
	uint64_t d;

	pthread_mutex_lock(&q->lock);
	d = q->dropped_packets;
	pthread_mutex_unlock(&q->lock);
	return d;
}

void
event_queue_close(struct event_queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->closed = 1;
	pthread_cond_broadcast(&q->room);
	pthread_mutex_unlock(&q->lock);
}
