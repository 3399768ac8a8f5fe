#ifndef SMTPSCOPE_MAILLOG_H
#define SMTPSCOPE_MAILLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include "event.h"

/*
 * The MTA's own log joined to the captured sessions (--maillog FILE).
 *
 * Lines of Postfix (syslog, its maillog_file, journalctl -o short-iso),
 * Exim (main log, or syslog) and Sendmail are parsed into a record; the
 * joiner learns the sessions from the events the pipeline emits and turns
 * each log line into an EV_LOG event that names the session it belongs to,
 * or session 0 when none could be found, and how it was joined.
 *
 * A line is joined once the capture's clock has passed the line's time by
 * the skew tolerance, so that every session that could match it is known;
 * the end of the run joins what is left.
 */

/* A line longer than this is dropped (counted). */
#define MAILLOG_LINE_MAX 4096
/* Sessions remembered for joining; the oldest are forgotten first. */
#define MAILLOG_SESSIONS_MAX 4096
/* Lines waiting for the capture to pass their time. */
#define MAILLOG_PENDING_MAX 65536
/* Processes (program[pid]) between connect and disconnect. */
#define MAILLOG_PIDS_MAX 1024
/* Queue ids known with their session. */
#define MAILLOG_QIDS_MAX 8192
/* Outbound (queue id, recipient) pairs remembered to count attempts. */
#define MAILLOG_TRIES_MAX 8192
/* Default skew tolerance between the capture's and the log's clock (s). */
#define MAILLOG_SKEW_DEFAULT 5.0

/* How a line was joined, the `join` of a log event (static strings). */
extern const char MAILLOG_JOIN_ADDR_PORT[];
extern const char MAILLOG_JOIN_ADDR_TIME[];
extern const char MAILLOG_JOIN_PID[];
extern const char MAILLOG_JOIN_QUEUE_ID[];
extern const char MAILLOG_JOIN_RELAY_REPLY[];
extern const char MAILLOG_JOIN_RELAY_TIME[];
extern const char MAILLOG_JOIN_NONE[];

/* What an outbound delivery line says became of the message. */
enum maillog_outcome {
	MAILLOG_NO_OUTCOME,
	MAILLOG_SENT,
	MAILLOG_DEFERRED, /* kept in the queue, to be tried again */
	MAILLOG_BOUNCED,
};

enum maillog_kind {
	MAILLOG_OTHER,
	MAILLOG_CONNECT,    /* a process or server took a connection */
	MAILLOG_DISCONNECT, /* ... and ended it */
};

/* One parsed line.  Strings are NUL-terminated copies, "" when absent. */
struct maillog_rec {
	struct timeval ts;
	char program[48]; /* "postfix/smtpd", "exim", "sm-mta" */
	long pid;	  /* -1 when not logged */
	char qid[32];	  /* the MTA's queue id, "" when none */
	char addr[48];	  /* inbound: the client's address */
	int port;	  /* its port, -1 when not logged */
	char relay[48];	  /* outbound: the server's address */
	int relay_port;	  /* -1 when not logged */
	char said[160];	  /* outbound: the reply the log quotes */
	char rcpt[96];	  /* outbound: the recipient the line is about */
	enum maillog_outcome outcome; /* outbound: sent, deferred, ... */
	enum maillog_kind kind;
	bool outbound; /* the MTA as a client (smtp, lmtp, remote_smtp) */
};

/*
 * Parse one line (no LF) of len bytes.  year_ref is the time whose year
 * completes dates that have none (a date more than half a year after it is
 * taken from the year before).  Dates without a zone are local time.
 * Returns 0, or -1 when the line is not a log line of a known form.  Never
 * reads past len.
 */
int maillog_parse(
    const char *line, size_t len, time_t year_ref, struct maillog_rec *out);

/*
 * A reason a log line gives for a refusal: the words that name it and the
 * cause id (kb_causes) they mean.  maillog_reason() returns the first entry
 * of the table whose words the line holds (case-insensitive), or NULL.
 */
struct maillog_reason {
	const char *says;
	const char *cause;
};
const struct maillog_reason *maillog_reason(const char *line, size_t len);

typedef void (*maillog_emit_fn)(void *arg, struct event *take);

struct maillog;

/* A joiner with skew tolerance skew_s seconds that hands its EV_LOG events
   (and anomalies) to emit.  Never fails; maillog_free() frees. */
struct maillog *maillog_new(double skew_s, maillog_emit_fn emit, void *arg);
void maillog_free(struct maillog *);
/* Hand the events to emit(arg) from now on.  Never fails. */
void maillog_set_emit(struct maillog *, maillog_emit_fn emit, void *arg);
/* The file is followed (live capture). */
bool maillog_following(const struct maillog *);
/* Forget every session, process, queue id and waiting line (they are not
   emitted), keeping the tables' memory: a fuzzer's next input starts from
   nothing without allocating them again.  Never fails. */
void maillog_reset(struct maillog *);
/*
 * Read the log file at path.  With follow (live capture) reading starts at
 * its end and maillog_poll() reads what it grows by, like tail -F; without,
 * the first maillog_poll() reads it whole.  Returns 0, or -1 with *cause
 * (allocated, the caller frees it) when the file cannot be opened.
 */
int maillog_open(struct maillog *, const char *path, bool follow, char **cause);
/*
 * Read what the file holds now: new lines, from the start again after a
 * truncation or when the path names a new file (rotation).  Lines are
 * completed with the year of ref (the first packet's time, or now).
 * Never fails (a file that went away is tried again next time).
 */
void maillog_poll(struct maillog *, const struct timeval *ref);
/* Feed log bytes directly (tests, fuzzing); a line may span calls. */
void maillog_feed(
    struct maillog *, const char *buf, size_t len, const struct timeval *ref);
/* Learn from an event of the pipeline (sessions, replies, queue ids). */
void maillog_observe(struct maillog *, const struct event *);
/* Join and emit the lines whose time plus the skew is before now. */
void maillog_advance(struct maillog *, const struct timeval *now);
/* Join and emit every line left (the end of the run). */
void maillog_finish(struct maillog *);
/* Lines read, joined to a session, and dropped as too long. */
void maillog_counts(const struct maillog *, uint64_t *lines, uint64_t *joined,
    uint64_t *too_long);

#endif
