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
out_text_envelope(FILE *f, const struct event *ev, bool utf8)
{
	char *s;

	if (ev->ctx.mail_from == NULL && ev->ctx.rcpt == NULL)
		return;
	fputs(" [", f);
	if (ev->ctx.mail_from != NULL) {
		s = vis_dup(ev->ctx.mail_from, strlen(ev->ctx.mail_from), utf8);
		fprintf(f, "from <%s>%s", s, ev->ctx.rcpt != NULL ? " " : "");
		free(s);
	}
	if (ev->ctx.rcpt != NULL) {
		s = vis_dup(ev->ctx.rcpt, strlen(ev->ctx.rcpt), utf8);
		fprintf(f, "to <%s>", s);
		free(s);
	}
	fputc(']', f);
}

int
out_text_event(FILE *f, const struct event *ev, bool utf8)
{
	return out_text_write(f, ev, utf8, true);
}

int
out_text_write(FILE *f, const struct event *ev, bool utf8, bool flush)
{
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
	if (ev->session != 0)
		fprintf(f, "%s #%" PRIu64 " %s > %s ", ts, ev->session,
		    ev->client, ev->server);
	else if (ev->server[0] != '\0')
		/* No session (connection attempts without a handshake, per
		   server): no number, no single client. */
		fprintf(f, "%s (no session) > %s ", ts, ev->server);
	else
		fprintf(f, "%s (no session) ", ts);
	switch (ev->type) {
	case EV_SESSION_OPEN:
		fprintf(f, "-- session open%s%s\n",
		    ev->tls_implicit ? " (implicit TLS)" : "",
		    ev->midstream ? " (mid-stream)" : "");
		break;
	case EV_COMMAND:
		s = vis_dup(ev->arg ? ev->arg : "",
		    ev->arg ? strlen(ev->arg) : 0, utf8);
		fprintf(f, "C:%s %s%s%s\n", ev->encrypted ? "[tls]" : "",
		    ev->verb, *s ? " " : "", s);
		free(s);
		break;
	case EV_REPLY:
		s = out_text_reply(ev, utf8);
		fprintf(f, "S:%s %s%d%s%s%s%s", ev->encrypted ? "[tls]" : "",
		    ev->highlight ? "!! " : "", ev->code,
		    ev->enhanced[0] ? " " : "", ev->enhanced, *s ? " " : "", s);
		free(s);
		if (ev->code >= 400)
			out_text_envelope(f, ev, utf8);
		if (ev->diag != NULL && ev->diag->title != NULL) {
			/*
			 * SPEC: one line per event.  Under a 421 or 452 the
			 * line also carries what the diagnosis inferred from
			 * this session (e.g. the server's recipient limit);
			 * the fixes are in the UI, -j and --explain.
			 */
			fprintf(f, "  << %s", out_text_title(ev));
			if (ev->highlight && ev->diag->when != NULL &&
			    *ev->diag->when != '\0') {
				s = vis_dup(ev->diag->when,
				    strlen(ev->diag->when), utf8);
				fprintf(f, ". %s", s);
				free(s);
			}
			if (ev->highlight) {
				char *why = event_diag_why(ev->diag, 3);

				s = vis_dup(why, strlen(why), utf8);
				fprintf(f, " [cause %s]", s);
				free(s);
				free(why);
			}
			fputs(" >>", f);
		}
		fputc('\n', f);
		break;
	case EV_MESSAGE:
		fprintf(f,
		    "-- message %s (%d): %" PRIu64 " byte%s from <%s>, %zu "
		    "recipient%s accepted, %zu rejected, queue id %s\n",
		    ev->code >= 200 && ev->code < 300 ? "accepted"
						      : "NOT accepted",
		    ev->code, ev->bytes, event_plural(ev->bytes),
		    ev->mail_from ? ev->mail_from : "", ev->n_accepted,
		    event_plural(ev->n_accepted), ev->n_rejected,
		    ev->queue_id ? ev->queue_id : "-");
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
		fprintf(f, "-- anomaly: %s%s%s\n", ev->what, s ? ": " : "",
		    s ? s : "");
		free(s);
		break;
	case EV_SESSION_CLOSE:
		fprintf(f,
		    "-- session close (%s) after %.3f s: %u command%s, %u "
		    "repl%s, %u message%s",
		    ev->close_reason, ev->duration, ev->commands,
		    event_plural(ev->commands), ev->replies,
		    ev->replies == 1 ? "y" : "ies", ev->messages,
		    event_plural(ev->messages));
		for (i = 0; i < ev->n_codes; i++)
			fprintf(f, "%s%d:%u", i ? " " : "; ", ev->codes[i].code,
			    ev->codes[i].count);
		fputc('\n', f);
		break;
	case EV_STATS:
	case EV_PACKET:
		break;
	}
	return (flush && fflush(f) == EOF) || ferror(f) ? -1 : 0;
}
