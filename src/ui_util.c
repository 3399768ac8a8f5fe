/*
 * ui_util: what every screen uses and that calls nothing above it: the
 * colour roles, drawing safe text, the banners' count (the body's height),
 * the screen stack, the message line and the prompt's start.  A leaf of the
 * UI: ui_doc.c and the screens call it, it calls no screen and not ui.c.
 */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

#include <curses.h>

#include "event.h"
#include "store.h"
#include "ui_screen.h"
#include "vis.h"
#include "xmalloc.h"

double
ui_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct ui_colour {
	short fg, bg;
	int attr; /* with colour */
	int mono; /* without colour */
};

/* Indexed by enum ui_role. */
static const struct ui_colour ui_colours[UI_ROLE_MAX] = {
    [UI_NORMAL] = {-1, -1, 0, 0},
    [UI_TITLE] = {COLOR_BLACK, COLOR_CYAN, 0, A_REVERSE},
    [UI_HEADER] = {COLOR_BLACK, COLOR_GREEN, 0, A_BOLD | A_UNDERLINE},
    [UI_STATUS] = {COLOR_BLACK, COLOR_CYAN, 0, A_REVERSE},
    [UI_STATUS_ALERT] = {COLOR_WHITE, COLOR_RED, A_BOLD, A_REVERSE | A_BOLD},
    [UI_KEY] = {COLOR_BLACK, COLOR_CYAN, 0, A_REVERSE},
    [UI_SELECTED] = {COLOR_BLACK, COLOR_CYAN, 0, A_REVERSE},
    [UI_HIGHLIGHT] = {COLOR_RED, -1, A_BOLD, A_BOLD},
    [UI_HIGHLIGHT_SEL] = {COLOR_WHITE, COLOR_RED, A_BOLD, A_REVERSE | A_BOLD},
    [UI_FLAG] = {COLOR_WHITE, COLOR_RED, A_BOLD, A_REVERSE | A_BOLD},
    [UI_REPLY_2XX] = {COLOR_GREEN, -1, 0, 0},
    [UI_REPLY_3XX] = {COLOR_CYAN, -1, 0, 0},
    [UI_REPLY_4XX] = {COLOR_YELLOW, -1, A_BOLD, A_BOLD},
    [UI_REPLY_5XX] = {COLOR_RED, -1, A_BOLD, A_BOLD | A_UNDERLINE},
    [UI_CLIENT] = {COLOR_MAGENTA, -1, A_BOLD, A_BOLD},
    [UI_SERVER] = {COLOR_BLUE, -1, A_BOLD, 0},
    [UI_TIME] = {-1, -1, A_DIM, 0},
    [UI_INFO] = {COLOR_CYAN, -1, 0, 0},
    [UI_WARN] = {COLOR_YELLOW, -1, A_BOLD, A_BOLD},
    [UI_ENCRYPTED] = {COLOR_MAGENTA, -1, 0, A_UNDERLINE},
    [UI_BOX] = {COLOR_YELLOW, -1, 0, 0},
    [UI_BOX_TITLE] = {COLOR_WHITE, COLOR_RED, A_BOLD, A_REVERSE | A_BOLD},
    [UI_BOX_TITLE_MINOR] = {COLOR_YELLOW, -1, A_BOLD, A_BOLD},
    [UI_BOX_LABEL] = {-1, -1, A_BOLD, A_BOLD},
    [UI_BAR_421] = {COLOR_RED, -1, A_BOLD, A_BOLD},
    [UI_BAR_452] = {COLOR_YELLOW, -1, A_BOLD, 0},
    [UI_PROMPT] = {-1, -1, A_BOLD, A_BOLD},
    [UI_ERROR] = {COLOR_WHITE, COLOR_RED, A_BOLD, A_REVERSE | A_BOLD},
    [UI_MATCH] = {COLOR_BLACK, COLOR_YELLOW, 0, A_REVERSE | A_UNDERLINE},
    [UI_CURRENT] = {COLOR_BLACK, COLOR_WHITE, 0, A_REVERSE},
};

void
ui_colours_init(struct ui_ctx *ctx)
{
	const char *nc = getenv("NO_COLOR");
	int i;

	ctx->color = false;
	/* https://no-color.org: present and not empty disables colour. */
	if (nc != NULL && *nc != '\0')
		return;
	if (!has_colors() || start_color() == ERR || COLORS < 8)
		return;
	use_default_colors();
	for (i = 1; i < UI_ROLE_MAX; i++)
		init_pair((short)i, ui_colours[i].fg, ui_colours[i].bg);
	ctx->color = true;
}

int
ui_attr(struct ui_ctx *ctx, enum ui_role r)
{
	if (r <= UI_NORMAL || r >= UI_ROLE_MAX)
		return A_NORMAL;
	if (!ctx->color)
		return ui_colours[r].mono;
	return COLOR_PAIR(r) | ui_colours[r].attr;
}

