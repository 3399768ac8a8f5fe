/*
 * ui_stats: the statistics screen (`s`): replies per code with their
 * meaning, 421 and 452 per minute of capture time as a bar chart, the
 * servers and clients with the most 4xx replies, and the store's own
 * counters (evictions and caps).  The counts cover the whole capture,
 * evicted sessions included.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curses.h>

#include "diag.h"
#include "ui_screen.h"
#include "xmalloc.h"

/* The screen's own state: its document and where it is scrolled. */
struct ui_stats_state {
	struct ui_doc doc;
	struct ui_scroll scroll;
};

/* Up to this many minutes the chart shows quiet minutes too. */
#define UI_STATS_DENSE 30
#define UI_STATS_TOP 10

static void
ui_stats_bar(struct ui_ctx *ctx, struct ui_doc *d, enum ui_role role,
    const char *label, unsigned n, unsigned max, int width)
{
	int len = max > 0 ? (int)((uint64_t)n * (unsigned)width / max) : 0;
	char *bar, *p;
	const char *unit = ctx->utf8 ? (role == UI_BAR_421 ? "█" : "▒")
				     : (role == UI_BAR_421 ? "#" : "=");
	size_t ul = strlen(unit);
	int i;

	if (n > 0 && len == 0)
		len = 1;
	bar = p = xmalloc((size_t)len * ul + 1);
	for (i = 0; i < len; i++, p += ul)
		memcpy(p, unit, ul);
	*p = '\0';
	ui_doc_seg(d, UI_NORMAL, label);
	ui_doc_seg(d, role, bar);
	ui_doc_segf(d, UI_NORMAL, "%*s%4u", width - len + 1, "", n);
	free(bar);
}

/* Columns for a table's name column: what the others leave of the screen,
   at least lo (the counts are what a table is for), at most hi. */
static int
ui_stats_name_width(struct ui_ctx *ctx, int others, int lo, int hi)
{
	int w = ctx->cols - 2 - others;

	return w > hi ? hi : w < lo ? lo : w;
}

static void
ui_stats_hosts(struct ui_ctx *ctx, struct ui_doc *d, bool servers)
{
	struct store_host h[UI_STATS_TOP];
	size_t n, i;
	char *t;
	int hw;

	ui_doc_line(d);
	ui_doc_line(d);
	ui_doc_seg(d, UI_BOX_LABEL,
	    servers ? "Top servers by 4xx replies"
		    : "Top clients by 4xx replies");
	n = store_top(ctx->store, servers, h, UI_STATS_TOP);
	if (n == 0) {
		ui_doc_line(d);
		ui_doc_seg(d, UI_INFO, "  none");
		return;
	}
	/* The host column gives way on a narrow terminal: the counts are
	   what the table is for (an IPv4 address needs 15 columns). */
	hw = ui_stats_name_width(ctx, 3 * 8 + 1, 15, 40);
	ui_doc_line(d);
	ui_doc_segf(d, UI_HEADER, "  %-*s %7s %7s %7s", hw, "host", "4xx",
	    "421", "452");
	for (i = 0; i < n; i++) {
		t = ui_vis(ctx, h[i].name, strlen(h[i].name));
		ui_doc_line(d);
		ui_doc_segf(d, h[i].n421 + h[i].n452 ? UI_HIGHLIGHT : UI_NORMAL,
		    "  %-*s %7" PRIu64 " %7" PRIu64 " %7" PRIu64, hw, t,
		    h[i].n4xx, h[i].n421, h[i].n452);
		free(t);
	}
}

/* Connection attempts without a handshake: the total, then per server
   (most first) the attempts and the latest report. */
