/*
 * Unit tests of rx: every pattern below, against every text below, in the
 * C locale and in C.UTF-8, must give regexec's answer; the patterns a
 * filter is typed with must take the fast path (PCRE2), and those rx
 * cannot translate exactly must not.
 */
#include "config.h"

#include <locale.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rx.h"
#include "rxbound.h"

/* Patterns: what a user types into the filter, GNU operators, bracket
   expressions, anchors anywhere, intervals, and what rx hands to regexec. */
static const char *const pats[] = {"a", "bob", "^bob@", "\\.net$",
    "^sender1[0-9]*\\.", "example\\.(com|net)$", "^rcpt-(limit|rate)$", "a|b",
    "(|a)", "()", "a{2,3}", "a{,2}", "a{2,}", "a{0}", "^a{3}$", "[[:space:]]+x",
    "[[:alpha:]]", "[[:upper:]]", "[[:lower:]]+$", "[[:digit:]][[:alnum:]]",
    "[[:punct:]]", "[[:xdigit:]]{2}", "[^a-z]", "[]a]", "[^]a]", "[a-]",
    "[\\d]", "[a[]", "[.]", "[%--]", "\\<word\\>", "\\bx", "x\\B", "\\w+@",
    "\\W", "\\s", "\\S+$", "\\`a", "a\\'", "\\(", "\\)", ")", "a)", "\\{",
    "\\}", "a}", "]", "\\[x\\]", "\\*", "\\+", "\\?", "\\|", "\\^", "\\$",
    "\\\\", "\\/", "\\-", ".", "^.$", "^..$", "a.c", "$a", "a^", "^$", "x*",
    "(ab)+c", "(a|bc)?d", "((a)|b)+", "ÄB", "é.", "^é$", "[é]", "[^é]",
    "\\w\\w", "Straße", "a**", "a+?", "a{1}*", "(a)\\1", "\\d", "\\n",
    "[[=a=]]", "[[.-.]]", "(a|aa)*b", "4[0-9]{2}", "^4.2 ", "5\\.7\\.1",
    "Too many", "452", "4.3.2", "^(421|452)", "rcpt", "@example\\.com>?$",
    /* fuzzing findings: PCRE2 10.42's JIT, glibc's C-locale ranges past
       ASCII, its anchors around a newline */
    "a{,}b", "^a{,}$", "x(s|)y", "(|a|bc|)d", "((s|)x|)y", "(|)a", "(a||)b",
    "(||\\W\\W\\(|)", "(\\||)x", "(\\(|)", "(a|)b*a", "(a|)[bc]*a", "(|a)b*a",
    "(a|b{0})c*a", "(a|^)c*a", "[^a-\xd4]a", "\\b", "a$.", "a.^x",
    "a$[[:space:]]",
    /* and glibc's ranges under REG_ICASE */
    "[^\x01-a+aeaz]\x01", "[^!-a]", "[!-a]", "[A-Z]", "[^A-Z]", "[a-f0-9]+$",
    "[0-z]", "[]-a]", "[%--]x", "[^a-|]", "[a-{]", "[^A-F]",
    /* and its [:upper:] and [:lower:] under REG_ICASE */
    "^[[:upper:]]$", "^[^[:lower:]]$", "[[:upper:]]y", "[[:lower:][:digit:]]+$",
    "^[^[:upper:]]+$",
    /* PCRE2's caseless "k" takes the Kelvin sign, glibc's not */
    "k", "^s$", "\xe2\x84\xaa", "[[:alpha:]]k"};

/* Texts: ASCII, UTF-8, bytes that are not UTF-8, newlines. */
static const char *const texts[] = {"", "a", "A", "b", "ab", "abc", "aa", "aaa",
    "aaaa", "aaaaaaaaaaaaaaaaaaaaaaaaaac", "bob@example.com", "Bob@Example.NET",
    "alice@example.net", "sender17.x@example.org", "Sender1.a", "rcpt-limit",
    "rcpt-rate", "x", " x", "\tx", "word", "a word here", "swordfish", "d", "1",
    "\\", "[", "]", "}", "{", ")", "(", "*", "+", "?", "|", "^", "$", "/", "-",
    "%", ",", ".", "a.c", "abc.", "ab\nc", "a\n", "\n", "äb", "ÄB", "é", "éé",
    "É", "straße", "STRASSE", "\xe9", "a\xff", "\xc3", "\xc3\xa9\xc3",
    "452 4.5.3 Too many", "421 4.3.2 Service shutting down", "4x2", "d1", "1a",
    "ab12ef", "<bob@example.com>", "AbcD", "_", "a_b", "abcd", "bcd", "acd",
    "aab", "-a", ">\xe0\xe0\xe0", "[^a-\xd4]a", "\xd4\x61", "a\nx", "\xc2\xaa",
    "\xca\xb0", "\xc7\x85", "\xe1\xba\x9e", "Ay", "\xc3\x89y", "\xe2\x84\xaa",
    "\xc5\xbf", "a\xe2\x84\xaa"};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Every pattern regcomp accepts, against every text: rx's answer is
   regexec's.  Returns how many patterns took the fast path. */
