#ifndef SMTPSCOPE_SMTP_H
#define SMTPSCOPE_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include "event.h"

/*
 * The SMTP engine of one session: frames lines, parses commands and replies,
 * matches replies to outstanding commands (PIPELINING FIFO), follows DATA,
 * BDAT, AUTH, STARTTLS and QUIT, and emits command, reply, message, anomaly
 * and session_close events.  It never copies message bodies.
 *
 * Events are emitted without the session header (session, client, server):
 * the caller stamps those.  Reply events carry ctx for the diagnosis.
 */

/* Longest command or reply line kept (RFC 5321 4.5.3.1: 512, with room for
   extensions such as AUTH= and SASL lines, RFC 4954 section 4). */
#define SMTP_LINE_MAX 16384
/* Reply lines joined into one reply's text at most. */
#define SMTP_REPLY_MAX 65536
/* Outstanding commands remembered (PIPELINING). */
#define SMTP_PENDING_MAX 4096
/* Recipients listed per message in the message event. */
#define SMTP_RCPT_LIST_MAX 1000
/* Bytes of a pending command's argument kept until its reply (for the
   reply's "rcpt" and the diagnosis): a path is at most 256 octets, RFC 5321
   4.5.3.1.3.  The command event carries the argument whole. */
#define SMTP_PENDING_ARG_MAX 512
/* Runs of verbs kept for commands beyond SMTP_PENDING_MAX, so that their
   replies still match in order (the engine resynchronises). */
#define SMTP_OVERFLOW_RUNS 64

struct smtp_config {
	bool show_auth; /* do not mask AUTH secrets */
	/* Optional: told every state change ("ready -> data (354)"), for
	   debugging and tests.  NULL: no tracing. */
	void (*trace)(void *trace_arg, const char *what);
	void *trace_arg;
};

struct smtp_ops {
	void (*emit)(void *arg, struct event *take);
};

/* What the engine does with further bytes of a direction. */
enum smtp_dir_state {
	SMTP_DIR_TEXT,	 /* SMTP: keep feeding */
	SMTP_DIR_HOLD,	 /* client sent STARTTLS: hold bytes until
			    the server's answer (then TEXT or TLS) */
	SMTP_DIR_TLS,	 /* bytes from here on are TLS */
	SMTP_DIR_IGNORE, /* not SMTP (after an anomaly): drop */
};

struct smtp_session;

/*
 * start: time of the first packet; syn_ts: the client's SYN or NULL.
 * implicit_tls: port 465 (the bytes fed will be decrypted plaintext).
 * Never fails; ops/arg borrowed for the session's lifetime.
 */
struct smtp_session *smtp_new(const struct smtp_config *,
    const struct smtp_ops *, void *arg, const struct timeval *start,
    const struct timeval *syn_ts, bool implicit_tls, bool midstream);
void smtp_free(struct smtp_session *);
/* A hint: s will be fed soon.  Asks for s itself from memory, or (deep,
   once s is there) what it points to. */
void smtp_prefetch(const struct smtp_session *, bool deep);

/*
 * Feed in-order bytes of one direction (EV_DIR_CLIENT/EV_DIR_SERVER).
 * encrypted: the bytes were decrypted from TLS.  Returns how many bytes were
 * consumed: less than len only when the direction's state left
 * SMTP_DIR_TEXT within this chunk (check smtp_dir_state).
 */
size_t smtp_feed(struct smtp_session *, int dir, const uint8_t *data,
    size_t len, const struct timeval *ts, bool encrypted);
/*
 * Bytes from the TLS layer: always consumed whole.  encrypted is false when
 * the "TLS" direction turned out to carry plain text (a capture exported
 * after decryption): the events then say encrypted false.
 */
size_t smtp_feed_tls(struct smtp_session *, int dir, const uint8_t *data,
    size_t len, const struct timeval *ts, bool encrypted);
enum smtp_dir_state smtp_dir_state(const struct smtp_session *, int dir);
/* The TLS layer took over after STARTTLS/220, or could not decrypt: the
   engine stops expecting SMTP in clear (no anomalies for TLS bytes). */
void smtp_tls_started(struct smtp_session *, bool decrypting);
/*
 * A session begun as implicit TLS turned out to be plain SMTP (one side
 * spoke clear text first): bytes fed from now on are clear text.
 * ignore_dir (EV_DIR_CLIENT or EV_DIR_SERVER) is a direction whose bytes
 * were TLS and are dropped from now on without an anomaly; -1 for none.
 * Never fails.
 */
void smtp_not_tls(struct smtp_session *, int ignore_dir);
/* bytes are missing in dir: resynchronise at the next line. */
void smtp_gap(
    struct smtp_session *, int dir, uint64_t bytes, const struct timeval *ts);
/* The connection ended: emit anomalies for unfinished states and the
   session_close summary.  reason: "quit", "fin", "rst", ... (static). */
void smtp_close(
    struct smtp_session *, const char *reason, const struct timeval *ts);

/* Heap bytes the session holds now (its struct included).  Never fails. */
size_t smtp_mem(const struct smtp_session *);
/*
 * Under memory pressure: free the arguments of pending commands, the text
 * of an unfinished reply and the line buffers (a line in progress is then
 * discarded up to its end).  The session goes on; matching is unaffected.
 * Describes what was dropped in what (may be NULL), e.g. "the arguments of
 * 4096 pending commands, 61440 bytes of an unfinished 250 reply"; "" when
 * nothing.  Returns the bytes freed.
 */
size_t smtp_trim(struct smtp_session *, char *what, size_t size);

/* For the UI and tests: state names. */
const char *smtp_state_name(const struct smtp_session *);

#endif
