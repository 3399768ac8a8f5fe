/*
 * runner: the one capture driver (see runner.h).  capture_loop hands each
 * packet to runner_packet, which feeds the pipeline; between calls the loop
 * runs the timers.  The pipeline's events leave through runner_emit: to the
 * front end's callback (direct) or to the queue between the threads.
 *
 * Invariants: the pipeline is driven only by the thread in runner_run; in
 * RUNNER_QUEUE the --maillog joiner is touched only by the front end's
 * thread (runner_log_*), in RUNNER_DIRECT only by runner_run's.  stop and
 * pause are atomics, the only state shared between the threads besides the
 * queue (which locks itself).
 */
#include "config.h"

#include "runner.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "capture.h"
#include "maillog.h"
#include "metrics.h"
#include "pipeline.h"
#include "xmalloc.h"

#define RUNNER_FILE_MS 250 /* direct, files: capture_loop's timeout */
#define RUNNER_BATCH 256   /* queue, live: events pushed at once */
/* Queue defaults: events between the threads, and their event_size() at
   most, unless the memory budget says otherwise. */
#define RUNNER_QUEUE_CAP 262144
#define RUNNER_QUEUE_BYTES (64u * 1024 * 1024)

struct runner {
	struct runner_config cfg;
	struct capture *cap;
	struct pipeline *pipe;
	struct maillog *ml;
	struct metrics *metrics; /* --metrics, NULL when off */
	struct event_queue *q;	 /* RUNNER_QUEUE */
	bool live;
	atomic_bool stop;
	atomic_bool pause; /* files only: the packet callback waits */
	time_t last_tick;
	double last_stats;
	struct timeval started;
	/* Queue, live: events gathered here and pushed RUNNER_BATCH at a
	   time, or when capture_loop comes back. */
	struct event *batch[RUNNER_BATCH];
	size_t n_batch;
};

static double
runner_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long
runner_ms_between(const struct timeval *a, const struct timeval *b)
{
	return (b->tv_sec - a->tv_sec) * 1000 +
	       (b->tv_usec - a->tv_usec) / 1000;
}

static void
runner_flush(struct runner *r)
{
	if (r->n_batch > 0)
		event_queue_push_batch(r->q, r->batch, r->n_batch, !r->live);
	r->n_batch = 0;
}

/*
 * Direct: the log lines the event's time made due, the joiner learns from
 * it, then it is written.  Queue, live: the capture thread never waits for
 * the screen: events go in batches (one lock, one wake-up) and what does not
 * fit is dropped and counted.  A file waits for room, one event at a time.
 */
static void
runner_emit(void *arg, struct event *ev)
{
	struct runner *r = arg;

	if (r->cfg.mode == RUNNER_DIRECT) {
		runner_log_event(r, ev);
		r->cfg.emit(r->cfg.arg, ev);
		return;
	}
	if (!r->live) {
		event_queue_push(r->q, ev, true);
		return;
	}
	r->batch[r->n_batch++] = ev;
	if (r->n_batch == RUNNER_BATCH)
		runner_flush(r);
}

static struct event *
runner_stats_event(struct runner *r)
{
	struct event *ev = event_new(EV_STATS);
	struct timeval now;

	pipeline_fill_stats(r->pipe, ev);
	ev->dropped = capture_dropped(r->cap);
	gettimeofday(&now, NULL);
	ev->elapsed = (double)(now.tv_sec - r->started.tv_sec) +
		      (double)(now.tv_usec - r->started.tv_usec) / 1e6;
	return ev;
}

/* Queue: progress and final counts; the run's closing hint rides along as
   the detail (the UI shows it as a banner meanwhile). */
static void
runner_queue_stats(struct runner *r, bool final)
{
	struct event *ev = runner_stats_event(r);
	char hint[512];

	if (pipeline_no_session_hint(r->pipe, hint, sizeof hint))
		ev->detail = xstrdup(hint);
	if (r->metrics != NULL)
		metrics_drops(
		    r->metrics, ev->dropped, event_queue_dropped(r->q));
	ev->session = 0;
	runner_flush(r);
	/* Progress reports may be lost on a full live queue; the last not. */
	event_queue_push(r->q, ev, final || !r->live);
}

