/*
 * ui: the ncurses front end's driver.  ui_run owns two threads:
 *
 *  - the capture thread runs the runner (runner_run, RUNNER_QUEUE), which
 *    pushes events into a bounded event_queue (file input blocks when it
 *    is full, live input never does: overflow is counted and shown).  All
 *    signals are blocked there.  The UI sees events, never the capture.
 *  - the calling (main) thread owns curses and the store: it poll()s the
 *    terminal, the queue's wake-up pipe and a self-pipe fed by the signal
 *    handler (SIGINT, SIGTERM, SIGHUP, SIGWINCH), drains events into the
 *    store and redraws at most every UI_FRAME_MS, only when something
 *    changed.
 *
 * Only the queue, the runner's stop and pause, and the state of struct
 * ui_cap are shared.  The --maillog joiner runs on the main thread
 * (runner_log_*), as events are applied.
 *
 * Pause (space): with a file the main thread stops draining the queue and
 * the capture thread stops reading (runner_pause), so nothing is lost; a
 * --replay clock stands still meanwhile (capture_replay_hold), so resuming
 * goes on at the same pace rather than catching up.  Live, events are
 * held on the main thread (up to UI_HELD_MAX) and applied on resume, so the
 * capture never waits for the screen.
 *
 * The terminal is restored on every way out: quit, SIGINT/SIGTERM/SIGHUP
 * (through the self-pipe, so the normal path runs), and err_exit/fatalx
 * (err_set_cleanup).  Nothing is written to stderr while curses is active.
 */
#include "config.h"

#include "ui.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include <curses.h>

#include "err.h"
#include "event.h"
#include "runner.h"
#include "store.h"
#include "ui_screen.h"
#include "vis.h"
#include "xmalloc.h"

#define UI_FRAME_MS 66	 /* at most 15 redraws a second */
#define UI_MAILLOG_S 0.2 /* --maillog followed this often when live */
#define UI_BATCH 256	 /* live: events pushed at once */
#define UI_PREFAULT_MAX (64u * 1024 * 1024) /* live: heap touched at start */
#define UI_PREFAULT_CHUNK (4u * 1024 * 1024)
#define UI_DRAIN_MAX 4096  /* events applied between two looks at keys */
#define UI_HELD_MAX 200000 /* events held during a live pause */
#define UI_MSG_SECONDS 8.0
#define UI_TTY "/dev/tty"
#define UI_QUIT_WAIT_MS 500 /* for a capture thread stuck in read() */

enum ui_cap_state { UI_CAP_RUNNING, UI_CAP_DONE, UI_CAP_FAILED };

/* The capture thread: the runner, and how its run ended. */
struct ui_cap {
	struct runner *r;
	bool live;
	atomic_int state;
	char *why; /* written before state becomes FAILED; freed at the end */
};

static int ui_sigpipe[2] = {-1, -1};
static bool ui_curses_on;

/* CPU time of this thread (s): a key's cost on a loaded machine. */
static double
ui_cpu_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return 0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Live, the packet copies kept for the save grow the heap at line rate, and
 * each new page is a fault taken by the capture thread.  Touch the store's
 * share of the heap once, up front, and keep it (no trimming), so that a
 * burst reuses pages instead.  The memory budget counts it already.
 */
static void
ui_prefault(size_t bytes)
{
#if defined(M_TRIM_THRESHOLD) && defined(M_MMAP_THRESHOLD)
	void *chunk[UI_PREFAULT_MAX / UI_PREFAULT_CHUNK];
	size_t i, n;

	if (bytes > UI_PREFAULT_MAX)
		bytes = UI_PREFAULT_MAX;
	n = bytes / UI_PREFAULT_CHUNK;
	mallopt(M_TRIM_THRESHOLD, (int)(UI_PREFAULT_MAX * 2));
	mallopt(M_MMAP_THRESHOLD, (int)(UI_PREFAULT_CHUNK * 2));
	for (i = 0; i < n; i++) {
		chunk[i] = xmalloc(UI_PREFAULT_CHUNK);
		memset(chunk[i], 0, UI_PREFAULT_CHUNK);
	}
	for (i = 0; i < n; i++)
		free(chunk[i]);
#else
	(void)bytes;
#endif
}

/* ---- capture thread */

static void *
ui_cap_main(void *arg)
{
	struct ui_cap *c = arg;
	char *why = NULL;
	int rc;

	rc = runner_run(c->r, &why);
	event_thread_done();
	if (rc < 0) {
		c->why = why;
		atomic_store(&c->state, UI_CAP_FAILED);
	} else
		atomic_store(&c->state, UI_CAP_DONE);
	/* Wake the main thread so that it sees the new state. */
	if (ui_sigpipe[1] != -1) {
		ssize_t w = write(ui_sigpipe[1], "d", 1);
		(void)w;
	}
	return NULL;
}

