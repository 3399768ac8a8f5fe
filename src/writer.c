/*
 * writer: headless output on a thread of its own.  Reading a file of short
 * sessions, the diagnosis and the formatting of each event cost about as
 * much as everything before them; on a second core they run beside the
 * capture instead of after it.
 *
 * The capture side fills a batch of its own without any lock and hands it
 * over whole: one lock and at most one wake-up per WRITER_BATCH events.
 * Handed batches wait in a ring of WRITER_SLOTS, in order; the writer
 * thread copies one out, and runs the callback on its events without the
 * lock.  Whenever it has done all it was given it calls idle, so that the
 * output is flushed when the capture side has nothing more to say (the
 * capture went idle and handed over its partial batch, or the run ended).
 *
 * The events written go back to the capture side, which frees them: they
 * were allocated there, and a thread that frees another's allocations
 * fights it for the malloc arena's lock on every event (measured: a third
 * more time than with no thread at all).  It takes them back when it hands
 * over a batch, and frees one with each event it puts, as many as it makes
 * in the long run: a free just before the next event's allocations leaves
 * malloc's per-thread cache (and event.c's spare events) what they need,
 * where a batch freed at once overflows it (malloc and free then took a
 * third of the capture side's time).
 */
#include "config.h"

#include "writer.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "err.h"
#include "xmalloc.h"

#define WRITER_BATCH 256
#define WRITER_SLOTS 8
#define WRITER_DONE_MAX ((WRITER_SLOTS + 1) * WRITER_BATCH)

struct writer_batch {
	struct event *ev[WRITER_BATCH];
	size_t n, bytes;
};

struct writer {
	writer_fn fn;
	writer_idle_fn idle, end;
	void *arg;
	size_t max_bytes;

	/* The capture side's batch being filled, and the written events it
	   frees: its own, no lock. */
	struct writer_batch cur;
	struct event *freeing[WRITER_DONE_MAX];
	size_t nfreeing, ifreeing; /* freeing[ifreeing..nfreeing) are left */

	pthread_mutex_t lock;
	pthread_cond_t work; /* a batch was handed over, or closing */
	pthread_cond_t room; /* a batch was written */
	struct writer_batch ring[WRITER_SLOTS];
	size_t head, count;
	size_t inflight; /* bytes in the ring and being written */
	/* Written, to be freed by the capture side.  Between two of its
	   visits (writer_reclaim, just before it hands a batch over) the
	   writer can write no more than what the ring held after the first
	   (at most WRITER_SLOTS batches) and the batch it was writing then. */
	struct event *done[WRITER_DONE_MAX];
	size_t ndone;
	bool closing;
	bool finished;	 /* the thread is past its last callback */
	bool joined;	 /* writer_finish is done */
	size_t progress; /* batches written */
	pthread_t thread;
	/* writer_interrupt: the signal to interrupt a stuck write with, 0
	   before it is called. */
	atomic_int interrupt_sig;
};

/* After writer_interrupt, a writer that has not finished a batch for this
   long, while the capture side waits on it, is stuck in a write. */
#define WRITER_STUCK_MS 200

/* Under the lock: wait on cond for at most WRITER_STUCK_MS; then, when
   asked to (writer_interrupt) and the writer finished nothing meanwhile,
   interrupt its write. */
static void
writer_wait(struct writer *w, pthread_cond_t *cond)
{
	struct timespec until;
	size_t progress = w->progress;
	int sig;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += WRITER_STUCK_MS * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	if (pthread_cond_timedwait(cond, &w->lock, &until) == ETIMEDOUT &&
	    w->progress == progress && !w->finished &&
	    (sig = atomic_load(&w->interrupt_sig)) != 0)
		pthread_kill(w->thread, sig);
}

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	struct writer_batch b;
	sigset_t intr;
	size_t i;

	/* SIGINT and SIGTERM, which writer_wait sends it when it is stuck:
	   a write blocked on a reader that stopped reading then fails with
	   EINTR instead of holding the exit up.  (The kernel gives a signal
	   sent to the process to its main thread first.) */
	sigemptyset(&intr);
	sigaddset(&intr, SIGINT);
	sigaddset(&intr, SIGTERM);
	pthread_sigmask(SIG_UNBLOCK, &intr, NULL);

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (w->count == 0 && !w->closing)
			pthread_cond_wait(&w->work, &w->lock);
		if (w->count == 0)
			break;
		b.n = w->ring[w->head].n;
		b.bytes = w->ring[w->head].bytes;
		memcpy(b.ev, w->ring[w->head].ev, b.n * sizeof b.ev[0]);
		w->head = (w->head + 1) % WRITER_SLOTS;
		w->count--;
		pthread_mutex_unlock(&w->lock);

		for (i = 0; i < b.n; i++)
			w->fn(w->arg, b.ev[i]);

		pthread_mutex_lock(&w->lock);
		if (w->ndone + b.n > WRITER_DONE_MAX)
			fatalx("writer: %zu events written and not freed",
			    w->ndone + b.n);
		memcpy(w->done + w->ndone, b.ev, b.n * sizeof b.ev[0]);
		w->ndone += b.n;
		w->inflight -= b.bytes;
		w->progress++;
		pthread_cond_signal(&w->room);
		if (w->count == 0) {
			pthread_mutex_unlock(&w->lock);
			w->idle(w->arg);
			pthread_mutex_lock(&w->lock);
		}
	}
	pthread_mutex_unlock(&w->lock);
	if (w->end != NULL)
		w->end(w->arg);
	event_thread_done();
	pthread_mutex_lock(&w->lock);
	w->finished = true;
	pthread_cond_signal(&w->room);
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