static size_t
agree_all(void)
{
	regex_t re;
	struct rx *r;
	char *cause = NULL, msg[512];
	size_t i, j, fast = 0;
	bool want, got;

	for (i = 0; i < N(pats); i++) {
		if (regcomp(
			&re, pats[i], REG_EXTENDED | REG_ICASE | REG_NOSUB)) {
			assert_null(r = rx_new(pats[i], &cause));
			assert_non_null(cause);
			free(cause);
			cause = NULL;
			continue;
		}
		r = rx_new(pats[i], &cause);
		if (r == NULL) {
			/* Only what rxbound refuses. */
			assert_non_null(rxbound_check(pats[i]));
			free(cause);
			cause = NULL;
			regfree(&re);
			continue;
		}
		fast += rx_fast(r);
		for (j = 0; j < N(texts); j++) {
			want = regexec(&re, texts[j], 0, NULL, 0) == 0;
			got = rx_test(r, texts[j], strlen(texts[j]));
			if (want != got) {
				snprintf(msg, sizeof msg,
				    "/%s/ on \"%s\" (locale %s, %s): regexec "
				    "%d, rx %d",
				    pats[i], texts[j],
				    setlocale(LC_CTYPE, NULL),
				    rx_fast(r) ? "PCRE2" : "regexec", want,
				    got);
				fail_msg("%s", msg);
			}
		}
		rx_free(r);
		regfree(&re);
	}
	return fast;
}

static void
test_agree_c(void **state)
{
	(void)state;
	assert_non_null(setlocale(LC_ALL, "C"));
	assert_true(agree_all() > N(pats) * 3 / 4);
}

static void
test_agree_utf8(void **state)
{
	(void)state;
	if (setlocale(LC_ALL, "C.UTF-8") == NULL)
		skip();
	assert_true(agree_all() > N(pats) * 3 / 4);
	setlocale(LC_ALL, "C");
}

/* What a filter is typed with goes the fast way, and what rx cannot say
   exactly does not. */
static void
test_fast_or_not(void **state)
{
	static const char *const fast[] = {"^bob@", "example\\.(com|net)$",
	    "^sender1[0-9]*\\.", "\\<word\\>", "[[:digit:]]{3}", "a{,2}",
	    "[]a]", "\\w+@\\S+", "[A-Z]+", "[^a-f0-9]", "[[:upper:]]",
	    "[^[:lower:]]"};
	static const char *const slow[] = {"(a)\\1", "a+?", "a{1}*", "[^!-a]",
	    "[0-z]", "[^a-|]", "\\d", "[[=a=]]", "[[.-.]]"};
	struct rx *r;
	char *cause = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < N(fast); i++) {
		assert_non_null(r = rx_new(fast[i], &cause));
		assert_true(rx_fast(r));
		rx_free(r);
	}
	for (i = 0; i < N(slow); i++) {
		assert_non_null(r = rx_new(slow[i], &cause));
		assert_false(rx_fast(r));
		rx_free(r);
	}
}

