/* store.c: STUB, to be written. */
#include "config.h"

#include "store.h"

#include <stdlib.h>

#include "xmalloc.h"
struct store {
	struct store_stats stats;
};

struct store *
store_new(size_t limit)
{
	(void)limit;
	return xcalloc(1, sizeof(struct store));
}

void
store_free(struct store *s)
{
	free(s);
}

struct store_session *
store_add_take(struct store *s, struct event *ev)
{
	(void)s;
	event_free(ev);
	return NULL;
}

size_t
store_count(const struct store *s)
{
	(void)s;
	return 0;
}

struct store_session *
store_at(const struct store *s, size_t i)
{
	(void)s; (void)i;
	return NULL;
}

struct store_session *
store_find(const struct store *s, uint64_t id)
{
	(void)s; (void)id;
	return NULL;
}

const struct store_stats *
store_stats(const struct store *s)
{
	return &s->stats;
}

size_t
store_code_counts(const struct store *s, struct event_code_count *out,
    size_t max)
{
	(void)s; (void)out; (void)max;
	return 0;
}
