/*
 * fuzz_keylog: libFuzzer target for the key log file reader
 * (keylog_refresh, keylog_consume): the input is written to a file in
 * pieces, with a refresh after each, so that lines split across reads at
 * any point; over-long lines, a missing last newline and a truncation are
 * the fuzzer's to find.
 *
 * Input: byte 0 is the number of pieces minus one (up to 16), then one
 * byte per piece boundary (a fraction of the rest), then the file text.
 * When byte 0 has bit 7 set, the file is truncated and written again
 * whole at the end.
 *
 * Model: reading the file in pieces must know exactly the secrets, and
 * count exactly the junk lines, that keylog_add_text() finds in the text
 * up to its last newline (the unfinished last line waits for more); after
 * a truncation and a second writing, the same secrets and twice the junk.
 */
#include "config.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "keylog.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* KEYLOG_LINE_MAX of keylog.c: a longer line is junk. */
#define KEYLOG_LINE_LIMIT 512

static char fuzz_path[64];
static int fuzz_fd = -1;

static void
fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz_keylog: model check failed: %s\n", what);
	abort();
}

static void
fuzz_write(const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fuzz_fd, p, len);
		if (n <= 0)
			abort();
		p += n;
		len -= (size_t)n;
	}
}

static void
fuzz_refresh(struct keylog *k)
{
	char *why;

	if (keylog_refresh(k, &why) < 0)
		fuzz_fail(why != NULL ? why : "refresh failed");
	free(why);
}

static int
fuzz_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* 64 hex digits at p into out, or false. */
static int
fuzz_unhex(const char *p, uint8_t *out)
{
	int i, hi, lo;

	for (i = 0; i < 32; i++) {
		if ((hi = fuzz_hexval(p[2 * i])) < 0 ||
		    (lo = fuzz_hexval(p[2 * i + 1])) < 0)
			return 0;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keylog *file, *model;
	size_t npieces, i, at, prev, tlen, whole;
	const char *text;
	static const char *const labels[] = {"CLIENT_RANDOM",
	    "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_TRAFFIC_SECRET_0",
	    "EXPORTER_SECRET"};
	uint8_t rnd[32], a[KEYLOG_SECRET_MAX], b[KEYLOG_SECRET_MAX];
	size_t alen, blen, n, l, tail;
	int again;

	if (fuzz_fd == -1) {
		/* A file in memory, rewritten for every input, that the key
		   log opens by name like any other. */
		fuzz_fd = memfd_create("fuzz_keylog", MFD_CLOEXEC);
		if (fuzz_fd == -1)
			abort();
		snprintf(
		    fuzz_path, sizeof fuzz_path, "/proc/self/fd/%d", fuzz_fd);
	}
	if (size < 1)
		return 0;
	npieces = (size_t)(data[0] & 15) + 1;
	again = (data[0] & 0x80) != 0;
	if (size < 1 + npieces - 1)
		return 0;
	text = (const char *)data + npieces;
	tlen = size - npieces;
	if (ftruncate(fuzz_fd, 0) != 0 || lseek(fuzz_fd, 0, SEEK_SET) != 0)
		abort();
	file = keylog_new(fuzz_path);
	fuzz_refresh(file); /* an empty file */
	prev = 0;
	for (i = 0; i < npieces; i++) {
		at = i + 1 < npieces ? prev + (tlen - prev) * data[1 + i] / 255
				     : tlen;
		fuzz_write(text + prev, at - prev);
		fuzz_refresh(file);
		prev = at;
	}
	/* The model: the complete lines. */
	whole = tlen;
	while (whole > 0 && text[whole - 1] != '\n')
		whole--;
	model = keylog_new(NULL);
	keylog_add_text(model, text, whole > 0 ? whole - 1 : 0);
	if (again && tlen > 0) {
		/* A shorter file (empty) is read from the start again. */
		if (ftruncate(fuzz_fd, 0) != 0 ||
		    lseek(fuzz_fd, 0, SEEK_SET) != 0)
			abort();
		fuzz_refresh(file);
		fuzz_write(text, tlen);
		fuzz_refresh(file);
	}
	if (keylog_count(file) != keylog_count(model))
		fuzz_fail("secrets differ from the whole text's");
	/* An unfinished line already over the limit is junk at once. */
	tail = tlen - whole > KEYLOG_LINE_LIMIT ? 1 : 0;
	if (keylog_junk(file) !=
	    (keylog_junk(model) + tail) * (again && tlen ? 2 : 1))
		fuzz_fail("junk differs from the whole text's");
	/* The secrets of the model are there, the same: looked up by each
	   string of 64 hex digits that follows a space. */
	for (i = 0, n = 0; i + 65 <= whole && n < 16; i++) {
		if (text[i] != ' ' || !fuzz_unhex(text + i + 1, rnd))
			continue;
		n++;
		for (l = 0; l < sizeof labels / sizeof labels[0]; l++)
			if (keylog_lookup(model, labels[l], rnd, a, &alen) !=
				keylog_lookup(file, labels[l], rnd, b, &blen) ||
			    alen != blen || memcmp(a, b, alen) != 0)
				fuzz_fail("a secret differs");
	}
	keylog_free(model);
	keylog_free(file);
	return 0;
}
