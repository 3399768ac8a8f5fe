/*
 * rx: POSIX extended regular expressions as glibc reads them, tested with
 * PCRE2's JIT where that gives the same answer.  In a UTF-8 locale,
 * glibc's regexec converts every text to wide characters before it
 * matches (REG_ICASE included), about 1.5 us for a 30-byte address; the
 * JIT tests the same address in a tenth of that, which is what lets a
 * filter run over 100,000 sessions between two key presses.
 *
 * Invariants: regcomp has accepted every pattern of an rx (it is the
 * definition, and its error messages are the ones shown); code is NULL
 * unless rx_translate gave an exact translation that PCRE2 compiled; a
 * PCRE2 match that fails for any reason but "no match" (a backtracking
 * limit, the JIT stack) is answered by regexec, and after RX_SLOW_MAX
 * of those the rx stops trying PCRE2.
 */
#include "config.h"

#include "rx.h"

#include <ctype.h>
#include <langinfo.h>
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "err.h"
#include "rxbound.h"
#include "xmalloc.h"

/* Backtracking steps one PCRE2 test may take before regexec answers
   instead (a pattern such as "(a|aa)*b" backtracks exponentially where
   glibc's matcher does not), and how many such hand-overs before the rx
   keeps to regexec. */
#define RX_MATCH_LIMIT 20000
#define RX_SLOW_MAX 16

/* Texts this long or shorter are copied to the stack for regexec. */
#define RX_STACK_TEXT 256

struct rx {
	regex_t re;	  /* the definition */
	pcre2_code *code; /* NULL: regexec only */
	bool jit;	  /* code is JIT-compiled */
	pcre2_match_data *md;
	pcre2_match_context *mc;
	unsigned slow; /* hand-overs to regexec after a PCRE2 error */
};

/* The output of a translation: grows, never past what a pattern of
   RXBOUND_LEN_MAX bytes can need (at most 11 bytes out for 2 in). */
struct rx_buf {
	char *p;
	size_t len, cap;
};

static void
rx_put(struct rx_buf *b, const char *s)
{
	size_t n = strlen(s);

	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n + 1);
	b->len += n;
}

static void
rx_putc(struct rx_buf *b, char c)
{
	char s[2] = {c, '\0'};

	rx_put(b, s);
}

/* POSIX character class names, which glibc and PCRE2 read alike.  Under
   REG_ICASE glibc's regcomp reads [:upper:] and [:lower:] as [:alpha:]
   (letters of either case, "ª" and "ʰ" too), which is what they are
   translated to; PCRE2's caseless [:upper:] is not that. */
static const char *const rx_classes[] = {"alnum", "alpha", "blank", "cntrl",
    "digit", "graph", "print", "punct", "space", "xdigit", "upper", "lower"};

/* One character of a bracket expression, escaped where PCRE2 would
   read it otherwise (a backslash is itself in ERE brackets). */
static void
rx_bracket_char(struct rx_buf *b, char c)
{
	if (strchr("\\]-[^", c) != NULL)
		rx_putc(b, '\\');
	rx_putc(b, c);
}

/*
 * A range lo-hi: translated only between two digits or two letters of
 * the same case, which REG_ICASE and PCRE2's caseless matching read
 * alike.  Other ranges glibc folds its own way ("[^!-a]" takes "b" and
 * "B", "[^a-|]" does not take "]": fuzzing findings).  False when the
 * range is not translated.
 */
static bool
rx_bracket_range(struct rx_buf *b, unsigned char lo, unsigned char hi)
{
	if (lo > hi ||
	    !((isdigit(lo) && isdigit(hi)) || (islower(lo) && islower(hi)) ||
		(isupper(lo) && isupper(hi))))
		return false;
	rx_bracket_char(b, (char)lo);
	rx_putc(b, '-');
	rx_bracket_char(b, (char)hi);
	return true;
}

/* A bracket expression at p (just past its '['): copied to b, PCRE2's
   way.  The index just past its ']', or 0 when it cannot be translated
   exactly. */