static void
runner_periodic(struct runner *r)
{
	double now;

	if (r->cfg.mode != RUNNER_QUEUE)
		return;
	now = runner_now();
	if ((now - r->last_stats) * 1000 >= RUNNER_STATS_MS) {
		r->last_stats = now;
		runner_queue_stats(r, false);
	}
}

/*
 * Wait while paused.  A --replay (and --demo) clock stands still meanwhile:
 * resuming goes on from the paused packet at the same pace.
 */
static void
runner_hold(struct runner *r)
{
	struct timespec nap = {0, 20 * 1000 * 1000};
	double t0;

	if (!atomic_load(&r->pause))
		return;
	t0 = runner_now();
	while (atomic_load(&r->pause) && !atomic_load(&r->stop))
		nanosleep(&nap, NULL);
	capture_replay_hold(r->cap, (long long)((runner_now() - t0) * 1000));
}

static void
runner_peek(void *arg, int linktype, const uint8_t *data, uint32_t caplen)
{
	struct runner *r = arg;

	pipeline_peek(r->pipe, linktype, data, caplen);
}

static void
runner_packet(void *arg, int linktype, const struct timeval *ts,
    const uint8_t *data, uint32_t caplen, uint32_t len)
{
	struct runner *r = arg;

	pipeline_packet(r->pipe, linktype, ts, data, caplen, len);
	if (r->cfg.dumping && pipeline_last_smtp(r->pipe))
		capture_dump_packet(r->cap, ts, data, caplen, len);
	if (ts->tv_sec != r->last_tick) {
		r->last_tick = ts->tv_sec;
		pipeline_tick(r->pipe, ts);
	}
	runner_periodic(r);
	runner_hold(r);
	if (atomic_load(&r->stop))
		capture_stop(r->cap);
}

struct runner *
runner_new(const struct runner_config *cfg)
{
	struct runner *r = xcalloc(1, sizeof *r);

	r->cfg = *cfg;
	r->cap = cfg->cap;
	r->ml = cfg->maillog;
	r->metrics = cfg->pipe_cfg->metrics;
	r->live = capture_is_live(cfg->cap);
	atomic_init(&r->stop, false);
	atomic_init(&r->pause, false);
	if (cfg->mode == RUNNER_QUEUE) {
		r->q = event_queue_new(
		    cfg->queue_cap > 0 ? cfg->queue_cap : RUNNER_QUEUE_CAP);
		event_queue_limit_bytes(r->q, cfg->queue_bytes > 0
						  ? cfg->queue_bytes
						  : RUNNER_QUEUE_BYTES);
	}
	r->pipe =
	    pipeline_new(cfg->pipe_cfg, cfg->diag, cfg->keylog, runner_emit, r);
	capture_set_peek(r->cap, runner_peek, r);
	gettimeofday(&r->started, NULL);
	return r;
}

void
runner_free(struct runner *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n_batch; i++)
		event_free(r->batch[i]);
	pipeline_free(r->pipe);
	event_queue_free(r->q);
	free(r);
}

/* Direct: between two capture_loop calls.  false ends the run. */
static bool
runner_direct_between(struct runner *r, struct timeval *ml_last)
{
	struct timeval now;

	if (r->cfg.idle != NULL && !r->cfg.idle(r->cfg.arg))
		return false;
	gettimeofday(&now, NULL);
	if (r->live)
		pipeline_tick(r->pipe, &now);
	if (r->ml != NULL && r->live &&
	    runner_ms_between(ml_last, &now) >= RUNNER_MAILLOG_MS) {
		*ml_last = now;
		maillog_poll(r->ml, &now);
		maillog_advance(r->ml, &now);
	}
	return true;
}

