/*
 * ui_session: one session as a transcript.  Every event becomes one or more
 * lines: a timestamp, a C:/S: mark for client and server, replies coloured
 * by class, [tls] on what was seen inside TLS, gaps and anomalies marked,
 * and under every reply that carries a diagnosis (always 421 and 452) a
 * box: title, meaning, the situation, and what sender and operator can do.
 * With --maillog the MTA's log lines joined to the session are events too,
 * placed by their time and marked "L: log" (L hides them); the 421/452 box
 * quotes the one that gives the server's reason.
 *
 * The document is rebuilt when the session changed or the width did; it
 * follows the end while the view is at the bottom (a live session grows).
 * The same builder makes the `t` text file.
 */
#include "config.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curses.h>

#include "diag.h"
#include "ui_screen.h"
#include "xmalloc.h"

/* The session screen's own state. */
struct ui_session_state {
	uint64_t id;
	struct ui_doc doc;
	uint64_t gen;
	int width;
	struct ui_scroll scroll;
	size_t cur;		    /* line n/N went to last; SIZE_MAX: none */
	char search[UI_FILTER_MAX]; /* "" when no search is on */
	char search_saved[UI_FILTER_MAX];
	bool hide_log; /* L: the MTA's log lines hidden */
};

/* "HH:MM:SS.mmm " */
#define UI_TS_COLS 13
/* "S: " */
#define UI_MARK_COLS 3

static void
ui_session_lead(struct ui_doc *d, const struct timeval *ts, bool first)
{
	char buf[32];

	ui_doc_line(d);
	if (first) {
		ui_format_time(buf, sizeof buf, ts, true);
		ui_doc_segf(d, UI_TIME, "%-*s", UI_TS_COLS, buf);
	} else
		ui_doc_segf(d, UI_NORMAL, "%*s", UI_TS_COLS, "");
}

/* Lines for text that may need wrapping after a lead and mark. */
static void
ui_session_wrapped(struct ui_doc *d, const struct timeval *ts, bool first,
    const char *mark, enum ui_role mark_role, const char *tag,
    enum ui_role role, const char *text, int width)
{
	char **parts;
	size_t n, i;
	int w = width - UI_TS_COLS - UI_MARK_COLS - (tag ? ui_width(tag) : 0);

	/* At spaces: "1 r" / "ecipients" or "https:" / "//..." are hard to
	   read, in the view and in a saved transcript alike. */
	n = ui_wrap(text, w < 10 ? 10 : w, true, &parts);
	for (i = 0; i < n; i++) {
		ui_session_lead(d, ts, first && i == 0);
		if (i == 0) {
			ui_doc_seg(d, mark_role, mark);
			if (tag != NULL)
				ui_doc_seg(d, UI_ENCRYPTED, tag);
		} else
			ui_doc_segf(d, UI_NORMAL, "%*s",
			    UI_MARK_COLS + (tag ? ui_width(tag) : 0), "");
		ui_doc_seg(d, role, parts[i]);
		free(parts[i]);
	}
	free(parts);
}

/* One labelled paragraph inside the box, of safe text. */
static void
ui_session_box_para_safe(
    struct ui_doc *d, int indent, int inner, const char *label, const char *t)
{
	char **parts;
	size_t n, i;
	int lw = 10, w;

	n = ui_wrap(t, inner - lw, true, &parts);
	for (i = 0; i < n; i++) {
		ui_doc_line(d);
		ui_doc_segf(d, UI_NORMAL, "%*s", indent, "");
		ui_doc_ld(d, UI_BOX, UI_LD_V, 1);
		ui_doc_seg(d, UI_NORMAL, " ");
		ui_doc_segf(d, UI_BOX_LABEL, "%-*s", lw, i == 0 ? label : "");
		ui_doc_seg(d, UI_NORMAL, parts[i]);
		w = inner - lw - ui_width(parts[i]);
		ui_doc_segf(d, UI_NORMAL, "%*s", w > 0 ? w : 0, "");
		ui_doc_seg(d, UI_NORMAL, " ");
		ui_doc_ld(d, UI_BOX, UI_LD_V, 1);
		free(parts[i]);
	}
	free(parts);
}

/* One labelled paragraph inside the box, of raw text. */
static void
ui_session_box_para(struct ui_ctx *ctx, struct ui_doc *d, int indent, int inner,
    const char *label, const char *raw)
{
	char *t;

	if (raw == NULL || *raw == '\0')
		return;
	t = ui_vis(ctx, raw, strlen(raw));
	ui_session_box_para_safe(d, indent, inner, label, t);
	free(t);
}

/*
 * What the transcript builder remembers between events: the event drawn
 * just before (does a reply follow the command it answers?) and the
 * envelope sender of the transaction in progress (for the box).
 */
