/*
 * rules: the parser of diagnosis rule files (data/rules.conf, --rules FILE).
 *
 * A file is a list of records separated by blank lines.  Each record is
 * "key: value" lines; a line that starts with a space or a tab continues the
 * previous value; lines whose first non-blank character is '#' are comments.
 * The full format is documented at the top of data/rules.conf.
 *
 * Invariants: every rule in a returned list has an id, at least one code and
 * a title; its regular expressions are compiled; its texts only use known
 * placeholders and balanced [[ ]] segments.  Any violation is reported as
 * "FILE:LINE: why" and nothing is returned, so a site never runs with half a
 * rules file.  Input is bounded (RULES_*) and never trusted to be well formed.
 */
#include "config.h"

#include "kb.h"
#include "rules.h"
#include "rxbound.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "xmalloc.h"

static const struct {
	const char *name;
	unsigned bit;
} rules_verbs[] = {
    {"NONE", RULES_ANS_NONE},
    {"CONNECT", RULES_ANS_CONNECT},
    {"GREETING", RULES_ANS_CONNECT},
    {"EHLO", RULES_ANS_EHLO},
    {"HELO", RULES_ANS_HELO},
    {"LHLO", RULES_ANS_EHLO},
    {"MAIL", RULES_ANS_MAIL},
    {"RCPT", RULES_ANS_RCPT},
    {"DATA", RULES_ANS_DATA},
    {"DATA-END", RULES_ANS_DATA_END},
    {"END-OF-DATA", RULES_ANS_DATA_END},
    {"BDAT", RULES_ANS_BDAT},
    {"AUTH", RULES_ANS_AUTH},
    {"STARTTLS", RULES_ANS_STARTTLS},
    {"QUIT", RULES_ANS_QUIT},
    {"RSET", RULES_ANS_RSET},
    {"OTHER", RULES_ANS_OTHER},
    {"NOOP", RULES_ANS_OTHER},
    {"VRFY", RULES_ANS_OTHER},
    {"EXPN", RULES_ANS_OTHER},
    {"HELP", RULES_ANS_OTHER},
    {"ETRN", RULES_ANS_OTHER},
};

static const struct {
	const char *key;
	enum rules_num_field field;
	bool duration; /* value in s/m/h, kept in ms */
} rules_num_keys[] = {
    {"rcpt_seen", RULES_F_RCPT_SEEN, false},
    {"rcpt_accepted", RULES_F_RCPT_ACCEPTED, false},
    {"rcpt_rejected", RULES_F_RCPT_REJECTED, false},
    {"messages", RULES_F_MESSAGES, false},
    {"mail_size", RULES_F_MAIL_SIZE, false},
    {"ehlo_size", RULES_F_EHLO_SIZE, false},
    {"data_bytes", RULES_F_DATA_BYTES, false},
    {"idle", RULES_F_IDLE_MS, true},
    {"session_time", RULES_F_SESSION_MS, true},
};

static const struct {
	const char *key;
	enum rules_bool_field field;
} rules_bool_keys[] = {
    {"tls", RULES_B_TLS},
    {"in_transaction", RULES_B_IN_TRANSACTION},
    {"unsolicited", RULES_B_UNSOLICITED},
    {"pipelining", RULES_B_PIPELINING},
};

/* The text keys and where they go. */
enum rules_text_key {
	RULES_T_TITLE,
	RULES_T_MEANING,
	RULES_T_WHEN,
	RULES_T_WHEN_GENERAL,
	RULES_T_FIX_SENDER,
	RULES_T_FIX_OPERATOR,
};
static const char *const rules_text_keys[] = {
    "title",
    "meaning",
    "when",
    "when_general",
    "fix_sender",
    "fix_operator",
    NULL,
};

/* Parser state: the file name and the line being read, for messages. */
struct rules_parser {
	const char *fname;
	unsigned line;
	char **cause;
	struct rules *out;
	struct rule cur;
	bool in_record;
	char keyseen[64][24];
	size_t nkeyseen;
};

unsigned
rules_answers_bit(const char *verb)
{
	size_t i;

	if (verb == NULL || *verb == '\0')
		return RULES_ANS_NONE;
	for (i = 0; i < sizeof rules_verbs / sizeof rules_verbs[0]; i++) {
		if (strcasecmp(verb, rules_verbs[i].name) == 0)
			return rules_verbs[i].bit;
	}
	return RULES_ANS_OTHER;
}

