/*
 * main: the command line (tcpdump and sngrep habits, SPEC section 2), and the
 * wiring of capture -> pipeline -> front end.  Headless modes (-j, -N) run
 * the whole pipeline on this thread; the UI runs it on a capture thread.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <curses.h>
#include <openssl/opensslv.h>
#include <openssl/crypto.h>

#include "capture.h"
#include "diag.h"
#include "err.h"
#include "event.h"
#include "keylog.h"
#include "out_json.h"
#include "out_text.h"
#include "pipeline.h"
#include "privdrop.h"
#include "rules.h"
#include "ui.h"
#include "xmalloc.h"

enum main_mode { MODE_UI, MODE_JSON, MODE_TEXT };

struct main_opts {
	struct capture_config cap;
	struct pipeline_config pipe;
	enum main_mode mode;
	bool mode_set;
	bool list_devices;
	const char *write_file;
	const char *keylog;
	const char *user;
	bool user_set;
	bool demo;
	size_t limit;
	size_t memory_mib;
	size_t flows; /* 0: FLOW_MAX_DEFAULT */
	const char *rules_file;
	bool explain;
	const char *after;
	char *bpf;
};

/* Long-only options. */
enum {
	OPT_TLS_PORTS = 256,
	OPT_REPLAY,
	OPT_DEMO,
	OPT_LIMIT,
	OPT_SHOW_AUTH,
	OPT_RULES,
	OPT_EXPLAIN,
	OPT_AFTER,
	OPT_MEMORY,
	OPT_FLOWS,
};

