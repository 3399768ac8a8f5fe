#ifndef SMTPSCOPE_UI_H
#define SMTPSCOPE_UI_H

#include <stdbool.h>
#include <stddef.h>

struct runner;

/*
 * The ncurses front end.  ui_run starts the capture thread (runner_run of a
 * RUNNER_QUEUE runner), runs the screens on the calling thread and returns
 * the exit status once the user quits.  The terminal is restored on every
 * path.  The UI sees the runner's event queue and the store only.
 */
struct ui_config {
	/* RUNNER_QUEUE, not started; ui_run does not free it.  Its --maillog
	   joiner's emit is set by ui_run (log lines go to the store). */
	struct runner *runner;
	size_t limit;	    /* sessions kept */
	size_t store_bytes; /* the store's budget (0: caps only) */
	bool demo;
	const char *source;  /* for the status bar */
	const char *warning; /* shown as a banner (a key log's problem) */
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
