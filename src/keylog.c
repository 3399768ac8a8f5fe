/*
 * keylog: TLS key log files in the SSLKEYLOGFILE format (the NSS format that
 * OpenSSL, curl, Python and browsers write): one secret per line,
 *
 *	LABEL <client_random, 64 hex digits> <secret, hex>
 *
 * with '#' comments and blank lines allowed.  Secrets are kept in a hash
 * table keyed by (label, client random); a later line for the same key
 * replaces the earlier one.
 *
 * The file is read incrementally: keylog_refresh() continues at the byte
 * where the previous call stopped, and only complete lines are consumed, so
 * a client that is still writing a line is picked up on the next call.  A
 * file that shrank was replaced or truncated: it is read again from the
 * start (known secrets stay).
 *
 * The same object holds the server's RSA private key when one is given:
 * with RSA key exchange it recovers the premaster secret through OpenSSL's
 * EVP_PKEY_decrypt (no RSA is implemented here).
 *
 * Invariants: at most KEYLOG_ENTRIES_MAX entries; a line longer than
 * KEYLOG_LINE_MAX is junk and skipped up to its newline; every secret is at
 * most KEYLOG_SECRET_MAX bytes.
 */
#include "config.h"

#include "keylog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "xmalloc.h"

/* Longest line considered: label (~40) + 64 + 128 hex digits + spaces. */
#define KEYLOG_LINE_MAX 512
/* Bytes read from the file per read(2). */
#define KEYLOG_CHUNK 65536

/* The labels we keep; other well-formed labels are skipped silently. */
static const char *const keylog_labels[] = {
    "CLIENT_RANDOM",
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_TRAFFIC_SECRET_0",
    "SERVER_TRAFFIC_SECRET_0",
    "CLIENT_EARLY_TRAFFIC_SECRET",
    "EXPORTER_SECRET",
    "EARLY_EXPORTER_SECRET",
};
#define KEYLOG_NLABELS (sizeof keylog_labels / sizeof keylog_labels[0])
/* Internal label, never read from a file: master secrets recovered with
   the server's key, keyed by the SHA-256 of a session ID or ticket. */
#define KEYLOG_RESUME KEYLOG_NLABELS

struct keylog_entry {
	uint8_t random[32];
	uint8_t secret[KEYLOG_SECRET_MAX];
	uint8_t secret_len;
	uint8_t label;
	uint32_t next; /* index + 1 of the next entry in the bucket, 0 ends */
};

struct keylog {
	char *path;
	int fd; /* kept open: see keylog_refresh() */
	dev_t dev;
	ino_t ino;
	off_t offset;  /* file bytes read */
	bool skipping; /* inside an over-long line */
	char line[KEYLOG_LINE_MAX];
	size_t line_len; /* partial line carried between reads */

	struct keylog_entry *entries;
	size_t n, cap_bytes;
	uint32_t *buckets; /* index + 1 of the first entry, 0 empty */
	size_t nbuckets;   /* power of two */
	size_t junk;

	EVP_PKEY *server_key; /* --tls-key, NULL when none */
	size_t remembered;    /* KEYLOG_RESUME entries, not in the count */
};

struct keylog *
keylog_new(const char *path)
{
	struct keylog *k = xcalloc(1, sizeof *k);

	k->path = path != NULL ? xstrdup(path) : NULL;
	k->fd = -1;
	return k;
}

void
keylog_free(struct keylog *k)
{
	if (k == NULL)
		return;
	if (k->fd != -1)
		close(k->fd);
	free(k->path);
	free(k->entries);
	free(k->buckets);
	EVP_PKEY_free(k->server_key);
	free(k);
}

static int
keylog_label_index(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < KEYLOG_NLABELS; i++)
		if (strlen(keylog_labels[i]) == len &&
		    memcmp(keylog_labels[i], s, len) == 0)
			return (int)i;
	return -1;
}

static size_t
keylog_hash(const uint8_t random[32], unsigned label)
{
	size_t h = 0;
	int i;

	/* Client randoms are random: a few of their bytes hash well. */
	for (i = 0; i < 8; i++)
		h = (h << 8) | random[i];
	return h ^ ((size_t)label * 0x9e3779b9u);
}

static void
keylog_rehash(struct keylog *k)
{
	size_t nb = k->nbuckets == 0 ? 256 : k->nbuckets * 2;
	size_t i, b;

	free(k->buckets);
	k->buckets = xcalloc(nb, sizeof *k->buckets);
	k->nbuckets = nb;
	for (i = 0; i < k->n; i++) {
		b = keylog_hash(k->entries[i].random, k->entries[i].label) &
		    (nb - 1);
		k->entries[i].next = k->buckets[b];
		k->buckets[b] = (uint32_t)(i + 1);
	}
}

