/*
 * rxbound: estimates how large regcomp's parse tree of an extended regular
 * expression grows once repetitions are copied out, without compiling it.
 * The estimate counts one part per literal, bracket expression, escape,
 * anchor and operator; a repeated part counts once per copy glibc makes
 * of it: "{m,n}" makes max(m, n) copies, "+" two, "*" and "?" one.
 * Alternatives all count (each is compiled).  Saturating arithmetic keeps
 * the count from overflowing on "x{1000}{1000}{1000}".  Alongside, it
 * follows which parts can match the empty string and the anchors a path
 * can pass without matching a character, as those make regcomp's closure
 * computation exponential (see rxbound.h).
 */
#include "config.h"

#include "rxbound.h"

#include <locale.h>
#include <stdbool.h>
#include <stddef.h>

/* A bound as the text of its messages says it. */
#define RXBOUND_STR_(x) #x
#define RXBOUND_STR(x) RXBOUND_STR_(x)

/*
 * What an element, an alternative or a group does for glibc's epsilon
 * closures: whether it can match the empty string, and how many anchors
 * ("^", "$", "\b", "\B", "\<", "\>", "\`", "\'") a path can pass with no
 * character matched: at its start (lead), at its end (trail), and right
 * through it when it matches nothing (thru).  Counts saturate just above
 * RXBOUND_ANCHORS_MAX.
 */
struct rxbound_elem {
	bool empty;
	unsigned lead, trail, thru;
};

/* One level of parentheses: the parts before the last element, and the
   last element's own (what a following repetition copies); the
   alternatives closed so far, the current one up to its last element, and
   that element. */
struct rxbound_frame {
	size_t sum;
	size_t last;
	bool has_alts, has_last;
	struct rxbound_elem alts, seq, elem;
};

static const struct rxbound_elem rxbound_nothing = {true, 0, 0, 0};
static const struct rxbound_elem rxbound_char = {false, 0, 0, 0};
static const struct rxbound_elem rxbound_anchor = {true, 1, 1, 1};

static const char rxbound_why_anchors[] =
    "the regular expression has more than " RXBOUND_STR(
	RXBOUND_ANCHORS_MAX) " anchors (^ $ \\b \\B \\< \\>) with nothing "
			     "that must match between them (the anchors "
			     "opening alternatives add up: write \"\\b(a|b)\" "
			     "rather than \"(\\ba|\\bb)\")";
static const char rxbound_why_empty[] =
    "the regular expression repeats a part that can match nothing (such "
    "as \"(x*)+\", \"(a|)*\" or \"(^|$){2}\"); repeat a part that must "
    "match something";

static unsigned
rxbound_a(unsigned a, unsigned b)
{
	return a + b > RXBOUND_ANCHORS_MAX ? RXBOUND_ANCHORS_MAX + 1 : a + b;
}

static unsigned
rxbound_max(unsigned a, unsigned b)
{
	return a > b ? a : b;
}

/* s becomes the sequence s followed by e; false when that makes too long
   a run of anchors. */
static bool
rxbound_cat(struct rxbound_elem *s, const struct rxbound_elem *e)
{
	struct rxbound_elem r;

	if (rxbound_a(s->trail, e->lead) > RXBOUND_ANCHORS_MAX)
		return false;
	r.empty = s->empty && e->empty;
	r.lead = s->empty ? rxbound_max(s->lead, rxbound_a(s->thru, e->lead))
			  : s->lead;
	r.trail = e->empty ? rxbound_max(e->trail, rxbound_a(s->trail, e->thru))
			   : e->trail;
	r.thru = r.empty ? rxbound_a(s->thru, e->thru) : 0;
	*s = r;
	return r.lead <= RXBOUND_ANCHORS_MAX && r.trail <= RXBOUND_ANCHORS_MAX;
}

/* Another alternative b beside a: every path through either counts. */
static void
rxbound_alt(struct rxbound_elem *a, const struct rxbound_elem *b)
{
	a->lead = rxbound_a(a->lead, b->lead);
	a->trail = rxbound_a(a->trail, b->trail);
	a->thru = rxbound_a(a->empty ? a->thru : 0, b->empty ? b->thru : 0);
	a->empty = a->empty || b->empty;
}