struct ui_session_walk {
	const struct store_session *ss;
	const struct event *prev;
	const char *mail_arg; /* the MAIL command's argument, raw */
};

/*
 * The words of the MTA's own log that give the reason of a 421 or 452,
 * best first: the line of the session (--maillog) that holds one is shown
 * in the reply's box as what "the server's log says".
 */
static const char *const ui_session_log_reasons[] = {
    "concurrency limit",
    "rate limit",
    "too many connections",
    "low on free space",
    "insufficient system storage",
    "too many recipients",
    "status=deferred",
    "status=bounced",
    "NOQUEUE: reject",
    "PREGREET",
    "DNSBL",
    "COMMAND PIPELINING",
    "HANGUP",
    "lost connection",
    "timeout after",
    "disconnect from",
};

/* The message of a log line: from its program on. */
static const char *
ui_session_log_msg(const struct event *ev, size_t *len)
{
	const char *p = NULL;
	size_t n;

	*len = ev->text_len;
	if (ev->program != NULL && (n = strlen(ev->program)) > 0 &&
	    ev->text_len >= n)
		p = memmem(ev->text, ev->text_len, ev->program, n);
	if (p == NULL)
		return ev->text;
	*len = ev->text_len - (size_t)(p - ev->text);
	return p;
}

/* The log line of the session that best says why, or NULL. */
static const struct event *
ui_session_log_reason(const struct store_session *ss)
{
	size_t i, k, kbest = SIZE_MAX;
	const struct event *ev, *best = NULL;

	if (ss == NULL)
		return NULL;
	/* A line the joiner read as the reason of a 421 or 452 comes
	   first. */
	for (i = 0; i < ss->n_events; i++)
		if (ss->events[i]->type == EV_LOG &&
		    ss->events[i]->log_code != 0 && ss->events[i]->text != NULL)
			return ss->events[i];
	for (i = 0; i < ss->n_events; i++) {
		ev = ss->events[i];
		if (ev->type != EV_LOG || ev->text == NULL)
			continue;
		for (k = 0; k < kbest && k < sizeof ui_session_log_reasons /
						 sizeof *ui_session_log_reasons;
		     k++)
			if (memmem(ev->text, ev->text_len,
				ui_session_log_reasons[k],
				strlen(ui_session_log_reasons[k])) != NULL) {
				kbest = k;
				best = ev;
				break;
			}
	}
	return best;
}

/* "<a@b>" out of "FROM:<a@b> SIZE=10" (raw bytes, escaped); caller frees. */
static char *
ui_session_path(struct ui_ctx *ctx, const char *arg)
{
	const char *lt, *gt;

	if (arg == NULL)
		return NULL;
	lt = strchr(arg, '<');
	gt = lt != NULL ? strchr(lt, '>') : NULL;
	if (lt == NULL || gt == NULL)
		return ui_vis(ctx, arg, strlen(arg));
	return ui_vis(ctx, lt, (size_t)(gt - lt + 1));
}

