/*
 * ui_list: the session list, one row per session (KEYS in doc/smtpscope.1):
 * start time, client, server, HELO, MAIL FROM, recipients, TLS, last reply and
 * flags.  Sessions with 421 or 452 stand out (colour, or bold with a
 * reverse flag on monochrome terminals).  The view is rebuilt from the store
 * when it changed, with the filter and "problems only" applied; the
 * selection follows its session by id, and sticks to the bottom while it is
 * there (autoscroll).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curses.h>

#include "ui_screen.h"
#include "xmalloc.h"

/* Column widths for the current terminal width; 0: the column is off. */
struct ui_list_cols {
	int id, time, client, server, helo, from, rcpt, tls, last, flags;
};

/* Room for the client and server columns: never under these. */
#define UI_LIST_CLIENT_MIN 15 /* "127.0.0.1:54321" */
#define UI_LIST_ADDR_MAX 47   /* "[v6 address]:port" */
#define UI_LIST_FROM_MIN 10

static int
ui_list_total(const struct ui_list_cols *c)
{
	const int *w[] = {&c->id, &c->time, &c->client, &c->server, &c->helo,
	    &c->from, &c->rcpt, &c->tls, &c->last, &c->flags};
	size_t i;
	int t = -1; /* one space after every column but the last */

	for (i = 0; i < sizeof w / sizeof w[0]; i++)
		if (*w[i] > 0)
			t += *w[i] + 1;
	return t;
}

/*
 * Columns by priority.  Last and Flags always stay, with the session
 * number; the client and server get the width of the widest address listed
 * (so that at 80 columns an IPv4 client keeps its port).  When the row does
 * not fit, MAIL FROM shrinks to its minimum, then TLS, Start, Rcpt and MAIL
 * FROM go in that order; only then are the addresses cut, the server first.
 * Room left over goes to MAIL FROM and, when wide, HELO.
 */
static void
ui_list_layout(int cols, uint64_t max_id, int client_w, int server_w,
    struct ui_list_cols *c)
{
	int *drop[4], flex, over;
	size_t i;
	char buf[32];

	memset(c, 0, sizeof *c);
	/* As wide as the biggest session number, at least "#". */
	c->id = snprintf(buf, sizeof buf, "%" PRIu64, max_id);
	if (c->id < 3)
		c->id = 3;
	c->last = 4;
	c->flags = 7;
	c->time = 8;
	c->rcpt = 5; /* accepted/sent: "3/5" */
	c->tls = 4;
	c->client = client_w < UI_LIST_CLIENT_MIN ? UI_LIST_CLIENT_MIN
		    : client_w > UI_LIST_ADDR_MAX ? UI_LIST_ADDR_MAX
						  : client_w;
	c->server = server_w < 6		  ? 6
		    : server_w > UI_LIST_ADDR_MAX ? UI_LIST_ADDR_MAX
						  : server_w;
	c->from = UI_LIST_FROM_MIN;
	drop[0] = &c->tls;
	drop[1] = &c->time;
	drop[2] = &c->rcpt;
	drop[3] = &c->from;
	for (i = 0; i < 4 && ui_list_total(c) > cols; i++)
		*drop[i] = 0;
	over = ui_list_total(c) - cols;
	if (over > 0) {
		/* The server first, down to 9 columns, then the client. */
		int cut = c->server - 9 < over ? c->server - 9 : over;

		if (cut > 0) {
			c->server -= cut;
			over -= cut;
		}
		if (over > 0)
			c->client = c->client - over > 9 ? c->client - over : 9;
		return;
	}
	if (c->from == 0)
		return;
	flex = cols - ui_list_total(c) + c->from;
	if (flex >= 40) {
		c->helo = flex * 2 / 5 - 1;
		c->from = flex - c->helo - 1;
		/* Very wide: do not push the flags far right. */
		if (c->helo > 32)
			c->helo = 32;
		if (c->from > 40)
			c->from = 40;
	} else
		c->from = flex > 40 ? 40 : flex;
}

/* The server column: ":25" is implied. */
static void
ui_list_server(const char *ep, char *buf, size_t len)
{
	size_t n = strlen(ep);

	snprintf(buf, len, "%s", ep);
	if (n > 3 && strcmp(ep + n - 3, ":25") == 0 && n - 3 < len)
		buf[n - 3] = '\0';
	/* "[2001:db8::1]" reads fine without the brackets too, keep them. */
}

