/*
 * ui_list_int: the session list's own state, private to src/ui_list.c.  No
 * other file of src/ includes this header (tests/structure.sh checks): the
 * rest of the UI reaches the list through the few functions ui_screen.h
 * declares under "ui_list.c".
 *
 * It is a header, not accessor functions, for the unit test
 * (tests/unit/test_ui_nav.c), which checks the view row by row against a
 * reference, down to where each row is in the store: getters for every
 * field it reads would be an interface to src/ that only a test uses.
 */
#ifndef SMTPSCOPE_UI_LIST_INT_H
#define SMTPSCOPE_UI_LIST_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "ui_screen.h"

/* Lists kept for filters typed earlier (backspace reuses them). */
#define UI_VIEWS_SAVED 8

/* One listed session: where it is in the store (at view_gen) and its id. */
struct ui_view_ent {
	struct store_session *ss;
	uint64_t id;
	size_t idx; /* in store_sessions() and store_keys() */
};

/* A list built earlier: what it listed, for which filter and store. */
struct ui_view_saved {
	char key[UI_FILTER_MAX]; /* the filter; "" for one matching all */
	bool problems;
	uint64_t gen; /* store generation it was built at */
	struct ui_view_ent *v;
	size_t n, cap;
	int cw, sw;
};

/* Made by ui_screen_list's create (ctx->list), freed by its destroy. */
struct ui_list_state {
	/* The sessions listed, in store order (ids increase). */
	struct ui_view_ent *view;
	size_t n_view, cap_view;
	struct ui_view_ent *view_next; /* scratch of cap_view: a rebuild */
	uint64_t view_gen;
	bool view_stale;
	/* The change since the view was built only narrowed it (a filter
	   typed further, problems only on): re-test the listed sessions. */
	bool view_narrow;
	int view_cw, view_sw; /* widest client and server listed */
	/* What the view was built for (view_built), and the views built
	   before it at the same store generation, oldest first. */
	bool view_built;
	char view_key[UI_FILTER_MAX];
	bool view_problems;
	struct ui_view_saved views[UI_VIEWS_SAVED];
	size_t n_views;
	/* The selection (its session, its row) and the first row shown;
	   follow: the selection sticks to the last row. */
	uint64_t sel_id;
	size_t sel, top;
	bool follow;
	char filter[UI_FILTER_MAX];
	struct store_filter *filt; /* filter compiled; NULL: none */
	bool problems;
	/* A full walk over many sessions runs in two halves, the second on
	   a helper thread with its own copy of the filter (a compiled
	   expression is not shared between threads), compiled from
	   filt2_text; hit[] holds both halves' answers, cap_hit entries. */
	struct store_filter *filt2;
	char filt2_text[UI_FILTER_MAX];
	uint8_t *hit;
	size_t cap_hit;
};

/* Rebuild the view if the store or the filter changed since. */
void ui_list_refresh(struct ui_ctx *);
/* Put a filter in force as typing it does (an invalid one is refused
   with a message). */
void ui_list_filter_set(struct ui_ctx *, const char *text);

#endif
