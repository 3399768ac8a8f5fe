/* tls.c: STUB, to be written. */
#include "config.h"

#include "tls.h"

#include <stdlib.h>

#include "xmalloc.h"
struct tls_conn {
	const struct tls_ops *ops;
	void *arg;
	bool reported;
};

struct tls_conn *
tls_conn_new(struct keylog *kl, const struct tls_ops *ops, void *arg,
    bool starttls, const char *greeting_host)
{
	struct tls_conn *t = xcalloc(1, sizeof *t);

	(void)kl; (void)starttls; (void)greeting_host;
	t->ops = ops;
	t->arg = arg;
	return t;
}

void
tls_conn_free(struct tls_conn *t)
{
	free(t);
}

void
tls_conn_feed(struct tls_conn *t, int dir, const uint8_t *data, size_t len,
    const struct timeval *ts)
{
	struct event *ev;

	(void)dir; (void)data; (void)len;
	if (t->reported)
		return;
	t->reported = true;
	ev = event_new(EV_TLS);
	ev->ts = *ts;
	ev->phase = "handshake";
	ev->decrypted = false;
	ev->reason = xstrdup("TLS decryption not supported yet");
	t->ops->emit(t->arg, ev);
}

void
tls_conn_gap(struct tls_conn *t, int dir, uint64_t bytes,
    const struct timeval *ts)
{
	(void)t; (void)dir; (void)bytes; (void)ts;
}

void
tls_conn_retry(struct tls_conn *t, const struct timeval *ts)
{
	(void)t; (void)ts;
}

void
tls_conn_finish(struct tls_conn *t, const struct timeval *ts)
{
	(void)t; (void)ts;
}

bool
tls_conn_decrypting(const struct tls_conn *t)
{
	(void)t;
	return false;
}