bool
rules_answers_valid(const char *verb)
{
	size_t i;

	if (verb == NULL)
		return false;
	for (i = 0; i < sizeof rules_verbs / sizeof rules_verbs[0]; i++) {
		if (strcasecmp(verb, rules_verbs[i].name) == 0)
			return true;
	}
	return false;
}

static int __attribute__((format(printf, 2, 3)))
rules_error(struct rules_parser *p, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	if (p->cause != NULL && *p->cause == NULL)
		xasprintf(p->cause, "%s:%u: %s", p->fname, p->line, why);
	return -1;
}

static void
rule_clear(struct rule *r)
{
	size_t i;

	free(r->id);
	if (r->has_text)
		regfree(&r->text);
	if (r->text_words != NULL) {
		regfree(r->text_words);
		free(r->text_words);
	}
	free(r->text_src);
	if (r->has_greeting)
		regfree(&r->greeting);
	for (i = 0; i < r->nservers; i++)
		free(r->servers[i]);
	free(r->vendor);
	free(r->cause);
	free(r->title);
	free(r->meaning);
	free(r->when);
	free(r->when_general);
	free(r->fix_sender);
	free(r->fix_operator);
	memset(r, 0, sizeof *r);
}

void
rules_free(struct rules *rs)
{
	size_t i;

	if (rs == NULL)
		return;
	for (i = 0; i < rs->n; i++)
		rule_clear(&rs->v[i]);
	free(rs->v);
	free(rs);
}

size_t
rules_count(const struct rules *rs)
{
	return rs == NULL ? 0 : rs->n;
}

const struct rule *
rules_get(const struct rules *rs, size_t i)
{
	if (rs == NULL || i >= rs->n)
		return NULL;
	return &rs->v[i];
}

bool
rules_needs_context(const struct rule *r)
{
	size_t i;

	if (r->nnums != 0 || r->burst_sessions != 0 || r->nservers != 0 ||
	    r->has_greeting)
		return true;
	for (i = 0; i < RULES_B_COUNT; i++) {
		if (r->bools[i] != RULES_ANY)
			return true;
	}
	return false;
}

/* Split a list value on commas and blanks into at most max items. */
static size_t
rules_split(char *value, char **items, size_t max, bool *overflow)
{
	size_t n = 0;
	char *tok, *save = NULL;

	*overflow = false;
	for (tok = strtok_r(value, ", \t", &save); tok != NULL;
	     tok = strtok_r(NULL, ", \t", &save)) {
		if (n == max) {
			*overflow = true;
			break;
		}
		items[n++] = tok;
	}
	return n;
}

static int
rules_parse_code(struct rules_parser *p, struct rule *r, char *value)
{
	char *items[RULES_LIST_MAX];
	size_t n, i, j;
	bool over;

	n = rules_split(value, items, RULES_LIST_MAX, &over);
	if (over)
		return rules_error(
		    p, "too many codes (max %d)", RULES_LIST_MAX);
	for (i = 0; i < n; i++) {
		const char *s = items[i];

		if (strlen(s) != 3 || s[0] < '2' || s[0] > '5')
			return rules_error(p,
			    "bad code '%s' (want e.g. 452, "
			    "45x or 4xx)",
			    s);
		for (j = 0; j < 3; j++) {
			if (s[j] == 'x' || s[j] == 'X')
				r->codes[i].d[j] = 'x';
			else if (isdigit((unsigned char)s[j]))
				r->codes[i].d[j] = s[j];
			else
				return rules_error(p,
				    "bad code '%s' (want "
				    "e.g. 452, 45x or 4xx)",
				    s);
		}
	}
	if (n == 0)
		return rules_error(p, "code: needs a value");
	r->ncodes = n;
	return 0;
}

