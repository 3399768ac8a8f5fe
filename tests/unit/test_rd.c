/* Unit tests of rd: bounds, sticky errors, sub-cursors. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "rd.h"

static void
test_reads(void **state)
{
	static const uint8_t b[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
	struct rd r;

	(void)state;
	rd_init(&r, b, sizeof b);
	assert_int_equal(rd_u8(&r), 1);
	assert_int_equal(rd_be16(&r), 0x0203);
	assert_int_equal(rd_be24(&r), 0x040506);
	assert_int_equal(rd_be32(&r), 0x0708090a);
	assert_int_equal(rd_left(&r), 1);
	assert_int_equal(r.err, 0);
	/* Past the end: 0 and the sticky flag. */
	assert_int_equal(rd_be16(&r), 0);
	assert_int_equal(r.err, 1);
	/* The byte that was left cannot be read any more either. */
	assert_int_equal(rd_u8(&r), 0);
	assert_int_equal(rd_left(&r), 0);
}

static void
test_le_and_64(void **state)
{
	static const uint8_t b[] = {
	    0x34, 0x12, 0x78, 0x56, 0x34, 0x12, 1, 2, 3, 4, 5, 6, 7, 8};
	struct rd r;

	(void)state;
	rd_init(&r, b, sizeof b);
	assert_int_equal(rd_le16(&r), 0x1234);
	assert_int_equal(rd_le32(&r), 0x12345678);
	assert_true(rd_be64(&r) == 0x0102030405060708ULL);
	assert_int_equal(r.err, 0);
}

static void
test_bytes_skip_sub(void **state)
{
	static const uint8_t b[] = {3, 'a', 'b', 'c', 9, 9};
	struct rd r, s;
	const uint8_t *p;
	uint8_t out[4];

	(void)state;
	rd_init(&r, b, sizeof b);
	s = rd_sub(&r, rd_u8(&r));
	assert_int_equal(rd_left(&s), 3);
	p = rd_bytes(&s, 3);
	assert_non_null(p);
	assert_memory_equal(p, "abc", 3);
	assert_null(rd_bytes(&s, 1));
	assert_int_equal(s.err, 1);
	/* The parent is unaffected by the sub-cursor's error. */
	assert_int_equal(r.err, 0);
	assert_int_equal(rd_peek(&r, 1), 9);
	assert_int_equal(rd_peek(&r, 2), 0);
	rd_skip(&r, 1);
	assert_int_equal(rd_copy(&r, out, 2), -1);
	assert_int_equal(out[0], 0);
	assert_int_equal(r.err, 1);
}

static void
test_sub_too_long(void **state)
{
	static const uint8_t b[] = {200, 1, 2};
	struct rd r, s;

	(void)state;
	rd_init(&r, b, sizeof b);
	s = rd_sub(&r, rd_u8(&r));
	assert_int_equal(s.err, 1);
	assert_int_equal(rd_left(&s), 0);
	assert_int_equal(r.err, 1);
}

static void
test_null(void **state)
{
	struct rd r;

	(void)state;
	rd_init(&r, NULL, 10);
	assert_int_equal(rd_left(&r), 0);
	assert_int_equal(rd_u8(&r), 0);
	assert_int_equal(r.err, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reads),
	    cmocka_unit_test(test_le_and_64),
	    cmocka_unit_test(test_bytes_skip_sub),
	    cmocka_unit_test(test_sub_too_long),
	    cmocka_unit_test(test_null),
	};

	return cmocka_run_group_tests_name("rd", tests, NULL, NULL);
}
