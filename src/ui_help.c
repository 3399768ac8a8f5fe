/*
 * ui_help: every key, as a scrolling document (`?` or F1), from the key
 * table of ui_keys.c; the filter's syntax from the store's table of fields;
 * the TLS column's marks from the list's own table.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui_screen.h"
#include "xmalloc.h"

/* The screen's own state: its document and where it is scrolled. */
struct ui_help_state {
	struct ui_doc doc;
	struct ui_scroll scroll;
};

/* What the screens show, besides keys. */
static const char *const ui_help_marks[][2] = {
    {NULL, "Columns and counts"},
    {"Rcpt", "recipients accepted / RCPT commands sent (3/5: two refused)"},
    {"Last", "the last reply code"},
    {"Flags", "421, 452, gap, ... seen in the session"},
    {"421 replies: N", "status bar: replies with that code, all sessions "
		       "(421: N when narrow)"},
    {"N of M sessions", "in the title: sessions listed with the filter"},
    {NULL, "Marks"},
    {"C: S:", "client command / server reply (colour by class 2xx..5xx)"},
    {"[tls]", "seen inside TLS (decrypted with a key log)"},
    {"!! gap", "bytes that were not captured"},
    {"12*", "* after the number in the list: the session is open"},
};

static void
ui_help_heading(struct ui_doc *d, const char *title)
{
	if (d->n > 0)
		ui_doc_line(d);
	ui_doc_line(d);
	ui_doc_seg(d, UI_BOX_LABEL, title);
}

/* One help row: the key (or example) and its text, wrapped. */
static void
ui_help_row(struct ui_doc *d, int width, const char *key, const char *text)
{
	char **parts;
	size_t j, n;

	n = ui_wrap(text, width - 23, true, &parts);
	for (j = 0; j < n; j++) {
		ui_doc_line(d);
		ui_doc_segf(d, UI_CLIENT, "  %-20s ", j == 0 ? key : "");
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

	ui_help_heading(d, "Filter (/ on the list)");
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
	size_t i;
	char key[64], text[512];

	ui_doc_clear(d);
	/* The keys, from the table that dispatch uses. */
	for (i = 0; i < ui_nkeydefs; i++) {
		if (ui_keydefs[i].help == NULL)
			ui_help_heading(d, ui_keydefs[i].keys);
		else
			ui_help_row(
			    d, width, ui_keydefs[i].keys, ui_keydefs[i].help);
	}
	ui_help_filter(d, width);
	for (i = 0; i < sizeof ui_help_marks / sizeof ui_help_marks[0]; i++) {
		if (ui_help_marks[i][0] == NULL)
			ui_help_heading(d, ui_help_marks[i][1]);
		else
			ui_help_row(
			    d, width, ui_help_marks[i][0], ui_help_marks[i][1]);
	}
	/* The TLS column, from the table the list draws it with. */
	key[0] = '\0';
	text[0] = '\0';
	for (i = 0; i < ui_ntls_marks; i++) {
		snprintf(key + strlen(key), sizeof key - strlen(key), "%s%s",
		    i > 0 ? " " : "", ui_tls_marks[i].mark);
		snprintf(text + strlen(text), sizeof text - strlen(text),
		    "%s%s",
		    i > 0 ? "; " : "TLS column: ", ui_tls_marks[i].help);
	}
	ui_help_row(d, width, key, text);
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
	ui_help_build(&ctx->help->doc, ctx->cols);
	ui_scroll_fix(
	    &ctx->help->scroll, ctx->help->doc.n, ui_help_height(ctx));
	ui_doc_draw(ctx, &ctx->help->doc, ctx->help->scroll.top, UI_BODY_Y,
	    ui_help_height(ctx));
}

static struct ui_result
ui_help_key(struct ui_ctx *ctx, enum ui_action act)
{
	return ui_scroll_key(&ctx->help->scroll, act, ctx->help->doc.n,
		   ui_help_height(ctx))
		   ? UI_RESULT(UI_R_DONE)
		   : UI_RESULT(UI_R_PASS);
}

static void
ui_help_create(struct ui_ctx *ctx)
{
	ctx->help = xcalloc(1, sizeof *ctx->help);
}

static void
ui_help_destroy(struct ui_ctx *ctx)
{
	if (ctx->help == NULL)
		return;
	ui_doc_clear(&ctx->help->doc);
	free(ctx->help->doc.lines);
	free(ctx->help);
	ctx->help = NULL;
}

const struct ui_screen ui_screen_help = {
    "Help",
    UI_SCR_HELP,
    ui_help_create,
    ui_help_destroy,
    NULL,
    ui_help_draw,
    ui_help_key,
    NULL,
};