static size_t
rx_bracket(const char *p, size_t i, struct rx_buf *b)
{
	const char *e;
	size_t k, n, first;
	bool known;

	rx_putc(b, '[');
	if (p[i] == '^') {
		rx_putc(b, '^');
		i++;
	}
	first = i; /* a ']' there is a character */
	for (;; i++) {
		if (p[i] == '\0')
			return 0; /* regcomp refuses it */
		if (p[i] == ']' && i != first) {
			rx_putc(b, ']');
			return i + 1;
		}
		if (p[i] == '[' && (p[i + 1] == '.' || p[i + 1] == '='))
			return 0; /* collating element, equivalence */
		if (p[i] == '[' && p[i + 1] == ':') {
			e = strstr(p + i + 2, ":]");
			if (e == NULL)
				return 0;
			n = (size_t)(e - (p + i + 2));
			known = false;
			for (k = 0;
			     k < sizeof rx_classes / sizeof rx_classes[0]; k++)
				if (strlen(rx_classes[k]) == n &&
				    strncmp(rx_classes[k], p + i + 2, n) == 0)
					known = true;
			if (!known)
				return 0;
			if ((n == 5 && strncmp(p + i + 2, "upper", 5) == 0) ||
			    (n == 5 && strncmp(p + i + 2, "lower", 5) == 0))
				rx_put(b, "[:alpha:]");
			else {
				rx_put(b, "[:");
				for (k = 0; k < n; k++)
					rx_putc(b, p[i + 2 + k]);
				rx_put(b, ":]");
			}
			i += n + 3; /* the loop steps past the last ']' */
			continue;
		}
		/* A range, unless its '-' ends the expression. */
		if (p[i + 1] == '-' && p[i + 2] != ']' && p[i + 2] != '\0') {
			if (p[i + 2] == '[' ||
			    !rx_bracket_range(b, (unsigned char)p[i],
				(unsigned char)p[i + 2]))
				return 0;
			i += 2;
			continue;
		}
		rx_bracket_char(b, p[i]);
	}
}

/* An interval at p + i (just past its '{'): "{n}", "{n,}", "{n,m}" or
   glibc's "{,m}" (PCRE2 10.42 reads that one as text).  The index just
   past its '}', or 0. */
static size_t
rx_interval(const char *p, size_t i, struct rx_buf *b, bool *zero)
{
	size_t j = i;
	bool nonzero = false, bounded = true;

	rx_putc(b, '{');
	if (p[j] == ',')
		rx_putc(b, '0');
	while (p[j] >= '0' && p[j] <= '9') {
		nonzero |= p[j] != '0';
		rx_putc(b, p[j++]);
	}
	if (j == i && p[j] != ',')
		return 0;
	if (p[j] == ',') {
		rx_putc(b, p[j++]);
		nonzero = false;
		bounded = p[j] >= '0' && p[j] <= '9';
		while (p[j] >= '0' && p[j] <= '9') {
			nonzero |= p[j] != '0';
			rx_putc(b, p[j++]);
		}
	}
	if (p[j] != '}')
		return 0;
	rx_putc(b, '}');
	*zero = bounded && !nonzero;
	return j + 1;
}

/*
 * Which alternatives can match only the empty string ("(a|)", "(a|^)",
 * "(a|b{0})"): the JIT of PCRE2 10.42 (Debian 12) misses matches after a
 * group with one ("(a|)b*a" on "a": PCRE2 issue 336, fixed in 10.43; a
 * fuzzing finding here), so such patterns are interpreted.  Per level of
 * parentheses: whether the alternative being read can match a character
 * (pos), what it could before its last atom (before: "{0}" takes that
 * atom back), whether an earlier alternative could (grp) and whether
 * there is a '|' at all (alt).
 *
 * An alternative with nothing in it at all is written differently: a
 * pattern only asks whether there is a match, and for that "(a|)" is
 * "(a)?", "(|a|b)" is "(a|b)?", which the JIT reads right and users type
 * ("(s|)").  Per level: where the group's text starts in the output
 * (open, just past its '('), where the alternative being read starts
 * (start), and whether the group had an empty one (empty).
 */
