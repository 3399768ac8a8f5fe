#ifndef SMTPSCOPE_OUT_TEXT_H
#define SMTPSCOPE_OUT_TEXT_H

#include <stdbool.h>
#include <stdio.h>

#include "event.h"

/*
 * -N: one readable line per event, grep-friendly:
 *   TIME #SESSION CLIENT > SERVER C: LINE
 *   TIME #SESSION CLIENT > SERVER S: !! 452 LINE [from <a> to <b>]  << ... >>
 * A highlighted reply ends with its diagnosis on the same line (its title,
 * the situation and the cause, between << and >>), so every event is one
 * line that starts with the time.  Wire text is
 * escaped (vis.c).  The line is written whole; the stream is flushed only
 * when flush is true.  Returns 0, or -1 on a write error.
 */
int out_text_write(FILE *, const struct event *, bool utf8, bool flush);

#endif
