#ifndef SMTPSCOPE_FLOW_H
#define SMTPSCOPE_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include "decode.h"
#include "reasm.h"

/*
 * The flow table: TCP connections on SMTP ports, each with two reassembly
 * directions (client to server, server to client).  The server side is the
 * one that answered the SYN; with no SYN seen (capture started mid-stream),
 * the side using an SMTP port.  Flows close on FIN from both sides or RST,
 * idle flows time out, and the number of flows is capped.
 */

#define FLOW_MAX_DEFAULT 65536
#define FLOW_OOO_TOTAL_DEFAULT (256u * 1024 * 1024)
#define FLOW_IDLE_TIMEOUT_DEFAULT 600 /* seconds */

enum flow_close_reason {
	FLOW_CLOSE_FIN,
	FLOW_CLOSE_RST,
	FLOW_CLOSE_TIMEOUT,
	FLOW_CLOSE_EVICTED, /* the flow cap made room */
	FLOW_CLOSE_END,	    /* end of capture */
};

struct flow_config {
	const uint16_t *ports; /* SMTP ports (server side) */
	size_t n_ports;
	size_t max_flows;
	size_t ooo_per_dir;    /* out-of-order bytes per direction */
	size_t ooo_total;      /* out-of-order bytes over all flows */
	unsigned idle_timeout; /* seconds */
	/* -P any: every TCP connection is followed; the server is the
	   SYN's destination (mid-stream: the lower port), and a flow gets
	   its session id only from flow_assign_id(), once the consumer has
	   seen SMTP in it. */
	bool any_port;
};

/* flow_input's answer for a packet of a half-open connection (a SYN whose
   handshake is not complete yet): not a session (yet). */
#define FLOW_ID_HALF_OPEN UINT64_MAX

struct flow {
	uint64_t id; /* 1, 2, ... in order of the sessions' opening; 0 while
			half-open */
	int af;
	uint8_t client[16], server[16];
	uint16_t cport, sport;
	bool syn_seen;	       /* the handshake was seen */
	bool midstream;	       /* picked up without a SYN */
	struct timeval syn_ts; /* client's SYN, when seen */
	struct timeval first_ts, last_ts;
	struct reasm dir[2]; /* EV_DIR_CLIENT, EV_DIR_SERVER */
	bool fin[2], rst;
	/* Per direction, from the TCP headers alone (what a header-only
	   capture still tells): packets, payload bytes by the headers,
	   payload bytes captured, and segments that carried nothing above
	   the highest sequence number seen (retransmissions). */
	uint64_t pkts[2], wire_bytes[2], cap_bytes[2], retrans[2];
	void *user; /* the pipeline's per-session state */
	void *pre;  /* the pipeline's, while half-open (before open) */
	/* private to flow.c */
	void *priv;
};

struct flow_ops {
	void (*open)(void *arg, struct flow *, const struct timeval *ts);
	/* In-order bytes of one direction; data borrowed for the call. */
	void (*data)(void *arg, struct flow *, int dir, const uint8_t *data,
	    size_t len, const struct timeval *ts);
	void (*gap)(void *arg, struct flow *, int dir, uint64_t bytes,
	    const struct timeval *ts);
	/* The flow is going away after this call (f->user must be freed). */
	void (*close)(void *arg, struct flow *, enum flow_close_reason,
	    const struct timeval *ts);
	/* what: an EV_ANOM_* constant; f may be NULL */
	void (*anomaly)(void *arg, struct flow *, const char *what,
	    const char *detail, const struct timeval *ts);
	/* A half-open connection ended without becoming a session (never
	   opened): f->pre must be freed.  May be NULL. */
	void (*aborted)(void *arg, struct flow *, enum flow_close_reason,
	    const struct timeval *ts);
	/* Optional hint (flow_prefetch): f->user (not NULL) will be needed
	   soon.  Level 1: the state f->user points to is asked for; level
	   2, a packet later, what that state points to; level 3 one more
	   step down. */
	void (*prefetch)(void *arg, const struct flow *, int level);
};