static void
ui_session_box(struct ui_ctx *ctx, struct ui_doc *d, const struct event *ev,
    int width, const struct ui_session_walk *w)
{
	const struct event_diag *x = ev->diag;
	int indent = UI_TS_COLS + UI_MARK_COLS, boxw, inner, tw, used;
	char head[320], *title;
	const char *meaning;

	/* Wide terminals line the box up with the text; narrow ones give
	   the text the room. */
	if (width < 110)
		indent = 4;
	boxw = width - indent - 1;
	if (boxw > 96)
		boxw = 96;
	if (boxw < 30) {
		indent = 0;
		boxw = width - 1;
	}
	inner = boxw - 4;
	if (ev->type == EV_ANOMALY) /* no reply code: what the line says */
		snprintf(head, sizeof head, " %s ",
		    ev->enhanced[0] ? ev->enhanced : "mismatch");
	else
		snprintf(head, sizeof head, " %s%d%s%s ",
		    ev->highlight ? "!! " : "", ev->code,
		    ev->enhanced[0] ? " " : "", ev->enhanced);
	tw = ui_width(head);
	ui_doc_line(d);
	d->lines[d->n - 1].mark = 2;
	ui_doc_segf(d, UI_NORMAL, "%*s", indent, "");
	ui_doc_ld(d, UI_BOX, UI_LD_TL, 1);
	ui_doc_ld(d, UI_BOX, UI_LD_H, 1);
	ui_doc_seg(d, ev->highlight ? UI_BOX_TITLE : UI_BOX_TITLE_MINOR, head);
	used = 2 + tw;
	ui_doc_ld(d, UI_BOX, UI_LD_H, boxw - used - 1);
	ui_doc_ld(d, UI_BOX, UI_LD_TR, 1);

	/* The title, in full, on its own lines. */
	title = ui_vis(
	    ctx, x->title ? x->title : "", x->title ? strlen(x->title) : 0);
	{
		char **parts;
		size_t n, i;
		int pad;

		n = ui_wrap(
		    *title ? title : "(no explanation)", inner, true, &parts);
		for (i = 0; i < n; i++) {
			ui_doc_line(d);
			ui_doc_segf(d, UI_NORMAL, "%*s", indent, "");
			ui_doc_ld(d, UI_BOX, UI_LD_V, 1);
			ui_doc_seg(d, UI_NORMAL, " ");
			ui_doc_seg(d, UI_BOX_LABEL, parts[i]);
			pad = inner - ui_width(parts[i]);
			ui_doc_segf(d, UI_NORMAL, "%*s", pad > 0 ? pad : 0, "");
			ui_doc_seg(d, UI_NORMAL, " ");
			ui_doc_ld(d, UI_BOX, UI_LD_V, 1);
			free(parts[i]);
		}
		free(parts);
	}
	free(title);

	meaning = x->meaning;
	if (meaning == NULL || *meaning == '\0')
		meaning = diag_code_meaning(ev->code);
	ui_session_box_para(ctx, d, indent, inner, "Meaning", meaning);
	ui_session_box_para(ctx, d, indent, inner, "When", x->when);
	/* Whose mail this is: the transaction's sender, the recipient. */
	{
		char *from = ui_session_path(ctx, w->mail_arg), *to = NULL;
		char *env = NULL;

		if (strcmp(ev->answers, "RCPT") == 0)
			to = ui_session_path(ctx, ev->ctx.last_arg);
		if (from != NULL && to != NULL)
			xasprintf(&env, "from %s, to %s", from, to);
		else if (from != NULL)
			xasprintf(&env, "from %s", from);
		else if (to != NULL)
			xasprintf(&env, "to %s", to);
		/* Raw text was escaped by ui_session_path: no second pass. */
		if (env != NULL)
			ui_session_box_para_safe(
			    d, indent, inner, "Envelope", env);
		free(env);
		free(from);
		free(to);
	}
	/* What the server's own log says (--maillog), for 421 and 452. */
	if (ev->highlight) {
		const struct event *lg = ui_session_log_reason(w->ss);

		if (lg != NULL) {
			size_t n;
			const char *msg = ui_session_log_msg(lg, &n);
			char *t = ui_vis(ctx, msg, n), *para = NULL;

			if (lg->log_code != 0)
				xasprintf(&para,
				    "the server's log says: %s (%s: %s)", t,
				    lg->log_says, lg->log_cause);
			else
				xasprintf(
				    &para, "the server's log says: %s", t);
			ui_session_box_para_safe(d, indent, inner, "Log", para);
			free(para);
			free(t);
		}
	}
	ui_session_box_para(ctx, d, indent, inner, "Sender", x->fix_sender);
	ui_session_box_para(ctx, d, indent, inner, "Operator", x->fix_operator);
	{
		char *why = event_diag_why(x, 4);

		ui_session_box_para(ctx, d, indent, inner, "Why", why);
		free(why);
	}

	ui_doc_line(d);
	ui_doc_segf(d, UI_NORMAL, "%*s", indent, "");
	ui_doc_ld(d, UI_BOX, UI_LD_BL, 1);
	if (x->rule != NULL && *x->rule != '\0') {
		char *r = ui_vis(ctx, x->rule, strlen(x->rule));
		int rw;

		snprintf(head, sizeof head, " rule %s ", r);
		free(r);
		rw = ui_width(head);
		if (rw > boxw - 4) {
			ui_doc_ld(d, UI_BOX, UI_LD_H, boxw - 2);
		} else {
			ui_doc_ld(d, UI_BOX, UI_LD_H, boxw - 3 - rw);
			ui_doc_seg(d, UI_TIME, head);
			ui_doc_ld(d, UI_BOX, UI_LD_H, 1);
		}
	} else
		ui_doc_ld(d, UI_BOX, UI_LD_H, boxw - 2);
	ui_doc_ld(d, UI_BOX, UI_LD_BR, 1);
}

/*
 * Does the reply follow the command it answers?  With PIPELINING replies
 * come after several commands: each then names its command.
 */
static bool
ui_session_answers_prev(const struct event *ev, const struct event *prev)
{
	if (ev->answers[0] == '\0' || strcmp(ev->answers, "CONNECT") == 0 ||
	    strcmp(ev->answers, "DATA-END") == 0)
		return true; /* nothing to name */
	if (prev == NULL || prev->type != EV_COMMAND)
		return false;
	if (strcmp(prev->verb, ev->answers) != 0)
		return false;
	return ev->ctx.last_arg == NULL || prev->arg == NULL ||
	       strcmp(prev->arg, ev->ctx.last_arg) == 0;
}

