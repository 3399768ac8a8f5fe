#ifndef SMTPSCOPE_UI_H
#define SMTPSCOPE_UI_H

#include <stdbool.h>
#include <stddef.h>

#include "capture.h"
#include "diag.h"
#include "keylog.h"
#include "pipeline.h"

/*
 * The ncurses front end.  ui_run starts the capture thread (capture,
 * pipeline), runs the screens on the calling thread and returns the exit
 * status once the user quits.  The terminal is restored on every path.
 */
struct ui_config {
	struct capture *cap; /* opened; ui_run does not close it */
	const struct pipeline_config *pipe_cfg; /* keep_packets is set */
	struct diag *diag;     /* borrowed, used by the capture thread */
	struct keylog *keylog; /* may be NULL */
	bool dumping;	       /* -w: capture_dump_packet() SMTP ones */
	size_t limit;	       /* sessions kept */
	size_t queue_bytes;    /* events between the threads, at most */
	size_t store_bytes;    /* the store's budget (0: caps only) */
	bool demo;
	const char *source;  /* for the status bar */
	const char *warning; /* shown as a banner (a key log's problem) */
	/* --maillog: the joiner (opened, its emit callback set by ui_run
	   through maillog_set_emit), followed every 200 ms when live; NULL
	   without --maillog. */
	struct maillog *maillog;
};

int ui_run(const struct ui_config *);

/*
 * Can the UI run here?  It draws on standard output and reads keys from
 * standard input, or from the controlling terminal (/dev/tty) when standard
 * input is not a terminal (the capture itself with -r -, or redirected).
 * NULL when it can, else the reason it cannot (a static string).
 */
const char *ui_unusable(void);

#endif
