/*
 * ui_list: the session list, one row per session (KEYS in doc/smtpscope.1):
 * start time, client, server, HELO, MAIL FROM, recipients, TLS, last reply and
 * flags.  Sessions with 421 or 452 stand out (colour, or bold with a
 * reverse flag on monochrome terminals).  The view is rebuilt from the store
 * when it changed, with the filter and "problems only" applied; the
 * selection follows its session by id, and sticks to the bottom while it is
 * there (autoscroll).
 *
 * The state is the screen's own (struct ui_list_state in ui_list_int.h,
 * which only this file and its unit test include): the rest of the UI asks
 * through ui_list_describe, ui_list_count and ui_list_targets.
 */
#include "config.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curses.h>

#include "ui_list_int.h"
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
ui_list_listed_by(const struct store_filter *filt, bool problems,
    const struct store_key *k, struct store_session *const *all, size_t i,
    size_t n)
{
	if (i + UI_LIST_AHEAD < n) {
		__builtin_prefetch(k[UI_LIST_AHEAD].search);
		__builtin_prefetch(k[UI_LIST_AHEAD].search + 64);
	}
	if (problems && (k->flags & STORE_K_PROBLEM) == 0)
		return false;
	return store_filter_match_key(filt, k, all[i]);
}

static inline bool
ui_list_listed(const struct ui_list_state *ls, const struct store_key *k,
    struct store_session *const *all, size_t i, size_t n)
{
	return ui_list_listed_by(ls->filt, ls->problems, k, all, i, n);
}

/*
 * Sessions from which a walk (a new filter over the whole store, or over
 * the list shown when it narrows it) is split between this thread and a
 * helper: with 100,000 sessions a regular
 * expression takes tens of milliseconds, and on two cores half of it is
 * spent in parallel.  Below this, a thread costs more than it saves.
 */
#define UI_LIST_PAR_MIN 16384

/* One half of a split walk: the answers for entries [from, to) of the
   walk, which are the store's sessions in order, or those of view.  The
   helper's half compiles its own filter first when compile is set (made:
   the result, NULL when it could not). */
struct ui_list_half {
	const struct store_filter *filt;
	bool problems;
	const struct store_key *keys;
	struct store_session *const *all;
	const struct ui_view_ent *view; /* NULL: the store in order */
	size_t from, to, n;
	uint8_t *hit;
	const char *compile;
	struct store_filter *made;
};

static void *
ui_list_half_run(void *arg)
{
	struct ui_list_half *h = arg;
	const struct store_key *keys = h->keys;
	char *cause = NULL;
	size_t i, j;

	if (h->compile != NULL) {
		h->made = store_filter_new(h->compile, &cause);
		free(cause);
		if (h->made == NULL)
			return NULL;
		h->filt = h->made;
	}
	if (h->view == NULL) {
		for (i = h->from; i < h->to; i++)
			h->hit[i] = ui_list_listed_by(
			    h->filt, h->problems, &keys[i], h->all, i, h->n);
		return NULL;
	}
	for (j = h->from; j < h->to; j++) {
		i = h->view[j].idx;
		if (j + UI_LIST_AHEAD < h->to)
			__builtin_prefetch(
			    keys[h->view[j + UI_LIST_AHEAD].idx].search);
		h->hit[j] =
		    (!h->problems || (keys[i].flags & STORE_K_PROBLEM)) &&
		    store_filter_match_key(h->filt, &keys[i], h->all[i]);
	}
	return NULL;
}

/*
 * The answers of the current filter for the n entries of a walk (the
 * store's sessions, or those of view) into ls->hit, in two halves at
 * once when that is worth it, else on this thread alone.  A filter new to
 * the helper is compiled on the helper's thread, while this one walks its
 * half: an expression that is slow to compile does not make the UI wait
 * twice.
 */
static void
ui_list_walk(struct ui_list_state *ls, const struct store_key *keys,
    struct store_session *const *all, const struct ui_view_ent *view, size_t n)
{
	struct ui_list_half a, b;
	pthread_t helper;
	bool helped;

