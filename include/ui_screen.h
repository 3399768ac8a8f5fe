#ifndef SMTPSCOPE_UI_SCREEN_H
#define SMTPSCOPE_UI_SCREEN_H

/*
 * Internal to the UI: each screen (ui_list.c, ui_session.c, ui_stats.c,
 * ui_help.c) is a small vtable driven by ui.c; they share the context below,
 * the semantic colour roles, and a "document" (lines of styled segments)
 * that the scrolling screens draw and that `t` writes as plain text.
 *
 * Each screen owns its state: a struct private to its file, made by its
 * create and freed by its destroy, that struct ui_ctx only points to.
 * What others need of a screen goes through the functions declared below
 * under the screen's file (the status bar asks the list what it shows,
 * `w` which sessions to save), never through its fields.
 *
 * Everything here runs on the main thread.  Text given to ui_put() and kept
 * in documents is already safe (made by vis_*() or by us); wire bytes go
 * through ui_vis() first.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "store.h"
#include "ui.h"

struct ui_ctx;
struct ui_list_state;
struct ui_session_state;
struct ui_stats_state;
struct ui_help_state;

/* Screens, as bits: a key binding names the screens it works on. */
#define UI_SCR_LIST 0x01u
#define UI_SCR_SESSION 0x02u
#define UI_SCR_STATS 0x04u
#define UI_SCR_HELP 0x08u
#define UI_SCR_ALL 0x0fu

/* What a key means; ui_keys.c maps keys to these, per screen. */
enum ui_action {
	UI_A_NONE,
	UI_A_HELP,
	UI_A_STATS,
	UI_A_PAUSE,
	UI_A_BACK,  /* Esc (and Left, h where it goes back) */
	UI_A_CLOSE, /* q: back, or quit on the list */
	UI_A_QUIT,
	UI_A_REDRAW,
	UI_A_UP,
	UI_A_DOWN,
	UI_A_PGUP,
	UI_A_PGDN,
	UI_A_HOME,
	UI_A_END,
	UI_A_OPEN,
	UI_A_FIND, /* / : filter on the list, search in a transcript */
	UI_A_NEXT,
	UI_A_PREV,
	UI_A_PROBLEMS,
	UI_A_SAVE_PCAP,
	UI_A_SAVE_TEXT,
	UI_A_LOG /* L: show or hide the MTA's log lines */
};

#define UI_KEYDEF_BINDINGS 8
/*
 * One row of the key table (ui_keys.c): a heading when help is NULL, else
 * one line of the help screen, and the bindings behind it.
 */
struct ui_keydef {
	unsigned screens; /* UI_SCR_* bits */
	const char *keys; /* as the help screen and the manual name them */
	const char *help;
	const char *hint_key; /* on the bottom line: "n/N", or NULL */
	const char *hint;     /* ... with this: "next 421/452" */
	struct {
		int key;
		enum ui_action action; /* UI_A_NONE ends the list */
	} bind[UI_KEYDEF_BINDINGS];
};
extern const struct ui_keydef ui_keydefs[];
extern const size_t ui_nkeydefs;
/* The action of key on the screen (its own bindings first). */
enum ui_action ui_key_action(unsigned screen, int key);
/* The bottom line's hints for a screen: "KEY:what  KEY:what". */
void ui_keys_hints(unsigned screen, char *buf, size_t len);

/*
 * What a screen's key handler asks of the driver (ui.c), instead of
 * changing the stack or quitting itself.  Every key redraws.
 */
enum ui_result_kind {
	UI_R_PASS, /* not handled: the common binding applies */
	UI_R_DONE, /* handled */
	UI_R_BACK, /* close this screen */
	UI_R_OPEN  /* open screen `open` on session `id` */
};
struct ui_result {
	enum ui_result_kind kind;
	const struct ui_screen *open;
	uint64_t id;
};
#define UI_RESULT(k) ((struct ui_result){(k), NULL, 0})

struct ui_screen {
	const char *name;
	unsigned id; /* UI_SCR_* */
	/* The screen's own state: made when the UI starts, freed when it
	   ends.  NULL: none. */
	void (*create)(struct ui_ctx *);
	void (*destroy)(struct ui_ctx *);
	/* Before it is pushed by UI_R_OPEN: show session id.  NULL: none. */
	void (*open)(struct ui_ctx *, uint64_t id);
	void (*draw)(struct ui_ctx *);
	struct ui_result (*key)(struct ui_ctx *, enum ui_action);
	void (*resize)(struct ui_ctx *);
};

extern const struct ui_screen ui_screen_list;
extern const struct ui_screen ui_screen_session;
extern const struct ui_screen ui_screen_stats;
extern const struct ui_screen ui_screen_help;

