/*
 * xmalloc: allocation that aborts on out-of-memory, and the one capped growth
 * helper through which every wire-driven buffer grows.
 */
#include "config.h"

#include "xmalloc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

void *
xmalloc(size_t n)
{
	void *p;

	if (n == 0)
		n = 1;
	if ((p = malloc(n)) == NULL)
		fatalx("out of memory allocating %zu bytes", n);
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void *p;

	if (nmemb == 0 || size == 0)
		nmemb = size = 1;
	if ((p = calloc(nmemb, size)) == NULL)
		fatalx("out of memory allocating %zu*%zu bytes", nmemb, size);
	return p;
}

void *
xrealloc(void *ptr, size_t n)
{
	void *p;

	if (n == 0)
		n = 1;
	if ((p = realloc(ptr, n)) == NULL)
		fatalx("out of memory reallocating %zu bytes", n);
	return p;
}

void *
xreallocarray(void *ptr, size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > SIZE_MAX / size)
		fatalx("xreallocarray: %zu*%zu overflows", nmemb, size);
	return xrealloc(ptr, nmemb * size);
}

char *
xstrdup(const char *s)
{
	return xmemdup0(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	size_t len = 0;

	while (len < n && s[len] != '\0')
		len++;
	return xmemdup0(s, len);
}

char *
xmemdup0(const void *p, size_t n)
{
	char *s;

	if (n == SIZE_MAX)
		fatalx("xmemdup0: size overflows");
	s = xmalloc(n + 1);
	if (n > 0)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

int
xasprintf(char **ret, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(ret, fmt, ap);
	va_end(ap);
	if (n < 0 || *ret == NULL)
		fatalx("out of memory in xasprintf");
	return n;
}

int
xcapped_grow(void **buf, size_t *cap, size_t need, size_t limit)
{
	size_t ncap;

	if (need <= *cap)
		return 0;
	if (need > limit)
		return -1;
	ncap = *cap < 64 ? 64 : *cap;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if (ncap > limit)
		ncap = limit;
	*buf = xrealloc(*buf, ncap);
	*cap = ncap;
	return 0;
}

char *
xreadfile(const char *path, size_t max, size_t *len, char **why)
{
	FILE *f;
	char *buf;
	size_t n;

	*len = 0;
	*why = NULL;
	if ((f = fopen(path, "r")) == NULL) {
		xasprintf(why, "%s: %s", path, strerror(errno));
		return NULL;
	}
	buf = xmalloc(max + 1);
	while ((n = fread(buf + *len, 1, max + 1 - *len, f)) > 0) {
		*len += n;
		if (*len > max)
			break;
	}
	if (ferror(f) || *len > max) {
		if (ferror(f))
			xasprintf(why, "%s: %s", path, strerror(errno));
		else
			xasprintf(
			    why, "%s: file too big (max %zu bytes)", path, max);
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	buf[*len] = '\0';
	return buf;
}