	if (ls->cap_hit < n || ls->hit == NULL) {
		free(ls->hit);
		ls->cap_hit = n + n / 8 + 64;
		ls->hit = xmalloc(ls->cap_hit);
	}
	a = (struct ui_list_half){ls->filt, ls->problems, keys, all, view, 0, n,
	    n, ls->hit, NULL, NULL};
	/* The helper's filter is compiled from ls->filter: not when that
	   may be cut short (a pasted filter longer than it holds). */
	if (n < UI_LIST_PAR_MIN || ls->filt == NULL ||
	    strlen(ls->filter) + 1 >= sizeof ls->filter) {
		ui_list_half_run(&a);
		return;
	}
	a.to = n / 2;
	b = a;
	b.from = n / 2;
	b.to = n;
	if (ls->filt2 != NULL && strcmp(ls->filt2_text, ls->filter) == 0)
		b.filt = ls->filt2;
	else {
		store_filter_free(ls->filt2);
		ls->filt2 = NULL;
		b.compile = ls->filter;
	}
	helped = pthread_create(&helper, NULL, ui_list_half_run, &b) == 0;
	if (!helped)
		a.to = n;
	ui_list_half_run(&a);
	if (!helped)
		return;
	pthread_join(helper, NULL);
	if (b.compile != NULL) {
		if (b.made == NULL) {
			/* The same text compiled here: not expected. */
			a.from = n / 2;
			a.to = n;
			ui_list_half_run(&a);
			return;
		}
		ls->filt2 = b.made;
		snprintf(
		    ls->filt2_text, sizeof ls->filt2_text, "%s", ls->filter);
	}
}

/* Append store session i (its key k) to the list being built in out. */
static inline void
ui_list_add(struct ui_list_state *ls, struct ui_view_ent *out, size_t *n,
    const struct store_key *k, struct store_session *const *all, size_t i)
{
	if (k->client_w > ls->view_cw)
		ls->view_cw = k->client_w;
	if (k->server_w > ls->view_sw)
		ls->view_sw = k->server_w;
	out[*n].ss = all[i];
	out[*n].id = k->id;
	out[*n].idx = i;
	(*n)++;
}

static void
ui_list_views_drop(struct ui_list_state *ls)
{
	size_t i;

	for (i = 0; i < ls->n_views; i++)
		free(ls->views[i].v);
	ls->n_views = 0;
}

static void
ui_list_free(struct ui_list_state *ls)
{
	ui_list_views_drop(ls);
	free(ls->view);
	free(ls->view_next);
	ls->view = ls->view_next = NULL;
	ls->n_view = ls->cap_view = 0;
	free(ls->hit);
	ls->hit = NULL;
	ls->cap_hit = 0;
}

/* Room for n entries in the view and its scratch. */
static void
ui_list_room(struct ui_list_state *ls, size_t n)
{
	if (ls->cap_view >= n && ls->view != NULL)
		return;
	ls->cap_view = n + n / 8 + 64;
	ls->view = xreallocarray(ls->view, ls->cap_view, sizeof *ls->view);
	ls->view_next =
	    xreallocarray(ls->view_next, ls->cap_view, sizeof *ls->view_next);
}

/*
 * Keep the view about to be replaced, so that going back to its filter
 * (a backspace, Esc, Ctrl-U, "rcpt:" that matches all) copies it instead
 * of walking the store.  The oldest goes when all slots are taken.
 */
static void
ui_list_views_save(struct ui_list_state *ls)
{
	struct ui_view_saved *sv = NULL, keep;
	size_t i;

	for (i = 0; i < ls->n_views; i++)
		if (ls->views[i].problems == ls->view_problems &&
		    strcmp(ls->views[i].key, ls->view_key) == 0)
			break;
	if (i == ls->n_views && ls->n_views == UI_VIEWS_SAVED) {
		free(ls->views[0].v);
		memmove(&ls->views[0], &ls->views[1],
		    (UI_VIEWS_SAVED - 1) * sizeof ls->views[0]);
		ls->n_views--;
		i = ls->n_views;
	}
	if (i == ls->n_views) {
		memset(&ls->views[i], 0, sizeof ls->views[i]);
		ls->n_views++;
	}
	/* The newest last. */
	keep = ls->views[i];
	memmove(&ls->views[i], &ls->views[i + 1],
	    (ls->n_views - i - 1) * sizeof ls->views[0]);
	sv = &ls->views[ls->n_views - 1];
	*sv = keep;
	if (sv->cap < ls->n_view) {
		sv->cap = ls->n_view;
		free(sv->v);
		sv->v = xcalloc(sv->cap, sizeof *sv->v);
	}
	if (ls->n_view > 0)
		memcpy(sv->v, ls->view, ls->n_view * sizeof *sv->v);
	sv->n = ls->n_view;
	snprintf(sv->key, sizeof sv->key, "%s", ls->view_key);
	sv->problems = ls->view_problems;
	sv->gen = ls->view_gen;
	sv->cw = ls->view_cw;
	sv->sw = ls->view_sw;
}

