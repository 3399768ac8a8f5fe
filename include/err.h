#ifndef SMTPSCOPE_ERR_H
#define SMTPSCOPE_ERR_H

/*
 * Errors as the user sees them: one line, "smtpscope: WHAT: WHY", and an
 * optional "hint: ..." line.  Before exiting, the registered cleanup hook
 * runs (the UI uses it to restore the terminal).
 */

/* Exit statuses (EXIT STATUS in doc/smtpscope.1). */
#define EXIT_OK 0
#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

void err_set_cleanup(void (*)(void));
/* Print "smtpscope: what: why" (and "hint: hint" when hint is not NULL). */
void err_print(const char *what, const char *why, const char *hint);
/*
 * A whole message as one string, for a module that knows what failed and
 * what to do about it: "what: why", then "\nhint: hint" when hint is not
 * NULL.  err_print(msg, NULL, NULL) prints it as err_print(what, why, hint)
 * would.  Caller frees.
 */
char *err_cause(const char *what, const char *why, const char *hint);
/* err_print, run the cleanup hook, exit(status). */
__attribute__((noreturn)) void err_exit(
    int status, const char *what, const char *why, const char *hint);
/* A broken invariant: print and abort. */
__attribute__((noreturn, format(printf, 1, 2))) void fatalx(const char *, ...);

#endif