/*
 * How far ahead a walk asks for memory: the keys are read in order (the
 * hardware follows them), but each points to its session's search text
 * elsewhere on the heap; loading the text UI_LIST_AHEAD keys on keeps
 * several loads in flight instead of one at a time.
 */
#define UI_LIST_AHEAD 12

static inline bool
ui_list_listed(const struct ui_ctx *ctx, const struct store_key *k,
    struct store_session *const *all, size_t i, size_t n)
{
	if (i + UI_LIST_AHEAD < n)
		__builtin_prefetch(k[UI_LIST_AHEAD].search);
	if (ctx->problems && (k->flags & STORE_K_PROBLEM) == 0)
		return false;
	return store_filter_match_key(ctx->filt, k, all[i]);
}

/* Append store session i (its key k) to the list being built in out. */
static inline void
ui_list_add(struct ui_ctx *ctx, struct ui_view_ent *out, size_t *n,
    const struct store_key *k, struct store_session *const *all, size_t i)
{
	if (k->client_w > ctx->view_cw)
		ctx->view_cw = k->client_w;
	if (k->server_w > ctx->view_sw)
		ctx->view_sw = k->server_w;
	out[*n].ss = all[i];
	out[*n].id = k->id;
	out[*n].idx = i;
	(*n)++;
}

static void
ui_list_views_drop(struct ui_ctx *ctx)
{
	size_t i;

	for (i = 0; i < ctx->n_views; i++)
		free(ctx->views[i].v);
	ctx->n_views = 0;
}

void
ui_list_free(struct ui_ctx *ctx)
{
	ui_list_views_drop(ctx);
	free(ctx->view);
	free(ctx->view_next);
	ctx->view = ctx->view_next = NULL;
	ctx->n_view = ctx->cap_view = 0;
}

/* Room for n entries in the view and its scratch. */
static void
ui_list_room(struct ui_ctx *ctx, size_t n)
{
	if (ctx->cap_view >= n && ctx->view != NULL)
		return;
	ctx->cap_view = n + n / 8 + 64;
	ctx->view = xreallocarray(ctx->view, ctx->cap_view, sizeof *ctx->view);
	ctx->view_next = xreallocarray(
	    ctx->view_next, ctx->cap_view, sizeof *ctx->view_next);
}

/*
 * Keep the view about to be replaced, so that going back to its filter
 * (a backspace, Esc, Ctrl-U, "rcpt:" that matches all) copies it instead
 * of walking the store.  The oldest goes when all slots are taken.
 */
static void
ui_list_views_save(struct ui_ctx *ctx)
{
	struct ui_view_saved *sv = NULL, keep;
	size_t i;

	for (i = 0; i < ctx->n_views; i++)
		if (ctx->views[i].problems == ctx->view_problems &&
		    strcmp(ctx->views[i].key, ctx->view_key) == 0)
			break;
	if (i == ctx->n_views && ctx->n_views == UI_VIEWS_SAVED) {
		free(ctx->views[0].v);
		memmove(&ctx->views[0], &ctx->views[1],
		    (UI_VIEWS_SAVED - 1) * sizeof ctx->views[0]);
		ctx->n_views--;
		i = ctx->n_views;
	}
	if (i == ctx->n_views) {
		memset(&ctx->views[i], 0, sizeof ctx->views[i]);
		ctx->n_views++;
	}
	/* The newest last. */
	keep = ctx->views[i];
	memmove(&ctx->views[i], &ctx->views[i + 1],
	    (ctx->n_views - i - 1) * sizeof ctx->views[0]);
	sv = &ctx->views[ctx->n_views - 1];
	*sv = keep;
	if (sv->cap < ctx->n_view) {
		sv->cap = ctx->n_view;
		free(sv->v);
		sv->v = xcalloc(sv->cap, sizeof *sv->v);
	}
	if (ctx->n_view > 0)
		memcpy(sv->v, ctx->view, ctx->n_view * sizeof *sv->v);
	sv->n = ctx->n_view;
	snprintf(sv->key, sizeof sv->key, "%s", ctx->view_key);
	sv->problems = ctx->view_problems;
	sv->gen = ctx->view_gen;
	sv->cw = ctx->view_cw;
	sv->sw = ctx->view_sw;
}