static void
test_translate(void **state)
{
	static const struct {
		const char *ere, *pcre; /* NULL: not translated */
	} t[] = {
	    {"^bob@", "^bob@"},
	    {"a{,3}", "a{0,3}"},
	    {"\\<x\\>", "\\b(?=\\w)x\\b(?<=\\w)"},
	    {"[\\d]", "[\\\\d]"},
	    {"[]a[]", "[\\]a\\[]"},
	    {"[^]a]", "[^\\]a]"},
	    {"[[:alpha:]]", "[[:alpha:]]"},
	    {"x(a|)y", "x(a)?y"},
	    {"(|a|bc|)", "(a|bc)?"},
	    {"((s|)x|)", "((s)?x)?"},
	    {"(a|)*", NULL},
	    {"(||\\W\\(|)", "(\\W\\()?"},
	    {"(\\||)", "(\\|)?"},
	    {"[^[:upper:]x]", "[^[:alpha:]x]"},
	    {"[[:lower:]]", "[[:alpha:]]"},
	    {"a)", "a\\)"},
	    {"\\`a\\'", "\\Aa\\z"},
	    {"[[:nope:]]", NULL},
	    {"x\\1", NULL},
	    {"a?*", NULL},
	    {"^*", NULL},
	    {"\\", NULL},
	};
	char *s;
	size_t i;

	(void)state;
	for (i = 0; i < N(t); i++) {
		s = rx_translate(t[i].ere, NULL);
		if (t[i].pcre == NULL)
			assert_null(s);
		else
			assert_string_equal(s, t[i].pcre);
		free(s);
	}
}

/* Patterns with an alternative that matches only the empty string are
   kept from PCRE2 10.42's JIT (it misses "(a|)b*a" on "a"); others not. */
static void
test_jit_guard(void **state)
{
	static const struct {
		const char *ere;
		bool jit;
	} t[] = {
	    {"example\\.(com|net)$", true},
	    {"^(421|452) ", true},
	    {"a|b", true},
	    {"(a|x{0,2})c*a", true},
	    {"(a|b?)c*a", true},
	    {"()b*a", true},
	    /* an empty alternative is left out, the group optional */
	    {"(a|)b*a", true},
	    {"(|a)b*a", true},
	    {"(a||b)c*a", true},
	    {"((a|))b*a", true},
	    {"(|)b*a", false},
	    {"(a|^)c*a", false},
	    {"(a|\\b)c*a", false},
	    {"(a|b{0})c*a", false},
	    {"(a|x{0,0})c*a", false},
	    {"(a|b{,0})c*a", false},
	    {"(a|())c*a", false},
	    {"(a|(b){0})c*a", false},
	    {"a|", false},
	    {"|a", false},
	};
	char *s;
	bool jit;
	size_t i;

	(void)state;
	for (i = 0; i < N(t); i++) {
		jit = !t[i].jit;
		s = rx_translate(t[i].ere, &jit);
		assert_non_null(s);
		if (jit != t[i].jit)
			fail_msg("/%s/: jit %d", t[i].ere, jit);
		free(s);
	}
}

/* Errors are regcomp's, and what rxbound refuses is refused. */
static void
test_errors(void **state)
{
	char *cause = NULL;

	(void)state;
	assert_null(rx_new("(", &cause));
	assert_non_null(strstr(cause, "Unmatched ("));
	free(cause);
	assert_null(rx_new("a{2,1}", &cause));
	assert_non_null(cause);
	free(cause);
	assert_null(rx_new("(x*)+(y*)+(z*)+$n*+++++", &cause));
	assert_non_null(cause);
	free(cause);
	/* glibc reads "\\0" in a count as a digit: a{4,11204}, a gigabyte. */
	assert_null(rx_new("a{4,112\\04}", &cause));
	assert_non_null(strstr(cause, "over 1000"));
	free(cause);
}

/* A text longer than rx copies to the stack, a NUL inside the bytes, and
   a pattern that makes PCRE2 backtrack past its limit: regexec answers. */
static void
test_edges(void **state)
{
	char big[4096];
	struct rx *r;
	char *cause = NULL;

	(void)state;
	memset(big, 'a', sizeof big);
	assert_non_null(r = rx_new("(a|aa)*b", &cause));
	assert_false(rx_test(r, big, sizeof big));
	big[sizeof big - 1] = 'b';
	assert_true(rx_test(r, big, sizeof big));
	rx_free(r);
	assert_non_null(r = rx_new("b$", &cause));
	assert_false(rx_test(r, "ac\0b", 4)); /* regexec stops at the NUL */
	assert_true(rx_test(r, "acb\0", 3));
	rx_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_agree_c),
	    cmocka_unit_test(test_agree_utf8),
	    cmocka_unit_test(test_fast_or_not),
	    cmocka_unit_test(test_translate),
	    cmocka_unit_test(test_jit_guard),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
