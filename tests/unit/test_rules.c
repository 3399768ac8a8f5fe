/*
 * Unit tests of rules: a good file parses into the right conditions; every
 * kind of malformed file is refused with the exact "FILE:LINE: why"; empty
 * and comment-only files give no rules; huge files hit the caps; the built-in
 * file parses and every rule in it is complete.
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
#include <unistd.h>

#include <cmocka.h>

#include "kb.h"
#include "lexicon.h"
#include "rules.h"
#include "rxbound.h"
#include "store.h"
#include "xmalloc.h"

static struct rules *
parse(const char *s, char **cause)
{
	return rules_parse(s, strlen(s), "t.conf", cause);
}

static void
test_good(void **state)
{
	static const char text[] =
	    "# a comment\n"
	    "\n"
	    "rule: one\n"
	    "code: 452, 45x 4xx\n"
	    "enhanced: 4.5.3 *.3.1 4.7.500-699 none\n"
	    "answers: RCPT mail DATA-END none\n"
	    "text: too many (recipients|rcpt)\n"
	    "greeting: ESMTP Postfix\n"
	    "server: postfix Exim\n"
	    "rcpt_accepted: >= 3\n"
	    "idle: > 5m\n"
	    "tls: yes\n"
	    "unsolicited: no\n"
	    "burst: 3 in 10m\n"
	    "title: A title\n"
	    "meaning: first line\n"
	    "  continued here\n"
	    "\tand here\n"
	    "# comment inside a record\n"
	    "when: After {rcpt_accepted}.[[ Idle {idle}.]]\n"
	    "when_general: In general.\n"
	    "fix_sender: s\n"
	    "fix_operator: o\n"
	    "\n\n\n"
	    "rule: two\r\n"
	    "code: 421\r\n"
	    "title: Two\r\n"
	    "vendor: Exim\r\n";
	char *cause = NULL;
	struct rules *rs = parse(text, &cause);
	const struct rule *r;

	(void)state;
	assert_null(cause);
	assert_non_null(rs);
	assert_int_equal(rules_count(rs), 2);
	r = rules_get(rs, 0);
	assert_string_equal(r->id, "one");
	assert_int_equal(r->line, 3);
	assert_int_equal(r->ncodes, 3);
	assert_memory_equal(r->codes[1].d, "45x", 3);
	assert_memory_equal(r->codes[2].d, "4xx", 3);
	assert_int_equal(r->nenh, 3);
	assert_true(r->enh_none);
	assert_int_equal(r->enh[1].lo[0], -1);
	assert_int_equal(r->enh[2].lo[2], 500);
	assert_int_equal(r->enh[2].hi[2], 699);
	assert_int_equal(r->answers, RULES_ANS_RCPT | RULES_ANS_MAIL |
					 RULES_ANS_DATA_END | RULES_ANS_NONE);
	assert_true(r->has_text);
	assert_int_equal(regexec(&r->text, "TOO MANY RCPT", 0, NULL, 0), 0);
	assert_true(r->has_greeting);
	assert_int_equal(r->nservers, 2);
	assert_string_equal(r->servers[1], "exim");
	assert_int_equal(r->nnums, 2);
	assert_int_equal(r->nums[0].field, RULES_F_RCPT_ACCEPTED);
	assert_int_equal(r->nums[0].op, RULES_OP_GE);
	assert_int_equal(r->nums[0].value, 3);
	assert_int_equal(r->nums[1].field, RULES_F_IDLE_MS);
	assert_int_equal(r->nums[1].op, RULES_OP_GT);
	assert_int_equal(r->nums[1].value, 300000);
	assert_int_equal(r->bools[RULES_B_TLS], RULES_YES);
	assert_int_equal(r->bools[RULES_B_UNSOLICITED], RULES_NO);
	assert_int_equal(r->bools[RULES_B_PIPELINING], RULES_ANY);
	assert_int_equal(r->burst_sessions, 3);
	assert_int_equal(r->burst_window_s, 600);
	assert_string_equal(r->meaning, "first line continued here and here");
	assert_string_equal(r->when, "After {rcpt_accepted}.[[ Idle {idle}.]]");
	assert_string_equal(r->when_general, "In general.");
	assert_null(r->vendor);
	assert_true(rules_needs_context(r));
	r = rules_get(rs, 1);
	assert_string_equal(r->id, "two");
	assert_int_equal(r->line, 27);
	assert_string_equal(r->title, "Two");
	assert_string_equal(r->vendor, "exim");
	assert_string_equal(r->meaning, "");
	assert_null(r->when_general);
	assert_false(rules_needs_context(r));
	assert_null(rules_get(rs, 2));
	rules_free(rs);
}

static void
test_malformed(void **state)
{
	static const struct {
		const char *text;
		const char *cause;
	} t[] = {
	    {"rule: a\ncode: 452\ntitle: t\ncolour: red\n",
		"t.conf:4: unknown key 'colour'"},
	    {"code: 452\ntitle: t\n", "t.conf:1: rule has no 'rule:' id"},
	    {"\n\nrule: a\ntitle: t\n", "t.conf:3: rule 'a' has no 'code:'"},
	    {"rule: a\ncode: 452\n", "t.conf:1: rule 'a' has no 'title:'"},
	    {"rule: a\ncode: 452\ntitle: t\n\nrule: a\ncode: 421\n"
	     "title: u\n",
		"t.conf:5: duplicate rule id 'a' (first at line 1)"},
	    {"rule: a\ncode: 452\ncode: 421\ntitle: t\n",
		"t.conf:3: duplicate key 'code' in rule"},
	    {"rule: a\ncode: 452\ntitle: t\ntext: (unclosed\n",
		"t.conf:4: bad regular expression in text: "},
	    {"rule: a\ncode: 4522\ntitle: t\n",
		"t.conf:2: bad code '4522' (want e.g. 452, 45x or 4xx)"},
	    {"rule: a\ncode: 652\ntitle: t\n",
		"t.conf:2: bad code '652' (want e.g. 452, 45x or 4xx)"},
	    {"rule: a\ncode: 4y2\ntitle: t\n",
		"t.conf:2: bad code '4y2' (want e.g. 452, 45x or 4xx)"},
	    {"rule: a\ncode: 452\nenhanced: 4.5\ntitle: t\n",
		"t.conf:3: bad enhanced code '4.5'"},
	    {"rule: a\ncode: 452\nenhanced: 3.5.3\ntitle: t\n",
		"t.conf:3: bad enhanced code '3.5.3' (the class is 2, 4, 5 "
		"or *)"},
	    {"rule: a\ncode: 452\nenhanced: 4.7.699-500\ntitle: t\n",
		"t.conf:3: bad enhanced code '4.7.699-500'"},
	    {"rule: a\ncode: 452\nanswers: RCPT FOO\ntitle: t\n",
		"t.conf:3: unknown command 'FOO' in answers:"},
	    {"rule: a\ncode: 452\ntitle: t {nope}\n",
		"t.conf:3: title: unknown placeholder {nope}"},
	    {"rule: a\ncode: 452\ntitle: t\nwhen: [[ a\n",
		"t.conf:4: when: '[[' without ']]'"},
	    {"rule: a\ncode: 452\ntitle: t\nwhen: a ]] b\n",
		"t.conf:4: when: ']]' without '[['"},
	    {"rule: a\ncode: 452\ntitle: t\nwhen: {code\n",
		"t.conf:4: when: '{' without '}'"},
	    {"  indented\n", "t.conf:1: indented line continues nothing"},
	    {"rule: a\njust words\n", "t.conf:2: expected 'key: value'"},
	    {"rule: a\nCode: 452\n", "t.conf:2: bad key 'Code'"},
	    {"rule: a\ncode:\ntitle: t\n", "t.conf:2: code: has no value"},
	    {"rule: bad id!\ncode: 452\ntitle: t\n",
		"t.conf:1: bad rule id 'bad id!'"},
	    {"rule: a\ncode: 452\ntitle: t\nrcpt_accepted: lots\n",
		"t.conf:4: bad rcpt_accepted: value 'lots'"},
	    {"rule: a\ncode: 452\ntitle: t\nidle: >= 5 min\n",
		"t.conf:4: bad idle: value '>= 5 min'"},
	    {"rule: a\ncode: 452\ntitle: t\ntls: maybe\n",
		"t.conf:4: bad tls: value 'maybe' (want yes or no)"},
	    {"rule: a\ncode: 452\ntitle: t\nburst: 3\n",
		"t.conf:4: bad burst: value '3'"},
	    {"rule: a\ncode: 452\ntitle: t\nburst: 0 in 5m\n",
		"t.conf:4: bad burst: value '0 in 5m'"},
	    {"rule: a\ncode: 452\ntitle: t\nserver: lotus\n",
		"t.conf:4: unknown server 'lotus'"},
	    {"rule: a\ncode: 452\ntitle: t\nvendor: lotus\n",
		"t.conf:4: unknown vendor 'lotus'"},
	    {"rule: a\ncode: 452\ntitle: t\x01\n",
		"t.conf:3: control character 0x01 in line"},
	};
	char *cause;
	size_t i;
	struct rules *rs;

	(void)state;
	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		cause = NULL;
		rs = parse(t[i].text, &cause);
		if (rs != NULL || cause == NULL ||
		    strncmp(cause, t[i].cause, strlen(t[i].cause)) != 0) {
			print_error("case %zu: want \"%s\", got \"%s\"\n", i,
			    t[i].cause, cause ? cause : "(no error)");
			fail();
		}
		free(cause);
	}
	/* A NUL byte inside a line. */
	cause = NULL;
	assert_null(
	    rules_parse("rule: a\0b\ncode: 452\n", 19, "n.conf", &cause));
	assert_string_equal(cause, "n.conf:1: NUL byte in line");
	free(cause);
}