/* Semantic colour roles; ui.c maps them to colours or to bold/reverse. */
enum ui_role {
	UI_NORMAL,
	UI_TITLE,
	UI_HEADER,
	UI_STATUS,
	UI_STATUS_ALERT,
	UI_KEY,
	UI_SELECTED,
	UI_HIGHLIGHT,
	UI_HIGHLIGHT_SEL,
	UI_FLAG,
	UI_REPLY_2XX,
	UI_REPLY_3XX,
	UI_REPLY_4XX,
	UI_REPLY_5XX,
	UI_CLIENT,
	UI_SERVER,
	UI_TIME,
	UI_INFO,
	UI_WARN,
	UI_ENCRYPTED,
	UI_BOX,
	UI_BOX_TITLE,
	UI_BOX_TITLE_MINOR,
	UI_BOX_LABEL,
	UI_BAR_421,
	UI_BAR_452,
	UI_PROMPT,
	UI_ERROR,
	UI_MATCH,   /* text found by a search */
	UI_CURRENT, /* the line n/N went to */
	UI_ROLE_MAX
};

/* Line drawing pieces: ACS in curses, ASCII in text files. */
enum ui_ld {
	UI_LD_NONE,
	UI_LD_H,
	UI_LD_V,
	UI_LD_TL,
	UI_LD_TR,
	UI_LD_BL,
	UI_LD_BR
};

struct ui_seg {
	enum ui_role role;
	char *text; /* safe text, or NULL for a line piece */
	enum ui_ld ld;
	int count; /* line pieces */
};

struct ui_dline {
	struct ui_seg *segs;
	size_t n, cap;
	int mark; /* screen-specific: e.g. 1 on a 421/452 reply */
};

struct ui_doc {
	struct ui_dline *lines;
	size_t n, cap;
};

struct ui_scroll {
	size_t top;
	bool follow; /* stick to the end as lines arrive */
};

#define UI_STACK_MAX 8
#define UI_FILTER_MAX 128 /* a filter or a search, typed */

struct ui_ctx {
	const struct ui_config *cfg;
	struct store *store;
	int rows, cols;
	bool color, utf8;
	const struct ui_screen *stack[UI_STACK_MAX];
	size_t depth;
	bool quit;
	bool quit_asked; /* live: q waits for q or y */
	bool dirty;

	/* Capture state for the status bar. */
	const char *state; /* "live", "reading", "done", "paused", ... */
	uint64_t queue_dropped;
	uint64_t queue_dropped_packets; /* packet copies, any session */
	uint64_t snap_cut;		/* sessions whose payload -s cut */
	/* The latest report of connection attempts without a handshake:
	   one anomaly per server, all stamped with the end of the interval,
	   summed into one message. */
	struct timeval half_ts;
	uint64_t half_n, half_top_n;
	unsigned half_servers;
	char half_top[64];

	/* Each screen's own state, made by its create and freed by its
	   destroy (the types are private to ui_list.c, ui_session.c,
	   ui_stats.c and ui_help.c). */
	struct ui_list_state *list;
	struct ui_session_state *session;
	struct ui_stats_state *stats;
	struct ui_help_state *help;

	/* The bottom line: a message, or a prompt being edited. */
	char msg[256];
	bool msg_error;
	double msg_time;
	bool prompting;
	char prompt_label[64];
	char prompt_buf[256];
	size_t prompt_len;
	char prompt_saved[UI_FILTER_MAX];
	void (*prompt_done)(struct ui_ctx *, const char *answer);
	void (*prompt_change)(struct ui_ctx *, const char *text);
	bool prompt_pending; /* text changed, prompt_change not yet called */
};

/* Keys that curses does not name. */
#define UI_KEY_ESC 27
#define UI_KEY_CTRL(c) ((c)&0x1f)

/* ui_util.c: a leaf, used by every screen; calls nothing above it. */
/* Monotonic seconds. */
double ui_now(void);
/* Colour pairs for the roles, or none (NO_COLOR, a terminal without). */
void ui_colours_init(struct ui_ctx *);
int ui_attr(struct ui_ctx *, enum ui_role);
/* Draw safe text at (y, x) within w columns; returns columns used. */
int ui_put(struct ui_ctx *, int y, int x, int w, enum ui_role, const char *);
/*
 * As ui_put, but text that does not fit, or that has more after it (more),
 * ends with "…" ("..." without UTF-8), cut at a word boundary when one is
 * near enough.  Returns columns used.
 */
int ui_put_cut(struct ui_ctx *, int y, int x, int w, enum ui_role, const char *,
    bool more);
