/*
 * Unit tests of explain: every form of one reply parses to the same code,
 * enhanced code, text and command; hostile input is refused, never crashes.
 *
 * The log wordings are those the MTAs' sources print (read in
 * postfix-3.12-20260821, Exim master of 2026 and its history, Sendmail
 * 8.18.0.2):
 *  - Postfix (src/smtp/smtp_proto.c): "host %s said: %s (in reply to %s)"
 *    with xfer_request[] = "MAIL FROM command", "RCPT TO command", "DATA
 *    command", "end of DATA command", ...; "host %s refused to talk to me:
 *    %s" (greeting, failed HELO/LHLO, 421 to EHLO); "TLS is required, but
 *    host %s refused to start TLS: %s"; the reply's lines joined by spaces
 *    (translit(resp->str, "\n", " ")).  smtp_sasl_glue.c: "SASL
 *    authentication failed; server %s said: %s".  The queue manager wraps it
 *    as "status=deferred (...)".  The server's own replies
 *    (smtpd/smtpd_check.c log_whatsup()): "%s: reject: %s from %s: %s;"
 *    then " from=<%s> to=<%s> proto=%s helo=<%s>", the command being
 *    state->where: a verb, "CONNECT", "DATA content", "END-OF-MESSAGE";
 *    postscreen/postscreen_smtpd.c: "NOQUEUE: reject: RCPT from [%s]:%s:
 *    %.*s; from=<%s>, to=<%s>, proto=%s, helo=<%s>".
 *  - Exim (src/src/transports/smtp.c): "SMTP error from remote mail server
 *    after %s%s: %s" with "pipelined " and the command as sent ("RCPT
 *    TO:<%s>", "MAIL FROM:<...> SIZE=n", "EHLO host"), "initial
 *    connection", "end of data"; "LMTP error after %s: %s" and "PRDR error
 *    after %s: %s" per recipient after the message; the reply through
 *    string_printing(), which shows a multi-line reply's line breaks as
 *    "\n" (smtp_out.c joins the lines with '\n').  Before 4.51: "SMTP
 *    error from remote mailer after %s%s: host %s [%s]: %s"; up to 4.84
 *    "remote mail server" with the same "host %s [%s]: ".  deliver.c
 *    writes bounces with each line indented by four spaces.
 *  - Sendmail (sendmail/deliver.c): logdelivery() "..., dsn=%s, stat=%s"
 *    where a tempfail's status is "Deferred: " and the server's reply
 *    (giveresponse drops "450 4.0.0 " from "450 4.0.0 Deferred: ..."),
 *    ", reply=%s" before it, ", stage=%s" from xs_states[] ("GREET", "EHLO",
 *    "MAIL", "RCPT", "DATA", "EOM", ...); savemail.c "    (reason: %s)";
 *    usersmtp.c reply(): "... while talking to %s:", ">>> %s", "<<< %s".
 *  - Exchange / Microsoft 365 NDRs: "Remote Server returned '...'", the
 *    "#550 5.1.1 ... ##" and "#< #5.0.0 smtp;550 ...> #SMTP#" diagnostic
 *    lines, and the message trace's "{LED=...};{MSG=...}".
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "explain.h"
#include "xmalloc.h"

/* Parse s and check every field; answers and form may be "". */
static void
want(const char *s, int code, const char *enh, const char *text,
    const char *answers, const char *form)
{
	struct explain_reply r;
	char *why = NULL;
	int rc = explain_parse(s, strlen(s), &r, &why);

	if (rc != 0)
		print_error("input: %s\nwhy: %s\n", s, why);
	assert_int_equal(rc, 0);
	assert_null(why);
	assert_int_equal(r.code, code);
	assert_string_equal(r.enhanced, enh);
	assert_non_null(r.text);
	assert_string_equal(r.text, text);
	assert_string_equal(r.answers, answers);
	assert_string_equal(r.form, form);
	explain_reply_free(&r);
}