static void
test_empty(void **state)
{
	char *cause = NULL;
	struct rules *rs;

	(void)state;
	rs = rules_parse("", 0, "e.conf", &cause);
	assert_non_null(rs);
	assert_int_equal(rules_count(rs), 0);
	rules_free(rs);
	rs = parse("# only comments\n\n   \n# and blanks\n", &cause);
	assert_non_null(rs);
	assert_null(cause);
	assert_int_equal(rules_count(rs), 0);
	rules_free(rs);
	rules_free(NULL);
	assert_int_equal(rules_count(NULL), 0);
}

static void
test_huge(void **state)
{
	size_t cap = (RULES_MAX + 1) * 48 + 64, len = 0, i;
	char *buf = xmalloc(cap), *cause = NULL;
	struct rules *rs;

	(void)state;
	for (i = 0; i < RULES_MAX; i++)
		len += (size_t)snprintf(buf + len, cap - len,
		    "rule: r%zu\ncode: 452\ntitle: t\n\n", i);
	rs = rules_parse(buf, len, "h.conf", &cause);
	assert_non_null(rs);
	assert_int_equal(rules_count(rs), RULES_MAX);
	rules_free(rs);
	/* One more is one too many; the error names its line. */
	len += (size_t)snprintf(
	    buf + len, cap - len, "rule: last\ncode: 452\ntitle: t\n");
	rs = rules_parse(buf, len, "h.conf", &cause);
	assert_null(rs);
	assert_non_null(cause);
	assert_non_null(strstr(cause, ": too many rules (max 2000)"));
	assert_int_equal(strncmp(cause, "h.conf:8001:", 12), 0);
	free(cause);
	free(buf);

	/* An over-long line. */
	buf = xmalloc(RULES_LINE_MAX + 64);
	memcpy(buf, "rule: a\ntitle: ", 15);
	memset(buf + 15, 'x', RULES_LINE_MAX);
	buf[15 + RULES_LINE_MAX] = '\n';
	cause = NULL;
	assert_null(rules_parse(buf, 16 + RULES_LINE_MAX, "l.conf", &cause));
	assert_string_equal(cause, "l.conf:2: line too long (max 4096 bytes)");
	free(cause);
	free(buf);

	/* A value grown too long by continuation lines. */
	buf = xmalloc(64 + 3 * 4000);
	len = (size_t)snprintf(buf, 64, "rule: a\ncode: 452\ntitle: t\n");
	for (i = 0; i < 3; i++) {
		buf[len++] = ' ';
		memset(buf + len, 'y', 3990);
		len += 3990;
		buf[len++] = '\n';
	}
	cause = NULL;
	assert_null(rules_parse(buf, len, "v.conf", &cause));
	assert_string_equal(cause, "v.conf:6: value of 'title' too long "
				   "(max 8192 bytes)");
	free(cause);
	free(buf);
}

