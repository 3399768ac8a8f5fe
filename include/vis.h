#ifndef SMTPSCOPE_VIS_H
#define SMTPSCOPE_VIS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

/* Enough for any uint64_t in decimal (20 digits). */
#define VIS_U64_LEN 20

/*
 * v in decimal, without a NUL, at the start of out (VIS_U64_LEN bytes or
 * more); returns the number of digits.  The writers' one number formatter:
 * printf's %llu costs a format parse per number on the hot output path.
 */
static inline size_t
vis_u64(char *out, uint64_t v)
{
	char tmp[VIS_U64_LEN];
	size_t i = sizeof tmp;

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	memcpy(out, tmp + i, sizeof tmp - i);
	return sizeof tmp - i;
}

/* Room for vis_fixed's text (printf's, for huge values, is cut to it). */
#define VIS_FIXED_LEN 64

/*
 * v with 1 to 3 decimals, as printf's "%.*f" writes it, into out
 * (VIS_FIXED_LEN bytes, NUL-terminated); returns its length.  printf rounds
 * the exact binary value, ties to even, and is slow: below 2^32 units of
 * the last decimal, v times the scale is within 1e-6 of the exact product,
 * so when its fraction is farther than that from one half, rounding it to
 * nearest gives printf's digits.  Near a tie, for -0, huge values, NaN and
 * infinities, printf itself answers.
 */
size_t vis_fixed(char *out, double v, int decimals);

#endif