/* ---- terminal */

const char *
ui_unusable(void)
{
	int fd;

	if (!isatty(STDOUT_FILENO))
		return "standard output is not a terminal";
	if (isatty(STDIN_FILENO))
		return NULL;
	/* Standard input is the capture or redirected: keys need the tty. */
	fd = open(UI_TTY, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd == -1)
		return "standard input is not a terminal and there is no "
		       "controlling terminal to read keys from";
	close(fd);
	return NULL;
}

static void
ui_on_signal(int sig)
{
	char c = (char)sig;
	int saved = errno;
	ssize_t w = write(ui_sigpipe[1], &c, 1);

	(void)w;
	errno = saved;
}

static void
ui_cleanup(void)
{
	if (ui_curses_on) {
		ui_curses_on = false;
		endwin();
	}
}

static void
ui_draw_banners(struct ui_ctx *ctx)
{
	char b[UI_BANNERS_MAX][256], *t;
	int i, n = ui_banners(ctx, b), show = ui_banner_count(ctx);
	int y = ctx->rows - 2 - show;

	for (i = 0; i < show && i < n; i++) {
		t = ui_vis(ctx, b[i], strlen(b[i]));
		ui_fill(ctx, y + i, 0, UI_STATUS_ALERT);
		ui_put(ctx, y + i, 0, 1, UI_STATUS_ALERT, " ");
		ui_put_cut(
		    ctx, y + i, 1, ctx->cols - 1, UI_STATUS_ALERT, t, false);
		free(t);
	}
}

static void
ui_prompt_key(struct ui_ctx *ctx, int key)
{
	void (*done)(struct ui_ctx *, const char *) = ctx->prompt_done;
	bool changed = false;

	ctx->dirty = true;
	switch (key) {
	case '\r':
	case '\n':
	case KEY_ENTER:
		ctx->prompting = false;
		ctx->prompt_pending = false;
		done(ctx, ctx->prompt_buf);
		return;
	case UI_KEY_ESC:
	case UI_KEY_CTRL('g'):
		ctx->prompting = false;
		ctx->prompt_pending = false;
		done(ctx, NULL);
		return;
	case KEY_BACKSPACE:
	case 127:
	case UI_KEY_CTRL('h'):
		if (ctx->prompt_len > 0) {
			/* Remove a whole UTF-8 character. */
			do
				ctx->prompt_len--;
			while (
			    ctx->prompt_len > 0 &&
			    ((unsigned char)ctx->prompt_buf[ctx->prompt_len] &
				0xc0) == 0x80);
			ctx->prompt_buf[ctx->prompt_len] = '\0';
			changed = true;
		}
		break;
	case UI_KEY_CTRL('u'):
		ctx->prompt_len = 0;
		ctx->prompt_buf[0] = '\0';
		changed = true;
		break;
	default:
		if (key >= 0x20 && key < 0x100 && key != 0x7f &&
		    ctx->prompt_len + 1 < sizeof ctx->prompt_buf) {
			ctx->prompt_buf[ctx->prompt_len++] = (char)key;
			ctx->prompt_buf[ctx->prompt_len] = '\0';
			changed = true;
		}
		break;
	}
	if (changed)
		ctx->prompt_pending = true;
}

/*
 * The prompt's text applies as it is typed, once per batch of keys read
 * together: a filter pasted at once is compiled and run once, not once
 * for each of its characters (regcomp alone took 10 ms of the 50 a
 * pasted regular expression cost with 100,000 sessions).
 */
static void
ui_prompt_flush(struct ui_ctx *ctx)
{
	if (!ctx->prompt_pending)
		return;
	ctx->prompt_pending = false;
	if (ctx->prompting && ctx->prompt_change != NULL)
		ctx->prompt_change(ctx, ctx->prompt_buf);
}