static struct keylog_entry *
keylog_find(const struct keylog *k, unsigned label, const uint8_t random[32])
{
	struct keylog_entry *e;
	uint32_t i;

	if (k->nbuckets == 0)
		return NULL;
	i = k->buckets[keylog_hash(random, label) & (k->nbuckets - 1)];
	while (i != 0) {
		e = &k->entries[i - 1];
		if (e->label == label && memcmp(e->random, random, 32) == 0)
			return e;
		i = e->next;
	}
	return NULL;
}

/* Store one secret; false when the entry cap is reached. */
static bool
keylog_store(struct keylog *k, unsigned label, const uint8_t random[32],
    const uint8_t *secret, size_t secret_len)
{
	struct keylog_entry *e;
	size_t b;

	if ((e = keylog_find(k, label, random)) == NULL) {
		if (k->n >= KEYLOG_ENTRIES_MAX)
			return false;
		if (xcapped_grow((void **)&k->entries, &k->cap_bytes,
			(k->n + 1) * sizeof *k->entries,
			KEYLOG_ENTRIES_MAX * sizeof *k->entries) != 0)
			return false;
		if (k->n + 1 > k->nbuckets)
			keylog_rehash(k);
		e = &k->entries[k->n];
		memset(e, 0, sizeof *e);
		memcpy(e->random, random, 32);
		e->label = (uint8_t)label;
		b = keylog_hash(random, label) & (k->nbuckets - 1);
		e->next = k->buckets[b];
		k->buckets[b] = (uint32_t)(k->n + 1);
		k->n++;
	}
	memcpy(e->secret, secret, secret_len);
	e->secret_len = (uint8_t)secret_len;
	return true;
}

