#ifndef SMTPSCOPE_UI_SCREEN_H
#define SMTPSCOPE_UI_SCREEN_H

/*
 * Internal to the UI: each screen (ui_list.c, ui_session.c, ui_stats.c,
 * ui_help.c) is a small vtable driven by ui.c.
 */

struct ui_ctx;

struct ui_screen {
	const char *name;
	void (*draw)(struct ui_ctx *);
	/* Returns 1 when the key was handled. */
	int (*key)(struct ui_ctx *, int key);
	void (*resize)(struct ui_ctx *);
};

extern const struct ui_screen ui_screen_list;
extern const struct ui_screen ui_screen_session;
extern const struct ui_screen ui_screen_stats;
extern const struct ui_screen ui_screen_help;

#endif