static void
test_load(void **state)
{
	char path[] = "/tmp/test_rules_XXXXXX", *cause = NULL;
	struct rules *rs;
	FILE *f;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs("rule: x\ncode: 5xx\ntitle: Any failure\n\nrule: y\n", f);
	fclose(f);
	rs = rules_load(path, &cause);
	assert_null(rs);
	assert_non_null(cause);
	/* The file's own name and the record's line. */
	assert_non_null(strstr(cause, path));
	assert_non_null(strstr(cause, ":5: rule 'y' has no 'code:'"));
	free(cause);
	unlink(path);
	cause = NULL;
	assert_null(rules_load("/nonexistent/rules.conf", &cause));
	assert_string_equal(cause, "/nonexistent/rules.conf: No such file or "
				   "directory");
	free(cause);
}

/* The built-in file parses, is big, and every rule is complete. */
static void
test_builtin(void **state)
{
	struct rules *rs = rules_builtin();
	const struct rule *r;
	size_t i, n421 = 0, n452 = 0;

	(void)state;
	assert_true(rules_count(rs) >= 100);
	for (i = 0; (r = rules_get(rs, i)) != NULL; i++) {
		assert_true(strlen(r->title) > 0);
		assert_true(strlen(r->meaning) > 0);
		assert_non_null(r->cause);
		assert_true(kb_cause_index(r->cause) >= 0);
		assert_true(strlen(r->fix_sender) > 0);
		assert_true(strlen(r->fix_operator) > 0);
		if (r->codes[0].d[0] == '4' && r->codes[0].d[1] == '2')
			n421++;
		if (r->codes[0].d[0] == '4' && r->codes[0].d[1] == '5' &&
		    r->codes[0].d[2] == '2')
			n452++;
	}
	assert_true(n421 >= 40);
	assert_true(n452 >= 20);
	rules_free(rs);
}