static const struct option main_longopts[] = {
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
    {"relinquish-privileges", required_argument, NULL, 'Z'},
    {"replay", optional_argument, NULL, OPT_REPLAY},
    {"demo", no_argument, NULL, OPT_DEMO},
    {"limit", required_argument, NULL, 'l'},
    {"memory", required_argument, NULL, OPT_MEMORY},
    {"flows", required_argument, NULL, OPT_FLOWS},
    {"show-auth", no_argument, NULL, OPT_SHOW_AUTH},
    {"rules", required_argument, NULL, OPT_RULES},
    {"explain", no_argument, NULL, OPT_EXPLAIN},
    {"after", required_argument, NULL, OPT_AFTER},
    {"version", no_argument, NULL, 'V'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void
main_usage(FILE *f)
{
	fputs("usage: smtpscope [options] [BPF expression]\n"
	      "       smtpscope --explain CODE [ENHANCED] [\"REPLY TEXT\"] "
	      "[--after VERB]\n"
	      "\n"
	      "Watch SMTP sessions live or from a capture file; 421 and 452 "
	      "replies are\n"
	      "highlighted and explained.\n"
	      "\n"
	      "Capture (as in tcpdump):\n"
	      "  -i, --interface IFACE    capture live on IFACE (\"any\" for "
	      "all)\n"
	      "  -D, --list-interfaces    list capture devices and exit\n"
	      "  -r, --read FILE          read a pcap or pcapng file (\"-\" = "
	      "stdin)\n"
	      "  -P, --ports LIST         SMTP ports, e.g. 25,2525-2530 "
	      "(default 25,465,587)\n"
	      "      --tls-ports LIST     implicit-TLS ports (default 465)\n"
	      "  -s, --snapshot-length N  snapshot length (default 262144)\n"
	      "  -B, --buffer-size MIB    kernel capture buffer in MiB "
	      "(default 32)\n"
	      "  -p, --no-promiscuous-mode  do not put the interface in "
	      "promiscuous mode\n"
	      "  -c, --count N            stop after N packets\n"
	      "  -w, --write FILE         also save the SMTP sessions' packets "
	      "to FILE\n"
	      "  -Z, --relinquish-privileges USER\n"
	      "                           drop root to USER once capturing "
	      "(default nobody)\n"
	      "      --replay[=SPEED]     with -r, pace packets by their "
	      "timestamps\n"
	      "                           (1 = real time, the default SPEED)\n"
	      "  trailing arguments       a BPF expression, ANDed with the "
	      "port filter\n"
	      "\n"
	      "Output:\n"
	      "  -j, --json               no UI: JSON Lines events on stdout\n"
	      "  -N, --no-ui              no UI: one readable line per event "
	      "on stdout; a 421\n"
	      "                           or 452 line ends with the "
	      "diagnosis and situation\n"
	      "                           (the default when stdout is not a "
	      "terminal)\n"
	      "      --demo               open the UI on the bundled demo "
	      "capture\n"
	      "  -l, --limit N            sessions kept in memory, open or "
	      "(UI) closed\n"
	      "                           (default 10000)\n"
	      "      --flows N            TCP connections tracked at once "
	      "(default 65536,\n"
	      "                           at most --limit)\n"
	      "      --memory MIB         memory budget (default 256) for "
	      "flows, reassembly,\n"
	      "                           SMTP and TLS state and the UI's "
	      "store; over it the\n"
	      "                           largest sessions are trimmed, then "
	      "the least\n"
	      "                           recently active evicted\n"
	      "\n"
	      "SMTP and TLS:\n"
	      "  -k, --keylog FILE        TLS key log (SSLKEYLOGFILE format) "
	      "to decrypt\n"
	      "                           STARTTLS and implicit-TLS sessions\n"
	      "      --show-auth          show AUTH credentials (masked by "
	      "default)\n"
	      "      --rules FILE         extra diagnosis rules (format: see "
	      "the top of\n"
	      "                           rules.conf), tried before the "
	      "built-in ones\n"
	      "      --explain CODE [ENHANCED] [TEXT]\n"
	      "                           explain a reply without capturing "
	      "(or paste the\n"
	      "                           whole reply line in quotes); --after "
	      "VERB names\n"
	      "                           the command it answered: CONNECT, "
	      "EHLO, MAIL,\n"
	      "                           RCPT, DATA, DATA-END, BDAT, AUTH, "
	      "STARTTLS\n"
	      "\n"
	      "  -V, --version            versions of smtpscope and its "
	      "libraries\n"
	      "  -h, --help               this help\n"
	      "\n"
	      "Examples:\n"
	      "  smtpscope -i eth0                      live, in the terminal "
	      "UI\n"
	      "  smtpscope -r mail.pcap -j | jq 'select(.highlight)'\n"
	      "  ssh mx tcpdump -U -w - port 25 | smtpscope -r -\n"
	      "  smtpscope --explain 452 4.5.3 --after RCPT\n"
	      "\n"
	      "See smtpscope(1) for keys, events and exit statuses.\n",
	    f);
}

static __attribute__((noreturn)) void
main_usage_error(const char *what, const char *why)
{
	err_exit(EXIT_USAGE, what, why, "see smtpscope --help");
}

/* getopt returned '?' (unknown option) or ':' (missing argument). */
static __attribute__((noreturn)) void
main_bad_option(int ch, char **argv)
{
	char name[64];

	if (optopt > 0 && optopt < 128)
		snprintf(name, sizeof name, "-%c", optopt);
	else
		snprintf(name, sizeof name, "%s", argv[optind - 1]);
	name[strcspn(name, "=")] = '\0';
	main_usage_error(name,
	    ch == ':' ? "this option needs an argument" : "unknown option");
}

/* A number in [lo, hi]; usage error otherwise. */
static long
main_number(const char *opt, const char *s, long lo, long hi)
{
	char *end;
	long v;
	char why[128];

	errno = 0;
	v = strtol(s, &end, 10); /* NOLINT: s is never NULL */
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
		snprintf(why, sizeof why,
		    "'%s' is not a number from %ld to %ld", s, lo, hi);
		main_usage_error(opt, why);
	}
	return v;
}

/* -c: a packet count. */
static long
main_count(const char *s)
{
	char *end;
	long v;
	char why[128];

	errno = 0;
	v = strtol(s, &end, 10); /* NOLINT: s is never NULL */
	if (errno != 0 || end == s || *end != '\0' || v < 1) {
		snprintf(why, sizeof why,
		    "'%s' is not a positive number of packets", s);
		main_usage_error("-c", why);
	}
	return v;
}

/* One port of a -P list, or 0 when s is not a number from 1 to 65535. */
static long
main_port(const char *s)
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
 * "25,465,587" or "25,2525-2530" into ports[]; usage error on anything
 * else.  A range counts as each of its ports (the flow table and the live
 * filter take a list), so a wide one runs into max; duplicates are dropped.
 */
static size_t
main_ports(const char *opt, const char *list, uint16_t *ports, size_t max)
{
	char *copy = xstrdup(list), *tok, *save = NULL, *dash, why[160];
	size_t n = 0, i;
	long lo, hi, v;

	for (tok = strtok_r(copy, ", ", &save); tok != NULL;
	     tok = strtok_r(NULL, ", ", &save)) {
		dash = strchr(tok, '-');
		if (dash != NULL) {
			*dash = '\0';
			lo = main_port(tok);
			hi = main_port(dash + 1);
			*dash = '-';
		} else
			lo = hi = main_port(tok);
		if (lo == 0 || hi == 0 || lo > hi) {
			snprintf(why, sizeof why,
			    "'%s' is not a port (1 to 65535) or a range of "
			    "ports (e.g. 2525-2530)",
			    tok);
			main_usage_error(opt, why);
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
				main_usage_error(opt, why);
			}
			ports[n++] = (uint16_t)v;
		}
	}
	free(copy);
	if (n == 0)
		main_usage_error(opt, "no port given");
	return n;
}