/* The view saved for this filter at this store generation, copied back. */
static bool
ui_list_views_restore(struct ui_ctx *ctx, const char *key)
{
	const struct ui_view_saved *sv;
	size_t i;

	for (i = 0; i < ctx->n_views; i++) {
		sv = &ctx->views[i];
		if (sv->gen != store_gen(ctx->store) ||
		    sv->problems != ctx->problems || strcmp(sv->key, key) != 0)
			continue;
		ui_list_room(ctx, sv->n);
		if (sv->n > 0)
			memcpy(ctx->view, sv->v, sv->n * sizeof *ctx->view);
		ctx->n_view = sv->n;
		ctx->view_cw = sv->cw;
		ctx->view_sw = sv->sw;
		return true;
	}
	return false;
}

/*
 * Rebuild the view when the store or the filter changed.  A filter that
 * was in force earlier at the same store generation gets its list back
 * from the views saved.  A change that only narrowed the filter (the
 * common case: one more character typed) re-tests the sessions listed, not
 * the whole store.  When only the store changed (events arrived, sessions
 * were evicted), the list is merged with the store's keys: only sessions
 * changed since the list was built are tested again.  Any other change
 * tests every key.  The widest addresses are found on the way, from the
 * keys, so that drawing touches only the rows on screen.
 */
void
ui_list_refresh(struct ui_ctx *ctx)
{
	size_t i, j, n = store_count(ctx->store), listed = ctx->n_view, m = 0;
	struct store_session *const *all;
	const struct store_key *keys;
	struct ui_view_ent *out, *tmp;
	bool at_end = ctx->follow;
	bool changed = ctx->view_gen != store_gen(ctx->store);
	/* Every filter that matches all is the same list. */
	const char *key = store_filter_all(ctx->filt) ? "" : ctx->filter;

	if (!ctx->view_stale && !changed)
		return;
	if (changed)
		ui_list_views_drop(ctx);
	else if (ctx->view_built)
		ui_list_views_save(ctx);
	all = n > 0 ? store_sessions(ctx->store) : NULL;
	keys = n > 0 ? store_keys(ctx->store) : NULL;
	if (!changed && ui_list_views_restore(ctx, key)) {
		/* The list as it was for this filter. */
	} else if (ctx->view_narrow && !changed && n > 0) {
		/* Same store: the indexes listed are still right. */
		ctx->view_cw = ctx->view_sw = 0;
		for (j = 0; j < listed; j++) {
			i = ctx->view[j].idx;
			if (j + UI_LIST_AHEAD < listed)
				__builtin_prefetch(
				    keys[ctx->view[j + UI_LIST_AHEAD].idx]
					.search);
			if ((!ctx->problems ||
				(keys[i].flags & STORE_K_PROBLEM)) &&
			    store_filter_match_key(ctx->filt, &keys[i], all[i]))
				ui_list_add(
				    ctx, ctx->view, &m, &keys[i], all, i);
		}
		ctx->n_view = m;
	} else {
		ui_list_room(ctx, n);
		out = ctx->view_next;
		ctx->view_cw = ctx->view_sw = 0;
		if (!ctx->view_stale && ctx->view_built) {
			/* The same filter over a changed store: a session
			   not changed since keeps its answer. */
			for (i = 0, j = 0; i < n; i++) {
				const struct store_key *k = &keys[i];
				bool was;

				while (j < listed && ctx->view[j].id < k->id)
					j++;
				was = j < listed && ctx->view[j].id == k->id;
				if (k->gen <= ctx->view_gen
					? was
					: ui_list_listed(ctx, k, all, i, n))
					ui_list_add(ctx, out, &m, k, all, i);
			}
		} else {
			for (i = 0; i < n; i++)
				if (ui_list_listed(ctx, &keys[i], all, i, n))
					ui_list_add(
					    ctx, out, &m, &keys[i], all, i);
		}
		tmp = ctx->view;
		ctx->view = out;
		ctx->view_next = tmp;
		ctx->n_view = m;
	}
	ctx->view_gen = store_gen(ctx->store);
	ctx->view_stale = false;
	ctx->view_narrow = false;
	ctx->view_built = true;
	snprintf(ctx->view_key, sizeof ctx->view_key, "%s", key);
	ctx->view_problems = ctx->problems;
	if (ctx->n_view == 0) {
		ctx->sel = 0;
		return;
	}
	if (at_end) {
		ctx->sel = ctx->n_view - 1;
	} else {
		/* Keep the selected session; else the next one after it
		   (ids increase along the view). */
		size_t lo = 0, hi = ctx->n_view;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (ctx->view[mid].id < ctx->sel_id)
				lo = mid + 1;
			else
				hi = mid;
		}
		ctx->sel = lo < ctx->n_view ? lo : ctx->n_view - 1;
	}
	ctx->sel_id = ctx->view[ctx->sel].id;
}