static void
test_answers_bit(void **state)
{
	(void)state;
	assert_int_equal(rules_answers_bit(NULL), RULES_ANS_NONE);
	assert_int_equal(rules_answers_bit(""), RULES_ANS_NONE);
	assert_int_equal(rules_answers_bit("RCPT"), RULES_ANS_RCPT);
	assert_int_equal(rules_answers_bit("data-end"), RULES_ANS_DATA_END);
	assert_int_equal(rules_answers_bit("GREETING"), RULES_ANS_CONNECT);
	assert_int_equal(rules_answers_bit("NOOP"), RULES_ANS_OTHER);
	/* --after takes these words and refuses others. */
	assert_true(rules_answers_valid("RCPT"));
	assert_true(rules_answers_valid("greeting"));
	assert_true(rules_answers_valid("END-OF-DATA"));
	assert_true(rules_answers_valid("none"));
	assert_true(rules_answers_valid("NOOP"));
	assert_false(rules_answers_valid("FOO"));
	assert_false(rules_answers_valid(""));
	assert_false(rules_answers_valid(NULL));
	assert_int_equal(rules_answers_bit("VRFY"), RULES_ANS_OTHER);
}

/* The lexicon file: its entries, its errors, and the built-in one. */
static void
test_lexicon(void **state)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
	    {"word nope 50 x\n", "t:1: unknown cause 'nope'"},
	    {"word overload 0 x\n", "t:1: weight must be 1 to 100, not '0'"},
	    {"word overload 101 x\n",
		"t:1: weight must be 1 to 100, not '101'"},
	    {"word overload 5x x\n", "t:1: weight must be 1 to 100, not '5x'"},
	    {"word overload\n", "t:1: word: needs CAUSE WEIGHT REGEX"},
	    {"word overload 50\n",
		"t:1: word: the regular expression is missing"},
	    {"word overload 50    \n",
		"t:1: word: the regular expression is missing"},
	    {"# c\nword overload 50 (a\n", NULL},
	    {"enhanced 3.2\n", "t:1: enhanced: needs CODE CAUSES MEANING"},
	    {"enhanced 3.2 shutdown   \n",
		"t:1: enhanced: the meaning is missing"},
	    {"enhanced x.2 shutdown m\n", NULL},
	    {"enhanced 3.2 a,b m\n", "t:1: unknown cause 'a'"},
	    /* fuzz_rules (campaign of 2026-12-05): a list of no cause was
	       taken, and diag_decide then read an unset cause index. */
	    {"#t\nenhanced 3.2 ,  shutdown, e (91 \n",
		"t:2: enhanced: names no cause"},
	    {"enhanced 3.2 ,,, m\n", "t:1: enhanced: names no cause"},
	    {"enhanced 3.2 shutdown,overload,temporary,unknown,policy m\n",
		"t:1: enhanced: at most 4 causes"},
	    {"other 1 2\n",
		"t:1: a line starts with 'word' or 'enhanced', not 'other'"},
	};
	const struct lexicon *l[2];
	struct lexicon *lx, *b;
	struct lexicon_hit hit;
	char *why, big[LEXICON_LINE_MAX + 20];
	int cs[LEXICON_CAUSES];
	size_t i, n;
	const char *m;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		why = NULL;
		lx = lexicon_parse(bad[i].text, strlen(bad[i].text), "t", &why);
		assert_null(lx);
		assert_non_null(why);
		if (bad[i].why != NULL)
			assert_string_equal(why, bad[i].why);
		free(why);
	}
	/* A line too long, a NUL byte: errors, not crashes. */
	memset(big, 'a', sizeof big);
	memcpy(big, "word overload 50 ", 17);
	assert_null(lexicon_parse(big, sizeof big, "t", &why));
	assert_non_null(strstr(why, "line too long"));
	free(why);
	assert_null(lexicon_parse("word overload 50 a\0b\n", 21, "t", &why));
	assert_non_null(strstr(why, "NUL"));
	free(why);

	/* The heavier entry wins whatever the order; a file given first
	   wins a tie with the built-in one. */
	m = "word overload 40 busy\r\nword shutdown 60 going away\n"
	    "enhanced 9.9 policy,greylist a test code\n";
	lx = lexicon_parse(m, strlen(m), "t", &why);
	assert_non_null(lx);
	assert_int_equal(lexicon_nwords(lx), 2);
	l[0] = lx;
	assert_true(lexicon_match(l, 1, "Busy, GOING AWAY now", &hit));
	assert_int_equal(hit.cause, kb_cause_index("shutdown"));
	assert_int_equal(hit.weight, 60);
	assert_string_equal(hit.words, "going away");
	assert_false(lexicon_match(l, 1, "all fine", &hit));
	assert_int_equal(hit.cause, -1);
	m = lexicon_enhanced(l, 1, 9, 9, cs, &n);
	assert_string_equal(m, "a test code");
	assert_int_equal(n, 2);
	assert_int_equal(cs[1], kb_cause_index("greylist"));
	assert_null(lexicon_enhanced(l, 1, 9, 8, cs, &n));
	assert_int_equal(n, 0);

	b = lexicon_builtin();
	assert_true(lexicon_nwords(b) >= 100);
	l[1] = b;
	/* Every registered subject has a meaning; a detail not in the
	   table falls back to its subject's. */
	for (i = 0; i <= 7; i++)
		assert_non_null(lexicon_enhanced(&l[1], 1, (int)i, -1, cs, &n));
	assert_ptr_equal(lexicon_enhanced(&l[1], 1, 3, 999, cs, &n),
	    lexicon_enhanced(&l[1], 1, 3, -1, cs, &n));
	m = lexicon_enhanced(&l[1], 1, 5, 3, cs, &n);
	assert_non_null(m);
	assert_int_equal(cs[0], kb_cause_index("rcpt-limit"));
	assert_true(
	    lexicon_match(&l[1], 1, "421 4.3.2 Service shutting down", &hit));
	assert_int_equal(hit.cause, kb_cause_index("shutdown"));
	lexicon_free(lx);
	lexicon_free(b);
}

