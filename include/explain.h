#ifndef SMTPSCOPE_EXPLAIN_H
#define SMTPSCOPE_EXPLAIN_H

#include <stddef.h>

/*
 * explain: find the one SMTP reply in what a user pastes to --explain: a
 * reply (one line or several), or an MTA's log line or bounce text with the
 * reply inside it (Postfix, Exim, Sendmail, Exchange / Microsoft 365).  A
 * pure parser: it says what the reply is and which command it answered, and
 * nothing about what it means.
 */

/* Longest input explain_parse takes, in bytes. */
#define EXPLAIN_INPUT_MAX 65536

struct explain_reply {
	int code;	   /* 200..599; 0: none */
	char enhanced[16]; /* "4.5.3"; "" when there is none */
	/* The lines' text after code and enhanced code, joined with "\n";
	   owned, never NULL after a successful parse, may be "". */
	char *text;
	/* The command the reply answered, as the log line names it: "CONNECT"
	   (the greeting), "EHLO", "HELO", "LHLO", "MAIL", "RCPT", "DATA",
	   "DATA-END", "BDAT", "AUTH", "STARTTLS", "QUIT", "RSET", "OTHER"
	   (NOOP, VRFY, XFORWARD...); "" unknown.  Always a word that
	   rules_answers_valid() takes. */
	char answers[16];
	/* Static: "reply", "postfix", "exim", "sendmail", "exchange". */
	const char *form;
};

/*
 * Parse len bytes of input (any bytes: NULs and over-long input are handled).
 * Returns 0 and fills *out (release it with explain_reply_free), or -1 with
 * *why set to a new string saying what is missing, e.g. "no reply code
 * found" (caller frees) and *out left empty.
 */
int explain_parse(
    const char *input, size_t len, struct explain_reply *out, char **why);
/* Frees what out owns and empties it; NULL does nothing. */
void explain_reply_free(struct explain_reply *out);

/* What a form is, for people: "a Postfix log line or bounce"; never NULL. */
const char *explain_form_name(const char *form);

#endif
