#ifndef SMTPSCOPE_VIS_H
#define SMTPSCOPE_VIS_H

#include <stddef.h>

/*
 * Making wire text safe to show.  Nothing from the wire reaches a terminal
 * or a JSON string without going through here.
 *
 * vis_text: printable ASCII is kept; valid UTF-8 sequences of printable
 * characters are kept when utf8 is non-zero; everything else becomes a
 * visible escape (\r \n \t \e \\ or \xHH).  Writes at most outlen-1 bytes
 * and a NUL; returns the length written.  Never fails.
 */
size_t vis_text(
    char *out, size_t outlen, const void *in, size_t inlen, int utf8);
/* Like vis_text into a new string; caller frees. */
char *vis_dup(const void *in, size_t inlen, int utf8);
/*
 * JSON string body (without quotes) for bytes that may be any binary:
 * valid UTF-8 is kept, control characters use \uXXXX/\n/\t..., invalid bytes
 * become U+FFFD.  Caller frees.
 */
char *vis_json(const void *in, size_t inlen);

#endif