/* Parse n bytes of s and expect a refusal whose reason starts with start. */
static void
refuse(const char *s, size_t n, const char *start)
{
	struct explain_reply r;
	char *why = NULL;

	assert_int_equal(explain_parse(s, n, &r, &why), -1);
	assert_non_null(why);
	if (strncmp(why, start, strlen(start)) != 0)
		print_error("why: %s\n", why);
	assert_true(strncmp(why, start, strlen(start)) == 0);
	assert_int_equal(r.code, 0);
	assert_null(r.text);
	free(why);
}

#define TMR "Error: too many recipients"

static void
test_reply(void **state)
{
	(void)state;
	want("452 4.5.3 " TMR, 452, "4.5.3", TMR, "", "reply");
	want("452", 452, "", "", "", "reply");
	want("452 4.5.3", 452, "4.5.3", "", "", "reply");
	want("452 too many", 452, "", "too many", "", "reply");
	want("  452 4.5.3 " TMR " \t\n\n", 452, "4.5.3", TMR, "", "reply");
	want("\"452 4.5.3 " TMR "\"", 452, "4.5.3", TMR, "", "reply");
	/* A lone "4.5" is text, not an enhanced code. */
	want("421 4.5 x", 421, "", "4.5 x", "", "reply");
	want("250 2.0.0 Ok: queued as 4XyZ", 250, "2.0.0", "Ok: queued as 4XyZ",
	    "", "reply");
}

static void
test_multiline(void **state)
{
	(void)state;
	want("452-4.5.3 first line\n452 4.5.3 second line", 452, "4.5.3",
	    "first line\nsecond line", "", "reply");
	want("452-4.5.3 first line\r\n452 4.5.3 second line\r\n", 452, "4.5.3",
	    "first line\nsecond line", "", "reply");
	/* Without enhanced codes; an empty first line. */
	want("421-mx.example.com\n421 closing", 421, "",
	    "mx.example.com\nclosing", "", "reply");
	want("452-\n452 second", 452, "", "\nsecond", "", "reply");
	/* A wrapped line continues the one before; another code ends it. */
	want("452 4.5.3 too many\n   recipients\n250 ok", 452, "4.5.3",
	    "too many recipients", "", "reply");
	/* A blank line ends it; a lone CR is a line break. */
	want("452 4.5.3 too many\n\nThanks, Jo", 452, "4.5.3", "too many", "",
	    "reply");
	want("452-4.5.3 a\r452 4.5.3 b\r", 452, "4.5.3", "a\nb", "", "reply");
	/* Another enhanced code on a later line is text. */
	want("452-4.5.3 a\n452 4.3.1 b", 452, "4.5.3", "a\n4.3.1 b", "",
	    "reply");
}