/* A non-negative decimal of at most digits characters, in [0, max]. */
static int
rules_number(const char *s, size_t len, long max, long *out)
{
	long v = 0;
	size_t i;

	if (len == 0 || len > 9)
		return -1;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/* One component of an enhanced pattern: "*", "x", "N" or "N-M". */
static int
rules_enh_part(const char *s, size_t len, int *lo, int *hi)
{
	const char *dash;
	long a, b;

	if (len == 1 && (s[0] == '*' || s[0] == 'x' || s[0] == 'X')) {
		*lo = *hi = -1;
		return 0;
	}
	dash = memchr(s, '-', len);
	if (dash == NULL) {
		if (rules_number(s, len, 999, &a) != 0)
			return -1;
		*lo = *hi = (int)a;
		return 0;
	}
	if (rules_number(s, (size_t)(dash - s), 999, &a) != 0 ||
	    rules_number(dash + 1, len - (size_t)(dash - s) - 1, 999, &b) !=
		0 ||
	    b < a)
		return -1;
	*lo = (int)a;
	*hi = (int)b;
	return 0;
}

static int
rules_parse_enhanced(struct rules_parser *p, struct rule *r, char *value)
{
	char *items[RULES_LIST_MAX];
	size_t n, i, k;
	bool over;

	n = rules_split(value, items, RULES_LIST_MAX, &over);
	if (over)
		return rules_error(
		    p, "too many enhanced codes (max %d)", RULES_LIST_MAX);
	if (n == 0)
		return rules_error(p, "enhanced: needs a value");
	r->has_enh = true;
	for (i = 0; i < n; i++) {
		const char *s = items[i], *start = s, *dot;
		struct rules_enh *e = &r->enh[r->nenh];

		if (strcasecmp(s, "none") == 0) {
			r->enh_none = true;
			continue;
		}
		for (k = 0; k < 3; k++) {
			dot = strchr(start, '.');
			if ((k < 2) != (dot != NULL))
				return rules_error(p,
				    "bad enhanced code '%s' "
				    "(want e.g. 4.5.3, 4.7.*, *.5.3, "
				    "4.7.500-699 or none)",
				    s);
			if (dot == NULL)
				dot = start + strlen(start);
			if (rules_enh_part(start, (size_t)(dot - start),
				&e->lo[k], &e->hi[k]) != 0)
				return rules_error(p,
				    "bad enhanced code '%s' "
				    "(want e.g. 4.5.3, 4.7.*, *.5.3, "
				    "4.7.500-699 or none)",
				    s);
			start = dot + 1;
		}
		if (e->lo[0] != -1 &&
		    (e->lo[0] != e->hi[0] ||
			(e->lo[0] != 2 && e->lo[0] != 4 && e->lo[0] != 5)))
			return rules_error(p,
			    "bad enhanced code '%s' (the "
			    "class is 2, 4, 5 or *)",
			    s);
		r->nenh++;
	}
	return 0;
}

static int
rules_parse_answers(struct rules_parser *p, struct rule *r, char *value)
{
	char *items[32];
	size_t n, i, j;
	bool over, found;

	n = rules_split(value, items, 32, &over);
	if (over || n == 0)
		return rules_error(p, "answers: needs 1 to 32 verbs");
	for (i = 0; i < n; i++) {
		found = false;
		for (j = 0; j < sizeof rules_verbs / sizeof rules_verbs[0];
		     j++) {
			if (strcasecmp(items[i], rules_verbs[j].name) == 0) {
				r->answers |= rules_verbs[j].bit;
				found = true;
			}
		}
		if (!found)
			return rules_error(p,
			    "unknown command '%s' in "
			    "answers: (want CONNECT, EHLO, HELO, MAIL, RCPT, "
			    "DATA, DATA-END, BDAT, AUTH, STARTTLS, QUIT, RSET, "
			    "OTHER or none)",
			    items[i]);
	}
	return 0;
}

static int
rules_parse_regex(
    struct rules_parser *p, regex_t *re, const char *key, const char *value)
{
	char buf[256];
	const char *big;
	int rc;

	/* Not compiled at all when regcomp could take gigabytes. */
	if ((big = rxbound_check(value)) != NULL)
		return rules_error(
		    p, "bad regular expression in %s: %s", key, big);
	rc = rxbound_regcomp(re, value, REG_EXTENDED | REG_ICASE | REG_NOSUB);
	if (rc != 0) {
		regerror(rc, re, buf, sizeof buf);
		regfree(re);
		return rules_error(
		    p, "bad regular expression in %s: %s", key, buf);
	}
	return 0;
}

static int
rules_parse_servers(struct rules_parser *p, struct rule *r, char *value)
{
	char *items[RULES_LIST_MAX];
	size_t n, i, j;
	bool over;

	n = rules_split(value, items, RULES_LIST_MAX, &over);
	if (over || n == 0)
		return rules_error(
		    p, "server: needs 1 to %d names", RULES_LIST_MAX);
	for (i = 0; i < n; i++) {
		if (kb_server_index(items[i]) < 0)
			return rules_error(p,
			    "unknown server '%.40s' (see the server: key in "
			    "data/rules.conf for the names)",
			    items[i]);
		r->servers[r->nservers++] = xstrdup(items[i]);
		for (j = 0; r->servers[r->nservers - 1][j] != '\0'; j++)
			r->servers[r->nservers - 1][j] = (char)tolower(
			    (unsigned char)r->servers[r->nservers - 1][j]);
	}
	return 0;
}

/* One software id: whose wording the rule describes. */
static int
rules_parse_vendor(struct rules_parser *p, struct rule *r, const char *value)
{
	int j = kb_server_index(value);

	if (j >= 0) {
		r->vendor = xstrdup(kb_servers[j].id);
		return 0;
	}
	return rules_error(
	    p, "unknown vendor '%.40s' (one of the server: names)", value);
}

/* "OP N" for counts, "OP N[s|m|h]" for durations (kept in ms). */
static int
rules_parse_num(struct rules_parser *p, struct rule *r, const char *key,
    enum rules_num_field field, bool duration, const char *value)
{
	struct rules_num *c = &r->nums[r->nnums];
	const char *s = value;
	unsigned long long v;
	char *end;
	uint64_t mult = 1;

	if (strncmp(s, ">=", 2) == 0) {
		c->op = RULES_OP_GE;
		s += 2;
	} else if (strncmp(s, "<=", 2) == 0) {
		c->op = RULES_OP_LE;
		s += 2;
	} else if (strncmp(s, "==", 2) == 0) {
		c->op = RULES_OP_EQ;
		s += 2;
	} else if (*s == '>') {
		c->op = RULES_OP_GT;
		s++;
	} else if (*s == '<') {
		c->op = RULES_OP_LT;
		s++;
	} else if (*s == '=') {
		c->op = RULES_OP_EQ;
		s++;
	} else
		c->op = RULES_OP_EQ;
	while (*s == ' ' || *s == '\t')
		s++;
	if (!isdigit((unsigned char)*s))
		return rules_error(p, "bad %s: value '%s' (want e.g. '>= 3'%s)",
		    key, value, duration ? " or '>= 5m'" : "");
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || v > 1000000000000ULL)
		return rules_error(p, "%s: number out of range", key);
	if (duration) {
		mult = 1000;
		if (*end == 's')
			end++;
		else if (*end == 'm') {
			mult = 60000;
			end++;
		} else if (*end == 'h') {
			mult = 3600000;
			end++;
		}
	}
	while (*end == ' ' || *end == '\t')
		end++;
	if (*end != '\0')
		return rules_error(p, "bad %s: value '%s' (want e.g. '>= 3'%s)",
		    key, value, duration ? " or '>= 5m'" : "");
	c->field = field;
	c->value = (uint64_t)v * mult;
	r->nnums++;
	return 0;
}