/* Columns of one character of safe text at s, and its byte length. */
int
ui_char(const char *s, size_t *bytes)
{
	mbstate_t st;
	wchar_t wc;
	size_t n;
	int w;

	if ((unsigned char)*s < 0x80) {
		*bytes = 1;
		return 1;
	}
	memset(&st, 0, sizeof st);
	n = mbrtowc(&wc, s, MB_CUR_MAX, &st);
	if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
		*bytes = 1;
		return 1;
	}
	*bytes = n;
	w = wcwidth(wc);
	return w < 0 ? 1 : w;
}

int
ui_width(const char *s)
{
	size_t b;
	int w = 0;

	while (*s != '\0') {
		w += ui_char(s, &b);
		s += b;
	}
	return w;
}

int
ui_put(
    struct ui_ctx *ctx, int y, int x, int w, enum ui_role role, const char *s)
{
	const char *p = s;
	size_t b;
	int cols = 0, cw;

	if (y < 0 || y >= ctx->rows || x >= ctx->cols || w <= 0)
		return 0;
	if (x + w > ctx->cols)
		w = ctx->cols - x;
	while (*p != '\0') {
		cw = ui_char(p, &b);
		if (cols + cw > w)
			break;
		cols += cw;
		p += b;
	}
	attrset(ui_attr(ctx, role));
	mvaddnstr(y, x, s, (int)(p - s));
	attrset(A_NORMAL);
	return cols;
}

int
ui_put_cut(struct ui_ctx *ctx, int y, int x, int w, enum ui_role role,
    const char *s, bool more)
{
	const char *ell = ctx->utf8 ? "…" : "...", *p = s, *sp = NULL;
	int ew = ctx->utf8 ? 1 : 3, room, cols = 0, sp_cols = 0, cw, used;
	bool blank = true, sp_blank = true;
	size_t b, cut;
	char *t;

	if (w <= 0)
		return 0;
	if (!more && ui_width(s) <= w)
		return ui_put(ctx, y, x, w, role, s);
	if (w <= ew)
		return ui_put(ctx, y, x, w, role, ell);
	room = w - ew;
	/* The longest prefix within room, and the last space in it. */
	while (*p != '\0') {
		cw = ui_char(p, &b);
		if (cols + cw > room)
			break;
		if (*p == ' ') {
			sp = p;
			sp_cols = cols;
			sp_blank = blank;
		} else
			blank = false;
		cols += cw;
		p += b;
	}
	cut = (size_t)(p - s);
	/*
	 * Mid-word: back up to the last space when that keeps at least half
	 * the room, or when only blanks come before it (the segment's own
	 * indentation: the cut then follows the text drawn before it).
	 */
	if (*p != '\0' && *p != ' ' && sp != NULL &&
	    (sp_cols >= room / 2 || sp_blank)) {
		cut = (size_t)(sp - s);
		/* "overload,…" reads worse than "overload…". */
		while (cut > 0 && strchr(" ,;:", s[cut - 1]) != NULL)
			cut--;
	}
	while (cut > 0 && s[cut - 1] == ' ')
		cut--;
	t = xstrndup(s, cut);
	used = ui_put(ctx, y, x, room, role, t);
	free(t);
	used += ui_put(ctx, y, x + used, w - used, role, ell);
	return used;
}

void
ui_cell(
    struct ui_ctx *ctx, int y, int x, int w, enum ui_role role, const char *s)
{
	int used, tw;

	if (w <= 0)
		return;
	tw = ui_width(s);
	if (tw > w && w > 1) {
		used = ui_put(ctx, y, x, w - 1, role, s);
		ui_put(ctx, y, x + used, w - used, role, ctx->utf8 ? "…" : "~");
		used++;
	} else
		used = ui_put(ctx, y, x, w, role, s);
	attrset(ui_attr(ctx, role));
	for (; used < w && x + used < ctx->cols; used++)
		mvaddch(y, x + used, ' ');
	attrset(A_NORMAL);
}

void
ui_fill(struct ui_ctx *ctx, int y, int x, enum ui_role role)
{
	attrset(ui_attr(ctx, role));
	for (; x < ctx->cols; x++)
		mvaddch(y, x, ' ');
	attrset(A_NORMAL);
}

char *
ui_vis(struct ui_ctx *ctx, const void *p, size_t n)
{
	return vis_dup(p != NULL ? p : "", p != NULL ? n : 0, ctx->utf8);
}

enum ui_role
ui_reply_role(int code)
{
	if (code >= 200 && code < 300)
		return UI_REPLY_2XX;
	if (code >= 300 && code < 400)
		return UI_REPLY_3XX;
	if (code >= 400 && code < 500)
		return UI_REPLY_4XX;
	if (code >= 500 && code < 600)
		return UI_REPLY_5XX;
	return UI_NORMAL;
}

