#ifndef SMTPSCOPE_EVENT_H
#define SMTPSCOPE_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

/*
 * Events: the self-contained records that flow from the pipeline (capture
 * thread) to the front ends (main thread).  An event owns every string it
 * points to; event_free() releases them.  The JSON names (EVENTS in
 * doc/smtpscope.1) are produced from these fields by out_json.c.
 *
 * Also here: the bounded, thread-safe event queue with a wake-up pipe.
 */

enum event_type {
	EV_SESSION_OPEN,
	EV_COMMAND,
	EV_REPLY,
	EV_MESSAGE,
	EV_TLS,
	EV_GAP,
	EV_ANOMALY,
	EV_SESSION_CLOSE,
	EV_STATS,
	EV_LOG,	   /* a line of the MTA's log (--maillog) */
	EV_PACKET, /* internal: a raw packet of a session, for the UI's save */
};

/* Direction of bytes within a session. */
#define EV_DIR_CLIENT 0 /* client to server */
#define EV_DIR_SERVER 1 /* server to client */

/* Diagnosis attached to a reply (the JSON "diagnosis"); all strings owned. */
struct event_diag {
	char *rule;
	char *title;
	char *meaning;
	char *when;
	char *fix_sender;
	char *fix_operator;
	char *cause;	 /* a kb_causes id, never NULL */
	char **evidence; /* the facts it rests on, each a few words */
	size_t n_evidence;
	const char *confidence; /* static: "certain", "likely" or "guess" */
};

#define EVENT_DIAG_EVIDENCE_MAX 8

/*
 * What the SMTP engine knew when a reply arrived: the input of the diagnosis
 * rules.  Counts are for the current transaction unless said otherwise.
 */
struct event_reply_ctx {
	unsigned rcpt_seen;	/* RCPT commands answered so far, incl. this */
	unsigned rcpt_accepted; /* RCPTs that got 2xx before this reply */
	unsigned rcpt_rejected; /* RCPTs that got 4xx/5xx before this */
	unsigned messages;	/* messages completed in this session */
	uint64_t mail_size;	/* MAIL FROM SIZE=, 0 when absent */
	uint64_t ehlo_size;	/* SIZE advertised in EHLO, 0 when none */
	uint64_t data_bytes;	/* bytes of the message, for DATA-END */
	double idle_ms;		/* silence before this reply, -1 unknown */
	double session_ms;	/* time since the session began */
	bool in_transaction;	/* MAIL accepted, not yet finished */
	bool tls_active;	/* after a successful STARTTLS, or implicit */
	bool pipelining;	/* the client had >1 command outstanding */
	bool unsolicited;	/* no command was outstanding */
	/* For a 4xx/5xx reply only (NULL for others: only the diagnosis
	   of a failure reads them): */
	char *greeting; /* text of the 220/421/554 greeting, owned */
	char *helo;	/* EHLO/HELO argument, owned, may be NULL */
	char *last_arg; /* argument of the answered command, owned */
	/* Envelope sender of the transaction the reply belongs to: the
	   address MAIL named when the reply answers MAIL, else that of the
	   transaction in progress; "" for the null sender <>; NULL when
	   there is none.  Owned. */
	char *mail_from;
	/* For a reply to RCPT, the address that RCPT named; else NULL.
	   Owned. */
	char *rcpt;
};

struct event_code_count {
	int code;
	unsigned count;
};

struct event {
	enum event_type type;
	struct timeval ts;
	uint64_t session; /* from 1 in order of first packet; 0 for stats */

	/* EV_PACKET: a copy of one captured packet.  A packet event is
	   allocated only up to client (EVENT_PACKET_HEAD bytes, see
	   event_new_packet): nothing reads a field after this block before
	   it has checked the type. */
	struct timeval pkt_ts;
	uint32_t pkt_len; /* original length */
	uint32_t pkt_caplen;
	uint8_t *pkt_data;
	int linktype;

	char client[64]; /* "192.0.2.1:51234" or "[2001:db8::1]:25" */
	char server[64];

	/* EV_SESSION_OPEN */
	bool tls_implicit;
	bool midstream;

	/* EV_COMMAND (verb, arg, encrypted) and EV_REPLY */
	char verb[16]; /* upper case */
	char *arg;     /* already masked for AUTH; may hold NUL bytes
			  (arg_len is its length, a NUL follows it) */
	size_t arg_len;
	bool encrypted;

