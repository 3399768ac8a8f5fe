/*
 * rxbound: estimates how large regcomp's parse tree of an extended regular
 * expression grows once repetitions are copied out, without compiling it.
 * The estimate counts one part per literal, bracket expression, escape,
 * anchor and operator; a repeated part counts once per copy glibc makes
 * of it: "{m,n}" makes max(m, n) copies, "+" two, "*" and "?" one.
 * Alternatives all count (each is compiled).  Saturating arithmetic keeps
 * the count from overflowing on "x{1000}{1000}{1000}".
 */
#include "config.h"

#include "rxbound.h"

#include <locale.h>
#include <stdbool.h>
#include <stddef.h>

/* A bound as the text of its messages says it. */
#define RXBOUND_STR_(x) #x
#define RXBOUND_STR(x) RXBOUND_STR_(x)

/* One level of parentheses: the parts before the last element, and the
   last element's own (what a following repetition copies). */
struct rxbound_frame {
	size_t sum;
	size_t last;
};

static size_t
rxbound_add(size_t a, size_t b)
{
	return a > RXBOUND_PARTS_MAX || b > RXBOUND_PARTS_MAX - a
		   ? RXBOUND_PARTS_MAX + 1
		   : a + b;
}

static size_t
rxbound_mul(size_t a, size_t b)
{
	if (a == 0 || b == 0)
		return 0;
	return a > (RXBOUND_PARTS_MAX + 1) / b ? RXBOUND_PARTS_MAX + 1 : a * b;
}

/* A decimal number at *p, saturated just above RXBOUND_DUP_MAX; -1 when
   there are no digits. */
static long
rxbound_num(const char **p)
{
	long v = -1;

	while (**p >= '0' && **p <= '9') {
		if (v < 0)
			v = 0;
		if (v <= RXBOUND_DUP_MAX)
			v = v * 10 + (**p - '0');
		(*p)++;
	}
	return v;
}

/*
 * An interval "{m}", "{m,}", "{m,n}" or "{,n}" at p (just after its
 * "{"): *copies is the copies it makes, and the return value the byte
 * after its "}", or NULL when it is not an interval (then "{" is taken
 * as a literal, which counts the same or more).
 */
static const char *
rxbound_interval(const char *p, long *copies)
{
	long m, n;
	bool comma = false;

	m = rxbound_num(&p);
	n = m;
	if (*p == ',') {
		comma = true;
		p++;
		n = rxbound_num(&p);
	}
	if (*p != '}' || (m < 0 && n < 0))
		return NULL;
	if (m < 0)
		m = 0;
	if (n < 0)
		n = comma ? m + 1 : m;
	*copies = n > m ? n : m;
	return p + 1;
}

const char *
rxbound_check(const char *pattern)
{
	struct rxbound_frame st[RXBOUND_DEPTH_MAX + 1];
	size_t depth = 0, len = 0, g;
	const char *p = pattern, *q;
	long copies;

	while (pattern[len] != '\0')
		if (++len > RXBOUND_LEN_MAX)
			return "the regular expression is longer than 2048 "
			       "bytes";
	st[0].sum = st[0].last = 0;
	while (*p != '\0') {
		struct rxbound_frame *f = &st[depth];

		switch (*p) {
		case '(':
			if (depth == RXBOUND_DEPTH_MAX)
				return "the regular expression nests "
				       "parentheses more than 32 deep";
			f->sum = rxbound_add(f->sum, f->last);
			f->last = 0;
			depth++;
			st[depth].sum = st[depth].last = 0;
			p++;
			continue;
		case ')':
			if (depth == 0)
				break; /* a literal, or regcomp refuses it */
			g = rxbound_add(rxbound_add(f->sum, f->last), 1);
			depth--;
			st[depth].last = g;
			p++;
			goto check;
		case '|':
			f->sum = rxbound_add(rxbound_add(f->sum, f->last), 1);
			f->last = 0;
			p++;
			continue;
		case '*':
		case '?':
			f->last = rxbound_add(f->last, 1);
			p++;
			goto check;
		case '+':
			f->last = rxbound_add(rxbound_mul(f->last, 2), 1);
			p++;
			goto check;
		case '{':
			q = rxbound_interval(p + 1, &copies);
			if (q == NULL)
				break;
			if (copies > RXBOUND_DUP_MAX)
				return "a repetition count in the regular "
				       "expression is over 1000";
			f->last =
			    rxbound_add(rxbound_mul(f->last,
					    copies > 0 ? (size_t)copies : 1),
				1);
			p = q;
			goto check;
		case '[':
			/* A bracket expression is one part: skip to its "]"
			   (one right after "[" or "[^" is a member), past
			   "[:class:]", "[=x=]" and "[.x.]". */
			q = p + 1;
			if (*q == '^')
				q++;
			if (*q == ']')
				q++;
			while (*q != '\0' && *q != ']') {
				if (*q == '[' && (q[1] == ':' || q[1] == '=' ||
						     q[1] == '.')) {
					char end = q[1];

					for (q += 2;
					     *q != '\0' &&
					     !(q[0] == end && q[1] == ']');
					     q++)
						;
					if (*q != '\0')
						q += 2;
				} else
					q++;
			}
			f->sum = rxbound_add(f->sum, f->last);
			f->last = 1;
			p = *q == ']' ? q + 1 : q;
			goto check;
		case '\\':
			f->sum = rxbound_add(f->sum, f->last);
			f->last = 1;
			p += p[1] != '\0' ? 2 : 1;
			goto check;
		default:
			break;
		}
		/* Anything else is one part. */
		f->sum = rxbound_add(f->sum, f->last);
		f->last = 1;
		p++;
	check:
		if (rxbound_add(st[depth].sum, st[depth].last) >
		    RXBOUND_PARTS_MAX)
			goto big;
	}
	/* Unclosed parentheses: regcomp refuses them, but count them. */
	g = 0;
	for (;;) {
		g = rxbound_add(g, rxbound_add(st[depth].sum, st[depth].last));
		if (depth == 0)
			break;
		depth--;
	}
	if (g <= RXBOUND_PARTS_MAX)
		return NULL;
big:
	return "the regular expression is too large once its repetitions "
	       "are counted out (over " RXBOUND_STR(
		   RXBOUND_PARTS_MAX) " parts)";
}

int
rxbound_regcomp(regex_t *re, const char *pattern, int cflags)
{
	locale_t c, old;
	int rc;

	/* Thread-local: another thread's matching is left alone. */
	c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	if (c == (locale_t)0)
		return regcomp(re, pattern, cflags);
	old = uselocale(c);
	rc = regcomp(re, pattern, cflags);
	uselocale(old);
	freelocale(c);
	return rc;
}
