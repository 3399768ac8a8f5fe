#ifndef SMTPSCOPE_WRITER_H
#define SMTPSCOPE_WRITER_H

#include <stddef.h>

/*
 * writer: the headless output's own thread.  The capture side hands events
 * over in batches, in order; the writer thread passes each to a callback
 * (which finishes and writes it; it may free what it added itself, such as
 * the diagnosis, but not the event) and calls idle whenever it has written
 * all it was given (the output is flushed then).  The capture side frees
 * the written events when it next hands some over.  At most max_bytes of
 * event_size() wait to be written (one batch always may), and as much
 * again, written, to be freed: the capture side waits for room beyond
 * that, as it waited for a blocking write before.
 */
struct event;
struct writer;

typedef void (*writer_fn)(void *arg, struct event *take);
typedef void (*writer_idle_fn)(void *arg);

/* Starts the thread (with every signal blocked); never fails.  end, when
   not NULL, is called on the thread last, to release what it kept. */
struct writer *writer_new(writer_fn fn, writer_idle_fn idle, writer_idle_fn end,
    void *arg, size_t max_bytes);
/* Takes ev; handed over when a batch is full (or writer_kick). */
void writer_put(struct writer *, struct event *take);
/* Hand over what was put so far (and free what was written); does not
   wait for it to be written. */
void writer_kick(struct writer *);
/*
 * From a handler of SIGINT or SIGTERM (sig, the signal it got): from now
 * on, when the capture side waits on the writer (for room, or for the end
 * in writer_free) and the writer has finished nothing for 200 ms, it is
 * stuck in a write (a full pipe no one reads): the capture side sends it
 * sig, the write fails with EINTR (the handler must be installed without
 * SA_RESTART), the callback can give the output up and the run end.  A
 * writer that is only slow is left to finish.  Only sets an atomic:
 * async-signal-safe.  NULL is fine.
 */
void writer_interrupt(struct writer *, int sig);
/* Hand over the rest, wait until all of it went through fn and idle, end
   the thread, free every event.  Only writer_free may follow.  NULL is
   fine. */
void writer_finish(struct writer *);
/* writer_finish if it was not called, then free the writer.  NULL is
   fine. */
void writer_free(struct writer *);

#endif