static void
test_postfix(void **state)
{
	(void)state;
	want("Dec  3 10:00:00 mx postfix/smtp[123]: 4XyZ: "
	     "to=<a@example.com>, relay=mx.example.com[192.0.2.1]:25, "
	     "delay=1.2, delays=0.1/0/0.5/0.6, dsn=4.5.3, status=deferred "
	     "(host mx.example.com[192.0.2.1] said: 452 4.5.3 " TMR
	     " (in reply to RCPT TO command))",
	    452, "4.5.3", TMR, "RCPT", "postfix");
	/* journalctl -o short-iso */
	want("2026-12-03T10:00:00+0000 mx postfix/smtp[123]: 4XyZ: "
	     "to=<a@example.com>, status=deferred (host mx.example.com"
	     "[192.0.2.1] said: 451 4.3.0 Try later (in reply to MAIL FROM "
	     "command))",
	    451, "4.3.0", "Try later", "MAIL", "postfix");
	want("host x[192.0.2.1] said: 452 4.3.1 Insufficient system storage "
	     "(in reply to end of DATA command)",
	    452, "4.3.1", "Insufficient system storage", "DATA-END", "postfix");
	want("host x[192.0.2.1] said: 451 4.7.1 Greylisted (in reply to DATA "
	     "command)",
	    451, "4.7.1", "Greylisted", "DATA", "postfix");
	want("host x[192.0.2.1] said: 421 4.3.2 Bye (in reply to QUIT "
	     "command)",
	    421, "4.3.2", "Bye", "QUIT", "postfix");
	want("status=deferred (host mx.example.com[192.0.2.1] refused to "
	     "talk to me: 421 4.3.2 Service shutting down)",
	    421, "4.3.2", "Service shutting down", "CONNECT", "postfix");
	want("status=deferred (TLS is required, but host mx[192.0.2.1] "
	     "refused to start TLS: 454 4.7.0 TLS not available due to "
	     "local problem)",
	    454, "4.7.0", "TLS not available due to local problem", "STARTTLS",
	    "postfix");
	want("status=deferred (SASL authentication failed; server "
	     "mx[192.0.2.1] said: 454 4.7.0 Temporary authentication "
	     "failure)",
	    454, "4.7.0", "Temporary authentication failure", "AUTH",
	    "postfix");
	/* A multi-line reply, its lines joined by spaces in the log. */
	want("host x[192.0.2.1] said: 452-4.5.3 first line 452 4.5.3 second "
	     "line (in reply to RCPT TO command)",
	    452, "4.5.3", "first line\nsecond line", "RCPT", "postfix");
	/* A bounce: the text wrapped, continuation lines indented. */
	want("<a@example.com>: host mx.example.com[192.0.2.1] said: 452 "
	     "4.5.3 Error:\n    too many recipients (in reply to RCPT TO\n"
	     "    command)\n\n<b@example.com>: delivered",
	    452, "4.5.3", TMR, "RCPT", "postfix");
	/* The part after "said: " alone. */
	want("452 4.5.3 " TMR " (in reply to RCPT TO command)", 452, "4.5.3",
	    TMR, "RCPT", "postfix");
	want("452 4.5.3 see (in reply to nothing)", 452, "4.5.3",
	    "see (in reply to nothing)", "", "reply");
	/* The Postfix server's own reject lines. */
	want("Dec  3 10:00:00 mx postfix/smtpd[99]: NOQUEUE: reject: RCPT "
	     "from unknown[192.0.2.7]: 450 4.7.1 <a@example.com>: Recipient "
	     "address rejected: Greylisted; see x; from=<b@example.org> "
	     "to=<a@example.com> proto=ESMTP helo=<client.example.org>",
	    450, "4.7.1",
	    "<a@example.com>: Recipient address rejected: Greylisted; see x",
	    "RCPT", "postfix");
	want("postfix/smtpd[99]: 4XyZ: milter-reject: END-OF-MESSAGE from "
	     "c[2001:db8::7]: 451 4.7.1 Try again later; from=<b@example.org> "
	     "to=<a@example.com> proto=ESMTP helo=<c>",
	    451, "4.7.1", "Try again later", "DATA-END", "postfix");
	want("postfix/smtpd[99]: NOQUEUE: reject: CONNECT from "
	     "c[192.0.2.7]: 421 4.7.0 c[192.0.2.7] Too many connections;",
	    421, "4.7.0", "c[192.0.2.7] Too many connections", "CONNECT",
	    "postfix");
	/* postscreen: "[addr]:port", fields separated by commas */
	want("postfix/postscreen[98]: NOQUEUE: reject: RCPT from "
	     "[192.0.2.7]:51234: 450 4.3.2 Service currently unavailable; "
	     "from=<b@example.org>, to=<a@example.com>, proto=ESMTP, "
	     "helo=<c>",
	    450, "4.3.2", "Service currently unavailable", "RCPT", "postfix");
	/* Parentheses in the text survive. */
	want("status=deferred (host x[192.0.2.1] said: 421 4.7.0 (IP) "
	     "blocked)",
	    421, "4.7.0", "(IP) blocked", "", "postfix");
}

