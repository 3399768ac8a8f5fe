#ifndef SMTPSCOPE_OUT_TEXT_H
#define SMTPSCOPE_OUT_TEXT_H

#include <stdbool.h>
#include <stdio.h>

#include "event.h"

/*
 * -N: one readable line per event, grep-friendly:
 *   TIME #SESSION CLIENT > SERVER C: LINE
 *   TIME #SESSION CLIENT > SERVER S: !! 452 LINE  << title >>
 *       situation: ...        (a highlighted reply only: the diagnosis's
 *       sender can: ...        inference and fixes, indented so that
 *       operator can: ...      event lines still start with the time)
 * Wire text is escaped (vis.c).  Returns 0, or -1 on a write error.
 */
int out_text_event(FILE *, const struct event *, bool utf8);
/* The same, flushing only when flush is true. */
int out_text_write(FILE *, const struct event *, bool utf8, bool flush);

#endif