/*
 * A regular expression regcomp would take seconds and gigabytes on (glibc
 * copies a repeated part once per repetition) is refused before it is
 * compiled, with FILE:LINE, in a rules file, a lexicon and the UI's
 * /regex/ filter; the built-in ones pass.
 */
static void
test_regex_too_big(void **state)
{
	static const char *const big[] = {
	    "a{2000}",
	    "(x{100}){100}{100}",
	    "(a|b){0,200}(c{0,200}){0,200}",
	    "$n*+++++",
	    "(\\b|\\B)(\\b|\\B)(\\b|\\B)(\\b|\\B)(\\b|\\B)",
	};
	char buf[512], plus[128];
	char *cause = NULL;
	struct lexicon *lx;
	struct store_filter *f;
	size_t i;

	(void)state;
	/* About 60 stacked "+": 2^60 copies. */
	memset(plus, '+', 60);
	memcpy(plus, "(a|b)", 5);
	plus[60] = '\0';
	for (i = 0; i <= sizeof big / sizeof big[0]; i++) {
		const char *re = i < sizeof big / sizeof big[0] ? big[i] : plus;

		snprintf(buf, sizeof buf,
		    "# comment\nrule: r\ncode: 452\ntitle: t\ntext: %s\n", re);
		cause = NULL;
		assert_null(rules_parse(buf, strlen(buf), "big.conf", &cause));
		assert_non_null(cause);
		assert_int_equal(strncmp(cause,
				     "big.conf:5: bad regular "
				     "expression in text: ",
				     40),
		    0);
		free(cause);
		snprintf(buf, sizeof buf, "\nword rcpt-limit 50 %s\n", re);
		cause = NULL;
		lx = lexicon_parse(buf, strlen(buf), "big.lex", &cause);
		assert_null(lx);
		assert_non_null(cause);
		assert_int_equal(strncmp(cause, "big.lex:2:", 10), 0);
		assert_non_null(strstr(cause, "regular expression"));
		free(cause);
		snprintf(buf, sizeof buf, "rcpt:/%s/", re);
		cause = NULL;
		f = store_filter_new(buf, &cause);
		assert_null(f);
		assert_non_null(cause);
		free(cause);
	}
	assert_non_null(strstr(rxbound_check("a{1001}"), "over 1000"));
	assert_non_null(strstr(rxbound_check("((((((((((((((((((((((((((((("
					     "((((((((a))))))))))))))))))))))"
					     "))))))))))))))))"),
	    "32 deep"));
	/* fuzz_rules (fourth campaign): stacked repetitions of a part that
	   may match nothing, 8,255 parts, took seconds to compile; fifth
	   campaign: the same after an anchor, 575 parts, over 10 s. */
	assert_non_null(
	    strstr(rxbound_check("gr[ae]y.?lt+ic++++++*++++++f+ix_++pt"),
		"can match nothing"));
	assert_non_null(strstr(rxbound_check("gr+ic++oe+$n++*+++++++fix_++pt"),
	    "can match nothing"));
	assert_non_null(strstr(rxbound_check("x+(a*)+"), "can match nothing"));
	assert_non_null(strstr(rxbound_check("(^|$|\\b)*"), "can match"));
	assert_non_null(strstr(rxbound_check("(a|)+"), "can match nothing"));
	assert_non_null(strstr(rxbound_check("(a?b?){2}"), "can match"));
	assert_non_null(strstr(rxbound_check("(x)\\1*"), "can match"));
	/* Anchors with nothing that must match between them: 9 in a row,
	   through optional parts, through alternatives, across a group's
	   edge, and from a repeated group's end back to its start. */
	assert_non_null(strstr(
	    rxbound_check("\\b\\B\\b\\B\\b\\B\\b\\B^"), "more than 8 anchors"));
	assert_non_null(strstr(rxbound_check("\\ba?\\Bb?\\ba?\\Bb?\\ba?"
					     "\\Bb?\\ba?\\Bb?\\b"),
	    "anchors"));
	assert_non_null(
	    strstr(rxbound_check("(\\b|\\B)(\\b|\\B)(\\b|\\B)(\\b|\\B)"
				 "(\\b|\\B)"),
		"anchors"));
	assert_non_null(
	    strstr(rxbound_check("\\b\\B\\b\\B\\b(\\<\\>\\<\\>x)"), "anchors"));
	assert_non_null(strstr(
	    rxbound_check("(\\<\\>\\<\\>x\\<\\>\\<\\>\\b)+"), "anchors"));
	assert_null(rxbound_check("\\b\\B\\b\\B\\b\\B\\b\\B"));
	assert_null(rxbound_check("(\\<\\>\\<\\>x\\<\\>\\<\\>)+"));
	assert_null(rxbound_check("^\\b(4\\.7\\.1|greylist(ed|ing)?)\\b.*$"));
	assert_null(rxbound_check(".*?(a|b)?x{0,3}"));
	/* Anchors opening alternatives add up; factored out they do not. */
	assert_non_null(strstr(rxbound_check("(\\ba|\\bb|\\bc|\\bd|\\be|"
					     "\\bf|\\bg|\\bh|\\bi)"),
	    "\\b(a|b)"));
	assert_null(rxbound_check("\\b(a|b|c|d|e|f|g|h|i|j|k|l)\\b"));
	assert_non_null(strstr(rxbound_check("x{1000}{5}"), "over 4000"));
	/* "{,}" is glibc's {0,}: a part that can match nothing. */
	assert_non_null(
	    strstr(rxbound_check("a{,}{2,6}{9,}"), "can match nothing"));
	assert_non_null(
	    strstr(rxbound_check("(a{,}){3}"), "can match nothing"));
	assert_null(rxbound_check("a{,}b"));
	/* What is in bounds still compiles. */
	assert_null(rxbound_check("a{1000}"));
	assert_null(rxbound_check("(too many|excessive) (recipients|rcpt)"));
	assert_null(rxbound_check("[]{}(]{5}x{,3}\\{9999}a{"));
	rules_free(rules_builtin());
	lexicon_free(lexicon_builtin());
}

