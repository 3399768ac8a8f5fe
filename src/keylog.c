/* keylog.c: STUB, to be written. */
#include "config.h"

#include "keylog.h"

#include <stdlib.h>

#include "xmalloc.h"
struct keylog {
	char *path;
};

struct keylog *
keylog_new(const char *path)
{
	struct keylog *k = xcalloc(1, sizeof *k);

	k->path = xstrdup(path);
	return k;
}

void
keylog_free(struct keylog *k)
{
	if (k == NULL)
		return;
	free(k->path);
	free(k);
}

size_t
keylog_add_text(struct keylog *k, const char *text, size_t len)
{
	(void)k; (void)text; (void)len;
	return 0;
}

int
keylog_refresh(struct keylog *k, const char **why)
{
	(void)k;
	*why = NULL;
	return 0;
}

bool
keylog_lookup(const struct keylog *k, const char *label,
    const uint8_t client_random[32], uint8_t *secret, size_t *secret_len)
{
	(void)k; (void)label; (void)client_random; (void)secret;
	*secret_len = 0;
	return false;
}

size_t
keylog_count(const struct keylog *k)
{
	(void)k;
	return 0;
}

size_t
keylog_junk(const struct keylog *k)
{
	(void)k;
	return 0;
}