static int
runner_run_direct(struct runner *r, char **cause)
{
	struct timeval now, ml_last = {0, 0};
	struct event *ev;
	int rc;

	for (;;) {
		rc = capture_loop(r->cap, runner_packet, r,
		    r->live ? RUNNER_FLUSH_MS : RUNNER_FILE_MS, cause);
		if (r->metrics != NULL)
			metrics_drops(r->metrics, capture_dropped(r->cap), 0);
		if (rc != 0 || atomic_load(&r->stop))
			break;
		if (!runner_direct_between(r, &ml_last))
			break;
	}
	pipeline_finish(r->pipe);
	if (r->ml != NULL) {
		if (r->live) {
			gettimeofday(&now, NULL);
			maillog_poll(r->ml, &now);
		}
		maillog_finish(r->ml);
	}
	ev = runner_stats_event(r);
	if (r->metrics != NULL)
		metrics_drops(r->metrics, ev->dropped, 0);
	runner_emit(r, ev);
	return rc;
}

static int
runner_run_queue(struct runner *r, char **cause)
{
	struct timeval now;
	int rc;

	for (;;) {
		/* Paused between packets (a replay waiting for the next). */
		runner_hold(r);
		rc = capture_loop(
		    r->cap, runner_packet, r, RUNNER_FLUSH_MS, cause);
		runner_flush(r);
		if (rc != 0 || atomic_load(&r->stop))
			break;
		if (r->live) {
			gettimeofday(&now, NULL);
			pipeline_tick(r->pipe, &now);
		}
		runner_periodic(r);
	}
	if (!atomic_load(&r->stop)) {
		pipeline_finish(r->pipe);
		runner_queue_stats(r, true);
	}
	runner_flush(r);
	return rc;
}

int
runner_run(struct runner *r, char **cause)
{
	int rc;

	*cause = NULL;
	gettimeofday(&r->started, NULL);
	if (r->cfg.mode == RUNNER_DIRECT)
		rc = runner_run_direct(r, cause);
	else
		rc = runner_run_queue(r, cause);
	if (rc < 0 && *cause == NULL)
		*cause = xstrdup("read error");
	return rc;
}

void
runner_stop(struct runner *r)
{
	atomic_store(&r->stop, true);
	atomic_store(&r->pause, false);
	capture_stop(r->cap);
}

void
runner_pause(struct runner *r, bool on)
{
	atomic_store(&r->pause, on);
}

bool
runner_is_live(const struct runner *r)
{
	return r->live;
}

const char *
runner_source(const struct runner *r)
{
	return capture_source(r->cap);
}

struct event_queue *
runner_queue(struct runner *r)
{
	return r->q;
}

bool
runner_hint(const struct runner *r, char *buf, size_t len)
{
	return pipeline_no_session_hint(r->pipe, buf, len);
}

bool
runner_has_log(const struct runner *r)
{
	return r->ml != NULL;
}

void
runner_log_set_emit(struct runner *r, runner_emit_fn emit, void *arg)
{
	if (r->ml != NULL)
		maillog_set_emit(r->ml, emit, arg);
}

void
runner_log_event(struct runner *r, const struct event *ev)
{
	if (r->ml == NULL || ev->type == EV_STATS || ev->type == EV_PACKET)
		return;
	if (ev->ts.tv_sec != 0)
		maillog_advance(r->ml, &ev->ts);
	maillog_observe(r->ml, ev);
}

bool
runner_log_following(const struct runner *r)
{
	return r->ml != NULL && maillog_following(r->ml);
}

void
runner_log_poll(struct runner *r)
{
	struct timeval tv;

	if (r->ml == NULL)
		return;
	gettimeofday(&tv, NULL);
	maillog_poll(r->ml, &tv);
	maillog_advance(r->ml, &tv);
}

void
runner_log_finish(struct runner *r)
{
	if (r->ml != NULL)
		maillog_finish(r->ml);
}
