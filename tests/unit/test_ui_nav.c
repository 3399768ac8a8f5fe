/*
 * Unit tests of the session list's view (ui_list_refresh) at scale: the
 * list built from the store's keys, narrowed as a filter is typed, given
 * back from a saved view, and merged with the store when only events
 * arrived, must list exactly the sessions a plain test of every session
 * lists (store_filter_match against a reference written here), in the same
 * order.  Also the key array against the sessions, and the code summary.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "event.h"
#include "store.h"
#include "ui_list_int.h"
#include "ui_screen.h"
#include "xmalloc.h"

/* A small deterministic generator: the same sessions on every run. */
static uint32_t nav_rng = 12345;

static uint32_t
nav_rand(void)
{
	nav_rng = nav_rng * 1103515245u + 12345u;
	return (nav_rng >> 8) & 0xffffff;
}

static struct event *
nav_ev(enum event_type t, uint64_t id)
{
	struct event *ev = event_new(t);

	ev->session = id;
	ev->ts.tv_sec = 1700000000 + (time_t)id;
	snprintf(ev->client, sizeof ev->client, "10.%u.%u.%u:%u",
	    (unsigned)(id % 7), (unsigned)(id % 251), (unsigned)(id % 13),
	    40000 + (unsigned)(id % 1000));
	snprintf(
	    ev->server, sizeof ev->server, "192.0.2.%u:25", (unsigned)(id % 5));
	return ev;
}

static const int nav_codes[] = {
    220, 250, 251, 354, 421, 450, 451, 452, 454, 500, 550, 552, 554, 221, 535};

/* One more event for session id (opened already). */
static void
nav_event(struct store *s, uint64_t id)
{
	static const char *const helos[] = {"mail.example.com",
	    "MX1.Example.NET", "relay.test", "Bounce-host.example.org"};
	static const char *const froms[] = {"FROM:<alice@example.com>",
	    "FROM:<bounce-42@lists.example.net>", "FROM:<>",
	    "FROM:<Bob@Test.org> SIZE=1000"};
	static const char *const rcpts[] = {"TO:<carol@example.com>",
	    "TO:<dave@example.net>", "TO:<ACME@corp.example>",
	    "TO:<x452@example.org>"};
	struct event *ev;
	uint32_t r = nav_rand();

	switch (r % 6) {
	case 0:
		ev = nav_ev(EV_COMMAND, id);
		snprintf(ev->verb, sizeof ev->verb, "EHLO");
		ev->arg = xstrdup(helos[(r >> 4) % 4]);
		break;
	case 1:
		ev = nav_ev(EV_COMMAND, id);
		snprintf(ev->verb, sizeof ev->verb, "MAIL");
		ev->arg = xstrdup(froms[(r >> 4) % 4]);
		break;
	case 2:
		ev = nav_ev(EV_COMMAND, id);
		snprintf(ev->verb, sizeof ev->verb, "RCPT");
		ev->arg = xstrdup(rcpts[(r >> 4) % 4]);
		break;
	case 3:
	case 4:
		ev = nav_ev(EV_REPLY, id);
		ev->code = nav_codes[(r >> 4) %
				     (sizeof nav_codes / sizeof nav_codes[0])];
		ev->text = xstrdup("text");
		ev->text_len = 4;
		ev->lines = 1;
		break;
	default:
		ev = nav_ev((r >> 4) % 3 == 0 ? EV_GAP : EV_SESSION_CLOSE, id);
		if (ev->type == EV_SESSION_CLOSE)
			ev->close_reason = "quit";
		break;
	}
	store_add_take(s, ev);
}

/* Sessions first..last opened, each with a few events. */
static void
nav_fill(struct store *s, uint64_t first, uint64_t last)
{
	uint64_t id;
	int k;

	for (id = first; id <= last; id++) {
		store_add_take(s, nav_ev(EV_SESSION_OPEN, id));
		for (k = (int)(nav_rand() % 6); k > 0; k--)
			nav_event(s, id);
	}
}