static void
ui_stats_half(struct ui_ctx *ctx, struct ui_doc *d)
{
	struct store_half h[UI_STATS_TOP];
	uint64_t total = ui_no_handshake(ctx), shown, rest;
	char tbuf[32], *t;
	size_t n, i;
	int hw;

	ui_doc_line(d);
	ui_doc_line(d);
	ui_doc_seg(d, UI_BOX_LABEL,
	    "Connection attempts without a handshake (not sessions)");
	if (total == 0) {
		ui_doc_line(d);
		ui_doc_seg(d, UI_INFO, "  none");
		return;
	}
	ui_doc_line(d);
	ui_doc_segf(d, UI_HIGHLIGHT,
	    "  %" PRIu64 " in all: the SYN went unanswered or was refused, "
	    "or the client gave up before the handshake completed",
	    total);
	n = store_half_top(ctx->store, h, UI_STATS_TOP);
	if (n == 0)
		return;
	shown = 0;
	for (i = 0; i < n; i++)
		shown += h[i].attempts;
	/* An IPv6 server with its port needs up to 47 columns. */
	hw = ui_stats_name_width(ctx, 11 + 40, 21, 47);
	ui_doc_line(d);
	ui_doc_segf(d, UI_HEADER, "  %-*s %10s  %s", hw, "server", "attempts",
	    "latest report");
	for (i = 0; i < n; i++) {
		t = ui_vis(ctx, h[i].server, strlen(h[i].server));
		ui_format_time(tbuf, sizeof tbuf, &h[i].last_ts, false);
		ui_doc_line(d);
		ui_doc_segf(d, UI_NORMAL,
		    "  %-*s %10" PRIu64 "  %" PRIu64 " from %s%" PRIu64
		    " source%s, at %s",
		    hw, t, h[i].attempts, h[i].last_attempts,
		    h[i].last_sources >= 100 ? "about " : "", h[i].last_sources,
		    event_plural(h[i].last_sources), tbuf);
		free(t);
	}
	/* Servers past the table, and attempts not yet reported (a report
	   comes at the end of its interval). */
	rest = total > shown ? total - shown : 0;
	if (rest > 0) {
		ui_doc_line(d);
		ui_doc_segf(d, UI_NORMAL, "  %-*s %10" PRIu64, hw,
		    "(other servers, or not yet reported)", rest);
	}
}