/* " <- RCPT TO:<a@b>" after the reply's last line, or on a line of its own. */
static void
ui_session_answers(
    struct ui_ctx *ctx, struct ui_doc *d, const struct event *ev, int width)
{
	char *a, *v, *t;

	a = ui_vis(ctx, ev->ctx.last_arg,
	    ev->ctx.last_arg != NULL ? strlen(ev->ctx.last_arg) : 0);
	v = ui_vis(ctx, ev->answers, strnlen(ev->answers, sizeof ev->answers));
	xasprintf(&t, "%s %s%s%s", ctx->utf8 ? "\xe2\x86\x90" : "<-", v,
	    *a ? " " : "", a);
	free(a);
	free(v);
	if (ui_doc_line_width(&d->lines[d->n - 1]) + 2 + ui_width(t) > width) {
		ui_session_lead(d, &ev->ts, false);
		ui_doc_segf(d, UI_NORMAL, "%*s", UI_MARK_COLS, "");
		ui_doc_seg(d, UI_TIME, t);
	} else {
		ui_doc_seg(d, UI_NORMAL, "  ");
		ui_doc_seg(d, UI_TIME, t);
	}
	free(t);
}

static void
ui_session_reply(struct ui_ctx *ctx, struct ui_doc *d, const struct event *ev,
    int width, const struct ui_session_walk *w)
{
	enum ui_role role =
	    ev->highlight ? UI_HIGHLIGHT : ui_reply_role(ev->code);
	const char *p = ev->text != NULL ? ev->text : "", *e;
	const char *end = p + (ev->text != NULL ? ev->text_len : 0);
	char *t, *line;
	unsigned i = 0, lines = ev->lines > 0 ? ev->lines : 1;
	bool first = true;
	size_t mark_line = d->n;

	/* Rebuild each line as the server sent it: "452-" ... "452 ". */
	do {
		e = memchr(p, '\n', (size_t)(end - p));
		if (e == NULL)
			e = end;
		t = ui_vis(ctx, p, (size_t)(e - p));
		if (xasprintf(&line, "%d%c%s%s%s%s", ev->code,
			i + 1 < lines && e != end ? '-' : ' ', ev->enhanced,
			ev->enhanced[0] ? " " : "", t,
			ev->cut && e == end ? " [cut: not all captured]" : "") <
		    0)
			line = xstrdup("");
		free(t);
		ui_session_wrapped(d, &ev->ts, first, "S: ", UI_SERVER,
		    ev->encrypted ? "[tls] " : NULL, role, line, width);
		free(line);
		first = false;
		i++;
		p = e + 1;
	} while (e < end);
	if (ev->latency_ms >= 0) {
		char lat[32];

		snprintf(lat, sizeof lat,
		    ev->latency_ms < 10 ? "  (%.1f ms)" : "  (%.0f ms)",
		    ev->latency_ms);
		/* On a line of its own rather than past the right edge. */
		if (ui_doc_line_width(&d->lines[d->n - 1]) + ui_width(lat) >
		    width) {
			ui_session_lead(d, &ev->ts, false);
			ui_doc_segf(d, UI_NORMAL, "%*s", UI_MARK_COLS, "");
			ui_doc_seg(d, UI_TIME, lat + 2);
		} else
			ui_doc_seg(d, UI_TIME, lat);
	}
	if (!ui_session_answers_prev(ev, w->prev))
		ui_session_answers(ctx, d, ev, width);
	if (ev->highlight && mark_line < d->n)
		d->lines[mark_line].mark = 1;
	if (ev->diag != NULL)
		ui_session_box(ctx, d, ev, width, w);
}

