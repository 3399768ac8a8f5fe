/* flow.c: STUB, to be written. */
#include "config.h"

#include "flow.h"

#include <stdlib.h>

#include "xmalloc.h"
struct flow_table {
	struct flow_stats stats;
};

void
flow_config_default(struct flow_config *c)
{
	c->ports = NULL;
	c->n_ports = 0;
	c->max_flows = FLOW_MAX_DEFAULT;
	c->ooo_per_dir = REASM_OOO_MAX_DEFAULT;
	c->ooo_total = FLOW_OOO_TOTAL_DEFAULT;
	c->idle_timeout = FLOW_IDLE_TIMEOUT_DEFAULT;
}

struct flow_table *
flow_table_new(const struct flow_config *c, const struct flow_ops *ops,
    void *arg)
{
	(void)c; (void)ops; (void)arg;
	return xcalloc(1, sizeof(struct flow_table));
}

void
flow_table_free(struct flow_table *t)
{
	free(t);
}

uint64_t
flow_input(struct flow_table *t, const struct decode_pkt *p)
{
	(void)t; (void)p;
	return 0;
}

void
flow_expire(struct flow_table *t, const struct timeval *now)
{
	(void)t; (void)now;
}

void
flow_finish(struct flow_table *t, const struct timeval *now)
{
	(void)t; (void)now;
}

struct flow *
flow_lookup(struct flow_table *t, const struct decode_pkt *p)
{
	(void)t; (void)p;
	return NULL;
}

const struct flow_stats *
flow_table_stats(const struct flow_table *t)
{
	return &t->stats;
}

bool
flow_is_smtp_port(const struct flow_config *c, uint16_t port)
{
	size_t i;

	for (i = 0; i < c->n_ports; i++)
		if (c->ports[i] == port)
			return true;
	return false;
}
