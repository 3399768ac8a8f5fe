/* diag.c: STUB, to be written. */
#include "config.h"

#include "diag.h"

#include <stdlib.h>

#include <string.h>

#include "xmalloc.h"
struct diag {
	struct rules *builtin;
};

struct diag *
diag_new(void)
{
	struct diag *d = xcalloc(1, sizeof *d);

	d->builtin = rules_builtin();
	return d;
}

void
diag_free(struct diag *d)
{
	if (d == NULL)
		return;
	rules_free(d->builtin);
	free(d);
}

void
diag_add_rules_take(struct diag *d, struct rules *r)
{
	(void)d;
	rules_free(r);
}

struct event_diag *
diag_explain(struct diag *d, int code, const char *enhanced, const char *text,
    const char *answers)
{
	struct event_diag *x = xcalloc(1, sizeof *x);

	(void)d; (void)enhanced; (void)text; (void)answers;
	x->rule = xstrdup("generic");
	xasprintf(&x->title, "%d", code);
	x->meaning = xstrdup("");
	x->when = xstrdup("");
	x->fix_sender = xstrdup("");
	x->fix_operator = xstrdup("");
	return x;
}

void
diag_reply(struct diag *d, struct event *ev)
{
	if (ev->code != 421 && ev->code != 452)
		return;
	ev->highlight = true;
	ev->diag = diag_explain(d, ev->code, ev->enhanced, ev->text,
	    ev->answers);
}

const char *
diag_code_meaning(int code)
{
	(void)code;
	return NULL;
}

const char *
diag_enhanced_meaning(const char *enhanced)
{
	(void)enhanced;
	return NULL;
}
