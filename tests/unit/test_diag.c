/*
 * Unit tests of diag: every reply variant of tests/data/reply-variants.tsv
 * gets its specific rule; the session context shapes `when` (recipient
 * limits, idle timeouts, bursts across sessions, SIZE, queue space); other
 * failures stay lean; --explain always has an answer; the knowledge tables
 * cover every RFC 5321 code and every registered enhanced code.
 */
#include "config.h"

#include <regex.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "diag.h"
#include "diag_tables.h"
#include "kb.h"
#include "lexicon.h"
#include "event.h"
#include "rules.h"
#include "xmalloc.h"

/* A reply event as the SMTP engine would hand it over. */
static struct event *
mkreply(uint64_t session, const char *server, double t, int code,
    const char *enh, const char *answers, const char *text)
{
	struct event *ev = event_new(EV_REPLY);

	ev->session = session;
	ev->ts.tv_sec = 1700000000 + (time_t)t;
	ev->ts.tv_usec = (suseconds_t)((t - (double)(long)t) * 1e6);
	snprintf(ev->client, sizeof ev->client, "192.0.2.7:40000");
	snprintf(ev->server, sizeof ev->server, "%s", server);
	ev->code = code;
	snprintf(ev->enhanced, sizeof ev->enhanced, "%s", enh ? enh : "");
	snprintf(ev->answers, sizeof ev->answers, "%s", answers ? answers : "");
	ev->text = xstrdup(text);
	ev->text_len = strlen(text);
	ev->lines = 1;
	ev->ctx.idle_ms = -1;
	ev->ctx.unsolicited = answers == NULL;
	return ev;
}

/* The texts of a diagnosis are complete and all placeholders are gone;
   `when` may be empty (it is left out when it would only repeat the
   transcript), and the cause, confidence and evidence are set. */
static void
check_texts(const struct event_diag *x)
{
	const char *f[] = {x->rule, x->title, x->meaning, x->when,
	    x->fix_sender, x->fix_operator, x->cause};
	size_t i;

	assert_non_null(x->cause);
	assert_true(kb_cause_index(x->cause) >= 0);
	assert_non_null(x->confidence);
	for (i = 0; i < x->n_evidence; i++)
		assert_true(strlen(x->evidence[i]) > 0);
	for (i = 0; i < sizeof f / sizeof f[0]; i++) {
		assert_non_null(f[i]);
		assert_true(strlen(f[i]) > 0 || f + i == &f[3]);
		assert_null(strchr(f[i], '{'));
		assert_null(strstr(f[i], "[["));
		assert_null(strstr(f[i], "]]"));
		assert_null(strstr(f[i], "  "));
		assert_true(f[i][0] != ' ');
	}
}

static char *
field(char **p)
{
	char *s = *p, *tab;

	if (s == NULL)
		return NULL;
	tab = strchr(s, '\t');
	if (tab != NULL) {
		*tab = '\0';
		*p = tab + 1;
	} else
		*p = NULL;
	return s;
}

/* A data file of tests/data, opened or the test fails. */
static FILE *
open_data(const char *name)
{
	const char *top = getenv("top_srcdir");
	char path[1024];
	FILE *f;

	snprintf(path, sizeof path, "%s/tests/data/%s",
	    top != NULL ? top : "..", name);
	f = fopen(path, "r");
	if (f == NULL) {
		print_error("cannot open %s\n", path);
		fail();
	}
	return f;
}

static void
test_variants(void **state)
{
	char line[2048];
	struct diag *d = diag_new();
	FILE *f;
	unsigned n = 0, refs[128] = {0}, nrefs = 0, i, bad = 0;

	(void)state;
	f = open_data("reply-variants.tsv");
	while (fgets(line, sizeof line, f) != NULL) {
		char *p = line, *ref, *code, *enh, *ans, *text, *greet, *rule;
		char server[64];
		unsigned accepted;
		struct event *ev;

		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		ref = field(&p);
		code = field(&p);
		enh = field(&p);
		ans = field(&p);
		text = field(&p);
		greet = field(&p);
		rule = field(&p);
		assert_non_null(rule);
		/* Optional: recipients accepted before (a limit's rows). */
		accepted = p != NULL ? (unsigned)atoi(field(&p)) : 0;
		n++;
		/* A server of its own per case: no burst between cases. */
		snprintf(server, sizeof server, "198.51.100.%u:25", n % 250);
		ev = mkreply(n, server, n * 3600.0, atoi(code),
		    strcmp(enh, "-") ? enh : NULL,
		    strcmp(ans, "-") ? ans : NULL, text);
		if (strcmp(greet, "-") != 0)
			ev->ctx.greeting = xstrdup(greet);
		ev->ctx.rcpt_accepted = accepted;
		ev->ctx.rcpt_seen = accepted + 1;
		diag_reply(d, ev);
		if (ev->diag == NULL || strcmp(ev->diag->rule, rule) != 0) {
			print_error("ref %s: %s %s [%s] \"%s\": want %s, got "
				    "%s\n",
			    ref, code, enh, ans, text, rule,
			    ev->diag ? ev->diag->rule : "(none)");
			bad++;
			event_free(ev);
			continue;
		}
		assert_true(strncmp(ev->diag->rule, "generic", 7) != 0);
		check_texts(ev->diag);
		assert_int_equal(
		    ev->highlight, ev->code == 421 || ev->code == 452);
		for (i = 0; i < nrefs && refs[i] != (unsigned)atoi(ref); i++)
			;
		if (i == nrefs && nrefs < 128)
			refs[nrefs++] = (unsigned)atoi(ref);
		event_free(ev);
	}
	fclose(f);
	assert_int_equal(bad, 0);
	/* Every one of the 106 reference rows is covered. */
	assert_int_equal(nrefs, 106);
	assert_true(n >= 106);
	diag_free(d);
}

/* 452 to the 4th RCPT after 3 accepted: the limit is 3. */
static void
test_rcpt_limit_count(void **state)
{
	struct diag *d = diag_new();
	struct event *ev;

	(void)state;
	ev = mkreply(1, "192.0.2.25:25", 0, 452, "4.5.3", "RCPT",
	    "Error: too many recipients");
	ev->ctx.rcpt_seen = 4;
	ev->ctx.rcpt_accepted = 3;
	ev->ctx.in_transaction = true;
	ev->ctx.greeting = xstrdup("mx.example.org ESMTP Postfix (Debian)");
	diag_reply(d, ev);
	assert_true(ev->highlight);
	assert_non_null(ev->diag);
	assert_string_equal(ev->diag->rule, "452-postfix-rcpt-limit");
	assert_non_null(strstr(ev->diag->when, "4th RCPT"));
	assert_non_null(strstr(ev->diag->when, "first 3 recipients were "
					       "accepted"));
	assert_non_null(strstr(ev->diag->when, "limit is 3 recipients per "
					       "message"));
	assert_non_null(strstr(ev->diag->when, "new transaction"));
	check_texts(ev->diag);
	event_free(ev);

	/* Unknown text: the situation alone says recipient limit. */
	ev = mkreply(2, "192.0.2.26:25", 0, 452, NULL, "RCPT",
	    "Requested action not taken: try again");
	ev->ctx.rcpt_seen = 4;
	ev->ctx.rcpt_accepted = 3;
	diag_reply(d, ev);
	assert_string_equal(ev->diag->rule, "452-rcpt-after-accepted");
	assert_non_null(strstr(ev->diag->when, "limit is 3 recipients"));
	event_free(ev);

	/* Same, first recipient: not a limit. */
	ev = mkreply(3, "192.0.2.27:25", 0, 452, NULL, "RCPT",
	    "Requested action not taken: try again");
	ev->ctx.rcpt_seen = 1;
	diag_reply(d, ev);
	assert_string_equal(ev->diag->rule, "452-rcpt-first");
	assert_null(strstr(ev->diag->when, "limit is"));
	event_free(ev);

	/* No recipient accepted: no limit to state, nothing to send. */
	ev = mkreply(4, "192.0.2.28:25", 0, 452, "4.5.3", "RCPT",
	    "Error: too many recipients");
	diag_reply(d, ev);
	assert_string_equal(ev->diag->rule, "cause-rcpt-limit.none-accepted");
	assert_null(strstr(ev->diag->when, "limit is"));
	assert_non_null(strstr(ev->diag->fix_sender, "nothing to send"));
	check_texts(ev->diag);
	event_free(ev);
	diag_free(d);
}