/* The diagnosis's patterns compile in the C locale: "." is one byte and
   case folds for ASCII only, under a UTF-8 terminal as under cron. */
static void
test_regcomp_c_locale(void **state)
{
	regex_t re;
	const char *e_acute = "\xc3\xa9", *E_acute = "\xc3\x89";

	(void)state;
	if (setlocale(LC_ALL, "C.UTF-8") == NULL) {
		skip();
		return;
	}
	/* The user's locale would take "é" as one character. */
	assert_int_equal(regcomp(&re, "^.$", REG_EXTENDED | REG_NOSUB), 0);
	assert_int_equal(regexec(&re, e_acute, 0, NULL, 0), 0);
	regfree(&re);
	assert_int_equal(
	    rxbound_regcomp(&re, "^.$", REG_EXTENDED | REG_NOSUB), 0);
	assert_int_equal(regexec(&re, e_acute, 0, NULL, 0), REG_NOMATCH);
	regfree(&re);
	assert_int_equal(
	    rxbound_regcomp(&re, "^..$", REG_EXTENDED | REG_NOSUB), 0);
	assert_int_equal(regexec(&re, e_acute, 0, NULL, 0), 0);
	regfree(&re);
	assert_int_equal(
	    rxbound_regcomp(&re, e_acute, REG_EXTENDED | REG_ICASE | REG_NOSUB),
	    0);
	assert_int_equal(regexec(&re, E_acute, 0, NULL, 0), REG_NOMATCH);
	assert_int_equal(regexec(&re, e_acute, 0, NULL, 0), 0);
	regfree(&re);
	assert_int_equal(rxbound_regcomp(&re, "service SHUTTING",
			     REG_EXTENDED | REG_ICASE | REG_NOSUB),
	    0);
	assert_int_equal(
	    regexec(&re, "4.3.2 Service shutting down", 0, NULL, 0), 0);
	regfree(&re);
	/* The caller's locale is left as it was. */
	assert_non_null(strstr(setlocale(LC_ALL, NULL), "UTF-8"));
	setlocale(LC_ALL, "C");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lexicon),
	    cmocka_unit_test(test_good),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_huge),
	    cmocka_unit_test(test_load),
	    cmocka_unit_test(test_builtin),
	    cmocka_unit_test(test_answers_bit),
	    cmocka_unit_test(test_regex_too_big),
	    cmocka_unit_test(test_regcomp_c_locale),
	};

	return cmocka_run_group_tests_name("rules", tests, NULL, NULL);
}
