/*
 * Unit tests of the UI's key table (ui_keys.c): every binding dispatches to
 * its row's action on the row's screens, hints name bound keys, and the
 * manual's KEYS section names exactly the keys the help screen lists.
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

#include "ui_screen.h"
#include "xmalloc.h"

/* A set of key names: a fixed array is plenty. */
#define KEYS_MAX 128
struct names {
	char *v[KEYS_MAX];
	size_t n;
};

static void
names_add(struct names *s, const char *name, size_t len)
{
	size_t i;

	if (len == 0)
		return;
	for (i = 0; i < s->n; i++)
		if (strlen(s->v[i]) == len && strncmp(s->v[i], name, len) == 0)
			return;
	assert_true(s->n < KEYS_MAX);
	s->v[s->n++] = xstrndup(name, len);
}

/* Add the space-separated words of text. */
static void
names_words(struct names *s, const char *text)
{
	const char *p = text, *e;

	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			return;
		e = strchr(p, ' ');
		if (e == NULL)
			e = p + strlen(p);
		names_add(s, p, (size_t)(e - p));
		p = e;
	}
}

static bool
names_has(const struct names *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->v[i], name) == 0)
			return true;
	return false;
}

static void
names_free(struct names *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i]);
	s->n = 0;
}

/* The keys of the help screen: every row's key names. */
static void
help_keys(struct names *s)
{
	size_t i;

	for (i = 0; i < ui_nkeydefs; i++)
		if (ui_keydefs[i].help != NULL)
			names_words(s, ui_keydefs[i].keys);
}

/*
 * The bold words of one roff request line: all of .B's arguments, the
 * even-numbered ones of .BR.  Arguments may be quoted; "\-" is "-".
 */
static void
man_bold(struct names *s, const char *line)
{
	char arg[128];
	const char *p;
	size_t k = 0, o;
	bool alt, bold;

	if (strncmp(line, ".BR ", 4) == 0) {
		alt = true;
		p = line + 4;
	} else if (strncmp(line, ".B ", 3) == 0) {
		alt = false;
		p = line + 3;
	} else
		return;
	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0' || *p == '\n')
			break;
		o = 0;
		if (*p == '"') {
			for (p++; *p != '\0' && *p != '"' && o + 1 < sizeof arg;
			     p++)
				arg[o++] = *p;
			if (*p == '"')
				p++;
		} else
			for (; *p != '\0' && *p != ' ' && *p != '\n' &&
			       o + 1 < sizeof arg;
			     p++) {
				if (p[0] == '\\' && p[1] == '-')
					p++;
				arg[o++] = *p;
			}
		arg[o] = '\0';
		bold = !alt || k % 2 == 0;
		if (bold)
			names_words(s, arg);
		k++;
	}
}

/* The keys the manual's KEYS section names in its item tags. */
static void
man_keys(struct names *s)
{
	const char *top = getenv("top_srcdir");
	char path[4096], line[1024];
	bool in_keys = false, tag = false;
	FILE *f;

	snprintf(
	    path, sizeof path, "%s/doc/smtpscope.1", top != NULL ? top : ".");
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, ".SH ", 4) == 0) {
			in_keys = strncmp(line, ".SH KEYS", 8) == 0;
			continue;
		}
		if (!in_keys)
			continue;
		if (strncmp(line, ".TP", 3) == 0) {
			tag = true;
			continue;
		}
		if (tag)
			man_bold(s, line);
		tag = false;
	}
	fclose(f);
}

static void
test_man_lists_every_key(void **state)
{
	struct names help = {{0}, 0}, man = {{0}, 0};
	size_t i;
	int missing = 0;

	(void)state;
	help_keys(&help);
	man_keys(&man);
	assert_true(help.n > 20);
	for (i = 0; i < help.n; i++)
		if (!names_has(&man, help.v[i])) {
			print_message("# help lists %s, the manual's KEYS "
				      "does not\n",
			    help.v[i]);
			missing++;
		}
	for (i = 0; i < man.n; i++)
		if (!names_has(&help, man.v[i])) {
			print_message("# the manual's KEYS lists %s, help does "
				      "not\n",
			    man.v[i]);
			missing++;
		}
	assert_int_equal(missing, 0);
	names_free(&help);
	names_free(&man);
}

static void
test_bindings_dispatch(void **state)
{
	const struct ui_keydef *k;
	unsigned scr;
	size_t i, j;

	(void)state;
	for (i = 0; i < ui_nkeydefs; i++) {
		k = &ui_keydefs[i];
		for (j = 0; j < UI_KEYDEF_BINDINGS && k->bind[j].action; j++)
			for (scr = 1; scr <= UI_SCR_HELP; scr <<= 1) {
				if ((k->screens & scr) == 0)
					continue;
				if (ui_key_action(scr, k->bind[j].key) !=
				    k->bind[j].action)
					fail_msg("row \"%s\": key %d on "
						 "screen %u",
					    k->keys, k->bind[j].key, scr);
			}
	}
	/* Keys of the issue: n/N, g/G, Q, Ctrl-L, / */
	assert_int_equal(ui_key_action(UI_SCR_SESSION, 'n'), UI_A_NEXT);
	assert_int_equal(ui_key_action(UI_SCR_SESSION, 'N'), UI_A_PREV);
	assert_int_equal(ui_key_action(UI_SCR_LIST, 'n'), UI_A_NEXT);
	assert_int_equal(ui_key_action(UI_SCR_LIST, 'G'), UI_A_END);
	assert_int_equal(ui_key_action(UI_SCR_HELP, 'Q'), UI_A_QUIT);
	assert_int_equal(ui_key_action(UI_SCR_STATS, 0x0c), UI_A_REDRAW);
	assert_int_equal(ui_key_action(UI_SCR_SESSION, '/'), UI_A_FIND);
	assert_int_equal(ui_key_action(UI_SCR_STATS, 'n'), UI_A_NONE);
}

static void
test_hints(void **state)
{
	struct names help = {{0}, 0};
	char buf[512], key[32];
	const char *p, *c;
	unsigned scr;

	(void)state;
	help_keys(&help);
	for (scr = 1; scr <= UI_SCR_HELP; scr <<= 1) {
		ui_keys_hints(scr, buf, sizeof buf);
		assert_true(buf[0] != '\0');
		/* Every hint's key ("n/N" is n and N) is a listed key. */
		for (p = buf; *p != '\0';) {
			c = strchr(p, ':');
			assert_non_null(c);
			snprintf(key, sizeof key, "%.*s", (int)(c - p), p);
			if (strcmp(key, "n/N") == 0)
				snprintf(key, sizeof key, "n");
			if (!names_has(&help, key))
				fail_msg("hint key %s is not in the help", key);
			p = strstr(c, "  ");
			if (p == NULL)
				break;
			p += 2;
		}
	}
	ui_keys_hints(UI_SCR_LIST, buf, sizeof buf);
	assert_non_null(strstr(buf, "q:quit"));
	assert_non_null(strstr(buf, "n/N:"));
	ui_keys_hints(UI_SCR_SESSION, buf, sizeof buf);
	assert_non_null(strstr(buf, "/:search"));
	names_free(&help);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_man_lists_every_key),
	    cmocka_unit_test(test_bindings_dispatch),
	    cmocka_unit_test(test_hints),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
