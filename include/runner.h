#ifndef SMTPSCOPE_RUNNER_H
#define SMTPSCOPE_RUNNER_H

#include <stdbool.h>
#include <stddef.h>

#include "event.h"

struct capture;
struct diag;
struct keylog;
struct maillog;
struct metrics;
struct pipeline_config;

/*
 * runner: the capture driver, written once for every front end.  It owns
 * the pipeline and drives it from the capture: packets in, the per-second
 * and idle ticks, -w writing, --replay pauses, the stop request, the final
 * flush of open sessions and the closing EV_STATS (kernel drops, queue drops
 * and --metrics counts included).  Data goes one way: capture -> pipeline ->
 * events -> the front end, which sees events only.
 *
 * Two ways out:
 *  - RUNNER_DIRECT (headless): events are handed to emit on the thread
 *    that calls runner_run, after the --maillog joiner has seen them.
 *    Live, capture_loop comes back at least every RUNNER_FLUSH_MS; idle is
 *    called each time (the front end writes out what it buffered) and the
 *    log is followed every RUNNER_MAILLOG_MS.
 *  - RUNNER_QUEUE (the UI): runner_run runs on a thread of its own and
 *    events go to an event_queue the runner owns, batched when live (what
 *    does not fit is dropped and counted), one at a time and waiting for
 *    room when reading a file.  Progress EV_STATS every RUNNER_STATS_MS.
 *    The --maillog joiner then lives on the front end's thread: it calls
 *    runner_log_event for each event it applies, and runner_log_poll.
 */

#define RUNNER_FLUSH_MS 50    /* direct, live: longest wait for output */
#define RUNNER_MAILLOG_MS 200 /* live: the MTA's log is read this often */
#define RUNNER_STATS_MS 500   /* queue: progress stats */

enum runner_mode { RUNNER_DIRECT, RUNNER_QUEUE };

typedef void (*runner_emit_fn)(void *arg, struct event *take);

struct runner_config {
	enum runner_mode mode;
	struct capture *cap; /* opened; borrowed, not closed */
	const struct pipeline_config *pipe_cfg;
	struct diag *diag;	 /* borrowed */
	struct keylog *keylog;	 /* borrowed, may be NULL */
	struct maillog *maillog; /* borrowed, NULL without --maillog */
	bool dumping;		 /* -w: SMTP packets to the capture's dumper */
	/* RUNNER_DIRECT */
	runner_emit_fn emit;
	void *arg;
	/* Called each time the capture comes back (idle, or the timeout);
	   false ends the run (the output went away).  May be NULL. */
	bool (*idle)(void *arg);
	/* RUNNER_QUEUE: the queue's size in events and in bytes (0: the
	   defaults, 262144 events and 64 MiB). */
	size_t queue_cap, queue_bytes;
};

struct runner;

struct runner *runner_new(const struct runner_config *);
void runner_free(struct runner *);
/*
 * Run until the end of the input, -c, an error or runner_stop.  Returns 1 at
 * the end (or stop), -1 on a read error with *cause set (caller frees).  In
 * RUNNER_DIRECT the open sessions are closed and the final EV_STATS emitted
 * in every case; in RUNNER_QUEUE only when not stopped (the front end went).
 */
int runner_run(struct runner *, char **cause);
/* Ask the run to end soon.  Safe from another thread or a signal handler. */
void runner_stop(struct runner *);
/* RUNNER_QUEUE, files: hold the capture (a --replay clock stands still). */
void runner_pause(struct runner *, bool);
bool runner_is_live(const struct runner *);
/* "lo", "x.pcap": the source for the status bar and the summary. */
const char *runner_source(const struct runner *);
/* RUNNER_QUEUE: the queue between the threads (owned by the runner). */
struct event_queue *runner_queue(struct runner *);
/* The closing hint of a run that found no session (see pipeline.h); false
   when there is nothing to say.  After runner_run returned. */
bool runner_hint(const struct runner *, char *buf, size_t len);

/*
 * --maillog, from the thread that consumes the events (RUNNER_QUEUE; in
 * RUNNER_DIRECT the runner does this itself).  No-ops without a joiner.
 */
bool runner_has_log(const struct runner *);
/* Log lines the joiner makes go to emit (on the calling thread). */
void runner_log_set_emit(struct runner *, runner_emit_fn emit, void *arg);
/* Before an event is applied: the log lines its time made due, then the
   joiner learns from it. */
void runner_log_event(struct runner *, const struct event *);
/* The log is still followed (live, and not at its end for good). */
bool runner_log_following(const struct runner *);
/* Read what the log gained, and make due what the wall clock passed. */
void runner_log_poll(struct runner *);
/* End of the capture: what the joiner still holds goes out. */
void runner_log_finish(struct runner *);

#endif