/*
 * The view must be rebuilt; narrow says the change only narrowed what is
 * listed.  Narrowings in a row stay one; anything else means a full walk.
 */
static void
ui_list_stale(struct ui_ctx *ctx, bool narrow)
{
	ctx->view_narrow = narrow && (!ctx->view_stale || ctx->view_narrow);
	ctx->view_stale = true;
}

size_t
ui_list_targets(struct ui_ctx *ctx, struct store_session ***out)
{
	size_t n, i;

	ui_list_refresh(ctx);
	*out = NULL;
	if (ctx->n_view == 0)
		return 0;
	if (ctx->filter[0] != '\0' || ctx->problems) {
		n = ctx->n_view;
		*out = xcalloc(n, sizeof **out);
		for (i = 0; i < n; i++)
			(*out)[i] = ctx->view[i].ss;
		return n;
	}
	*out = xcalloc(1, sizeof **out);
	(*out)[0] = ctx->view[ctx->sel].ss;
	return 1;
}

const struct ui_tls_mark ui_tls_marks[] = {
    {"none", "-", "- no TLS"},
    {"starttls", "STLS", "STLS STARTTLS"},
    {"starttls+dec", "STL+", "STL+ STARTTLS decrypted with the key log"},
    {"implicit", "TLS", "TLS implicit TLS (port 465)"},
    {"implicit+dec", "TLS+", "TLS+ implicit TLS decrypted"},
};
const size_t ui_ntls_marks = sizeof ui_tls_marks / sizeof ui_tls_marks[0];

static const char *
ui_list_tls(const struct store_session *ss)
{
	size_t i;

	for (i = 0; i < ui_ntls_marks; i++)
		if (strcmp(ss->tls, ui_tls_marks[i].state) == 0)
			return ui_tls_marks[i].mark;
	return ss->tls;
}

static void
ui_list_flags(const struct store_session *ss, char *buf, size_t len)
{
	/* "hdronly": the capture kept no payload, only packet headers. */
	snprintf(buf, len, "%s%s%s%s%s", ss->flags & STORE_F_421 ? "421 " : "",
	    ss->flags & STORE_F_452 ? "452 " : "",
	    ss->flags & STORE_F_GAP ? "gap " : "",
	    ss->flags & STORE_F_NO_PAYLOAD ? "hdronly " : "",
	    (ss->flags & (STORE_F_421 | STORE_F_452 | STORE_F_GAP |
			     STORE_F_NO_PAYLOAD)) == 0 &&
		    (ss->flags & STORE_F_ANOMALY)
		? "anom "
		: "");
	if (buf[0] != '\0')
		buf[strlen(buf) - 1] = '\0';
}