struct flow_stats {
	uint64_t flows;	  /* sessions opened */
	uint64_t aborted; /* half-open connections that ended so */
	uint64_t active;
	uint64_t cap_flows; /* flows evicted by the cap */
	uint64_t cap_ooo;   /* times an out-of-order cap forced a gap */
	uint64_t gap_bytes;
	uint64_t fragments;
};

/* The JSON name of a close reason (EVENTS in doc/smtpscope.1): "fin", "rst",
   "timeout", "evicted", "end-of-capture".  Static; never fails. */
const char *flow_close_reason_name(enum flow_close_reason);
/* Defaults for a busy MTA. */
void flow_config_default(struct flow_config *);
/* Never fails; ops and arg are borrowed for the table's lifetime. */
struct flow_table *flow_table_new(
    const struct flow_config *, const struct flow_ops *, void *arg);
/* Frees every flow without callbacks; NULL is fine. */
void flow_table_free(struct flow_table *);
/* Feed one decoded TCP segment.  Returns the id of the flow it belonged to
   (the flow may be closed on return, or already closed before: the last
   ACK of a connection still belongs to it), FLOW_ID_HALF_OPEN for a
   connection whose handshake is not complete, 0 when it belongs to none
   (not an SMTP port, or a lone ACK/FIN/RST of a connection never seen). */
uint64_t flow_input(struct flow_table *, const struct decode_pkt *);
/* The same, with the packet's hash that flow_prefetch returned for it. */
uint64_t flow_input_hashed(
    struct flow_table *, const struct decode_pkt *, uint32_t hval);
/* The open or half-open flow of the last flow_input's packet, NULL when
   none (or it has closed).  Valid until the next call into the table. */
struct flow *flow_last(struct flow_table *);
/* Whether f's handshake completed (the open callback ran). */
bool flow_is_open(const struct flow *);
/* Time out idle flows (call with capture time). */
void flow_expire(struct flow_table *, const struct timeval *now);
/* End of capture: declare pending holes as gaps, close every flow. */
void flow_finish(struct flow_table *, const struct timeval *now);
/* The flow a decoded packet belongs to, or NULL. */
struct flow *flow_lookup(struct flow_table *, const struct decode_pkt *);
/* A hint (p NULL: not a TCP/IP packet): p's flow will be looked up soon.
   Returns p's hash, for flow_input_hashed (0 for NULL). */
uint32_t flow_prefetch(struct flow_table *, const struct decode_pkt *);
const struct flow_stats *flow_table_stats(const struct flow_table *);
/* Heap bytes of the table: entries (tombstones included), buckets and the
   out-of-order bytes held.  Never fails. */
size_t flow_table_mem(const struct flow_table *);
/* What one open flow holds: its entry and its out-of-order bytes. */
size_t flow_mem(const struct flow *);
/*
 * Under memory pressure: the holes of both directions become gaps now and
 * the bytes held behind them are delivered (through ops->gap and ops->data,
 * so the consumer must not be in a callback of this table).  Returns the
 * out-of-order bytes released.
 */
size_t flow_trim(struct flow_table *, struct flow *, const struct timeval *ts);
/*
 * Close the least recently active flow as "evicted", after an anomaly
 * (what, an EV_ANOM_* constant, and detail) on it.  Returns false when no
 * flow is open.  Same rule as flow_trim about callbacks.
 */
bool flow_evict_oldest(struct flow_table *, const struct timeval *ts,
    const char *what, const char *detail);
bool flow_is_smtp_port(const struct flow_config *, uint16_t port);
/* With any_port: number f as the next session (ids stay dense and in the
   order sessions are recognised).  Returns the id; never fails. */
uint64_t flow_assign_id(struct flow_table *, struct flow *);

#endif
