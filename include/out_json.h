#ifndef SMTPSCOPE_OUT_JSON_H
#define SMTPSCOPE_OUT_JSON_H

#include <stdbool.h>
#include <stdio.h>

#include "event.h"
#include "explain.h"

/*
 * JSON Lines (EVENTS in doc/smtpscope.1): one object per event, keys in a fixed
 * order, UTF-8, a newline and a flush after each.  EV_PACKET is not written.
 * Returns 0, or -1 on a write error (e.g. EPIPE).
 */
int out_json_event(FILE *, const struct event *);
/* The same, flushing only when flush is true (a file read as fast as it
   goes needs no flush per line). */
int out_json_write(FILE *, const struct event *, bool flush);
/* Release the calling thread's line buffer (out_json_write keeps one per
   thread): before a thread that wrote events ends. */
void out_json_thread_done(void);
/* The same object into a new string without newline; caller frees. */
char *out_json_string(const struct event *);
/*
 * --explain -j: one object, the reply's code, enhanced, text and answers
 * (null when empty) and the diagnosis d (left out when NULL), then a newline
 * and a flush.  Returns 0, or -1 on a write error.
 */
int out_json_explain(
    FILE *, const struct explain_reply *, const struct event_diag *d);

#endif
