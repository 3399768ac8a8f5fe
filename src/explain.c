/*
 * explain: the one SMTP reply in what a user hands to --explain.
 *
 * The input is a reply (one line, or the lines of a multi-line reply), or an
 * MTA's log line or bounce text that quotes one.  Every form of the same
 * reply gives the same struct explain_reply, so that the diagnosis cannot
 * depend on how the user pasted it.
 *
 * Invariants: the input is copied once into a NUL-free work buffer of at
 * most EXPLAIN_INPUT_MAX bytes, and every scan is bounded by a length, never
 * by a terminator alone.  Log forms are recognised by fixed marker phrases
 * that the MTAs print (see ex_markers); the first marker in the text that
 * yields a reply code wins, and the number of markers tried is capped so
 * that hostile input stays linear.  No recursion.
 */
#include "config.h"

#include "explain.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vis.h"
#include "xmalloc.h"

/* Markers tried before giving up: each try is linear in the input. */
#define EX_TRIES_MAX 32
/* Bytes of the input quoted in the "no reply code" message. */
#define EX_QUOTE_MAX 60

#define EX_NONE ((size_t)-1)

static const struct {
	const char *form;
	const char *name;
} ex_forms[] = {
    {"reply", "a reply"},
    {"postfix", "a Postfix log line or bounce"},
    {"exim", "an Exim log line or bounce"},
    {"sendmail", "a Sendmail log line or bounce"},
    {"exchange", "an Exchange or Microsoft 365 report"},
};

/*
 * How the MTAs name the command a reply answered, matched case-insensitively
 * at the start of the phrase and ending at a non-alphanumeric byte.  Longer
 * phrases come before their prefixes.
 *   Postfix smtp_proto.c, xfer_request[]: "MAIL FROM command", "RCPT TO
 *     command", "DATA command", "end of DATA command", "final RSET command",
 *     "RSET probe", "QUIT command", "XFORWARD ... command".
 *   Exim transports/smtp.c, smtp_command: the command line sent ("RCPT
 *     TO:<a@b>", "MAIL FROM:<> SIZE=123", "EHLO host", "DATA"), "initial
 *     connection", "TLS-on-connect", "end of data", "sending data block"
 *     (BDAT).
 *   Sendmail deliver.c, xs_states[] (stage=): "GREET", "EHLO", "STARTTLS",
 *     "AUTH", "MAIL", "RCPT", "DATA", "EOM", "QUIT"; its session transcript
 *     names the command line, or "STARTTLS dialogue", "AUTH dialogue".
 *   Postfix smtpd.h, state->where in the server's "reject:" lines:
 *     "CONNECT", "DATA content", "BDAT content", "END-OF-MESSAGE", or the
 *     command's verb.
 */
static const struct {
	const char *words;
	const char *phase;
} ex_phases[] = {
    {"initial connection", "CONNECT"},
    {"TLS-on-connect", "CONNECT"},
    {"GREET", "CONNECT"},
    {"MAIL FROM", "MAIL"},
    {"RCPT TO", "RCPT"},
    {"end of data", "DATA-END"},
    {"EOM", "DATA-END"},
    {"END-OF-MESSAGE", "DATA-END"},
    {"DATA content", "DATA-END"},
    {"BDAT content", "BDAT"},
    {"CONNECT", "CONNECT"},
    {"sending data block", "BDAT"},
    {"final RSET", "RSET"},
    {"XFORWARD", "OTHER"},
    {"EHLO", "EHLO"},
    {"HELO", "HELO"},
    {"LHLO", "LHLO"},
    {"STARTTLS", "STARTTLS"},
    {"AUTH", "AUTH"},
    {"MAIL", "MAIL"},
    {"RCPT", "RCPT"},
    {"DATA", "DATA"},
    {"BDAT", "BDAT"},
    {"RSET", "RSET"},
    {"QUIT", "QUIT"},
    {"NOOP", "OTHER"},
    {"VRFY", "OTHER"},
    {"ETRN", "OTHER"},
    {"HELP", "OTHER"},
    {"XCLIENT", "OTHER"},
};

