/* smtp.c: STUB, to be written. */
#include "config.h"

#include "smtp.h"

#include <stdlib.h>

#include "xmalloc.h"
struct smtp_session {
	const struct smtp_ops *ops;
	void *arg;
	struct timeval start;
};

struct smtp_session *
smtp_new(const struct smtp_config *cfg, const struct smtp_ops *ops, void *arg,
    const struct timeval *start, const struct timeval *syn_ts,
    bool implicit_tls, bool midstream)
{
	struct smtp_session *s = xcalloc(1, sizeof *s);

	(void)cfg; (void)syn_ts; (void)implicit_tls; (void)midstream;
	s->ops = ops;
	s->arg = arg;
	s->start = *start;
	return s;
}

void
smtp_free(struct smtp_session *s)
{
	free(s);
}

size_t
smtp_feed(struct smtp_session *s, int dir, const uint8_t *data, size_t len,
    const struct timeval *ts, bool encrypted)
{
	(void)s; (void)dir; (void)data; (void)ts; (void)encrypted;
	return len;
}

enum smtp_dir_state
smtp_dir_state(const struct smtp_session *s, int dir)
{
	(void)s; (void)dir;
	return SMTP_DIR_TEXT;
}

void
smtp_tls_started(struct smtp_session *s, bool decrypting)
{
	(void)s; (void)decrypting;
}

void
smtp_gap(struct smtp_session *s, int dir, uint64_t bytes,
    const struct timeval *ts)
{
	(void)s; (void)dir; (void)bytes; (void)ts;
}

void
smtp_close(struct smtp_session *s, const char *reason,
    const struct timeval *ts)
{
	struct event *ev = event_new(EV_SESSION_CLOSE);

	ev->ts = *ts;
	ev->close_reason = reason;
	ev->duration = (double)(ts->tv_sec - s->start.tv_sec) +
	    (double)(ts->tv_usec - s->start.tv_usec) / 1e6;
	s->ops->emit(s->arg, ev);
}

const char *
smtp_state_name(const struct smtp_session *s)
{
	(void)s;
	return "stub";
}
