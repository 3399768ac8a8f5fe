/* reasm.c: STUB, to be written. */
#include "config.h"

#include "reasm.h"

#include <stdlib.h>

#include <string.h>
void
reasm_init(struct reasm *r, size_t ooo_max)
{
	memset(r, 0, sizeof *r);
	r->ooo_max = ooo_max;
}

void
reasm_clear(struct reasm *r)
{
	(void)r;
}

void
reasm_set_isn(struct reasm *r, uint32_t next_seq)
{
	r->have_isn = true;
	r->next_seq = next_seq;
}

void
reasm_insert(struct reasm *r, uint32_t seq, const uint8_t *data, size_t len,
    const struct timeval *ts, const struct reasm_ops *ops, void *arg,
    size_t *global_left, bool *capped)
{
	(void)r; (void)seq; (void)data; (void)len; (void)ts; (void)ops;
	(void)arg; (void)global_left; (void)capped;
}

bool
reasm_skip_gap(struct reasm *r, const struct timeval *ts,
    const struct reasm_ops *ops, void *arg, size_t *global_left)
{
	(void)r; (void)ts; (void)ops; (void)arg; (void)global_left;
	return false;
}

size_t
reasm_pending(const struct reasm *r)
{
	return r->ooo_bytes;
}