static void
ui_list_row(struct ui_ctx *ctx, int y, const struct store_session *ss,
    bool selected, const struct ui_list_cols *c)
{
	bool hl = (ss->flags & (STORE_F_421 | STORE_F_452)) != 0;
	enum ui_role role = selected ? (hl ? UI_HIGHLIGHT_SEL : UI_SELECTED)
				     : (hl ? UI_HIGHLIGHT : UI_NORMAL);
	char buf[64], *t;
	int x = 0;

	ui_fill(ctx, y, 0, role);
	snprintf(buf, sizeof buf, "%*" PRIu64, c->id, ss->id);
	ui_cell(ctx, y, x, c->id, role, buf);
	/* The separator after the number marks a session still open. */
	if (!ss->closed)
		ui_put(ctx, y, x + c->id, 1, role, "*");
	x += c->id + 1;
	if (c->time > 0) {
		ui_format_time(buf, sizeof buf, &ss->start, false);
		ui_cell(ctx, y, x, c->time, role, buf);
		x += c->time + 1;
	}
	t = ui_vis(ctx, ss->client, strlen(ss->client));
	ui_cell(ctx, y, x, c->client, role, t);
	free(t);
	x += c->client + 1;
	ui_list_server(ss->server, buf, sizeof buf);
	t = ui_vis(ctx, buf, strlen(buf));
	ui_cell(ctx, y, x, c->server, role, t);
	free(t);
	x += c->server + 1;
	if (c->helo > 0) {
		t = ui_vis(ctx, ss->helo, ss->helo ? strlen(ss->helo) : 0);
		ui_cell(ctx, y, x, c->helo, role, t);
		free(t);
		x += c->helo + 1;
	}
	if (c->from > 0) {
		t = ui_vis(ctx, ss->mail_from,
		    ss->mail_from ? strlen(ss->mail_from) : 0);
		ui_cell(
		    ctx, y, x, c->from, role, ss->mail_from && !*t ? "<>" : t);
		free(t);
		x += c->from + 1;
	}
	/* Accepted of sent: "3/5" says at once that two were refused. */
	if (c->rcpt > 0) {
		char cell[32];

		snprintf(buf, sizeof buf, "%u/%u", ss->rcpts_ok, ss->rcpts);
		if (ss->rcpts == 0)
			snprintf(buf, sizeof buf, "-");
		snprintf(cell, sizeof cell, "%*s", c->rcpt, buf);
		ui_cell(ctx, y, x, c->rcpt, role, cell);
		x += c->rcpt + 1;
	}
	if (c->tls > 0) {
		ui_cell(ctx, y, x, c->tls, role, ui_list_tls(ss));
		x += c->tls + 1;
	}
	if (ss->last_code > 0) {
		snprintf(buf, sizeof buf, "%d", ss->last_code);
		/* The code keeps its class colour unless the row is lit. */
		ui_cell(ctx, y, x, c->last,
		    selected || hl ? role : ui_reply_role(ss->last_code), buf);
	}
	x += c->last + 1;
	ui_list_flags(ss, buf, sizeof buf);
	if (buf[0] != '\0')
		ui_cell(ctx, y, x, c->flags, hl && !ctx->color ? UI_FLAG : role,
		    buf);
}

static void
ui_list_header(struct ui_ctx *ctx, int y, const struct ui_list_cols *c)
{
	int x = 0;

	ui_fill(ctx, y, 0, UI_HEADER);
	ui_cell(ctx, y, x, c->id - 1, UI_HEADER, "");
	ui_cell(ctx, y, x + c->id - 1, 1, UI_HEADER, "#");
	x += c->id + 1;
	if (c->time > 0) {
		ui_cell(ctx, y, x, c->time, UI_HEADER, "Start");
		x += c->time + 1;
	}
	ui_cell(ctx, y, x, c->client, UI_HEADER, "Client");
	x += c->client + 1;
	ui_cell(ctx, y, x, c->server, UI_HEADER, "Server");
	x += c->server + 1;
	if (c->helo > 0) {
		ui_cell(ctx, y, x, c->helo, UI_HEADER, "HELO");
		x += c->helo + 1;
	}
	if (c->from > 0) {
		ui_cell(ctx, y, x, c->from, UI_HEADER, "MAIL FROM");
		x += c->from + 1;
	}
	if (c->rcpt > 0) {
		ui_cell(ctx, y, x, c->rcpt, UI_HEADER, " Rcpt");
		x += c->rcpt + 1;
	}
	if (c->tls > 0) {
		ui_cell(ctx, y, x, c->tls, UI_HEADER, "TLS");
		x += c->tls + 1;
	}
	ui_cell(ctx, y, x, c->last, UI_HEADER, "Last");
	x += c->last + 1;
	ui_cell(ctx, y, x, c->flags, UI_HEADER, "Flags");
}

static int
ui_list_height(struct ui_ctx *ctx)
{
	int h = ui_body_end(ctx) - (UI_BODY_Y + 1);

	return h > 0 ? h : 1;
}