/* The reference: ASCII case-insensitive substring. */
static bool
nav_has(const char *hay, size_t n, const char *needle)
{
	size_t i, j, l = strlen(needle);

	if (hay == NULL)
		return false;
	for (i = 0; i + l <= n; i++) {
		for (j = 0; j < l; j++) {
			char a = hay[i + j], b = needle[j];

			if (a >= 'A' && a <= 'Z')
				a = (char)(a - 'A' + 'a');
			if (b >= 'A' && b <= 'Z')
				b = (char)(b - 'A' + 'a');
			if (a != b)
				break;
		}
		if (j == l)
			return true;
	}
	return false;
}

static bool
nav_str(const char *s, const char *needle)
{
	return s != NULL && nav_has(s, strlen(s), needle);
}

/* "452", "4xx", "45x", "4x2": any code seen of that shape. */
static bool
nav_code(const struct store_session *ss, const char *w)
{
	int c;
	char buf[8];

	for (c = 100; c < 600; c++) {
		if (!store_session_has_code(ss, c))
			continue;
		snprintf(buf, sizeof buf, "%d", c);
		if ((w[0] == buf[0]) && (w[1] == 'x' || w[1] == buf[1]) &&
		    (w[2] == 'x' || w[2] == buf[2]))
			return true;
	}
	return false;
}

static bool
nav_is_code(const char *w)
{
	return strlen(w) == 3 && w[0] >= '1' && w[0] <= '5' &&
	       ((w[1] >= '0' && w[1] <= '9') || w[1] == 'x') &&
	       ((w[2] >= '0' && w[2] <= '9') || w[2] == 'x');
}

/* One term, plain text only (the filters this test types). */
static bool
nav_term(const struct store_session *ss, const char *t)
{
	size_t o;

	if (strncmp(t, "code:", 5) == 0)
		return t[5] == '\0' ||
		       (nav_is_code(t + 5) && nav_code(ss, t + 5));
	if (strncmp(t, "from:", 5) == 0)
		return t[5] == '\0' || nav_str(ss->mail_from, t + 5);
	if (strncmp(t, "helo:", 5) == 0)
		return t[5] == '\0' || nav_str(ss->helo, t + 5);
	if (strncmp(t, "rcpt:", 5) == 0) {
		if (t[5] == '\0')
			return true;
		for (o = 0; ss->rcpt_text != NULL && o < ss->rcpt_len;
		     o += strlen(ss->rcpt_text + o) + 1)
			if (nav_str(ss->rcpt_text + o, t + 5))
				return true;
		return false;
	}
	if (nav_is_code(t))
		return nav_code(ss, t);
	if (nav_str(ss->client, t) || nav_str(ss->server, t) ||
	    nav_str(ss->helo, t) || nav_str(ss->mail_from, t))
		return true;
	for (o = 0; ss->rcpt_text != NULL && o < ss->rcpt_len;
	     o += strlen(ss->rcpt_text + o) + 1)
		if (nav_str(ss->rcpt_text + o, t))
			return true;
	return false;
}

static bool
nav_match(const struct store_session *ss, const char *filter, bool problems)
{
	char buf[UI_FILTER_MAX], *p, *save = NULL;

	if (problems && ss->n4xx == 0 && ss->n5xx == 0 &&
	    (ss->flags & STORE_F_GAP) == 0)
		return false;
	snprintf(buf, sizeof buf, "%s", filter);
	for (p = strtok_r(buf, " ", &save); p != NULL;
	     p = strtok_r(NULL, " ", &save))
		if (!nav_term(ss, p))
			return false;
	return true;
}

/* The view is what the reference lists, in store order. */
static void
nav_check(struct ui_ctx *ctx)
{
	const struct ui_list_state *ls = ctx->list;
	size_t i, j = 0, n = store_count(ctx->store);
	struct store_session *ss;

	ui_list_refresh(ctx);
	for (i = 0; i < n; i++) {
		ss = store_at(ctx->store, i);
		if (!nav_match(ss, ls->filter, ls->problems))
			continue;
		if (j >= ls->n_view)
			fail_msg("filter \"%s\"%s: session %llu missing",
			    ls->filter, ls->problems ? " (problems)" : "",
			    (unsigned long long)ss->id);
		if (ls->view[j].ss != ss || ls->view[j].id != ss->id)
			fail_msg("filter \"%s\"%s: row %zu is %llu, not %llu",
			    ls->filter, ls->problems ? " (problems)" : "", j,
			    (unsigned long long)ls->view[j].id,
			    (unsigned long long)ss->id);
		assert_ptr_equal(
		    store_sessions(ctx->store)[ls->view[j].idx], ss);
		j++;
	}
	if (j != ls->n_view)
		fail_msg("filter \"%s\": %zu listed, %zu expected", ls->filter,
		    ls->n_view, j);
}

