/*
 * fuzz_smtp: libFuzzer target for the SMTP engine.  The first byte picks the
 * session flags (midstream, implicit TLS, --show-auth, SYN seen); the rest is
 * a list of records: one control byte (bit 0 direction, bit 1 encrypted,
 * bits 2-3 the operation: data, gap, TLS started, time step) and one length
 * byte, then that many bytes of data.  Bytes are fed the way the pipeline
 * does (held while STARTTLS waits, dropped when they are TLS), each chunk in
 * a buffer of exactly its size so that ASan sees any read past the end.
 * Every event is checked for the invariants the front ends rely on.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "smtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_HOLD_MAX 65536

struct fuzz_state {
	struct smtp_session *s;
	uint8_t hold[FUZZ_HOLD_MAX];
	size_t hold_len;
	unsigned events;
	bool closed;
};

static void
fuzz_emit(void *arg, struct event *ev)
{
	struct fuzz_state *f = arg;
	size_t i;

	if (f->closed)
		abort(); /* nothing after session_close */
	f->events++;
	switch (ev->type) {
	case EV_COMMAND:
		if (ev->arg == NULL ||
		    memchr(ev->verb, '\0', sizeof ev->verb) == NULL)
			abort();
		break;
	case EV_REPLY:
		if (ev->text == NULL || ev->text[ev->text_len] != '\0' ||
		    ev->code < 0 || ev->code > 999 || ev->lines == 0 ||
		    ev->text_len > SMTP_REPLY_MAX)
			abort();
		break;
	case EV_MESSAGE:
		for (i = 0; i < ev->n_accepted; i++)
			if (ev->rcpt_accepted[i] == NULL)
				abort();
		for (i = 0; i < ev->n_rejected; i++)
			if (ev->rcpt_rejected[i] == NULL)
				abort();
		break;
	case EV_ANOMALY:
		if (ev->what == NULL)
			abort();
		break;
	case EV_SESSION_CLOSE:
		for (i = 1; i < ev->n_codes; i++)
			if (ev->codes[i - 1].code >= ev->codes[i].code)
				abort();
		f->closed = true;
		break;
	default:
		abort(); /* the engine emits nothing else */
	}
	event_free(ev);
}

static const struct smtp_ops fuzz_ops = {fuzz_emit};

static void
fuzz_drive(struct fuzz_state *f, int dir, const uint8_t *p, size_t len,
    const struct timeval *ts)
{
	size_t used;

	while (len > 0) {
		switch (smtp_dir_state(f->s, dir)) {
		case SMTP_DIR_TEXT:
			used = smtp_feed(f->s, dir, p, len, ts, false);
			if (used > len)
				abort();
			p += used;
			len -= used;
			if (used == 0 &&
			    smtp_dir_state(f->s, dir) == SMTP_DIR_TEXT)
				abort(); /* no progress while still text */
			break;
		case SMTP_DIR_HOLD:
			if (dir != EV_DIR_CLIENT)
				abort();
			if (len > FUZZ_HOLD_MAX - f->hold_len)
				len = FUZZ_HOLD_MAX - f->hold_len;
			memcpy(f->hold + f->hold_len, p, len);
			f->hold_len += len;
			len = 0;
			break;
		case SMTP_DIR_TLS:
		case SMTP_DIR_IGNORE:
			len = 0;
			break;
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_state f;
	struct smtp_config cfg;
	struct timeval t0 = {1700000000, 0}, ts = t0;
	size_t off = 1, n;
	uint8_t ctl, *chunk;
	int dir;

	if (size < 1)
		return 0;
	memset(&f, 0, sizeof f);
	memset(&cfg, 0, sizeof cfg);
	cfg.show_auth = data[0] & 4;
	f.s = smtp_new(&cfg, &fuzz_ops, &f, &t0, (data[0] & 8) ? &t0 : NULL,
	    data[0] & 2, data[0] & 1);
	while (off + 2 <= size) {
		ctl = data[off];
		n = data[off + 1];
		off += 2;
		if (n > size - off)
			n = size - off;
		dir = ctl & 1;
		switch ((ctl >> 2) & 3) {
		case 0:
			chunk = malloc(n ? n : 1);
			if (chunk == NULL)
				abort();
			memcpy(chunk, data + off, n);
			if (ctl & 2)
				(void)smtp_feed(f.s, dir, chunk, n, &ts, true);
			else
				fuzz_drive(&f, dir, chunk, n, &ts);
			free(chunk);
			off += n;
			break;
		case 1:
			smtp_gap(f.s, dir, (uint64_t)n << (ctl >> 4), &ts);
			break;
		case 2:
			if (smtp_dir_state(f.s, dir) == SMTP_DIR_TLS)
				smtp_tls_started(f.s, ctl & 2);
			break;
		case 3:
			ts.tv_sec += n;
			break;
		}
		if (dir == EV_DIR_SERVER && f.hold_len > 0 &&
		    smtp_dir_state(f.s, EV_DIR_CLIENT) != SMTP_DIR_HOLD) {
			static uint8_t copy[FUZZ_HOLD_MAX];
			size_t hl = f.hold_len;

			memcpy(copy, f.hold, hl);
			f.hold_len = 0;
			fuzz_drive(&f, EV_DIR_CLIENT, copy, hl, &ts);
		}
	}
	smtp_close(f.s, "fin", &ts);
	if (!f.closed)
		abort();
	(void)smtp_state_name(f.s);
	smtp_free(f.s);
	return 0;
}