/* An unsolicited 421 after 300 s of silence is an idle timeout. */
static void
test_idle_timeout(void **state)
{
	struct diag *d = diag_new();
	struct event *ev;

	(void)state;
	ev = mkreply(1, "192.0.2.25:25", 0, 421, NULL, NULL,
	    "mx.example.org closing this session");
	ev->ctx.idle_ms = 300000;
	ev->ctx.session_ms = 302000;
	diag_reply(d, ev);
	assert_true(ev->highlight);
	assert_string_equal(ev->diag->rule, "421-idle-timeout");
	assert_non_null(strstr(ev->diag->when, "after 5 min of silence"));
	check_texts(ev->diag);
	event_free(ev);

	/* Postfix's own text: its rule, still with the measured time. */
	ev = mkreply(2, "192.0.2.26:25", 0, 421, "4.4.2", NULL,
	    "mx.example.org Error: timeout exceeded");
	ev->ctx.idle_ms = 302500;
	diag_reply(d, ev);
	assert_string_equal(ev->diag->rule, "421-postfix-timeout");
	assert_non_null(strstr(ev->diag->when, "5 min 3 s"));
	event_free(ev);

	/* Short silence: not an idle timeout. */
	ev = mkreply(3, "192.0.2.27:25", 0, 421, NULL, NULL,
	    "mx.example.org closing this session");
	ev->ctx.idle_ms = 200;
	diag_reply(d, ev);
	assert_string_equal(ev->diag->rule, "421-unsolicited");
	event_free(ev);
	diag_free(d);
}

/* 421s to 4 sessions of one server in 3 minutes are a burst. */
static void
test_burst(void **state)
{
	struct diag *d = diag_new();
	struct event *ev;
	uint64_t s;

	(void)state;
	for (s = 1; s <= 4; s++) {
		ev = mkreply(s, "203.0.113.5:25", (double)s * 60.0, 421, NULL,
		    "CONNECT", "mx.example.org overloaded, go away");
		diag_reply(d, ev);
		assert_non_null(ev->diag);
		if (s < 3)
			assert_string_equal(ev->diag->rule, "421-greeting");
		else
			assert_string_equal(ev->diag->rule, "421-burst");
		if (s == 4)
			assert_non_null(strstr(ev->diag->when,
			    "4 of the last 4 "
			    "sessions to this server got this same 421 within "
			    "3 min"));
		check_texts(ev->diag);
		event_free(ev);
	}
	/* Another server is not affected. */
	ev = mkreply(5, "203.0.113.6:25", 250.0, 421, NULL, "CONNECT",
	    "mx.example.org overloaded, go away");
	diag_reply(d, ev);
	assert_string_equal(ev->diag->rule, "421-greeting");
	event_free(ev);
	/* Half an hour later the burst is over. */
	ev = mkreply(6, "203.0.113.5:25", 2400.0, 421, NULL, "CONNECT",
	    "mx.example.org overloaded, go away");
	diag_reply(d, ev);
	assert_string_equal(ev->diag->rule, "421-greeting");
	event_free(ev);

	/* A recognised text keeps its rule but notes the burst. */
	for (s = 10; s <= 13; s++) {
		ev = mkreply(s, "203.0.113.9:25", 5000.0 + (double)s, 421,
		    "4.7.0", "CONNECT",
		    "mx Error: too many connections from 192.0.2.7");
		diag_reply(d, ev);
		assert_string_equal(ev->diag->rule, "421-postfix-conn-limit");
		if (s >= 12)
			assert_non_null(strstr(ev->diag->when, "Pattern: "));
		else
			assert_null(strstr(ev->diag->when, "Pattern: "));
		event_free(ev);
	}
	diag_free(d);
}

/* diag_forget: the same 421s after it are diagnosed as by a new engine,
   and the history fills again. */
static void
test_forget(void **state)
{
	struct diag *d = diag_new();
	struct event *ev;
	uint64_t s;
	int round;

	(void)state;
	for (round = 0; round < 2; round++) {
		for (s = 1; s <= 3; s++) {
			ev = mkreply(s, "203.0.113.5:25", (double)s * 60.0, 421,
			    NULL, "CONNECT",
			    "mx.example.org overloaded, go away");
			diag_reply(d, ev);
			assert_non_null(ev->diag);
			assert_string_equal(ev->diag->rule,
			    s < 3 ? "421-greeting" : "421-burst");
			event_free(ev);
		}
		diag_forget(d);
	}
	diag_free(d);
}

/* The history stays bounded with many servers and sessions. */
static void
test_history_bounded(void **state)
{
	struct diag *d = diag_new();
	struct event *ev;
	char server[64];
	unsigned i;

	(void)state;
	for (i = 0; i < 3000; i++) {
		snprintf(
		    server, sizeof server, "10.%u.%u.1:25", i / 200, i % 200);
		ev = mkreply(
		    i + 1, server, (double)i, 421, NULL, "CONNECT", "busy");
		diag_reply(d, ev);
		assert_non_null(ev->diag);
		event_free(ev);
	}
	for (i = 0; i < 100; i++) {
		ev = mkreply(10000 + i, "10.9.9.9:25", 4000.0 + i, 452, "4.3.1",
		    "MAIL", "Insufficient system storage");
		diag_reply(d, ev);
		event_free(ev);
	}
	diag_free(d);
}

/* 452 4.3.1 to MAIL: the queue disk; 452 with SIZE: the size. */
static void
test_storage_and_size(void **state)
{
	struct diag *d = diag_new();
	struct event *ev;

	(void)state;
	ev = mkreply(1, "192.0.2.25:25", 0, 452, "4.3.1", "MAIL",
	    "Insufficient system storage");
	diag_reply(d, ev);
	assert_string_equal(ev->diag->rule, "452-postfix-queue-space");
	assert_non_null(strstr(ev->diag->title, "Queue filesystem"));
	assert_non_null(strstr(ev->diag->meaning, "queue_minfree"));
	event_free(ev);

	ev = mkreply(
	    2, "192.0.2.26:25", 0, 452, "4.3.1", "MAIL", "No room at the inn");
	ev->ctx.mail_size = 20000000;
	diag_reply(d, ev);
	assert_string_equal(ev->diag->rule, "452-queue-full");
	assert_non_null(strstr(ev->diag->when, "SIZE 20000000 bytes"));
	assert_non_null(strstr(ev->diag->fix_operator, "queue_minfree"));
	event_free(ev);

	ev = mkreply(
	    3, "192.0.2.27:25", 0, 452, NULL, "MAIL", "Try again later");
	ev->ctx.mail_size = 5242880;
	ev->ctx.ehlo_size = 52428800;
	diag_reply(d, ev);
	assert_string_equal(ev->diag->rule, "452-mail-size");
	assert_non_null(strstr(ev->diag->when, "SIZE 5242880 bytes (5.0 MiB)"));
	assert_non_null(strstr(ev->diag->when, "52428800 bytes"));
	event_free(ev);

	ev = mkreply(4, "192.0.2.28:25", 0, 552, "5.3.4", "MAIL",
	    "Message size exceeds fixed limit");
	ev->ctx.mail_size = 30000000;
	diag_reply(d, ev);
	assert_false(ev->highlight);
	assert_string_equal(ev->diag->rule, "552-size-declared");
	assert_non_null(strstr(ev->diag->when, "30000000 bytes"));
	event_free(ev);
	diag_free(d);
}