void
ui_format_time(char *buf, size_t len, const struct timeval *tv, bool ms)
{
	struct tm tm;
	time_t t = tv->tv_sec;

	if (localtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof tm);
	if (ms)
		snprintf(buf, len, "%02d:%02d:%02d.%03ld", tm.tm_hour,
		    tm.tm_min, tm.tm_sec, (long)(tv->tv_usec / 1000));
	else
		snprintf(buf, len, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min,
		    tm.tm_sec);
}

uint64_t
ui_no_handshake(struct ui_ctx *ctx)
{
	const struct store_stats *st = store_stats(ctx->store);
	uint64_t n = st->no_handshake;

	if (st->last_stats != NULL && st->last_stats->no_handshake > n)
		n = st->last_stats->no_handshake;
	return n;
}

/* The banner of connection attempts without a handshake, when they are
   what the capture is mostly about: no session kept, or at least as many
   attempts as sessions (a few scanners beside a busy MX stay in the
   statistics).  False when there is none to show. */
static bool
ui_half_banner(struct ui_ctx *ctx, char *out, size_t len)
{
	const struct store_stats *st = store_stats(ctx->store);
	uint64_t n = ui_no_handshake(ctx);
	struct store_half top;
	char most[96] = "";

	if (n == 0 || (store_count(ctx->store) > 0 && n < st->sessions))
		return false;
	/* The busiest server before the explanation: a narrow terminal
	   cuts the end. */
	if (store_half_top(ctx->store, &top, 1) == 1)
		snprintf(most, sizeof most, ", most to %s", top.server);
	snprintf(out, len,
	    "%" PRIu64 " connection attempt%s without a handshake%s (not "
	    "sessions; a SYN flood? s: statistics)",
	    n, event_plural(n), most);
	return true;
}

/*
 * Banners: what headless mode would say on stderr, said on screen, one line
 * each above the status bar: no SMTP session but TCP traffic on other
 * ports, connection attempts without a handshake, payloads cut by the
 * snapshot length, the key log's problem.  Returns how many there are (at
 * most UI_BANNERS_MAX), texts in out.
 */
int
ui_banners(struct ui_ctx *ctx, char out[][256])
{
	const struct event *st = store_stats(ctx->store)->last_stats;
	int n = 0;

	if (st != NULL && st->detail != NULL && store_count(ctx->store) == 0)
		snprintf(out[n++], 256, "%s", st->detail);
	if (ui_half_banner(ctx, out[n], 256))
		n++;
	if (ctx->snap_cut > 0)
		snprintf(out[n++], 256,
		    "payload cut by the snapshot length (-s) in %" PRIu64
		    " session%s: capture again with a larger -s",
		    ctx->snap_cut, event_plural(ctx->snap_cut));
	if (ctx->cfg->warning != NULL)
		snprintf(out[n++], 256, "%s", ctx->cfg->warning);
	return n;
}

int
ui_banner_count(struct ui_ctx *ctx)
{
	char b[UI_BANNERS_MAX][256];
	int n = ui_banners(ctx, b);

	/* Never more than a third of the screen. */
	return n > ctx->rows / 3 ? ctx->rows / 3 : n;
}

int
ui_body_end(struct ui_ctx *ctx)
{
	return ctx->rows - 2 - ui_banner_count(ctx);
}

void
ui_push(struct ui_ctx *ctx, const struct ui_screen *s)
{
	if (ctx->depth < UI_STACK_MAX)
		ctx->stack[ctx->depth++] = s;
	else
		ctx->stack[ctx->depth - 1] = s;
	ctx->dirty = true;
}

void
ui_pop(struct ui_ctx *ctx)
{
	if (ctx->depth > 1)
		ctx->depth--;
	ctx->dirty = true;
}

void
ui_message(struct ui_ctx *ctx, bool error, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx->msg, sizeof ctx->msg, fmt, ap);
	va_end(ap);
	ctx->msg_error = error;
	ctx->msg_time = ui_now();
	ctx->dirty = true;
}

void
ui_prompt(struct ui_ctx *ctx, const char *label, const char *initial,
    void (*done)(struct ui_ctx *, const char *),
    void (*change)(struct ui_ctx *, const char *))
{
	ctx->prompting = true;
	snprintf(ctx->prompt_label, sizeof ctx->prompt_label, "%s", label);
	snprintf(ctx->prompt_buf, sizeof ctx->prompt_buf, "%s",
	    initial != NULL ? initial : "");
	ctx->prompt_len = strlen(ctx->prompt_buf);
	ctx->prompt_done = done;
	ctx->prompt_change = change;
	ctx->prompt_pending = false;
	ctx->msg[0] = '\0';
	ctx->dirty = true;
}