/* Ends the frame's last element: appended to the current alternative. */
static bool
rxbound_commit(struct rxbound_frame *f)
{
	if (!f->has_last)
		return true;
	f->has_last = false;
	return rxbound_cat(&f->seq, &f->elem);
}

/* Ends the frame's current alternative. */
static bool
rxbound_close_alt(struct rxbound_frame *f)
{
	if (!rxbound_commit(f))
		return false;
	if (f->has_alts)
		rxbound_alt(&f->alts, &f->seq);
	else
		f->alts = f->seq;
	f->has_alts = true;
	f->seq = rxbound_nothing;
	return true;
}

static bool
rxbound_push(struct rxbound_frame *f, const struct rxbound_elem *e)
{
	if (!rxbound_commit(f))
		return false;
	f->elem = *e;
	f->has_last = true;
	return true;
}

static void
rxbound_frame_init(struct rxbound_frame *f)
{
	f->sum = f->last = 0;
	f->has_alts = f->has_last = false;
	f->seq = rxbound_nothing;
}

/*
 * The last element repeated at least min times and at most max (-1: no
 * bound): NULL, or why not.  Repeating what can match nothing makes
 * glibc's closures grow exponentially with the anchors near it ("$n*++++"
 * alone took seconds, a fuzzing finding), and never matches more than
 * the part once.  "x?" only adds a way around x.
 */
static const char *
rxbound_repeat(struct rxbound_frame *f, long min, long max)
{
	struct rxbound_elem *e = &f->elem;

	if (!f->has_last)
		return rxbound_push(f, &rxbound_char) ? NULL
						      : rxbound_why_anchors;
	if (min == 1 && max == 1)
		return NULL;
	if (min == 0 && max == 1) {
		if (!e->empty) {
			e->empty = true;
			e->thru = 0;
		}
		return NULL;
	}
	if (e->empty)
		return rxbound_why_empty;
	/* A copy's end runs into the next copy's start. */
	if (rxbound_a(e->lead, e->trail) > RXBOUND_ANCHORS_MAX)
		return rxbound_why_anchors;
	if (min == 0) {
		e->lead = e->trail = rxbound_a(e->lead, e->trail);
		e->empty = true;
		e->thru = 0;
	}
	return NULL;
}

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

/* A new element of the given parts: the last one's parts join the sum. */
static bool
rxbound_part(
    struct rxbound_frame *f, const struct rxbound_elem *e, size_t parts)
{
	f->sum = rxbound_add(f->sum, f->last);
	f->last = parts;
	return rxbound_push(f, e);
}

/* A decimal number at *p, saturated just above RXBOUND_DUP_MAX; -1 when
   there are no digits.  glibc reads "\0" in a count as the digit 0 (so
   "a{4,112\04}" is a{4,11204}, a gigabyte to compile: a fuzzing
   finding), and so does this. */
static long
rxbound_num(const char **p)
{
	long v = -1;
	int d;

	for (;;) {
		if (**p >= '0' && **p <= '9')
			d = *(*p)++ - '0';
		else if ((*p)[0] == '\\' && (*p)[1] == '0') {
			d = 0;
			*p += 2;
		} else
			break;
		if (v < 0)
			v = 0;
		if (v <= RXBOUND_DUP_MAX)
			v = v * 10 + d;
	}
	return v;
}

/*
 * An interval "{m}", "{m,}", "{m,n}", "{,n}" or "{,}" (glibc's {0,}, a
 * "*": reading it as text let "a{,}{2,6}{9,}" through, 17 s to compile, a
 * fuzz_rx slow unit) at p (just after its "{"): *min and *max its bounds
 * (*max -1 for none), and the return value the byte after its "}", or
 * NULL when it is not an interval (then "{" is taken as a literal, which
 * counts the same or more).
 */
static const char *
rxbound_interval(const char *p, long *min, long *max)
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
	if (*p != '}' || (m < 0 && n < 0 && !comma))
		return NULL;
	if (m < 0)
		m = 0;
	*min = m;
	*max = n < 0 && comma ? -1 : n;
	return p + 1;
}