static void
test_exim(void **state)
{
	(void)state;
	want("2026-12-03 10:00:00 1vQxyz-000abc-AB == a@example.com "
	     "R=dnslookup T=remote_smtp defer (-44) H=mx.example.com "
	     "[192.0.2.1]: SMTP error from remote mail server after RCPT "
	     "TO:<a@example.com>: 452 4.5.3 " TMR,
	    452, "4.5.3", TMR, "RCPT", "exim");
	want("SMTP error from remote mail server after pipelined RCPT "
	     "TO:<a@example.com>: 452 4.5.3 " TMR,
	    452, "4.5.3", TMR, "RCPT", "exim");
	want("SMTP error from remote mail server after MAIL "
	     "FROM:<b@example.org> SIZE=1234: 452 4.3.1 Insufficient system "
	     "storage",
	    452, "4.3.1", "Insufficient system storage", "MAIL", "exim");
	want("SMTP error from remote mail server after MAIL FROM:<>: 421 "
	     "4.3.2 shutting down",
	    421, "4.3.2", "shutting down", "MAIL", "exim");
	want("SMTP error from remote mail server after end of data: 451 "
	     "4.3.0 queue file write error",
	    451, "4.3.0", "queue file write error", "DATA-END", "exim");
	want("SMTP error from remote mail server after DATA: 452 4.3.1 full",
	    452, "4.3.1", "full", "DATA", "exim");
	want("SMTP error from remote mail server after initial connection: "
	     "421 4.3.2 Service shutting down",
	    421, "4.3.2", "Service shutting down", "CONNECT", "exim");
	want("SMTP error from remote mail server after EHLO mail.example.org: "
	     "421 4.7.0 too many connections",
	    421, "4.7.0", "too many connections", "EHLO", "exim");
	want("SMTP error from remote mail server after STARTTLS: 454 4.7.0 "
	     "TLS not available",
	    454, "4.7.0", "TLS not available", "STARTTLS", "exim");
	/* Exim's "host X [ip]: " log form, and its "\n" escapes. */
	want("host mx.example.com [192.0.2.1]: SMTP error from remote mail "
	     "server after RCPT TO:<a@example.com>: 452-4.5.3 first "
	     "line\\n452 4.5.3 second line",
	    452, "4.5.3", "first line\nsecond line", "RCPT", "exim");
	/* LMTP and PRDR: one reply per recipient after the message. */
	want("LMTP error after DATA: 452 4.2.2 Mailbox full", 452, "4.2.2",
	    "Mailbox full", "DATA-END", "exim");
	want("PRDR error after BDAT 1234 LAST: 451 4.3.0 later", 451, "4.3.0",
	    "later", "DATA-END", "exim");
	/* Before 4.51. */
	want("SMTP error from remote mailer after RCPT TO:<a@example.com>: "
	     "host mx.example.com [192.0.2.1]: 452 4.5.3 " TMR,
	    452, "4.5.3", TMR, "RCPT", "exim");
	/* A bounce: each line indented, a break after the command. */
	want("  a@example.com\n    host mx.example.com [192.0.2.1]\n    SMTP "
	     "error from remote mail server after RCPT TO:<a@example.com>:\n"
	     "    452 4.5.3 " TMR "\n",
	    452, "4.5.3", TMR, "RCPT", "exim");
}

