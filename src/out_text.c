/*
 * out_text: -N, one human-readable line per event, made for grep and for
 * watching a live capture scroll by.  Every line starts with the capture
 * time, the session number and "client > server"; wire text is escaped.
 */
#include "config.h"

#include "out_text.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vis.h"
#include "xmalloc.h"

/*
 * The line of a frequent event (open, command, reply) is built here and
 * written with one fwrite: fprintf per field costs more than the rest of
 * the analysis on a capture of short sessions.
 */
struct ot_buf {
	char *p; /* first local, on the heap once that is too small */
	size_t len, cap;
	char local[512];
};

static void
ot_grow(struct ot_buf *b, size_t n)
{
	while (b->len + n > b->cap)
		b->cap = b->cap * 2 + 256;
	if (b->p == b->local) {
		b->p = xmalloc(b->cap);
		memcpy(b->p, b->local, b->len);
	} else
		b->p = xrealloc(b->p, b->cap);
}

/* Inline, the growth apart: a line is made of dozens of pieces, most of a
   few bytes. */
static inline void
ot_put(struct ot_buf *b, const char *s, size_t n)
{
	if (b->len + n > b->cap)
		ot_grow(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

/* A string literal, its length known when compiled. */
#define OT_LIT(b, lit) ot_put((b), (lit), sizeof(lit) - 1)

static void
ot_puts(struct ot_buf *b, const char *s)
{
	ot_put(b, s, strlen(s));
}

static void
ot_putc(struct ot_buf *b, char c)
{
	ot_put(b, &c, 1);
}

/* A number as printf's %d, %u or PRIu64 writes it. */
static void
ot_num(struct ot_buf *b, long long v)
{
	char tmp[1 + VIS_U64_LEN];

	if (v >= 0) {
		ot_put(b, tmp, vis_u64(tmp, (uint64_t)v));
		return;
	}
	tmp[0] = '-';
	ot_put(b, tmp, 1 + vis_u64(tmp + 1, 0ULL - (uint64_t)v));
}

static void
ot_u64(struct ot_buf *b, uint64_t v)
{
	char tmp[VIS_U64_LEN];

	ot_put(b, tmp, vis_u64(tmp, v));
}

/* A number as %.3f writes it. */
static void
ot_num3(struct ot_buf *b, double v)
{
	char tmp[VIS_FIXED_LEN];

	ot_put(b, tmp, vis_fixed(tmp, v, 3));
}

/* Reply text with its line breaks shown as " | ". */
static char *
out_text_reply(const struct event *ev, bool utf8)
{
	char *s = vis_dup(
	    ev->text ? ev->text : "", ev->text ? ev->text_len : 0, utf8);
	char *out, *o;
	const char *p;

	out = o = xmalloc(strlen(s) * 2 + 1);
	for (p = s; *p != '\0'; p++) {
		if (p[0] == '\\' && p[1] == 'n') {
			memcpy(o, " | ", 3);
			o += 3;
			p++;
		} else if (p[0] == '\\' && p[1] != '\0') {
			*o++ = *p++;
			*o++ = *p;
		} else
			*o++ = *p;
	}
	*o = '\0';
	free(s);
	return out;
}

/* The diagnosis's title without the reply code the line already shows. */
static const char *
out_text_title(const struct event *ev)
{
	const char *t = ev->diag->title;
	char code[8];
	size_t len;

	len = (size_t)snprintf(code, sizeof code, "%d ", ev->code);
	if (strncmp(t, code, len) == 0)
		t += len;
	return t;
}

/*
 * Whom a refusal concerns, " [from <sender> to <rcpt>]": with pipelining
 * the command a reply answers is often not the line above it.
 */
static void
out_text_envelope(struct ot_buf *b, const struct event *ev, bool utf8)
{
	char *s;

	if (ev->ctx.mail_from == NULL && ev->ctx.rcpt == NULL)
		return;
	OT_LIT(b, " [");
	if (ev->ctx.mail_from != NULL) {
		s = vis_dup(ev->ctx.mail_from, strlen(ev->ctx.mail_from), utf8);
		OT_LIT(b, "from <");
		ot_puts(b, s);
		ot_puts(b, ev->ctx.rcpt != NULL ? "> " : ">");
		free(s);
	}
	if (ev->ctx.rcpt != NULL) {
		s = vis_dup(ev->ctx.rcpt, strlen(ev->ctx.rcpt), utf8);
		OT_LIT(b, "to <");
		ot_puts(b, s);
		ot_putc(b, '>');
		free(s);
	}
	ot_putc(b, ']');
}

int
out_text_write(FILE *f, const struct event *ev, bool utf8, bool flush)
{
	struct ot_buf b;
	char ts[40], *s;
	size_t i;

	if (ev->type == EV_PACKET)
		return 0;
	event_format_ts(ts, sizeof ts, &ev->ts);
	if (ev->type == EV_STATS) {
		fprintf(f,
		    "%s stats: %" PRIu64 " packet%s, %" PRIu64
		    " byte%s, %" PRIu64 " session%s, %" PRIu64
		    " dropped, %.3f s",
		    ts, ev->packets, event_plural(ev->packets), ev->pkt_bytes,
		    event_plural(ev->pkt_bytes), ev->sessions,
		    event_plural(ev->sessions), ev->dropped, ev->elapsed);
		if (ev->no_handshake > 0)
			fprintf(f,
			    ", %" PRIu64 " connection attempt%s without a "
			    "handshake",
			    ev->no_handshake, event_plural(ev->no_handshake));
		if (ev->cap_mem_trim > 0 || ev->cap_mem_evict > 0)
			fprintf(f,
			    ", memory budget: %" PRIu64 " trim%s, %" PRIu64
			    " session%s evicted",
			    ev->cap_mem_trim, event_plural(ev->cap_mem_trim),
			    ev->cap_mem_evict, event_plural(ev->cap_mem_evict));
		fputc('\n', f);
		return (flush && fflush(f) == EOF) || ferror(f) ? -1 : 0;
	}
	b.p = b.local;
	b.len = 0;
	b.cap = sizeof b.local;
	if (ev->session != 0) {
		/* "TS #N client > server " */
		ot_puts(&b, ts);
		OT_LIT(&b, " #");
		ot_u64(&b, ev->session);
		ot_putc(&b, ' ');
		ot_puts(&b, ev->client);
		OT_LIT(&b, " > ");
		ot_puts(&b, ev->server);
		ot_putc(&b, ' ');
	} else {
		/* No session (connection attempts without a handshake, per
		   server): no number, no single client. */
		ot_puts(&b, ts);
		OT_LIT(&b, " (no session) ");
		if (ev->server[0] != '\0') {
			OT_LIT(&b, "> ");
			ot_puts(&b, ev->server);
			ot_putc(&b, ' ');
		}
	}
	switch (ev->type) {
	case EV_SESSION_OPEN:
		OT_LIT(&b, "-- session open");
		ot_puts(&b, ev->tls_implicit ? " (implicit TLS)" : "");
		ot_puts(&b, ev->midstream ? " (mid-stream)" : "");
		ot_putc(&b, '\n');
		break;
	case EV_COMMAND:
		s = vis_dup(ev->arg ? ev->arg : "", event_arg_len(ev), utf8);
		if (ev->encrypted)
			OT_LIT(&b, "C:[tls] ");
		else
			OT_LIT(&b, "C: ");
		ot_puts(&b, ev->verb);
		if (*s != '\0') {
			ot_putc(&b, ' ');
			ot_puts(&b, s);
		}
		if (ev->cut)
			OT_LIT(&b, " [cut: not all captured]");
		ot_putc(&b, '\n');
		free(s);
		break;
	case EV_REPLY:
		s = out_text_reply(ev, utf8);
		if (ev->encrypted)
			OT_LIT(&b, "S:[tls] ");
		else
			OT_LIT(&b, "S: ");
		if (ev->highlight)
			OT_LIT(&b, "!! ");
		ot_num(&b, ev->code);
		if (ev->enhanced[0] != '\0') {
			ot_putc(&b, ' ');
			ot_puts(&b, ev->enhanced);
		}
		if (*s != '\0') {
			ot_putc(&b, ' ');
			ot_puts(&b, s);
		}
		free(s);
		if (ev->cut)
			OT_LIT(&b, " [cut: not all captured]");
		if (ev->code >= 400)
			out_text_envelope(&b, ev, utf8);
		if (ev->diag != NULL && ev->diag->title != NULL) {
			/*
			 * One line per event.  Under a 421 or 452 the
			 * line also carries what the diagnosis inferred from
			 * this session (e.g. the server's recipient limit);
			 * the fixes are in the UI, -j and --explain.
			 */
			OT_LIT(&b, "  << ");
			ot_puts(&b, out_text_title(ev));
			if (ev->highlight && ev->diag->when != NULL &&
			    *ev->diag->when != '\0') {
				s = vis_dup(ev->diag->when,
				    strlen(ev->diag->when), utf8);
				OT_LIT(&b, ". ");
				ot_puts(&b, s);
				free(s);
			}
			if (ev->highlight) {
				char *why = event_diag_why(ev->diag, 3);

				s = vis_dup(why, strlen(why), utf8);
				OT_LIT(&b, " [cause ");
				ot_puts(&b, s);
				ot_putc(&b, ']');
				free(s);
				free(why);
			}
			OT_LIT(&b, " >>");
		}
		ot_putc(&b, '\n');
		break;
	case EV_MESSAGE:
		/* The sender is the client's MAIL argument: any bytes. */
		s = vis_dup(ev->mail_from ? ev->mail_from : "",
		    ev->mail_from ? strlen(ev->mail_from) : 0, utf8);
		ot_puts(&b, ev->code >= 200 && ev->code < 300
				? "-- message accepted ("
				: "-- message NOT accepted (");
		ot_num(&b, ev->code);
		OT_LIT(&b, "): ");
		ot_u64(&b, ev->bytes);
		OT_LIT(&b, " byte");
		ot_puts(&b, event_plural(ev->bytes));
		OT_LIT(&b, " from <");
		ot_puts(&b, s);
		OT_LIT(&b, ">, ");
		ot_u64(&b, ev->n_accepted);
		OT_LIT(&b, " recipient");
		ot_puts(&b, event_plural(ev->n_accepted));
		OT_LIT(&b, " accepted, ");
		ot_u64(&b, ev->n_rejected);
		OT_LIT(&b, " rejected, queue id ");
		ot_puts(&b, ev->queue_id ? ev->queue_id : "-");
		ot_putc(&b, '\n');
		free(s);
		break;
	case EV_SESSION_CLOSE:
		/* Up to the codes; the rare rest is printed below. */
		OT_LIT(&b, "-- session close (");
		ot_puts(&b, ev->close_reason);
		OT_LIT(&b, ") after ");
		ot_num3(&b, ev->duration);
		OT_LIT(&b, " s: ");
		ot_num(&b, ev->commands);
		OT_LIT(&b, " command");
		ot_puts(&b, event_plural(ev->commands));
		OT_LIT(&b, ", ");
		ot_num(&b, ev->replies);
		ot_puts(&b, ev->replies == 1 ? " reply, " : " replies, ");
		ot_num(&b, ev->messages);
		OT_LIT(&b, " message");
		ot_puts(&b, event_plural(ev->messages));
		for (i = 0; i < ev->n_codes; i++) {
			ot_puts(&b, i ? " " : "; ");
			ot_num(&b, ev->codes[i].code);
			ot_putc(&b, ':');
			ot_num(&b, ev->codes[i].count);
		}
		if (!ev->no_payload)
			ot_putc(&b, '\n');
		break;
	default:
		break;
	}
	/* The line so far, or the whole line of a frequent event. */
	if (b.len > 0)
		fwrite(b.p, 1, b.len, f);
	if (b.p != b.local)
		free(b.p);
	switch (ev->type) {
	case EV_SESSION_OPEN:
	case EV_COMMAND:
	case EV_REPLY:
	case EV_MESSAGE:
		break;
	case EV_TLS:
		fprintf(f, "-- tls %s", ev->phase ? ev->phase : "?");
		if (ev->version)
			fprintf(f, " %s", ev->version);
		if (ev->cipher)
			fprintf(f, " %s", ev->cipher);
		if (ev->sni)
			fprintf(f, " sni=%s", ev->sni);
		if (ev->cert_subject)
			fprintf(f, " cert=\"%s\"", ev->cert_subject);
		if (ev->cert_problems)
			fprintf(f, " problems=%s", ev->cert_problems);
		if (ev->alert)
			fprintf(f, " alert=\"%s\"", ev->alert);
		fprintf(f, "%s", ev->decrypted ? " decrypted" : "");
		if (ev->reason)
			fprintf(f, " (%s)", ev->reason);
		fputc('\n', f);
		break;
	case EV_GAP:
		fprintf(f, "-- gap: %" PRIu64 " byte%s missing from the %s\n",
		    ev->bytes, event_plural(ev->bytes),
		    ev->dir == EV_DIR_SERVER ? "server" : "client");
		break;
	case EV_ANOMALY:
		s = ev->detail ? vis_dup(ev->detail, strlen(ev->detail), utf8)
			       : NULL;
		fprintf(f, "-- anomaly: %s%s%s", ev->what, s ? ": " : "",
		    s ? s : "");
		free(s);
		if (ev->what == EV_ANOM_NO_REPLY_CODE) {
			s = out_text_reply(ev, utf8);
			fprintf(f, ": %s%s%s", ev->enhanced, *s ? " " : "", s);
			free(s);
			if (ev->diag != NULL && ev->diag->title != NULL)
				fprintf(f, "  << %s >>", out_text_title(ev));
		} else if (ev->diag != NULL && ev->diag->fix_sender != NULL) {
			/* The mismatch is named already: add the fixes (texts
			   that may quote the session: escaped). */
			const char *op = ev->diag->fix_operator
					     ? ev->diag->fix_operator
					     : "";
			char *fs = vis_dup(ev->diag->fix_sender,
			    strlen(ev->diag->fix_sender), utf8);
			char *fo = vis_dup(op, strlen(op), utf8);

			fprintf(f, "  << client: %s Server: %s >>", fs, fo);
			free(fs);
			free(fo);
		}
		fputc('\n', f);
		break;
	case EV_SESSION_CLOSE:
		if (ev->no_payload) {
			fprintf(f,
			    "; payload not captured: client %" PRIu64
			    " packet%s, %" PRIu64 " byte%s, server %" PRIu64
			    " packet%s, %" PRIu64 " byte%s, %" PRIu64
			    " retransmission%s (capture with -s 0)",
			    ev->dir_pkts[0], event_plural(ev->dir_pkts[0]),
			    ev->dir_bytes[0], event_plural(ev->dir_bytes[0]),
			    ev->dir_pkts[1], event_plural(ev->dir_pkts[1]),
			    ev->dir_bytes[1], event_plural(ev->dir_bytes[1]),
			    ev->dir_retrans[0] + ev->dir_retrans[1],
			    event_plural(
				ev->dir_retrans[0] + ev->dir_retrans[1]));
			fputc('\n', f);
		}
		break;
	case EV_LOG:
		/* The MTA's line, as written (escaped), and how it was
		   joined to the session. */
		s = vis_dup(ev->text ? ev->text : "",
		    ev->text ? ev->text_len : 0, utf8);
		fprintf(f, "L: %s  [log, join %s", s,
		    ev->join != NULL ? ev->join : "none");
		if (ev->log_outcome != NULL) {
			fprintf(f, ", %s", ev->log_outcome);
			if (ev->log_attempt > 1) {
				char pts[40];

				event_format_ts(
				    pts, sizeof pts, &ev->log_prev_attempt);
				fprintf(f, ", attempt %u, the one before at %s",
				    ev->log_attempt, pts);
			}
		}
		fputc(']', f);
		if (ev->log_code != 0) {
			/* The reason for the session's 421 or 452. */
			fprintf(f,
			    "  << the server's log says why the %d: %s (%s)",
			    ev->log_code, ev->log_says, ev->log_cause);
			if (ev->log_diag_cause != NULL &&
			    strcmp(ev->log_diag_cause, ev->log_cause) != 0)
				fprintf(f, "; the reply alone suggested %s",
				    ev->log_diag_cause);
			fputs(" >>", f);
		}
		fputc('\n', f);
		free(s);
		break;
	case EV_STATS:
	case EV_PACKET:
		break;
	}
	return (flush && fflush(f) == EOF) || ferror(f) ? -1 : 0;
}