/* 421 situations: per-connection message limit, STARTTLS, after data. */
static void
test_421_situations(void **state)
{
	struct diag *d = diag_new();
	struct event *ev;

	(void)state;
	ev = mkreply(1, "192.0.2.25:25", 0, 421, NULL, "MAIL", "Bye now");
	ev->ctx.messages = 10;
	diag_reply(d, ev);
	assert_string_equal(ev->diag->rule, "421-after-messages");
	assert_non_null(strstr(ev->diag->when, "11th MAIL FROM"));
	assert_non_null(strstr(ev->diag->when, "limit is 10 messages per "
					       "connection"));
	event_free(ev);

	ev = mkreply(2, "192.0.2.26:25", 0, 421, "4.7.0", "STARTTLS", "Bye");
	diag_reply(d, ev);
	assert_string_equal(ev->diag->rule, "421-after-starttls");
	event_free(ev);

	ev = mkreply(3, "192.0.2.27:25", 0, 421, "4.7.0", "EHLO", "Bye");
	ev->ctx.tls_active = true;
	diag_reply(d, ev);
	assert_string_equal(ev->diag->rule, "421-after-tls-handshake");
	event_free(ev);

	ev = mkreply(4, "192.0.2.28:25", 0, 421, "4.7.0", "DATA-END", "Bye");
	ev->ctx.data_bytes = 2048;
	ev->ctx.greeting = xstrdup("mx.google.com ESMTP a1-2 - gsmtp");
	diag_reply(d, ev);
	assert_string_equal(ev->diag->rule, "421-after-data");
	assert_non_null(strstr(ev->diag->when, "2048 bytes"));
	assert_non_null(strstr(ev->diag->when, "Server: Gmail"));
	event_free(ev);

	/* An Exim per-connection limit says how many went through. */
	ev = mkreply(5, "192.0.2.29:25", 0, 421, NULL, "MAIL",
	    "too many messages in this connection");
	ev->ctx.messages = 100;
	diag_reply(d, ev);
	assert_string_equal(ev->diag->rule, "421-exim-msgs-per-conn");
	assert_non_null(strstr(ev->diag->when, "limit is 100 messages"));
	event_free(ev);
	diag_free(d);
}

/* Other 4xx/5xx without a real rule get no diagnosis; 421/452 always. */
static void
test_lean(void **state)
{
	struct diag *d = diag_new();
	struct event *ev;

	(void)state;
	ev = mkreply(1, "192.0.2.25:25", 0, 550, "5.7.1", "RCPT", "Go away");
	diag_reply(d, ev);
	assert_false(ev->highlight);
	assert_null(ev->diag);
	event_free(ev);

	ev = mkreply(2, "192.0.2.25:25", 0, 250, "2.0.0", "MAIL", "Ok");
	diag_reply(d, ev);
	assert_false(ev->highlight);
	assert_null(ev->diag);
	event_free(ev);

	ev = mkreply(
	    3, "192.0.2.25:25", 0, 451, "4.3.0", "RCPT", "Something odd");
	diag_reply(d, ev);
	assert_null(ev->diag);
	event_free(ev);

	/* 454 to STARTTLS has a rule of its own. */
	ev = mkreply(4, "192.0.2.25:25", 0, 454, "4.7.0", "STARTTLS", "Nope");
	diag_reply(d, ev);
	assert_non_null(ev->diag);
	assert_string_equal(ev->diag->rule, "454-starttls");
	event_free(ev);

	/* Garbage text with control bytes and NULs does not hurt. */
	ev = mkreply(5, "192.0.2.25:25", 0, 452, NULL, NULL, "x");
	free(ev->text);
	ev->text = xmemdup0("\0\x01\x1b[2J{rcpt}\n[[", 12);
	ev->text_len = 12;
	ev->ctx.helo = xstrdup("evil{burst}[[\x1b");
	diag_reply(d, ev);
	assert_non_null(ev->diag);
	check_texts(ev->diag);
	event_free(ev);
	diag_free(d);
}

/* Site rules from text, added to d. */
static void
add_site(struct diag *d, const char *site)
{
	char *cause = NULL;
	struct rules *r = rules_parse(site, strlen(site), "site.conf", &cause);

	assert_non_null(r);
	diag_add_rules_take(d, r);
}

/* Postfix's 452 to a RCPT after accepted recipients, diagnosed by d. */
static struct event *
rcpt_limit_reply(struct diag *d, unsigned accepted)
{
	struct event *ev = mkreply(1, "192.0.2.25:25", 0, 452, "4.5.3", "RCPT",
	    "Error: too many recipients");

	ev->ctx.rcpt_accepted = accepted;
	diag_reply(d, ev);
	return ev;
}

/* Site rules come first. */
static void
test_site_precedence(void **state)
{
	static const char site[] = "rule: site-rcpt\n"
				   "code: 452\n"
				   "answers: RCPT\n"
				   "title: Our relay allows 50 recipients\n"
				   "when: After {rcpt_accepted} recipients.\n";
	struct diag *d = diag_new();
	struct event *ev;
	struct event_diag *x;

	(void)state;
	add_site(d, site);
	ev = rcpt_limit_reply(d, 50);
	assert_string_equal(ev->diag->rule, "site-rcpt");
	assert_string_equal(ev->diag->when, "After 50 recipients.");
	event_free(ev);
	/* Built-ins still apply where the site rule does not. */
	ev = mkreply(2, "192.0.2.25:25", 0, 452, "4.3.1", "MAIL",
	    "Insufficient system storage");
	diag_reply(d, ev);
	assert_string_equal(ev->diag->rule, "452-postfix-queue-space");
	event_free(ev);
	x = diag_explain(d, 452, NULL, NULL, "RCPT");
	assert_string_equal(x->rule, "site-rcpt");
	event_diag_free(x);
	/* Dropped, the site's rules no longer apply (fuzz_rules reuses
	   one diag); added again, they do. */
	diag_drop_site(d);
	x = diag_explain(d, 452, NULL, NULL, "RCPT");
	assert_string_not_equal(x->rule, "site-rcpt");
	event_diag_free(x);
	add_site(d, site);
	x = diag_explain(d, 452, NULL, NULL, "RCPT");
	assert_string_equal(x->rule, "site-rcpt");
	event_diag_free(x);
	diag_drop_site(d);
	diag_free(d);
}

/* An expanded text loses its leading and trailing blanks and the double
   ones a dropped segment or the template left, wherever they fall (before
   and after the sixteenth byte: the scan goes sixteen at a time). */