/* The view saved for this filter at this store generation, copied back. */
static bool
ui_list_views_restore(struct ui_list_state *ls, uint64_t gen, const char *key)
{
	const struct ui_view_saved *sv;
	size_t i;

	for (i = 0; i < ls->n_views; i++) {
		sv = &ls->views[i];
		if (sv->gen != gen || sv->problems != ls->problems ||
		    strcmp(sv->key, key) != 0)
			continue;
		ui_list_room(ls, sv->n);
		if (sv->n > 0)
			memcpy(ls->view, sv->v, sv->n * sizeof *ls->view);
		ls->n_view = sv->n;
		ls->view_cw = sv->cw;
		ls->view_sw = sv->sw;
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
	struct ui_list_state *ls = ctx->list;
	size_t i, j, n = store_count(ctx->store), listed = ls->n_view, m = 0;
	struct store_session *const *all;
	const struct store_key *keys;
	struct ui_view_ent *out, *tmp;
	bool at_end = ls->follow;
	bool changed = ls->view_gen != store_gen(ctx->store);
	/* Every filter that matches all is the same list. */
	const char *key = store_filter_all(ls->filt) ? "" : ls->filter;

	if (!ls->view_stale && !changed)
		return;
	if (changed)
		ui_list_views_drop(ls);
	else if (ls->view_built)
		ui_list_views_save(ls);
	all = n > 0 ? store_sessions(ctx->store) : NULL;
	keys = n > 0 ? store_keys(ctx->store) : NULL;
	if (!changed && ui_list_views_restore(ls, store_gen(ctx->store), key)) {
		/* The list as it was for this filter. */
	} else if (ls->view_narrow && !changed && n > 0) {
		/* Same store: the indexes listed are still right. */
		ls->view_cw = ls->view_sw = 0;
		ui_list_walk(ls, keys, all, ls->view, listed);
		/* in place: entry j is read before it is written */
		for (j = 0; j < listed; j++) {
			i = ls->view[j].idx;
			if (ls->hit[j])
				ui_list_add(ls, ls->view, &m, &keys[i], all, i);
		}
		ls->n_view = m;
	} else {
		ui_list_room(ls, n);
		out = ls->view_next;
		ls->view_cw = ls->view_sw = 0;
		if (!ls->view_stale && ls->view_built) {
			/* The same filter over a changed store: a session
			   not changed since keeps its answer. */
			for (i = 0, j = 0; i < n; i++) {
				const struct store_key *k = &keys[i];
				bool was;

				while (j < listed && ls->view[j].id < k->id)
					j++;
				was = j < listed && ls->view[j].id == k->id;
				if (k->gen <= ls->view_gen
					? was
					: ui_list_listed(ls, k, all, i, n))
					ui_list_add(ls, out, &m, k, all, i);
			}
		} else {
			ui_list_walk(ls, keys, all, NULL, n);
			for (i = 0; i < n; i++)
				if (ls->hit[i])
					ui_list_add(
					    ls, out, &m, &keys[i], all, i);
		}
		tmp = ls->view;
		ls->view = out;
		ls->view_next = tmp;
		ls->n_view = m;
	}
	ls->view_gen = store_gen(ctx->store);
	ls->view_stale = false;
	ls->view_narrow = false;
	ls->view_built = true;
	snprintf(ls->view_key, sizeof ls->view_key, "%s", key);
	ls->view_problems = ls->problems;
	if (ls->n_view == 0) {
		ls->sel = 0;
		return;
	}
	if (at_end) {
		ls->sel = ls->n_view - 1;
	} else {
		/* Keep the selected session; else the next one after it
		   (ids increase along the view). */
		size_t lo = 0, hi = ls->n_view;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (ls->view[mid].id < ls->sel_id)
				lo = mid + 1;
			else
				hi = mid;
		}
		ls->sel = lo < ls->n_view ? lo : ls->n_view - 1;
	}
	ls->sel_id = ls->view[ls->sel].id;
}