static void
ui_draw_title(struct ui_ctx *ctx)
{
	const struct ui_screen *s = ctx->stack[ctx->depth - 1];
	uint64_t evicted = store_stats(ctx->store)->evicted;
	char buf[256];
	int x;

	ui_fill(ctx, 0, 0, UI_TITLE);
	snprintf(buf, sizeof buf, " smtpscope %s%s  %s", PACKAGE_VERSION,
	    ctx->cfg->demo ? " (demo)" : "", s->name);
	x = ui_put(ctx, 0, 0, ctx->cols, UI_TITLE, buf);
	/* The list says what it narrows to, and how many it lists; and
	   when sessions were evicted (--limit, the memory budget), how
	   many, since the status bar counts every session seen. */
	if (ui_list_describe(ctx, buf, sizeof buf)) {
		x += ui_put(ctx, 0, x, ctx->cols - x, UI_TITLE, buf);
		/* Sessions, next to the status bar's reply counts. */
		if (s == &ui_screen_list) {
			snprintf(buf, sizeof buf, "  %zu of %zu sessions",
			    ui_list_count(ctx), store_count(ctx->store));
			if (evicted > 0)
				snprintf(buf + strlen(buf),
				    sizeof buf - strlen(buf),
				    " (%" PRIu64 " evicted)", evicted);
			if (ctx->cols - x - ui_width(buf) > 12)
				x += ui_put(
				    ctx, 0, x, ctx->cols - x, UI_TITLE, buf);
		}
	} else if (s == &ui_screen_list && evicted > 0) {
		snprintf(buf, sizeof buf, "  %zu kept, %" PRIu64 " evicted",
		    store_count(ctx->store), evicted);
		if (ctx->cols - x - ui_width(buf) > 12)
			x += ui_put(ctx, 0, x, ctx->cols - x, UI_TITLE, buf);
	}
	if (ctx->cols - x > 12)
		ui_put(ctx, 0, ctx->cols - 10, 10, UI_TITLE, "  ?: help ");
}

/* One piece of the status bar, with its shorter forms. */
struct ui_status_item {
	char text[3][48]; /* full, short, shortest */
	enum ui_role role;
	bool on;
};

/* Columns the bar needs at abbreviation level lv (0 full .. 2). */
static int
ui_status_need(const struct ui_status_item *it, size_t n, int lv)
{
	size_t i;
	int w = 0;

	for (i = 0; i < n; i++)
		if (it[i].on)
			w += 2 + ui_width(it[i].text[lv]);
	return w;
}

static void
ui_status_item_set(struct ui_status_item *it, const char *full,
    const char *shrt, const char *least, uint64_t v)
{
	snprintf(it->text[0], sizeof it->text[0], "%s%" PRIu64, full, v);
	snprintf(it->text[1], sizeof it->text[1], "%s%" PRIu64, shrt, v);
	snprintf(it->text[2], sizeof it->text[2], "%s%" PRIu64, least, v);
	it->on = true;
}

/*
 * " SOURCE  pkts N  sessions N  421 replies: N  452 replies: N ... [state] ".
 * The 421/452 figures count replies, not sessions (a session may get
 * several), and say so.  On a narrow terminal the packet count goes first,
 * then labels get shorter ("421: N", then "421:N"), then the source is
 * shortened and dropped: the numbers themselves are never cut, down to 50
 * columns.
 */
static void
ui_draw_status(struct ui_ctx *ctx)
{
	const struct store_stats *st = store_stats(ctx->store);
	struct ui_status_item it[6];
	char *src, state[32];
	int y = ctx->rows - 2, x, need = 0, srcw, statew, lv;
	size_t i, n = sizeof it / sizeof it[0];

	memset(it, 0, sizeof it);
	ui_status_item_set(&it[0], "pkts ", "pkts ", "p", st->packets);
	ui_status_item_set(&it[1], "sessions ", "sess ", "s", st->sessions);
	ui_status_item_set(&it[2], "421 replies: ", "421: ", "421:", st->n421);
	it[2].role = st->n421 ? UI_STATUS_ALERT : UI_STATUS;
	ui_status_item_set(&it[3], "452 replies: ", "452: ", "452:", st->n452);
	it[3].role = st->n452 ? UI_STATUS_ALERT : UI_STATUS;
	/* Drops only mean something live (or when there were some). */
	ui_status_item_set(&it[4], "drops ", "drops ", "d", st->dropped);
	it[4].on = st->dropped > 0 || runner_is_live(ctx->cfg->runner);
	ui_status_item_set(&it[5], "lost ", "lost ", "l", ctx->queue_dropped);
	it[5].role = UI_STATUS_ALERT;
	it[5].on = ctx->queue_dropped > 0;

	ui_fill(ctx, y, 0, UI_STATUS);
	src = ui_vis(ctx, ctx->cfg->source != NULL ? ctx->cfg->source : "",
	    ctx->cfg->source != NULL ? strlen(ctx->cfg->source) : 0);
	snprintf(state, sizeof state, " [%s] ", ctx->state);
	statew = ui_width(state);
	srcw = ui_width(src);
	/* Least first: the packet count, then shorter labels. */
	for (lv = 0; lv < 3; lv++) {
		need = 1 + srcw + ui_status_need(it, n, lv) + 1 + statew;
		if (need <= ctx->cols)
			break;
		if (lv == 0) {
			it[0].on = false;
			need =
			    1 + srcw + ui_status_need(it, n, lv) + 1 + statew;
			if (need <= ctx->cols)
				break;
		}
	}
	if (lv == 3)
		lv = 2;
	if (need > ctx->cols) {
		/* The source gives way, down to nothing. */
		srcw -= need - ctx->cols;
		if (srcw < 4)
			srcw = 0;
	}
	x = ui_put(ctx, y, 0, 1, UI_STATUS, " ");
	if (srcw > 0)
		x += ui_put_cut(ctx, y, x, srcw, UI_STATUS, src, false);
	free(src);
	for (i = 0; i < n && x < ctx->cols; i++) {
		if (!it[i].on)
			continue;
		x += ui_put(
		    ctx, y, x, ctx->cols - x, UI_STATUS, x > 1 ? "  " : " ");
		x += ui_put(ctx, y, x, ctx->cols - x,
		    it[i].role != UI_NORMAL ? it[i].role : UI_STATUS,
		    it[i].text[lv]);
	}
	if (ctx->cols - x >= statew)
		ui_put(ctx, y, ctx->cols - statew, statew,
		    strcmp(ctx->state, "paused") == 0 ? UI_STATUS_ALERT
						      : UI_STATUS,
		    state);
	else if (ctx->cols - x >= statew - 2)
		ui_put(ctx, y, ctx->cols - statew + 1, statew - 2,
		    strcmp(ctx->state, "paused") == 0 ? UI_STATUS_ALERT
						      : UI_STATUS,
		    state + 1);
}

