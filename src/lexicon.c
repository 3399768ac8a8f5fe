/*
 * lexicon.c: the cause lexicon and enhanced-code table (lexicon.h).
 *
 * A file is a list of lines; each is either a word entry (a cause, a weight
 * and a regular expression) or an enhanced entry (a class-free code, its
 * causes and meaning).  Everything is bounded: file size, line length and
 * entry count; a malformed line is an error naming its line.
 */
#include "config.h"

#include "lexicon.h"
#include "rxbound.h"

#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "kb.h"
#include "xmalloc.h"

struct lexicon_word {
	int cause;
	int weight;
	regex_t re;	   /* to test, fast */
	char *src;	   /* its source */
	regex_t *re_words; /* to quote what matched; compiled on first use */
};

struct lexicon_enh {
	int subject;
	int detail; /* -1: the subject itself */
	int causes[LEXICON_CAUSES];
	size_t ncauses;
	char *meaning;
};

struct lexicon {
	struct lexicon_word *w;
	size_t nw;
	struct lexicon_enh *e;
	size_t ne;
};

static int
lexicon_error(char **why, const char *fname, unsigned line, const char *what,
    const char *arg)
{
	xasprintf(why, "%s:%u: %s%s%.40s%s", fname, line, what,
	    arg != NULL ? " '" : "", arg != NULL ? arg : "",
	    arg != NULL ? "'" : "");
	return -1;
}

/* The next blank-separated token of *s (advanced), NUL-terminated in place;
   NULL at the end of the line. */
static char *
lexicon_token(char **s)
{
	char *t = *s;

	while (*t == ' ' || *t == '\t')
		t++;
	if (*t == '\0')
		return NULL;
	*s = t + strcspn(t, " \t");
	if (**s != '\0')
		*(*s)++ = '\0';
	return t;
}

static int
lexicon_word_line(struct lexicon *lx, char *rest, char **why, const char *fname,
    unsigned line)
{
	char *cause = lexicon_token(&rest), *weight = lexicon_token(&rest);
	struct lexicon_word *w;
	const char *big;
	char *end, buf[128];
	long v;
	int c, rc;

	if (cause == NULL || weight == NULL)
		return lexicon_error(
		    why, fname, line, "word: needs CAUSE WEIGHT REGEX", NULL);
	if ((c = kb_cause_index(cause)) < 0)
		return lexicon_error(why, fname, line, "unknown cause", cause);
	errno = 0;
	v = strtol(weight, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > 100)
		return lexicon_error(
		    why, fname, line, "weight must be 1 to 100, not", weight);
	while (*rest == ' ' || *rest == '\t')
		rest++;
	if (*rest == '\0')
		return lexicon_error(why, fname, line,
		    "word: the regular expression is missing", NULL);
	/* Not compiled at all when regcomp could take gigabytes. */
	if ((big = rxbound_check(rest)) != NULL)
		return lexicon_error(
		    why, fname, line, "bad regular expression:", big);
	lx->w = xreallocarray(lx->w, lx->nw + 1, sizeof *lx->w);
	w = &lx->w[lx->nw];
	if ((rc = rxbound_regcomp(
		 &w->re, rest, REG_EXTENDED | REG_ICASE | REG_NOSUB)) != 0) {
		regerror(rc, &w->re, buf, sizeof buf);
		return lexicon_error(
		    why, fname, line, "bad regular expression:", buf);
	}
	w->src = xstrdup(rest);
	w->re_words = NULL;
	w->cause = c;
	w->weight = (int)v;
	lx->nw++;
	return 0;
}

/* "3" or "3.2": subject and detail (-1 when absent), each 0..999. */
static bool
lexicon_code(const char *s, int *subject, int *detail)
{
	char *end;
	long a, b = -1;

	if (!isdigit((unsigned char)*s))
		return false;
	a = strtol(s, &end, 10);
	if (*end == '.') {
		if (!isdigit((unsigned char)end[1]))
			return false;
		b = strtol(end + 1, &end, 10);
	}
	if (*end != '\0' || a > 999 || b > 999)
		return false;
	*subject = (int)a;
	*detail = (int)b;
	return true;
}