	/* EV_REPLY; for EV_MESSAGE the code of the final reply */
	int code;
	char enhanced[16]; /* "" means null */
	char *text;	   /* lines' text joined with "\n" (raw bytes) */
	size_t text_len;
	unsigned lines;
	char answers[16]; /* "" means null */
	bool highlight;
	bool cut; /* a hole in the capture (snapshot length, loss) ended
		     the reply (or command) early: its text is incomplete */
	double latency_ms;	 /* < 0 means null */
	struct event_diag *diag; /* NULL when none */
	/* Internal: a session's event whose diagnosis is still to be made
	   (pipeline_event_finish), set when the pipeline defers it. */
	bool diagnose;
	struct event_reply_ctx ctx;

	/* EV_MESSAGE */
	uint64_t bytes;
	char *mail_from;
	char **rcpt_accepted;
	size_t n_accepted;
	char **rcpt_rejected;
	size_t n_rejected;
	char *queue_id; /* NULL means null */

	/* EV_TLS: NULL strings are null in JSON */
	const char *phase; /* static: "starttls", "handshake", ... */
	char *version;
	char *cipher;
	char *sni;
	char *alpn;
	char *cert_subject;
	char *cert_issuer;
	char *cert_san;
	char *cert_not_after; /* RFC 3339 */
	char *cert_problems;  /* "expired,self-signed", NULL when none */
	char *alert;	      /* "fatal handshake_failure" */
	bool decrypted;
	char *reason;

	/* EV_GAP (dir, bytes) and EV_ANOMALY (what, detail) */
	int dir;
	const char *what; /* static, from the anomaly table */
	char *detail;	  /* optional, owned */

	/* EV_SESSION_CLOSE */
	const char *close_reason; /* static: "quit", "fin", ... */
	/* The capture kept no byte of the session's payload (a header-only
	   snapshot length): what its packets tell, per EV_DIR_*. */
	bool no_payload;
	uint64_t dir_pkts[2], dir_bytes[2], dir_retrans[2];
	double duration;
	unsigned commands, replies, messages;
	struct event_code_count *codes;
	size_t n_codes;

	/* EV_STATS */
	uint64_t packets, pkt_bytes, sessions, dropped;
	double elapsed;
	/* Counters of every cap hit, for the stats line ("caps" object). */
	uint64_t cap_flows, cap_ooo, cap_line, cap_tls;
	/* Sessions trimmed and evicted for the memory budget; connection
	   attempts that never completed a handshake (not sessions).  An
	   EV_ANOMALY EV_ANOM_NO_HANDSHAKE (one server's interval) gives its
	   own count in no_handshake, and in sources about how many client
	   addresses made them (JSON "attempts" and "sources"). */
	uint64_t cap_mem_trim, cap_mem_evict, no_handshake, sources;

	/* EV_LOG: the line is text/text_len, queue_id the MTA's queue id;
	   session 0 when it was not joined to one. */
	char *program;	  /* "postfix/smtpd", owned */
	const char *join; /* static: a MAILLOG_JOIN_* string */
	/* EV_LOG evidence: the line names the reason for the session's
	   latest 421 or 452 (log_code 0: it does not).  Static strings:
	   log_cause and log_diag_cause are kb_causes ids, log_says the words
	   of the line that name it; log_diag_cause is the cause the reply's
	   diagnosis gave, NULL when it had none. */
	int log_code;
	struct timeval log_reply_ts;
	const char *log_cause, *log_says, *log_diag_cause;
	/* EV_LOG of an outbound delivery: what became of the message
	   (static "sent", "deferred", "bounced"; NULL for other lines), the
	   attempt this is for its queue id and recipient (1: the first the
	   log showed), and the time of the attempt before it. */
	const char *log_outcome;
	unsigned log_attempt;
	struct timeval log_prev_attempt;
};

/* A new zeroed event of the given type (latency_ms = -1); for EV_PACKET
   the short event of event_new_packet without data.  Never fails. */
struct event *event_new(enum event_type);
/* The bytes of a packet event (EV_PACKET) before its data. */
#define EVENT_PACKET_HEAD offsetof(struct event, client)
/* A packet event of session 0: the fields up to client, then a copy of
   the caplen bytes of data in the same block (pkt_data points there).  A
   packet is kept per captured packet in the UI, and the other fields of an
   event, 800 bytes, cost more than the packet.  Never fails. */
struct event *event_new_packet(const struct timeval *ts, int linktype,
    const uint8_t *data, uint32_t caplen, uint32_t len);
/* A new anomaly event: what is an EV_ANOM_* constant, detail (copied) may
   be NULL.  Never fails. */
struct event *event_new_anomaly(
    const struct timeval *ts, const char *what, const char *detail);
/* Length of ev->arg: arg_len, or up to its NUL for an event made without
   arg_len; 0 when arg is NULL.  Never fails. */
size_t event_arg_len(const struct event *);
/* Free an event and everything it owns; NULL is fine. */
void event_free(struct event *);
/* Release the calling thread's spare events (event_free keeps a few per
   thread): before a thread that made or freed events ends. */