static void
ui_session_event(struct ui_ctx *ctx, struct ui_doc *d, const struct event *ev,
    int width, const struct ui_session_walk *w)
{
	char *t, *u, buf[512];
	size_t i;

	switch (ev->type) {
	case EV_SESSION_OPEN:
		t = ui_vis(ctx, ev->client, strlen(ev->client));
		u = ui_vis(ctx, ev->server, strlen(ev->server));
		snprintf(buf, sizeof buf, "-- session opened: %s > %s%s%s", t,
		    u, ev->tls_implicit ? " (implicit TLS)" : "",
		    ev->midstream ? " (capture began mid-session)" : "");
		free(t);
		free(u);
		ui_session_wrapped(
		    d, &ev->ts, true, "", UI_INFO, NULL, UI_INFO, buf, width);
		break;
	case EV_COMMAND:
		t = ui_vis(ctx, ev->arg, event_arg_len(ev));
		u = ui_vis(ctx, ev->verb, strnlen(ev->verb, sizeof ev->verb));
		{
			char *line;

			if (xasprintf(&line, "%s%s%s", u, *t ? " " : "", t) < 0)
				line = xstrdup("");
			ui_session_wrapped(d, &ev->ts, true, "C: ", UI_CLIENT,
			    ev->encrypted ? "[tls] " : NULL, UI_NORMAL, line,
			    width);
			free(line);
		}
		free(t);
		free(u);
		break;
	case EV_REPLY:
		ui_session_reply(ctx, d, ev, width, w);
		break;
	case EV_MESSAGE:
		t = ui_vis(ctx, ev->mail_from,
		    ev->mail_from ? strlen(ev->mail_from) : 0);
		u = ui_vis(
		    ctx, ev->queue_id, ev->queue_id ? strlen(ev->queue_id) : 0);
		snprintf(buf, sizeof buf,
		    "-- message %s (%d): %" PRIu64 " byte%s from <%s>, %zu "
		    "recipient%s accepted, %zu rejected%s%s",
		    ev->code >= 200 && ev->code < 300 ? "accepted"
						      : "NOT accepted",
		    ev->code, ev->bytes, event_plural(ev->bytes), t,
		    ev->n_accepted, event_plural(ev->n_accepted),
		    ev->n_rejected, ev->queue_id ? ", queued as " : "", u);
		free(t);
		free(u);
		ui_session_wrapped(
		    d, &ev->ts, true, "", UI_INFO, NULL, UI_INFO, buf, width);
		break;
	case EV_TLS: {
		char tls[1024];
		size_t o = 0;

#define UI_TLS_ADD(label, s)                                                   \
	if ((s) != NULL && o < sizeof tls) {                                   \
		char *v_ = ui_vis(ctx, (s), strlen(s));                        \
		o += (size_t)snprintf(                                         \
		    tls + o, sizeof tls - o, "%s%s", label, v_);               \
		free(v_);                                                      \
	}
		o = (size_t)snprintf(
		    tls, sizeof tls, "== TLS %s", ev->phase ? ev->phase : "?");
		UI_TLS_ADD(" ", ev->version);
		UI_TLS_ADD(" ", ev->cipher);
		UI_TLS_ADD(" sni=", ev->sni);
		UI_TLS_ADD(" cert=", ev->cert_subject);
		UI_TLS_ADD(" problems=", ev->cert_problems);
		UI_TLS_ADD(" alert=", ev->alert);
		if (o < sizeof tls && ev->phase != NULL &&
		    strcmp(ev->phase, "established") == 0)
			o += (size_t)snprintf(tls + o, sizeof tls - o, "%s",
			    ev->decrypted ? " - decrypted"
					  : " - encrypted from here on");
		UI_TLS_ADD(" - ", ev->reason);
#undef UI_TLS_ADD
		ui_session_wrapped(d, &ev->ts, true, "", UI_ENCRYPTED, NULL,
		    UI_ENCRYPTED, tls, width);
		break;
	}
	case EV_GAP:
		snprintf(buf, sizeof buf,
		    "!! gap: %" PRIu64 " bytes missing from the %s (not "
		    "captured)",
		    ev->bytes, ev->dir == EV_DIR_SERVER ? "server" : "client");
		ui_session_wrapped(
		    d, &ev->ts, true, "", UI_WARN, NULL, UI_WARN, buf, width);
		break;
	case EV_ANOMALY:
		t = ui_vis(
		    ctx, ev->detail, ev->detail ? strlen(ev->detail) : 0);
		snprintf(buf, sizeof buf, "!! anomaly: %s%s%s",
		    ev->what ? ev->what : "?", *t ? ": " : "", t);
		free(t);
		if (ev->what == EV_ANOM_NO_REPLY_CODE) {
			/* The line itself, escaped, and what it means. */
			t = ui_vis(ctx, ev->text ? ev->text : "",
			    ev->text ? ev->text_len : 0);
			snprintf(buf, sizeof buf, "!! anomaly: %s: %s %s",
			    ev->what, ev->enhanced, t);
			free(t);
		}
		ui_session_wrapped(
		    d, &ev->ts, true, "", UI_WARN, NULL, UI_WARN, buf, width);
		if (ev->diag != NULL)
			ui_session_box(ctx, d, ev, width, w);
		break;
	case EV_SESSION_CLOSE: {
		size_t o;

		o = (size_t)snprintf(buf, sizeof buf,
		    "-- session closed (%s) after %.3f s: %u command%s, %u "
		    "repl%s, %u message%s",
		    ev->close_reason ? ev->close_reason : "?", ev->duration,
		    ev->commands, event_plural(ev->commands), ev->replies,
		    ev->replies == 1 ? "y" : "ies", ev->messages,
		    event_plural(ev->messages));
		for (i = 0; i < ev->n_codes && o < sizeof buf; i++)
			o += (size_t)snprintf(buf + o, sizeof buf - o,
			    "%s%d:%u", i ? " " : "; ", ev->codes[i].code,
			    ev->codes[i].count);
		if (ev->no_payload && o < sizeof buf)
			snprintf(buf + o, sizeof buf - o,
			    "; payload not captured: client %" PRIu64
			    " packets, %" PRIu64 " bytes; server %" PRIu64
			    " packets, %" PRIu64 " bytes; %" PRIu64
			    " retransmissions",
			    ev->dir_pkts[0], ev->dir_bytes[0], ev->dir_pkts[1],
			    ev->dir_bytes[1],
			    ev->dir_retrans[0] + ev->dir_retrans[1]);
		ui_session_wrapped(
		    d, &ev->ts, true, "", UI_INFO, NULL, UI_INFO, buf, width);
		break;
	}
	case EV_LOG: {
		/* The MTA's log line (--maillog), marked as such, with how
		   it was joined. */
		size_t n;
		const char *msg = ui_session_log_msg(ev, &n);

		char att[40] = "";

		/* An outbound delivery tried again: which attempt. */
		if (ev->log_attempt > 1)
			snprintf(
			    att, sizeof att, ", attempt %u", ev->log_attempt);
		t = ui_vis(ctx, msg, n);
		snprintf(buf, sizeof buf, "%s  [%s%s%s%s]", t,
		    ev->join != NULL ? ev->join : "none",
		    ev->log_outcome != NULL ? ", " : "",
		    ev->log_outcome != NULL ? ev->log_outcome : "", att);
		free(t);
		ui_session_wrapped(d, &ev->ts, true, "L: ", UI_TIME, "log ",
		    UI_INFO, buf, width);
		break;
	}
	case EV_STATS:
	case EV_PACKET:
		break;
	}
}