static void
test_tidy(void **state)
{
	static const char site[] =
	    "rule: site-tidy\n"
	    "code: 452\n"
	    "answers: RCPT\n"
	    "title: Tidy\n"
	    "when:   Lead [[{helo} gone]] a  b [[{helo} gone]]  "
	    "0123456789abcdefghij  [[{helo} x]] k {rcpt_accepted}   \n"
	    "fix_operator: 0123456789abcdef  after sixteen  \n"
	    "fix_sender: 0123456789abcde  at sixteen\n";
	struct diag *d = diag_new();
	struct event *ev;

	(void)state;
	add_site(d, site);
	ev = rcpt_limit_reply(d, 7);
	assert_string_equal(ev->diag->rule, "site-tidy");
	assert_string_equal(
	    ev->diag->when, "Lead a b 0123456789abcdefghij k 7");
	assert_string_equal(
	    ev->diag->fix_operator, "0123456789abcdef after sixteen");
	assert_string_equal(ev->diag->fix_sender, "0123456789abcde at sixteen");
	event_free(ev);
	diag_free(d);
}

/* --explain always answers, without placeholders. */
static void
test_explain(void **state)
{
	static const struct {
		int code;
		const char *enh, *text, *after, *rule;
	} t[] = {
	    {452, "4.5.3", NULL, NULL, "452-rcpt-limit"},
	    {452, NULL, NULL, "RCPT", "452-rcpt"},
	    {452, NULL, NULL, "rcpt", "452-rcpt"},
	    {452, NULL, NULL, NULL, "452-any"},
	    {452, "4.3.1", NULL, "MAIL", "452-queue-full"},
	    {452, NULL, NULL, "MAIL", "452-mail"},
	    {452, "4.5.3", "Error: too many recipients", "RCPT",
		"452-postfix-rcpt-limit"},
	    {421, NULL, NULL, NULL, "421-any"},
	    {421, NULL, NULL, "CONNECT", "421-greeting"},
	    {421, NULL, NULL, "greeting", "421-greeting"},
	    {421, NULL, NULL, "DATA-END", "421-after-data"},
	    {421, "4.4.2", "Error: timeout exceeded", NULL,
		"421-postfix-timeout"},
	    {454, NULL, NULL, "STARTTLS", "454-starttls"},
	    {451, "4.7.1", "Greylisted", "RCPT", "greylisting"},
	    {550, NULL, NULL, NULL, "generic-550"},
	    {521, NULL, NULL, NULL, "521-no-mail"},
	    {299, NULL, NULL, NULL, "generic-2xx"},
	    {459, NULL, NULL, NULL, "generic-4xx"},
	    {250, NULL, NULL, NULL, "generic-250"},
	};
	struct diag *d = diag_new();
	struct event_diag *x;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		x = diag_explain(d, t[i].code, t[i].enh, t[i].text, t[i].after);
		if (strcmp(x->rule, t[i].rule) != 0) {
			print_error("explain %d %s: want %s got %s\n",
			    t[i].code, t[i].enh ? t[i].enh : "", t[i].rule,
			    x->rule);
			fail();
		}
		check_texts(x);
		event_diag_free(x);
	}
	x = diag_explain(d, 452, "4.5.3", NULL, NULL);
	assert_non_null(strstr(x->when, "If this answers RCPT after some "
					"recipients were accepted"));
	event_diag_free(x);
	x = diag_explain(d, 550, "5.1.1", NULL, NULL);
	assert_non_null(strstr(x->meaning, "does not exist"));
	event_diag_free(x);
	diag_free(d);
}

/* The knowledge tables: every basic code, every registered enhanced code. */
static void
test_knowledge(void **state)
{
	static const int codes[] = {211, 214, 220, 221, 235, 250, 251, 252, 334,
	    354, 421, 432, 450, 451, 452, 454, 455, 500, 501, 502, 503, 504,
	    521, 530, 534, 535, 538, 550, 551, 552, 553, 554, 555, 556};
	/* Details registered per subject (IANA registry, RFC 3463 etc.). */
	static const int details[8] = {0, 10, 4, 6, 7, 6, 10, 30};
	char e[16], fb[16];
	int s, k;
	size_t i;
	struct diag *d = diag_new();

	(void)state;
	for (i = 0; i < sizeof codes / sizeof codes[0]; i++)
		assert_non_null(diag_code_meaning(codes[i]));
	assert_null(diag_code_meaning(299));
	for (s = 0; s < 8; s++) {
		snprintf(fb, sizeof fb, "5.%d.999", s);
		assert_non_null(diag_enhanced_meaning(d, fb));
		for (k = 0; k <= details[s]; k++) {
			const char *m;

			snprintf(e, sizeof e, "4.%d.%d", s, k);
			m = diag_enhanced_meaning(d, e);
			assert_non_null(m);
			/* A meaning of its own, not the subject fallback. */
			assert_ptr_not_equal(m, diag_enhanced_meaning(d, fb));
		}
	}
	assert_null(diag_enhanced_meaning(d, "3.1.1"));
	assert_null(diag_enhanced_meaning(d, "4.1"));
	assert_null(diag_enhanced_meaning(d, "4.1.1.1"));
	assert_null(diag_enhanced_meaning(d, ""));
	assert_null(diag_enhanced_meaning(d, NULL));
	assert_null(diag_enhanced_meaning(d, "4.1234.1"));
	diag_free(d);
}

/* Open connection events for session s from 192.0.2.7 (as mkreply's). */
static void
session_event(struct diag *d, enum event_type type, uint64_t s,
    const char *server, double t)
{
	struct event *ev = event_new(type);

	ev->session = s;
	ev->ts.tv_sec = 1700000000 + (time_t)t;
	snprintf(ev->client, sizeof ev->client, "192.0.2.7:%u",
	    (unsigned)(40000 + s));
	snprintf(ev->server, sizeof ev->server, "%s", server);
	diag_session(d, ev);
	event_free(ev);
}

/*
 * A burst counts only failures of the same kind: a recipient limit, a
 * connection limit and an idle timeout on one server are no pattern, and a
 * repeated recipient limit is the client's configuration, not overload.
 */