static void
ui_list_draw(struct ui_ctx *ctx)
{
	struct ui_list_cols c;
	int h = ui_list_height(ctx), y;
	size_t i;

	ui_list_refresh(ctx);
	ui_list_layout(ctx->cols,
	    store_count(ctx->store) > 0
		? store_at(ctx->store, store_count(ctx->store) - 1)->id
		: 1,
	    ctx->view_cw, ctx->view_sw, &c);
	ui_list_header(ctx, UI_BODY_Y, &c);
	/* Keep the selection on screen. */
	if (ctx->sel < ctx->top)
		ctx->top = ctx->sel;
	if (ctx->sel >= ctx->top + (size_t)h)
		ctx->top = ctx->sel - (size_t)h + 1;
	if (ctx->top + (size_t)h > ctx->n_view)
		ctx->top =
		    ctx->n_view > (size_t)h ? ctx->n_view - (size_t)h : 0;
	for (y = 0; y < h; y++) {
		i = ctx->top + (size_t)y;
		if (i >= ctx->n_view)
			break;
		ui_list_row(
		    ctx, UI_BODY_Y + 1 + y, ctx->view[i].ss, i == ctx->sel, &c);
	}
	if (ctx->n_view == 0) {
		const char *m =
		    store_count(ctx->store) == 0
			? "No SMTP sessions yet."
			: "No session matches the filter (Esc clears it).";

		ui_put(ctx, UI_BODY_Y + 2, 2, ctx->cols - 2, UI_INFO, m);
	}
}

/*
 * The filter applies as it is typed.  Text with an invalid regular
 * expression leaves the previous filter in force and says why.
 */
static void
ui_list_filter_set(struct ui_ctx *ctx, const char *text)
{
	struct store_filter *f;
	char *cause = NULL;

	/* Enter on what is already in force: nothing to redo. */
	if (strcmp(text, ctx->filter) == 0) {
		ctx->msg[0] = '\0';
		return;
	}
	f = store_filter_new(text, &cause);
	if (f == NULL) {
		ui_message(ctx, true, "filter: %s", cause);
		free(cause);
		return;
	}
	ui_list_stale(ctx, store_filter_narrows(ctx->filt, f));
	store_filter_free(ctx->filt);
	ctx->filt = f;
	snprintf(ctx->filter, sizeof ctx->filter, "%s", text);
	ctx->msg[0] = '\0';
}

static void
ui_list_filter_change(struct ui_ctx *ctx, const char *text)
{
	ui_list_filter_set(ctx, text);
}

static void
ui_list_filter_done(struct ui_ctx *ctx, const char *answer)
{
	ui_list_filter_set(ctx, answer != NULL ? answer : ctx->prompt_saved);
}

static void
ui_list_select(struct ui_ctx *ctx, size_t i)
{
	if (ctx->n_view == 0)
		return;
	if (i >= ctx->n_view)
		i = ctx->n_view - 1;
	ctx->sel = i;
	ctx->sel_id = ctx->view[i].id;
	ctx->follow = i == ctx->n_view - 1;
}

/*
 * n (dir 1) and N (-1): select the next or previous listed session with a
 * 421 or 452 reply, wrapping around at the ends (and saying so).
 */
static void
ui_list_jump(struct ui_ctx *ctx, int dir)
{
	size_t k, i, n = ctx->n_view;
	const struct store_session *ss;
	/* ui_list_key refreshed the list: its indexes are the store's. */
	const struct store_key *keys = store_keys(ctx->store);
	bool wrapped;

	for (k = 1; k <= n; k++) {
		i = dir > 0 ? (ctx->sel + k) % n : (ctx->sel + n - k % n) % n;
		if ((keys[ctx->view[i].idx].flags &
			(STORE_F_421 | STORE_F_452)) == 0)
			continue;
		ss = ctx->view[i].ss;
		wrapped = dir > 0 ? ctx->sel + k >= n : k > ctx->sel;
		ui_list_select(ctx, i);
		ctx->follow = false;
		ui_message(ctx, false,
		    "session %" PRIu64 ": %u x 421, %u x 452%s", ss->id,
		    ss->n421, ss->n452,
		    !wrapped  ? ""
		    : dir > 0 ? " (wrapped: back to the first)"
			      : " (wrapped: back to the last)");
		return;
	}
	ui_message(ctx, false, "no listed session has a 421 or 452 reply");
}

