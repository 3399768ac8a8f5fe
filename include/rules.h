#ifndef SMTPSCOPE_RULES_H
#define SMTPSCOPE_RULES_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The diagnosis rules file: parsing into a rule list.  The format is
 * documented at the top of data/rules.conf.  The built-in rules are that
 * file compiled in (src/rules_builtin.c, generated).
 *
 * A rule is a set of match conditions (all must hold) and the texts of the
 * diagnosis.  Matching is done by diag.c, which knows the session context;
 * this module only parses and validates.
 */

/* Caps: a rules file is trusted more than wire data, but still bounded. */
#define RULES_MAX 2000		  /* rules per file */
#define RULES_LINE_MAX 4096	  /* bytes per line */
#define RULES_VALUE_MAX 8192	  /* bytes per value, continuations included */
#define RULES_FILE_MAX (4u << 20) /* bytes per file (rules_load) */
#define RULES_LIST_MAX 16	  /* items in a code:/enhanced:/server: list */

/* The commands a reply can answer (answers: key); bit per verb. */
#define RULES_ANS_NONE 0x0001u /* null: no command seen (midstream, idle) */
#define RULES_ANS_CONNECT 0x0002u
#define RULES_ANS_EHLO 0x0004u
#define RULES_ANS_HELO 0x0008u
#define RULES_ANS_MAIL 0x0010u
#define RULES_ANS_RCPT 0x0020u
#define RULES_ANS_DATA 0x0040u
#define RULES_ANS_DATA_END 0x0080u
#define RULES_ANS_BDAT 0x0100u
#define RULES_ANS_AUTH 0x0200u
#define RULES_ANS_STARTTLS 0x0400u
#define RULES_ANS_QUIT 0x0800u
#define RULES_ANS_RSET 0x1000u
#define RULES_ANS_OTHER 0x2000u /* NOOP, VRFY, anything else */

/* Numeric context predicates (field OP value). */
enum rules_num_field {
	RULES_F_RCPT_SEEN,
	RULES_F_RCPT_ACCEPTED,
	RULES_F_RCPT_REJECTED,
	RULES_F_MESSAGES,
	RULES_F_MAIL_SIZE,
	RULES_F_EHLO_SIZE,
	RULES_F_DATA_BYTES,
	RULES_F_IDLE_MS,    /* written in seconds/minutes, kept in ms */
	RULES_F_SESSION_MS, /* idem */
	RULES_F_COUNT
};

enum rules_op {
	RULES_OP_GE,
	RULES_OP_GT,
	RULES_OP_LE,
	RULES_OP_LT,
	RULES_OP_EQ
};

/* Boolean context predicates: unset, must be true, must be false. */
enum rules_tri { RULES_ANY = 0, RULES_YES, RULES_NO };
enum rules_bool_field {
	RULES_B_TLS,
	RULES_B_IN_TRANSACTION,
	RULES_B_UNSOLICITED,
	RULES_B_PIPELINING,
	RULES_B_COUNT
};

/* "4xx" is {'4','x','x'}: 'x' matches any digit. */
struct rules_code {
	char d[3];
};

/* One enhanced-code pattern: per component a range; lo = -1 means any. */
struct rules_enh {
	int lo[3];
	int hi[3];
};

struct rules_num {
	enum rules_num_field field;
	enum rules_op op;
	uint64_t value;
};

struct rule {
	char *id;
	unsigned line; /* where the record starts, for messages */

	struct rules_code codes[RULES_LIST_MAX];
	size_t ncodes;
	struct rules_enh enh[RULES_LIST_MAX];
	size_t nenh;
	bool enh_none;	  /* "none" listed: matches a reply without one */
	bool has_enh;	  /* an enhanced: key was given */
	unsigned answers; /* RULES_ANS_* mask; 0 = any */

	bool has_text;
	regex_t text;	     /* on the reply text, lines joined by a space */
	char *text_src;	     /* its source */
	regex_t *text_words; /* the same with subexpressions, compiled when
				first needed by rules_text_words */
	bool has_greeting;
	regex_t greeting;	       /* on the session's greeting text */
	char *servers[RULES_LIST_MAX]; /* recognised software ids */
	size_t nservers;
	/* Whose wording the rule describes (a software id) or NULL: the rule
	   is skipped when the greeting names other software, and when the
	   greeting names none the vendor is given as likely, not as fact. */
	char *vendor;
	/* The cause the rule diagnoses (a kb_causes id) or NULL: then the
	   engine infers it (enhanced code, the text's words, the session). */
	char *cause;
	/* The id starts with "cause-": the texts of a cause, never matched
	   on their own. */
	bool cause_text;

	struct rules_num nums[RULES_F_COUNT];
	size_t nnums;
	enum rules_tri bools[RULES_B_COUNT];
	unsigned burst_sessions; /* 0 = no burst condition */
	unsigned burst_window_s;

	/* Texts; may hold {placeholders} and [[optional segments]]. */
	char *title;
	char *meaning;
	char *when;
	char *when_general; /* `when` for --explain (no capture); may be NULL */
	char *fix_sender;
	char *fix_operator;
};

struct rules {
	struct rule *v;
	size_t n;
};

/* Parse text (len bytes, need not be NUL-terminated); fname is used in
   errors.  Returns NULL with *cause ("FILE:LINE: why", caller frees) on a
   malformed file.  An empty file gives an empty list.  Caller frees the
   result with rules_free. */
struct rules *rules_parse(
    const char *text, size_t len, const char *fname, char **cause);
/* Read and parse a file; NULL with *cause on error (unreadable, too big or
   malformed). */
struct rules *rules_load(const char *path, char **cause);
/* The compiled-in rules; never fails (a bad built-in file is a bug). */
struct rules *rules_builtin(void);
void rules_free(struct rules *);
size_t rules_count(const struct rules *);
/* The i-th rule (i < rules_count), borrowed. */
const struct rule *rules_get(const struct rules *, size_t i);
/* Whether a rule needs session context (numbers, flags, burst, server or
   greeting), so that --explain without a capture must skip it. */
bool rules_needs_context(const struct rule *);

/* Where rule r's text: matched text (r has one): false when it does not.
   Compiles the expression for this on first use (so r is not const). */
bool rules_text_words(struct rule *r, const char *text, size_t *so, size_t *eo);

/* The RULES_ANS_* bit of an answers verb ("RCPT"; NULL or "" is
   RULES_ANS_NONE; unknown verbs are RULES_ANS_OTHER).  Case-insensitive;
   "GREETING" is CONNECT and "END-OF-DATA" is DATA-END. */
unsigned rules_answers_bit(const char *verb);

/* Whether verb is one of the words answers: and --after take (the verbs
   of RULES_ANS_*, GREETING, END-OF-DATA, LHLO, NONE, and NOOP VRFY EXPN
   HELP ETRN as OTHER), case-insensitive.
   RULES_ANSWERS_WORDS lists them for messages. */
bool rules_answers_valid(const char *verb);
#define RULES_ANSWERS_WORDS                                                    \
	"CONNECT (or GREETING), EHLO, HELO, LHLO, MAIL, RCPT, DATA, DATA-END " \
	"(or END-OF-DATA), BDAT, AUTH, STARTTLS, QUIT, RSET, NOOP, VRFY, "     \
	"EXPN, HELP, ETRN, OTHER, NONE"

extern const char rules_builtin_text[];
extern const size_t rules_builtin_text_len;

#endif
