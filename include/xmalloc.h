#ifndef SMTPSCOPE_XMALLOC_H
#define SMTPSCOPE_XMALLOC_H

#include <stddef.h>

/*
 * Allocation that never returns NULL: on out-of-memory these print one line
 * and abort.  Sizes that come from the wire never reach them directly; use
 * xcapped_grow() so that every growth is checked against a named cap.
 */
void *xmalloc(size_t);
void *xcalloc(size_t, size_t);
void *xrealloc(void *, size_t);
void *xreallocarray(void *, size_t, size_t);
char *xstrdup(const char *);
char *xstrndup(const char *, size_t);
/* Copy n bytes into a new NUL-terminated string (bytes may contain NUL). */
char *xmemdup0(const void *, size_t);
int xasprintf(char **, const char *, ...) __attribute__((format(printf, 2, 3)));

/*
 * Grow *buf (capacity *cap) so that it can hold need bytes, doubling.  Returns
 * 0, or -1 without touching *buf when need exceeds limit (the caller reports
 * the cap it hit).  The caller owns *buf.
 */
int xcapped_grow(void **buf, size_t *cap, size_t need, size_t limit);

/*
 * A whole file of at most max bytes, NUL-terminated, its length in *len; or
 * NULL with *why ("PATH: reason", caller frees) when it cannot be opened or
 * read or is bigger than max.  For the data files a user gives (--rules,
 * --lexicon).
 */
char *xreadfile(const char *path, size_t max, size_t *len, char **why);

#endif
