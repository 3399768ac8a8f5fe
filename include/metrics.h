#ifndef SMTPSCOPE_METRICS_H
#define SMTPSCOPE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

/*
 * --metrics: counters fed from the events the pipeline emits, rendered in
 * the Prometheus text exposition format (version 0.0.4) by the HTTP thread
 * of metrics_http.c.
 *
 * One thread writes (the one that drives the pipeline: the main thread
 * headless, the capture thread under the UI); any thread may render.  The
 * counters are relaxed atomics, so an update never waits; only the table of
 * server addresses takes a mutex, when a 421 or 452 arrives.
 *
 * Label sets are bounded by compile-time caps:
 */
/* Servers with their own series in smtpscope_server_replies_total: the
   first METRICS_SERVERS_MAX addresses that got a 421 or 452; later ones
   are counted as server="other" (a counter's series never moves). */
#define METRICS_SERVERS_MAX 20
/* Reply codes are counted from 0 to 999 (three digits). */
#define METRICS_CODES 1000
/* Buckets of smtpscope_reply_latency_seconds (upper bounds, seconds). */
#define METRICS_LATENCY_BUCKETS 14

struct metrics;

/* A new set of zeroed counters.  Never fails. */
struct metrics *metrics_new(void);
void metrics_free(struct metrics *);

/* Count one event (sessions, replies, messages, TLS, anomalies). */
void metrics_event(struct metrics *, const struct event *);
/* One captured packet of len bytes on the wire. */
void metrics_packet(struct metrics *, uint32_t len);
/* len bytes of SMTP session payload in direction dir (EV_DIR_*). */
void metrics_payload(struct metrics *, int dir, size_t len);
/* The kernel's drop count and the events smtpscope dropped on its own
   queue (UI), both totals so far. */
void metrics_drops(struct metrics *, uint64_t kernel, uint64_t queue);

/* The exposition text, NUL-terminated; *len its length.  Caller frees. */
char *metrics_render(struct metrics *, size_t *len);

/*
 * Helpers, public for the unit tests.
 */
/* A label value escaped for the exposition format (backslash, double quote
   and newline), and bytes that are not printable ASCII as \xHH so the text
   stays valid UTF-8; truncated to fit dst (size > 0).  Returns the length
   written. */
size_t metrics_escape(char *dst, size_t size, const char *src);
/* The bucket index of a latency in seconds: the first bound >= it, or
   METRICS_LATENCY_BUCKETS for +Inf. */
size_t metrics_latency_bucket(double seconds);
/* Upper bound of bucket i (< METRICS_LATENCY_BUCKETS), in seconds. */
double metrics_latency_bound(size_t i);
/* The label of a reply's `answers` in the latency histogram: one of a
   fixed set, "other" for the rest, "none" for null. */
const char *metrics_command_label(const char *answers);
/* The reason label of a TLS event that could not be decrypted. */
const char *metrics_decrypt_reason(const char *reason);

#endif
