#ifndef SMTPSCOPE_PIPELINE_H
#define SMTPSCOPE_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include "diag.h"
#include "event.h"
#include "flow.h"
#include "keylog.h"

struct metrics;

/*
 * The glue of the capture side: packet -> decode -> flow/reassembly ->
 * (TLS) -> SMTP -> diagnosis -> events.  One pipeline is driven by one
 * thread.  Events are handed to emit with the session header stamped, in
 * capture order.
 */

#define PIPELINE_PORTS_MAX 64

struct pipeline_config {
	uint16_t ports[PIPELINE_PORTS_MAX]; /* SMTP ports */
	size_t n_ports;
	uint16_t tls_ports[PIPELINE_PORTS_MAX]; /* implicit TLS ports */
	size_t n_tls_ports;
	bool show_auth;
	bool keep_packets; /* emit EV_PACKET copies (UI save) */
	struct flow_config flow;
	/* Bytes the capture side may hold (flows, reassembly, SMTP, TLS);
	   0: no budget (per-session caps only). */
	size_t memory;
	/* --metrics: every event, packet and payload byte is counted here
	   (borrowed; NULL: off). */
	struct metrics *metrics;
	/* The diagnosis and the --metrics count of each event are left to
	   whoever takes the events, through pipeline_event_finish, in the
	   order they were emitted (headless output on its own thread). */
	bool defer_finish;
};

typedef void (*pipeline_emit_fn)(void *arg, struct event *take);

struct pipeline;

/* Defaults: ports 25,465,587; TLS port 465; flow defaults. */
void pipeline_config_default(struct pipeline_config *);
/* diag and keylog borrowed (keylog may be NULL).  Never fails. */
struct pipeline *pipeline_new(const struct pipeline_config *, struct diag *,
    struct keylog *, pipeline_emit_fn, void *arg);
void pipeline_free(struct pipeline *);
/*
 * What happens to an event between the session and the sink: its diagnosis
 * (replies, session open and close: diag state follows the events in
 * order), then the --metrics count (metrics may be NULL).  The pipeline
 * calls it itself unless defer_finish is set; then the taker must, once for
 * every event, in the order emitted, and may on another thread (diag is
 * then touched by that thread only).
 */
void pipeline_event_finish(struct diag *, struct metrics *, struct event *);
/* One captured frame; data borrowed. */
/* A packet that pipeline_packet will get soon (capture_peek_fn). */
void pipeline_peek(
    struct pipeline *, int linktype, const uint8_t *data, uint32_t caplen);
void pipeline_packet(struct pipeline *, int linktype, const struct timeval *ts,
    const uint8_t *data, uint32_t caplen, uint32_t len);
/* Periodic work with the current capture time: idle timeouts, key log. */
void pipeline_tick(struct pipeline *, const struct timeval *now);
/* End of capture: close every session ("end-of-capture"). */
void pipeline_finish(struct pipeline *);
/* Fill an EV_STATS event's counters (packets, bytes, sessions, caps). */
void pipeline_fill_stats(struct pipeline *, struct event *);
/* Heap bytes held by flows and sessions, as the budget counts them. */
size_t pipeline_mem(const struct pipeline *);
/* The session the last packet belonged to, 0 when none. */
uint64_t pipeline_last_session(const struct pipeline *);
/* The last packet belonged to a session or to a connection attempt on an
   SMTP port whose handshake is not complete (for -w). */
bool pipeline_last_smtp(const struct pipeline *);

/*
 * TCP traffic outside the SMTP ports, counted by its likely server port (the
 * destination of a SYN, else the lower port), so that a capture with no SMTP
 * session can say which -P would find one.
 */
struct pipeline_port {
	uint16_t port;
	uint64_t packets;
};
/* The busiest such ports, busiest first (at most max); returns how many. */
size_t pipeline_other_ports(
    const struct pipeline *, struct pipeline_port *, size_t max);
/*
 * The run's closing hint, written to buf (truncated to len): when sessions
 * were seen from their packet headers only, "2 of 2 sessions had no payload
 * captured ...: capture with -s 0"; else, while no SMTP session was seen
 * but TCP traffic was, on other ports, the hint that names them, "no SMTP
 * session on ports 25,465,587; TCP traffic on port 2525 (40 packets): try
 * -P 2525".  Returns false, buf untouched, when there is nothing to say.
 */
bool pipeline_no_session_hint(const struct pipeline *, char *buf, size_t len);

#endif