/* Set the filter as typing it does, then check. */
static void
nav_filter(struct ui_ctx *ctx, const char *text)
{
	ui_list_filter_set(ctx, text);
	assert_string_equal(ctx->list->filter, text);
	nav_check(ctx);
}

/* Problems only on or off, as p does. */
static void
nav_problems(struct ui_ctx *ctx, bool on)
{
	ctx->list->problems = on;
	ctx->list->view_stale = true;
	nav_check(ctx);
}

/* Type text a character at a time after what is there, then erase it. */
static void
nav_type(struct ui_ctx *ctx, const char *text)
{
	char buf[UI_FILTER_MAX];
	size_t base = strlen(ctx->list->filter), i, l = strlen(text);

	snprintf(buf, sizeof buf, "%s", ctx->list->filter);
	for (i = 0; i < l && base + i + 1 < sizeof buf; i++) {
		buf[base + i] = text[i];
		buf[base + i + 1] = '\0';
		nav_filter(ctx, buf);
	}
	while (i-- > 0) {
		buf[base + i] = '\0';
		nav_filter(ctx, buf);
	}
}

static const char *const nav_typed[] = {"452", "4xx", "45x", "4x2", "421",
    "5x0", "2xx", "rcpt:a", "rcpt:example.org", "from:bounce", "helo:MX",
    "example", "10.3.", ":4", "x452", "code:452", "code:55x", "452 rcpt:acme",
    "r", "alice 4xx", "from:", "zz-nothing"};

static void
nav_all_filters(struct ui_ctx *ctx)
{
	size_t i;

	for (i = 0; i < sizeof nav_typed / sizeof nav_typed[0]; i++)
		nav_type(ctx, nav_typed[i]);
}

/* A list screen over a store of limit sessions, sessions 1..n in it,
   checked once. */
static struct store *
nav_open(struct ui_ctx *ctx, size_t limit, uint64_t n)
{
	struct store *s = store_new(limit);

	memset(ctx, 0, sizeof *ctx);
	ctx->store = s;
	ui_screen_list.create(ctx);
	nav_fill(s, 1, n);
	nav_check(ctx);
	return s;
}

static void
test_view_matches_reference(void **state)
{
	struct ui_ctx ctx;
	struct store *s = nav_open(&ctx, 3000, 2500);
	uint64_t id;
	int round;

	(void)state;
	nav_all_filters(&ctx);
	nav_problems(&ctx, true);
	nav_all_filters(&ctx);
	nav_problems(&ctx, false);

	/* Live: events for old and new sessions, evictions, the same filter
	   in force; the list is merged, not rebuilt. */
	for (round = 0; round < 40; round++) {
		nav_filter(&ctx, nav_typed[round % 8]);
		nav_problems(&ctx, round % 3 == 0);
		for (id = 0; id < 30; id++)
			nav_event(s, 1 + nav_rand() % (2500 + 40 * 60));
		nav_fill(s, 2501 + (uint64_t)round * 60,
		    2500 + (uint64_t)(round + 1) * 60);
		nav_check(&ctx);
		/* Nothing changed: the list stays. */
		nav_check(&ctx);
	}
	ui_screen_list.destroy(&ctx);
	assert_null(ctx.list);
	store_free(s);
}

/* Past UI_LIST_PAR_MIN sessions a walk is split with a helper thread
   (its own copy of the filter): the same list, whichever path builds it
   (a filter that narrows the list, one that does not, problems only). */
static void
test_split_walk(void **state)
{
	static const char *const pasted[] = {"452", "rcpt:acme", "example",
	    "from:bounce 4xx", "10.3.", "zz-nothing", "code:55x", "helo:MX"};
	struct ui_ctx ctx;
	struct store *s = nav_open(&ctx, 30000, 20000);
	size_t i;

	(void)state;
	for (i = 0; i < sizeof pasted / sizeof pasted[0]; i++) {
		/* from the whole list (it narrows), then from another */
		nav_filter(&ctx, "");
		nav_filter(&ctx, pasted[i]);
		assert_non_null(ctx.list->hit);
		nav_filter(&ctx, pasted[(i + 3) % 8]);
		nav_problems(&ctx, true);
		nav_problems(&ctx, false);
	}
	/* Typed a character at a time, as before. */
	nav_type(&ctx, "rcpt:example.org");
	ui_screen_list.destroy(&ctx);
	store_free(s);
}

