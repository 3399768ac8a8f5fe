/*
 * libFuzzer target for the rules file parser and the lexicon parser (the
 * --rules and --lexicon files): any bytes must give either a list or a
 * "FILE:LINE: why" error, never a crash or a leak.  What parses is run
 * through diag on fixed replies, so that templates, conditions and
 * lexicon entries from hostile files are exercised too.  One diag (the
 * built-in rules compiled once) serves every input: a site's rules and
 * lexicon are added to it and dropped again (diag_drop_site).
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "event.h"
#include "lexicon.h"
#include "rules.h"
#include "xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct diag *fuzz_diag;

/* The one diag, made on first use; freed at exit so LeakSanitizer sees
   only what an input leaked. */
static void
fuzz_diag_free(void)
{
	diag_free(fuzz_diag);
	fuzz_diag = NULL;
}

static struct diag *
fuzz_diag_get(void)
{
	if (fuzz_diag == NULL) {
		fuzz_diag = diag_new();
		atexit(fuzz_diag_free);
	}
	return fuzz_diag;
}

/* The input as a lexicon: an error names the file, a lexicon explains. */
static void
fuzz_lexicon(const uint8_t *data, size_t size)
{
	struct lexicon *lx;
	struct diag *d;
	struct event_diag *x;
	char *why = NULL;

	lx = lexicon_parse((const char *)data, size, "fuzz", &why);
	if (lx == NULL) {
		if (why == NULL || strncmp(why, "fuzz:", 5) != 0)
			abort();
		free(why);
		return;
	}
	d = fuzz_diag_get();
	diag_add_lexicon_take(d, lx);
	x = diag_explain(d, 421, "4.3.2", "Service shutting down", "MAIL");
	event_diag_free(x);
	x = diag_explain(d, 451, NULL, "(#4.7.1) come back later", NULL);
	event_diag_free(x);
	diag_drop_site(d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rules *rs;
	struct diag *site;
	struct event *ev;
	struct event_diag *x;
	char *cause = NULL;

	fuzz_lexicon(data, size);
	rs = rules_parse((const char *)data, size, "fuzz", &cause);
	if (rs == NULL) {
		if (cause == NULL || strncmp(cause, "fuzz:", 5) != 0)
			abort();
		free(cause);
		return 0;
	}
	site = fuzz_diag_get();
	diag_add_rules_take(site, rs);
	ev = event_new(EV_REPLY);
	ev->code = 452;
	snprintf(ev->enhanced, sizeof ev->enhanced, "4.5.3");
	snprintf(ev->answers, sizeof ev->answers, "RCPT");
	snprintf(ev->server, sizeof ev->server, "192.0.2.1:25");
	ev->text = xstrdup("Error: too many recipients");
	ev->text_len = strlen(ev->text);
	ev->ctx.rcpt_seen = 4;
	ev->ctx.rcpt_accepted = 3;
	ev->ctx.idle_ms = 1500;
	diag_reply(site, ev);
	event_free(ev);
	x = diag_explain(site, 421, NULL, NULL, NULL);
	event_diag_free(x);
	diag_drop_site(site);
	return 0;
}
