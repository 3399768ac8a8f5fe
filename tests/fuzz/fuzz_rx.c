/*
 * libFuzzer target for rx, differential: the input's first byte picks
 * the locale (even: C, odd: C.UTF-8), the bytes up to the first NUL after
 * it are a pattern, the rest a text.  Whenever regcomp accepts the
 * pattern and rx takes it, rx_test must give regexec's answer on the
 * text; any difference is a finding (abort), as is a crash or a leak.
 */
#include "config.h"

#include <locale.h>
#include <regex.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rx.h"
#include "xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Longer patterns cost regcomp more than they find. */
#define FUZZ_PATTERN_MAX 256
#define FUZZ_TEXT_MAX 1024

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int utf = -1;
	const uint8_t *nul;
	char *pat, *text, *cause = NULL;
	size_t plen, tlen;
	regex_t re;
	struct rx *r;
	bool want, got;

	if (size < 2)
		return 0;
	if (utf != (data[0] & 1)) {
		utf = data[0] & 1;
		if (setlocale(LC_ALL, utf ? "C.UTF-8" : "C") == NULL)
			setlocale(LC_ALL, "C");
	}
	data++;
	size--;
	nul = memchr(data, '\0', size);
	plen = nul != NULL ? (size_t)(nul - data) : size;
	if (plen > FUZZ_PATTERN_MAX)
		return 0;
	tlen = nul != NULL ? size - plen - 1 : 0;
	if (tlen > FUZZ_TEXT_MAX)
		tlen = FUZZ_TEXT_MAX;
	pat = xstrndup((const char *)data, plen);
	text = xmalloc(tlen + 1);
	if (tlen > 0)
		memcpy(text, nul + 1, tlen);
	text[tlen] = '\0';
	r = rx_new(pat, &cause);
	if (r == NULL) {
		free(cause);
	} else {
		if (regcomp(&re, pat, REG_EXTENDED | REG_ICASE | REG_NOSUB) !=
		    0)
			abort(); /* rx took what regcomp refuses */
		want = regexec(&re, text, 0, NULL, 0) == 0;
		got = rx_test(r, text, tlen);
		if (want != got)
			abort();
		regfree(&re);
		rx_free(r);
	}
	free(pat);
	free(text);
	return 0;
}