static void
ui_draw_bottom(struct ui_ctx *ctx)
{
	const struct ui_screen *s = ctx->stack[ctx->depth - 1];
	int y = ctx->rows - 1, x = 0;
	const char *p, *sep, *colon;
	char key[32], what[64], hints[512], *t;

	move(y, 0);
	clrtoeol();
	if (ctx->prompting) {
		/* What is wrong with the answer so far (a filter's regex). */
		if (ctx->msg[0] != '\0' && ctx->msg_error) {
			move(y - 1, 0);
			clrtoeol();
			ui_put_cut(ctx, y - 1, 0, ctx->cols, UI_ERROR, ctx->msg,
			    false);
		}
		x = ui_put(ctx, y, 0, ctx->cols, UI_PROMPT, ctx->prompt_label);
		t = ui_vis(ctx, ctx->prompt_buf, ctx->prompt_len);
		/* Show the end of a long answer. */
		{
			const char *q = t;
			size_t b;

			while (ui_width(q) > ctx->cols - x - 2 && *q != '\0') {
				ui_char(q, &b);
				q += b;
			}
			x += ui_put(ctx, y, x, ctx->cols - x, UI_NORMAL, q);
		}
		free(t);
		curs_set(1);
		move(y, x < ctx->cols ? x : ctx->cols - 1);
		return;
	}
	curs_set(0);
	if (ctx->quit_asked) {
		ui_put(ctx, y, 0, ctx->cols, UI_ERROR,
		    "Stop the live capture and quit? q or y: quit, any other "
		    "key: go on");
		return;
	}
	if (ctx->msg[0] != '\0' && ui_now() - ctx->msg_time < UI_MSG_SECONDS) {
		enum ui_role r = ctx->msg_error ? UI_ERROR : UI_PROMPT;
		char **parts;
		size_t total, n, i;

		/* A long message (an error with its hint) borrows the status
		   bar's row rather than being cut. */
		total = ui_wrap(ctx->msg, ctx->cols, true, &parts);
		n = total > 2 ? 2 : total;
		if (n == 2) {
			move(y - 1, 0);
			clrtoeol();
		}
		for (i = 0; i < n; i++)
			ui_put_cut(ctx, y - (int)(n - 1 - i), 0, ctx->cols, r,
			    parts[i], i + 1 == n && total > n);
		for (i = 0; i < total; i++)
			free(parts[i]);
		free(parts);
		return;
	}
	ctx->msg[0] = '\0';
	ui_keys_hints(s->id, hints, sizeof hints);
	for (p = hints; *p != '\0' && x < ctx->cols;) {
		sep = strstr(p, "  ");
		if (sep == NULL)
			sep = p + strlen(p);
		colon = memchr(p, ':', (size_t)(sep - p));
		if (colon == NULL || colon == p)
			break;
		snprintf(key, sizeof key, "%.*s", (int)(colon - p), p);
		snprintf(what, sizeof what, " %.*s ", (int)(sep - colon - 1),
		    colon + 1);
		if (x + ui_width(key) + ui_width(what) > ctx->cols)
			break;
		x += ui_put(ctx, y, x, ctx->cols - x, UI_KEY, key);
		x += ui_put(ctx, y, x, ctx->cols - x, UI_NORMAL, what);
		p = *sep != '\0' ? sep + 2 : sep;
	}
}