/* One marker found in the flattened text, and what its handler made of it. */
struct ex_try {
	const char *f; /* the flattened text */
	size_t lstart; /* its logical line: [lstart, lend) */
	size_t lend;
	size_t at;	  /* where the marker starts */
	size_t body;	  /* the first byte after it */
	size_t rs, re;	  /* out: the reply, [rs, re) */
	bool to_end;	  /* out: it runs to the end of the line */
	char answers[16]; /* out: the command it answered, or "" */
};

typedef bool (*ex_take_fn)(struct ex_try *);

static bool ex_take_rest(struct ex_try *);
static bool ex_take_said(struct ex_try *);
static bool ex_take_smtpd(struct ex_try *);
static bool ex_take_exim(struct ex_try *);
static bool ex_take_stat(struct ex_try *);
static bool ex_take_reply_eq(struct ex_try *);
static bool ex_take_reason(struct ex_try *);
static bool ex_take_quoted(struct ex_try *);
static bool ex_take_led(struct ex_try *);
static bool ex_take_hash(struct ex_try *);

/*
 * The phrases that introduce a reply in each MTA's log lines and bounces,
 * as their sources print them.  Matched case-insensitively, and only where
 * the byte before is not alphanumeric.
 */
static const struct ex_marker {
	const char *word;
	const char *form;
	const char *phase; /* the command answered, when the phrase fixes it */
	ex_take_fn take;
} ex_markers[] = {
    /* Postfix smtp_proto.c: "host %s said: %s (in reply to %s)";
       smtp_sasl_glue.c: "SASL authentication failed; server %s said: %s" */
    {"said: ", "postfix", NULL, ex_take_said},
    /* Postfix smtp_proto.c: "host %s refused to talk to me: %s", for the
       greeting (and a failed HELO/LHLO, or a 421 to EHLO: the same words) */
    {"refused to talk to me: ", "postfix", "CONNECT", ex_take_rest},
    /* "TLS is required, but host %s refused to start TLS: %s" */
    {"refused to start TLS: ", "postfix", "STARTTLS", ex_take_rest},
    /* The Postfix server's own replies, smtpd_check.c log_whatsup(): "%s:
       %s: %s from %s: %s;" (queue id, "reject", where, client, reply) and
       " from=<%s> to=<%s> proto=%s helo=<%s>"; smtpd.c for milters,
       postscreen.c and postscreen_smtpd.c with "[%s]:%s" for the client */
    {"reject: ", "postfix", NULL, ex_take_smtpd},
    {"reject_warning: ", "postfix", NULL, ex_take_smtpd},
    /* Exim transports/smtp.c: "SMTP error from remote mail server after
       %s%s: %s" (pipelined, command); "remote mailer" before 4.51, and
       "host %s [%s]: " before the reply up to 4.84 */
    {"SMTP error from remote mail server after ", "exim", NULL, ex_take_exim},
    {"SMTP error from remote mailer after ", "exim", NULL, ex_take_exim},
    /* ... and per recipient after the message, "LMTP error after %s: %s"
       and "PRDR error after %s: %s", naming the DATA (or BDAT) command */
    {"LMTP error after ", "exim", "DATA-END", ex_take_exim},
    {"PRDR error after ", "exim", "DATA-END", ex_take_exim},
    /* Sendmail deliver.c: "stat=Deferred: <server reply>" (giveresponse
       drops "450 4.0.0 " from "450 4.0.0 Deferred: ..."), ", reply=%s",
       savemail.c "    (reason: %s)" */
    {"Deferred: ", "sendmail", NULL, ex_take_stat},
    {"reply=", "sendmail", NULL, ex_take_reply_eq},
    {"(reason: ", "sendmail", NULL, ex_take_reason},
    /* Exchange and Microsoft 365 NDRs: "Remote Server returned '...'";
       message trace: "{LED=...};"; older NDRs: "#550 5.1.1 ... ##" and
       "#< #5.0.0 smtp;550 5.1.1 ...> #SMTP#" */
    {"Remote Server returned '", "exchange", NULL, ex_take_quoted},
    {"LED=", "exchange", NULL, ex_take_led},
    {"#", "exchange", NULL, ex_take_hash},
};

