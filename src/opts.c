/*
 * opts: getopt_long over the command line (OPTIONS in doc/smtpscope.1) into
 * struct opts, with every value checked.  Errors are returned as one string,
 * "OPTION: why", which main prints and exits on; nothing here prints,
 * exits or leaks, so the parser can be unit tested and fuzzed.
 */
#include "config.h"

#include "opts.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "maillog.h"
#include "metrics_http.h"
#include "xmalloc.h"

/* Long-only options. */
enum {
	OPT_TLS_PORTS = 256,
	OPT_REPLAY,
	OPT_DEMO,
	OPT_LIMIT,
	OPT_SHOW_AUTH,
	OPT_TLS_KEY,
	OPT_RULES,
	OPT_LEXICON,
	OPT_RULES_DUMP,
	OPT_LEXICON_DUMP,
	OPT_EXPLAIN,
	OPT_AFTER,
	OPT_MEMORY,
	OPT_FLOWS,
	OPT_METRICS,
	OPT_METRICS_LINGER,
	OPT_MAILLOG,
	OPT_MAILLOG_SKEW,
};

static const struct option opts_long[] = {
    {"interface", required_argument, NULL, 'i'},
    {"list-interfaces", no_argument, NULL, 'D'},
    {"read", required_argument, NULL, 'r'},
    {"ports", required_argument, NULL, 'P'},
    {"tls-ports", required_argument, NULL, OPT_TLS_PORTS},
    {"snapshot-length", required_argument, NULL, 's'},
    {"buffer-size", required_argument, NULL, 'B'},
    {"no-promiscuous-mode", no_argument, NULL, 'p'},
    {"count", required_argument, NULL, 'c'},
    {"json", no_argument, NULL, 'j'},
    {"no-ui", no_argument, NULL, 'N'},
    {"write", required_argument, NULL, 'w'},
    {"keylog", required_argument, NULL, 'k'},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"maillog", required_argument, NULL, OPT_MAILLOG},
    {"maillog-skew", required_argument, NULL, OPT_MAILLOG_SKEW},
    {"relinquish-privileges", required_argument, NULL, 'Z'},
    {"replay", optional_argument, NULL, OPT_REPLAY},
    {"demo", no_argument, NULL, OPT_DEMO},
    {"limit", required_argument, NULL, 'l'},
    {"memory", required_argument, NULL, OPT_MEMORY},
    {"flows", required_argument, NULL, OPT_FLOWS},
    {"show-auth", no_argument, NULL, OPT_SHOW_AUTH},
    {"rules", required_argument, NULL, OPT_RULES},
    {"lexicon", required_argument, NULL, OPT_LEXICON},
    {"rules-dump", no_argument, NULL, OPT_RULES_DUMP},
    {"lexicon-dump", no_argument, NULL, OPT_LEXICON_DUMP},
    {"explain", no_argument, NULL, OPT_EXPLAIN},
    {"after", required_argument, NULL, OPT_AFTER},
    {"metrics", required_argument, NULL, OPT_METRICS},
    {"metrics-linger", required_argument, NULL, OPT_METRICS_LINGER},
    {"version", no_argument, NULL, 'V'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Set o->err to "what: why" and return it. */
static const char *
opts_fail(struct opts *o, const char *what, const char *why)
{
	snprintf(o->err, sizeof o->err, "%s: %s", what, why);
	return o->err;
}

/*
 * The option getopt stopped at, for an error: "-x" for a short one (a byte
 * that is not printable ASCII as -\xNN), else the argument as given up to
 * any "=", its unprintable bytes escaped the same way.
 */
static void
opts_bad_name(char *out, size_t outsz, char **argv)
{
	const unsigned char *s;
	size_t n = 0;

	/* glibc keeps a short option's byte as a char (sign-extended); a
	   long option's value is 0 (unknown) or its val (256 and up). */
	if (optopt != 0 && optopt < 128) {
		unsigned char c = (unsigned char)optopt;

		if (c > 0x20 && c < 0x7f)
			snprintf(out, outsz, "-%c", c);
		else
			snprintf(out, outsz, "-\\x%02x", c);
		return;
	}
	out[0] = '\0';
	if (optind < 1)
		return;
	for (s = (const unsigned char *)argv[optind - 1];
	     *s != '\0' && *s != '=' && n + 5 < outsz; s++) {
		if (*s > 0x20 && *s < 0x7f)
			out[n++] = (char)*s;
		else
			n += (size_t)snprintf(
			    out + n, outsz - n, "\\x%02x", (unsigned)*s);
	}
	out[n] = '\0';
}

/* A number in [lo, hi] into *v; an error otherwise. */
static const char *
opts_number(
    struct opts *o, const char *opt, const char *s, long lo, long hi, long *v)
{
	char *end;
	char why[128];

	errno = 0;
	*v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *v < lo || *v > hi) {
		snprintf(why, sizeof why,
		    "'%s' is not a number from %ld to %ld", s, lo, hi);
		return opts_fail(o, opt, why);
	}
	return NULL;
}