/* "K in M[m|h|s]" or ">= K in M": K sessions with 421/452 in M (minutes
   by default). */
static int
rules_parse_burst(struct rules_parser *p, struct rule *r, const char *value)
{
	const char *s = value;
	unsigned long k, m;
	char *end;

	if (strncmp(s, ">=", 2) == 0)
		s += 2;
	while (*s == ' ')
		s++;
	if (!isdigit((unsigned char)*s))
		goto bad;
	k = strtoul(s, &end, 10);
	if (k < 1 || k > 64 || strncmp(end, " in ", 4) != 0)
		goto bad;
	s = end + 4;
	while (*s == ' ')
		s++;
	if (!isdigit((unsigned char)*s))
		goto bad;
	m = strtoul(s, &end, 10);
	if (m < 1 || m > 1440)
		goto bad;
	if (*end == 's')
		end++;
	else if (*end == 'h') {
		m *= 3600;
		end++;
	} else {
		if (*end == 'm')
			end++;
		m *= 60;
	}
	if (*end != '\0' || m > 86400)
		goto bad;
	r->burst_sessions = (unsigned)k;
	r->burst_window_s = (unsigned)m;
	return 0;
bad:
	return rules_error(p,
	    "bad burst: value '%s' (want e.g. '3 in 10m': "
	    "3 sessions (1 to 64) got 421/452 within 10 minutes)",
	    value);
}