static void
main_version(void)
{
	printf("smtpscope %s\n", PACKAGE_VERSION);
	printf("%s\n", capture_lib_version());
	printf("%s\n", curses_version());
	printf("%s\n", OpenSSL_version(OPENSSL_VERSION));
}

/* Print s wrapped at 76 columns, each line indented by indent spaces. */
static void
main_wrap(const char *s, size_t indent)
{
	const size_t width = 76 - indent;
	size_t col = 0, wlen;

	while (*s != '\0') {
		while (*s == ' ')
			s++;
		wlen = strcspn(s, " ");
		if (wlen == 0)
			break;
		if (col > 0 && col + 1 + wlen > width) {
			fputc('\n', stdout);
			col = 0;
		}
		if (col == 0)
			printf("%*s", (int)indent, "");
		else
			fputc(' ', stdout);
		fwrite(s, 1, wlen, stdout);
		col += (col == 0 ? 0 : 1) + wlen;
		s += wlen;
	}
	fputc('\n', stdout);
}

static void
main_explain_part(const char *head, const char *text)
{
	if (text == NULL || *text == '\0')
		return;
	printf("%s\n", head);
	main_wrap(text, 2);
	printf("\n");
}

/* An enhanced status code: digits '.' digits '.' digits. */
static bool
main_is_enhanced(const char *a)
{
	size_t dots = 0;

	if (*a < '0' || *a > '9')
		return false;
	for (; *a != '\0'; a++) {
		if (*a == '.')
			dots++;
		else if (*a < '0' || *a > '9')
			return false;
	}
	return dots == 2;
}

/*
 * --explain CODE [ENHANCED] [TEXT] [--after VERB]: the arguments after the
 * options (getopt stops at the first operand, so --after may also come here).
 * A whole pasted reply line ("452 4.5.3 Error: too many recipients") works
 * as well.  A bad code is a usage error (exit 2).
 */
static int
main_explain(struct diag *d, int argc, char **argv, const char *after)
{
	struct event_diag *x;
	const char *enhanced = NULL, *text = NULL;
	char codebuf[4], *line = NULL, *rest, save, *head;
	size_t el;
	int code, i;

	if (argc < 1)
		main_usage_error(
		    "--explain", "a reply code is needed, e.g. 452");
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--after") == 0) {
			if (++i == argc)
				main_usage_error("--after",
				    "a command is "
				    "needed, e.g. RCPT");
			after = argv[i];
		} else if (strncmp(a, "--after=", 8) == 0)
			after = a + 8;
		else if (enhanced == NULL && text == NULL &&
			 main_is_enhanced(a))
			enhanced = a;
		else if (text == NULL)
			text = a;
		else
			main_usage_error("--explain", "too many arguments "
						      "(quote the reply text)");
	}
	/* A pasted reply line: code, optional enhanced code, text. */
	if (strlen(argv[0]) > 4 && (argv[0][3] == ' ' || argv[0][3] == '-') &&
	    enhanced == NULL && text == NULL) {
		line = xstrdup(argv[0]);
		memcpy(codebuf, line, 3);
		codebuf[3] = '\0';
		rest = line + 4;
		code = (int)main_number("--explain", codebuf, 200, 599);
		el = strcspn(rest, " ");
		save = rest[el];
		rest[el] = '\0';
		if (main_is_enhanced(rest)) {
			enhanced = rest;
			rest = save != '\0' ? rest + el + 1 : rest + el;
		} else
			rest[el] = save;
		while (*rest == ' ')
			rest++;
		if (*rest != '\0')
			text = rest;
	} else
		code = (int)main_number("--explain", argv[0], 200, 599);
	if (after != NULL && *after == '\0')
		after = NULL;
	if (after != NULL && !rules_answers_valid(after))
		err_exit(EXIT_USAGE, "--after", "unknown command",
		    "use one of " RULES_ANSWERS_WORDS);

	x = diag_explain(d, code, enhanced, text, after);
	xasprintf(&head, "%d%s%s%s%s%s%s%s", code, enhanced ? " " : "",
	    enhanced ? enhanced : "", text ? " " : "", text ? text : "",
	    after ? " (in answer to " : "", after ? after : "",
	    after ? ")" : "");
	main_wrap(head, 0);
	free(head);
	main_wrap(x->title, 0);
	printf("\n");
	main_explain_part("Meaning:", x->meaning);
	main_explain_part("Situation:", x->when);
	main_explain_part("What the sender can do:", x->fix_sender);
	main_explain_part(
	    "What the server's operator can do:", x->fix_operator);
	printf("(rule %s)\n", x->rule);
	event_diag_free(x);
	free(line);
	return EXIT_OK;
}