static void
test_sendmail(void **state)
{
	(void)state;
	want("Dec  3 10:00:00 mx sm-mta[123]: 0B3A0a1b002345: "
	     "to=<a@example.com>, delay=00:00:01, xdelay=00:00:01, "
	     "mailer=esmtp, pri=120000, relay=mx.example.com. [192.0.2.1], "
	     "dsn=4.3.2, stat=Deferred: 421 4.3.2 Service shutting down",
	    421, "4.3.2", "Service shutting down", "", "sendmail");
	want("sm-mta[123]: x: to=<a@example.com>, dsn=4.5.3, stage=RCPT, "
	     "reply=452 4.5.3 Too many recipients, stat=Deferred: 452 4.5.3 "
	     "Too many recipients",
	    452, "4.5.3", "Too many recipients", "RCPT", "sendmail");
	want("sm-mta[123]: x: dsn=4.3.0, stage=EOM, stat=Deferred: 451 "
	     "4.3.0 Try again",
	    451, "4.3.0", "Try again", "DATA-END", "sendmail");
	want("<a@example.com>\n    (reason: 452 4.5.3 Too many recipients)",
	    452, "4.5.3", "Too many recipients", "", "sendmail");
	want("... while talking to mx.example.com.:\n>>> RCPT "
	     "To:<a@example.com>\n<<< 452-4.5.3 Too many\n<<< 452 4.5.3 "
	     "recipients\n<a@example.com>... Deferred: 452 4.5.3 Too many",
	    452, "4.5.3", "Too many\nrecipients", "RCPT", "sendmail");
	want("... while talking to mx.example.com.:\n<<< 421 4.3.2 Service "
	     "shutting down",
	    421, "4.3.2", "Service shutting down", "CONNECT", "sendmail");
	want("... while talking to mx.example.com.:\n>>> .\n<<< 452 4.3.1 "
	     "full",
	    452, "4.3.1", "full", "DATA-END", "sendmail");
}

static void
test_exchange(void **state)
{
	(void)state;
	want("Remote Server returned '452 4.5.3 " TMR "'", 452, "4.5.3", TMR,
	    "", "exchange");
	want("Remote server returned '550 5.7.1 Service unavailable; we "
	     "don't accept it [Hostname=BN8PR01MB1234.prod.outlook.com]'",
	    550, "5.7.1", "Service unavailable; we don't accept it", "",
	    "exchange");
	want("Diagnostic information for administrators:\n\nGenerating "
	     "server: mx.example.com\n\na@example.com\nRemote Server "
	     "returned '< #4.4.7 smtp;452 4.5.3 Too many recipients>'\n\n"
	     "Original message headers:",
	    452, "4.5.3", "Too many recipients", "", "exchange");
	want("a@example.com\n#550 5.1.1 RESOLVER.ADR.RecipNotFound; not "
	     "found ##",
	    550, "5.1.1", "RESOLVER.ADR.RecipNotFound; not found", "",
	    "exchange");
	want("#< #5.1.1 smtp;550 5.1.1 User unknown> #SMTP#", 550, "5.1.1",
	    "User unknown", "", "exchange");
	want("[{LED=452 4.5.3 Too many recipients};{MSG=};{FQDN=mx.example."
	     "com};{IP=192.0.2.1};{LRT=}]",
	    452, "4.5.3", "Too many recipients", "", "exchange");
}

/* Other bounces: the first line that is a reply, and only its lines. */
static void
test_other_bounce(void **state)
{
	(void)state;
	want("** Message not delivered **\n\nThe response was:\n\n452 4.2.2 "
	     "The recipient's inbox is out of storage space.\nMore prose.",
	    452, "4.2.2", "The recipient's inbox is out of storage space.", "",
	    "reply");
	want("Final-Recipient: rfc822; a@example.com\nAction: delayed\n"
	     "  421-4.7.0 first\r\n  421-4.7.0 second\r\n  421 4.7.0 third\r\n"
	     "Last-Attempt-Date: x",
	    421, "4.7.0", "first\nsecond\nthird", "", "reply");
	refuse("Dec  3 10:00:00 mx app: 452 4.5.3 not at a line start", 53,
	    "no reply code found");
}

/* The first marker with a reply wins; one without a code is passed over. */
static void
test_marker_order(void **state)
{
	(void)state;
	want("host x said: nothing here; host y said: 452 4.5.3 b (in reply "
	     "to RCPT TO command)",
	    452, "4.5.3", "b", "RCPT", "postfix");
	/* A reply whose text contains a marker is a reply. */
	want("421 4.7.0 the server said: go away", 421, "4.7.0",
	    "the server said: go away", "", "reply");
	/* A marker inside a word is no marker. */
	refuse("unsaid: 452 4.5.3 x", 19, "no reply code found");
}

