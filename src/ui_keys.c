/*
 * ui_keys: the one table of key bindings.  Dispatch (which action a key
 * means on a screen), the help screen and the bottom line's hints are all
 * derived from it, and a unit test checks the manual's KEYS section against
 * it, so that none of them can drift from the others.
 *
 * A row is what the help screen shows on one line: the keys as people name
 * them, what they do, the screens they work on, and the bindings (key code
 * to action) behind them.  Rows with a hint also appear on the bottom line
 * of those screens, the screen's own rows first.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <curses.h>

#include "ui_screen.h"

#define UI_DOCS (UI_SCR_SESSION | UI_SCR_STATS | UI_SCR_HELP)
#define UI_MOVE (UI_SCR_LIST | UI_DOCS)

const struct ui_keydef ui_keydefs[] = {
    {UI_SCR_ALL, "Everywhere", NULL, NULL, NULL, {{0, UI_A_NONE}}},
    {UI_SCR_ALL, "?  F1", "this help", "?", "help",
	{{'?', UI_A_HELP}, {KEY_F(1), UI_A_HELP}}},
    {UI_SCR_ALL, "s",
	"statistics: codes, 421/452 per minute, hosts, SYN floods", "s",
	"stats", {{'s', UI_A_STATS}, {'S', UI_A_STATS}}},
    {UI_SCR_ALL, "Space",
	"pause / resume (a file stops being read, a replay goes on at the "
	"same pace; live, new events wait until resumed)",
	NULL, NULL, {{' ', UI_A_PAUSE}}},
    {UI_SCR_ALL, "Esc  q",
	"back to the previous screen (q on the list quits; live, it asks "
	"first: q again or y)",
	NULL, NULL, {{UI_KEY_ESC, UI_A_BACK}, {'q', UI_A_CLOSE}}},
    {UI_SCR_ALL, "Q", "quit from any screen (live, it asks first)", NULL, NULL,
	{{'Q', UI_A_QUIT}}},
    {UI_SCR_ALL, "Ctrl-L", "redraw the screen", NULL, NULL,
	{{UI_KEY_CTRL('l'), UI_A_REDRAW}}},

    {UI_MOVE, "Moving", NULL, NULL, NULL, {{0, UI_A_NONE}}},
    {UI_MOVE, "Up Down  k j", "previous / next line", NULL, NULL,
	{{KEY_UP, UI_A_UP}, {'k', UI_A_UP}, {KEY_DOWN, UI_A_DOWN},
	    {'j', UI_A_DOWN}}},
    {UI_MOVE, "PgUp PgDn b f ^B ^F", "page up / down", NULL, NULL,
	{{KEY_PPAGE, UI_A_PGUP}, {'b', UI_A_PGUP},
	    {UI_KEY_CTRL('b'), UI_A_PGUP}, {KEY_NPAGE, UI_A_PGDN},
	    {'f', UI_A_PGDN}, {UI_KEY_CTRL('f'), UI_A_PGDN}}},
    {UI_MOVE, "Home End  g G",
	"first / last (the list follows new sessions at the end)", NULL, NULL,
	{{KEY_HOME, UI_A_HOME}, {'g', UI_A_HOME}, {KEY_END, UI_A_END},
	    {'G', UI_A_END}}},

    {UI_SCR_LIST, "Session list", NULL, NULL, NULL, {{0, UI_A_NONE}}},
    {UI_SCR_LIST, "Enter  Right  l", "open the session's transcript", "Enter",
	"open",
	{{'\r', UI_A_OPEN}, {'\n', UI_A_OPEN}, {KEY_ENTER, UI_A_OPEN},
	    {KEY_RIGHT, UI_A_OPEN}, {'l', UI_A_OPEN}}},
    {UI_SCR_LIST, "/",
	"filter, applied as you type (syntax below); empty "
	"clears",
	"/", "filter", {{'/', UI_A_FIND}}},
    {UI_SCR_LIST, "n N",
	"next / previous session with a 421 or 452 reply (wraps around)", "n/N",
	"next problem", {{'n', UI_A_NEXT}, {'N', UI_A_PREV}}},
    {UI_SCR_LIST, "p", "problems only: sessions with 4xx/5xx replies or gaps",
	"p", "problems", {{'p', UI_A_PROBLEMS}, {'P', UI_A_PROBLEMS}}},
    {UI_SCR_LIST, "Esc", "clear the filter and problems-only", NULL, NULL,
	{{0, UI_A_NONE}}},
    {UI_SCR_LIST, "w",
	"save packets of the selected session (all listed sessions when "
	"filtered) to a pcap; says how many packet copies the memory budget "
	"did not keep",
	"w", "save", {{'w', UI_A_SAVE_PCAP}, {'W', UI_A_SAVE_PCAP}}},
    {UI_SCR_LIST, "t", "save the selected session's transcript as text", NULL,
	NULL, {{'t', UI_A_SAVE_TEXT}, {'T', UI_A_SAVE_TEXT}}},

    {UI_SCR_SESSION, "Session view", NULL, NULL, NULL, {{0, UI_A_NONE}}},
    {UI_SCR_SESSION, "Esc  Left  h",
	"back to the list (Esc first ends a search)", "Esc", "back",
	{{KEY_LEFT, UI_A_BACK}, {'h', UI_A_BACK}}},
    {UI_SCR_SESSION, "n N",
	"next / previous 421 or 452 reply (wraps around); while a search is "
	"on, next / previous match",
	"n/N", "next 421/452", {{'n', UI_A_NEXT}, {'N', UI_A_PREV}}},
    {UI_SCR_SESSION, "/",
	"search the transcript: matches are highlighted; Esc ends the search",
	"/", "search", {{'/', UI_A_FIND}}},
    {UI_SCR_SESSION, "w",
	"save this session's packets to a pcap (the header line counts the "
	"copies not kept)",
	"w", "save pcap", {{'w', UI_A_SAVE_PCAP}, {'W', UI_A_SAVE_PCAP}}},
    {UI_SCR_SESSION, "t", "save this session's transcript as text", "t", "text",
	{{'t', UI_A_SAVE_TEXT}, {'T', UI_A_SAVE_TEXT}}},
    {UI_SCR_SESSION, "L",
	"show or hide the MTA's log lines (--maillog), marked L: log", NULL,
	NULL, {{'L', UI_A_LOG}}},

    {UI_SCR_STATS | UI_SCR_HELP, "Statistics and help", NULL, NULL, NULL,
	{{0, UI_A_NONE}}},
    {UI_SCR_STATS | UI_SCR_HELP, "Left  h", "back", "Esc", "back",
	{{KEY_LEFT, UI_A_BACK}, {'h', UI_A_BACK}}},
};
const size_t ui_nkeydefs = sizeof ui_keydefs / sizeof ui_keydefs[0];

/* Rows of headings have no help text. */
static bool
ui_keydef_heading(const struct ui_keydef *k)
{
	return k->help == NULL;
}