void
ui_session_doc(struct ui_ctx *ctx, const struct store_session *ss, int width,
    struct ui_doc *d)
{
	struct ui_session_walk w;
	const struct event *ev;
	char *t, *u, buf[512], drop[48];
	size_t i;

	ui_doc_clear(d);
	t = ui_vis(ctx, ss->helo, ss->helo ? strlen(ss->helo) : 0);
	u = ui_vis(ctx, ss->client, strlen(ss->client));
	snprintf(buf, sizeof buf, "Session %" PRIu64 ": %s", ss->id, u);
	free(u);
	u = ui_vis(ctx, ss->server, strlen(ss->server));
	ui_doc_line(d);
	ui_doc_seg(d, UI_CLIENT, buf);
	ui_doc_seg(d, UI_NORMAL, " > ");
	ui_doc_seg(d, UI_SERVER, u);
	free(u);
	if (*t != '\0')
		ui_doc_segf(d, UI_NORMAL, "  %s %s",
		    ss->helo_verb[0] != '\0' ? ss->helo_verb : "HELO", t);
	free(t);
	ui_doc_line(d);
	if (ss->pkt_dropped > 0)
		snprintf(drop, sizeof drop, " (%" PRIu64 " not kept)",
		    ss->pkt_dropped);
	else
		snprintf(drop, sizeof drop, "%s",
		    ss->packets_truncated ? " (capped)" : "");
	snprintf(buf, sizeof buf,
	    "TLS %s  rcpts %u/%u accepted  packets kept %zu%s  %s%s", ss->tls,
	    ss->rcpts_ok, ss->rcpts, ss->n_packets, drop,
	    ss->closed ? "closed: " : "open",
	    ss->closed && ss->close_reason ? ss->close_reason : "");
	ui_doc_seg(d, UI_INFO, buf);
	if (ss->n421 + ss->n452 > 0) {
		ui_doc_seg(d, UI_NORMAL, "  ");
		ui_doc_segf(
		    d, UI_FLAG, " %u x 421, %u x 452 ", ss->n421, ss->n452);
	}
	if (ss->events_truncated) {
		ui_doc_line(d);
		ui_doc_seg(d, UI_WARN,
		    "!! transcript capped: later events were not kept");
	}
	ui_doc_line(d);
	memset(&w, 0, sizeof w);
	w.ss = ss;
	for (i = 0; i < ss->n_events; i++) {
		ev = ss->events[i];
		if (ev->type == EV_LOG) {
			/* Not part of the dialogue: prev stays the last
			   command or reply. */
			if (!ctx->session->hide_log)
				ui_session_event(ctx, d, ev, width, &w);
			continue;
		}
		ui_session_event(ctx, d, ev, width, &w);
		/* The transaction's sender, until it ends. */
		if (ev->type == EV_COMMAND && strcmp(ev->verb, "MAIL") == 0)
			w.mail_arg = ev->arg;
		else if (ev->type == EV_MESSAGE ||
			 (ev->type == EV_COMMAND &&
			     strcmp(ev->verb, "RSET") == 0))
			w.mail_arg = NULL;
		w.prev = ev;
	}
}

