/*
 * ui_doc: documents for the scrolling screens (session transcript,
 * statistics, help): lines of styled segments holding safe text or
 * line-drawing pieces.  The same document is drawn with curses (ACS line
 * drawing, which ncurses maps to UTF-8 or ASCII as the terminal allows) and
 * written as plain text with ASCII line drawing for `t`.
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curses.h>

#include "ui_screen.h"
#include "xmalloc.h"

void
ui_doc_clear(struct ui_doc *d)
{
	size_t i, j;

	for (i = 0; i < d->n; i++) {
		for (j = 0; j < d->lines[i].n; j++)
			free(d->lines[i].segs[j].text);
		free(d->lines[i].segs);
	}
	d->n = 0;
}

void
ui_doc_line(struct ui_doc *d)
{
	if (d->n == d->cap) {
		d->cap = d->cap == 0 ? 64 : d->cap * 2;
		d->lines = xreallocarray(d->lines, d->cap, sizeof *d->lines);
	}
	memset(&d->lines[d->n], 0, sizeof d->lines[d->n]);
	d->n++;
}

static struct ui_seg *
ui_doc_newseg(struct ui_doc *d)
{
	struct ui_dline *l;

	if (d->n == 0)
		ui_doc_line(d);
	l = &d->lines[d->n - 1];
	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 4 : l->cap * 2;
		l->segs = xreallocarray(l->segs, l->cap, sizeof *l->segs);
	}
	memset(&l->segs[l->n], 0, sizeof l->segs[l->n]);
	return &l->segs[l->n++];
}

void
ui_doc_seg(struct ui_doc *d, enum ui_role role, const char *text)
{
	struct ui_seg *s = ui_doc_newseg(d);

	s->role = role;
	s->text = xstrdup(text);
}

void
ui_doc_segf(struct ui_doc *d, enum ui_role role, const char *fmt, ...)
{
	struct ui_seg *s = ui_doc_newseg(d);
	va_list ap;
	char *t;

	va_start(ap, fmt);
	if (vasprintf(&t, fmt, ap) < 0)
		t = xstrdup("");
	va_end(ap);
	s->role = role;
	s->text = t;
}

void
ui_doc_ld(struct ui_doc *d, enum ui_role role, enum ui_ld ld, int count)
{
	struct ui_seg *s;

	if (count <= 0)
		return;
	s = ui_doc_newseg(d);
	s->role = role;
	s->ld = ld;
	s->count = count;
}

/* Bytes of the longest prefix of s within width columns. */
static size_t
ui_fit(const char *s, int width)
{
	const char *p = s;
	char one[8];
	size_t b;
	int cols = 0, cw;

	while (*p != '\0') {
		/* Width of one character: copy it out to measure. */
		b = 1;
		while (b < 4 && ((unsigned char)p[b] & 0xc0) == 0x80)
			b++;
		memcpy(one, p, b);
		one[b] = '\0';
		cw = ui_width(one);
		if (cols + cw > width)
			break;
		cols += cw;
		p += b;
	}
	return (size_t)(p - s);
}

size_t
ui_wrap(const char *text, int width, bool words, char ***out)
{
	const char *p = text;
	char **v = NULL;
	size_t n = 0, cap = 0, fit, cut;

	if (width < 1)
		width = 1;
	do {
		fit = ui_fit(p, width);
		cut = fit;
		if (p[fit] != '\0' && p[fit] != ' ' && words) {
			/*
			 * Mid-word: break after the last space that fits.
			 * Only a word longer than the whole width is split.
			 */
			for (cut = fit; cut > 0 && p[cut - 1] != ' '; cut--)
				;
			if (cut == 0)
				cut = fit;
		}
		if (cut == 0 && p[0] != '\0')
			cut = 1; /* a character wider than the width */
		if (n == cap) {
			cap = cap == 0 ? 4 : cap * 2;
			v = xreallocarray(v, cap, sizeof *v);
		}
		/* cppcheck-suppress nullPointer ; xreallocarray never fails */
		v[n] = xstrndup(p, cut);
		/* Trailing spaces at a break are not worth a column. */
		if (p[cut] != '\0') {
			size_t l = strlen(v[n]);

			while (l > 0 && v[n][l - 1] == ' ')
				v[n][--l] = '\0';
		}
		n++;
		p += cut;
		if (words)
			while (*p == ' ')
				p++;
	} while (*p != '\0');
	*out = v;
	return n;
}

static chtype
ui_ld_acs(enum ui_ld ld)
{
	switch (ld) {
	case UI_LD_H:
		return ACS_HLINE;
	case UI_LD_V:
		return ACS_VLINE;
	case UI_LD_TL:
		return ACS_ULCORNER;
	case UI_LD_TR:
		return ACS_URCORNER;
	case UI_LD_BL:
		return ACS_LLCORNER;
	case UI_LD_BR:
		return ACS_LRCORNER;
	case UI_LD_NONE:
		break;
	}
	return ' ';
}

static char
ui_ld_ascii(enum ui_ld ld)
{
	switch (ld) {
	case UI_LD_H:
		return '-';
	case UI_LD_V:
		return '|';
	case UI_LD_TL:
	case UI_LD_TR:
	case UI_LD_BL:
	case UI_LD_BR:
		return '+';
	case UI_LD_NONE:
		break;
	}
	return ' ';
}