/* As ui_put, then pad with spaces to w; "~"/"…" marks a cut. */
void ui_cell(struct ui_ctx *, int y, int x, int w, enum ui_role, const char *);
/* Fill a row from x to the right edge in role. */
void ui_fill(struct ui_ctx *, int y, int x, enum ui_role);
/* Wire bytes made safe for display; caller frees. */
char *ui_vis(struct ui_ctx *, const void *, size_t);
/* Display width of safe text (columns). */
int ui_width(const char *);
/* Columns of one character of safe text at s, and its byte length. */
int ui_char(const char *s, size_t *bytes);
void ui_push(struct ui_ctx *, const struct ui_screen *);
void ui_pop(struct ui_ctx *);
void ui_message(struct ui_ctx *, bool error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Start editing a line at the bottom; done gets NULL on Esc. */
void ui_prompt(struct ui_ctx *, const char *label, const char *initial,
    void (*done)(struct ui_ctx *, const char *),
    void (*change)(struct ui_ctx *, const char *));
/* Body rows: from UI_BODY_Y to ui_body_end() (exclusive). */
#define UI_BODY_Y 1
int ui_body_end(struct ui_ctx *);
/* Connection attempts without a handshake so far: the pipeline's count
   (the latest stats) or the reports', whichever is ahead. */
uint64_t ui_no_handshake(struct ui_ctx *);
/*
 * Banners: what headless mode would say on stderr, said on screen, one line
 * each above the status bar.  ui_banners returns how many there are (at
 * most UI_BANNERS_MAX), texts in out; ui_banner_count how many are shown.
 */
#define UI_BANNERS_MAX 4
int ui_banners(struct ui_ctx *, char out[][256]);
int ui_banner_count(struct ui_ctx *);
/* Role of a reply code's class. */
enum ui_role ui_reply_role(int code);
/* "HH:MM:SS" or "HH:MM:SS.mmm" in local time. */
void ui_format_time(char *, size_t, const struct timeval *, bool ms);

/* ui_doc.c */
void ui_doc_clear(struct ui_doc *);
void ui_doc_line(struct ui_doc *);
void ui_doc_seg(struct ui_doc *, enum ui_role, const char *text);
void ui_doc_segf(struct ui_doc *, enum ui_role, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ui_doc_ld(struct ui_doc *, enum ui_role, enum ui_ld, int count);
/* Split safe text into pieces of at most width columns, at spaces when
   words allow; returns the count, pieces in *out (caller frees each). */
size_t ui_wrap(const char *text, int width, bool words, char ***out);
/* Columns of a line up to its last non-blank character. */
int ui_doc_line_width(const struct ui_dline *);
/* Lines wider than the screen end with an ellipsis (ui_put_cut). */
void ui_doc_draw(
    struct ui_ctx *, const struct ui_doc *, size_t top, int y0, int height);
/* The line as plain text, a space for each line-drawing column (so that
   byte offsets map to columns through ui_width); caller frees. */
char *ui_doc_line_text(const struct ui_dline *);
/* Case-insensitive (ASCII) search of needle in hay; NULL when absent. */
const char *ui_find(const char *hay, const char *needle);
/* Draw the matches of needle in the visible lines in UI_MATCH. */
void ui_doc_draw_matches(struct ui_ctx *, const struct ui_doc *, size_t top,
    int y0, int height, const char *needle);
/* Plain text, ASCII line drawing; returns -1 on a write error. */
int ui_doc_write(const struct ui_doc *, FILE *);
/* Scrolling actions for a document view; returns 1 when handled. */
int ui_scroll_key(struct ui_scroll *, enum ui_action, size_t total, int height);
void ui_scroll_fix(struct ui_scroll *, size_t total, int height);

/* ui_list.c */
/* The TLS column: the store's state, its mark, what the help says. */
struct ui_tls_mark {
	const char *state; /* store_session.tls */
	const char *mark;
	const char *help;
};
extern const struct ui_tls_mark ui_tls_marks[];
extern const size_t ui_ntls_marks;
/* For the title: "  [filter: F, problems only]" in buf, or false when the
   list shows every session; and how many sessions it lists now. */
bool ui_list_describe(struct ui_ctx *, char *buf, size_t len);
size_t ui_list_count(struct ui_ctx *);

/* ui_session.c */
void ui_session_doc(
    struct ui_ctx *, const struct store_session *, int width, struct ui_doc *);

/* ui_save.c */
/* Default file names: smtpscope-YYYYmmdd-HHMMSS.EXT, in the current
   directory when it is writable, else in $TMPDIR or /tmp. */
void ui_save_default_name(char *, size_t, const char *ext);
/*
 * Write the sessions' kept packets in capture order; 0 or -1 with *cause
 * set.  On success *cause is NULL, or says what the file lacks: the packet
 * copies the store dropped (store_session.pkt_dropped), other link types
 * skipped.  Caller frees.
 */
int ui_save_pcap(struct store_session **, size_t n, const char *path,
    size_t *written, char **cause);
/* How a transcript is made (ui_session_doc): handed in by the screen that
   asks, so that saving does not depend on the session screen. */
typedef void (*ui_save_doc_fn)(
    struct ui_ctx *, const struct store_session *, int width, struct ui_doc *);
/* Prompt for a file name and save (w / t keys). */
void ui_save_pcap_prompt(struct ui_ctx *, struct store_session **, size_t n);
void ui_save_text_prompt(struct ui_ctx *, uint64_t id, ui_save_doc_fn);

#endif