static void
ui_session_create(struct ui_ctx *ctx)
{
	ctx->session = xcalloc(1, sizeof *ctx->session);
	ctx->session->cur = SIZE_MAX;
}

static void
ui_session_destroy(struct ui_ctx *ctx)
{
	if (ctx->session == NULL)
		return;
	ui_doc_clear(&ctx->session->doc);
	free(ctx->session->doc.lines);
	free(ctx->session);
	ctx->session = NULL;
}

static void
ui_session_open(struct ui_ctx *ctx, uint64_t id)
{
	ctx->session->id = id;
	ctx->session->gen = 0;
	ctx->session->width = 0;
	ctx->session->scroll.top = 0;
	ctx->session->scroll.follow = false;
	ctx->session->cur = SIZE_MAX;
	ctx->session->search[0] = '\0';
}

static int
ui_session_height(struct ui_ctx *ctx)
{
	int h = ui_body_end(ctx) - UI_BODY_Y;

	return h > 0 ? h : 1;
}

/* The session, with its document up to date; NULL when it was evicted. */
static struct store_session *
ui_session_current(struct ui_ctx *ctx)
{
	struct store_session *ss = store_find(ctx->store, ctx->session->id);

	if (ss == NULL)
		return NULL;
	if (ss->gen != ctx->session->gen || ctx->session->width != ctx->cols) {
		ui_session_doc(ctx, ss, ctx->cols, &ctx->session->doc);
		ctx->session->gen = ss->gen;
		ctx->session->width = ctx->cols;
	}
	ui_scroll_fix(
	    &ctx->session->scroll, ctx->session->doc.n, ui_session_height(ctx));
	return ss;
}

static void
ui_session_draw(struct ui_ctx *ctx)
{
	const struct ui_doc *d = &ctx->session->doc;
	size_t top = ctx->session->scroll.top, cur = ctx->session->cur;
	int h = ui_session_height(ctx);

	if (ui_session_current(ctx) == NULL) {
		ui_put(ctx, UI_BODY_Y + 1, 2, ctx->cols - 2, UI_WARN,
		    "This session was evicted (see --limit). Esc goes back.");
		return;
	}
	ui_doc_draw(ctx, d, top, UI_BODY_Y, h);
	/* The line n/N went to: its time stamp stands out. */
	if (cur < d->n && cur >= top && cur < top + (size_t)h &&
	    d->lines[cur].n > 0 && d->lines[cur].segs[0].text != NULL)
		ui_put(ctx, UI_BODY_Y + (int)(cur - top), 0, UI_TS_COLS - 1,
		    UI_CURRENT, d->lines[cur].segs[0].text);
	ui_doc_draw_matches(ctx, d, top, UI_BODY_Y, h, ctx->session->search);
}

/* Is line i a target of n/N: a 421/452 reply, or a search match? */
static bool
ui_session_target(struct ui_ctx *ctx, size_t i)
{
	const struct ui_dline *l = &ctx->session->doc.lines[i];
	bool hit;
	char *t;

	if (ctx->session->search[0] == '\0')
		return l->mark == 1;
	t = ui_doc_line_text(l);
	hit = ui_find(t, ctx->session->search) != NULL;
	free(t);
	return hit;
}

/*
 * n (dir 1) and N (-1): the next or previous 421/452 reply, or search match
 * while a search is on, counted from the line the last jump went to while
 * that line is on screen, else from the screen's edge (so G then N finds
 * the last one).  At an end the walk wraps around, and says so.
 */