#define RX_DEPTH_MAX 64

struct rx_alts {
	size_t d;
	bool pos[RX_DEPTH_MAX], before[RX_DEPTH_MAX], grp[RX_DEPTH_MAX],
	    alt[RX_DEPTH_MAX], empty[RX_DEPTH_MAX];
	size_t open[RX_DEPTH_MAX], start[RX_DEPTH_MAX];
	bool jit_ok;
};

static void
rx_alts_atom(struct rx_alts *a, bool consumes)
{
	a->before[a->d] = a->pos[a->d];
	a->pos[a->d] |= consumes;
}

static void
rx_alts_bar(struct rx_alts *a)
{
	if (!a->pos[a->d])
		a->jit_ok = false;
	a->alt[a->d] = true;
	a->grp[a->d] |= a->pos[a->d];
	a->pos[a->d] = false;
}

static bool
rx_alts_open(struct rx_alts *a)
{
	if (a->d + 1 >= RX_DEPTH_MAX)
		return false;
	a->before[a->d] = a->pos[a->d]; /* the group is an atom */
	a->d++;
	a->pos[a->d] = a->grp[a->d] = a->alt[a->d] = a->empty[a->d] = false;
	return true;
}

static void
rx_alts_close(struct rx_alts *a)
{
	bool any;

	if (a->alt[a->d] && !a->pos[a->d])
		a->jit_ok = false;
	any = a->grp[a->d] || a->pos[a->d];
	a->d--;
	a->pos[a->d] |= any;
}

/* What came before, for a repetition operator. */
enum rx_prev {
	RX_NONE,   /* the start, '(' or '|': an operator is an error */
	RX_ATOM,   /* something that can be repeated */
	RX_REPEAT, /* a repetition: "a+?" means (a+)? in ERE, not lazy */
	RX_ANCHOR, /* ^ $ \b \< ...: glibc's reading of "^*" is its own */
};