static void
test_burst_kinds(void **state)
{
	struct diag *d = diag_new();
	const char *srv = "192.0.2.40:25";
	struct event *ev;
	uint64_t s;

	(void)state;
	ev = mkreply(
	    1, srv, 0, 452, "4.5.3", "RCPT", "Error: too many recipients");
	ev->ctx.rcpt_seen = 3;
	ev->ctx.rcpt_accepted = 2;
	diag_reply(d, ev);
	event_free(ev);
	ev = mkreply(2, srv, 5, 421, "4.7.0", "CONNECT",
	    "mx Error: too many connections from 192.0.2.7");
	diag_reply(d, ev);
	assert_null(strstr(ev->diag->when, "Pattern"));
	event_free(ev);
	ev = mkreply(
	    3, srv, 21, 421, "4.4.2", NULL, "mx Error: timeout exceeded");
	ev->ctx.idle_ms = 5000;
	diag_reply(d, ev);
	assert_string_equal(ev->diag->rule, "421-postfix-timeout");
	assert_null(strstr(ev->diag->when, "Pattern"));
	assert_null(strstr(ev->diag->when, "overloaded"));
	event_free(ev);

	/* Three recipient limits: a pattern, but of the client's making. */
	for (s = 4; s <= 5; s++) {
		ev = mkreply(s, srv, 20 + (double)s, 452, "4.5.3", "RCPT",
		    "Error: too many recipients");
		ev->ctx.rcpt_seen = 3;
		ev->ctx.rcpt_accepted = 2;
		diag_reply(d, ev);
		if (s == 5) {
			assert_non_null(strstr(ev->diag->when,
			    "Pattern: 3 of the last 5 sessions to this "
			    "server got this same 452"));
			assert_non_null(strstr(
			    ev->diag->when, "client configuration pattern"));
			assert_null(strstr(ev->diag->when, "overloaded"));
		}
		event_free(ev);
	}

	/* {burst} of the 421-burst rule counts the same kind only: two
	   greeting 421s and an idle timeout are not three of a kind. */
	srv = "192.0.2.41:25";
	for (s = 10; s <= 13; s++) {
		if (s == 11) {
			ev = mkreply(s, srv, (double)s, 421, NULL, NULL,
			    "mx closing this session");
			ev->ctx.idle_ms = 60000;
		} else
			ev = mkreply(s, srv, (double)s, 421, NULL, "CONNECT",
			    "mx overloaded, go away");
		diag_reply(d, ev);
		if (s == 12)
			assert_string_equal(ev->diag->rule, "421-greeting");
		if (s == 13) {
			assert_string_equal(ev->diag->rule, "421-burst");
			assert_non_null(strstr(ev->diag->when,
			    "3 of the last 4 sessions to this server got this "
			    "same 421"));
		}
		event_free(ev);
	}
	diag_free(d);
}

/* The greeting, not the reply's wording, says whose rules apply. */
static void
test_vendor(void **state)
{
	struct diag *d = diag_new();
	struct event_diag *x;
	struct event *ev;
	const struct rule *r;
	struct rules *b;
	const char *gmail = "The email account that you tried to reach is "
			    "over quota. Please direct the recipient to x";
	size_t i;

	(void)state;
	/* aiosmtpd greets: Gmail's wording is no reason to speak of Gmail. */
	ev = mkreply(1, "192.0.2.50:25", 0, 452, "4.2.2", "RCPT", gmail);
	ev->ctx.greeting = xstrdup("mailbox.example.net ESMTP aiosmtpd");
	diag_reply(d, ev);
	assert_string_equal(ev->diag->rule, "452-mailbox-quota");
	assert_null(strstr(ev->diag->title, "Gmail"));
	assert_null(strstr(ev->diag->fix_operator, "Google"));
	check_texts(ev->diag);
	event_free(ev);

	/* No software named: the Gmail rule, stated as likely, generic
	   advice first. */
	ev = mkreply(2, "192.0.2.51:25", 0, 452, "4.2.2", "RCPT", gmail);
	ev->ctx.greeting = xstrdup("mx.example.net ESMTP ready");
	diag_reply(d, ev);
	assert_string_equal(ev->diag->rule, "452-gmail-over-quota");
	assert_string_equal(ev->diag->title, "452 Recipient's mailbox is full");
	assert_true(
	    strncmp(ev->diag->meaning, "This wording is Gmail's", 23) == 0);
	assert_true(
	    strncmp(ev->diag->fix_operator, "Raise the quota", 15) == 0);
	assert_non_null(
	    strstr(ev->diag->fix_operator, "If the server is Gmail: "));
	check_texts(ev->diag);
	event_free(ev);

	/* Gmail greets: Gmail's rule, as fact. */
	ev = mkreply(3, "192.0.2.52:25", 0, 452, "4.2.2", "RCPT", gmail);
	ev->ctx.greeting = xstrdup("mx.google.com ESMTP a1-2 - gsmtp");
	diag_reply(d, ev);
	assert_string_equal(ev->diag->rule, "452-gmail-over-quota");
	assert_non_null(strstr(ev->diag->title, "452 Gmail: "));
	assert_null(strstr(ev->diag->meaning, "This wording"));
	event_free(ev);

	/* A 421 instead of the greeting: the 220 greeting of another
	   session to the same address names the software. */
	ev = mkreply(4, "192.0.2.53:25", 0, 220, NULL, "CONNECT",
	    "mx.example.org ESMTP Postfix (Debian)");
	diag_reply(d, ev);
	event_free(ev);
	ev = mkreply(5, "192.0.2.53:25", 1, 421, "4.7.0", "CONNECT",
	    "mx.example.org Error: too many connections from 192.0.2.7");
	ev->ctx.greeting = xstrdup(ev->text);
	diag_reply(d, ev);
	assert_string_equal(ev->diag->rule, "421-postfix-conn-limit");
	assert_non_null(strstr(ev->diag->title, "421 Postfix: "));
	event_free(ev);

	/* --explain has no greeting: never the vendor as fact. */
	x = diag_explain(d, 452, "4.3.1", "Insufficient system storage", NULL);
	assert_string_equal(x->rule, "452-postfix-queue-space");
	assert_null(strstr(x->title, "Postfix"));
	assert_non_null(strstr(x->meaning, "This wording is Postfix's"));
	event_diag_free(x);

	/* Every built-in vendor rule has a "NNN Vendor: what" title, so the
	   vendor can be dropped from it. */
	b = rules_builtin();
	for (i = 0; (r = rules_get(b, i)) != NULL; i++) {
		const char *colon;

		if (r->vendor == NULL)
			continue;
		colon = strstr(r->title, ": ");
		if (colon == NULL || r->title[3] != ' ' || colon[2] == '\0' ||
		    colon - r->title > 40) {
			print_error("rule %s: title \"%s\"\n", r->id, r->title);
			fail();
		}
	}
	rules_free(b);
	diag_free(d);
}