/*
 * The view must be rebuilt; narrow says the change only narrowed what is
 * listed.  Narrowings in a row stay one; anything else means a full walk.
 */
static void
ui_list_stale(struct ui_list_state *ls, bool narrow)
{
	ls->view_narrow = narrow && (!ls->view_stale || ls->view_narrow);
	ls->view_stale = true;
}

/* The sessions `w` saves from the list: the filtered ones when a filter is
   on, else the selected one.  Caller frees the array. */
static size_t
ui_list_targets(struct ui_ctx *ctx, struct store_session ***out)
{
	struct ui_list_state *ls = ctx->list;
	size_t n, i;

	ui_list_refresh(ctx);
	*out = NULL;
	if (ls->n_view == 0)
		return 0;
	if (ls->filter[0] != '\0' || ls->problems) {
		n = ls->n_view;
		*out = xcalloc(n, sizeof **out);
		for (i = 0; i < n; i++)
			(*out)[i] = ls->view[i].ss;
		return n;
	}
	*out = xcalloc(1, sizeof **out);
	(*out)[0] = ls->view[ls->sel].ss;
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
	struct ui_list_state *ls = ctx->list;
	struct ui_list_cols c;
	int h = ui_list_height(ctx), y;
	size_t i;

	ui_list_refresh(ctx);
	ui_list_layout(ctx->cols,
	    store_count(ctx->store) > 0
		? store_at(ctx->store, store_count(ctx->store) - 1)->id
		: 1,
	    ls->view_cw, ls->view_sw, &c);
	ui_list_header(ctx, UI_BODY_Y, &c);
	/* Keep the selection on screen. */
	if (ls->sel < ls->top)
		ls->top = ls->sel;
	if (ls->sel >= ls->top + (size_t)h)
		ls->top = ls->sel - (size_t)h + 1;
	if (ls->top + (size_t)h > ls->n_view)
		ls->top = ls->n_view > (size_t)h ? ls->n_view - (size_t)h : 0;
	for (y = 0; y < h; y++) {
		i = ls->top + (size_t)y;
		if (i >= ls->n_view)
			break;
		ui_list_row(
		    ctx, UI_BODY_Y + 1 + y, ls->view[i].ss, i == ls->sel, &c);
	}
	if (ls->n_view == 0) {
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
void
ui_list_filter_set(struct ui_ctx *ctx, const char *text)
{
	struct ui_list_state *ls = ctx->list;
	struct store_filter *f;
	char *cause = NULL;

	/* Enter on what is already in force: nothing to redo. */
	if (strcmp(text, ls->filter) == 0) {
		ctx->msg[0] = '\0';
		return;
	}
	f = store_filter_new(text, &cause);
	if (f == NULL) {
		ui_message(ctx, true, "filter: %s", cause);
		free(cause);
		return;
	}
	ui_list_stale(ls, store_filter_narrows(ls->filt, f));
	store_filter_free(ls->filt);
	ls->filt = f;
	snprintf(ls->filter, sizeof ls->filter, "%s", text);
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
ui_list_select(struct ui_list_state *ls, size_t i)
{
	if (ls->n_view == 0)
		return;
	if (i >= ls->n_view)
		i = ls->n_view - 1;
	ls->sel = i;
	ls->sel_id = ls->view[i].id;
	ls->follow = i == ls->n_view - 1;
}

/*
 * n (dir 1) and N (-1): select the next or previous listed session with a
 * 421 or 452 reply, wrapping around at the ends (and saying so).
 */
static void
ui_list_jump(struct ui_ctx *ctx, int dir)
{
	struct ui_list_state *ls = ctx->list;
	size_t k, i, n = ls->n_view;
	const struct store_session *ss;
	/* ui_list_key refreshed the list: its indexes are the store's. */
	const struct store_key *keys = store_keys(ctx->store);
	bool wrapped;

	for (k = 1; k <= n; k++) {
		i = dir > 0 ? (ls->sel + k) % n : (ls->sel + n - k % n) % n;
		if ((keys[ls->view[i].idx].flags &
			(STORE_F_421 | STORE_F_452)) == 0)
			continue;
		ss = ls->view[i].ss;
		wrapped = dir > 0 ? ls->sel + k >= n : k > ls->sel;
		ui_list_select(ls, i);
		ls->follow = false;
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
	struct ui_list_state *ls = ctx->list;
	size_t h = (size_t)ui_list_height(ctx);
	struct store_session **t;
	size_t n;

	ui_list_refresh(ctx);
	switch (act) {
	case UI_A_UP:
		ui_list_select(ls, ls->sel > 0 ? ls->sel - 1 : 0);
		break;
	case UI_A_DOWN:
		ui_list_select(ls, ls->sel + 1);
		break;
	case UI_A_PGUP:
		ui_list_select(ls, ls->sel > h ? ls->sel - h : 0);
		break;
	case UI_A_PGDN:
		ui_list_select(ls, ls->sel + h);
		break;
	case UI_A_HOME:
		ui_list_select(ls, 0);
		break;
	case UI_A_END:
		ui_list_select(ls, ls->n_view);
		ls->follow = true;
		break;
	case UI_A_OPEN:
		if (ls->n_view > 0)
			return (struct ui_result){UI_R_OPEN, &ui_screen_session,
			    ls->view[ls->sel].id};
		break;
	case UI_A_NEXT:
		ui_list_jump(ctx, 1);
		break;
	case UI_A_PREV:
		ui_list_jump(ctx, -1);
		break;
	case UI_A_FIND:
		snprintf(ctx->prompt_saved, sizeof ctx->prompt_saved, "%s",
		    ls->filter);
		ui_prompt(ctx,
		    "Filter (code:452 from: rcpt: /re/...): ", ls->filter,
		    ui_list_filter_done, ui_list_filter_change);
		break;
	case UI_A_PROBLEMS:
		ls->problems = !ls->problems;
		ui_list_stale(ls, ls->problems);
		ui_message(ctx, false,
		    ls->problems
			? "problems only: sessions with 4xx/5xx replies or gaps"
			: "all sessions");
		break;
	case UI_A_BACK:
		if (ls->filter[0] == '\0' && !ls->problems)
			return UI_RESULT(UI_R_PASS);
		ui_list_filter_set(ctx, "");
		ls->problems = false;
		ui_list_stale(ls, false);
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
		if (ls->n_view == 0)
			ui_message(ctx, true, "no session to save");
		else
			ui_save_text_prompt(
			    ctx, ls->view[ls->sel].id, ui_session_doc);
		break;
	default:
		return UI_RESULT(UI_R_PASS);
	}
	return UI_RESULT(UI_R_DONE);
}

static void
ui_list_create(struct ui_ctx *ctx)
{
	ctx->list = xcalloc(1, sizeof *ctx->list);
	/* New sessions show up selected until a key moves away. */
	ctx->list->follow = true;
	/* The list and its scratch, and the views saved, hold an entry per
	   session at most, and a split walk a byte: the store counts them in
	   its budget. */
	store_set_overhead(
	    ctx->store, (2 + UI_VIEWS_SAVED) * sizeof(struct ui_view_ent) + 1);
}

static void
ui_list_destroy(struct ui_ctx *ctx)
{
	struct ui_list_state *ls = ctx->list;

	if (ls == NULL)
		return;
	ui_list_free(ls);
	store_filter_free(ls->filt);
	store_filter_free(ls->filt2);
	free(ls);
	ctx->list = NULL;
}

bool
ui_list_describe(struct ui_ctx *ctx, char *buf, size_t len)
{
	struct ui_list_state *ls = ctx->list;
	char *f;

	if (ls->filter[0] == '\0' && !ls->problems)
		return false;
	f = ui_vis(ctx, ls->filter, strlen(ls->filter));
	snprintf(buf, len, "  [%s%s%s%s]", ls->filter[0] ? "filter: " : "", f,
	    ls->filter[0] && ls->problems ? ", " : "",
	    ls->problems ? "problems only" : "");
	free(f);
	return true;
}

size_t
ui_list_count(struct ui_ctx *ctx)
{
	ui_list_refresh(ctx);
	return ctx->list->n_view;
}

const struct ui_screen ui_screen_list = {
    "Sessions",
    UI_SCR_LIST,
    ui_list_create,
    ui_list_destroy,
    NULL,
    ui_list_draw,
    ui_list_key,
    NULL,
};