static void
ui_draw(struct ui_ctx *ctx)
{
	const struct ui_screen *s = ctx->stack[ctx->depth - 1];

	erase();
	if (ctx->rows < 8 || ctx->cols < 30) {
		ui_put(ctx, 0, 0, ctx->cols, UI_ERROR, "terminal too small");
		refresh();
		return;
	}
	ui_draw_title(ctx);
	if (s->draw != NULL)
		s->draw(ctx);
	ui_draw_banners(ctx);
	ui_draw_status(ctx);
	ui_draw_bottom(ctx);
	refresh();
	ctx->dirty = false;
}

static void
ui_resize(struct ui_ctx *ctx)
{
	struct winsize ws;
	size_t i;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 &&
	    ws.ws_col > 0)
		resizeterm(ws.ws_row, ws.ws_col);
	getmaxyx(stdscr, ctx->rows, ctx->cols);
	for (i = 0; i < ctx->depth; i++)
		if (ctx->stack[i]->resize != NULL)
			ctx->stack[i]->resize(ctx);
	clearok(stdscr, TRUE);
	ctx->dirty = true;
}

/*
 * q on the list, or Q: a live capture is not ended by a stray key, it asks
 * first (q again or y quits).  Files and finished captures quit at once.
 */
static void
ui_quit(struct ui_ctx *ctx)
{
	if (runner_is_live(ctx->cfg->runner) &&
	    strcmp(ctx->state, "done") != 0 &&
	    strcmp(ctx->state, "error") != 0) {
		ctx->quit_asked = true;
		ctx->dirty = true;
		return;
	}
	ctx->quit = true;
}

/* Keys every screen shares; the screen gets the action first. */
static void
ui_key(struct ui_ctx *ctx, int key)
{
	const struct ui_screen *s = ctx->stack[ctx->depth - 1];
	enum ui_action act;
	struct ui_result r;

	ctx->dirty = true;
	if (ctx->prompting) {
		ui_prompt_key(ctx, key);
		return;
	}
	if (key == KEY_RESIZE)
		return;
	if (ctx->quit_asked) {
		ctx->quit_asked = false;
		if (key == 'q' || key == 'Q' || key == 'y' || key == 'Y')
			ctx->quit = true;
		else
			ui_message(ctx, false, "still capturing");
		return;
	}
	if (ctx->msg[0] != '\0')
		ctx->msg[0] = '\0';
	act = ui_key_action(s->id, key);
	if (act == UI_A_NONE)
		return;
	if (s->key != NULL) {
		r = s->key(ctx, act);
		switch (r.kind) {
		case UI_R_DONE:
			return;
		case UI_R_BACK:
			ui_pop(ctx);
			return;
		case UI_R_OPEN:
			if (r.open->open != NULL)
				r.open->open(ctx, r.id);
			ui_push(ctx, r.open);
			return;
		case UI_R_PASS:
			break;
		}
	}
	switch (act) {
	case UI_A_HELP:
		if (s != &ui_screen_help)
			ui_push(ctx, &ui_screen_help);
		break;
	case UI_A_STATS:
		if (s != &ui_screen_stats)
			ui_push(ctx, &ui_screen_stats);
		break;
	case UI_A_BACK:
	case UI_A_CLOSE:
		if (ctx->depth > 1)
			ui_pop(ctx);
		else if (act == UI_A_CLOSE)
			ui_quit(ctx);
		break;
	case UI_A_QUIT:
		ui_quit(ctx);
		break;
	case UI_A_REDRAW:
		clearok(stdscr, TRUE);
		break;
	default:
		break;
	}
}

/* Every screen, for their create and destroy. */
static const struct ui_screen *const ui_screens[] = {
    &ui_screen_list,
    &ui_screen_session,
    &ui_screen_stats,
    &ui_screen_help,
};
#define UI_NSCREENS (sizeof ui_screens / sizeof ui_screens[0])

struct ui_held {
	struct event **ev;
	size_t n, cap;
};

/* A log line the joiner made (--maillog): into its session. */
static void
ui_log_emit(void *arg, struct event *ev)
{
	struct ui_ctx *ctx = arg;

	store_add_take(ctx->store, ev);
}

