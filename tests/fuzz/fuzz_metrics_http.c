/*
 * fuzz_metrics_http: libFuzzer target for the request parser of --metrics
 * (metrics_http_parse) and the label escaping of the exposition
 * (metrics_escape).
 *
 * Input: the bytes a scraper sent, as they arrived.
 *
 * Model: the parser reads only within len (ASan sees an overread: the
 * request is copied to a buffer of exactly its size); a verdict other than
 * "incomplete" does not change when more bytes follow (the server answers
 * as soon as the headers end); every prefix of an incomplete request is
 * incomplete too.  The escaped form of the input (up to its first NUL) is
 * printable ASCII without a bare double quote or newline, so it can never
 * end a label value or a line early.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "metrics_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz_metrics_http: model check failed: %s\n", what);
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *req, *more, *str, *esc;
	enum metrics_http_req r, r2;
	size_t i, n, cut;

	if (size > 2 * METRICS_HTTP_REQ_MAX)
		return 0;
	req = malloc(size > 0 ? size : 1);
	if (req == NULL)
		return 0;
	memcpy(req, data, size);
	r = metrics_http_parse(req, size);
	if (r != METRICS_REQ_INCOMPLETE) {
		more = malloc(size + 16);
		if (more == NULL)
			abort();
		memcpy(more, req, size);
		memcpy(more + size, "\r\nX: y\r\n\r\nGET /", 16);
		r2 = metrics_http_parse(more, size + 16);
		if (r2 != r)
			fuzz_fail("the verdict changed when more bytes came");
		free(more);
	} else if (size > 0) {
		cut = data[0] % size;
		if (metrics_http_parse(req, cut) != METRICS_REQ_INCOMPLETE)
			fuzz_fail(
			    "a prefix of an incomplete request is complete");
	}
	free(req);

	str = malloc(size + 1);
	esc = malloc(4 * size + 1);
	if (str == NULL || esc == NULL)
		abort();
	memcpy(str, data, size);
	str[size] = '\0';
	n = metrics_escape(esc, 4 * size + 1, str);
	if (n != strlen(esc))
		fuzz_fail("escape returned a wrong length");
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)esc[i];

		if (c < 0x20 || c >= 0x7f)
			fuzz_fail("escape left a non-printable byte");
		if (c == '\\') {
			i++; /* the escaped character */
			if (i >= n)
				fuzz_fail("escape ends in a lone backslash");
			continue;
		}
		if (c == '"')
			fuzz_fail("escape left a bare double quote");
	}
	/* With a full buffer nothing is cut. */
	if (strlen(str) > 0 && n == 0)
		fuzz_fail("escape wrote nothing");
	free(str);
	free(esc);
	return 0;
}
