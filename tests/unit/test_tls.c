/*
 * Unit tests of tls: record framing across split feeds, handshake facts
 * from a real ClientHello/ServerHello (embedded), bad input (garbage,
 * SSLv2 hello, over-size record, truncated handshake, an empty handshake
 * record, alerts), and
 * decryption of the real sessions in tests/fixtures/tls (TLS 1.2 and 1.3,
 * every cipher) with their key logs: keys given late, wrong keys, a bad
 * tag, the pending cap.
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
#include <pcap/pcap.h>

#include "keylog.h"
#include "tls.h"
#include "xmalloc.h"

/* From tests/fixtures/tls/starttls-tls13-aes256.pcap: the client's
   ClientHello record (SNI mx.example.test) and the server's ServerHello
   record (TLS 1.3, TLS_AES_256_GCM_SHA384). */
static const char tls13_client_hello[] =
    "16030100f0010000ec030388a7389a5c6157d37f94c28d8074fdda5c639b7951"
    "61af78849c3ad024f8f949204176f1736332366c25622d43f4d8b25e01e4e741"
    "5c83a824416dc1bd68fe16a90004130200ff0100009f00000014001200000f6d"
    "782e6578616d706c652e74657374000b000403000102000a00160014001d0017"
    "001e0019001801000101010201030104002300000016000000170000000d001e"
    "001c040305030603080708080809080a080b080408050806040105010601002b"
    "0003020304002d00020101003300260024001d0020a4782f97e5a43a8e9dc194"
    "a3e812d0751d7eb69a55ec915b1f0e1d2adbefb472";
static const char tls13_server_hello[] =
    "160303007a0200007603039d7684adb07937b89a81601acdd958c0557a62ae53"
    "678d3f16f56ff06e35a125204176f1736332366c25622d43f4d8b25e01e4e741"
    "5c83a824416dc1bd68fe16a9130200002e002b0002030400330024001d002072"
    "daab715d9b2da12458d58a0165e8e6c6304ecab6a14d61fc9ab4df6d9fef63";

/* ---- a sink for events and plaintext ---- */

#define SINK_EVENTS 64

struct sink {
	struct event *ev[SINK_EVENTS];
	size_t n;
	uint8_t *pt[2];
	size_t pt_len[2];
};

static void
sink_plaintext(void *arg, int dir, const uint8_t *data, size_t len,
    const struct timeval *ts)
{
	struct sink *s = arg;

	(void)ts;
	s->pt[dir] = xrealloc(s->pt[dir], s->pt_len[dir] + len + 1);
	memcpy(s->pt[dir] + s->pt_len[dir], data, len);
	s->pt_len[dir] += len;
	s->pt[dir][s->pt_len[dir]] = '\0';
}

static void
sink_emit(void *arg, struct event *ev)
{
	struct sink *s = arg;

	if (s->n < SINK_EVENTS)
		s->ev[s->n++] = ev;
	else
		event_free(ev);
}

static const struct tls_ops sink_ops = {sink_plaintext, sink_emit};

static void
sink_clear(struct sink *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		event_free(s->ev[i]);
	free(s->pt[0]);
	free(s->pt[1]);
	memset(s, 0, sizeof *s);
}

static size_t
sink_count(const struct sink *s, enum event_type type, const char *what)
{
	size_t i, n = 0;

	for (i = 0; i < s->n; i++)
		if (s->ev[i]->type == type &&
		    (what == NULL || s->ev[i]->what == what))
			n++;
	return n;
}

/* The first tls event of a phase, or NULL. */
static const struct event *
sink_tls(const struct sink *s, const char *phase)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->ev[i]->type == EV_TLS &&
		    strcmp(s->ev[i]->phase, phase) == 0)
			return s->ev[i];
	return NULL;
}

static const struct event *
sink_anomaly(const struct sink *s, const char *what)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->ev[i]->type == EV_ANOMALY && s->ev[i]->what == what)
			return s->ev[i];
	return NULL;
}