int
ui_doc_line_width(const struct ui_dline *l)
{
	const struct ui_seg *s;
	size_t j;
	int w = 0, end = 0, k;

	for (j = 0; j < l->n; j++) {
		s = &l->segs[j];
		if (s->text == NULL) {
			w += s->count > 0 ? s->count : 0;
			end = w;
			continue;
		}
		/* Trailing blanks are padding: they do not count. */
		for (const char *p = s->text; *p != '\0'; p += k) {
			char one[8];
			size_t b = 1;

			while (b < 4 && ((unsigned char)p[b] & 0xc0) == 0x80)
				b++;
			memcpy(one, p, b);
			one[b] = '\0';
			w += ui_width(one);
			if (*p != ' ')
				end = w;
			k = (int)b;
		}
	}
	return end;
}

void
ui_doc_draw(
    struct ui_ctx *ctx, const struct ui_doc *d, size_t top, int y0, int height)
{
	const struct ui_dline *l;
	const struct ui_seg *s;
	size_t j;
	int y, x, k, sw, limit;
	bool over;

	for (y = 0; y < height && top + (size_t)y < d->n; y++) {
		l = &d->lines[top + (size_t)y];
		/*
		 * A line wider than the screen ends with an ellipsis: the
		 * first text that does not fit before its room is cut there.
		 */
		over = ui_doc_line_width(l) > ctx->cols;
		limit = ctx->cols - (ctx->utf8 ? 1 : 3);
		x = 0;
		for (j = 0; j < l->n && x < ctx->cols; j++) {
			s = &l->segs[j];
			if (s->text != NULL) {
				sw = ui_width(s->text);
				if (over && x + sw > limit) {
					ui_put_cut(ctx, y0 + y, x,
					    ctx->cols - x, s->role, s->text,
					    true);
					break;
				}
				x += ui_put(ctx, y0 + y, x, ctx->cols - x,
				    s->role, s->text);
				continue;
			}
			attrset(ui_attr(ctx, s->role));
			for (k = 0; k < s->count && x < ctx->cols; k++)
				mvaddch(y0 + y, x++, ui_ld_acs(s->ld));
			attrset(A_NORMAL);
		}
	}
}

int
ui_doc_write(const struct ui_doc *d, FILE *f)
{
	const struct ui_seg *s;
	size_t i, j;
	int k;

	for (i = 0; i < d->n; i++) {
		for (j = 0; j < d->lines[i].n; j++) {
			s = &d->lines[i].segs[j];
			if (s->text != NULL)
				fputs(s->text, f);
			else
				for (k = 0; k < s->count; k++)
					fputc(ui_ld_ascii(s->ld), f);
		}
		fputc('\n', f);
	}
	return ferror(f) ? -1 : 0;
}

void
ui_scroll_fix(struct ui_scroll *sc, size_t total, int height)
{
	size_t h = height > 0 ? (size_t)height : 1;
	size_t max = total > h ? total - h : 0;

	if (sc->follow || sc->top > max)
		sc->top = max;
}

int
ui_scroll_key(
    struct ui_scroll *sc, enum ui_action act, size_t total, int height)
{
	size_t h = height > 1 ? (size_t)height - 1 : 1;
	size_t max = total > (size_t)height ? total - (size_t)height : 0;

	switch (act) {
	case UI_A_UP:
		if (sc->top > 0)
			sc->top--;
		break;
	case UI_A_DOWN:
		if (sc->top < max)
			sc->top++;
		break;
	case UI_A_PGUP:
		sc->top = sc->top > h ? sc->top - h : 0;
		break;
	case UI_A_PGDN:
		sc->top = sc->top + h < max ? sc->top + h : max;
		break;
	case UI_A_HOME:
		sc->top = 0;
		break;
	case UI_A_END:
		sc->top = max;
		sc->follow = true;
		return 1;
	default:
		return 0;
	}
	sc->follow = sc->top >= max;
	return 1;
}

char *
ui_doc_line_text(const struct ui_dline *l)
{
	const struct ui_seg *s;
	size_t j, len = 0, o = 0;
	char *t;

	for (j = 0; j < l->n; j++)
		len += l->segs[j].text != NULL ? strlen(l->segs[j].text)
					       : (size_t)l->segs[j].count;
	t = xmalloc(len + 1);
	for (j = 0; j < l->n; j++) {
		s = &l->segs[j];
		if (s->text != NULL) {
			memcpy(t + o, s->text, strlen(s->text));
			o += strlen(s->text);
		} else if (s->count > 0) {
			memset(t + o, ' ', (size_t)s->count);
			o += (size_t)s->count;
		}
	}
	t[o] = '\0';
	return t;
}

const char *
ui_find(const char *hay, const char *needle)
{
	size_t n = strlen(needle), i;

	if (n == 0)
		return NULL;
	for (; *hay != '\0'; hay++) {
		for (i = 0; i < n; i++)
			if (hay[i] == '\0' ||
			    tolower((unsigned char)hay[i]) !=
				tolower((unsigned char)needle[i]))
				break;
		if (i == n)
			return hay;
	}
	return NULL;
}

void
ui_doc_draw_matches(struct ui_ctx *ctx, const struct ui_doc *d, size_t top,
    int y0, int height, const char *needle)
{
	const char *p, *m;
	char *t, *u;
	size_t nl = strlen(needle);
	int y, x;

	if (nl == 0)
		return;
	for (y = 0; y < height && top + (size_t)y < d->n; y++) {
		t = ui_doc_line_text(&d->lines[top + (size_t)y]);
		for (p = t; (m = ui_find(p, needle)) != NULL; p = m + nl) {
			u = xstrndup(t, (size_t)(m - t));
			x = ui_width(u);
			free(u);
			if (x >= ctx->cols)
				break;
			u = xstrndup(m, nl);
			ui_put(ctx, y0 + y, x, ctx->cols - x, UI_MATCH, u);
			free(u);
		}
		free(t);
	}
}
