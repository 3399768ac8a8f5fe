/*
 * main: the command line (tcpdump and sngrep habits; OPTIONS in
 * doc/smtpscope.1), and the wiring of capture -> runner -> front end.
 * Headless modes (-j, -N) run the runner on this thread; the UI runs it on a
 * capture thread of its own.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <curses.h>
#ifdef HAVE_MIMALLOC
#include <mimalloc.h>
#endif
#include <openssl/opensslv.h>
#include <openssl/crypto.h>

#include "capture.h"
#include "diag.h"
#include "err.h"
#include "event.h"
#include "explain.h"
#include "keylog.h"
#include "metrics.h"
#include "metrics_http.h"
#include "maillog.h"
#include "out_json.h"
#include "out_text.h"
#include "opts.h"
#include "pipeline.h"
#include "privdrop.h"
#include "lexicon.h"
#include "rules.h"
#include "runner.h"
#include "ui.h"
#include "vis.h"
#include "writer.h"
#include "xmalloc.h"

static void
main_usage(FILE *f)
{
	fputs("usage: smtpscope [options] [BPF expression]\n"
	      "       smtpscope --explain REPLY... [--after VERB] [-j]\n"
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
	      "(default 25,465,587),\n"
	      "                           or \"any\": every TCP connection "
	      "that starts like SMTP\n"
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
	      "(default: the\n"
	      "                           user who ran sudo, else nobody)\n"
	      "      --replay[=SPEED]     with -r, pace packets by their "
	      "timestamps\n"
	      "                           (1 = real time, the default SPEED)\n"
	      "  trailing arguments       a BPF expression, ANDed with the "
	      "port filter\n"
	      "\n"
	      "Output:\n"
	      "  -j, --json               no UI: JSON Lines events on stdout "
	      "(not with -N)\n"
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
	      "      --metrics [ADDR:]PORT\n"
	      "                           serve Prometheus metrics on "
	      "http://ADDR:PORT/metrics\n"
	      "                           (ADDR 127.0.0.1 when only PORT is "
	      "given;\n"
	      "                           0.0.0.0:9187 and [::1]:9187 also "
	      "work)\n"
	      "      --metrics-linger SECONDS\n"
	      "                           headless, once the capture ends "
	      "(-r, -c): keep\n"
	      "                           serving the final counts this "
	      "long, or until a\n"
	      "                           signal\n"
	      "\n"
	      "SMTP and TLS:\n"
	      "  -k, --keylog FILE        TLS key log (SSLKEYLOGFILE format) "
	      "to decrypt\n"
	      "                           STARTTLS and implicit-TLS sessions\n"
	      "      --tls-key FILE       the server's RSA private key (PEM) "
	      "to decrypt\n"
	      "                           TLS 1.0-1.2 sessions with RSA key "
	      "exchange\n"
	      "                           (TLS_RSA_*); not ECDHE, DHE or TLS "
	      "1.3\n"
	      "      --maillog FILE       the MTA's log (Postfix, Exim, "
	      "Sendmail): each line\n"
	      "                           joined to its session, as a log "
	      "event (-j, -N);\n"
	      "                           followed like tail -F when "
	      "capturing live\n"
	      "      --maillog-skew SECONDS  clock skew tolerated between "
	      "log and capture\n"
	      "                           (default 5)\n"
	      "      --show-auth          show AUTH credentials (masked by "
	      "default)\n"
	      "      --rules FILE         extra diagnosis rules, tried before "
	      "the built-in\n"
	      "                           ones (format: man smtpscope, RULES "
	      "FILES)\n"
	      "      --rules-dump         print the built-in rules, their "
	      "format explained\n"
	      "                           at the top, and exit\n"
	      "      --lexicon FILE       extra cause words and enhanced "
	      "codes, tried before\n"
	      "                           the built-in ones (format: man "
	      "smtpscope, CAUSES)\n"
	      "      --lexicon-dump       print the built-in lexicon, its "
	      "format explained\n"
	      "                           at the top, and exit\n"
	      "      --explain REPLY...   explain a reply without capturing: "
	      "the words that\n"
	      "                           follow, quoted or not (452 4.5.3 "
	      "text), or a\n"
	      "                           Postfix, Exim, Sendmail or Exchange "
	      "log line or\n"
	      "                           bounce that quotes it; - reads it "
	      "(a multi-line\n"
	      "                           reply too) from stdin; -j prints "
	      "one JSON object\n"
	      "      --after VERB         with --explain, the command the "
	      "reply answered,\n"
	      "                           over a log line's: CONNECT, EHLO, "
	      "MAIL, RCPT,\n"
	      "                           DATA, DATA-END, BDAT, AUTH, "
	      "STARTTLS, QUIT\n"
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
	      "  grep 4XyZ /var/log/mail.log | smtpscope --explain -\n"
	      "\n"
	      "See smtpscope(1) for keys, events and exit statuses.\n",
	    f);
}

static __attribute__((noreturn)) void
main_usage_error(const char *what, const char *why)
{
	err_exit(EXIT_USAGE, what, why, "see smtpscope --help");
}

/* --rules-dump, --lexicon-dump: a data file compiled in, the reference
   for the --rules and --lexicon files a site writes. */