/* ---- headless run */

static volatile sig_atomic_t main_stop_flag;
static struct capture *main_capture;

static void
main_on_signal(int sig)
{
	(void)sig;
	main_stop_flag = 1;
	if (main_capture != NULL)
		capture_stop(main_capture);
}

struct main_sink {
	enum main_mode mode;
	bool utf8;
	bool broken;	 /* stdout went away */
	bool flush_each; /* flush after every event */
	struct capture *cap;
	struct pipeline *pipe;
	bool dumping;
	time_t last_tick;
	const struct pipeline_config *pcfg;
};

/* --memory: default and least MiB. */
#define MAIN_MEMORY_DEFAULT 256
#define MAIN_MEMORY_MIN 8

/* Live headless output: longest time an event waits in the buffer (ms), and
   the buffer's size. */
#define MAIN_FLUSH_MS 50
#define MAIN_OUT_BUF (64 * 1024)

/* How many ports the no-session hint names. */
#define MAIN_HINT_PORTS 3

/*
 * A run that found no SMTP session but saw TCP traffic on other ports (a
 * capture file, or a BPF that let it through): the likely cause is a server
 * on another port, so name the busiest ones and the -P that would watch them.
 * On stderr: stdout stays pure JSON with -j.
 */
static void
main_no_session_hint(const struct main_sink *s)
{
	struct pipeline_port top[MAIN_HINT_PORTS];
	size_t n, i;

	n = pipeline_other_ports(s->pipe, top, MAIN_HINT_PORTS);
	if (n == 0)
		return;
	fprintf(stderr, "hint: no SMTP session on port%s ",
	    s->pcfg->n_ports == 1 ? "" : "s");
	for (i = 0; i < s->pcfg->n_ports; i++)
		fprintf(stderr, "%s%u", i > 0 ? "," : "", s->pcfg->ports[i]);
	fprintf(stderr, "; TCP traffic on port%s ", n == 1 ? "" : "s");
	for (i = 0; i < n; i++)
		fprintf(stderr, "%s%u (%" PRIu64 " packet%s)",
		    i > 0 ? ", " : "", top[i].port, top[i].packets,
		    top[i].packets == 1 ? "" : "s");
	fprintf(stderr, ": try -P ");
	for (i = 0; i < n; i++)
		fprintf(stderr, "%s%u", i > 0 ? "," : "", top[i].port);
	fputc('\n', stderr);
	fflush(stderr);
}

static void
main_emit(void *arg, struct event *ev)
{
	struct main_sink *s = arg;
	int rc;

	if (!s->broken) {
		if (s->mode == MODE_JSON)
			rc = out_json_write(stdout, ev, s->flush_each);
		else
			rc = out_text_write(stdout, ev, s->utf8, s->flush_each);
		if (rc != 0) {
			s->broken = true;
			if (s->cap != NULL)
				capture_stop(s->cap);
		}
	}
	event_free(ev);
}

static void
main_packet(void *arg, int linktype, const struct timeval *ts,
    const uint8_t *data, uint32_t caplen, uint32_t len)
{
	struct main_sink *s = arg;

	pipeline_packet(s->pipe, linktype, ts, data, caplen, len);
	if (s->dumping && pipeline_last_smtp(s->pipe))
		capture_dump_packet(s->cap, ts, data, caplen, len);
	if (ts->tv_sec != s->last_tick) {
		s->last_tick = ts->tv_sec;
		pipeline_tick(s->pipe, ts);
	}
}