char *
rx_translate(const char *p, bool *jit_ok)
{
	struct rx_buf b = {NULL, 0, 0};
	struct rx_alts alts;
	enum rx_prev prev = RX_NONE;
	size_t i = 0, next;
	const char *gnu;
	bool zero;

	memset(&alts, 0, sizeof alts);
	alts.jit_ok = true;
	rx_put(&b, "");
	while (p[i] != '\0') {
		switch (p[i]) {
		case '*':
		case '+':
		case '?':
			if (prev != RX_ATOM)
				goto inexact;
			rx_putc(&b, p[i++]);
			prev = RX_REPEAT;
			continue;
		case '{':
			if (prev != RX_ATOM ||
			    (next = rx_interval(p, i + 1, &b, &zero)) == 0)
				goto inexact;
			if (zero)
				alts.pos[alts.d] = alts.before[alts.d];
			i = next;
			prev = RX_REPEAT;
			continue;
		case '[':
			if ((next = rx_bracket(p, i + 1, &b)) == 0)
				goto inexact;
			rx_alts_atom(&alts, true);
			i = next;
			prev = RX_ATOM;
			continue;
		case '(':
			if (!rx_alts_open(&alts))
				goto inexact;
			rx_putc(&b, '(');
			alts.open[alts.d] = alts.start[alts.d] = b.len;
			prev = RX_NONE;
			break;
		case ')':
			if (alts.d == 0) {
				rx_put(
				    &b, "\\)"); /* glibc: a lone ')' is text */
				rx_alts_atom(&alts, true);
				prev = RX_ATOM;
				break;
			}
			if (alts.alt[alts.d] && b.len == alts.start[alts.d] &&
			    alts.start[alts.d] > alts.open[alts.d]) {
				/* "(a|)": the last alternative is empty;
				   the '|' before it goes */
				b.p[--b.len] = '\0';
				alts.empty[alts.d] = true;
				alts.pos[alts.d] = alts.grp[alts.d];
			}
			prev = RX_ATOM;
			/* Not "(|)", which has no alternative left. */
			if (alts.empty[alts.d] && b.len > alts.open[alts.d]) {
				/* "(a)?"; a repetition of it is glibc's
				   (rxbound refuses most) */
				rx_put(&b, ")?");
				prev = RX_REPEAT;
			} else
				rx_putc(&b, ')');
			rx_alts_close(&alts);
			break;
		case '|':
			if (alts.d > 0 && b.len == alts.start[alts.d]) {
				/* "(|a)", "(a||b)": an empty alternative is
				   left out, the group made optional */
				alts.empty[alts.d] = true;
				alts.alt[alts.d] = true;
				prev = RX_NONE;
				break;
			}
			rx_alts_bar(&alts);
			rx_putc(&b, '|');
			alts.start[alts.d] = b.len;
			prev = RX_NONE;
			break;
		case '^':
		case '$':
			rx_putc(&b, p[i]);
			prev = RX_ANCHOR;
			break;
		case '\\':
			gnu = NULL;
			prev = RX_ATOM;
			switch (p[i + 1]) {
			case '<':
				gnu = "\\b(?=\\w)";
				prev = RX_ANCHOR;
				break;
			case '>':
				gnu = "\\b(?<=\\w)";
				prev = RX_ANCHOR;
				break;
			case '`':
				gnu = "\\A";
				prev = RX_ANCHOR;
				break;
			case '\'':
				gnu = "\\z";
				prev = RX_ANCHOR;
				break;
			case 'b':
				gnu = "\\b";
				prev = RX_ANCHOR;
				break;
			case 'B':
				gnu = "\\B";
				prev = RX_ANCHOR;
				break;
			case 'w':
				gnu = "\\w";
				break;
			case 'W':
				gnu = "\\W";
				break;
			case 's':
				gnu = "\\s";
				break;
			case 'S':
				gnu = "\\S";
				break;
			default:
				/* An escaped special is the character itself;
				   any other escape is glibc's to read. */
				if (p[i + 1] == '\0' ||
				    strchr(".[]{}()*+?|^$\\/-", p[i + 1]) ==
					NULL)
					goto inexact;
				rx_putc(&b, '\\');
				rx_putc(&b, p[i + 1]);
				break;
			}
			if (gnu != NULL)
				rx_put(&b, gnu);
			if (prev == RX_ATOM)
				rx_alts_atom(&alts, true);
			i += 2;
			continue;
		default: /* '.' and every literal */
			rx_putc(&b, p[i]);
			rx_alts_atom(&alts, true);
			prev = RX_ATOM;
			break;
		}
		i++;
	}
	if (alts.d != 0)
		goto inexact; /* regcomp refuses it */
	if (alts.alt[0] && !alts.pos[0])
		alts.jit_ok = false;
	if (jit_ok != NULL)
		*jit_ok = alts.jit_ok;
	return b.p;
inexact:
	free(b.p);
	return NULL;
}

/* Whether this locale's regcomp and PCRE2 read bytes alike: the C locale
   (ASCII) or UTF-8.  *utf says which. */
static bool
rx_locale_ok(bool *utf)
{
	const char *cs = nl_langinfo(CODESET);

	*utf = strcmp(cs, "UTF-8") == 0;
	return *utf || strcmp(cs, "ANSI_X3.4-1968") == 0;
}

