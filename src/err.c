/*
 * err: the one-line error format ("smtpscope: WHAT: WHY", then a hint line;
 * EXIT STATUS in doc/smtpscope.1), and fatalx for broken
 * invariants.  A cleanup hook (the UI's endwin) runs before any exit so the
 * terminal is always restored.
 */
#include "config.h"

#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static void (*err_cleanup)(void);

void
err_set_cleanup(void (*fn)(void))
{
	err_cleanup = fn;
}

void
err_print(const char *what, const char *why, const char *hint)
{
	if (why != NULL && *why != '\0')
		fprintf(stderr, "smtpscope: %s: %s\n", what, why);
	else
		fprintf(stderr, "smtpscope: %s\n", what);
	if (hint != NULL)
		fprintf(stderr, "hint: %s\n", hint);
	fflush(stderr);
}

char *
err_cause(const char *what, const char *why, const char *hint)
{
	char *s;
	int n;

	/* Not xasprintf: xmalloc.c calls fatalx, and err is below it. */
	if (hint != NULL)
		n = asprintf(&s, "%s: %s\nhint: %s", what, why, hint);
	else
		n = asprintf(&s, "%s: %s", what, why);
	if (n < 0)
		fatalx("out of memory in err_cause");
	return s;
}

void
err_exit(int status, const char *what, const char *why, const char *hint)
{
	void (*fn)(void) = err_cleanup;

	err_cleanup = NULL;
	if (fn != NULL)
		fn();
	err_print(what, why, hint);
	exit(status);
}

void
fatalx(const char *fmt, ...)
{
	void (*fn)(void) = err_cleanup;
	va_list ap;

	err_cleanup = NULL;
	if (fn != NULL)
		fn();
	fputs("smtpscope: internal error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}