static int
lexicon_enh_line(struct lexicon *lx, char *rest, char **why, const char *fname,
    unsigned line)
{
	char *code = lexicon_token(&rest), *causes = lexicon_token(&rest);
	struct lexicon_enh e;
	char *c, *save = NULL;

	memset(&e, 0, sizeof e);
	if (code == NULL || causes == NULL)
		return lexicon_error(why, fname, line,
		    "enhanced: needs CODE CAUSES MEANING", NULL);
	if (!lexicon_code(code, &e.subject, &e.detail))
		return lexicon_error(why, fname, line,
		    "enhanced: the code is SUBJECT or SUBJECT.DETAIL, not",
		    code);
	for (c = strtok_r(causes, ",", &save); c != NULL;
	     c = strtok_r(NULL, ",", &save)) {
		if (e.ncauses == LEXICON_CAUSES)
			return lexicon_error(why, fname, line,
			    "enhanced: at most 4 causes", NULL);
		if ((e.causes[e.ncauses++] = kb_cause_index(c)) < 0)
			return lexicon_error(
			    why, fname, line, "unknown cause", c);
	}
	/* "," alone is a list of nothing: a code must mean some cause. */
	if (e.ncauses == 0)
		return lexicon_error(
		    why, fname, line, "enhanced: names no cause", NULL);
	while (*rest == ' ' || *rest == '\t')
		rest++;
	if (*rest == '\0')
		return lexicon_error(
		    why, fname, line, "enhanced: the meaning is missing", NULL);
	e.meaning = xstrdup(rest);
	lx->e = xreallocarray(lx->e, lx->ne + 1, sizeof *lx->e);
	lx->e[lx->ne++] = e;
	return 0;
}

static int
lexicon_line(
    struct lexicon *lx, char *s, char **why, const char *fname, unsigned line)
{
	char *kind;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0' || *s == '#')
		return 0;
	if (lx->nw + lx->ne >= LEXICON_MAX)
		return lexicon_error(
		    why, fname, line, "too many entries", NULL);
	kind = lexicon_token(&s);
	if (strcmp(kind, "word") == 0)
		return lexicon_word_line(lx, s, why, fname, line);
	if (strcmp(kind, "enhanced") == 0)
		return lexicon_enh_line(lx, s, why, fname, line);
	return lexicon_error(why, fname, line,
	    "a line starts with 'word' or 'enhanced', not", kind);
}

/* Heaviest first, file order among equals (a stable insertion sort:
   lists are short), so that the first entry that matches is the answer. */
static void
lexicon_sort(struct lexicon *lx)
{
	size_t i, j;

	for (i = 1; i < lx->nw; i++) {
		struct lexicon_word w = lx->w[i];

		for (j = i; j > 0 && lx->w[j - 1].weight < w.weight; j--)
			lx->w[j] = lx->w[j - 1];
		lx->w[j] = w;
	}
}

struct lexicon *
lexicon_parse(const char *text, size_t len, const char *fname, char **why)
{
	struct lexicon *lx = xcalloc(1, sizeof *lx);
	char buf[LEXICON_LINE_MAX + 1];
	size_t i = 0, n;
	unsigned line = 0;

	*why = NULL;
	while (i < len) {
		line++;
		for (n = 0; i + n < len && text[i + n] != '\n'; n++)
			;
		if (n > LEXICON_LINE_MAX || memchr(text + i, '\0', n) != NULL) {
			lexicon_error(why, fname, line,
			    n > LEXICON_LINE_MAX ? "line too long"
						 : "NUL byte in line",
			    NULL);
			lexicon_free(lx);
			return NULL;
		}
		memcpy(buf, text + i, n);
		buf[n] = '\0';
		if (n > 0 && buf[n - 1] == '\r')
			buf[n - 1] = '\0';
		if (lexicon_line(lx, buf, why, fname, line) != 0) {
			lexicon_free(lx);
			return NULL;
		}
		i += n + 1;
	}
	lexicon_sort(lx);
	return lx;
}

struct lexicon *
lexicon_load(const char *path, char **why)
{
	size_t len;
	char *text = xreadfile(path, LEXICON_FILE_MAX, &len, why);
	struct lexicon *lx;

	if (text == NULL)
		return NULL;
	lx = lexicon_parse(text, len, path, why);
	free(text);
	return lx;
}