/* Measured values turned into conclusions. */
static void
test_measured(void **state)
{
	struct diag *d = diag_new();
	const char *srv = "192.0.2.60:25";
	struct event *ev;

	(void)state;
	/* Recipient limit 2: below the RFC's 100, so restore it. */
	ev = mkreply(
	    1, srv, 0, 452, "4.5.3", "RCPT", "Error: too many recipients");
	ev->ctx.rcpt_seen = 3;
	ev->ctx.rcpt_accepted = 2;
	ev->ctx.greeting = xstrdup("mx ESMTP Postfix");
	diag_reply(d, ev);
	assert_non_null(strstr(ev->diag->fix_operator,
	    "The limit here, 2 recipients, is below the 100 recipients RFC "
	    "5321 section 4.5.3.1.8 requires"));
	assert_non_null(strstr(ev->diag->fix_operator, "default is 1000"));
	assert_null(strstr(ev->diag->fix_operator, "only if needed"));
	check_texts(ev->diag);
	event_free(ev);
	/* Limit 150: fine by the RFC. */
	ev = mkreply(
	    2, srv, 1, 452, "4.5.3", "RCPT", "Error: too many recipients");
	ev->ctx.rcpt_seen = 151;
	ev->ctx.rcpt_accepted = 150;
	ev->ctx.greeting = xstrdup("mx ESMTP Postfix");
	diag_reply(d, ev);
	assert_null(strstr(ev->diag->fix_operator, "The limit here"));
	assert_non_null(strstr(ev->diag->fix_operator, "only if needed"));
	event_free(ev);

	/* Idle timeout after 5 s: the timeout looks set to 5 s. */
	ev = mkreply(
	    3, srv, 2, 421, "4.4.2", NULL, "mx Error: timeout exceeded");
	ev->ctx.idle_ms = 5000;
	ev->ctx.greeting = xstrdup("mx ESMTP Postfix");
	diag_reply(d, ev);
	assert_non_null(strstr(ev->diag->when,
	    "timeout looks set to about 5.0 s, below Postfix's default "
	    "smtpd_timeout of 300 s and below the 5 minutes RFC 5321"));
	assert_null(strstr(ev->diag->when, "overloaded"));
	event_free(ev);
	ev = mkreply(
	    4, srv, 3, 421, "4.4.2", NULL, "mx Error: timeout exceeded");
	ev->ctx.idle_ms = 10100;
	ev->ctx.greeting = xstrdup("mx ESMTP Postfix");
	diag_reply(d, ev);
	assert_non_null(strstr(ev->diag->when, "while it is overloaded"));
	event_free(ev);
	ev = mkreply(
	    5, srv, 4, 421, "4.4.2", NULL, "mx Error: timeout exceeded");
	ev->ctx.idle_ms = 300400;
	ev->ctx.greeting = xstrdup("mx ESMTP Postfix");
	diag_reply(d, ev);
	assert_non_null(strstr(ev->diag->when, "the usual value"));
	event_free(ev);

	/* Connection limit with 2 connections open: the limit is low. */
	srv = "192.0.2.61:25";
	session_event(d, EV_SESSION_OPEN, 10, srv, 10);
	session_event(d, EV_SESSION_OPEN, 11, srv, 10);
	session_event(d, EV_SESSION_OPEN, 12, srv, 11);
	ev = mkreply(12, srv, 11, 421, "4.7.0", "CONNECT",
	    "mx Error: too many connections from 192.0.2.7");
	diag_reply(d, ev);
	assert_non_null(strstr(ev->diag->when, "looks set low, to about 2"));
	assert_null(strstr(ev->diag->when, "(default 50) sessions"));
	event_free(ev);
	session_event(d, EV_SESSION_CLOSE, 10, srv, 12);
	session_event(d, EV_SESSION_CLOSE, 11, srv, 12);
	session_event(d, EV_SESSION_CLOSE, 12, srv, 12);
	/* None open any more: nothing measured, the default is quoted. */
	session_event(d, EV_SESSION_OPEN, 13, srv, 20);
	ev = mkreply(13, srv, 20, 421, "4.7.0", "CONNECT",
	    "mx Error: too many connections from 192.0.2.7");
	diag_reply(d, ev);
	assert_null(strstr(ev->diag->when, "looks set low"));
	assert_non_null(strstr(ev->diag->when, "(default 50) sessions"));
	event_free(ev);
	diag_free(d);
}

/* --explain: X.4.2 has a rule; a 4xx with a 5.x.x code is pointed out. */
static void
test_explain_more(void **state)
{
	struct diag *d = diag_new();
	struct event_diag *x;
	struct event *ev;

	(void)state;
	x = diag_explain(d, 421, "4.4.2", NULL, NULL);
	assert_string_equal(x->rule, "421-bad-connection");
	check_texts(x);
	event_diag_free(x);

	x = diag_explain(d, 452, "5.5.3", NULL, NULL);
	assert_non_null(strstr(x->meaning,
	    "enhanced code 5.5.3 is of class 5 (permanent failure) but the "
	    "reply code 452 is a temporary failure"));
	event_diag_free(x);
	x = diag_explain(d, 452, "4.5.3", NULL, NULL);
	assert_null(strstr(x->meaning, "should agree"));
	event_diag_free(x);

	/* The same on the wire. */
	ev = mkreply(
	    1, "192.0.2.70:25", 0, 452, "5.5.3", "RCPT", "Too many recipients");
	diag_reply(d, ev);
	assert_non_null(strstr(ev->diag->meaning, "should agree"));
	event_free(ev);
	diag_free(d);
}

/*
 * The reply-text corpus (tests/data/replies.tsv): real replies from
 * providers' published pages and MTA sources, each with the cause a mail
 * engineer gives it.  --explain's path (no session) must find that cause,
 * and where the cause is not among those of the enhanced code, the
 * evidence must say that the text won.
 */
static void
test_corpus(void **state)
{
	char line[4096];
	struct diag *d = diag_new();
	unsigned n = 0, bad = 0, nfam = 0, silent = 0, known = 0;
	char fams[64][24];
	struct lexicon *lx = lexicon_builtin();
	FILE *f;
	size_t i;

	(void)state;
	f = open_data("replies.tsv");
	while (fgets(line, sizeof line, f) != NULL) {
		char *p = line, *fam, *src, *code, *enh, *ans, *text, *cause;
		char *engine;
		struct event_diag *x;

		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0' ||
		    strncmp(line, "family\t", 7) == 0)
			continue;
		fam = field(&p);
		src = field(&p);
		code = field(&p);
		enh = field(&p);
		ans = field(&p);
		text = field(&p);
		cause = field(&p);
		assert_non_null(cause);
		/* A known, argued disagreement: what the engine says. */
		engine = p != NULL ? field(&p) : NULL;
		if (engine != NULL) {
			assert_true(kb_cause_index(engine) >= 0);
			assert_string_not_equal(engine, cause);
			known++;
		}
		assert_true(strlen(src) > 0);
		assert_true(kb_cause_index(cause) >= 0);
		n++;
		for (i = 0; i < (size_t)nfam && strcmp(fams[i], fam) != 0; i++)
			;
		if (i == nfam && nfam < 64)
			snprintf(fams[nfam++], sizeof fams[0], "%.23s", fam);
		x = diag_explain(d, atoi(code), strcmp(enh, "-") ? enh : NULL,
		    text, strcmp(ans, "-") ? ans : NULL);
		check_texts(x);
		/* The cause is one the enhanced code can mean, or the
		   evidence says why the text won over it. */
		if (strcmp(enh, "-") != 0) {
			int e1 = -1, e2 = -1, cs[LEXICON_CAUSES];
			size_t ncs = 0, k;
			bool in = false, said = false;

			const struct lexicon *const *l =
			    (const struct lexicon *const *)&lx;
			int sc[LEXICON_CAUSES];
			size_t sn;

			/* Only a detail of the registry (not its subject's
			   fallback) names causes of its own. */
			if (sscanf(enh, "%*d.%d.%d", &e1, &e2) == 2 &&
			    lexicon_enhanced(l, 1, e1, e2, cs, &ncs) !=
				lexicon_enhanced(l, 1, e1, -1, sc, &sn)) {
				for (k = 0; k < ncs; k++)
					in = in || strcmp(kb_causes[cs[k]].id,
						       x->cause) == 0;
				for (k = 0; k < x->n_evidence; k++)
					said = said || strstr(x->evidence[k],
							   "would say") != NULL;
				if (!in && !said && e2 != 0 &&
				    kb_cause_index(x->cause) !=
					kb_cause_index("unknown")) {
					print_error("corpus %s %s %s \"%s\": "
						    "cause %s is not among "
						    "the enhanced code's and "
						    "the evidence is silent\n",
					    fam, code, enh, text, x->cause);
					silent++;
				}
			}
		}
		if (strcmp(x->cause, engine != NULL ? engine : cause) != 0) {
			print_error("corpus %s %s %s [%s] \"%s\": want %s, got "
				    "%s (%s)\n",
			    fam, code, enh, ans, text,
			    engine != NULL ? engine : cause, x->cause, x->rule);
			bad++;
		}
		event_diag_free(x);
	}
	fclose(f);
	print_message("corpus: %u replies from %u families, %u known "
		      "disagreements, %u unexpected\n",
	    n, nfam, known, bad);
	assert_true(n >= 250);
	assert_true(nfam >= 28);
	assert_int_equal(bad, 0);
	/* Known disagreements stay few: each is argued in the data. */
	assert_true(known * 100 <= n * 8);
	assert_int_equal(silent, 0);
	lexicon_free(lx);
	diag_free(d);
}

