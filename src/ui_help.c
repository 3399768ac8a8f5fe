/*
 * ui_help: every key, as a scrolling document (`?` or F1).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "ui_screen.h"

static const char *const ui_help_keys[][2] = {
    {NULL, "Everywhere"},
    {"?  F1", "this help"},
    {"s", "statistics: codes, 421/452 per minute, top hosts by 4xx"},
    {"Space", "pause / resume (a file stops being read, a replay goes on "
	      "at the same pace; live, new events wait until resumed)"},
    {"Esc  q", "back to the previous screen (q on the list quits; live, "
	       "it asks first: q again or y)"},
    {"Q", "quit from any screen (live, it asks first)"},
    {"Ctrl-L", "redraw the screen"},
    {NULL, "Moving"},
    {"Up Down  k j", "previous / next line"},
    {"PgUp PgDn  ^B ^F", "page up / down"},
    {"Home End  g G", "first / last (the list follows new sessions at "
		      "the end)"},
    {NULL, "Session list"},
    {"Enter  Right  l", "open the session's transcript"},
    {"/", "filter, applied as you type (syntax below); empty clears"},
    {"n N", "next / previous session with a 421 or 452 reply (wraps around)"},
    {"p", "problems only: sessions with 4xx/5xx replies or gaps"},
    {"Esc", "clear the filter and problems-only"},
    {"w", "save packets of the selected session (all listed sessions when "
	  "filtered) to a pcap"},
    {"t", "save the selected session's transcript as text"},
    {NULL, "Session view"},
    {"n N", "next / previous 421 or 452 reply (wraps around); while a "
	    "search is on, next / previous match"},
    {"/", "search the transcript: matches are highlighted; Esc ends the "
	  "search"},
    {"w  t", "save this session as pcap / as text"},
    {"Esc  Left  h", "back to the list"},
    {NULL, "Columns and counts"},
    {"Rcpt", "recipients accepted / RCPT commands sent (3/5: two refused)"},
    {"Last", "the last reply code"},
    {"Flags", "421, 452, gap, ... seen in the session"},
    {"421 replies: N", "in the status bar: replies with that code in the "
		       "whole capture; one session can get several"},
    {"N of M sessions", "in the title: sessions listed with the filter"},
    {NULL, "Marks"},
    {"C: S:", "client command / server reply (colour by class 2xx..5xx)"},
    {"[tls]", "seen inside TLS (decrypted with a key log)"},
    {"!! gap", "bytes that were not captured"},
    {"12*", "in the list, * after the number: the session is still open"},
    {"STLS TLS +d", "STARTTLS, implicit TLS, decrypted"},
};

/* One help row: the key (or example) and its text, wrapped. */
static void
ui_help_row(struct ui_doc *d, int width, const char *key, const char *text)
{
	char **parts;
	size_t j, n;

	n = ui_wrap(text, width - 21, true, &parts);
	for (j = 0; j < n; j++) {
		ui_doc_line(d);
		ui_doc_segf(d, UI_CLIENT, "  %-18s ", j == 0 ? key : "");
		ui_doc_seg(d, UI_NORMAL, parts[j]);
		free(parts[j]);
	}
	free(parts);
}

/* The filter's syntax, from the store's own table of fields. */
static void
ui_help_filter(struct ui_doc *d, int width)
{
	char key[32];
	size_t i;

	ui_doc_line(d);
	ui_doc_line(d);
	ui_doc_seg(d, UI_BOX_LABEL, "Filter (/ on the list)");
	ui_help_row(d, width, "words",
	    "every word must match: text in the client, server, HELO, sender "
	    "or a recipient; 452 or 4xx match reply codes (never a port)");
	for (i = 0; i < store_filter_nfields; i++) {
		snprintf(key, sizeof key, "%s:", store_filter_fields[i].name);
		ui_help_row(d, width, key, store_filter_fields[i].help);
	}
	ui_help_row(d, width, "/regex/",
	    "between slashes, an extended regular expression (any case), "
	    "alone or after a field: rcpt:/^bob@/");
	ui_help_row(d, width, "code:452 from:a@",
	    "sessions with a 452 whose sender contains a@");
}

static void
ui_help_build(struct ui_doc *d, int width)
{
	char **parts;
	size_t i, j, n;

	ui_doc_clear(d);
	for (i = 0; i < sizeof ui_help_keys / sizeof ui_help_keys[0]; i++) {
		if (ui_help_keys[i][0] == NULL) {
			if (i > 0)
				ui_doc_line(d);
			ui_doc_line(d);
			ui_doc_seg(d, UI_BOX_LABEL, ui_help_keys[i][1]);
			continue;
		}
		n = ui_wrap(ui_help_keys[i][1], width - 21, true, &parts);
		for (j = 0; j < n; j++) {
			ui_doc_line(d);
			ui_doc_segf(d, UI_CLIENT, "  %-18s ",
			    j == 0 ? ui_help_keys[i][0] : "");
			ui_doc_seg(d, UI_NORMAL, parts[j]);
			free(parts[j]);
		}
		free(parts);
	}
	ui_help_filter(d, width);
	ui_doc_line(d);
	ui_doc_line(d);
	ui_doc_seg(d, UI_INFO,
	    "Replies 421 and 452 are highlighted and "
	    "explained under the reply in the session view.");
}

static int
ui_help_height(struct ui_ctx *ctx)
{
	int h = ui_body_end(ctx) - UI_BODY_Y;

	return h > 0 ? h : 1;
}

static void
ui_help_draw(struct ui_ctx *ctx)
{
	/* Cheap enough to build for every frame: it follows resizes. */
	ui_help_build(&ctx->help_doc, ctx->cols);
	ui_scroll_fix(&ctx->help_scroll, ctx->help_doc.n, ui_help_height(ctx));
	ui_doc_draw(ctx, &ctx->help_doc, ctx->help_scroll.top, UI_BODY_Y,
	    ui_help_height(ctx));
}

static int
ui_help_key(struct ui_ctx *ctx, int key)
{
	return ui_scroll_key(
	    &ctx->help_scroll, key, ctx->help_doc.n, ui_help_height(ctx));
}

const struct ui_screen ui_screen_help = {
    "Help",
    ui_help_draw,
    ui_help_key,
    NULL,
    "Esc:back  Up/Down:scroll  Q:quit",
};