static int
rules_parse_bool(struct rules_parser *p, struct rule *r, const char *key,
    enum rules_bool_field field, const char *value)
{
	if (strcasecmp(value, "yes") == 0 || strcasecmp(value, "true") == 0)
		r->bools[field] = RULES_YES;
	else if (strcasecmp(value, "no") == 0 ||
		 strcasecmp(value, "false") == 0)
		r->bools[field] = RULES_NO;
	else
		return rules_error(
		    p, "bad %s: value '%s' (want yes or no)", key, value);
	return 0;
}

bool
rules_text_words(struct rule *r, const char *text, size_t *so, size_t *eo)
{
	regmatch_t m[1];

	if (!r->has_text || r->text_src == NULL)
		return false;
	/* Matching is faster without subexpressions, so the expression that
	   reports where it matched is compiled apart, once. */
	if (r->text_words == NULL) {
		r->text_words = xmalloc(sizeof *r->text_words);
		if (rxbound_regcomp(r->text_words, r->text_src,
			REG_EXTENDED | REG_ICASE) != 0) {
			free(r->text_words);
			r->text_words = NULL;
			return false;
		}
	}
	if (regexec(r->text_words, text, 1, m, 0) != 0 || m[0].rm_so < 0)
		return false;
	*so = (size_t)m[0].rm_so;
	*eo = (size_t)m[0].rm_eo;
	return true;
}

/* Placeholders must be known and [[ ]] balanced (not nested). */
static int
rules_check_text(struct rules_parser *p, const char *key, const char *s)
{
	bool in_seg = false;
	const char *close;
	size_t len;

	for (; *s != '\0'; s++) {
		if (s[0] == '[' && s[1] == '[') {
			if (in_seg)
				return rules_error(p, "%s: nested '[['", key);
			in_seg = true;
			s++;
		} else if (s[0] == ']' && s[1] == ']') {
			if (!in_seg)
				return rules_error(
				    p, "%s: ']]' without '[['", key);
			in_seg = false;
			s++;
		} else if (*s == '{') {
			close = strchr(s, '}');
			if (close == NULL)
				return rules_error(
				    p, "%s: '{' without '}'", key);
			len = (size_t)(close - s - 1);
			if (kb_placeholder_find(s + 1, len) < 0)
				return rules_error(p,
				    "%s: unknown placeholder "
				    "{%.*s}",
				    key, (int)(len > 40 ? 40 : len), s + 1);
			s = close;
		}
	}
	if (in_seg)
		return rules_error(p, "%s: '[[' without ']]'", key);
	return 0;
}

static bool
rules_valid_id(const char *s)
{
	if (*s == '\0' || strlen(s) > 64)
		return false;
	for (; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' &&
		    *s != '.')
			return false;
	}
	return true;
}

