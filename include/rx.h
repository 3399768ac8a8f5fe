#ifndef SMTPSCOPE_RX_H
#define SMTPSCOPE_RX_H

/*
 * rx: a POSIX extended regular expression (glibc's dialect, GNU operators
 * such as \< \b \w included), tested fast.  glibc's regcomp defines what
 * the pattern means and what counts as an error; the same pattern,
 * translated to PCRE2 syntax and JIT-compiled, does the testing when the
 * translation is exact.  Patterns it cannot translate exactly (back
 * references, stacked repetitions such as "a+?", collating elements,
 * escapes outside the GNU set), or whose PCRE2 match runs over a bounded
 * amount of backtracking, are tested by regexec: the answer is always
 * regexec's.
 *
 * Case-insensitive; in a UTF-8 locale, character-wise (as regcomp is).
 * Not thread-safe: one rx is used by one thread at a time.
 */

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

struct rx;

/* Compile pattern.  NULL on a pattern regcomp refuses or one that could
   take regcomp gigabytes (rxbound), with *cause set to why (caller frees).
   Caller frees the result with rx_free. */
struct rx *rx_new(const char *pattern, char **cause);
void rx_free(struct rx *);

/* Whether the pattern matches somewhere in the n bytes at s (s need not
   end with a NUL; a NUL byte in them ends what regexec would see). */
bool rx_test(struct rx *, const char *s, size_t n);

/* Whether the test runs on PCRE2 (false: regexec only). For tests. */
bool rx_fast(const struct rx *);

/* The PCRE2 pattern pattern translates to, NULL when it cannot be
   translated exactly; *jit_ok (if not NULL) false when PCRE2 10.42's JIT
   would get it wrong (an alternative that matches only the empty string),
   so that it must be interpreted.  Caller frees.  For tests. */
char *rx_translate(const char *pattern, bool *jit_ok);

#endif
