/* rules.c: STUB, to be written. */
#include "config.h"

#include "rules.h"

#include <stdlib.h>

#include "xmalloc.h"
struct rules {
	size_t n;
};

struct rules *
rules_parse(const char *text, size_t len, const char *fname, char **cause)
{
	(void)text; (void)len; (void)fname; (void)cause;
	return xcalloc(1, sizeof(struct rules));
}

struct rules *
rules_load(const char *path, char **cause)
{
	return rules_parse("", 0, path, cause);
}

struct rules *
rules_builtin(void)
{
	char *cause = NULL;

	return rules_parse(rules_builtin_text, rules_builtin_text_len,
	    "rules.conf", &cause);
}

void
rules_free(struct rules *r)
{
	free(r);
}

size_t
rules_count(const struct rules *r)
{
	return r->n;
}