static void
ui_stats_build(struct ui_ctx *ctx, struct ui_doc *d)
{
	const struct store_stats *st = store_stats(ctx->store);
	struct event_code_count cc[STORE_CODE_MAX];
	size_t n, i;
	int64_t first, last, m;
	unsigned a, b, max = 0;
	int barw;
	bool sparse;
	char tbuf[16];
	struct timeval tv;

	ui_doc_clear(d);
	ui_doc_line(d);
	ui_doc_segf(d, UI_INFO,
	    "Sessions seen %" PRIu64 ", kept %zu, evicted %" PRIu64
	    ";  replies 421: %" PRIu64 ", 452: %" PRIu64,
	    st->sessions, store_count(ctx->store), st->evicted, st->n421,
	    st->n452);

	ui_doc_line(d);
	ui_doc_line(d);
	ui_doc_seg(d, UI_BOX_LABEL, "Replies by code");
	n = store_code_counts(ctx->store, cc, STORE_CODE_MAX);
	if (n == 0) {
		ui_doc_line(d);
		ui_doc_seg(d, UI_INFO, "  no replies yet");
	}
	for (i = 0; i < n; i++) {
		const char *mean = diag_code_meaning(cc[i].code);
		enum ui_role r = cc[i].code == 421 || cc[i].code == 452
				     ? UI_HIGHLIGHT
				     : ui_reply_role(cc[i].code);

		ui_doc_line(d);
		ui_doc_segf(d, r, "  %3d %8u", cc[i].code, cc[i].count);
		if (mean != NULL)
			ui_doc_segf(d, UI_NORMAL, "  %s", mean);
	}

	ui_doc_line(d);
	ui_doc_line(d);
	ui_doc_seg(d, UI_BOX_LABEL, "421 and 452 per minute (capture time)");
	if (!store_minute_range(ctx->store, &first, &last)) {
		ui_doc_line(d);
		ui_doc_seg(d, UI_INFO, "  no replies yet");
	} else {
		if (last - first >= STORE_MINUTES)
			first = last - STORE_MINUTES + 1;
		for (m = first; m <= last; m++) {
			store_minute(ctx->store, m, &a, &b);
			if (a > max)
				max = a;
			if (b > max)
				max = b;
		}
		/* "  HH:MM  421 " bar " nnnn  452 " bar " nnnn" */
		barw = (ctx->cols - 2 - 7 - 2 * (4 + 6)) / 2;
		if (barw < 5)
			barw = 5;
		/* A long quiet stretch would push the bursts off screen. */
		sparse = last - first + 1 > UI_STATS_DENSE;
		if (sparse) {
			ui_doc_line(d);
			ui_doc_seg(d, UI_TIME,
			    "  (minutes without 421 or 452 are left out)");
		}
		for (m = first; m <= last; m++) {
			store_minute(ctx->store, m, &a, &b);
			if (sparse && a + b == 0)
				continue;
			tv.tv_sec = (time_t)(m * 60);
			tv.tv_usec = 0;
			ui_format_time(tbuf, sizeof tbuf, &tv, false);
			tbuf[5] = '\0';
			ui_doc_line(d);
			ui_doc_segf(
			    d, a + b ? UI_NORMAL : UI_TIME, "  %s ", tbuf);
			ui_stats_bar(ctx, d, UI_BAR_421, " 421 ", a, max, barw);
			ui_stats_bar(
			    ctx, d, UI_BAR_452, "  452 ", b, max, barw);
		}
	}
	ui_stats_hosts(ctx, d, true);
	ui_stats_hosts(ctx, d, false);
	ui_stats_half(ctx, d);

	ui_doc_line(d);
	ui_doc_line(d);
	ui_doc_seg(d, UI_BOX_LABEL, "Capture and limits");
	ui_doc_line(d);
	ui_doc_segf(d, UI_NORMAL,
	    "  packets %" PRIu64 ", bytes %" PRIu64 ", kernel drops %" PRIu64
	    ", events lost (queue) %" PRIu64,
	    st->packets, st->bytes, st->dropped, ctx->queue_dropped);
	ui_doc_line(d);
	ui_doc_segf(d, UI_NORMAL,
	    "  transcript events capped %" PRIu64 ", packets not kept %" PRIu64
	    ", packet memory %zu KiB",
	    st->events_capped, st->packets_capped, st->packet_bytes / 1024);
	if (st->last_stats != NULL) {
		const struct event *ls = st->last_stats;

		ui_doc_line(d);
		ui_doc_segf(d, UI_NORMAL,
		    "  caps hit: flows %" PRIu64 ", out-of-order %" PRIu64
		    ", line %" PRIu64 ", tls %" PRIu64,
		    ls->cap_flows, ls->cap_ooo, ls->cap_line, ls->cap_tls);
	}
}

static int
ui_stats_height(struct ui_ctx *ctx)
{
	int h = ui_body_end(ctx) - UI_BODY_Y;

	return h > 0 ? h : 1;
}

static void
ui_stats_draw(struct ui_ctx *ctx)
{
	ui_stats_build(ctx, &ctx->stats->doc);
	ui_scroll_fix(
	    &ctx->stats->scroll, ctx->stats->doc.n, ui_stats_height(ctx));
	ui_doc_draw(ctx, &ctx->stats->doc, ctx->stats->scroll.top, UI_BODY_Y,
	    ui_stats_height(ctx));
}

static struct ui_result
ui_stats_key(struct ui_ctx *ctx, enum ui_action act)
{
	return ui_scroll_key(&ctx->stats->scroll, act, ctx->stats->doc.n,
		   ui_stats_height(ctx))
		   ? UI_RESULT(UI_R_DONE)
		   : UI_RESULT(UI_R_PASS);
}

static void
ui_stats_create(struct ui_ctx *ctx)
{
	ctx->stats = xcalloc(1, sizeof *ctx->stats);
}

static void
ui_stats_destroy(struct ui_ctx *ctx)
{
	if (ctx->stats == NULL)
		return;
	ui_doc_clear(&ctx->stats->doc);
	free(ctx->stats->doc.lines);
	free(ctx->stats);
	ctx->stats = NULL;
}

const struct ui_screen ui_screen_stats = {
    "Statistics",
    UI_SCR_STATS,
    ui_stats_create,
    ui_stats_destroy,
    NULL,
    ui_stats_draw,
    ui_stats_key,
    NULL,
};