const char *
explain_form_name(const char *form)
{
	size_t i;

	for (i = 0; form != NULL && i < sizeof ex_forms / sizeof ex_forms[0];
	     i++) {
		if (strcmp(form, ex_forms[i].form) == 0)
			return ex_forms[i].name;
	}
	return "a reply";
}

void
explain_reply_free(struct explain_reply *r)
{
	if (r == NULL)
		return;
	free(r->text);
	memset(r, 0, sizeof *r);
}

static bool
ex_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool
ex_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

static bool
ex_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
ex_alnum(char c)
{
	return isalnum((unsigned char)c) != 0;
}

/* Where needle (NUL-terminated) starts in s[from, n), ignoring case. */
static size_t
ex_find(const char *s, size_t from, size_t n, const char *needle)
{
	size_t nl = strlen(needle), i;

	for (i = from; i + nl <= n && nl <= n; i++) {
		if (strncasecmp(s + i, needle, nl) == 0)
			return i;
	}
	return EX_NONE;
}

/* The last place needle starts in s[from, n), ignoring case. */
static size_t
ex_rfind(const char *s, size_t from, size_t n, const char *needle)
{
	size_t at = EX_NONE, i = from;

	while ((i = ex_find(s, i, n, needle)) != EX_NONE)
		at = i++;
	return at;
}

/* Whether s[0, n) starts with word, ignoring case. */
static bool
ex_starts(const char *s, size_t n, const char *word)
{
	size_t wl = strlen(word);

	return n >= wl && strncasecmp(s, word, wl) == 0;
}

/*
 * A reply code at s: three digits, the first 2 to 5, then the end, a blank
 * or '-' (RFC 5321 section 4.2).  Returns 3 and sets *code, else 0.
 */
static size_t
ex_code(const char *s, size_t n, int *code)
{
	if (n < 3 || s[0] < '2' || s[0] > '5' || !ex_digit(s[1]) ||
	    !ex_digit(s[2]))
		return 0;
	if (n > 3 && !ex_blank(s[3]) && s[3] != '-')
		return 0;
	*code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	return 3;
}

/* 1 to 3 digits; their number. */
static size_t
ex_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < 4 && ex_digit(s[i]); i++)
		;
	return i >= 1 && i <= 3 ? i : 0;
}

/*
 * An enhanced status code at s: class (2, 4 or 5) '.' subject '.' detail,
 * each of 1 to 3 digits (RFC 3463 section 2), then the end or a blank.
 * Returns its length, else 0.
 */