enum ui_action
ui_key_action(unsigned screen, int key)
{
	const struct ui_keydef *k;
	size_t i, j;

	/* The screen's own rows first: they override the shared ones. */
	for (i = 0; i < ui_nkeydefs; i++) {
		k = &ui_keydefs[i];
		if (ui_keydef_heading(k) || (k->screens & screen) == 0 ||
		    k->screens == UI_SCR_ALL)
			continue;
		for (j = 0; j < UI_KEYDEF_BINDINGS && k->bind[j].action; j++)
			if (k->bind[j].key == key)
				return k->bind[j].action;
	}
	for (i = 0; i < ui_nkeydefs; i++) {
		k = &ui_keydefs[i];
		if (ui_keydef_heading(k) || k->screens != UI_SCR_ALL)
			continue;
		for (j = 0; j < UI_KEYDEF_BINDINGS && k->bind[j].action; j++)
			if (k->bind[j].key == key)
				return k->bind[j].action;
	}
	return UI_A_NONE;
}

/* Append one "KEY:what" pair unless that key is there already. */
static void
ui_keys_hint_add(char *buf, size_t len, const char *key, const char *what)
{
	char pair[64];
	size_t o = strlen(buf);

	snprintf(pair, sizeof pair, "%s:", key);
	if (strncmp(buf, pair, strlen(pair)) == 0 || strstr(buf, pair) != NULL)
		return;
	if (o < len)
		snprintf(
		    buf + o, len - o, "%s%s:%s", o > 0 ? "  " : "", key, what);
}

void
ui_keys_hints(unsigned screen, char *buf, size_t len)
{
	const struct ui_keydef *k;
	size_t i;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (i = 0; i < ui_nkeydefs; i++) {
		k = &ui_keydefs[i];
		if (k->hint_key != NULL && (k->screens & screen) &&
		    k->screens != UI_SCR_ALL)
			ui_keys_hint_add(buf, len, k->hint_key, k->hint);
	}
	for (i = 0; i < ui_nkeydefs; i++) {
		k = &ui_keydefs[i];
		if (k->hint_key != NULL && k->screens == UI_SCR_ALL)
			ui_keys_hint_add(buf, len, k->hint_key, k->hint);
	}
	/* Where q quits, say so last. */
	if (screen == UI_SCR_LIST)
		ui_keys_hint_add(buf, len, "q", "quit");
	else if (screen & (UI_SCR_STATS | UI_SCR_HELP))
		ui_keys_hint_add(buf, len, "Q", "quit");
}