void event_thread_done(void);
/* A deep copy; never fails; caller frees. */
struct event *event_dup(const struct event *);
void event_diag_free(struct event_diag *);
/* "conn-limit, likely: text: 'too many connections'; phase: greeting":
   the cause, the confidence and up to max_evidence facts.  Caller frees. */
char *event_diag_why(const struct event_diag *, size_t max_evidence);
/* Format ts as RFC 3339 UTC with microseconds into buf (>= 32 bytes). */
void event_format_ts(char *buf, size_t len, const struct timeval *ts);
/* "s" unless n is 1: "1 recipient", "2 recipients".  Static storage. */
const char *event_plural(uint64_t n);
const char *event_type_name(enum event_type);

/*
 * The names of anomalies, so that the same situation always carries the same
 * `what`.  Use these constants, not string literals.
 */
extern const char EV_ANOM_LINE_TOO_LONG[];
extern const char EV_ANOM_BARE_LF[];
extern const char EV_ANOM_REPLY_WITHOUT_COMMAND[];
extern const char EV_ANOM_NON_SMTP[];
extern const char EV_ANOM_CODE_CHANGED[];
extern const char EV_ANOM_BAD_REPLY[];
extern const char EV_ANOM_EARLY_TALKER[];
extern const char EV_ANOM_AFTER_421[];
extern const char EV_ANOM_DATA_WITHOUT_354[];
extern const char EV_ANOM_BAD_BDAT[];
extern const char EV_ANOM_IP_FRAGMENT[];
extern const char EV_ANOM_FLOW_CAP[];
extern const char EV_ANOM_OOO_CAP[];
extern const char EV_ANOM_TLS_RECORD[];
extern const char EV_ANOM_TLS_DECRYPT[];
extern const char EV_ANOM_TLS_CAP[];
extern const char EV_ANOM_SESSION_END_IN_AUTH[];
extern const char EV_ANOM_SESSION_END_IN_DATA[];
extern const char EV_ANOM_TRUNCATED_PACKET[];
extern const char EV_ANOM_PENDING_CAP[];
extern const char EV_ANOM_DATA_END_EARLY[];
extern const char EV_ANOM_MEMORY[];
extern const char EV_ANOM_NO_HANDSHAKE[];
extern const char EV_ANOM_ODD_CODE[];
extern const char EV_ANOM_NO_PAYLOAD[];
/* Carries a diagnosis: what each side does and how to fix it. */
extern const char EV_ANOM_TLS_MISMATCH[];
/* Carries enhanced, text and answers (and, after the diagnosis, diag). */
extern const char EV_ANOM_NO_REPLY_CODE[];

/*
 * What an event costs in memory, roughly (the struct, its text, argument
 * and packet bytes, a guess for a diagnosis).  Never fails.
 */
#define EVENT_DIAG_SIZE_GUESS 2048
size_t event_size(const struct event *);

/*
 * The bounded queue between the capture thread and the main thread, bounded
 * by a number of events and (event_queue_limit_bytes) by their event_size().
 * push takes ownership; when the queue is full, push with may_block = false
 * drops the event (counted), with may_block = true waits for room.  Packet
 * copies (EV_PACKET) may only fill three quarters of it, so that they are
 * dropped before any event the screen shows.
 */
struct event_queue;
/* cap events at most; never fails. */
struct event_queue *event_queue_new(size_t cap);
/* Also at most max_bytes (0: no byte bound) of event_size(). */
void event_queue_limit_bytes(struct event_queue *, size_t max_bytes);
void event_queue_free(struct event_queue *);
/* Returns 0, or -1 when the event was dropped (and freed). */
int event_queue_push(struct event_queue *, struct event *take, bool may_block);
/*
 * Push n events under one lock and with at most one wake-up; the queue takes
 * every one of them (the pointers in evs are set to NULL).  Returns how many
 * were dropped (and freed).
 */
size_t event_queue_push_batch(
    struct event_queue *, struct event **take, size_t n, bool may_block);
/* Pop one event or NULL when empty; caller frees. */
struct event *event_queue_pop(struct event_queue *);
/* Pop up to max events into out, oldest first; returns how many; caller
   frees them. */
size_t event_queue_pop_batch(
    struct event_queue *, struct event **out, size_t max);
/* Read end of the wake-up pipe: readable when events were pushed. */
int event_queue_fd(struct event_queue *);
/* Drain the wake-up pipe's bytes (call before popping). */
void event_queue_ack(struct event_queue *);
/* Events other than packets dropped, and packet copies dropped. */
uint64_t event_queue_dropped(struct event_queue *);
uint64_t event_queue_dropped_packets(struct event_queue *);
/* Wake a blocked pusher for shutdown: later pushes drop. */
void event_queue_close(struct event_queue *);

#endif