static void
test_hostile(void **state)
{
	static const char nul[] = "452\0 4.5.3 a\0b";
	struct explain_reply r;
	char *big, *why = NULL;
	size_t i;

	(void)state;
	refuse("", 0, "no reply code found");
	refuse(NULL, 10, "no reply code found");
	refuse("   \n\t ", 6, "no reply code found");
	refuse("hello world", 11, "no reply code found in \"hello world\"");
	refuse("999", 3, "'999' is not a reply code");
	refuse("999 x", 5, "'999' is not a reply code");
	refuse("199 x", 5, "'199' is not a reply code");
	refuse("45", 2, "no reply code found");
	refuse("4521 x", 6, "no reply code found");
	refuse("452Error: too many", 18, "no reply code found");
	refuse("45a x", 5, "no reply code found");
	refuse("stat=Deferred: Connection refused by mx.example.com.", 52,
	    "no reply code found");
	refuse("SMTP error from remote mail server after RCPT TO:<a", 51,
	    "no reply code found");
	refuse("Remote Server returned '", 24, "no reply code found");
	refuse("#", 1, "no reply code found");
	refuse("\x1b[2J\x07", 5, "no reply code found in \"\\e[2J");

	/* NUL bytes are blanks. */
	assert_int_equal(explain_parse(nul, sizeof nul - 1, &r, &why), 0);
	assert_int_equal(r.code, 452);
	assert_string_equal(r.enhanced, "4.5.3");
	assert_string_equal(r.text, "a b");
	explain_reply_free(&r);
	explain_reply_free(&r);
	explain_reply_free(NULL);

	/* Over the cap: refused; at the cap: parsed. */
	big = xmalloc(EXPLAIN_INPUT_MAX + 1);
	memset(big, 'x', EXPLAIN_INPUT_MAX + 1);
	memcpy(big, "452 4.5.3 ", 10);
	refuse(big, EXPLAIN_INPUT_MAX + 1, "the input is longer than");
	assert_int_equal(explain_parse(big, EXPLAIN_INPUT_MAX, &r, &why), 0);
	assert_int_equal(strlen(r.text), EXPLAIN_INPUT_MAX - 10);
	explain_reply_free(&r);

	/* Many markers that hold nothing: refused, quickly. */
	for (i = 0; i + 6 <= EXPLAIN_INPUT_MAX; i += 6)
		memcpy(big + i, "said: ", 6);
	refuse(big, EXPLAIN_INPUT_MAX, "no reply code found");
	for (i = 0; i + 2 <= EXPLAIN_INPUT_MAX; i += 2)
		memcpy(big + i, "#<", 2);
	refuse(big, EXPLAIN_INPUT_MAX, "no reply code found");
	/* Every byte value. */
	for (i = 0; i < EXPLAIN_INPUT_MAX; i++)
		big[i] = (char)(i * 7 % 256);
	if (explain_parse(big, EXPLAIN_INPUT_MAX, &r, &why) == 0)
		explain_reply_free(&r);
	else
		free(why);
	free(big);
}

static void
test_form_names(void **state)
{
	(void)state;
	assert_string_equal(
	    explain_form_name("postfix"), "a Postfix log line or bounce");
	assert_string_equal(explain_form_name("reply"), "a reply");
	assert_string_equal(explain_form_name("nonsense"), "a reply");
	assert_string_equal(explain_form_name(NULL), "a reply");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reply),
	    cmocka_unit_test(test_multiline),
	    cmocka_unit_test(test_postfix),
	    cmocka_unit_test(test_exim),
	    cmocka_unit_test(test_sendmail),
	    cmocka_unit_test(test_exchange),
	    cmocka_unit_test(test_other_bounce),
	    cmocka_unit_test(test_marker_order),
	    cmocka_unit_test(test_hostile),
	    cmocka_unit_test(test_form_names),
	};

	return cmocka_run_group_tests_name("explain", tests, NULL, NULL);
}