static int
main_headless(struct main_sink *s, struct capture *cap)
{
	struct timeval start, end, now;
	struct event *ev;
	const char *why = NULL;
	int rc, status = EXIT_OK;
	uint64_t sessions = 0;

	gettimeofday(&start, NULL);
	for (;;) {
		rc = capture_loop(cap, main_packet, s,
		    capture_is_live(cap) ? MAIN_FLUSH_MS : 250, &why);
		if (rc != 0 || main_stop_flag || s->broken)
			break;
		/* Live output is written in blocks: out by now at the latest
		   (the capture went idle, or MAIN_FLUSH_MS passed). */
		if (!s->flush_each && fflush(stdout) == EOF) {
			s->broken = true;
			break;
		}
		gettimeofday(&now, NULL);
		if (capture_is_live(cap))
			pipeline_tick(s->pipe, &now);
	}
	pipeline_finish(s->pipe);
	gettimeofday(&end, NULL);
	if (!s->broken) {
		ev = event_new(EV_STATS);
		pipeline_fill_stats(s->pipe, ev);
		sessions = ev->sessions;
		ev->dropped = capture_dropped(cap);
		ev->elapsed = (double)(end.tv_sec - start.tv_sec) +
			      (double)(end.tv_usec - start.tv_usec) / 1e6;
		main_emit(s, ev);
	}
	if (fflush(stdout) == EOF)
		s->broken = true;
	if (rc < 0) {
		err_print(capture_source(cap), why, NULL);
		status = EXIT_RUNTIME;
	} else if (!s->broken && sessions == 0)
		main_no_session_hint(s);
	return status;
}

static const char *
main_demo_file(void)
{
	const char *env = getenv("SMTPSCOPE_DEMO");

	if (env != NULL && *env != '\0')
		return env;
	if (access(PKGDATADIR "/demo.pcap", R_OK) == 0)
		return PKGDATADIR "/demo.pcap";
	/* Run from the build tree before `make install`. */
	if (access("data/demo.pcap", R_OK) == 0)
		return "data/demo.pcap";
	if (access(SMTPSCOPE_SRCDIR "/data/demo.pcap", R_OK) == 0)
		return SMTPSCOPE_SRCDIR "/data/demo.pcap";
	return PKGDATADIR "/demo.pcap";
}