static void
ui_half_message(struct ui_ctx *ctx, const struct event *ev)
{
	const char *to = ev->server[0] != '\0' ? ev->server : "other servers";

	if (ev->what != EV_ANOM_NO_HANDSHAKE) {
		ui_message(ctx, true, "%s%s%s", ev->server,
		    ev->server[0] != '\0' ? ": " : "", ev->detail);
		return;
	}
	if (ctx->half_servers == 0 || ev->ts.tv_sec != ctx->half_ts.tv_sec ||
	    ev->ts.tv_usec != ctx->half_ts.tv_usec) {
		ctx->half_ts = ev->ts;
		ctx->half_n = ctx->half_top_n = 0;
		ctx->half_servers = 0;
	}
	ctx->half_servers++;
	ctx->half_n += ev->no_handshake;
	/* The servers past the pipeline's table come summed (server ""):
	   "most to" names a server. */
	if (ev->server[0] != '\0' && ev->no_handshake > ctx->half_top_n) {
		ctx->half_top_n = ev->no_handshake;
		snprintf(ctx->half_top, sizeof ctx->half_top, "%s", to);
	}
	if (ctx->half_servers == 1)
		ui_message(ctx, true, "%s: %s", to, ev->detail);
	else
		ui_message(ctx, true,
		    "%" PRIu64 " connection attempts without a completed "
		    "handshake, to %u servers (most to %s: %" PRIu64
		    "); s for statistics",
		    ctx->half_n, ctx->half_servers, ctx->half_top,
		    ctx->half_top_n);
}

static void
ui_apply(struct ui_ctx *ctx, struct event *ev)
{
	/* The log lines the capture's clock made due, then the joiner
	   learns from the event (as headless). */
	runner_log_event(ctx->cfg->runner, ev);
	if (ev->type == EV_ANOMALY && ev->what == EV_ANOM_TRUNCATED_PACKET)
		ctx->snap_cut++;

	/* An anomaly of no session (connection attempts without a
	   handshake, per server): on the message line, the servers of one
	   report together (the store keeps the count for the banner and the
	   statistics). */
	if (ev->type == EV_ANOMALY && ev->session == 0 && ev->detail != NULL)
		ui_half_message(ctx, ev);
	store_add_take(ctx->store, ev);
}

static bool
ui_paused_state(struct ui_ctx *ctx)
{
	return strcmp(ctx->state, "paused") == 0;
}

static void
ui_toggle_pause(struct ui_ctx *ctx, struct ui_cap *c, struct ui_held *held,
    const char *running)
{
	size_t i;

	if (atomic_load(&c->state) != UI_CAP_RUNNING) {
		ui_message(ctx, false, "capture finished: nothing to pause");
		return;
	}
	if (!ui_paused_state(ctx)) {
		ctx->state = "paused";
		if (!c->live)
			runner_pause(c->r, true);
		return;
	}
	ctx->state = running;
	runner_pause(c->r, false);
	for (i = 0; i < held->n; i++)
		ui_apply(ctx, held->ev[i]);
	held->n = 0;
}

/*
 * One line on the terminal once the UI is gone, so that what was seen is
 * not lost with the screen: sessions, 421 and 452 replies, drops, and
 * connection attempts without a handshake when there were some.
 */
static void
ui_summary(struct ui_ctx *ctx)
{
	const struct store_stats *st = store_stats(ctx->store);
	const char *src = ctx->cfg->source != NULL ? ctx->cfg->source : "";
	char *v = vis_dup(src, strlen(src), ctx->utf8);
	uint64_t half = ui_no_handshake(ctx);

	printf("smtpscope: %s: %" PRIu64 " session%s, 421 replies: %" PRIu64
	       ", 452 replies: %" PRIu64 ", drops: %" PRIu64,
	    v, st->sessions, event_plural(st->sessions), st->n421, st->n452,
	    st->dropped);
	if (ctx->queue_dropped > 0)
		printf(", lost: %" PRIu64, ctx->queue_dropped);
	if (half > 0)
		printf(", connection attempts without a handshake: %" PRIu64,
		    half);
	printf("\n");
	fflush(stdout);
	free(v);
}