struct lexicon *
lexicon_builtin(void)
{
	char *why = NULL;
	struct lexicon *lx = lexicon_parse(lexicon_builtin_text,
	    lexicon_builtin_text_len, "lexicon.conf", &why);

	if (lx == NULL)
		fatalx("built-in lexicon: %s", why);
	return lx;
}

void
lexicon_free(struct lexicon *lx)
{
	size_t i;

	if (lx == NULL)
		return;
	for (i = 0; i < lx->nw; i++) {
		regfree(&lx->w[i].re);
		if (lx->w[i].re_words != NULL) {
			regfree(lx->w[i].re_words);
			free(lx->w[i].re_words);
		}
		free(lx->w[i].src);
	}
	for (i = 0; i < lx->ne; i++)
		free(lx->e[i].meaning);
	free(lx->w);
	free(lx->e);
	free(lx);
}

size_t
lexicon_nwords(const struct lexicon *lx)
{
	return lx->nw;
}

/* The matched words, lower case, blanks squeezed, bounded. */
static void
lexicon_words(char *dst, size_t cap, const char *s, size_t n)
{
	size_t o = 0, i;

	for (i = 0; i < n && o + 1 < cap; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch >= 0x7f || ch == '\'')
			ch = ' ';
		if (ch == ' ' && (o == 0 || dst[o - 1] == ' '))
			continue;
		dst[o++] = (char)tolower(ch);
	}
	while (o > 0 && dst[o - 1] == ' ')
		o--;
	dst[o] = '\0';
}

/* Where entry w matched text, compiling its expression with
   subexpressions on first use (testing is faster without them). */
static bool
lexicon_where(struct lexicon_word *w, const char *text, regmatch_t *m)
{
	if (w->re_words == NULL) {
		w->re_words = xmalloc(sizeof *w->re_words);
		if (rxbound_regcomp(
			w->re_words, w->src, REG_EXTENDED | REG_ICASE) != 0) {
			free(w->re_words);
			w->re_words = NULL;
			return false;
		}
	}
	return regexec(w->re_words, text, 1, m, 0) == 0 && m[0].rm_so >= 0;
}

bool
lexicon_match(const struct lexicon *const *lx, size_t n, const char *text,
    struct lexicon_hit *hit)
{
	regmatch_t m[1];
	size_t k, i;
	bool found = false;

	memset(hit, 0, sizeof *hit);
	hit->cause = -1;
	if (text == NULL)
		return false;
	/* Each list is sorted heaviest first: its first match is its best,
	   and an earlier list wins a tie. */
	for (k = 0; k < n; k++) {
		for (i = 0; i < lx[k]->nw; i++) {
			const struct lexicon_word *w = &lx[k]->w[i];

			if (w->weight <= hit->weight)
				break;
			if (regexec(&w->re, text, 0, NULL, 0) != 0)
				continue;
			if (!lexicon_where((struct lexicon_word *)w, text, m))
				m[0].rm_so = m[0].rm_eo = 0;
			hit->cause = w->cause;
			hit->weight = w->weight;
			lexicon_words(hit->words, sizeof hit->words,
			    text + m[0].rm_so,
			    (size_t)(m[0].rm_eo - m[0].rm_so));
			found = true;
			break;
		}
	}
	return found;
}

const char *
lexicon_enhanced(const struct lexicon *const *lx, size_t n, int subject,
    int detail, int *causes, size_t *ncauses)
{
	const struct lexicon_enh *best = NULL;
	size_t k, i;
	int pass;

	/* The exact code first, then its subject. */
	for (pass = 0; pass < 2 && best == NULL; pass++) {
		int want = pass == 0 ? detail : -1;

		if (pass == 0 && detail < 0)
			continue;
		for (k = 0; k < n && best == NULL; k++) {
			for (i = 0; i < lx[k]->ne && best == NULL; i++) {
				if (lx[k]->e[i].subject == subject &&
				    lx[k]->e[i].detail == want)
					best = &lx[k]->e[i];
			}
		}
	}
	*ncauses = 0;
	if (best == NULL)
		return NULL;
	memcpy(causes, best->causes, best->ncauses * sizeof *causes);
	*ncauses = best->ncauses;
	return best->meaning;
}
