/* Unit tests of opts: the command line parsed without exiting. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "opts.h"

/* Parse a NULL-terminated list of arguments after "smtpscope". */
static const char *
parse(struct opts *o, const char *const *args)
{
	static char *argv[32];
	int argc = 0;

	argv[argc++] = (char *)"smtpscope";
	while (*args != NULL && argc < 31)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	opts_init(o);
	return opts_parse(o, argc, argv);
}

#define PARSE(o, ...) parse(o, (const char *const[]){__VA_ARGS__, NULL})

static void
test_defaults(void **state)
{
	struct opts o;

	(void)state;
	assert_null(PARSE(&o, "-r", "x.pcap", "port", "25"));
	assert_string_equal(o.cap.file, "x.pcap");
	assert_int_equal(o.cap.snaplen, 262144);
	assert_true(o.cap.promisc);
	assert_int_equal(o.limit, 10000);
	assert_int_equal(o.memory_mib, OPTS_MEMORY_DEFAULT);
	assert_int_equal(o.maillog_skew, 5);
	assert_null(o.maillog);
	assert_int_equal(o.action, OPTS_RUN);
	assert_false(o.mode_set);
	assert_int_equal(o.argc, 2);
	assert_string_equal(o.argv[0], "port");
	assert_null(opts_check(&o));
}

static void
test_values(void **state)
{
	struct opts o;
	char *bpf;

	(void)state;
	assert_null(PARSE(&o, "-i", "eth0", "-P", "25,2525-2527,25", "-s", "0",
	    "-B", "4", "-p", "-c", "7", "-j", "--limit=5", "--flows", "3",
	    "--memory", "8", "--replay=2.5", "--show-auth", "tcp", "and",
	    "host", "a"));
	assert_string_equal(o.cap.iface, "eth0");
	assert_int_equal(o.pipe.n_ports, 4);
	assert_int_equal(o.pipe.ports[3], 2527);
	assert_int_equal(o.cap.snaplen, 262144);
	assert_int_equal(o.cap.buffer_mib, 4);
	assert_false(o.cap.promisc);
	assert_int_equal(o.cap.count, 7);
	assert_int_equal(o.mode, OPTS_MODE_JSON);
	assert_int_equal(o.limit, 5);
	assert_int_equal(o.flows, 3);
	assert_int_equal(o.memory_mib, 8);
	assert_true(o.cap.replay > 2.4 && o.cap.replay < 2.6);
	assert_true(o.pipe.show_auth);
	bpf = opts_bpf(&o);
	assert_string_equal(bpf, "tcp and host a");
	free(bpf);
	/* --replay without -r */
	assert_string_equal(
	    opts_check(&o), "--replay: needs a capture file (-r)");
	assert_null(PARSE(&o, "-P", "any"));
	assert_true(o.pipe.flow.any_port);
	assert_null(opts_bpf(&o));
}

static void
test_errors(void **state)
{
	struct opts o;

	(void)state;
	assert_string_equal(PARSE(&o, "--bogus=1"), "--bogus: unknown option");
	assert_string_equal(PARSE(&o, "-x"), "-x: unknown option");
	assert_string_equal(
	    PARSE(&o, "-r"), "-r: this option needs an argument");
	assert_string_equal(
	    PARSE(&o, "--rules"), "--rules: this option needs an argument");
	assert_string_equal(
	    PARSE(&o, "-j", "-N"), "-N: cannot be used with -j");
	assert_string_equal(
	    PARSE(&o, "-s", "1x"), "-s: '1x' is not a number from 0 to 262144");
	assert_string_equal(PARSE(&o, "-c", "0"),
	    "-c: '0' is not a positive number of packets");
	assert_string_equal(PARSE(&o, "-P", "9-3"),
	    "-P: '9-3' is not a port (1 to 65535) or a range of ports (e.g. "
	    "2525-2530)");
	assert_string_equal(PARSE(&o, "-P", ","), "-P: no port given");
	assert_non_null(strstr(PARSE(&o, "-P", "1-65535"), "more than"));
	assert_string_equal(PARSE(&o, "--replay=nan"),
	    "--replay: SPEED must be a number above 0 and up to 1000");
	assert_null(PARSE(&o, "--demo", "-r", "x"));
	assert_string_equal(
	    opts_check(&o), "--demo: cannot be used with -r or -i");
	assert_null(PARSE(&o, "-i", "lo", "-r", "x"));
	assert_string_equal(opts_check(&o), "-r: cannot be used with -i");
	assert_null(PARSE(&o, "-r", "x", "--metrics", "127.0.0.1:9125",
	    "--metrics-linger", "30"));
	assert_string_equal(o.metrics, "127.0.0.1:9125");
	assert_int_equal(o.metrics_linger, 30);
	assert_null(opts_check(&o));
	assert_null(PARSE(&o, "-r", "x", "--maillog", "/var/log/mail.log",
	    "--maillog-skew", "0"));
	assert_string_equal(o.maillog, "/var/log/mail.log");
	assert_int_equal(o.maillog_skew, 0);
	assert_non_null(
	    strstr(PARSE(&o, "--maillog-skew", "3601"), "--maillog-skew: "));
	assert_null(PARSE(&o, "-r", "x", "--metrics-linger", "30"));
	assert_string_equal(
	    opts_check(&o), "--metrics-linger: needs --metrics");
	assert_non_null(strstr(PARSE(&o, "--metrics", "mx:1"), "--metrics: "));
	assert_non_null(
	    strstr(PARSE(&o, "--metrics-linger", "-1"), "--metrics-linger: "));
}

/* A byte above 0x7f inside a cluster of short options is named once, as
   -\xNN, not by argv[0] ("smtpscope: smtpscope: unknown option"). */
static void
test_high_byte(void **state)
{
	struct opts o;

	(void)state;
	assert_string_equal(PARSE(&o, "-\xffj"), "-\\xff: unknown option");
	assert_string_equal(PARSE(&o, "-j\xff"), "-\\xff: unknown option");
	assert_string_equal(PARSE(&o, "-\x01"), "-\\x01: unknown option");
	assert_string_equal(
	    PARSE(&o, "--\x1b[2J"), "--\\x1b[2J: unknown option");
}

static void
test_actions(void **state)
{
	struct opts o;

	(void)state;
	/* The first of them wins; what follows is not looked at. */
	assert_null(PARSE(&o, "-h", "--bogus"));
	assert_int_equal(o.action, OPTS_HELP);
	assert_null(PARSE(&o, "-jV", "-N"));
	assert_int_equal(o.action, OPTS_VERSION);
	assert_null(PARSE(&o, "--rules-dump"));
	assert_int_equal(o.action, OPTS_RULES_DUMP);
	assert_null(PARSE(&o, "--lexicon-dump"));
	assert_int_equal(o.action, OPTS_LEXICON_DUMP);
	assert_non_null(PARSE(&o, "--bogus", "-h"));
	/* A parse that stopped inside a cluster does not leak into the
	   next one. */
	assert_null(PARSE(&o, "-hj"));
	assert_null(PARSE(&o, "-N"));
	assert_int_equal(o.mode, OPTS_MODE_TEXT);
	/* --explain stops at its first operand. */
	assert_null(PARSE(&o, "--explain", "452", "--after", "RCPT"));
	assert_true(o.explain);
	assert_int_equal(o.argc, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_values),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_high_byte),
	    cmocka_unit_test(test_actions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
