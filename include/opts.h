#ifndef SMTPSCOPE_OPTS_H
#define SMTPSCOPE_OPTS_H

/*
 * opts: the command line (OPTIONS in doc/smtpscope.1) parsed into a struct,
 * without printing or exiting, so that it can be tested and fuzzed.  main
 * prints the error string as "smtpscope: ERROR" with the usage hint and
 * exits 2.
 */

#include <stdbool.h>
#include <stddef.h>

#include "capture.h"
#include "pipeline.h"

enum opts_mode { OPTS_MODE_UI, OPTS_MODE_JSON, OPTS_MODE_TEXT };

/* What the command line asks for besides a run. */
enum opts_action {
	OPTS_RUN,
	OPTS_HELP,
	OPTS_VERSION,
	OPTS_RULES_DUMP,
	OPTS_LEXICON_DUMP,
};

/* --memory: default and least MiB. */
#define OPTS_MEMORY_DEFAULT 256
#define OPTS_MEMORY_MIN 8

struct opts {
	struct capture_config cap;
	struct pipeline_config pipe;
	enum opts_action action;
	enum opts_mode mode;
	bool mode_set;
	bool list_devices;
	const char *write_file;
	const char *keylog;
	const char *tls_key;
	const char *user;
	bool user_set;
	bool demo;
	size_t limit;
	size_t memory_mib;
	size_t flows; /* 0: FLOW_MAX_DEFAULT */
	const char *rules_file;
	const char *lexicon_file;
	bool explain;
	const char *after;
	const char *maillog; /* --maillog FILE, NULL: off */
	long maillog_skew;   /* --maillog-skew, seconds */
	const char *metrics; /* --metrics [ADDR:]PORT, NULL: off */
	long metrics_linger; /* --metrics-linger SECONDS */
	/* The operands after the options (a BPF expression, or the reply of
	   --explain); they point into the argv given to opts_parse. */
	int argc;
	char **argv;
	char err[320];
};

/* The defaults, before any option. */
void opts_init(struct opts *);
/*
 * Parse argv (argv[0] is the program) into o, stopping at the first
 * operand, or at -h, -V, --rules-dump or --lexicon-dump (o->action).
 * Returns NULL, or a usage error "OPTION: why" held in o->err; the strings
 * of o point into argv.  Not reentrant (getopt_long).
 */
const char *opts_parse(struct opts *o, int argc, char **argv);
/* The checks between options once the command is known to be a capture
   run (not --explain, not -D): NULL, or a usage error in o->err. */
const char *opts_check(struct opts *o);
/* The operands joined by spaces (the BPF expression), or NULL when there
   are none; the caller frees it. */
char *opts_bpf(const struct opts *o);

#endif