/* A reply of a session: code, enhanced, answers, text, with a greeting
   and recipients accepted before. */
static struct event_diag *
session_diag(struct diag *d, uint64_t s, int code, const char *enh,
    const char *ans, const char *text, const char *greeting, unsigned accepted)
{
	struct event *ev =
	    mkreply(s, "203.0.113.77:25", (double)s, code, enh, ans, text);
	struct event_diag *x;

	if (greeting != NULL)
		ev->ctx.greeting = xstrdup(greeting);
	ev->ctx.rcpt_accepted = accepted;
	ev->ctx.rcpt_seen = accepted + 1;
	ev->ctx.in_transaction = ans != NULL && strcmp(ans, "RCPT") == 0;
	diag_reply(d, ev);
	x = ev->diag;
	ev->diag = NULL;
	event_free(ev);
	assert_non_null(x);
	check_texts(x);
	return x;
}

static bool
has_evidence(const struct event_diag *x, const char *part)
{
	size_t i;

	for (i = 0; i < x->n_evidence; i++) {
		if (strstr(x->evidence[i], part) != NULL)
			return true;
	}
	return false;
}

/* Replies whose cause once came out generic (the seed's textbook 421
   among them), as regressions. */
static void
test_causes(void **state)
{
	struct diag *d = diag_new();
	struct event_diag *x;

	(void)state;
	/* The textbook 421: at the greeting and to MAIL. */
	x = diag_explain(d, 421, "4.3.2", "Service shutting down", NULL);
	assert_string_equal(x->cause, "shutdown");
	assert_string_equal(x->confidence, "certain");
	assert_true(has_evidence(x, "shutting down"));
	assert_true(has_evidence(x, "enhanced 4.3.2"));
	assert_null(strstr(x->fix_sender, "fewer parallel"));
	event_diag_free(x);
	x = session_diag(
	    d, 1, 421, "4.3.2", "CONNECT", "Service shutting down", NULL, 0);
	assert_string_equal(x->cause, "shutdown");
	assert_true(has_evidence(x, "phase: greeting"));
	event_diag_free(x);
	x = session_diag(d, 2, 421, "4.3.2", "MAIL", "Service shutting down",
	    "220 mx.example.com ESMTP", 0);
	assert_string_equal(x->cause, "shutdown");
	assert_null(strstr(x->meaning, "reputation"));
	event_diag_free(x);
	/* The enhanced code alone: at connect overload, later shutdown. */
	x = session_diag(d, 3, 421, "4.3.2", "CONNECT", "", NULL, 0);
	assert_string_equal(x->cause, "overload");
	event_diag_free(x);
	x = session_diag(d, 4, 421, "4.3.2", "MAIL", "", NULL, 0);
	assert_string_equal(x->cause, "shutdown");
	event_diag_free(x);
	/* Exchange's connection limit under 4.3.2: the text wins, and the
	   evidence says so. */
	x = diag_explain(d, 421, "4.3.2",
	    "The maximum number of concurrent connections has exceeded a "
	    "limit, closing transmission channel",
	    NULL);
	assert_string_equal(x->cause, "conn-limit");
	assert_true(has_evidence(x, "the text is more specific and wins"));
	event_diag_free(x);
	/* 452 4.5.3 with none and with 3 recipients accepted. */
	x = session_diag(d, 5, 452, "4.5.3", "RCPT", "Too many recipients",
	    "220 mx.example.com ESMTP", 0);
	assert_string_equal(x->cause, "rcpt-limit");
	assert_null(strstr(x->fix_sender, "accepted recipients"));
	assert_non_null(strstr(x->fix_sender, "nothing to send"));
	assert_true(has_evidence(x, "no recipient accepted"));
	event_diag_free(x);
	x = session_diag(d, 6, 452, "4.5.3", "RCPT", "Too many recipients",
	    "220 mx.example.com ESMTP", 3);
	assert_string_equal(x->cause, "rcpt-limit");
	assert_non_null(strstr(x->when, "3 recipients"));
	assert_non_null(strstr(x->fix_sender, "accepted"));
	assert_true(has_evidence(x, "3 recipients accepted"));
	event_diag_free(x);
	/* A Postfix wording without a greeting: likely, never stated as
	   fact; with a Postfix greeting: certain. */
	x = session_diag(
	    d, 7, 452, "4.5.3", "RCPT", "Error: too many recipients", NULL, 3);
	assert_string_equal(x->confidence, "likely");
	assert_null(strstr(x->title, "Postfix"));
	assert_null(strstr(x->when, "Postfix"));
	assert_non_null(strstr(x->meaning, "likely, not certain"));
	event_diag_free(x);
	x = session_diag(d, 8, 452, "4.5.3", "RCPT",
	    "Error: too many recipients", "220 mx.example.com ESMTP Postfix",
	    3);
	assert_string_equal(x->confidence, "certain");
	assert_true(has_evidence(x, "greeting names Postfix"));
	event_diag_free(x);
	/* The vendor only when a greeting names it: its settings then. */
	x = session_diag(d, 9, 421, NULL, "MAIL", "Idle for too long",
	    "220 mx.example.com ESMTP Exim 4.97", 0);
	assert_string_equal(x->cause, "idle-timeout");
	assert_string_equal(x->rule, "cause-idle-timeout.exim");
	assert_non_null(strstr(x->fix_operator, "smtp_receive_timeout"));
	event_diag_free(x);
	x = session_diag(
	    d, 10, 421, NULL, "MAIL", "Idle for too long", NULL, 0);
	assert_string_equal(x->rule, "cause-idle-timeout");
	event_diag_free(x);
	/* Provider wordings that used to fall through. */
	x = diag_explain(d, 421, "4.7.0", "Throttled - try again later", NULL);
	assert_string_equal(x->cause, "msg-rate");
	event_diag_free(x);
	x = diag_explain(d, 421, "4.7.0",
	    "Message submission rate for this client has exceeded the "
	    "configured limit",
	    NULL);
	assert_string_equal(x->cause, "msg-rate");
	event_diag_free(x);
	x = diag_explain(d, 450, "4.7.1",
	    "Client host rejected: cannot find your reverse hostname", "RCPT");
	assert_string_equal(x->cause, "rdns");
	event_diag_free(x);
	diag_free(d);
}

/* The fixed tables: every cause has its texts and a place in the manual,
   every server id and pattern works, every placeholder renders. */
/* The knowledge tables: the idle defaults are found by the server ids the
   knowledge base gives, and the code tables answer for the codes. */
static void
test_knowledge_tables(void **state)
{
	static const char *const ids[] = {"postfix", "exim", "haraka"};
	const struct diag_idle_default *def;
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		def = diag_idle_default(ids[i]);
		assert_non_null(def);
		assert_true(def->ms == 300000);
		assert_non_null(strstr(def->knob, "default"));
		for (j = 0; j < kb_nservers; j++)
			if (strcmp(kb_servers[j].id, ids[i]) == 0)
				break;
		assert_true(j < kb_nservers);
	}
	assert_null(diag_idle_default("no-such-server"));
	assert_non_null(diag_code_name(421));
	assert_non_null(diag_code_meaning(452));
	assert_null(diag_code_name(299));
	assert_null(diag_first_digit[1]);
	assert_non_null(strstr(diag_first_digit[4], "transient"));
	assert_non_null(strstr(diag_second_digit[2], "connection"));
}