int
ui_run(const struct ui_config *cfg)
{
	struct ui_ctx ctx;
	struct ui_cap c;
	struct event_queue *q;
	struct ui_held held;
	struct sigaction sa;
	sigset_t all, old;
	pthread_t tid;
	struct pollfd pfd[3];
	SCREEN *scr;
	FILE *keys;
	struct event *ev, *drain[UI_BATCH];
	size_t n_drain = 0, drained = 0;
	double last_draw = 0, now, ml_last = 0;
	const char *running;
	uint64_t gen = (uint64_t)-1;
	int i, key, timeout, keys_fd, status = EXIT_OK;
	bool more = false, failed_shown = false, keyed;
	char sig;
	/* Benchmarks only (bench/ui_scale.sh): how long each batch of keys
	   took, from reading the first to the end of the redraw. */
	const char *timing_path = getenv("SMTPSCOPE_UI_TIMING");
	FILE *timing = NULL;
	double key_t0 = 0, key_cpu0 = 0;
	int key_first = 0;

	memset(&ctx, 0, sizeof ctx);
	memset(&c, 0, sizeof c);
	memset(&held, 0, sizeof held);
	ctx.cfg = cfg;
	if (timing_path != NULL && *timing_path != '\0')
		timing = fopen(timing_path, "a");
	ctx.store = store_new(cfg->limit);
	runner_log_set_emit(cfg->runner, ui_log_emit, &ctx);
	store_set_budget(ctx.store, cfg->store_bytes);
	ctx.utf8 = MB_CUR_MAX > 1;
	for (i = 0; (size_t)i < UI_NSCREENS; i++)
		if (ui_screens[i]->create != NULL)
			ui_screens[i]->create(&ctx);
	c.r = cfg->runner;
	c.live = runner_is_live(cfg->runner);
	q = runner_queue(cfg->runner);
	atomic_init(&c.state, UI_CAP_RUNNING);
	running = c.live ? "live" : cfg->demo ? "replay" : "reading";
	ctx.state = running;

	if (pipe(ui_sigpipe) != 0)
		err_exit(EXIT_RUNTIME, "pipe", strerror(errno), NULL);
	for (i = 0; i < 2; i++) {
		fcntl(ui_sigpipe[i], F_SETFL,
		    fcntl(ui_sigpipe[i], F_GETFL) | O_NONBLOCK);
		fcntl(ui_sigpipe[i], F_SETFD, FD_CLOEXEC);
	}
	/* Ours before curses starts, so that curses leaves SIGWINCH to us. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = ui_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGWINCH, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/*
	 * Keys come from the terminal, never from a stdin that carries the
	 * capture (-r -) or was redirected: pcap bytes read as keystrokes
	 * would quit at once.
	 */
	if (isatty(STDIN_FILENO)) {
		keys = stdin;
		keys_fd = STDIN_FILENO;
	} else {
		keys_fd = open(UI_TTY, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (keys_fd == -1 || (keys = fdopen(keys_fd, "r")) == NULL)
			err_exit(EXIT_RUNTIME, UI_TTY, strerror(errno),
			    "the UI reads keys from the terminal; use -N or "
			    "-j without one");
	}
	scr = newterm(NULL, stdout, keys);
	if (scr == NULL)
		err_exit(EXIT_RUNTIME, "cannot use the terminal",
		    "curses could not initialise it",
		    "check TERM, or use -N or -j for output without the UI");
	ui_curses_on = true;
	err_set_cleanup(ui_cleanup);
	cbreak();
	noecho();
	nonl();
	intrflush(stdscr, FALSE);
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(25);
	curs_set(0);
	ui_colours_init(&ctx);
	getmaxyx(stdscr, ctx.rows, ctx.cols);
	ui_push(&ctx, &ui_screen_list);

	/*
	 * glibc gives a second thread its own arena, and grows it by exactly
	 * what each allocation needs (an mprotect and page faults, per packet
	 * copy kept for the save): at line rate that was half the capture
	 * thread's time.  One arena grows by M_TOP_PAD steps instead.  (Built
	 * with mimalloc, the mallopt calls here and in ui_prefault change
	 * nothing: its heaps are per thread and grow in large segments.)
	 */
#ifdef M_ARENA_MAX
	mallopt(M_ARENA_MAX, 1);
#endif
	if (c.live)
		ui_prefault(cfg->store_bytes / 2);
	/* The capture thread inherits a mask with every signal blocked. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if (pthread_create(&tid, NULL, ui_cap_main, &c) != 0)
		err_exit(EXIT_RUNTIME, "cannot start the capture thread",
		    strerror(errno), NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	while (!ctx.quit) {
		bool hold_queue = ui_paused_state(&ctx) && !c.live;

		now = ui_now();
		if (more && !hold_queue)
			timeout = 0;
		else if (ctx.dirty || store_gen(ctx.store) != gen)
			timeout = (int)(UI_FRAME_MS - (now - last_draw) * 1000);
		else
			timeout = 1000;
		if (runner_has_log(cfg->runner) &&
		    timeout > UI_MAILLOG_S * 1000)
			timeout = (int)(UI_MAILLOG_S * 1000);
		if (timeout < 0)
			timeout = 0;
		pfd[0].fd = keys_fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = ui_sigpipe[0];
		pfd[1].events = POLLIN;
		/* A held queue stays readable: do not spin on it. */
		pfd[2].fd = hold_queue ? -1 : event_queue_fd(q);
		pfd[2].events = POLLIN;
		if (poll(pfd, 3, timeout) < 0 && errno != EINTR)
			break;

		while (read(ui_sigpipe[0], &sig, 1) == 1) {
			if (sig == SIGWINCH)
				ui_resize(&ctx);
			else if (sig == SIGINT || sig == SIGTERM ||
				 sig == SIGHUP)
				ctx.quit = true;
			else
				ctx.dirty = true; /* capture thread finished */
		}
		keyed = false;
		while ((key = getch()) != ERR) {
			if (!keyed) {
				key_t0 = ui_now();
				key_cpu0 = ui_cpu_now();
				key_first = key;
			}
			keyed = true;
			if (!ctx.prompting && !ctx.quit_asked &&
			    ui_key_action(ctx.stack[ctx.depth - 1]->id, key) ==
				UI_A_PAUSE) {
				ui_toggle_pause(&ctx, &c, &held, running);
				ctx.dirty = true;
				continue;
			}
			ui_key(&ctx, key);
			if (ctx.quit)
				break;
		}
		ui_prompt_flush(&ctx);

		more = false;
		if (!hold_queue) {
			event_queue_ack(q);
			for (i = 0; i < UI_DRAIN_MAX; i++) {
				if (drained == n_drain) {
					drained = 0;
					n_drain = event_queue_pop_batch(
					    q, drain, UI_BATCH);
					if (n_drain == 0)
						break;
				}
				ev = drain[drained++];
				if (ui_paused_state(&ctx)) {
					if (held.n == held.cap) {
						held.cap = held.cap
							       ? held.cap * 2
							       : 1024;
						held.ev = xreallocarray(held.ev,
						    held.cap, sizeof *held.ev);
					}
					held.ev[held.n++] = ev;
					if (held.n >= UI_HELD_MAX) {
						ui_toggle_pause(
						    &ctx, &c, &held, running);
						ui_message(&ctx, true,
						    "pause buffer full: "
						    "resumed");
					}
				} else
					ui_apply(&ctx, ev);
			}
			more = i == UI_DRAIN_MAX || drained < n_drain;
		}
		ctx.queue_dropped = event_queue_dropped(q);
		ctx.queue_dropped_packets = event_queue_dropped_packets(q);

		switch (atomic_load(&c.state)) {
		case UI_CAP_DONE:
			if (!ui_paused_state(&ctx) &&
			    strcmp(ctx.state, "done") != 0 && !more) {
				runner_log_finish(cfg->runner);
				ctx.state = "done";
				ctx.dirty = true;
			}
			break;
		case UI_CAP_FAILED:
			if (!failed_shown && !more) {
				failed_shown = true;
				ctx.state = "error";
				ui_message(&ctx, true, "read error: %s", c.why);
				status = EXIT_RUNTIME;
			}
			break;
		default:
			break;
		}

		if (runner_log_following(cfg->runner) &&
		    ui_now() - ml_last >= UI_MAILLOG_S) {
			ml_last = ui_now();
			runner_log_poll(cfg->runner);
		}
		if (ctx.msg[0] != '\0' &&
		    ui_now() - ctx.msg_time >= UI_MSG_SECONDS)
			ctx.dirty = true;
		now = ui_now();
		/* The frame rate bounds redraws for arriving events; a key
		   is answered at once. */
		if ((ctx.dirty || store_gen(ctx.store) != gen) &&
		    (keyed || (now - last_draw) * 1000 >= UI_FRAME_MS)) {
			gen = store_gen(ctx.store);
			ui_draw(&ctx);
			last_draw = now;
			if (keyed && timing != NULL) {
				fprintf(timing, "key %d %.3f ms, cpu %.3f ms\n",
				    key_first, (ui_now() - key_t0) * 1000,
				    (ui_cpu_now() - key_cpu0) * 1000);
				fflush(timing);
			}
		}
	}
	if (timing != NULL)
		fclose(timing);

	runner_stop(c.r);
	event_queue_close(q);
	ui_cleanup();
	err_set_cleanup(NULL);
	ui_summary(&ctx);
	/*
	 * A stream (-r - fed by `ssh mx tcpdump`) can keep the capture thread
	 * in read() until the writer sends more, which may be never: the
	 * user asked to quit, so after a short wait leave without it.
	 */
	for (i = 0; i < UI_QUIT_WAIT_MS / 10 &&
		    atomic_load(&c.state) == UI_CAP_RUNNING;
	     i++) {
		struct timespec nap = {0, 10 * 1000 * 1000};

		nanosleep(&nap, NULL);
	}
	if (atomic_load(&c.state) == UI_CAP_RUNNING)
		exit(status);
	pthread_join(tid, NULL);
	delscreen(scr);
	if (keys != stdin)
		fclose(keys);
	if (status != EXIT_OK && c.why != NULL)
		err_print("read error", c.why, NULL);
	free(c.why);

	for (i = 0; (size_t)i < held.n; i++)
		event_free(held.ev[i]);
	while (drained < n_drain)
		event_free(drain[drained++]);
	free(held.ev);
	store_free(ctx.store);
	for (i = 0; (size_t)i < UI_NSCREENS; i++)
		if (ui_screens[i]->destroy != NULL)
			ui_screens[i]->destroy(&ctx);
	close(ui_sigpipe[0]);
	close(ui_sigpipe[1]);
	ui_sigpipe[0] = ui_sigpipe[1] = -1;
	return status;
}