static size_t
unhex(const char *h, uint8_t *out)
{
	size_t i;
	unsigned v;

	for (i = 0; h[2 * i] != '\0'; i++) {
		sscanf(h + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
	return i;
}

static const struct timeval ts0 = {1700000000, 0};

static void
feed_bytewise(struct tls_conn *t, int dir, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		tls_conn_feed(t, dir, p + i, 1, &ts0);
}

/* ---- embedded hello tests ---- */

static void
test_hello_split(void **state)
{
	uint8_t ch[512], sh[256];
	size_t chl = unhex(tls13_client_hello, ch);
	size_t shl = unhex(tls13_server_hello, sh);
	struct sink s = {0};
	struct tls_conn *t;
	const struct event *ev;

	(void)state;
	t = tls_conn_new(NULL, &sink_ops, &s, true, "mx.example.test");
	feed_bytewise(t, EV_DIR_CLIENT, ch, chl);
	assert_int_equal(s.n, 0);
	feed_bytewise(t, EV_DIR_SERVER, sh, shl);
	ev = sink_tls(&s, "handshake");
	assert_non_null(ev);
	assert_string_equal(ev->version, "TLSv1.3");
	assert_string_equal(ev->cipher, "TLS_AES_256_GCM_SHA384");
	assert_string_equal(ev->sni, "mx.example.test");
	assert_false(ev->decrypted);
	assert_string_equal(ev->reason, "no key log");
	assert_null(ev->cert_subject); /* encrypted in TLS 1.3 */
	/* Encrypted records after that: nothing more, no plaintext. */
	tls_conn_finish(t, &ts0);
	assert_int_equal(sink_count(&s, EV_TLS, NULL), 1);
	assert_int_equal(sink_count(&s, EV_ANOMALY, NULL), 0);
	assert_null(s.pt[0]);
	assert_false(tls_conn_decrypting(t));
	tls_conn_free(t);
	sink_clear(&s);
}

static void
test_truncated_handshake(void **state)
{
	uint8_t ch[512], sh[256];
	size_t chl = unhex(tls13_client_hello, ch);
	size_t shl = unhex(tls13_server_hello, sh);
	struct sink s = {0};
	struct tls_conn *t;
	const struct event *ev;

	(void)state;
	t = tls_conn_new(NULL, &sink_ops, &s, true, NULL);
	tls_conn_feed(t, EV_DIR_CLIENT, ch, chl - 10, &ts0);
	tls_conn_feed(t, EV_DIR_CLIENT, ch + chl - 10, 10, &ts0);
	tls_conn_feed(t, EV_DIR_SERVER, sh, shl / 2, &ts0);
	tls_conn_finish(t, &ts0);
	ev = sink_tls(&s, "handshake");
	assert_non_null(ev);
	assert_false(ev->decrypted);
	assert_non_null(strstr(ev->reason, "did not complete"));
	assert_string_equal(ev->sni, "mx.example.test");
	assert_null(ev->version);
	tls_conn_free(t);
	sink_clear(&s);
}

static void
test_garbage(void **state)
{
	static const uint8_t junk[] = {0x99, 0x03, 0x03, 0x00, 0x10, 1, 2, 3};
	static const uint8_t text[] = "EHLO client.example\r\n";
	static const uint8_t sslv2[] = {
	    0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15};
	static const uint8_t big[] = {0x16, 0x03, 0x03, 0x48, 0x01};
	struct sink s = {0};
	struct tls_conn *t;
	const struct event *ev;

	(void)state;
	/* A bad record type: one anomaly, the direction is then ignored. */
	t = tls_conn_new(NULL, &sink_ops, &s, true, NULL);
	tls_conn_feed(t, EV_DIR_SERVER, junk, sizeof junk, &ts0);
	tls_conn_feed(t, EV_DIR_SERVER, junk, sizeof junk, &ts0);
	assert_int_equal(sink_count(&s, EV_ANOMALY, EV_ANOM_TLS_RECORD), 1);
	/* Plain text after STARTTLS is named as such. */
	tls_conn_feed(t, EV_DIR_CLIENT, text, sizeof text - 1, &ts0);
	ev = s.ev[s.n - 1];
	assert_ptr_equal(ev->what, EV_ANOM_TLS_RECORD);
	assert_non_null(strstr(ev->detail, "plain text"));
	/* ... and handed on whole for the SMTP engine to read. */
	assert_int_equal(s.pt_len[EV_DIR_CLIENT], sizeof text - 1);
	assert_memory_equal(s.pt[EV_DIR_CLIENT], text, sizeof text - 1);
	tls_conn_feed(t, EV_DIR_CLIENT, text, 4, &ts0);
	assert_int_equal(s.pt_len[EV_DIR_CLIENT], sizeof text - 1 + 4);
	tls_conn_finish(t, &ts0);
	assert_int_equal(sink_count(&s, EV_ANOMALY, NULL), 2);
	tls_conn_free(t);
	sink_clear(&s);

	/* SSLv2-compatible ClientHello, even in 1-byte pieces. */
	t = tls_conn_new(NULL, &sink_ops, &s, false, NULL);
	feed_bytewise(t, EV_DIR_CLIENT, sslv2, sizeof sslv2);
	assert_int_equal(sink_count(&s, EV_ANOMALY, EV_ANOM_TLS_RECORD), 1);
	assert_non_null(strstr(s.ev[0]->detail, "SSLv2"));
	tls_conn_free(t);
	sink_clear(&s);

	/* A record longer than TLS_RECORD_MAX. */
	t = tls_conn_new(NULL, &sink_ops, &s, false, NULL);
	tls_conn_feed(t, EV_DIR_CLIENT, big, sizeof big, &ts0);
	assert_int_equal(sink_count(&s, EV_ANOMALY, EV_ANOM_TLS_RECORD), 1);
	assert_non_null(strstr(s.ev[0]->detail, "exceeds"));
	tls_conn_feed(t, EV_DIR_CLIENT, big, sizeof big, &ts0);
	assert_int_equal(s.n, 1);
	tls_conn_free(t);
	sink_clear(&s);
}

/* Issue 13: an empty handshake record (type 22, length 0) as the first
   handshake bytes of a direction.  The handshake buffer was still NULL,
   and appending zero bytes to it was undefined behaviour (memcpy to NULL
   + 0), which halts the sanitizer build.  It must be ignored, and the
   real ClientHello after it still parsed. */
static void
test_empty_handshake_record(void **state)
{
	static const uint8_t empty[] = {0x16, 0x03, 0x03, 0x00, 0x00};
	uint8_t ch[512], sh[256];
	size_t chl = unhex(tls13_client_hello, ch);
	size_t shl = unhex(tls13_server_hello, sh);
	struct sink s = {0};
	struct tls_conn *t;
	const struct event *ev;

	(void)state;
	t = tls_conn_new(NULL, &sink_ops, &s, false, NULL);
	tls_conn_feed(t, EV_DIR_CLIENT, empty, sizeof empty, &ts0);
	tls_conn_feed(t, EV_DIR_SERVER, empty, sizeof empty, &ts0);
	tls_conn_feed(t, EV_DIR_CLIENT, empty, sizeof empty, &ts0);
	assert_int_equal(s.n, 0);
	tls_conn_feed(t, EV_DIR_CLIENT, ch, chl, &ts0);
	tls_conn_feed(t, EV_DIR_SERVER, empty, sizeof empty, &ts0);
	tls_conn_feed(t, EV_DIR_SERVER, sh, shl, &ts0);
	ev = sink_tls(&s, "handshake");
	assert_non_null(ev);
	assert_string_equal(ev->version, "TLSv1.3");
	assert_string_equal(ev->sni, "mx.example.test");
	assert_int_equal(sink_count(&s, EV_ANOMALY, NULL), 0);
	tls_conn_free(t);
	sink_clear(&s);
}

static void
test_alert(void **state)
{
	static const uint8_t alert[] = {
	    0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28};
	static const uint8_t close_notify[] = {
	    0x15, 0x03, 0x03, 0x00, 0x02, 0x01, 0x00};
	uint8_t ch[512];
	size_t chl = unhex(tls13_client_hello, ch);
	struct sink s = {0};
	struct tls_conn *t;
	const struct event *ev;

	(void)state;
	t = tls_conn_new(NULL, &sink_ops, &s, true, NULL);
	tls_conn_feed(t, EV_DIR_CLIENT, ch, chl, &ts0);
	tls_conn_feed(
	    t, EV_DIR_SERVER, close_notify, sizeof close_notify, &ts0);
	assert_int_equal(s.n, 0); /* the normal end is not news */
	tls_conn_feed(t, EV_DIR_SERVER, alert, sizeof alert, &ts0);
	ev = sink_tls(&s, "alert");
	assert_non_null(ev);
	assert_string_equal(ev->alert, "fatal handshake_failure");
	assert_non_null(strstr(ev->reason, "server"));
	assert_non_null(strstr(ev->reason, "defers"));
	tls_conn_finish(t, &ts0);
	/* No "did not complete" on top of an explained failure. */
	assert_int_equal(sink_count(&s, EV_TLS, NULL), 1);
	tls_conn_free(t);
	sink_clear(&s);
}

static void
test_pending_cap(void **state)
{
	uint8_t ch[512], sh[256], *rec;
	size_t chl = unhex(tls13_client_hello, ch);
	size_t shl = unhex(tls13_server_hello, sh), i;
	struct keylog *kl = keylog_new(NULL);
	struct sink s = {0};
	struct tls_conn *t;

	(void)state;
	rec = xcalloc(1, 5 + 16384);
	rec[0] = 0x17;
	rec[1] = 3;
	rec[2] = 3;
	rec[3] = 0x40;
	t = tls_conn_new(kl, &sink_ops, &s, true, NULL);
	tls_conn_feed(t, EV_DIR_CLIENT, ch, chl, &ts0);
	tls_conn_feed(t, EV_DIR_SERVER, sh, shl, &ts0);
	/* The key never comes: records wait up to TLS_PENDING_MAX. */
	for (i = 0; i < TLS_PENDING_MAX / 16384 + 10; i++)
		tls_conn_feed(t, EV_DIR_SERVER, rec, 5 + 16384, &ts0);
	assert_int_equal(sink_count(&s, EV_ANOMALY, EV_ANOM_TLS_CAP), 1);
	assert_non_null(strstr(s.ev[s.n - 1]->reason, "no key"));
	assert_false(s.ev[s.n - 1]->decrypted);
	tls_conn_finish(t, &ts0);
	assert_int_equal(sink_count(&s, EV_TLS, NULL), 2);
	tls_conn_free(t);
	keylog_free(kl);
	free(rec);
	sink_clear(&s);
}

/* ---- the real sessions in tests/fixtures/tls ---- */

struct chunk {
	int dir;
	size_t off, len;
	struct timeval ts;
};

struct capture {
	uint8_t *data;
	size_t len;
	struct chunk *chunks;
	size_t n;
	char *keylog; /* file contents */
};

static char *
fixture_path(const char *name, const char *ext)
{
	const char *top = getenv("top_srcdir");
	char *p;

	if (top == NULL)
		top = ".";
	xasprintf(&p, "%s/tests/fixtures/tls/%s.%s", top, name, ext);
	return p;
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = xmalloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		n = 0;
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/*
 * The TLS bytes of the one session in a loopback capture (Ethernet,
 * IPv4), as chunks in capture order.  Each direction starts at its first
 * segment that begins with a handshake record, which skips the SMTP
 * dialogue before STARTTLS.
 */
static bool
capture_load(const char *name, uint16_t sport, struct capture *c)
{
	char err[PCAP_ERRBUF_SIZE], *path = fixture_path(name, "pcap");
	struct pcap_pkthdr *h;
	const u_char *p;
	pcap_t *pc;
	uint32_t seq, next[2] = {0, 0};
	bool started[2] = {false, false}, have[2] = {false, false};
	size_t ihl, thl, plen, iplen;
	int dir;

	memset(c, 0, sizeof *c);
	pc = pcap_open_offline(path, err);
	free(path);
	if (pc == NULL)
		return false;
	while (pcap_next_ex(pc, &h, &p) == 1) {
		if (h->caplen < 14 + 20 || p[12] != 0x08 || p[13] != 0x00)
			continue;
		ihl = (size_t)(p[14] & 0x0f) * 4;
		iplen = (size_t)p[16] << 8 | p[17];
		if (p[23] != 6 || h->caplen < 14 + iplen)
			continue;
		thl = (size_t)(p[14 + ihl + 12] >> 4) * 4;
		plen = iplen - ihl - thl;
		dir = ((p[14 + ihl + 2] << 8) | p[14 + ihl + 3]) == sport
			  ? EV_DIR_CLIENT
			  : EV_DIR_SERVER;
		seq = (uint32_t)p[14 + ihl + 4] << 24 |
		      (uint32_t)p[14 + ihl + 5] << 16 |
		      (uint32_t)p[14 + ihl + 6] << 8 | p[14 + ihl + 7];
		if (plen == 0)
			continue;
		/* Loopback does not reorder; drop retransmissions. */
		if (have[dir] && (int32_t)(seq - next[dir]) < 0)
			continue;
		have[dir] = true;
		next[dir] = seq + (uint32_t)plen;
		p += 14 + ihl + thl;
		if (!started[dir] && p[0] != 0x16)
			continue;
		started[dir] = true;
		c->data = xrealloc(c->data, c->len + plen);
		memcpy(c->data + c->len, p, plen);
		c->chunks =
		    xreallocarray(c->chunks, c->n + 1, sizeof *c->chunks);
		c->chunks[c->n].dir = dir;
		c->chunks[c->n].off = c->len;
		c->chunks[c->n].len = plen;
		c->chunks[c->n].ts = h->ts;
		c->n++;
		c->len += plen;
	}
	pcap_close(pc);
	path = fixture_path(name, "keylog");
	c->keylog = slurp(path);
	free(path);
	return c->n > 0 && c->keylog != NULL;
}

static void
capture_free(struct capture *c)
{
	free(c->data);
	free(c->chunks);
	free(c->keylog);
}

/* Feed a whole capture; step > 0 splits every chunk into step bytes. */
static void
capture_feed(struct tls_conn *t, const struct capture *c, size_t step)
{
	size_t i, o, n;

	for (i = 0; i < c->n; i++)
		for (o = 0; o < c->chunks[i].len; o += n) {
			n = c->chunks[i].len - o;
			if (step > 0 && n > step)
				n = step;
			tls_conn_feed(t, c->chunks[i].dir,
			    c->data + c->chunks[i].off + o, n,
			    &c->chunks[i].ts);
		}
}

struct fixture {
	const char *name;
	uint16_t port; /* the server's */
	const char *version;
	const char *cipher;
	bool has_452;
};

static const struct fixture fixtures[] = {
    {"starttls-tls13-aes256", 10525, "TLSv1.3", "TLS_AES_256_GCM_SHA384", true},
    {"starttls-tls13-aes128", 10525, "TLSv1.3", "TLS_AES_128_GCM_SHA256", true},
    {"starttls-tls13-chacha-keyupdate", 10525, "TLSv1.3",
	"TLS_CHACHA20_POLY1305_SHA256", false},
    {"starttls-tls12-aes128gcm", 10525, "TLSv1.2",
	"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", true},
    {"starttls-tls12-aes256gcm", 10525, "TLSv1.2",
	"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", true},
    {"starttls-tls12-chacha", 10525, "TLSv1.2",
	"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", true},
    {"starttls-tls12-cbc-etm", 10525, "TLSv1.2",
	"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", true},
    {"starttls-tls12-cbc-mte", 10525, "TLSv1.2",
	"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", true},
    {"starttls-curl", 10525, "TLSv1.3", "TLS_AES_256_GCM_SHA384", false},
    {"implicit-curl", 10565, "TLSv1.3", "TLS_AES_256_GCM_SHA384", false},
    {"starttls-python-tls12", 10525, "TLSv1.2",
	"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", true},
    {"implicit-python-tls13", 10565, "TLSv1.3", "TLS_AES_256_GCM_SHA384",
	false},
    /* make-tls-key-captures.sh: RSA key exchange and AES-CCM. */
    {"starttls-tls12-rsa-aes128gcm", 10725, "TLSv1.2",
	"TLS_RSA_WITH_AES_128_GCM_SHA256", true},
    {"starttls-tls12-rsa-aes128ccm", 10735, "TLSv1.2",
	"TLS_RSA_WITH_AES_128_CCM", true},
    {"starttls-tls12-rsa-aes128ccm8", 10735, "TLSv1.2",
	"TLS_RSA_WITH_AES_128_CCM_8", true},
    {"starttls-tls12-dhe-aes128ccm", 10735, "TLSv1.2",
	"TLS_DHE_RSA_WITH_AES_128_CCM", true},
    {"starttls-tls13-aes128ccm", 10745, "TLSv1.3", "TLS_AES_128_CCM_SHA256",
	true},
};

static bool
load(const struct fixture *f, struct capture *c)
{
	if (capture_load(f->name, f->port, c))
		return true;
	capture_free(c);
	print_message("fixture %s not found (set top_srcdir)\n", f->name);
	return false;
}

static bool
has(const struct sink *s, int dir, const char *needle)
{
	return s->pt[dir] != NULL && strstr((char *)s->pt[dir], needle) != NULL;
}

/* Every fixture decrypts in full with its key log, whole or split. */
static void
test_fixtures_decrypt(void **state)
{
	size_t i, step;
	struct capture c;
	struct keylog *kl;
	struct sink s = {0};
	struct tls_conn *t;
	const struct event *ev;
	uint8_t *whole[2];
	size_t whole_len[2];

	(void)state;
	for (i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
		if (!load(&fixtures[i], &c))
			skip();
		kl = keylog_new(NULL);
		keylog_add_text(kl, c.keylog, strlen(c.keylog));
		for (step = 0; step <= 7; step += 7) {
			print_message("%s step %zu\n", fixtures[i].name, step);
			t = tls_conn_new(kl, &sink_ops, &s,
			    fixtures[i].port != 10565, "mx.example.test");
			capture_feed(t, &c, step);
			assert_true(tls_conn_decrypting(t));
			tls_conn_finish(t, &ts0);
			tls_conn_free(t);
			assert_int_equal(sink_count(&s, EV_ANOMALY, NULL), 0);
			ev = sink_tls(&s, "established");
			assert_non_null(ev);
			assert_true(ev->decrypted);
			assert_null(ev->reason);
			assert_string_equal(ev->version, fixtures[i].version);
			assert_string_equal(ev->cipher, fixtures[i].cipher);
			assert_non_null(ev->cert_subject);
			assert_non_null(
			    strstr(ev->cert_problems, "self-signed"));
			assert_non_null(ev->cert_not_after);
			assert_true(
			    has(&s, EV_DIR_CLIENT, "alice@example.test"));
			assert_true(has(&s, EV_DIR_SERVER, "250"));
			assert_true(has(&s, EV_DIR_SERVER, "221 2.0.0 Bye"));
			assert_int_equal(has(&s, EV_DIR_SERVER, "452 4.5.3"),
			    fixtures[i].has_452);
			if (step == 0) {
				whole[0] = s.pt[0];
				whole[1] = s.pt[1];
				whole_len[0] = s.pt_len[0];
				whole_len[1] = s.pt_len[1];
				s.pt[0] = s.pt[1] = NULL;
			} else {
				assert_int_equal(s.pt_len[0], whole_len[0]);
				assert_int_equal(s.pt_len[1], whole_len[1]);
				assert_memory_equal(
				    s.pt[0], whole[0], whole_len[0]);
				assert_memory_equal(
				    s.pt[1], whole[1], whole_len[1]);
				free(whole[0]);
				free(whole[1]);
			}
			sink_clear(&s);
		}
		keylog_free(kl);
		capture_free(&c);
	}
}

static void
test_certificate_facts(void **state)
{
	struct capture c;
	struct keylog *kl;
	struct sink s = {0};
	struct tls_conn *t;
	const struct event *ev;

	(void)state;
	/* TLS 1.2: the certificate is in clear, in the handshake event. */
	if (!load(&fixtures[3], &c))
		skip();
	t = tls_conn_new(NULL, &sink_ops, &s, true, "mx.example.test");
	capture_feed(t, &c, 0);
	tls_conn_finish(t, &ts0);
	tls_conn_free(t);
	ev = sink_tls(&s, "handshake");
	assert_non_null(ev);
	assert_string_equal(ev->sni, "mx.example.test");
	assert_non_null(strstr(ev->cert_subject, "CN=mx.example.test"));
	assert_string_equal(ev->cert_san, "mx.example.test");
	assert_string_equal(ev->cert_problems, "self-signed");
	assert_string_equal(ev->reason, "no key log");
	assert_int_equal(sink_count(&s, EV_TLS, NULL), 1);
	assert_null(s.pt[0]);
	sink_clear(&s);
	capture_free(&c);

	/* curl sends no SNI to an IP address: the greeting's name is what
	   the certificate must match. */
	if (!load(&fixtures[8], &c))
		skip();
	kl = keylog_new(NULL);
	keylog_add_text(kl, c.keylog, strlen(c.keylog));
	t = tls_conn_new(kl, &sink_ops, &s, true, "wrong.example.org");
	capture_feed(t, &c, 0);
	tls_conn_free(t);
	ev = sink_tls(&s, "established");
	assert_non_null(ev);
	assert_null(ev->sni);
	assert_string_equal(ev->cert_problems, "self-signed,name-mismatch");
	sink_clear(&s);
	keylog_free(kl);
	capture_free(&c);

	/* Implicit TLS 1.3, SNI "localhost", certificate for
	   other.example.net: seen only after decryption. */
	if (!load(&fixtures[11], &c))
		skip();
	kl = keylog_new(NULL);
	keylog_add_text(kl, c.keylog, strlen(c.keylog));
	t = tls_conn_new(kl, &sink_ops, &s, false, NULL);
	capture_feed(t, &c, 0);
	tls_conn_free(t);
	assert_null(sink_tls(&s, "handshake")->cert_subject);
	ev = sink_tls(&s, "established");
	assert_non_null(ev);
	assert_string_equal(ev->sni, "localhost");
	assert_non_null(strstr(ev->cert_subject, "CN=other.example.net"));
	assert_string_equal(ev->cert_problems, "self-signed,name-mismatch");
	assert_true(has(&s, EV_DIR_SERVER, "220 mx.example.test ESMTP"));
	sink_clear(&s);
	keylog_free(kl);
	capture_free(&c);
}

/* The keys arrive after the packets: records wait, then decrypt. */
static void
test_keys_later(void **state)
{
	size_t i;
	struct capture c;
	struct keylog *kl;
	struct sink s = {0};
	struct tls_conn *t;
	const struct event *ev;
	static const size_t which[] = {0, 3, 7};

	(void)state;
	for (i = 0; i < sizeof which / sizeof which[0]; i++) {
		if (!load(&fixtures[which[i]], &c))
			skip();
		kl = keylog_new(NULL);
		t = tls_conn_new(kl, &sink_ops, &s, true, NULL);
		capture_feed(t, &c, 0);
		assert_null(s.pt[0]);
		assert_null(s.pt[1]);
		assert_null(sink_tls(&s, "established"));
		tls_conn_retry(t, &ts0); /* still nothing: no change */
		assert_null(s.pt[1]);
		keylog_add_text(kl, c.keylog, strlen(c.keylog));
		tls_conn_retry(t, &ts0);
		assert_true(has(&s, EV_DIR_CLIENT, "alice@example.test"));
		assert_true(has(&s, EV_DIR_SERVER, "452 4.5.3"));
		assert_true(has(&s, EV_DIR_SERVER, "221 2.0.0 Bye"));
		ev = sink_tls(&s, "established");
		assert_non_null(ev);
		assert_true(ev->decrypted);
		tls_conn_finish(t, &ts0);
		assert_int_equal(sink_count(&s, EV_ANOMALY, NULL), 0);
		tls_conn_free(t);
		sink_clear(&s);
		keylog_free(kl);
		capture_free(&c);
	}
}

static void
test_no_key_in_log(void **state)
{
	struct capture c;
	struct keylog *kl = keylog_new(NULL);
	struct sink s = {0};
	struct tls_conn *t;
	size_t i, n = 0;

	(void)state;
	if (!load(&fixtures[0], &c))
		skip();
	t = tls_conn_new(kl, &sink_ops, &s, true, NULL);
	capture_feed(t, &c, 0);
	tls_conn_finish(t, &ts0);
	tls_conn_free(t);
	for (i = 0; i < s.n; i++)
		if (s.ev[i]->type == EV_TLS && s.ev[i]->reason != NULL) {
			n++;
			assert_string_equal(s.ev[i]->reason,
			    "no key for this session in the key log");
			assert_false(s.ev[i]->decrypted);
			assert_string_equal(s.ev[i]->phase, "established");
		}
	assert_int_equal(n, 1);
	assert_null(s.pt[0]);
	sink_clear(&s);
	keylog_free(kl);
	capture_free(&c);
}

/*
 * The server's RSA key instead of a key log: RSA key exchange with and
 * without the extended master secret decrypts, fed whole or in 5-byte
 * pieces, to the same plaintext as the key log gives.
 */
static void
test_server_key(void **state)
{
	static const struct fixture rsa[] = {
	    {"starttls-tls12-rsa-aes128gcm", 10725, "TLSv1.2",
		"TLS_RSA_WITH_AES_128_GCM_SHA256", true},
	    {"starttls-tls12-rsa-noems", 10755, "TLSv1.2",
		"TLS_RSA_WITH_AES_128_GCM_SHA256", true},
	    {"starttls-tls12-rsa-aes128ccm8", 10735, "TLSv1.2",
		"TLS_RSA_WITH_AES_128_CCM_8", true},
	};
	struct capture c;
	struct keylog *kl;
	struct sink s = {0};
	struct tls_conn *t;
	const struct event *ev;
	char *path, *cause = NULL;
	size_t i, step;

	(void)state;
	path = fixture_path("rsa-server", "key");
	for (i = 0; i < sizeof rsa / sizeof rsa[0]; i++) {
		if (!load(&rsa[i], &c))
			skip();
		kl = keylog_new(NULL);
		assert_int_equal(keylog_load_server_key(kl, path, &cause), 0);
		for (step = 0; step <= 5; step += 5) {
			t = tls_conn_new(kl, &sink_ops, &s, true, NULL);
			capture_feed(t, &c, step);
			assert_true(tls_conn_decrypting(t));
			tls_conn_finish(t, &ts0);
			tls_conn_free(t);
			assert_int_equal(sink_count(&s, EV_ANOMALY, NULL), 0);
			ev = sink_tls(&s, "established");
			assert_non_null(ev);
			assert_true(ev->decrypted);
			assert_string_equal(ev->cipher, rsa[i].cipher);
			assert_true(has(&s, EV_DIR_SERVER, "452 4.5.3"));
			assert_true(has(&s, EV_DIR_CLIENT, "RCPT TO:<dave@"));
			sink_clear(&s);
		}
		keylog_free(kl);
		capture_free(&c);
	}
	free(path);
}

/* TLS 1.3 with only the application traffic secrets: the dialogue, and a
   reason saying the handshake stayed opaque. */
static void
test_app_secrets_only(void **state)
{
	struct capture c;
	struct keylog *kl = keylog_new(NULL);
	struct sink s = {0};
	struct tls_conn *t;
	const struct event *ev;
	char *line, *next;

	(void)state;
	if (!load(&fixtures[0], &c))
		skip();
	for (line = c.keylog; line != NULL && *line != '\0'; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			next++;
		if (strncmp(line, "CLIENT_TRAFFIC_SECRET_0 ", 24) == 0 ||
		    strncmp(line, "SERVER_TRAFFIC_SECRET_0 ", 24) == 0)
			keylog_add_text(kl, line,
			    next != NULL ? (size_t)(next - line)
					 : strlen(line));
	}
	assert_int_equal(keylog_count(kl), 2);
	t = tls_conn_new(kl, &sink_ops, &s, true, NULL);
	capture_feed(t, &c, 0);
	assert_true(tls_conn_decrypting(t));
	tls_conn_finish(t, &ts0);
	tls_conn_free(t);
	assert_int_equal(sink_count(&s, EV_ANOMALY, NULL), 0);
	ev = sink_tls(&s, "established");
	assert_non_null(ev);
	assert_true(ev->decrypted);
	assert_non_null(ev->reason);
	assert_non_null(strstr(ev->reason, "stays opaque"));
	assert_null(ev->cert_subject);
	assert_true(has(&s, EV_DIR_SERVER, "452 4.5.3"));
	assert_true(has(&s, EV_DIR_SERVER, "221 2.0.0 Bye"));
	sink_clear(&s);
	keylog_free(kl);
	capture_free(&c);
}

/* Flip one hex digit of every secret in a key log. */
static void
alter_secrets(char *text)
{
	char *line = text, *end, *sp, *p;

	while (*line != '\0') {
		if ((end = strchr(line, '\n')) == NULL)
			end = line + strlen(line);
		sp = NULL;
		for (p = line; p < end; p++)
			if (*p == ' ')
				sp = p;
		if (line[0] != '#' && sp != NULL && end - sp > 5)
			sp[5] = sp[5] == '0' ? '1' : '0';
		line = *end == '\n' ? end + 1 : end;
	}
}

static void
test_wrong_keys(void **state)
{
	static const size_t which[] = {0, 4, 7};
	struct capture c;
	struct keylog *kl;
	struct sink s = {0};
	struct tls_conn *t;
	const struct event *ev;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof which / sizeof which[0]; i++) {
		if (!load(&fixtures[which[i]], &c))
			skip();
		alter_secrets(c.keylog);
		kl = keylog_new(NULL);
		keylog_add_text(kl, c.keylog, strlen(c.keylog));
		t = tls_conn_new(kl, &sink_ops, &s, true, NULL);
		capture_feed(t, &c, 0);
		tls_conn_finish(t, &ts0);
		assert_false(tls_conn_decrypting(t));
		tls_conn_free(t);
		/* One anomaly per direction at most, never plaintext. */
		assert_true(
		    sink_count(&s, EV_ANOMALY, EV_ANOM_TLS_DECRYPT) >= 1);
		assert_true(
		    sink_count(&s, EV_ANOMALY, EV_ANOM_TLS_DECRYPT) <= 2);
		assert_non_null(strstr(
		    sink_anomaly(&s, EV_ANOM_TLS_DECRYPT)->detail, "key log"));
		assert_null(s.pt[0]);
		assert_null(s.pt[1]);
		assert_null(sink_tls(&s, "established") != NULL &&
				    sink_tls(&s, "established")->decrypted
				? "decrypted"
				: NULL);
		ev = NULL;
		for (size_t j = 0; j < s.n; j++)
			if (s.ev[j]->type == EV_TLS && s.ev[j]->reason != NULL)
				ev = s.ev[j];
		assert_non_null(ev);
		assert_non_null(strstr(ev->reason, "do not decrypt"));
		sink_clear(&s);
		keylog_free(kl);
		capture_free(&c);
	}
}

static void
test_bad_tag(void **state)
{
	static const size_t which[] = {0, 3, 5, 6, 7};
	struct capture c;
	struct keylog *kl;
	struct sink s = {0};
	struct tls_conn *t;
	size_t i, k, last;

	(void)state;
	for (i = 0; i < sizeof which / sizeof which[0]; i++) {
		if (!load(&fixtures[which[i]], &c))
			skip();
		/* Corrupt the last byte (inside the tag or MAC) of the
		   server's last-but-one chunk: the 452 reply or later. */
		last = c.n;
		for (k = 0; k < c.n; k++)
			if (c.chunks[k].dir == EV_DIR_SERVER)
				last = k;
		for (k = last - 1; k > 0; k--)
			if (c.chunks[k].dir == EV_DIR_SERVER)
				break;
		c.data[c.chunks[k].off + c.chunks[k].len - 1] ^= 0x01;
		kl = keylog_new(NULL);
		keylog_add_text(kl, c.keylog, strlen(c.keylog));
		t = tls_conn_new(kl, &sink_ops, &s, true, NULL);
		capture_feed(t, &c, 0);
		tls_conn_finish(t, &ts0);
		tls_conn_free(t);
		assert_int_equal(
		    sink_count(&s, EV_ANOMALY, EV_ANOM_TLS_DECRYPT), 1);
		/* The server's earlier replies came through, the client's
		   side is untouched, nothing after the bad record. */
		assert_true(has(&s, EV_DIR_SERVER, "250"));
		assert_false(has(&s, EV_DIR_SERVER, "221 2.0.0 Bye"));
		assert_true(has(&s, EV_DIR_CLIENT, "QUIT"));
		assert_non_null(sink_tls(&s, "established"));
		sink_clear(&s);
		keylog_free(kl);
		capture_free(&c);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hello_split),
	    cmocka_unit_test(test_truncated_handshake),
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_empty_handshake_record),
	    cmocka_unit_test(test_alert),
	    cmocka_unit_test(test_pending_cap),
	    cmocka_unit_test(test_fixtures_decrypt),
	    cmocka_unit_test(test_certificate_facts),
	    cmocka_unit_test(test_keys_later),
	    cmocka_unit_test(test_no_key_in_log),
	    cmocka_unit_test(test_server_key),
	    cmocka_unit_test(test_app_secrets_only),
	    cmocka_unit_test(test_wrong_keys),
	    cmocka_unit_test(test_bad_tag),
	};

	return cmocka_run_group_tests_name("tls", tests, NULL, NULL);
}
