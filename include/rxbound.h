#ifndef SMTPSCOPE_RXBOUND_H
#define SMTPSCOPE_RXBOUND_H

/*
 * rxbound: a bound on what a POSIX extended regular expression from a file
 * or the UI may cost regcomp, checked before it is compiled.  glibc copies
 * a repeated part once per repetition ("x{1,100}" is a hundred copies,
 * "x++" doubles x for each "+"), so a short pattern can take gigabytes
 * and seconds to compile.
 */

/* Longest pattern, deepest nesting of parentheses, greatest repetition
   count, and most parts a pattern may have once its repetitions are
   counted out (a literal, a bracket expression, an operator: one each).
   Copies of a part that may match nothing ("c*" repeated by "+" or an
   interval) cost regcomp about the square of their number: 8,255 parts
   of that kind took 0.1 s (6 s under ASan, a fuzzing finding), so the
   bound keeps such a pattern to a few hundredths of a second. */
#define RXBOUND_LEN_MAX 2048
#define RXBOUND_DEPTH_MAX 32
#define RXBOUND_DUP_MAX 1000
#define RXBOUND_PARTS_MAX 4000

/* Refused besides, as they make glibc's epsilon closures grow
   exponentially: repeating ("*", "+", "{m,n}") a part that can match
   nothing ("(x*)+", "(^|$)*"; "$n*+++++" took seconds), and more than
   this many anchors ("^", "$", "\b", "\<" ...) with nothing that must
   match between them (32 such anchors took 0.4 s, 48 over 5 s). */
#define RXBOUND_ANCHORS_MAX 8

/* NULL when pattern is within the bounds, else why it is not (a static
   string). */
const char *rxbound_check(const char *pattern);

/*
 * regcomp in the C locale, whatever the user's: the diagnosis's patterns
 * (rules, lexicon, the server software) then match the same bytes under
 * cron's C locale as in a UTF-8 terminal, a byte at a time and
 * case-insensitive for ASCII letters only, and regexec takes glibc's
 * single-byte path (in a multibyte locale REG_ICASE converts every text
 * to wide characters first).  Same arguments and result as regcomp.
 */
#include <regex.h>
int rxbound_regcomp(regex_t *, const char *pattern, int cflags);

#endif