/* Does the escape "\c" stand for an anchor? */
static bool
rxbound_is_anchor_escape(char c)
{
	return c == 'b' || c == 'B' || c == '<' || c == '>' || c == '`' ||
	       c == '\'';
}

const char *
rxbound_check(const char *pattern)
{
	struct rxbound_frame st[RXBOUND_DEPTH_MAX + 1];
	struct rxbound_elem grp;
	size_t depth = 0, len = 0, g;
	const char *p = pattern, *q, *why;
	long min, max, copies;

	while (pattern[len] != '\0')
		if (++len > RXBOUND_LEN_MAX)
			return "the regular expression is longer than 2048 "
			       "bytes";
	rxbound_frame_init(&st[0]);
	while (*p != '\0') {
		struct rxbound_frame *f = &st[depth];
		const struct rxbound_elem *e = &rxbound_char;

		switch (*p) {
		case '(':
			if (depth == RXBOUND_DEPTH_MAX)
				return "the regular expression nests "
				       "parentheses more than 32 deep";
			f->sum = rxbound_add(f->sum, f->last);
			f->last = 0;
			if (!rxbound_commit(f))
				return rxbound_why_anchors;
			depth++;
			rxbound_frame_init(&st[depth]);
			p++;
			continue;
		case ')':
			if (depth == 0)
				break; /* a literal, or regcomp refuses it */
			g = rxbound_add(rxbound_add(f->sum, f->last), 1);
			if (!rxbound_close_alt(f))
				return rxbound_why_anchors;
			grp = f->alts;
			depth--;
			if (!rxbound_part(&st[depth], &grp, g))
				return rxbound_why_anchors;
			p++;
			goto check;
		case '|':
			f->sum = rxbound_add(rxbound_add(f->sum, f->last), 1);
			f->last = 0;
			if (!rxbound_close_alt(f))
				return rxbound_why_anchors;
			p++;
			continue;
		case '*':
		case '?':
			f->last = rxbound_add(f->last, 1);
			if ((why = rxbound_repeat(f, 0, *p == '?' ? 1 : -1)) !=
			    NULL)
				return why;
			p++;
			goto check;
		case '+':
			f->last = rxbound_add(rxbound_mul(f->last, 2), 1);
			if ((why = rxbound_repeat(f, 1, -1)) != NULL)
				return why;
			p++;
			goto check;
		case '{':
			q = rxbound_interval(p + 1, &min, &max);
			if (q == NULL)
				break;
			if (min > RXBOUND_DUP_MAX || max > RXBOUND_DUP_MAX)
				return "a repetition count in the regular "
				       "expression is over 1000";
			copies = max < 0 ? min + 1 : max > min ? max : min;
			f->last =
			    rxbound_add(rxbound_mul(f->last,
					    copies > 0 ? (size_t)copies : 1),
				1);
			if ((why = rxbound_repeat(f, min, max)) != NULL)
				return why;
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
			if (!rxbound_part(f, &rxbound_char, 1))
				return rxbound_why_anchors;
			p = *q == ']' ? q + 1 : q;
			goto check;
		case '\\':
			/* A back-reference may match nothing. */
			if (rxbound_is_anchor_escape(p[1]))
				e = &rxbound_anchor;
			else if (p[1] >= '1' && p[1] <= '9')
				e = &rxbound_nothing;
			if (!rxbound_part(f, e, 1))
				return rxbound_why_anchors;
			p += p[1] != '\0' ? 2 : 1;
			goto check;
		case '^':
		case '$':
			e = &rxbound_anchor;
			break;
		default:
			break;
		}
		/* Anything else is one part. */
		if (!rxbound_part(f, e, 1))
			return rxbound_why_anchors;
		p++;
	check:
		if (rxbound_add(st[depth].sum, st[depth].last) >
		    RXBOUND_PARTS_MAX)
			goto big;
	}
	/* Unclosed parentheses: regcomp refuses them, but count them. */
	g = 0;
	for (;;) {
		if (!rxbound_close_alt(&st[depth]))
			return rxbound_why_anchors;
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