static void
test_tables(void **state)
{
	struct rules *rs = rules_builtin();
	const char *top = getenv("top_srcdir");
	char path[1024], *man;
	const struct rule *r;
	struct diag *d = diag_new();
	struct event_diag *x;
	size_t i, j, n;
	FILE *f;
	char buf[80];

	(void)state;
	snprintf(
	    path, sizeof path, "%s/doc/smtpscope.1", top != NULL ? top : "..");
	f = fopen(path, "r");
	assert_non_null(f);
	man = xmalloc(1 << 20);
	n = fread(man, 1, (1 << 20) - 1, f);
	man[n] = '\0';
	fclose(f);
	for (i = 0; i < kb_ncauses; i++) {
		bool found = false;
		char *id = xstrdup(kb_causes[i].id), *m;

		for (j = 0; (r = rules_get(rs, j)) != NULL; j++) {
			if (strncmp(r->id, "cause-", 6) == 0 &&
			    strcmp(r->cause, kb_causes[i].id) == 0 &&
			    r->nnums == 0 && r->answers == 0) {
				assert_true(strlen(r->title) > 0);
				assert_true(strlen(r->fix_sender) > 0);
				assert_true(strlen(r->fix_operator) > 0);
				found = true;
			}
		}
		if (!found)
			print_error(
			    "cause %s has no unconditional cause- rule\n",
			    kb_causes[i].id);
		assert_true(found);
		/* The manual writes '-' as '\-'. */
		m = man;
		snprintf(buf, sizeof buf, ".B ");
		for (j = 0; id[j] != '\0' && strlen(buf) + 3 < sizeof buf; j++)
			snprintf(buf + strlen(buf), sizeof buf - strlen(buf),
			    "%s", id[j] == '-' ? "\\-" : (char[]){id[j], 0});
		strcat(buf, "\n");
		if (strstr(m, buf) == NULL)
			print_error(
			    "cause %s is not in CAUSES of the manual\n", id);
		assert_non_null(strstr(m, buf));
		free(id);
	}
	for (i = 0; i < kb_nservers; i++) {
		regex_t re;

		assert_int_equal(kb_server_index(kb_servers[i].id), (int)i);
		assert_int_equal(
		    regcomp(&re, kb_servers[i].pattern, REG_EXTENDED), 0);
		regfree(&re);
		if (kb_servers[i].family != NULL)
			assert_true(kb_server_index(kb_servers[i].family) >= 0);
		assert_non_null(strstr(man, kb_servers[i].id));
	}
	/* Every placeholder renders through a site rule, known or not. */
	for (i = 0; i < KB_PH_COUNT; i++) {
		char text[256], *cause = NULL;
		struct rules *site;

		assert_int_equal(kb_placeholder_find(kb_placeholders[i].name,
				     strlen(kb_placeholders[i].name)),
		    (int)i);
		assert_non_null(strstr(man, kb_placeholders[i].name));
		snprintf(text, sizeof text,
		    "rule: ph\ncode: 452\ncause: storage\ntitle: t\n"
		    "meaning: <{%s}>\n",
		    kb_placeholders[i].name);
		site = rules_parse(text, strlen(text), "t", &cause);
		assert_non_null(site);
		diag_add_rules_take(d, site);
		x = diag_explain(d, 452, NULL, NULL, "RCPT");
		assert_string_equal(x->rule, "ph");
		assert_null(strchr(x->meaning, '{'));
		assert_null(strchr(x->meaning, '?'));
		event_diag_free(x);
		diag_free(d);
		d = diag_new();
	}
	free(man);
	diag_free(d);
	rules_free(rs);
}

/* diag_duration as the snprintf formats it replaced: "%.1f s" below 10 s
   (ties included: 1.25 s is "1.2 s" as printf rounds to even), whole
   seconds, minutes and hours above. */
static void
test_duration(void **state)
{
	static const double ties[] = {50, 150, 250, 750, 1250, 1750, 2250, 9750,
	    9950, 9999.999, 0.049, 0.05, 0, 9949.9999, 1000.0 / 3, -1500,
	    -0.01};
	char got[64], want[64];
	unsigned long s;
	double ms;
	size_t i;
	unsigned seed = 12345;

	(void)state;
	for (i = 0; i < sizeof ties / sizeof ties[0]; i++) {
		diag_duration(got, sizeof got, ties[i]);
		snprintf(want, sizeof want, "%.1f s", ties[i] / 1000.0);
		assert_string_equal(got, want);
	}
	/* Every microsecond step of the first second, then a sweep. */
	for (i = 0; i < 1000000; i++) {
		ms = (double)i / 1000.0;
		diag_duration(got, sizeof got, ms);
		snprintf(want, sizeof want, "%.1f s", ms / 1000.0);
		assert_string_equal(got, want);
	}
	for (i = 0; i < 200000; i++) {
		seed = seed * 1103515245u + 12345u;
		ms = (double)(seed % 10000000u) / 1000.0; /* below 10 s */
		diag_duration(got, sizeof got, ms);
		snprintf(want, sizeof want, "%.1f s", ms / 1000.0);
		assert_string_equal(got, want);
	}
	for (ms = 10000; ms < 8000000; ms += 499.7) {
		diag_duration(got, sizeof got, ms);
		s = (unsigned long)(ms / 1000.0 + 0.5);
		if (s < 60)
			snprintf(want, sizeof want, "%lu s", s);
		else if (s < 3600 && s % 60 != 0)
			snprintf(
			    want, sizeof want, "%lu min %lu s", s / 60, s % 60);
		else if (s < 3600)
			snprintf(want, sizeof want, "%lu min", s / 60);
		else
			snprintf(want, sizeof want, "%lu h %lu min", s / 3600,
			    (s % 3600) / 60);
		assert_string_equal(got, want);
	}
	/* Truncated as snprintf would. */
	diag_duration(got, 4, 1500);
	assert_string_equal(got, "1.5");
	diag_duration(got, 1, 1500);
	assert_string_equal(got, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_variants),
	    cmocka_unit_test(test_rcpt_limit_count),
	    cmocka_unit_test(test_idle_timeout),
	    cmocka_unit_test(test_burst),
	    cmocka_unit_test(test_forget),
	    cmocka_unit_test(test_history_bounded),
	    cmocka_unit_test(test_storage_and_size),
	    cmocka_unit_test(test_421_situations),
	    cmocka_unit_test(test_lean),
	    cmocka_unit_test(test_site_precedence),
	    cmocka_unit_test(test_explain),
	    cmocka_unit_test(test_knowledge),
	    cmocka_unit_test(test_burst_kinds),
	    cmocka_unit_test(test_vendor),
	    cmocka_unit_test(test_measured),
	    cmocka_unit_test(test_explain_more),
	    cmocka_unit_test(test_corpus),
	    cmocka_unit_test(test_duration),
	    cmocka_unit_test(test_tidy),
	    cmocka_unit_test(test_causes),
	    cmocka_unit_test(test_tables),
	    cmocka_unit_test(test_knowledge_tables),
	};

	return cmocka_run_group_tests_name("diag", tests, NULL, NULL);
}