/* Apply one "key: value" of the current record. */
static int
rules_apply(struct rules_parser *p, const char *key, char *value)
{
	struct rule *r = &p->cur;
	char **textp[] = {&r->title, &r->meaning, &r->when, &r->when_general,
	    &r->fix_sender, &r->fix_operator};
	size_t i;

	/* Every key once per record. */
	for (i = 0; i < p->nkeyseen; i++) {
		if (strcmp(p->keyseen[i], key) == 0)
			return rules_error(
			    p, "duplicate key '%s' in rule", key);
	}
	if (p->nkeyseen < sizeof p->keyseen / sizeof p->keyseen[0] &&
	    strlen(key) < sizeof p->keyseen[0])
		strcpy(p->keyseen[p->nkeyseen++], key);

	if (*value == '\0')
		return rules_error(p, "%s: has no value", key);
	if (strcmp(key, "rule") == 0) {
		if (!rules_valid_id(value))
			return rules_error(p,
			    "bad rule id '%.64s' (letters, "
			    "digits, '-', '_', '.'; at most 64)",
			    value);
		for (i = 0; i < p->out->n; i++) {
			if (strcmp(p->out->v[i].id, value) == 0)
				return rules_error(p,
				    "duplicate rule id '%s' "
				    "(first at line %u)",
				    value, p->out->v[i].line);
		}
		r->id = xstrdup(value);
		r->cause_text = strncmp(value, "cause-", 6) == 0;
		return 0;
	}
	if (strcmp(key, "code") == 0)
		return rules_parse_code(p, r, value);
	if (strcmp(key, "enhanced") == 0)
		return rules_parse_enhanced(p, r, value);
	if (strcmp(key, "answers") == 0)
		return rules_parse_answers(p, r, value);
	if (strcmp(key, "text") == 0) {
		if (rules_parse_regex(p, &r->text, key, value) != 0)
			return -1;
		r->text_src = xstrdup(value);
		r->has_text = true;
		return 0;
	}
	if (strcmp(key, "greeting") == 0) {
		if (rules_parse_regex(p, &r->greeting, key, value) != 0)
			return -1;
		r->has_greeting = true;
		return 0;
	}
	if (strcmp(key, "server") == 0)
		return rules_parse_servers(p, r, value);
	if (strcmp(key, "burst") == 0)
		return rules_parse_burst(p, r, value);
	if (strcmp(key, "vendor") == 0)
		return rules_parse_vendor(p, r, value);
	if (strcmp(key, "cause") == 0) {
		if (kb_cause_index(value) < 0)
			return rules_error(p,
			    "unknown cause '%.40s' (see CAUSES in "
			    "smtpscope(1))",
			    value);
		r->cause = xstrdup(value);
		return 0;
	}
	for (i = 0; i < sizeof rules_num_keys / sizeof rules_num_keys[0]; i++) {
		if (strcmp(key, rules_num_keys[i].key) == 0)
			return rules_parse_num(p, r, key,
			    rules_num_keys[i].field, rules_num_keys[i].duration,
			    value);
	}
	for (i = 0; i < sizeof rules_bool_keys / sizeof rules_bool_keys[0];
	     i++) {
		if (strcmp(key, rules_bool_keys[i].key) == 0)
			return rules_parse_bool(
			    p, r, key, rules_bool_keys[i].field, value);
	}
	for (i = 0; rules_text_keys[i] != NULL; i++) {
		if (strcmp(key, rules_text_keys[i]) == 0) {
			if (rules_check_text(p, key, value) != 0)
				return -1;
			*textp[i] = xstrdup(value);
			return 0;
		}
	}
	return rules_error(p, "unknown key '%.40s'", key);
}

/* The record ended (blank line or end of file): check and keep it. */
static int
rules_end_record(struct rules_parser *p, unsigned start_line)
{
	struct rule *r = &p->cur;
	unsigned save = p->line;
	int rc = 0;

	if (!p->in_record)
		return 0;
	p->line = start_line;
	if (r->id == NULL)
		rc = rules_error(p, "rule has no 'rule:' id");
	else if (r->ncodes == 0)
		rc = rules_error(p, "rule '%s' has no 'code:'", r->id);
	else if (r->title == NULL)
		rc = rules_error(p, "rule '%s' has no 'title:'", r->id);
	else if (p->out->n >= RULES_MAX)
		rc = rules_error(p, "too many rules (max %d)", RULES_MAX);
	p->line = save;
	if (rc != 0)
		return rc;
	r->line = start_line;
	if (r->meaning == NULL)
		r->meaning = xstrdup("");
	if (r->when == NULL)
		r->when = xstrdup("");
	if (r->fix_sender == NULL)
		r->fix_sender = xstrdup("");
	if (r->fix_operator == NULL)
		r->fix_operator = xstrdup("");
	p->out->v = xreallocarray(p->out->v, p->out->n + 1, sizeof *p->out->v);
	p->out->v[p->out->n++] = *r;
	memset(r, 0, sizeof *r);
	p->in_record = false;
	p->nkeyseen = 0;
	return 0;
}

/* Apply the pending key/value (if any). */
static int
rules_flush(struct rules_parser *p, char *key, char *value, size_t *vlen,
    unsigned key_line)
{
	unsigned save = p->line;
	int rc;

	if (*key == '\0')
		return 0;
	/* Trim trailing blanks. */
	while (
	    *vlen > 0 && (value[*vlen - 1] == ' ' || value[*vlen - 1] == '\t'))
		value[--*vlen] = '\0';
	p->line = key_line;
	rc = rules_apply(p, key, value);
	p->line = save;
	*key = '\0';
	*vlen = 0;
	value[0] = '\0';
	return rc;
}