static size_t
ex_enhanced(const char *s, size_t n)
{
	size_t i, k;

	if (n < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return 0;
	i = 2;
	if ((k = ex_digits(s + i, n - i)) == 0)
		return 0;
	i += k;
	if (i >= n || s[i] != '.')
		return 0;
	i++;
	if ((k = ex_digits(s + i, n - i)) == 0)
		return 0;
	i += k;
	if (i < n && !ex_blank(s[i]))
		return 0;
	return i;
}

/*
 * The reply in s[0, n), lines separated by '\n': the first non-blank line
 * starts with a code; the following lines with the same code add their text
 * ("\n" between lines, the repeated enhanced code dropped); a line without a
 * code continues the line before (a reply wrapped by a terminal or a mail
 * reader), or ends the reply when strict; a line with another code, or a
 * blank line, ends the reply.
 */
static int
ex_reply(const char *s, size_t n, struct explain_reply *out, bool strict)
{
	size_t i = 0, ls, le, tl = 0, elen = 0;
	int code = 0, c;
	char *t;

	t = xmalloc(n + 1);
	while (i < n) {
		ls = i;
		while (i < n && s[i] != '\n')
			i++;
		le = i;
		if (i < n)
			i++;
		while (ls < le && ex_blank(s[ls]))
			ls++;
		while (le > ls && ex_blank(s[le - 1]))
			le--;
		if (ls == le && code == 0)
			continue;
		if (ls == le)
			break;
		if (ex_code(s + ls, le - ls, &c) == 0) {
			if (code == 0 || strict)
				break;
			if (tl > 0 && t[tl - 1] != '\n')
				t[tl++] = ' ';
			memcpy(t + tl, s + ls, le - ls);
			tl += le - ls;
			continue;
		}
		if (code != 0 && c != code)
			break;
		ls += 3;
		if (ls < le)
			ls++; /* ' ' or '-' */
		while (ls < le && ex_blank(s[ls]))
			ls++;
		if (code == 0) {
			code = c;
			elen = ex_enhanced(s + ls, le - ls);
			if (elen >= sizeof out->enhanced)
				elen = 0;
			memcpy(out->enhanced, s + ls, elen);
			out->enhanced[elen] = '\0';
			ls += elen;
		} else {
			t[tl++] = '\n';
			if (elen > 0 && ex_enhanced(s + ls, le - ls) == elen &&
			    memcmp(s + ls, out->enhanced, elen) == 0)
				ls += elen;
		}
		while (ls < le && ex_blank(s[ls]))
			ls++;
		memcpy(t + tl, s + ls, le - ls);
		tl += le - ls;
	}
	if (code == 0) {
		free(t);
		out->enhanced[0] = '\0';
		return -1;
	}
	t[tl] = '\0';
	out->code = code;
	out->text = t;
	return 0;
}

/*
 * The whitespace of s[0, n) made uniform for the marker search: a run of
 * blanks becomes one space, and so does a line break followed by an indent
 * (a bounce wraps its long lines so); a line break at the start of a line,
 * or a blank line, becomes one '\n': the end of a logical line.  Returns the
 * length written to f (at most n).
 */
static size_t
ex_flatten(const char *s, size_t n, char *f)
{
	size_t i = 0, fl = 0, nl;

	while (i < n) {
		if (!ex_space(s[i])) {
			f[fl++] = s[i++];
			continue;
		}
		nl = 0;
		for (; i < n && ex_space(s[i]); i++)
			nl += s[i] == '\n';
		if (fl == 0 || i == n)
			continue;
		if (nl == 0 || (nl == 1 && ex_blank(s[i - 1])))
			f[fl++] = ' ';
		else
			f[fl++] = '\n';
	}
	return fl;
}

/* The command a log phrase names, into out ("" when none is known). */
static void
ex_phase(const char *s, size_t n, char out[16])
{
	size_t i, wl;

	out[0] = '\0';
	while (n > 0 && ex_blank(*s)) {
		s++;
		n--;
	}
	for (i = 0; i < sizeof ex_phases / sizeof ex_phases[0]; i++) {
		wl = strlen(ex_phases[i].words);
		if (ex_starts(s, n, ex_phases[i].words) &&
		    (n == wl || !ex_alnum(s[wl]))) {
			snprintf(out, 16, "%s", ex_phases[i].phase);
			return;
		}
	}
}

/* Sendmail's ", stage=EOM" (a compile-time option) names the command. */
static void
ex_stage(struct ex_try *t)
{
	size_t at = ex_find(t->f, t->lstart, t->lend, "stage="), e;

	if (at == EX_NONE || t->answers[0] != '\0')
		return;
	at += 6;
	for (e = at; e < t->lend && ex_alnum(t->f[e]); e++)
		;
	ex_phase(t->f + at, e - at, t->answers);
}

/* The reply runs to the end of the line; the marker fixes the command. */
static bool
ex_take_rest(struct ex_try *t)
{
	t->rs = t->body;
	t->re = t->lend;
	t->to_end = true;
	return true;
}

/* Postfix: "said: REPLY (in reply to RCPT TO command)". */
static bool
ex_take_said(struct ex_try *t)
{
	size_t at = ex_rfind(t->f, t->body, t->lend, " (in reply to "), e;

	t->rs = t->body;
	if (at == EX_NONE) {
		t->re = t->lend;
		t->to_end = true;
		if (ex_find(t->f, t->lstart, t->at,
			"SASL authentication failed") != EX_NONE)
			snprintf(t->answers, sizeof t->answers, "AUTH");
		return true;
	}
	t->re = at;
	at += strlen(" (in reply to ");
	for (e = at; e < t->lend && t->f[e] != ')'; e++)
		;
	ex_phase(t->f + at, e - at, t->answers);
	return true;
}

/*
 * Postfix's server: "reject: RCPT from client[192.0.2.1]: REPLY; from=<a>
 * to=<b> proto=ESMTP helo=<c>"; postscreen (postscreen_smtpd.c) names the
 * client "[192.0.2.1]:51234" and separates the fields with commas.  The
 * reply ends at the ';' before the first field (or a ';' ending the line).
 */
static bool
ex_take_smtpd(struct ex_try *t)
{
	static const char *const fields[] = {
	    "; from=<", "; to=<", "; proto=", "; helo=<"};
	size_t from, p, e, i;

	from = ex_find(t->f, t->body, t->lend, " from ");
	if (from == EX_NONE)
		return false;
	ex_phase(t->f + t->body, from - t->body, t->answers);
	p = ex_find(t->f, from, t->lend, "]");
	if (p == EX_NONE)
		return false;
	p++;
	if (p + 1 < t->lend && t->f[p] == ':' && ex_digit(t->f[p + 1]))
		for (p++; p < t->lend && ex_digit(t->f[p]); p++)
			;
	if (!ex_starts(t->f + p, t->lend - p, ": "))
		return false;
	t->rs = p + 2;
	t->re = t->lend;
	for (i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		e = ex_find(t->f, t->rs, t->re, fields[i]);
		if (e != EX_NONE)
			t->re = e;
	}
	if (t->re == t->lend && t->re > t->rs && t->f[t->re - 1] == ';')
		t->re--;
	return true;
}

/*
 * Exim: "after [pipelined ]COMMAND: [host NAME [IP]: ]REPLY".  The command
 * is a whole line as sent, so its end is the first ": " after an address in
 * angle brackets, if it has one.
 */
static bool
ex_take_exim(struct ex_try *t)
{
	size_t p = t->body, from, colon, e;

	if (ex_starts(t->f + p, t->lend - p, "pipelined "))
		p += strlen("pipelined ");
	from = p;
	if (ex_starts(t->f + p, t->lend - p, "RCPT TO:<") ||
	    ex_starts(t->f + p, t->lend - p, "MAIL FROM:<")) {
		from = ex_find(t->f, p, t->lend, ">");
		if (from == EX_NONE)
			return false;
	}
	colon = ex_find(t->f, from, t->lend, ": ");
	if (colon == EX_NONE)
		return false;
	if (t->answers[0] == '\0')
		ex_phase(t->f + p, colon - p, t->answers);
	t->rs = colon + 2;
	if (ex_starts(t->f + t->rs, t->lend - t->rs, "host ") &&
	    (e = ex_find(t->f, t->rs, t->lend, "]: ")) != EX_NONE)
		t->rs = e + 3;
	t->re = t->lend;
	t->to_end = true;
	return true;
}

/* Sendmail: "stat=Deferred: REPLY" ends its log line. */
static bool
ex_take_stat(struct ex_try *t)
{
	ex_take_rest(t);
	ex_stage(t);
	return true;
}

/* The reply runs from the marker to the last (or, with first, the first)
   term on the line, or to the end of the line without one. */
static bool
ex_take_to(struct ex_try *t, const char *term, bool first)
{
	size_t at = first ? ex_find(t->f, t->body, t->lend, term)
			  : ex_rfind(t->f, t->body, t->lend, term);

	t->rs = t->body;
	t->re = at == EX_NONE ? t->lend : at;
	return true;
}

/* Sendmail: "reply=REPLY, stat=..." */
static bool
ex_take_reply_eq(struct ex_try *t)
{
	ex_take_to(t, ", stat=", false);
	t->to_end = t->re == t->lend;
	ex_stage(t);
	return true;
}

/* Sendmail bounce: "(reason: REPLY)". */
static bool
ex_take_reason(struct ex_try *t)
{
	return ex_take_to(t, ")", false);
}

/* Exchange: "Remote Server returned 'REPLY'" (the reply may hold quotes). */
static bool
ex_take_quoted(struct ex_try *t)
{
	return ex_take_to(t, "'", false);
}

/* Microsoft 365 message trace: "{LED=REPLY};{MSG=...}". */
static bool
ex_take_led(struct ex_try *t)
{
	return ex_take_to(t, "}", true);
}

/* Exchange: "#550 5.1.1 ... ##" or "#< #5.0.0 smtp;550 ...> #SMTP#". */
static bool
ex_take_hash(struct ex_try *t)
{
	if (t->body >= t->lend ||
	    (!ex_digit(t->f[t->body]) && t->f[t->body] != '<'))
		return false;
	return ex_take_rest(t);
}

/* Trim blanks around s[*b, *e). */
static void
ex_trim(const char *s, size_t *b, size_t *e)
{
	while (*b < *e && ex_space(s[*b]))
		(*b)++;
	while (*e > *b && ex_space(s[*e - 1]))
		(*e)--;
}

/*
 * Exchange wraps the remote reply: "< #5.0.0 smtp;550 5.1.1 ...>", a
 * trailing "##" or "#SMTP#", and Microsoft 365 adds "[Hostname=...]".
 */
static void
ex_exchange_unwrap(const char *s, size_t *b, size_t *e)
{
	size_t at;

	ex_trim(s, b, e);
	if (*b < *e && s[*b] == '#')
		(*b)++;
	ex_trim(s, b, e);
	if (*b < *e && s[*b] == '<') {
		at = ex_find(s, *b, *e, "smtp;");
		*b = at == EX_NONE ? *b + 1 : at + 5;
		at = ex_rfind(s, *b, *e, ">");
		if (at != EX_NONE)
			*e = at;
	}
	while (*e > *b && (s[*e - 1] == '#' || ex_space(s[*e - 1])))
		(*e)--;
	if (*e > *b && s[*e - 1] == ']') {
		at = ex_rfind(s, *b, *e, "[Hostname=");
		if (at != EX_NONE)
			*e = at;
	}
	ex_trim(s, b, e);
}

/*
 * Log lines show a multi-line reply on one line.  Exim escapes the line
 * breaks as "\n" (string_printing); Postfix replaces them with spaces
 * (translit in smtp_proto.c), so "452-4.5.3 a 452 4.5.3 b" is split again
 * where the code (and enhanced code) repeat.  In place; returns the length.
 */
static size_t
ex_unjoin(char *s, size_t n, bool exim)
{
	size_t i, o, el;
	int code;

	if (exim) {
		for (i = o = 0; i < n; i++) {
			if (s[i] == '\\' && i + 1 < n && s[i + 1] == 'n') {
				s[o++] = '\n';
				i++;
			} else
				s[o++] = s[i];
		}
		return o;
	}
	if (ex_code(s, n, &code) == 0 || n < 4 || s[3] != '-')
		return n;
	el = ex_enhanced(s + 4, n - 4);
	for (i = 4; i + 4 < n; i++) {
		if (s[i] != ' ' || memcmp(s + i + 1, s, 3) != 0 ||
		    (s[i + 4] != '-' && s[i + 4] != ' '))
			continue;
		if (el > 0 &&
		    (n - (i + 5) < el || memcmp(s + i + 5, s + 4, el) != 0))
			continue;
		s[i] = '\n';
	}
	return n;
}

/* A marker's reply, cleaned as its form needs, parsed into out. */
static int
ex_finish(const struct ex_try *t, const struct ex_marker *m,
    struct explain_reply *out)
{
	size_t b = t->rs, e = t->re, open = 0, i, n;
	char *seg;
	int rc;

	ex_trim(t->f, &b, &e);
	if (t->to_end) {
		/* "status=deferred (host ... said: REPLY)": drop the ')'
		   that closes a '(' opened before the marker. */
		for (i = t->lstart; i < t->at; i++) {
			if (t->f[i] == '(')
				open++;
			else if (t->f[i] == ')' && open > 0)
				open--;
		}
		for (; open > 0 && e > b && t->f[e - 1] == ')'; open--) {
			e--;
			ex_trim(t->f, &b, &e);
		}
	}
	if (strcmp(m->form, "exchange") == 0)
		ex_exchange_unwrap(t->f, &b, &e);
	seg = xmemdup0(t->f + b, e - b);
	n = ex_unjoin(seg, e - b, strcmp(m->form, "exim") == 0);
	rc = ex_reply(seg, n, out, false);
	free(seg);
	if (rc == 0) {
		memcpy(out->answers, t->answers, sizeof out->answers);
		out->form = m->form;
	}
	return rc;
}

/* The log forms: the first marker whose text holds a reply wins. */
static int
ex_markers_parse(const char *f, size_t fl, struct explain_reply *out)
{
	const struct ex_marker *m, *best;
	struct ex_try t;
	size_t from = 0, at, bat, i, tries;

	for (tries = 0; tries < EX_TRIES_MAX; tries++) {
		best = NULL;
		bat = EX_NONE;
		for (i = 0; i < sizeof ex_markers / sizeof ex_markers[0]; i++) {
			m = &ex_markers[i];
			at = from;
			while ((at = ex_find(f, at, fl, m->word)) != EX_NONE &&
			       at > 0 && ex_alnum(f[at - 1]))
				at++;
			if (at != EX_NONE && (bat == EX_NONE || at < bat)) {
				bat = at;
				best = m;
			}
		}
		if (best == NULL)
			return -1;
		memset(&t, 0, sizeof t);
		t.f = f;
		t.at = bat;
		t.body = bat + strlen(best->word);
		for (t.lstart = bat; t.lstart > 0 && f[t.lstart - 1] != '\n';
		     t.lstart--)
			;
		for (t.lend = t.body; t.lend < fl && f[t.lend] != '\n';
		     t.lend++)
			;
		if (t.body > t.lend)
			t.body = t.lend;
		if (best->phase != NULL)
			snprintf(
			    t.answers, sizeof t.answers, "%s", best->phase);
		if (best->take(&t) && ex_finish(&t, best, out) == 0)
			return 0;
		from = bat + 1;
	}
	return -1;
}

/*
 * Sendmail's session transcript in a bounce:
 *   ... while talking to mx.example.com.:
 *   >>> RCPT To:<a@example.com>
 *   <<< 452 4.5.3 Too many recipients
 * (usersmtp.c reply()).  The first reply quoted wins; the ">>>" line before
 * it names the command, and none after "while talking to" is the greeting.
 */
static int
ex_transcript(const char *s, size_t n, struct explain_reply *out)
{
	size_t i = 0, ls, le, cs = 0, ce = 0, rs = EX_NONE, re = 0, k;
	bool talking = false, cmd = false;
	char *seg;
	int code, rc;

	while (i < n) {
		ls = i;
		while (i < n && s[i] != '\n')
			i++;
		le = i;
		if (i < n)
			i++;
		while (ls < le && ex_blank(s[ls]))
			ls++;
		if (rs != EX_NONE) {
			if (le - ls < 4 || memcmp(s + ls, "<<< ", 4) != 0)
				break;
			re = le;
			continue;
		}
		if (ex_find(s, ls, le, "while talking to ") != EX_NONE) {
			talking = true;
			cmd = false;
		} else if (le - ls >= 4 && memcmp(s + ls, ">>> ", 4) == 0) {
			cmd = true;
			cs = ls + 4;
			ce = le;
		} else if (le - ls >= 4 && memcmp(s + ls, "<<< ", 4) == 0 &&
			   ex_code(s + ls + 4, le - ls - 4, &code) != 0) {
			rs = ls;
			re = le;
		}
	}
	if (rs == EX_NONE)
		return -1;
	/* The reply's lines without their "<<< ". */
	seg = xmalloc(re - rs + 1);
	for (i = rs, k = 0; i < re;) {
		while (i < re && ex_blank(s[i]))
			i++;
		if (re - i >= 4 && memcmp(s + i, "<<< ", 4) == 0)
			i += 4;
		while (i < re && s[i] != '\n')
			seg[k++] = s[i++];
		if (i < re)
			seg[k++] = s[i++];
	}
	rc = ex_reply(seg, k, out, false);
	free(seg);
	if (rc != 0)
		return -1;
	if (cmd && ce - cs == 1 && s[cs] == '.')
		snprintf(out->answers, sizeof out->answers, "DATA-END");
	else if (cmd)
		ex_phase(s + cs, ce - cs, out->answers);
	else if (talking)
		snprintf(out->answers, sizeof out->answers, "CONNECT");
	out->form = "sendmail";
	return 0;
}

/*
 * What follows "said: " in a Postfix line, pasted alone, still ends with
 * "(in reply to RCPT TO command)": not the server's text, but the command.
 */
static void
ex_reply_suffix(struct explain_reply *r)
{
	static const char intro[] = "(in reply to ";
	size_t n = strlen(r->text), at, p;
	char phase[16];

	if (n == 0 || r->text[n - 1] != ')')
		return;
	at = ex_rfind(r->text, 0, n, intro);
	if (at == EX_NONE || memchr(r->text + at, '\n', n - at) != NULL)
		return;
	p = at + sizeof intro - 1;
	ex_phase(r->text + p, n - 1 - p, phase);
	if (phase[0] == '\0')
		return;
	while (at > 0 && ex_space(r->text[at - 1]))
		at--;
	r->text[at] = '\0';
	memcpy(r->answers, phase, sizeof r->answers);
	r->form = "postfix";
}

/* Why nothing was found, quoting the start of the input. */
static char *
ex_why(const char *input, size_t len, const char *w, size_t wl)
{
	char *q, *why;
	int code;

	if (wl >= 3 && ex_digit(w[0]) && ex_digit(w[1]) && ex_digit(w[2]) &&
	    (wl == 3 || ex_space(w[3]) || w[3] == '-') &&
	    ex_code(w, wl, &code) == 0) {
		xasprintf(&why, "'%.3s' is not a reply code (2xx to 5xx)", w);
		return why;
	}
	if (wl == 0) {
		xasprintf(&why, "no reply code found in an empty input");
		return why;
	}
	q = vis_dup(input, len > EX_QUOTE_MAX ? EX_QUOTE_MAX : len, 0);
	xasprintf(&why, "no reply code found in \"%s%s\"", q,
	    len > EX_QUOTE_MAX ? "..." : "");
	free(q);
	return why;
}

int
explain_parse(
    const char *input, size_t len, struct explain_reply *out, char **why)
{
	char *w, *f;
	size_t i, b, e, fl;
	int code, rc = -1;

	memset(out, 0, sizeof *out);
	*why = NULL;
	if (input == NULL)
		len = 0;
	if (len > EXPLAIN_INPUT_MAX) {
		xasprintf(why, "the input is longer than %d bytes",
		    EXPLAIN_INPUT_MAX);
		return -1;
	}
	/* NULs, CRs and form feeds are line breaks or blanks to us. */
	w = xmalloc(len + 1);
	for (i = 0; i < len; i++) {
		w[i] = input[i];
		if (w[i] == '\0' || w[i] == '\v' || w[i] == '\f')
			w[i] = ' ';
		else if (w[i] == '\r')
			w[i] = i + 1 < len && input[i + 1] == '\n' ? ' ' : '\n';
	}
	w[len] = '\0';
	b = 0;
	e = len;
	ex_trim(w, &b, &e);
	/* One pair of quotes around all of it, as a shell would take. */
	if (e - b >= 2 && (w[b] == '"' || w[b] == '\'') && w[e - 1] == w[b]) {
		b++;
		e--;
		ex_trim(w, &b, &e);
	}
	if (ex_code(w + b, e - b, &code) != 0) {
		rc = ex_reply(w + b, e - b, out, false);
		out->form = "reply";
		ex_reply_suffix(out);
	} else if (ex_transcript(w + b, e - b, out) == 0)
		rc = 0;
	else {
		f = xmalloc(e - b + 1);
		fl = ex_flatten(w + b, e - b, f);
		rc = ex_markers_parse(f, fl, out);
		free(f);
	}
	/* Other bounce texts ("The response was:"): a line that is a reply. */
	for (i = b; rc != 0 && i < e; i++) {
		if (i > b && w[i - 1] != '\n')
			continue;
		while (i < e && ex_blank(w[i]))
			i++;
		if (ex_code(w + i, e - i, &code) != 0) {
			explain_reply_free(out);
			rc = ex_reply(w + i, e - i, out, true);
			out->form = "reply";
		}
	}
	if (rc != 0) {
		explain_reply_free(out);
		*why = ex_why(input, len, w + b, e - b);
	}
	free(w);
	return rc;
}