/* -c: a packet count. */
static const char *
opts_count(struct opts *o, const char *s)
{
	char *end;
	long v;
	char why[128];

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 1) {
		snprintf(why, sizeof why,
		    "'%s' is not a positive number of packets", s);
		return opts_fail(o, "-c", why);
	}
	o->cap.count = v;
	return NULL;
}

/* One port of a -P list, or 0 when s is not a number from 1 to 65535. */
static long
opts_port(const char *s)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > 65535)
		return 0;
	return v;
}

/*
 * "25,465,587" or "25,2525-2530" into ports[] and *np; an error on
 * anything else.  A range counts as each of its ports (the flow table and
 * the live filter take a list), so a wide one runs into max; duplicates
 * are dropped.
 */
static const char *
opts_ports(struct opts *o, const char *opt, const char *list, uint16_t *ports,
    size_t max, size_t *np)
{
	char *copy = xstrdup(list), *tok, *save = NULL, *dash, why[160];
	const char *bad = NULL;
	size_t n = 0, i;
	long lo, hi, v;

	for (tok = strtok_r(copy, ", ", &save); tok != NULL && bad == NULL;
	     tok = strtok_r(NULL, ", ", &save)) {
		dash = strchr(tok, '-');
		if (dash != NULL) {
			*dash = '\0';
			lo = opts_port(tok);
			hi = opts_port(dash + 1);
			*dash = '-';
		} else
			lo = hi = opts_port(tok);
		if (lo == 0 || hi == 0 || lo > hi) {
			snprintf(why, sizeof why,
			    "'%s' is not a port (1 to 65535) or a range of "
			    "ports (e.g. 2525-2530)",
			    tok);
			bad = opts_fail(o, opt, why);
			break;
		}
		for (v = lo; v <= hi; v++) {
			for (i = 0; i < n && ports[i] != v; i++)
				;
			if (i < n)
				continue;
			if (n == max) {
				snprintf(why, sizeof why,
				    "more than %zu ports in '%s' (a range "
				    "counts each of its ports)",
				    max, list);
				bad = opts_fail(o, opt, why);
				break;
			}
			ports[n++] = (uint16_t)v;
		}
	}
	free(copy);
	if (bad == NULL && n == 0)
		bad = opts_fail(o, opt, "no port given");
	if (bad == NULL)
		*np = n;
	return bad;
}

void
opts_init(struct opts *o)
{
	memset(o, 0, sizeof *o);
	pipeline_config_default(&o->pipe);
	o->cap.snaplen = 262144;
	o->cap.promisc = true;
	o->limit = 10000;
	o->memory_mib = OPTS_MEMORY_DEFAULT;
	o->maillog_skew = (long)MAILLOG_SKEW_DEFAULT;
}