static int
keylog_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode exactly len hex digits into out (len / 2 bytes). */
static bool
keylog_unhex(const char *s, size_t len, uint8_t *out)
{
	size_t i;
	int hi, lo;

	if (len % 2 != 0)
		return false;
	for (i = 0; i < len; i += 2) {
		if ((hi = keylog_hexval(s[i])) < 0 ||
		    (lo = keylog_hexval(s[i + 1])) < 0)
			return false;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* Split off the next space-separated field of s[*pos..len). */
static bool
keylog_field(
    const char *s, size_t len, size_t *pos, const char **f, size_t *flen)
{
	size_t i = *pos;

	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i == len)
		return false;
	*f = s + i;
	while (i < len && s[i] != ' ' && s[i] != '\t')
		i++;
	*flen = (size_t)(s + i - *f);
	*pos = i;
	return true;
}

/*
 * One line without its newline.  Returns 1 when a secret was stored, 0 for
 * comments, blank lines and labels we do not use, -1 for junk.
 */
static int
keylog_line(struct keylog *k, const char *s, size_t len)
{
	const char *label, *rnd, *sec, *extra;
	size_t label_len, rnd_len, sec_len, extra_len, pos = 0;
	uint8_t random[32], secret[KEYLOG_SECRET_MAX];
	int idx;

	while (len > 0 &&
	       (s[len - 1] == '\r' || s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (!keylog_field(s, len, &pos, &label, &label_len))
		return 0; /* blank */
	if (label[0] == '#')
		return 0;
	if (!keylog_field(s, len, &pos, &rnd, &rnd_len) ||
	    !keylog_field(s, len, &pos, &sec, &sec_len) ||
	    keylog_field(s, len, &pos, &extra, &extra_len))
		return -1;
	idx = keylog_label_index(label, label_len);
	if (idx < 0) {
		/* e.g. "RSA <premaster>": well-formed but not for us. */
		return 0;
	}
	if (rnd_len != 64 || !keylog_unhex(rnd, rnd_len, random))
		return -1;
	if (sec_len == 0 || sec_len > 2 * KEYLOG_SECRET_MAX ||
	    !keylog_unhex(sec, sec_len, secret))
		return -1;
	if (!keylog_store(k, (unsigned)idx, random, secret, sec_len / 2))
		return -1; /* over the entry cap: counted as not accepted */
	return 1;
}

size_t
keylog_add_text(struct keylog *k, const char *text, size_t len)
{
	size_t accepted = 0, start = 0, i;
	int r;

	for (i = 0; i <= len; i++) {
		if (i < len && text[i] != '\n')
			continue;
		if (i - start > KEYLOG_LINE_MAX)
			r = -1;
		else
			r = keylog_line(k, text + start, i - start);
		if (r > 0)
			accepted++;
		else if (r < 0)
			k->junk++;
		start = i + 1;
	}
	return accepted;
}

/* Consume a chunk read from the file; partial last lines are carried. */
static size_t
keylog_consume(struct keylog *k, const char *buf, size_t len)
{
	size_t accepted = 0, i, start = 0, n;
	int r;

	for (i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		n = i - start;
		if (k->skipping) {
			k->skipping = false;
		} else if (k->line_len + n > KEYLOG_LINE_MAX) {
			k->junk++;
		} else {
			memcpy(k->line + k->line_len, buf + start, n);
			r = keylog_line(k, k->line, k->line_len + n);
			if (r > 0)
				accepted++;
			else if (r < 0)
				k->junk++;
		}
		k->line_len = 0;
		start = i + 1;
	}
	/* The unfinished tail. */
	n = len - start;
	if (k->skipping)
		return accepted;
	if (k->line_len + n > KEYLOG_LINE_MAX) {
		k->junk++;
		k->skipping = true;
		k->line_len = 0;
	} else {
		memcpy(k->line + k->line_len, buf + start, n);
		k->line_len += n;
	}
	return accepted;
}

/*
 * The descriptor stays open between calls: smtpscope may drop root (-Z)
 * after the first read, and the key log often sits in a directory that the
 * unprivileged user cannot enter.  The path is opened again only when it
 * now names another file (the client replaced it) and that file can be
 * opened.
 */
static int
keylog_open(struct keylog *k, const char **why)
{
	struct stat st;
	int fd;

	if (k->fd != -1 && stat(k->path, &st) == 0 &&
	    (st.st_dev != k->dev || st.st_ino != k->ino) &&
	    (fd = open(k->path, O_RDONLY | O_CLOEXEC)) != -1) {
		close(k->fd);
		k->fd = fd;
		k->offset = 0;
		k->line_len = 0;
		k->skipping = false;
	}
	if (k->fd == -1) {
		if ((k->fd = open(k->path, O_RDONLY | O_CLOEXEC)) == -1) {
			*why = strerror(errno);
			return -1;
		}
		k->offset = 0;
	}
	if (fstat(k->fd, &st) == -1) {
		*why = strerror(errno);
		return -1;
	}
	if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
		*why = "not a regular file";
		close(k->fd);
		k->fd = -1;
		return -1;
	}
	k->dev = st.st_dev;
	k->ino = st.st_ino;
	return 0;
}

/* keylog_refresh, with *why a static string. */
static int
keylog_read(struct keylog *k, const char **why)
{
	struct stat st;
	char *buf;
	ssize_t got;
	size_t accepted = 0;

	*why = NULL;
	if (k->path == NULL)
		return 0;
	if (keylog_open(k, why) != 0 || fstat(k->fd, &st) == -1) {
		if (*why == NULL)
			*why = strerror(errno);
		return -1;
	}
	if (S_ISREG(st.st_mode)) {
		if (st.st_size < k->offset) {
			/* Truncated: start over (known secrets stay). */
			k->offset = 0;
			k->line_len = 0;
			k->skipping = false;
		}
		if (st.st_size == k->offset)
			return 0;
		if (lseek(k->fd, k->offset, SEEK_SET) == -1) {
			*why = strerror(errno);
			return -1;
		}
	}
	buf = xmalloc(KEYLOG_CHUNK);
	for (;;) {
		got = read(k->fd, buf, KEYLOG_CHUNK);
		if (got == -1 && errno == EINTR)
			continue;
		if (got == -1) {
			*why = strerror(errno);
			break;
		}
		if (got == 0)
			break;
		accepted += keylog_consume(k, buf, (size_t)got);
		k->offset += got;
		/* A pipe would never end: one chunk per call. */
		if (!S_ISREG(st.st_mode))
			break;
	}
	free(buf);
	if (*why != NULL && accepted == 0)
		return -1;
	return accepted > 0 ? 1 : 0;
}

int
keylog_refresh(struct keylog *k, char **cause)
{
	const char *why = NULL;
	int rc = keylog_read(k, &why);

	*cause = rc < 0 ? xstrdup(why != NULL ? why : "read error") : NULL;
	return rc;
}

bool
keylog_lookup(const struct keylog *k, const char *label,
    const uint8_t client_random[32], uint8_t *secret, size_t *secret_len)
{
	const struct keylog_entry *e;
	int idx;

	*secret_len = 0;
	if (k == NULL || (idx = keylog_label_index(label, strlen(label))) < 0)
		return false;
	if ((e = keylog_find(k, (unsigned)idx, client_random)) == NULL)
		return false;
	memcpy(secret, e->secret, e->secret_len);
	*secret_len = e->secret_len;
	return true;
}

size_t
keylog_count(const struct keylog *k)
{
	return k->n - k->remembered;
}

size_t
keylog_junk(const struct keylog *k)
{
	return k->junk;
}

bool
keylog_has_file(const struct keylog *k)
{
	return k != NULL && k->path != NULL;
}

/* A passphrase prompt would block the capture: refuse encrypted keys. */
static int
keylog_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

int
keylog_load_server_key(struct keylog *k, const char *path, char **cause)
{
	EVP_PKEY *pk;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return -1;
	}
	pk = PEM_read_PrivateKey(f, NULL, keylog_no_passphrase, NULL);
	fclose(f);
	if (pk == NULL) {
		xasprintf(cause,
		    "%s: not a PEM private key (or one protected by a "
		    "passphrase)",
		    path);
		return -1;
	}
	if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
		xasprintf(cause,
		    "%s: not an RSA key; only RSA key exchange can be "
		    "decrypted with a server key",
		    path);
		EVP_PKEY_free(pk);
		return -1;
	}
	EVP_PKEY_free(k->server_key);
	k->server_key = pk;
	return 0;
}

