#ifndef SMTPSCOPE_KB_H
#define SMTPSCOPE_KB_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The knowledge base's fixed tables, each defined once and used by the rules
 * parser, the diagnosis engine, --explain and the tests that keep the manual
 * honest: causes (CAUSES in doc/smtpscope.1), server software recognised from a
 * greeting, and the placeholders rule texts may use.
 */

/* ---- causes: why a server refused, one id per diagnosis ---- */

struct kb_cause {
	const char *id;	   /* "conn-limit"; fixed, never renamed */
	const char *title; /* a short line: "too many connections at once" */
};

extern const struct kb_cause kb_causes[];
extern const size_t kb_ncauses;
/* The index of a cause id in kb_causes, or -1. */
int kb_cause_index(const char *id);

/* ---- server software, recognised from a greeting ---- */

struct kb_server {
	const char *id;	     /* rules' server: and vendor: values */
	const char *name;    /* "Microsoft 365 (Exchange Online)" */
	const char *pattern; /* ERE on the greeting, case-insensitive */
	const char *family;  /* the id of the product it is part of, or NULL */
};

extern const struct kb_server kb_servers[];
extern const size_t kb_nservers;
/* The index of a server id (case-insensitive), or -1. */
int kb_server_index(const char *id);
/* Whether software a greeting named (id) is the vendor's: the same, or
   another part of the same product (Postfix and postscreen, Exchange and
   Microsoft 365). */
bool kb_server_fits(const char *vendor, const char *id);

/* ---- placeholders of rule texts ---- */

enum kb_ph {
	KB_PH_CODE,
	KB_PH_ENHANCED,
	KB_PH_ANSWERS,
	KB_PH_PHASE,
	KB_PH_RCPT_SEEN,
	KB_PH_RCPT_ACCEPTED,
	KB_PH_RCPT_REJECTED,
	KB_PH_NO_RCPT_ACCEPTED,
	KB_PH_ORDINAL_RCPT,
	KB_PH_MESSAGES,
	KB_PH_ORDINAL_MESSAGE,
	KB_PH_MAIL_SIZE,
	KB_PH_EHLO_SIZE,
	KB_PH_DATA_BYTES,
	KB_PH_IDLE,
	KB_PH_SESSION_TIME,
	KB_PH_SERVER_SOFTWARE,
	KB_PH_HELO,
	KB_PH_BURST,
	KB_PH_TLS,
	KB_PH_RCPT_LIMIT_LOW,
	KB_PH_IDLE_TIMEOUT,
	KB_PH_OPEN_CONNS,
	KB_PH_OPEN_CONNS_LOW,
	KB_PH_COUNT
};

struct kb_placeholder {
	enum kb_ph ph;
	const char *name;    /* as written between braces */
	const char *unknown; /* what the text shows when it is not known */
	const char *doc;     /* how it is filled, for the manual */
};

/* Indexed by enum kb_ph. */
extern const struct kb_placeholder kb_placeholders[KB_PH_COUNT];
/* The placeholder named by name[0..len), or -1. */
int kb_placeholder_find(const char *name, size_t len);

#endif