static void
ui_session_jump(struct ui_ctx *ctx, int dir)
{
	const struct ui_doc *d = &ctx->session->doc;
	size_t top = ctx->session->scroll.top,
	       h = (size_t)ui_session_height(ctx);
	size_t i, k, from, found = SIZE_MAX, nth = 0, total = 0;
	bool wrapped = false, cur_on = ctx->session->cur < d->n &&
				       ctx->session->cur >= top &&
				       ctx->session->cur < top + h;
	char what[UI_FILTER_MAX + 32];

	if (ctx->session->search[0] != '\0') {
		char *v = ui_vis(
		    ctx, ctx->session->search, strlen(ctx->session->search));

		snprintf(what, sizeof what, "match for \"%s\"", v);
		free(v);
	} else
		snprintf(what, sizeof what, "421/452 reply");
	if (d->n == 0) {
		ui_message(ctx, false, "no %s in this session", what);
		return;
	}
	if (dir > 0)
		from = cur_on ? ctx->session->cur + 1 : top;
	else
		from = cur_on ? ctx->session->cur + d->n - 1
			      : (top + h < d->n ? top + h : d->n) + d->n - 1;
	/* At most one turn around the document, starting at from. */
	for (k = 0; k < d->n; k++) {
		i = dir > 0 ? (from + k) % d->n : (from - k) % d->n;
		if (ui_session_target(ctx, i)) {
			found = i;
			wrapped = dir > 0 ? from + k >= d->n : from - k < d->n;
			break;
		}
	}
	if (found == SIZE_MAX) {
		ui_message(ctx, false, "no %s in this session", what);
		return;
	}
	for (i = 0; i < d->n; i++)
		if (ui_session_target(ctx, i)) {
			total++;
			if (i <= found)
				nth++;
		}
	ctx->session->cur = found;
	/* A few lines of context above the line. */
	ctx->session->scroll.top = found > 3 ? found - 3 : 0;
	ctx->session->scroll.follow = false;
	ui_scroll_fix(&ctx->session->scroll, d->n, (int)h);
	ui_message(ctx, false, "%s %zu of %zu%s", what, nth, total,
	    !wrapped  ? ""
	    : dir > 0 ? " (wrapped: back to the first)"
		      : " (wrapped: back to the last)");
}

static void
ui_session_search_change(struct ui_ctx *ctx, const char *text)
{
	snprintf(ctx->session->search, sizeof ctx->session->search, "%s", text);
}

static void
ui_session_search_done(struct ui_ctx *ctx, const char *answer)
{
	if (answer == NULL) {
		snprintf(ctx->session->search, sizeof ctx->session->search,
		    "%s", ctx->session->search_saved);
		return;
	}
	snprintf(
	    ctx->session->search, sizeof ctx->session->search, "%s", answer);
	ctx->session->cur = SIZE_MAX;
	if (answer[0] != '\0')
		ui_session_jump(ctx, 1);
}

static struct ui_result
ui_session_key(struct ui_ctx *ctx, enum ui_action act)
{
	struct store_session *ss = ui_session_current(ctx);

	switch (act) {
	case UI_A_BACK:
		/* Esc first ends a search, then goes back. */
		if (ctx->session->search[0] != '\0') {
			ctx->session->search[0] = '\0';
			ui_message(ctx, false,
			    "search cleared: n/N go to 421/452 replies");
			return UI_RESULT(UI_R_DONE);
		}
		return UI_RESULT(UI_R_BACK);
	case UI_A_NEXT:
		ui_session_jump(ctx, 1);
		return UI_RESULT(UI_R_DONE);
	case UI_A_PREV:
		ui_session_jump(ctx, -1);
		return UI_RESULT(UI_R_DONE);
	case UI_A_FIND:
		snprintf(ctx->session->search_saved,
		    sizeof ctx->session->search_saved, "%s",
		    ctx->session->search);
		ui_prompt(ctx, "Search: ", ctx->session->search,
		    ui_session_search_done, ui_session_search_change);
		return UI_RESULT(UI_R_DONE);
	case UI_A_SAVE_PCAP:
		if (ss == NULL)
			ui_message(ctx, true, "this session was evicted");
		else
			ui_save_pcap_prompt(ctx, &ss, 1);
		return UI_RESULT(UI_R_DONE);
	case UI_A_SAVE_TEXT:
		if (ss == NULL)
			ui_message(ctx, true, "this session was evicted");
		else
			ui_save_text_prompt(ctx, ss->id, ui_session_doc);
		return UI_RESULT(UI_R_DONE);
	case UI_A_LOG:
		ctx->session->hide_log = !ctx->session->hide_log;
		ctx->session->gen = 0; /* rebuild the transcript */
		ui_message(ctx, false,
		    ctx->session->hide_log ? "the MTA's log lines are hidden"
					   : "the MTA's log lines are shown "
					     "(--maillog)");
		return UI_RESULT(UI_R_DONE);
	default:
		break;
	}
	return ui_scroll_key(&ctx->session->scroll, act, ctx->session->doc.n,
		   ui_session_height(ctx))
		   ? UI_RESULT(UI_R_DONE)
		   : UI_RESULT(UI_R_PASS);
}

const struct ui_screen ui_screen_session = {
    "Session",
    UI_SCR_SESSION,
    ui_session_create,
    ui_session_destroy,
    ui_session_open,
    ui_session_draw,
    ui_session_key,
    NULL,
};