struct rules *
rules_parse(const char *text, size_t len, const char *fname, char **cause)
{
	struct rules_parser p;
	char key[32], *value;
	size_t off = 0, vlen = 0, llen, i;
	unsigned key_line = 0, rec_line = 0;
	int rc = 0;

	memset(&p, 0, sizeof p);
	p.fname = fname != NULL ? fname : "rules";
	p.cause = cause;
	if (cause != NULL)
		*cause = NULL;
	p.out = xcalloc(1, sizeof *p.out);
	value = xmalloc(RULES_VALUE_MAX + 1);
	value[0] = '\0';
	key[0] = '\0';

	while (off < len && rc == 0) {
		const char *line = text + off, *nl;
		char buf[RULES_LINE_MAX + 1];
		const char *s, *colon;

		p.line++;
		nl = memchr(line, '\n', len - off);
		llen = nl != NULL ? (size_t)(nl - line) : len - off;
		off += llen + (nl != NULL ? 1 : 0);
		if (llen > 0 && line[llen - 1] == '\r')
			llen--;
		if (llen > RULES_LINE_MAX) {
			rc = rules_error(
			    &p, "line too long (max %d bytes)", RULES_LINE_MAX);
			break;
		}
		if (memchr(line, '\0', llen) != NULL) {
			rc = rules_error(&p, "NUL byte in line");
			break;
		}
		memcpy(buf, line, llen);
		buf[llen] = '\0';
		for (i = 0; i < llen; i++) {
			if ((unsigned char)buf[i] < 0x20 && buf[i] != '\t') {
				rc = rules_error(&p,
				    "control character "
				    "0x%02x in line",
				    (unsigned char)buf[i]);
				break;
			}
		}
		if (rc != 0)
			break;

		for (s = buf; *s == ' ' || *s == '\t'; s++)
			;
		if (*s == '#')
			continue; /* comment: neither ends nor continues */
		if (*s == '\0') {
			rc = rules_flush(&p, key, value, &vlen, key_line);
			if (rc == 0)
				rc = rules_end_record(&p, rec_line);
			continue;
		}
		if (s != buf) {
			/* Continuation of the previous value. */
			size_t add = strlen(s);

			if (*key == '\0') {
				rc = rules_error(&p,
				    "indented line continues "
				    "nothing (no key above it)");
				break;
			}
			if (vlen + 1 + add > RULES_VALUE_MAX) {
				rc = rules_error(&p,
				    "value of '%s' too long "
				    "(max %d bytes)",
				    key, RULES_VALUE_MAX);
				break;
			}
			if (vlen > 0)
				value[vlen++] = ' ';
			memcpy(value + vlen, s, add + 1);
			vlen += add;
			continue;
		}
		/* A new "key: value" line. */
		rc = rules_flush(&p, key, value, &vlen, key_line);
		if (rc != 0)
			break;
		colon = strchr(s, ':');
		if (colon == NULL || colon == s ||
		    (size_t)(colon - s) >= sizeof key) {
			rc = rules_error(&p, "expected 'key: value'");
			break;
		}
		for (i = 0; s + i < colon; i++) {
			if (!islower((unsigned char)s[i]) && s[i] != '_') {
				rc = rules_error(&p,
				    "bad key '%.*s' (lower "
				    "case letters and '_')",
				    (int)(colon - s), s);
				break;
			}
		}
		if (rc != 0)
			break;
		memcpy(key, s, (size_t)(colon - s));
		key[colon - s] = '\0';
		for (s = colon + 1; *s == ' ' || *s == '\t'; s++)
			;
		vlen = strlen(s);
		memcpy(value, s, vlen + 1);
		key_line = p.line;
		if (!p.in_record) {
			p.in_record = true;
			rec_line = p.line;
		}
	}
	if (rc == 0)
		rc = rules_flush(&p, key, value, &vlen, key_line);
	if (rc == 0)
		rc = rules_end_record(&p, rec_line);
	free(value);
	if (rc != 0) {
		rule_clear(&p.cur);
		rules_free(p.out);
		return NULL;
	}
	return p.out;
}

struct rules *
rules_load(const char *path, char **cause)
{
	size_t len;
	char *buf = xreadfile(path, RULES_FILE_MAX, &len, cause);
	struct rules *rs;

	if (buf == NULL)
		return NULL;
	rs = rules_parse(buf, len, path, cause);
	free(buf);
	return rs;
}

struct rules *
rules_builtin(void)
{
	char *cause = NULL;
	struct rules *rs;

	rs = rules_parse(
	    rules_builtin_text, rules_builtin_text_len, "rules.conf", &cause);
	if (rs == NULL)
		fatalx("built-in rules: %s", cause);
	return rs;
}