static struct ui_result
ui_list_key(struct ui_ctx *ctx, enum ui_action act)
{
	size_t h = (size_t)ui_list_height(ctx);
	struct store_session **t;
	size_t n;

	ui_list_refresh(ctx);
	switch (act) {
	case UI_A_UP:
		ui_list_select(ctx, ctx->sel > 0 ? ctx->sel - 1 : 0);
		break;
	case UI_A_DOWN:
		ui_list_select(ctx, ctx->sel + 1);
		break;
	case UI_A_PGUP:
		ui_list_select(ctx, ctx->sel > h ? ctx->sel - h : 0);
		break;
	case UI_A_PGDN:
		ui_list_select(ctx, ctx->sel + h);
		break;
	case UI_A_HOME:
		ui_list_select(ctx, 0);
		break;
	case UI_A_END:
		ui_list_select(ctx, ctx->n_view);
		ctx->follow = true;
		break;
	case UI_A_OPEN:
		if (ctx->n_view > 0)
			return (struct ui_result){UI_R_OPEN, &ui_screen_session,
			    ctx->view[ctx->sel].id};
		break;
	case UI_A_NEXT:
		ui_list_jump(ctx, 1);
		break;
	case UI_A_PREV:
		ui_list_jump(ctx, -1);
		break;
	case UI_A_FIND:
		snprintf(ctx->prompt_saved, sizeof ctx->prompt_saved, "%s",
		    ctx->filter);
		ui_prompt(ctx,
		    "Filter (code:452 from: rcpt: /re/...): ", ctx->filter,
		    ui_list_filter_done, ui_list_filter_change);
		break;
	case UI_A_PROBLEMS:
		ctx->problems = !ctx->problems;
		ui_list_stale(ctx, ctx->problems);
		ui_message(ctx, false,
		    ctx->problems
			? "problems only: sessions with 4xx/5xx replies or gaps"
			: "all sessions");
		break;
	case UI_A_BACK:
		if (ctx->filter[0] == '\0' && !ctx->problems)
			return UI_RESULT(UI_R_PASS);
		ui_list_filter_set(ctx, "");
		ctx->problems = false;
		ui_list_stale(ctx, false);
		break;
	case UI_A_SAVE_PCAP:
		n = ui_list_targets(ctx, &t);
		if (n == 0)
			ui_message(ctx, true, "no session to save");
		else
			ui_save_pcap_prompt(ctx, t, n);
		free(t);
		break;
	case UI_A_SAVE_TEXT:
		if (ctx->n_view == 0)
			ui_message(ctx, true, "no session to save");
		else
			ui_save_text_prompt(
			    ctx, ctx->view[ctx->sel].id, ui_session_doc);
		break;
	default:
		return UI_RESULT(UI_R_PASS);
	}
	return UI_RESULT(UI_R_DONE);
}

/* The list's state lives in struct ui_ctx (the status bar and the save read
   it); what it holds on the heap goes here. */
static void
ui_list_destroy(struct ui_ctx *ctx)
{
	ui_list_free(ctx);
	store_filter_free(ctx->filt);
	ctx->filt = NULL;
}

bool
ui_list_describe(struct ui_ctx *ctx, char *buf, size_t len)
{
	char *f;

	if (ctx->filter[0] == '\0' && !ctx->problems)
		return false;
	f = ui_vis(ctx, ctx->filter, strlen(ctx->filter));
	snprintf(buf, len, "  [%s%s%s%s]", ctx->filter[0] ? "filter: " : "", f,
	    ctx->filter[0] && ctx->problems ? ", " : "",
	    ctx->problems ? "problems only" : "");
	free(f);
	return true;
}

size_t
ui_list_count(struct ui_ctx *ctx)
{
	ui_list_refresh(ctx);
	return ctx->n_view;
}

const struct ui_screen ui_screen_list = {
    "Sessions",
    UI_SCR_LIST,
    NULL,
    ui_list_destroy,
    NULL,
    ui_list_draw,
    ui_list_key,
    NULL,
};