int
main(int argc, char **argv)
{
	struct main_opts o;
	struct diag *diag;
	struct keylog *kl = NULL;
	struct capture *cap;
	struct pipeline *pipe;
	struct main_sink sink;
	const char *what, *why, *hint, *pwhy, *env;
	bool usage;
	int ch, status;
	size_t i, blen, mem;
	char wwhat[PATH_MAX + 32];

	setlocale(LC_ALL, "");
	memset(&o, 0, sizeof o);
	pipeline_config_default(&o.pipe);
	o.cap.snaplen = 262144;
	o.cap.promisc = true;
	o.limit = 10000;
	o.memory_mib = MAIN_MEMORY_DEFAULT;

	/* getopt's own messages would make a second error line. */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:i:Dr:P:s:B:pc:jNw:k:Z:l:Vh",
		    main_longopts, NULL)) != -1) {
		switch (ch) {
		case 'i':
			o.cap.iface = optarg;
			break;
		case 'D':
			o.list_devices = true;
			break;
		case 'r':
			o.cap.file = optarg;
			break;
		case 'P':
			o.pipe.n_ports = main_ports(
			    "-P", optarg, o.pipe.ports, PIPELINE_PORTS_MAX);
			break;
		case OPT_TLS_PORTS:
			o.pipe.n_tls_ports = main_ports("--tls-ports", optarg,
			    o.pipe.tls_ports, PIPELINE_PORTS_MAX);
			break;
		case 's':
			o.cap.snaplen =
			    (int)main_number("-s", optarg, 0, 262144);
			if (o.cap.snaplen == 0)
				o.cap.snaplen = 262144;
			break;
		case 'B':
			o.cap.buffer_mib =
			    (int)main_number("-B", optarg, 1, 1 << 20);
			break;
		case 'p':
			o.cap.promisc = false;
			break;
		case 'c':
			o.cap.count = main_count(optarg);
			break;
		case 'j':
			o.mode = MODE_JSON;
			o.mode_set = true;
			break;
		case 'N':
			o.mode = MODE_TEXT;
			o.mode_set = true;
			break;
		case 'w':
			o.write_file = optarg;
			break;
		case 'k':
			o.keylog = optarg;
			break;
		case 'Z':
			o.user = optarg;
			o.user_set = true;
			break;
		case OPT_REPLAY:
			o.cap.replay =
			    optarg == NULL ? 1.0 : strtod(optarg, NULL);
			if (o.cap.replay <= 0 || o.cap.replay > 1000)
				main_usage_error("--replay",
				    "SPEED must be a number above "
				    "0 and up to 1000");
			break;
		case OPT_DEMO:
			o.demo = true;
			break;
		case 'l':
			o.limit = (size_t)main_number(
			    "--limit", optarg, 1, 100000000);
			break;
		case OPT_MEMORY:
			o.memory_mib = (size_t)main_number(
			    "--memory", optarg, MAIN_MEMORY_MIN, 1 << 20);
			break;
		case OPT_FLOWS:
			o.flows = (size_t)main_number(
			    "--flows", optarg, 1, 100000000);
			break;
		case OPT_SHOW_AUTH:
			o.pipe.show_auth = true;
			break;
		case OPT_RULES:
			o.rules_file = optarg;
			break;
		case OPT_EXPLAIN:
			o.explain = true;
			break;
		case OPT_AFTER:
			o.after = optarg;
			break;
		case 'V':
			main_version();
			return EXIT_OK;
		case 'h':
			main_usage(stdout);
			return EXIT_OK;
		default:
			main_bad_option(ch, argv);
		}
	}
	argc -= optind;
	argv += optind;

	diag = diag_new();
	if (o.rules_file != NULL) {
		char *cause = NULL;
		struct rules *r = rules_load(o.rules_file, &cause);

		if (r == NULL)
			err_exit(EXIT_USAGE, "--rules", cause, NULL);
		diag_add_rules_take(diag, r);
	}
	if (o.explain) {
		status = main_explain(diag, argc, argv, o.after);
		diag_free(diag);
		return status;
	}
	if (o.list_devices) {
		if (capture_list_devices(&why) != 0)
			err_exit(EXIT_RUNTIME, "cannot list devices", why,
			    "run as root or grant CAP_NET_RAW");
		diag_free(diag);
		return EXIT_OK;
	}

	/* The trailing arguments form the BPF expression, as in tcpdump. */
	for (i = 0, blen = 0; i < (size_t)argc; i++)
		blen += strlen(argv[i]) + 1;
	if (argc > 0) {
		o.bpf = xcalloc(1, blen + 1);
		for (i = 0; i < (size_t)argc; i++) {
			if (i > 0)
				strcat(o.bpf, " ");
			strcat(o.bpf, argv[i]);
		}
		o.cap.bpf = o.bpf;
	}

	if (o.demo) {
		if (o.cap.file != NULL || o.cap.iface != NULL)
			main_usage_error(
			    "--demo", "cannot be used with -r or -i");
		o.cap.file = main_demo_file();
		if (access(o.cap.file, R_OK) != 0)
			err_exit(EXIT_RUNTIME, o.cap.file, strerror(errno),
			    "the demo capture is installed by `make install`; "
			    "SMTPSCOPE_DEMO=FILE names another one");
		if (o.cap.replay == 0)
			o.cap.replay = 1.0;
		if (!o.mode_set)
			o.mode = MODE_UI;
	} else if (!o.mode_set)
		o.mode = isatty(STDOUT_FILENO) ? MODE_UI : MODE_TEXT;
	if (o.cap.replay > 0 && o.cap.file == NULL)
		main_usage_error("--replay", "needs a capture file (-r)");
	if (o.cap.file != NULL && o.cap.iface != NULL)
		main_usage_error("-r", "cannot be used with -i");
	/*
	 * The UI needs a terminal to draw on (stdout) and one to read keys
	 * from (stdin, or /dev/tty when stdin is the capture or redirected).
	 * Without them it falls back to one line per event, and says why.
	 */
	if (o.mode == MODE_UI) {
		const char *noui = ui_unusable();

		if (noui != NULL) {
			err_print("no terminal UI", noui,
			    "showing one line per event instead (-N)");
			o.mode = MODE_TEXT;
		}
	}

	o.cap.ports = o.pipe.ports;
	o.cap.n_ports = o.pipe.n_ports;
	cap = capture_open(&o.cap, &what, &why, &hint, &usage);
	if (cap == NULL)
		err_exit(usage ? EXIT_USAGE : EXIT_RUNTIME, what, why, hint);

	/* The key log is opened before dropping root, and kept open. */
	if (o.keylog == NULL && (env = getenv("SSLKEYLOGFILE")) != NULL &&
	    *env != '\0')
		o.keylog = env;
	if (o.keylog != NULL) {
		kl = keylog_new(o.keylog);
		/* Not fatal: a client may create it once it runs. */
		if (keylog_refresh(kl, &pwhy) < 0) {
			fprintf(stderr,
			    "smtpscope: warning: key log %s: %s; it is read "
			    "again as it appears or grows\n",
			    o.keylog, pwhy);
			fflush(stderr);
		}
	}

	/* -w is opened as root, like tcpdump, so it can go anywhere. */
	if (o.write_file != NULL &&
	    capture_dump_open(cap, o.write_file, &why) != 0) {
		capture_close(cap); /* why is static: still valid */
		snprintf(
		    wwhat, sizeof wwhat, "-w output file %s", o.write_file);
		err_exit(EXIT_RUNTIME, wwhat, why, NULL);
	}

	/* Drop root before the first packet is parsed. */
	if (o.user_set || geteuid() == 0) {
		if (privdrop(o.user, &pwhy) != 0) {
			capture_close(cap);
			err_exit(EXIT_RUNTIME, "-Z", pwhy, NULL);
		}
	}

	memset(&sink, 0, sizeof sink);
	sink.mode = o.mode;
	sink.utf8 = MB_CUR_MAX > 1;
	sink.cap = cap;
	sink.dumping = o.write_file != NULL;
	sink.pcfg = &o.pipe;
	/*
	 * Events are flushed line by line when someone may be watching them
	 * arrive and the next packet may take long: a stream on stdin or a
	 * pipe, --replay.  Live capture writes in blocks, flushed at least
	 * every MAIN_FLUSH_MS and whenever the capture goes idle, so a
	 * reader (| jq) follows along without one write per event at line
	 * rate.  A capture file read as fast as possible is written in full
	 * buffers; the output is the same, only sooner.
	 */
	sink.flush_each = o.cap.replay > 0 || capture_is_stream(cap);
	if (capture_is_live(cap) && o.mode != MODE_UI)
		setvbuf(stdout, NULL, _IOFBF, MAIN_OUT_BUF);
	o.pipe.keep_packets = o.mode == MODE_UI;
	/*
	 * --limit bounds the sessions held in every mode: those open (the
	 * flow table, at most --flows) and, in the UI, those kept to browse.
	 * One memory budget: headless, all of it goes to the capture side;
	 * the UI gives half to it, an eighth to the queue between the
	 * threads and the rest to the store.
	 */
	o.pipe.flow.max_flows = o.flows > 0 ? o.flows : FLOW_MAX_DEFAULT;
	if (o.pipe.flow.max_flows > o.limit)
		o.pipe.flow.max_flows = o.limit;
	mem = o.memory_mib * 1024 * 1024;
	o.pipe.memory = o.mode == MODE_UI ? mem / 2 : mem;
	if (o.pipe.flow.ooo_total > o.pipe.memory / 2)
		o.pipe.flow.ooo_total = o.pipe.memory / 2;
	if (o.mode == MODE_UI) {
		struct ui_config uc;

		pipe = NULL;
		memset(&uc, 0, sizeof uc);
		uc.queue_bytes = mem / 8;
		uc.store_bytes = mem - mem / 2 - mem / 8;
		uc.cap = cap;
		uc.pipe_cfg = &o.pipe;
		uc.diag = diag;
		uc.keylog = kl;
		uc.dumping = o.write_file != NULL;
		uc.limit = o.limit;
		uc.demo = o.demo;
		uc.source = capture_source(cap);
		status = ui_run(&uc);
	} else {
		struct sigaction sa;

		signal(SIGPIPE, SIG_IGN);
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = main_on_signal;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		main_capture = cap;
		pipe = pipeline_new(&o.pipe, diag, kl, main_emit, &sink);
		sink.pipe = pipe;
		status = main_headless(&sink, cap);
		main_capture = NULL;
	}
	pipeline_free(pipe);
	capture_close(cap);
	keylog_free(kl);
	diag_free(diag);
	free(o.bpf);
	return status;
}