/* One part of a session's search text is str, lowered, and a NUL. */
static void
nav_part(const struct store_key *k, size_t part, const char *str)
{
	size_t b = part == 0 ? 0 : k->search_off[part - 1], i, l;

	l = str != NULL ? strlen(str) : 0;
	assert_true(b + l < k->search_len);
	for (i = 0; i < l; i++) {
		char c = str[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		assert_int_equal(k->search[b + i], c);
	}
	assert_int_equal(k->search[b + l], 0);
}

/* Every key is its session's, after events and evictions; the search
   texts hold what they stand for, however often the arena moved. */
static void
nav_keys_check(struct store *s, size_t limit, uint64_t n, size_t events)
{
	const struct store_key *k;
	struct store_session *ss;
	size_t i, p;
	int c;

	nav_fill(s, 1, n);
	for (i = 0; i < events; i++)
		nav_event(s, n - limit + 1 + nav_rand() % limit);
	assert_int_equal(store_count(s), limit);
	k = store_keys(s);
	for (i = 0; i < store_count(s); i++) {
		uint64_t sum = 0;

		ss = store_at(s, i);
		assert_int_equal(k[i].id, ss->id);
		assert_int_equal(k[i].gen, ss->gen);
		assert_ptr_equal(k[i].search, ss->search);
		assert_int_equal(k[i].search_len, ss->search_len);
		for (p = 0; p < 4; p++)
			assert_int_equal(k[i].search_off[p], ss->search_off[p]);
		assert_int_equal(k[i].client_w, ss->client_w);
		assert_int_equal(k[i].server_w, ss->server_w);
		assert_int_equal((k[i].flags & STORE_K_PROBLEM) != 0,
		    store_session_problem(ss));
		for (c = 100; c < 600; c++)
			if (store_session_has_code(ss, c))
				sum |= store_codesum(c);
		assert_int_equal(k[i].codes, sum);
		nav_part(&k[i], 0, ss->client);
		nav_part(&k[i], 1, ss->server);
		nav_part(&k[i], 2, ss->helo);
		nav_part(&k[i], 3, ss->mail_from);
		/* The recipients, NUL-separated as kept. */
		assert_int_equal(
		    k[i].search_len, k[i].search_off[3] + ss->rcpt_len);
		for (p = 0; p < ss->rcpt_len; p++) {
			char a = ss->rcpt_text[p];

			if (a >= 'A' && a <= 'Z')
				a = (char)(a - 'A' + 'a');
			assert_int_equal(
			    k[i].search[k[i].search_off[3] + p], a);
		}
	}
}

static void
test_keys_follow_sessions(void **state)
{
	struct store *s = store_new(500);

	(void)state;
	nav_keys_check(s, 500, 1200, 3000);
	store_free(s);
	/* Few sessions, many changes: the arena is compacted often. */
	s = store_new(40);
	nav_keys_check(s, 40, 20000, 40000);
	store_free(s);
}

static void
test_codesum(void **state)
{
	(void)state;
	assert_int_equal(store_codesum(99), 0);
	assert_int_equal(store_codesum(600), 0);
	assert_int_equal(store_codesum(250), STORE_CODESUM_BIT(2, 5));
	assert_int_equal(
	    store_codesum(421), STORE_CODESUM_BIT(4, 2) | STORE_CODESUM_421);
	assert_int_equal(
	    store_codesum(452), STORE_CODESUM_BIT(4, 5) | STORE_CODESUM_452);
	assert_int_equal(store_codesum(599), STORE_CODESUM_BIT(5, 9));
	assert_true(STORE_CODESUM_BIT(5, 9) < STORE_CODESUM_421);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_view_matches_reference),
	    cmocka_unit_test(test_split_walk),
	    cmocka_unit_test(test_keys_follow_sessions),
	    cmocka_unit_test(test_codesum),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