static int
main_dump(const char *opt, const char *text, size_t len)
{
	if (fwrite(text, 1, len, stdout) != len || fflush(stdout) == EOF)
		err_exit(EXIT_RUNTIME, opt, strerror(errno), NULL);
	return EXIT_OK;
}

/* The allocator malloc is: mimalloc when linked (and a block malloc gave
   is in its heap), else the C library's. */
static void
main_allocator_version(void)
{
#ifdef HAVE_MIMALLOC
	void *p = malloc(16);
	int v = mi_version();

	if (p != NULL && mi_is_in_heap_region(p))
		printf("mimalloc %d.%d.%d\n", v / 100, v / 10 % 10, v % 10);
	else
		printf("malloc of the C library (mimalloc %d.%d.%d is linked "
		       "but not in use)\n",
		    v / 100, v / 10 % 10, v % 10);
	free(p);
#else
	printf("malloc of the C library\n");
#endif
}

static void
main_version(void)
{
	printf("smtpscope %s\n", PACKAGE_VERSION);
	printf("%s\n", capture_lib_version());
	printf("%s\n", curses_version());
	printf("%s\n", OpenSSL_version(OPENSSL_VERSION));
	main_allocator_version();
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

/*
 * --after VERB as the rules spell it, upper case, into out: GREETING is
 * CONNECT, END-OF-DATA is DATA-END, NONE is "" (no command).  A word the
 * rules do not know is a usage error.
 */
static void
main_explain_verb(const char *after, char out[16])
{
	size_t i;

	if (!rules_answers_valid(after))
		err_exit(EXIT_USAGE, "--after", "unknown command",
		    "use one of " RULES_ANSWERS_WORDS);
	for (i = 0; i < 15 && after[i] != '\0'; i++)
		out[i] = (char)toupper((unsigned char)after[i]);
	out[i] = '\0';
	if (strcmp(out, "GREETING") == 0)
		snprintf(out, 16, "CONNECT");
	else if (strcmp(out, "END-OF-DATA") == 0)
		snprintf(out, 16, "DATA-END");
	else if (strcmp(out, "NONE") == 0)
		out[0] = '\0';
}

/* Standard input, up to one byte more than --explain takes. */
static char *
main_explain_stdin(size_t *len)
{
	char *buf = xmalloc(EXPLAIN_INPUT_MAX + 2);
	size_t n = 0, got;

	while (n < EXPLAIN_INPUT_MAX + 1) {
		got = fread(buf + n, 1, EXPLAIN_INPUT_MAX + 1 - n, stdin);
		if (got == 0)
			break;
		n += got;
	}
	if (ferror(stdin)) {
		free(buf);
		err_exit(EXIT_RUNTIME, "--explain: standard input",
		    strerror(errno), NULL);
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/*
 * The reply as it was understood, one line per line of the reply, the
 * command it answered after the last; the text escaped for the terminal.
 * (main_wrap folds the doubled spaces of empty parts.)
 */
static void
main_explain_head(const struct explain_reply *r, const char *answers)
{
	const char *t = r->text, *nl;
	char *line, *vis;
	bool last;

	do {
		nl = strchr(t, '\n');
		last = nl == NULL;
		vis = vis_dup(
		    t, last ? strlen(t) : (size_t)(nl - t), MB_CUR_MAX > 1);
		xasprintf(&line, "%d%s%s%s%s%s%s%s", r->code, last ? " " : "-",
		    r->enhanced, r->enhanced[0] != '\0' ? " " : "", vis,
		    last && answers[0] != '\0' ? " (in answer to " : "",
		    last ? answers : "", last && answers[0] != '\0' ? ")" : "");
		main_wrap(line, 0);
		free(line);
		free(vis);
		if (!last)
			t = nl + 1;
	} while (!last);
}

/*
 * --explain REPLY... [--after VERB] [-j]: the operands after the options,
 * joined by spaces, are a reply or an MTA's log line (getopt stops at the
 * first operand, so --after, -j and "--" are taken here too); a single "-"
 * reads it from standard input.  Nothing that holds a reply code is a usage
 * error (exit 2).
 */
static int
main_explain(
    struct diag *d, int argc, char **argv, const char *after, bool json)
{
	struct explain_reply r;
	struct event_diag *x;
	char *input, *why, *because, msg[512], logverb[16], verb[16];
	const char *answers;
	size_t len = 0, n = 0;
	bool opts = true, stdin_input;
	int i, status = EXIT_OK;

	for (i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	input = xcalloc(1, len + 1);
	for (i = 0, len = 0; i < argc; i++) {
		const char *a = argv[i];

		if (opts && strcmp(a, "--") == 0)
			opts = false;
		else if (opts && strcmp(a, "--after") == 0) {
			if (++i == argc)
				main_usage_error("--after",
				    "a command is needed, e.g. RCPT");
			after = argv[i];
		} else if (opts && strncmp(a, "--after=", 8) == 0)
			after = a + 8;
		else if (opts &&
			 (strcmp(a, "-j") == 0 || strcmp(a, "--json") == 0))
			json = true;
		else {
			if (n++ > 0)
				input[len++] = ' ';
			memcpy(input + len, a, strlen(a));
			len += strlen(a);
		}
	}
	if (n == 0)
		main_usage_error("--explain",
		    "a reply is needed, e.g. 452 4.5.3 Error: too many "
		    "recipients (or a log line; - reads standard input)");
	stdin_input = n == 1 && strcmp(input, "-") == 0;
	if (stdin_input) {
		free(input);
		input = main_explain_stdin(&len);
	}
	verb[0] = '\0';
	if (after != NULL && *after != '\0')
		main_explain_verb(after, verb);
	if (explain_parse(input, len, &r, &why) != 0) {
		snprintf(msg, sizeof msg, "%s", why);
		free(why);
		free(input);
		err_exit(EXIT_USAGE, "--explain", msg, NULL);
	}
	free(input);
	snprintf(logverb, sizeof logverb, "%s", r.answers);
	if (after != NULL && *after != '\0')
		snprintf(r.answers, sizeof r.answers, "%s", verb);
	answers = r.answers;

	x = diag_explain(d, r.code, r.enhanced[0] != '\0' ? r.enhanced : NULL,
	    r.text[0] != '\0' ? r.text : NULL,
	    answers[0] != '\0' ? answers : NULL);
	if (json) {
		if (out_json_explain(stdout, &r, x) != 0)
			status = EXIT_RUNTIME;
		event_diag_free(x);
		explain_reply_free(&r);
		return status;
	}
	main_explain_head(&r, answers);
	if (strcmp(r.form, "reply") != 0) {
		printf("From %s", explain_form_name(r.form));
		if (logverb[0] != '\0' && strcmp(logverb, answers) != 0)
			printf(": in reply to %s (--after %s overrides it)",
			    logverb, answers[0] != '\0' ? answers : "NONE");
		else if (logverb[0] != '\0')
			printf(": in reply to %s", logverb);
		else if (answers[0] != '\0')
			printf("; the command, %s, is from --after", answers);
		else
			printf(", which does not name the command it answered");
		printf("\n");
	}
	main_wrap(x->title, 0);
	printf("\n");
	main_explain_part("Meaning:", x->meaning);
	main_explain_part("Situation:", x->when);
	main_explain_part("What the sender can do:", x->fix_sender);
	main_explain_part(
	    "What the server's operator can do:", x->fix_operator);
	because = event_diag_why(x, EVENT_DIAG_EVIDENCE_MAX);
	main_explain_part("Why we think so:", because);
	free(because);
	printf("(rule %s)\n", x->rule);
	event_diag_free(x);
	explain_reply_free(&r);
	if (fflush(stdout) == EOF)
		status = EXIT_RUNTIME;
	return status;
}

/* ---- headless run */

static volatile sig_atomic_t main_stop_flag;
static struct runner *main_runner;
static struct writer *main_writer;

static void
main_on_signal(int sig)
{
	main_stop_flag = 1;
	if (main_runner != NULL)
		runner_stop(main_runner);
	/* The output's thread may be stuck writing to a reader that stopped
	   reading: it is interrupted if it stays so (writer_interrupt). */
	writer_interrupt(main_writer, sig);
}

struct main_sink {
	enum opts_mode mode;
	bool utf8;
	atomic_bool broken; /* stdout went away */
	bool flush_each;    /* flush after every event */
	struct runner *runner;
	/* Output on its own thread (NULL: written by the capture side), with
	   what it needs to finish each event there. */
	struct writer *writer;
	struct diag *diag;
	struct metrics *metrics;
};

/* The bytes of events handed to the output thread and not yet written:
   a sixteenth of the memory budget, at most MAIN_WRITER_MAX. */
#define MAIN_WRITER_MAX (8 * 1024 * 1024)

/* Live headless output: the buffer's size.  It is written out at least every
   RUNNER_FLUSH_MS (ms) and whenever the capture goes idle. */
#define MAIN_OUT_BUF (64 * 1024)

/*
 * A run that found no SMTP session but saw TCP traffic on other ports (a
 * capture file, or a BPF that let it through): the likely cause is a server
 * on another port, so name the busiest ones and the -P that would watch them.
 * On stderr: stdout stays pure JSON with -j.  The UI shows the same text.
 */
static void
main_no_session_hint(const struct main_sink *s)
{
	char hint[512];

	if (!runner_hint(s->runner, hint, sizeof hint))
		return;
	fprintf(stderr, "hint: %s\n", hint);
	fflush(stderr);
}

/* An event of the runner (the --maillog joiner saw it already), or a log
   line the joiner made: written. */
static void
main_output(struct main_sink *s, const struct event *ev)
{
	int rc;

	if (!atomic_load(&s->broken)) {
		if (s->mode == OPTS_MODE_JSON)
			rc = out_json_write(stdout, ev, s->flush_each);
		else
			rc = out_text_write(stdout, ev, s->utf8, s->flush_each);
		if (rc != 0) {
			atomic_store(&s->broken, true);
			if (s->runner != NULL)
				runner_stop(s->runner);
		}
	}
}

static void
main_write(void *arg, struct event *ev)
{
	main_output(arg, ev);
	event_free(ev);
}

/* With the output thread: the runner's events are handed to it ... */
static void
main_put(void *arg, struct event *ev)
{
	struct main_sink *s = arg;

	writer_put(s->writer, ev);
}

/* ... which diagnoses, counts and writes each (the pipeline left that to
   it: defer_finish), and frees the diagnosis it made: the rest of the
   event goes back to be freed where it was made. */
static void
main_write_finish(void *arg, struct event *ev)
{
	struct main_sink *s = arg;

	pipeline_event_finish(s->diag, s->metrics, ev);
	main_output(s, ev);
	if (ev->diag != NULL) {
		event_diag_free(ev->diag);
		ev->diag = NULL;
	}
}

/* The output thread ends: its line buffer goes. */
static void
main_writer_end(void *arg)
{
	(void)arg;
	out_json_thread_done();
}

/* The output thread wrote all it was given: out with it. */
static void
main_writer_idle(void *arg)
{
	struct main_sink *s = arg;

	if (!atomic_load(&s->broken) && fflush(stdout) == EOF) {
		atomic_store(&s->broken, true);
		runner_stop(s->runner);
	}
}

/* Live output is written in blocks: out by now at the latest (the capture
   went idle, or RUNNER_FLUSH_MS passed). */
static bool
main_idle(void *arg)
{
	struct main_sink *s = arg;

	if (s->writer != NULL) {
		/* Handed over now, flushed once written (main_writer_idle). */
		writer_kick(s->writer);
		return !atomic_load(&s->broken);
	}
	if (atomic_load(&s->broken))
		return false;
	if (!s->flush_each && fflush(stdout) == EOF) {
		atomic_store(&s->broken, true);
		return false;
	}
	return true;
}

static int
main_headless(struct main_sink *s)
{
	char *cause = NULL;
	int rc, status = EXIT_OK;

	rc = runner_run(s->runner, &cause);
	/* Everything handed over is written before the last flush. */
	writer_finish(s->writer);
	main_writer = NULL; /* the signal handler's; on this thread */
	writer_free(s->writer);
	s->writer = NULL;
	if (atomic_load(&s->broken))
		/* What could not be written is dropped, or exit would wait
		   on the same reader to flush it. */
		__fpurge(stdout);
	else if (fflush(stdout) == EOF)
		atomic_store(&s->broken, true);
	if (rc < 0) {
		err_print(runner_source(s->runner), cause, NULL);
		status = EXIT_RUNTIME;
	} else if (!atomic_load(&s->broken))
		main_no_session_hint(s);
	free(cause);
	return status;
}

/* --metrics-linger: serve the final counts a while after the capture ended,
   or until SIGINT or SIGTERM. */
static void
main_linger(long seconds)
{
	struct timespec step = {0, 100 * 1000 * 1000};
	long i;

	for (i = 0; i < seconds * 10 && !main_stop_flag; i++)
		nanosleep(&step, NULL);
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
	struct opts o;
	const char *uerr;
	char *bpf;
	struct diag *diag;
	struct keylog *kl = NULL;
	struct maillog *ml = NULL;
	char kwarn[512] = "";
	struct capture *cap;
	struct runner *runner;
	struct runner_config rc;
	struct main_sink sink;
	struct metrics *metrics = NULL;
	struct metrics_http *mhttp = NULL;
	const char *env, *give = NULL;
	char *cause = NULL;
	struct stat wst;
	int status, crc;
	size_t mem;
	char wwhat[PATH_MAX + 32];

	setlocale(LC_ALL, "");
	opts_init(&o);
	if ((uerr = opts_parse(&o, argc, argv)) != NULL)
		err_exit(EXIT_USAGE, uerr, NULL, "see smtpscope --help");
	switch (o.action) {
	case OPTS_RULES_DUMP:
		return main_dump(
		    "--rules-dump", rules_builtin_text, rules_builtin_text_len);
	case OPTS_LEXICON_DUMP:
		return main_dump("--lexicon-dump", lexicon_builtin_text,
		    lexicon_builtin_text_len);
	case OPTS_VERSION:
		main_version();
		return EXIT_OK;
	case OPTS_HELP:
		main_usage(stdout);
		return EXIT_OK;
	case OPTS_RUN:
		break;
	}
	argc = o.argc;
	argv = o.argv;

	diag = diag_new();
	if (o.rules_file != NULL) {
		struct rules *r = rules_load(o.rules_file, &cause);

		if (r == NULL)
			err_exit(EXIT_USAGE, "--rules", cause, NULL);
		diag_add_rules_take(diag, r);
	}
	if (o.lexicon_file != NULL) {
		struct lexicon *lx = lexicon_load(o.lexicon_file, &cause);

		if (lx == NULL)
			err_exit(EXIT_USAGE, "--lexicon", cause, NULL);
		diag_add_lexicon_take(diag, lx);
	}
	if (o.explain) {
		status = main_explain(diag, argc, argv, o.after,
		    o.mode_set && o.mode == OPTS_MODE_JSON);
		diag_free(diag);
		return status;
	}
	if (o.list_devices) {
		if (capture_list_devices(&cause) != 0)
			err_exit(EXIT_RUNTIME, "cannot list devices", cause,
			    "run as root or grant CAP_NET_RAW");
		diag_free(diag);
		return EXIT_OK;
	}

	/* The trailing arguments form the BPF expression, as in tcpdump. */
	bpf = opts_bpf(&o);
	o.cap.bpf = bpf;
	if ((uerr = opts_check(&o)) != NULL)
		err_exit(EXIT_USAGE, uerr, NULL, "see smtpscope --help");
	if (o.demo) {
		o.cap.file = main_demo_file();
		if (access(o.cap.file, R_OK) != 0)
			err_exit(EXIT_RUNTIME, o.cap.file, strerror(errno),
			    "the demo capture is installed by `make install`; "
			    "SMTPSCOPE_DEMO=FILE names another one");
		if (o.cap.replay == 0)
			o.cap.replay = 1.0;
		if (!o.mode_set)
			o.mode = OPTS_MODE_UI;
	} else if (!o.mode_set)
		o.mode = isatty(STDOUT_FILENO) ? OPTS_MODE_UI : OPTS_MODE_TEXT;
	/*
	 * The UI needs a terminal to draw on (stdout) and one to read keys
	 * from (stdin, or /dev/tty when stdin is the capture or redirected).
	 * Without them it falls back to one line per event, and says why.
	 */
	if (o.mode == OPTS_MODE_UI) {
		const char *noui = ui_unusable();

		if (noui != NULL) {
			err_print("no terminal UI", noui,
			    "showing one line per event instead (-N)");
			o.mode = OPTS_MODE_TEXT;
		}
	}

	o.cap.ports = o.pipe.ports;
	o.cap.n_ports = o.pipe.n_ports;
	o.cap.any_port = o.pipe.flow.any_port;
	crc = capture_open(&o.cap, &cap, &cause);
	if (crc != 0)
		err_exit(crc == CAPTURE_EUSAGE ? EXIT_USAGE : EXIT_RUNTIME,
		    cause, NULL, NULL);

	/* The key log is opened before dropping root, and kept open. */
	if (o.keylog == NULL && (env = getenv("SSLKEYLOGFILE")) != NULL &&
	    *env != '\0')
		o.keylog = env;
	/*
	 * A capture file that is all there (not a stream on stdin or a pipe)
	 * will not wait for a key log to appear: a missing one is no key log,
	 * and its TLS sessions say so rather than "no key for this session".
	 */
	if (o.keylog != NULL && o.cap.file != NULL &&
	    strcmp(o.cap.file, "-") != 0 && stat(o.cap.file, &wst) == 0 &&
	    S_ISREG(wst.st_mode) && stat(o.keylog, &wst) != 0 &&
	    errno == ENOENT) {
		/* On stderr, and in the UI as a banner. */
		snprintf(kwarn, sizeof kwarn,
		    "key log not found: %s; TLS sessions are not decrypted",
		    o.keylog);
		fprintf(stderr, "smtpscope: warning: %s\n", kwarn);
		fflush(stderr);
		o.keylog = NULL;
	}
	if (o.keylog != NULL || o.tls_key != NULL) {
		kl = keylog_new(o.keylog);
		/* Read before dropping root, like the key log. */
		if (o.tls_key != NULL &&
		    keylog_load_server_key(kl, o.tls_key, &cause) != 0)
			err_exit(EXIT_RUNTIME, "--tls-key", cause,
			    "give the server's unencrypted PEM RSA key");
	}
	if (o.keylog != NULL) {
		/* Not fatal: a client may create it once it runs. */
		if (keylog_refresh(kl, &cause) < 0) {
			/* On stderr, and in the UI as a banner. */
			snprintf(kwarn, sizeof kwarn,
			    "key log %s: %s; it is read again as it appears or "
			    "grows",
			    o.keylog, cause);
			fprintf(stderr, "smtpscope: warning: %s\n", kwarn);
			fflush(stderr);
			free(cause);
			cause = NULL;
		}
	}

	/*
	 * -w is opened as root, like tcpdump, so it can go anywhere.  A file
	 * it creates is handed to the user who ran sudo along with the
	 * process (privdrop); one that existed keeps its owner.
	 */
	if (o.write_file != NULL && lstat(o.write_file, &wst) != 0 &&
	    errno == ENOENT)
		give = o.write_file;
	if (o.write_file != NULL &&
	    capture_dump_open(cap, o.write_file, &cause) != 0) {
		capture_close(cap);
		snprintf(
		    wwhat, sizeof wwhat, "-w output file %s", o.write_file);
		err_exit(EXIT_RUNTIME, wwhat, cause, NULL);
	}

	/* Bound as root: the port may be a privileged one. */
	if (o.metrics != NULL &&
	    (mhttp = metrics_http_open(o.metrics, &cause)) == NULL) {
		capture_close(cap);
		snprintf(wwhat, sizeof wwhat, "--metrics %s", o.metrics);
		err_exit(EXIT_RUNTIME, wwhat, cause, NULL);
	}
	/*
	 * The MTA's log is opened before dropping root (it is often
	 * readable by root or the adm group only), and kept open; a rotated
	 * file is opened again by name, which needs the new user's rights.
	 */
	if (o.maillog != NULL) {
		ml = maillog_new((double)o.maillog_skew, main_write, &sink);
		if (maillog_open(ml, o.maillog, capture_is_live(cap), &cause) !=
		    0) {
			capture_close(cap);
			snprintf(
			    wwhat, sizeof wwhat, "--maillog %s", o.maillog);
			err_exit(EXIT_RUNTIME, wwhat, cause, NULL);
		}
	}

	/* Drop root before the first packet is parsed. */
	if (o.user_set || geteuid() == 0) {
		if (privdrop(o.user, give, &cause) != 0) {
			capture_close(cap);
			err_exit(EXIT_RUNTIME, "-Z", cause, NULL);
		}
	}

	if (mhttp != NULL) {
		metrics = metrics_new();
		o.pipe.metrics = metrics;
		if (metrics_http_start(mhttp, metrics, &cause) != 0) {
			capture_close(cap);
			err_exit(EXIT_RUNTIME, "--metrics", cause, NULL);
		}
	}

	memset(&sink, 0, sizeof sink);
	sink.mode = o.mode;
	sink.utf8 = MB_CUR_MAX > 1;
	/*
	 * Events are flushed line by line when someone may be watching them
	 * arrive and the next packet may take long: a stream on stdin or a
	 * pipe, --replay.  Live capture writes in blocks, flushed at least
	 * every RUNNER_FLUSH_MS and whenever the capture goes idle, so a
	 * reader (| jq) follows along without one write per event at line
	 * rate.  A capture file read as fast as possible is written in full
	 * buffers of the same size (not stdio's 4 KiB for a pipe); the
	 * output is the same, only sooner.
	 */
	sink.flush_each = o.cap.replay > 0 || capture_is_stream(cap);
	if ((capture_is_live(cap) || !sink.flush_each) &&
	    o.mode != OPTS_MODE_UI) {
		/* glibc ignores the size unless it is given the buffer. */
		static char outbuf[MAIN_OUT_BUF];

		setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
	}
	o.pipe.keep_packets = o.mode == OPTS_MODE_UI;
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
	o.pipe.memory = o.mode == OPTS_MODE_UI ? mem / 2 : mem;
	if (o.pipe.flow.ooo_total > o.pipe.memory / 2)
		o.pipe.flow.ooo_total = o.pipe.memory / 2;
	memset(&rc, 0, sizeof rc);
	rc.cap = cap;
	rc.pipe_cfg = &o.pipe;
	rc.diag = diag;
	rc.keylog = kl;
	rc.maillog = ml;
	rc.dumping = o.write_file != NULL;
	if (o.mode == OPTS_MODE_UI) {
		struct ui_config uc;

		rc.mode = RUNNER_QUEUE;
		rc.queue_bytes = mem / 8;
		runner = runner_new(&rc);
		memset(&uc, 0, sizeof uc);
		uc.runner = runner;
		uc.store_bytes = mem - mem / 2 - mem / 8;
		uc.limit = o.limit;
		uc.demo = o.demo;
		uc.source = capture_source(cap);
		uc.warning = kwarn[0] != '\0' ? kwarn : NULL;
		status = ui_run(&uc);
	} else {
		struct sigaction sa;

		rc.mode = RUNNER_DIRECT;
		rc.emit = main_write;
		rc.arg = &sink;
		rc.idle = main_idle;
		/*
		 * Output written in blocks goes through its own thread, which
		 * also makes each event's diagnosis: on a second core, beside
		 * the capture.  Not with --maillog (its joiner reads the
		 * diagnoses on the capture side), nor when every event is
		 * flushed at once (a stream, --replay: no rate to keep up).
		 */
		if (!sink.flush_each && ml == NULL) {
			size_t wbytes = mem / 16;

			if (wbytes > MAIN_WRITER_MAX)
				wbytes = MAIN_WRITER_MAX;
			o.pipe.memory -= wbytes;
			o.pipe.defer_finish = true;
			sink.diag = diag;
			sink.metrics = metrics;
			sink.writer = writer_new(main_write_finish,
			    main_writer_idle, main_writer_end, &sink, wbytes);
			main_writer = sink.writer;
			rc.emit = main_put;
		}
		runner = runner_new(&rc);
		sink.runner = runner;
		signal(SIGPIPE, SIG_IGN);
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = main_on_signal;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		main_runner = runner;
		status = main_headless(&sink);
		if (metrics != NULL)
			main_linger(o.metrics_linger);
		main_runner = NULL;
	}
	metrics_http_close(mhttp);
	metrics_free(metrics);
	runner_free(runner);
	maillog_free(ml);
	capture_close(cap);
	keylog_free(kl);
	diag_free(diag);
	free(bpf);
	return status;
}
