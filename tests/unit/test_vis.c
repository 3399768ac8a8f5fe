/* Unit tests of vis: terminal and JSON escaping of wire bytes. */
#include "config.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vis.h"

static void
test_text_controls(void **state)
{
	char buf[128];
	size_t n;

	(void)state;
	n = vis_text(buf, sizeof buf, "a\x1b[31mb\r\n\t\\\x07", 12, 1);
	assert_string_equal(buf, "a\\e[31mb\\r\\n\\t\\\\\\x07");
	assert_int_equal(n, strlen(buf));
}

static void
test_text_utf8(void **state)
{
	char buf[64];

	(void)state;
	/* Valid UTF-8 kept with utf8 on, escaped with it off. */
	vis_text(buf, sizeof buf, "caf\xc3\xa9", 5, 1);
	assert_string_equal(buf, "caf\xc3\xa9");
	vis_text(buf, sizeof buf, "caf\xc3\xa9", 5, 0);
	assert_string_equal(buf, "caf\\xc3\\xa9");
	/* C1 control (U+009B, CSI) is escaped even in UTF-8 mode. */
	vis_text(buf, sizeof buf,
	    "\xc2\x9b"
	    "2J",
	    4, 1);
	assert_string_equal(buf, "\\xc2\\x9b2J");
	/* Overlong and truncated sequences are escaped. */
	vis_text(buf, sizeof buf, "\xc0\xaf\xe2\x82", 4, 1);
	assert_string_equal(buf, "\\xc0\\xaf\\xe2\\x82");
	/* Surrogates are not valid UTF-8. */
	vis_text(buf, sizeof buf, "\xed\xa0\x80", 3, 1);
	assert_string_equal(buf, "\\xed\\xa0\\x80");
}

static void
test_text_truncates(void **state)
{
	char buf[6];
	size_t n;

	(void)state;
	n = vis_text(buf, sizeof buf, "abcdefgh", 8, 1);
	assert_string_equal(buf, "abcde");
	assert_int_equal(n, 5);
	/* An escape that does not fit is not cut in half. */
	n = vis_text(buf, sizeof buf, "abc\x01", 4, 1);
	assert_string_equal(buf, "abc");
	assert_int_equal(n, 3);
}

static void
test_dup_nul(void **state)
{
	char *s;

	(void)state;
	s = vis_dup("a\0b", 3, 1);
	assert_string_equal(s, "a\\x00b");
	free(s);
}

static void
test_json(void **state)
{
	char *s;

	(void)state;
	s = vis_json("q\"b\\s\n\x01\x7f", 8);
	assert_string_equal(s, "q\\\"b\\\\s\\n\\u0001\\u007f");
	free(s);
	/* Invalid UTF-8 becomes U+FFFD; valid passes. */
	s = vis_json("\xff\xc3\xa9", 3);
	assert_string_equal(s, "\xef\xbf\xbd\xc3\xa9");
	free(s);
	s = vis_json("\xc2\x85", 2);
	assert_string_equal(s, "\\u0085");
	free(s);
}

/* vis_fixed writes what printf's "%.*f" writes: ties (to even), values
   just off them, -0, huge ones, NaN and infinities included. */
static void
test_fixed(void **state)
{
	static const double odd[] = {0, -0.0, 0.25, 0.75, 1.25, 2.5, 0.0005,
	    0.0015, 1.0005, 0.05, 0.15, 1e-9, 4294967.2955, 4294967296.0, 1e300,
	    -1.5, -1e-9, 0.1 + 0.2, 999.9995, 12345.6789};
	char got[VIS_FIXED_LEN], want[VIS_FIXED_LEN];
	unsigned seed = 99;
	double v;
	size_t i, n;
	int d;

	(void)state;
	for (d = 1; d <= 3; d++) {
		for (i = 0; i < sizeof odd / sizeof odd[0] + 3; i++) {
			v = i < sizeof odd / sizeof odd[0]	  ? odd[i]
			    : i == sizeof odd / sizeof odd[0]	  ? NAN
			    : i == sizeof odd / sizeof odd[0] + 1 ? INFINITY
								  : -INFINITY;
			n = vis_fixed(got, v, d);
			snprintf(want, sizeof want, "%.*f", d, v);
			assert_string_equal(got, want);
			assert_int_equal(n, strlen(want));
		}
		for (i = 0; i < 300000; i++) {
			seed = seed * 1103515245u + 12345u;
			v = (double)(seed % 100000000u) / 100000.0;
			n = vis_fixed(got, v, d);
			snprintf(want, sizeof want, "%.*f", d, v);
			assert_string_equal(got, want);
			assert_int_equal(n, strlen(want));
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fixed),
	    cmocka_unit_test(test_text_controls),
	    cmocka_unit_test(test_text_utf8),
	    cmocka_unit_test(test_text_truncates),
	    cmocka_unit_test(test_dup_nul),
	    cmocka_unit_test(test_json),
	};

	return cmocka_run_group_tests_name("vis", tests, NULL, NULL);
}