bool
keylog_has_server_key(const struct keylog *k)
{
	return k != NULL && k->server_key != NULL;
}

int
keylog_server_key_matches(
    const struct keylog *k, const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	EVP_PKEY *pub;
	X509 *x;
	int r = -1;

	if (k == NULL || k->server_key == NULL || len > LONG_MAX ||
	    (x = d2i_X509(NULL, &p, (long)len)) == NULL)
		return -1;
	pub = X509_get0_pubkey(x);
	if (pub != NULL && EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA)
		r = EVP_PKEY_eq(pub, k->server_key) == 1 ? 1 : 0;
	X509_free(x);
	return r;
}

bool
keylog_rsa_premaster(
    const struct keylog *k, const uint8_t *enc, size_t len, uint8_t pms[48])
{
	EVP_PKEY_CTX *ctx;
	uint8_t out[1024];
	size_t outlen = sizeof out;
	bool ok;

	if (k == NULL || k->server_key == NULL || len == 0 ||
	    len > sizeof out || (size_t)EVP_PKEY_get_size(k->server_key) != len)
		return false;
	if ((ctx = EVP_PKEY_CTX_new(k->server_key, NULL)) == NULL)
		return false;
	ok = EVP_PKEY_decrypt_init(ctx) == 1 &&
	     EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1;
#ifdef OSSL_ASYM_CIPHER_PARAM_IMPLICIT_REJECTION
	/* OpenSSL 3.2 and later answer a bad padding with random bytes;
	   here a clear failure is wanted (the key is the wrong one, not an
	   attacker's oracle). */
	if (ok) {
		unsigned int zero = 0;
		OSSL_PARAM params[2];

		params[0] = OSSL_PARAM_construct_uint(
		    OSSL_ASYM_CIPHER_PARAM_IMPLICIT_REJECTION, &zero);
		params[1] = OSSL_PARAM_construct_end();
		ok = EVP_PKEY_CTX_set_params(ctx, params) == 1;
	}
#endif
	ok = ok && EVP_PKEY_decrypt(ctx, out, &outlen, enc, len) == 1 &&
	     outlen == 48;
	EVP_PKEY_CTX_free(ctx);
	if (ok)
		memcpy(pms, out, 48);
	OPENSSL_cleanse(out, sizeof out);
	return ok;
}

/* The key of a session ID or ticket: its SHA-256. */
static bool
keylog_resume_key(const uint8_t *id, size_t len, uint8_t key[32])
{
	unsigned int n = 0;

	return len > 0 &&
	       EVP_Digest(id, len, key, &n, EVP_sha256(), NULL) == 1 && n == 32;
}

void
keylog_remember_session(
    struct keylog *k, const uint8_t *id, size_t len, const uint8_t master[48])
{
	uint8_t key[32];
	size_t before = k->n;

	if (!keylog_resume_key(id, len, key))
		return;
	if (keylog_store(k, KEYLOG_RESUME, key, master, 48) && k->n > before)
		k->remembered++;
}

bool
keylog_recall_session(
    const struct keylog *k, const uint8_t *id, size_t len, uint8_t master[48])
{
	const struct keylog_entry *e;
	uint8_t key[32];

	if (k == NULL || !keylog_resume_key(id, len, key) ||
	    (e = keylog_find(k, KEYLOG_RESUME, key)) == NULL ||
	    e->secret_len != 48)
		return false;
	memcpy(master, e->secret, 48);
	return true;
}