static void
rx_compile_fast(struct rx *r, const char *pattern)
{
	uint32_t opts = PCRE2_CASELESS | PCRE2_DOTALL | PCRE2_DOLLAR_ENDONLY |
			PCRE2_NO_AUTO_CAPTURE;
	PCRE2_SIZE off;
	const char *q;
	char *t;
	bool utf, jit;
	int err;

	if (!rx_locale_ok(&utf))
		return;
	/*
	 * ASCII only, patterns and texts (rx_test): past ASCII the two
	 * disagree in ways too many to list.  In the C locale glibc reads a
	 * byte past ASCII in a pattern its own way (as in the range
	 * "[^a-\xd4]"); in a UTF-8 one PCRE2's caseless matching takes the
	 * Kelvin sign for "k" and glibc does not (both fuzzing findings).  A
	 * session's fields are ASCII but for rare SMTPUTF8 mailboxes, which
	 * regexec answers.  On ASCII alone PCRE2 needs no UTF mode.
	 */
	for (q = pattern; *q != '\0'; q++)
		if ((unsigned char)*q >= 0x80)
			return;
	if ((t = rx_translate(pattern, &jit)) == NULL)
		return;
	r->code = pcre2_compile(
	    (PCRE2_SPTR)t, PCRE2_ZERO_TERMINATED, opts, &err, &off, NULL);
	if (r->code == NULL) {
		free(t);
		return;
	}
	r->md = pcre2_match_data_create(1, NULL);
	r->mc = pcre2_match_context_create(NULL);
	if (r->md == NULL || r->mc == NULL)
		fatalx("rx: out of memory");
	pcre2_set_match_limit(r->mc, RX_MATCH_LIMIT);
	/* Not JIT-compiled: an alternative that matches only the empty
	   string (see rx_alts).  Without the JIT (a CPU it does not know),
	   PCRE2 interprets. */
	if (jit)
		r->jit = pcre2_jit_compile(r->code, PCRE2_JIT_COMPLETE) == 0;
	free(t);
}

struct rx *
rx_new(const char *pattern, char **cause)
{
	struct rx *r;
	const char *big;
	char err[256];
	int rc;

	if ((big = rxbound_check(pattern)) != NULL) {
		*cause = xstrdup(big);
		return NULL;
	}
	r = xcalloc(1, sizeof *r);
	rc = regcomp(&r->re, pattern, REG_EXTENDED | REG_ICASE | REG_NOSUB);
	if (rc != 0) {
		regerror(rc, &r->re, err, sizeof err);
		*cause = xstrdup(err);
		free(r);
		return NULL;
	}
	rx_compile_fast(r, pattern);
	return r;
}

void
rx_free(struct rx *r)
{
	if (r == NULL)
		return;
	regfree(&r->re);
	pcre2_match_data_free(r->md);
	pcre2_match_context_free(r->mc);
	pcre2_code_free(r->code);
	free(r);
}

bool
rx_fast(const struct rx *r)
{
	return r->code != NULL && r->slow < RX_SLOW_MAX;
}

static bool
rx_regexec(const struct rx *r, const char *s, size_t n)
{
	char buf[RX_STACK_TEXT + 1], *z = buf;
	bool hit;

	if (n > RX_STACK_TEXT)
		z = xmalloc(n + 1);
	memcpy(z, s, n);
	z[n] = '\0';
	hit = regexec(&r->re, z, 0, NULL, 0) == 0;
	if (z != buf)
		free(z);
	return hit;
}

bool
rx_test(struct rx *r, const char *s, size_t n)
{
	unsigned char high = 0;
	bool newline = false;
	size_t i;
	int rc;

	/* Up to a NUL, as regexec; whether the text has a newline, or a
	   byte past ASCII, on the way. */
	for (i = 0; i < n && s[i] != '\0'; i++) {
		high |= (unsigned char)s[i];
		newline |= s[i] == '\n';
	}
	n = i;
	/* Around a newline of the text glibc's anchors follow rules of
	   their own ("a$." matches "a\nx", "a$" does not; a fuzzing
	   finding): such a text, rare in a session's fields, goes to
	   regexec. */
	if (!rx_fast(r) || newline || high >= 0x80)
		return rx_regexec(r, s, n);
	if (r->jit)
		rc = pcre2_jit_match(
		    r->code, (PCRE2_SPTR)s, n, 0, 0, r->md, r->mc);
	else
		rc = pcre2_match(r->code, (PCRE2_SPTR)s, n, 0, 0, r->md, r->mc);
	if (rc >= 0)
		return true;
	if (rc == PCRE2_ERROR_NOMATCH)
		return false;
	/* A backtracking limit, the JIT stack: regexec answers. */
	r->slow++;
	return rx_regexec(r, s, n);
}
