/*
 * libFuzzer target for the --explain parser: any bytes give either a reply
 * (code 200 to 599, text no longer than the input, a command the rules know)
 * or a reason, never a crash, a leak or an endless scan.  A reply is then
 * explained, as --explain does.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "event.h"
#include "explain.h"
#include "rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct diag *d;
	struct explain_reply r;
	struct event_diag *x;
	char *why = NULL;

	if (explain_parse((const char *)data, size, &r, &why) != 0) {
		if (why == NULL || r.text != NULL || r.code != 0)
			abort();
		free(why);
		return 0;
	}
	if (why != NULL || r.code < 200 || r.code > 599 || r.text == NULL ||
	    strlen(r.text) > size || r.form == NULL ||
	    memchr(r.enhanced, '\0', sizeof r.enhanced) == NULL ||
	    (r.answers[0] != '\0' && !rules_answers_valid(r.answers)))
		abort();
	if (d == NULL)
		d = diag_new();
	x = diag_explain(d, r.code, r.enhanced[0] != '\0' ? r.enhanced : NULL,
	    r.text, r.answers[0] != '\0' ? r.answers : NULL);
	event_diag_free(x);
	explain_reply_free(&r);
	return 0;
}