/* One option getopt_long returned; NULL or an error. */
static const char *
opts_one(struct opts *o, int ch, char **argv)
{
	char name[64];
	long v;
	const char *bad;

	switch (ch) {
	case 'i':
		o->cap.iface = optarg;
		break;
	case 'D':
		o->list_devices = true;
		break;
	case 'r':
		o->cap.file = optarg;
		break;
	case 'P':
		/* "any": SMTP wherever a connection starts like it. */
		if (strcasecmp(optarg, "any") == 0) {
			o->pipe.flow.any_port = true;
			break;
		}
		o->pipe.flow.any_port = false;
		return opts_ports(o, "-P", optarg, o->pipe.ports,
		    PIPELINE_PORTS_MAX, &o->pipe.n_ports);
	case OPT_TLS_PORTS:
		return opts_ports(o, "--tls-ports", optarg, o->pipe.tls_ports,
		    PIPELINE_PORTS_MAX, &o->pipe.n_tls_ports);
	case 's':
		if ((bad = opts_number(o, "-s", optarg, 0, 262144, &v)) != NULL)
			return bad;
		o->cap.snaplen = v == 0 ? 262144 : (int)v;
		break;
	case 'B':
		if ((bad = opts_number(o, "-B", optarg, 1, 1 << 20, &v)) !=
		    NULL)
			return bad;
		o->cap.buffer_mib = (int)v;
		break;
	case 'p':
		o->cap.promisc = false;
		break;
	case 'c':
		return opts_count(o, optarg);
	case 'j':
		/* Both would write stdout, in two formats. */
		if (o->mode_set && o->mode == OPTS_MODE_TEXT)
			return opts_fail(o, "-j", "cannot be used with -N");
		o->mode = OPTS_MODE_JSON;
		o->mode_set = true;
		break;
	case 'N':
		if (o->mode_set && o->mode == OPTS_MODE_JSON)
			return opts_fail(o, "-N", "cannot be used with -j");
		o->mode = OPTS_MODE_TEXT;
		o->mode_set = true;
		break;
	case 'w':
		o->write_file = optarg;
		break;
	case 'k':
		o->keylog = optarg;
		break;
	case 'Z':
		o->user = optarg;
		o->user_set = true;
		break;
	case OPT_REPLAY:
		o->cap.replay = optarg == NULL ? 1.0 : strtod(optarg, NULL);
		/* Written so that NaN fails too. */
		if (!(o->cap.replay > 0 && o->cap.replay <= 1000))
			return opts_fail(o, "--replay",
			    "SPEED must be a number above 0 and up to 1000");
		break;
	case OPT_DEMO:
		o->demo = true;
		break;
	case 'l':
		if ((bad = opts_number(
			 o, "--limit", optarg, 1, 100000000, &v)) != NULL)
			return bad;
		o->limit = (size_t)v;
		break;
	case OPT_MEMORY:
		if ((bad = opts_number(o, "--memory", optarg, OPTS_MEMORY_MIN,
			 1 << 20, &v)) != NULL)
			return bad;
		o->memory_mib = (size_t)v;
		break;
	case OPT_FLOWS:
		if ((bad = opts_number(
			 o, "--flows", optarg, 1, 100000000, &v)) != NULL)
			return bad;
		o->flows = (size_t)v;
		break;
	case OPT_TLS_KEY:
		o->tls_key = optarg;
		break;
	case OPT_MAILLOG:
		o->maillog = optarg;
		break;
	case OPT_MAILLOG_SKEW:
		if ((bad = opts_number(
			 o, "--maillog-skew", optarg, 0, 3600, &v)) != NULL)
			return bad;
		o->maillog_skew = (long)v;
		break;
	case OPT_SHOW_AUTH:
		o->pipe.show_auth = true;
		break;
	case OPT_RULES:
		o->rules_file = optarg;
		break;
	case OPT_LEXICON:
		o->lexicon_file = optarg;
		break;
	case OPT_EXPLAIN:
		o->explain = true;
		break;
	case OPT_AFTER:
		o->after = optarg;
		break;
	case OPT_METRICS: {
		struct sockaddr_storage mss;
		socklen_t mlen;
		char *cause;

		if (metrics_http_addr(optarg, &mss, &mlen, &cause) != 0) {
			opts_fail(o, "--metrics", cause);
			free(cause);
			return o->err;
		}
		o->metrics = optarg;
		break;
	}
	case OPT_METRICS_LINGER:
		if ((bad = opts_number(
			 o, "--metrics-linger", optarg, 0, 86400, &v)) != NULL)
			return bad;
		o->metrics_linger = (long)v;
		break;
	case OPT_RULES_DUMP:
		o->action = OPTS_RULES_DUMP;
		break;
	case OPT_LEXICON_DUMP:
		o->action = OPTS_LEXICON_DUMP;
		break;
	case 'V':
		o->action = OPTS_VERSION;
		break;
	case 'h':
		o->action = OPTS_HELP;
		break;
	default:
		/* '?' (unknown option) or ':' (missing argument). */
		opts_bad_name(name, sizeof name, argv);
		return opts_fail(o, name,
		    ch == ':' ? "this option needs an argument"
			      : "unknown option");
	}
	return NULL;
}

const char *
opts_parse(struct opts *o, int argc, char **argv)
{
	const char *bad;
	int ch;

	o->err[0] = '\0';
	/* getopt's own messages would make a second error line; optind 0
	   makes glibc start afresh (a second call, a fuzzer). */
	opterr = 0;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "+:i:Dr:P:s:B:pc:jNw:k:Z:l:Vh",
		    opts_long, NULL)) != -1) {
		if ((bad = opts_one(o, ch, argv)) != NULL)
			return bad;
		if (o->action != OPTS_RUN)
			return NULL;
	}
	o->argc = argc - optind;
	o->argv = argv + optind;
	return NULL;
}

const char *
opts_check(struct opts *o)
{
	o->err[0] = '\0';
	if (o->demo && (o->cap.file != NULL || o->cap.iface != NULL))
		return opts_fail(o, "--demo", "cannot be used with -r or -i");
	if (!o->demo && o->cap.replay > 0 && o->cap.file == NULL)
		return opts_fail(o, "--replay", "needs a capture file (-r)");
	if (o->cap.file != NULL && o->cap.iface != NULL)
		return opts_fail(o, "-r", "cannot be used with -i");
	if (o->metrics_linger > 0 && o->metrics == NULL)
		return opts_fail(o, "--metrics-linger", "needs --metrics");
	return NULL;
}

char *
opts_bpf(const struct opts *o)
{
	size_t len = 0, n;
	char *s;
	int i;

	if (o->argc <= 0)
		return NULL;
	for (i = 0; i < o->argc; i++)
		len += strlen(o->argv[i]) + 1;
	s = xmalloc(len);
	for (i = 0, len = 0; i < o->argc; i++) {
		if (i > 0)
			s[len++] = ' ';
		n = strlen(o->argv[i]);
		memcpy(s + len, o->argv[i], n);
		len += n;
	}
	s[len] = '\0';
	return s;
}
