#ifndef SMTPSCOPE_DIAG_H
#define SMTPSCOPE_DIAG_H

#include <stdbool.h>
#include <sys/time.h>

#include "event.h"
#include "rules.h"

/*
 * Diagnosis: the knowledge base (basic and enhanced code meanings) and the
 * rules, applied to a reply with the session's context (event_reply_ctx) and
 * the recent history of the same server (bursts of 421/452).
 */

struct diag;

/* With the built-in rules; never fails. */
struct diag *diag_new(void);
void diag_free(struct diag *);
/* Forget the history of servers and sessions (and cached lookups), so that
   the next capture is diagnosed as by a new diag, without compiling the
   rules again (the fuzz targets reuse one).  Never fails. */
void diag_forget(struct diag *);
/* Free the --rules and --lexicon files added and forget as diag_forget
   does: the diag is as diag_new made it, without compiling the built-in
   rules again (fuzz_rules adds and drops one site per input). */
void diag_drop_site(struct diag *);
/* Add rules that take precedence over the built-in ones (takes them). */
void diag_add_rules_take(struct diag *, struct rules *);
/* Add a lexicon tried before the built-in one (takes it). */
struct lexicon;
void diag_add_lexicon_take(struct diag *, struct lexicon *);

/*
 * Decide reply->highlight (421 and 452) and attach reply->diag when a rule
 * matches (always for highlighted replies).  reply->server names the server
 * for the cross-session history.
 */
void diag_reply(struct diag *, struct event *reply);

/* Session open and close events (other types are ignored): the history
   counts the connections a client holds open to a server. */
void diag_session(struct diag *, const struct event *);

/* An explanation without a capture (--explain).  answers may be NULL.
   Caller frees with event_diag_free; never NULL. */
struct event_diag *diag_explain(struct diag *, int code, const char *enhanced,
    const char *text, const char *answers);

/* Meaning of a basic code / an enhanced code, or NULL. */
/* A duration in milliseconds as the explanations say it, into buf (len >
   0): "1.5 s" below 10 s (one decimal, rounded as printf's "%.1f"), then
   "42 s", "5 min 2 s", "1 h 3 min". */
void diag_duration(char *buf, size_t len, double ms);
const char *diag_code_meaning(int code);
const char *diag_enhanced_meaning(const struct diag *, const char *enhanced);

#endif