struct writer *
writer_new(writer_fn fn, writer_idle_fn idle, writer_idle_fn end, void *arg,
    size_t max_bytes)
{
	struct writer *w = xcalloc(1, sizeof *w);
	pthread_condattr_t ca;
	sigset_t all, old;
	int rc;

	w->fn = fn;
	w->idle = idle;
	w->end = end;
	w->arg = arg;
	w->max_bytes = max_bytes;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->work, NULL);
	/* The wait for room is timed (writer_wait): on the monotonic clock,
	   which a change of the time of day does not move. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->room, &ca);
	pthread_condattr_destroy(&ca);
	/* Signals stay with the thread that handles them (SIGINT stops the
	   capture; the writer then drains what it was given), but for those
	   writer_interrupt sends it. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&w->thread, NULL, writer_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		fatalx("pthread_create: %s", strerror(rc));
	return w;
}

static void
writer_free_events(struct event **ev, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		event_free(ev[i]);
}

/* Under the lock: the events written since the last visit join those to
   free (the ones left from before are freed first, to make room: one per
   event put drains them unless the writer runs in bursts). */
static void
writer_reclaim(struct writer *w)
{
	writer_free_events(w->freeing + w->ifreeing, w->nfreeing - w->ifreeing);
	memcpy(w->freeing, w->done, w->ndone * sizeof w->done[0]);
	w->nfreeing = w->ndone;
	w->ifreeing = 0;
	w->ndone = 0;
}

static void
writer_hand(struct writer *w)
{
	struct writer_batch *slot;

	pthread_mutex_lock(&w->lock);
	if (w->cur.n == 0) {
		writer_reclaim(w);
		pthread_mutex_unlock(&w->lock);
		return;
	}
	while (w->count == WRITER_SLOTS ||
	       (w->inflight > 0 && w->inflight + w->cur.bytes > w->max_bytes))
		writer_wait(w, &w->room);
	/* After the wait, so that done has room (WRITER_DONE_MAX). */
	writer_reclaim(w);
	slot = &w->ring[(w->head + w->count) % WRITER_SLOTS];
	memcpy(slot->ev, w->cur.ev, w->cur.n * sizeof slot->ev[0]);
	slot->n = w->cur.n;
	slot->bytes = w->cur.bytes;
	w->count++;
	w->inflight += w->cur.bytes;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->lock);
	w->cur.n = 0;
	w->cur.bytes = 0;
}

void
writer_put(struct writer *w, struct event *ev)
{
	size_t n = event_size(ev);

	/* A diagnosis yet to be made will be held too. */
	if (ev->diagnose)
		n += EVENT_DIAG_SIZE_GUESS;
	if (w->ifreeing < w->nfreeing)
		event_free(w->freeing[w->ifreeing++]);
	w->cur.ev[w->cur.n++] = ev;
	w->cur.bytes += n;
	/* A quarter of the bound per batch: several fit at once. */
	if (w->cur.n == WRITER_BATCH || w->cur.bytes >= w->max_bytes / 4)
		writer_hand(w);
}

void
writer_kick(struct writer *w)
{
	writer_hand(w);
}

void
writer_interrupt(struct writer *w, int sig)
{
	if (w != NULL)
		atomic_store(&w->interrupt_sig, sig);
}

void
writer_finish(struct writer *w)
{
	if (w == NULL || w->joined)
		return;
	writer_hand(w);
	pthread_mutex_lock(&w->lock);
	w->closing = true;
	pthread_cond_signal(&w->work);
	while (!w->finished)
		writer_wait(w, &w->room);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	w->joined = true;
	writer_reclaim(w);
	writer_free_events(w->freeing, w->nfreeing);
	w->nfreeing = w->ifreeing = 0;
}

void
writer_free(struct writer *w)
{
	if (w == NULL)
		return;
	writer_finish(w);
	pthread_cond_destroy(&w->room);
	pthread_cond_destroy(&w->work);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
