/*
 * tls: the TLS layer of one SMTP session (after STARTTLS's 220, or from the
 * first byte on an implicit-TLS port).
 *
 * Per direction, bytes are framed into records (RFC 8446 5.1, RFC 5246
 * 6.2.1) in a buffer of at most one record; handshake messages are
 * reassembled across records (capped).  From the clear part of the
 * handshake we learn the client random, SNI, offered versions, the chosen
 * version and cipher suite, ALPN and (TLS 1.2) the server certificate.
 *
 * With a key log the records are decrypted: TLS 1.3 from the traffic
 * secrets (keys and IVs from HKDF-Expand-Label, RFC 8446 7.1/7.3, through
 * OpenSSL's HKDF in expand-only mode), TLS 1.0-1.2 from the master secret
 * (key block from OpenSSL's TLS1-PRF, RFC 5246 6.3).  Ciphers go through
 * EVP: AES-GCM, AES-CCM(-8) and ChaCha20-Poly1305 (RFC 5288, RFC 6655,
 * RFC 7905, RFC 8446 5.2-5.3) and AES-CBC with HMAC, MAC-then-encrypt or
 * encrypt-then-MAC (RFC 7366).  No cryptographic primitive is implemented
 * here.
 *
 * With the server's RSA key (keylog_load_server_key) and RSA key exchange,
 * the master secret comes from the ClientKeyExchange instead of the key log
 * (RFC 5246 8.1, RFC 7627 with the handshake kept for the session hash) and
 * is remembered for sessions that resume it.  A TLS 1.3 key log with only
 * the application secrets opens the application records; the protected
 * handshake records, which no key of ours opens, are skipped.
 *
 * Records that need a key that is not in the key log yet are queued (both
 * directions, in arrival order, at most TLS_PENDING_MAX bytes) and replayed
 * by tls_conn_retry() when the key log grew.
 *
 * Each direction's life is two enums: its framing (enum tls_frame: new,
 * records, dead, clear) changed only by tls_dir_frame(), and its protection
 * (enum tls_crypt: clear, keys needed, keyed, failed) changed only by
 * tls_dir_crypt().
 *
 * Invariants: a direction that lost its framing (garbage, gap, over-size
 * record) or failed to decrypt is never parsed again, and reports that once;
 * plaintext is handed on only after its record authenticated; nothing from
 * the wire is kept beyond the buffers named above.
 */
#include "config.h"

#include "tls.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "rd.h"
#include "xmalloc.h"

/* Content types (RFC 8446 5.1). */
#define TLS_CT_CCS 20
#define TLS_CT_ALERT 21
#define TLS_CT_HANDSHAKE 22
#define TLS_CT_APPDATA 23
#define TLS_CT_HEARTBEAT 24

/* Handshake message types (RFC 8446 4, RFC 5246 7.4). */
#define TLS_HS_CLIENT_HELLO 1
#define TLS_HS_SERVER_HELLO 2
#define TLS_HS_NEW_SESSION_TICKET 4
#define TLS_HS_ENCRYPTED_EXTENSIONS 8
#define TLS_HS_CERTIFICATE 11
#define TLS_HS_SERVER_HELLO_DONE 14
#define TLS_HS_CLIENT_KEY_EXCHANGE 16
#define TLS_HS_FINISHED 20
#define TLS_HS_KEY_UPDATE 24

/* Extensions. */
#define TLS_EXT_SERVER_NAME 0
#define TLS_EXT_ALPN 16
#define TLS_EXT_ETM 22
#define TLS_EXT_EMS 23
#define TLS_EXT_SESSION_TICKET 35
#define TLS_EXT_SUPPORTED_VERSIONS 43

#define TLS_HDR 5
#define TLS_TAG 16

/* What is kept of host names, ALPN and certificate strings. */
#define TLS_NAME_MAX 255
#define TLS_CERT_STR_MAX 1024

/* Why a resumed session cannot be opened with the server key. */
#define TLS_RESUMED_WHY                                                        \
	"it resumes an earlier TLS session (abbreviated handshake, no key "    \
	"exchange) whose full handshake is not in this capture: the "          \
	"server's key cannot recover its master secret; capture from before "  \
	"that session, or use a key log"
/* Handshake bytes kept for the session hash of extended_master_secret. */
#define TLS_TRANSCRIPT_MAX (2 * TLS_HANDSHAKE_MAX)
/* TLS 1.3 with only application secrets: protected handshake records
   skipped before the first application record must open. */
#define TLS_OPAQUE_MAX 64
/* Longest session ticket remembered for resumption (OpenSSL's are ~200
   bytes); a longer one is not followed. */
#define TLS_TICKET_MAX 2048

enum tls_kind {
	TLS_K_GCM,
	TLS_K_CHACHA,
	TLS_K_CBC,
	TLS_K_CCM,  /* AES-CCM, 16-byte tag (RFC 6655, RFC 8446) */
	TLS_K_CCM8, /* AES-CCM with an 8-byte tag */
	TLS_K_NONE, /* known by name, not decrypted */
};

struct tls_suite {
	uint16_t id;
	const char *name; /* IANA name */
	enum tls_kind kind;
	bool tls13;
	uint8_t key_len;
	const char *mac_md; /* CBC: HMAC digest */
	uint8_t mac_len;
	const char *prf_md; /* TLS 1.2 PRF, or the TLS 1.3 hash */
};

static const struct tls_suite tls_suites[] = {
    {0x1301, "TLS_AES_128_GCM_SHA256", TLS_K_GCM, true, 16, NULL, 0, "SHA256"},
    {0x1302, "TLS_AES_256_GCM_SHA384", TLS_K_GCM, true, 32, NULL, 0, "SHA384"},
    {0x1303, "TLS_CHACHA20_POLY1305_SHA256", TLS_K_CHACHA, true, 32, NULL, 0,
	"SHA256"},
    {0x1304, "TLS_AES_128_CCM_SHA256", TLS_K_CCM, true, 16, NULL, 0, "SHA256"},
    {0x1305, "TLS_AES_128_CCM_8_SHA256", TLS_K_CCM8, true, 16, NULL, 0,
	"SHA256"},
    /* TLS 1.2 AEAD */
    {0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", TLS_K_GCM, false, 16,
	NULL, 0, "SHA256"},
    {0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", TLS_K_GCM, false, 32,
	NULL, 0, "SHA384"},
    {0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", TLS_K_GCM, false, 16,
	NULL, 0, "SHA256"},
    {0xc02c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", TLS_K_GCM, false, 32,
	NULL, 0, "SHA384"},
    {0x009e, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", TLS_K_GCM, false, 16, NULL,
	0, "SHA256"},
    {0x009f, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", TLS_K_GCM, false, 32, NULL,
	0, "SHA384"},
    {0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256", TLS_K_GCM, false, 16, NULL, 0,
	"SHA256"},
    {0x009d, "TLS_RSA_WITH_AES_256_GCM_SHA384", TLS_K_GCM, false, 32, NULL, 0,
	"SHA384"},
    {0xcca8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", TLS_K_CHACHA, false,
	32, NULL, 0, "SHA256"},
    {0xcca9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", TLS_K_CHACHA,
	false, 32, NULL, 0, "SHA256"},
    {0xccaa, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", TLS_K_CHACHA, false,
	32, NULL, 0, "SHA256"},
    /* TLS 1.0-1.2 CBC with HMAC */
    {0xc013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", TLS_K_CBC, false, 16, "SHA1",
	20, "SHA256"},
    {0xc014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", TLS_K_CBC, false, 32, "SHA1",
	20, "SHA256"},
    {0xc009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", TLS_K_CBC, false, 16,
	"SHA1", 20, "SHA256"},
    {0xc00a, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", TLS_K_CBC, false, 32,
	"SHA1", 20, "SHA256"},
    {0xc027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", TLS_K_CBC, false, 16,
	"SHA256", 32, "SHA256"},
    {0xc028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", TLS_K_CBC, false, 32,
	"SHA384", 48, "SHA384"},
    {0xc023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", TLS_K_CBC, false, 16,
	"SHA256", 32, "SHA256"},
    {0xc024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", TLS_K_CBC, false, 32,
	"SHA384", 48, "SHA384"},
    {0x002f, "TLS_RSA_WITH_AES_128_CBC_SHA", TLS_K_CBC, false, 16, "SHA1", 20,
	"SHA256"},
    {0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", TLS_K_CBC, false, 32, "SHA1", 20,
	"SHA256"},
    {0x003c, "TLS_RSA_WITH_AES_128_CBC_SHA256", TLS_K_CBC, false, 16, "SHA256",
	32, "SHA256"},
    {0x003d, "TLS_RSA_WITH_AES_256_CBC_SHA256", TLS_K_CBC, false, 32, "SHA256",
	32, "SHA256"},
    {0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", TLS_K_CBC, false, 16, "SHA1",
	20, "SHA256"},
    {0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", TLS_K_CBC, false, 32, "SHA1",
	20, "SHA256"},
    {0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", TLS_K_CBC, false, 16,
	"SHA256", 32, "SHA256"},
    {0x006b, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", TLS_K_CBC, false, 32,
	"SHA256", 32, "SHA256"},
    /* Named only. */
    {0x000a, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", TLS_K_NONE, false, 0, NULL, 0,
	NULL},
    {0xc012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", TLS_K_NONE, false, 0, NULL,
	0, NULL},
    {0x0005, "TLS_RSA_WITH_RC4_128_SHA", TLS_K_NONE, false, 0, NULL, 0, NULL},
    /* TLS 1.2 AES-CCM (RFC 6655, RFC 7251) */
    {0xc09c, "TLS_RSA_WITH_AES_128_CCM", TLS_K_CCM, false, 16, NULL, 0,
	"SHA256"},
    {0xc09d, "TLS_RSA_WITH_AES_256_CCM", TLS_K_CCM, false, 32, NULL, 0,
	"SHA256"},
    {0xc09e, "TLS_DHE_RSA_WITH_AES_128_CCM", TLS_K_CCM, false, 16, NULL, 0,
	"SHA256"},
    {0xc09f, "TLS_DHE_RSA_WITH_AES_256_CCM", TLS_K_CCM, false, 32, NULL, 0,
	"SHA256"},
    {0xc0a0, "TLS_RSA_WITH_AES_128_CCM_8", TLS_K_CCM8, false, 16, NULL, 0,
	"SHA256"},
    {0xc0a1, "TLS_RSA_WITH_AES_256_CCM_8", TLS_K_CCM8, false, 32, NULL, 0,
	"SHA256"},
    {0xc0a2, "TLS_DHE_RSA_WITH_AES_128_CCM_8", TLS_K_CCM8, false, 16, NULL, 0,
	"SHA256"},
    {0xc0a3, "TLS_DHE_RSA_WITH_AES_256_CCM_8", TLS_K_CCM8, false, 32, NULL, 0,
	"SHA256"},
    {0xc0ac, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", TLS_K_CCM, false, 16, NULL, 0,
	"SHA256"},
    {0xc0ad, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM", TLS_K_CCM, false, 32, NULL, 0,
	"SHA256"},
    {0xc0ae, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", TLS_K_CCM8, false, 16, NULL,
	0, "SHA256"},
    {0xc0af, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8", TLS_K_CCM8, false, 32, NULL,
	0, "SHA256"},
};

/* SHA-256("HelloRetryRequest"): the ServerHello random of an HRR. */
static const uint8_t tls_hrr_random[32] = {0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a,
    0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2,
    0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8,
    0x33, 0x9c};

/* TLS 1.3 key epochs of a direction. */
enum tls_epoch {
	TLS_EP_CLEAR,
	TLS_EP_HANDSHAKE,
	TLS_EP_APP,
};

/* How a direction's bytes are framed; changed only by tls_dir_frame(). */
enum tls_frame {
	TLS_FR_NEW,	/* no valid record header yet */
	TLS_FR_RECORDS, /* records are being framed */
	TLS_FR_DEAD,	/* framing lost: the rest is ignored */
	TLS_FR_CLEAR,	/* plain text instead of TLS: passed on */
};

/* Whether a direction's records are protected and can be opened; changed
   only by tls_dir_crypt(). */
enum tls_crypt {
	TLS_CR_CLEAR,	  /* records are in the clear */
	TLS_CR_NEED_KEYS, /* encrypted from here on, no key installed */
	TLS_CR_KEYED,	  /* key material installed */
	TLS_CR_FAILED,	  /* decryption failed: the rest is ignored */
};

struct tls_dir {
	uint8_t *rec; /* one partial record, header included */
	size_t rec_len, rec_cap;
	uint8_t *hs; /* partial handshake messages (plaintext) */
	size_t hs_len, hs_cap;
	enum tls_frame frame;
	enum tls_crypt crypt;
	bool hs_dead; /* handshake reassembly gave up */

	enum tls_epoch epoch; /* TLS 1.3 */
	EVP_CIPHER_CTX *ctx;
	uint8_t key[32];
	uint8_t iv[16];
	uint8_t mac_key[48];
	uint8_t secret[KEYLOG_SECRET_MAX]; /* TLS 1.3 traffic secret */
	size_t secret_len;
	uint64_t seq;
	uint64_t records;
	uint64_t sealed;     /* records that needed decryption */
	uint64_t queued_app; /* application_data records queued */
	bool key_update;     /* apply a KeyUpdate after this record */
	/* TLS 1.3 without handshake secrets: the application keys are
	   tried on each protected record; those that do not open are the
	   handshake's, skipped. */
	bool hs_opaque;
	unsigned opaque_records;
};

/* A record waiting for its key in the pending queue. */
struct tls_pend_hdr {
	struct timeval ts;
	uint16_t len;
	uint16_t version;
	uint8_t dir;
	uint8_t type;
};

struct tls_conn {
	struct keylog *kl;
	const struct tls_ops *ops;
	void *arg;
	bool starttls;
	char *greeting_host;
	struct tls_dir d[2];
	uint8_t *pt; /* plaintext of the current record */

	/* What the hellos said. */
	bool have_ch, have_sh, hrr;
	uint8_t client_random[32];
	uint8_t server_random[32];
	uint16_t version; /* negotiated */
	uint16_t suite_id;
	const struct tls_suite *suite;
	bool etm_offered, etm;
	bool ems_offered, ems; /* extended_master_secret (RFC 7627) */
	char *sni;
	char *alpn; /* chosen by the server */

	/* The server certificate. */
	bool have_cert;
	char *cert_subject, *cert_issuer, *cert_san, *cert_not_after;
	char *cert_problems;

	/* RSA key exchange with the server's key: the handshake so far (for
	   the session hash), and the master secret it gave. */
	uint8_t *th;
	size_t th_len, th_cap;
	bool th_off;
	int key_match; /* keylog_server_key_matches() of the certificate */
	bool have_master;
	uint8_t master[48];
	/* TLS 1.2 resumption (RFC 5246 7.3, RFC 5077): the ClientHello's
	   session ID and ticket, the ServerHello's session ID. */
	uint8_t ch_sid[32], sh_sid[32];
	size_t ch_sid_len, sh_sid_len;
	uint8_t *ticket;
	size_t ticket_len;
	bool resumed;

	/* TLS 1.2 key block (both directions). */
	bool have_kb;
	uint8_t kb[2 * 48 + 2 * 32 + 2 * 16];

	/* Why nothing will be decrypted (owned), NULL while still possible. */
	char *no_decrypt;
	bool decrypted_any;
	bool app_seen;
	bool alert_seen;
	bool reported_hs, reported_est, reported_verdict;

	/* Records waiting for keys, in arrival order. */
	uint8_t *pend;
	size_t pend_len, pend_cap;
	bool draining;
	bool stall; /* a drained record still lacked its key */
};

static void tls_record(struct tls_conn *, int, uint8_t, uint16_t,
    const uint8_t *, size_t, const struct timeval *);
static void tls_transcript_drop(struct tls_conn *);
static bool tls_key_only(const struct tls_conn *);

/* The one place a direction's framing changes.  Clear is final; dead
   is too, but for plain text found where TLS should start. */
static void
tls_dir_frame(struct tls_dir *d, enum tls_frame to)
{
	if (d->frame == TLS_FR_CLEAR ||
	    (d->frame == TLS_FR_DEAD && to != TLS_FR_CLEAR))
		return;
	d->frame = to;
}

/* The one place a direction's protection changes.  A failure is final;
   TLS_CR_NEED_KEYS (a CCS, a TLS 1.3 ServerHello, a new epoch) drops
   installed keys. */
static void
tls_dir_crypt(struct tls_dir *d, enum tls_crypt to)
{
	if (d->crypt == TLS_CR_FAILED)
		return;
	d->crypt = to;
}

static const char *
tls_dir_name(int dir)
{
	return dir == EV_DIR_CLIENT ? "client" : "server";
}

static const char *
tls_version_name(uint16_t v)
{
	switch (v) {
	case 0x0300:
		return "SSLv3";
	case 0x0301:
		return "TLSv1.0";
	case 0x0302:
		return "TLSv1.1";
	case 0x0303:
		return "TLSv1.2";
	case 0x0304:
		return "TLSv1.3";
	}
	return NULL;
}

static const struct tls_suite *
tls_suite_find(uint16_t id)
{
	size_t i;

	for (i = 0; i < sizeof tls_suites / sizeof tls_suites[0]; i++)
		if (tls_suites[i].id == id)
			return &tls_suites[i];
	return NULL;
}

/* TLS 1.0-1.2 key exchange, read from the suite's IANA name
   ("TLS_<kex>_WITH_..."): "RSA", "DHE", "ECDHE"... */
static const char *
tls_suite_kex(const struct tls_suite *s, char *buf, size_t len)
{
	const char *p = s->name + 4, *w = strstr(p, "_WITH_");
	size_t n;

	if (s->tls13 || strncmp(s->name, "TLS_", 4) != 0 || w == NULL)
		return "ephemeral (EC)DHE";
	n = (size_t)(w - p);
	if (n >= len)
		n = len - 1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	/* DHE_RSA, ECDHE_ECDSA: the key exchange is the first word. */
	if ((w = strchr(buf, '_')) != NULL)
		buf[w - buf] = '\0';
	return buf;
}

static bool
tls_suite_rsa_kex(const struct tls_suite *s)
{
	return !s->tls13 && strncmp(s->name, "TLS_RSA_WITH_", 13) == 0;
}

static bool
tls13(const struct tls_conn *t)
{
	return t->version == 0x0304;
}

/* Copy a name from the wire keeping printable ASCII only. */
static char *
tls_clean_name(const uint8_t *p, size_t len)
{
	char *s;
	size_t i;

	if (len > TLS_NAME_MAX)
		len = TLS_NAME_MAX;
	s = xmalloc(len + 1);
	for (i = 0; i < len; i++)
		s[i] = (char)(p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '?');
	s[len] = '\0';
	return s;
}

static char *
tls_dupornull(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* ---- events ---- */

static void tls_anomaly(struct tls_conn *t, const char *what,
    const struct timeval *ts, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
tls_anomaly(struct tls_conn *t, const char *what, const struct timeval *ts,
    const char *fmt, ...)
{
	va_list ap;
	char buf[256];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	t->ops->emit(t->arg, event_new_anomaly(ts, what, buf));
}

static const char *
tls_cipher_name(const struct tls_conn *t, char *buf, size_t len)
{
	if (t->suite != NULL)
		return t->suite->name;
	snprintf(buf, len, "0x%04X", t->suite_id);
	return buf;
}

static struct event *
tls_event(struct tls_conn *t, const char *phase, const struct timeval *ts)
{
	struct event *ev = event_new(EV_TLS);
	char buf[16];

	ev->ts = *ts;
	ev->phase = phase;
	if (t->have_sh) {
		ev->version = tls_dupornull(tls_version_name(t->version));
		ev->cipher = xstrdup(tls_cipher_name(t, buf, sizeof buf));
	}
	ev->sni = tls_dupornull(t->sni);
	ev->alpn = tls_dupornull(t->alpn);
	if (t->have_cert) {
		ev->cert_subject = tls_dupornull(t->cert_subject);
		ev->cert_issuer = tls_dupornull(t->cert_issuer);
		ev->cert_san = tls_dupornull(t->cert_san);
		ev->cert_not_after = tls_dupornull(t->cert_not_after);
		ev->cert_problems = tls_dupornull(t->cert_problems);
	}
	return ev;
}

/* Are the keys for the current state of dir in the key log? */
static bool tls_keys_known(struct tls_conn *, int);

/* The clear part of the handshake is known: report it once. */
static void
tls_report_handshake(struct tls_conn *t, const struct timeval *ts)
{
	struct event *ev;

	if (t->reported_hs)
		return;
	t->reported_hs = true;
	ev = tls_event(t, "handshake", ts);
	if (t->no_decrypt != NULL) {
		ev->decrypted = false;
		ev->reason = xstrdup(t->no_decrypt);
		t->reported_verdict = true;
	} else
		ev->decrypted = tls_keys_known(t, EV_DIR_SERVER);
	t->ops->emit(t->arg, ev);
}

/* Decryption works: report everything once the handshake is over. */
static void
tls_report_established(struct tls_conn *t, const struct timeval *ts)
{
	struct event *ev;

	if (t->reported_est || t->reported_verdict)
		return;
	tls_report_handshake(t, ts);
	if (t->reported_verdict)
		return;
	t->reported_est = true;
	t->reported_verdict = true;
	ev = tls_event(t, "established", ts);
	ev->decrypted = true;
	/* On a decrypted session the reason says what stayed hidden. */
	if (t->d[EV_DIR_CLIENT].hs_opaque || t->d[EV_DIR_SERVER].hs_opaque)
		ev->reason = xstrdup(
		    "the key log holds only the application traffic secrets: "
		    "the application data is decrypted, the handshake "
		    "(certificate, extensions, Finished) stays opaque");
	t->ops->emit(t->arg, ev);
}

/* Nothing (more) will be decrypted: say why, once. */
static void
tls_report_verdict(
    struct tls_conn *t, const char *reason, const struct timeval *ts)
{
	struct event *ev;

	if (t->reported_verdict)
		return;
	t->reported_verdict = true;
	ev = tls_event(t, t->app_seen ? "established" : "handshake", ts);
	ev->decrypted = false;
	ev->reason = xstrdup(reason);
	t->ops->emit(t->arg, ev);
}

/* ---- alerts (RFC 8446 6, RFC 5246 7.2) ---- */

struct tls_alert_desc {
	uint8_t code;
	const char *name;
	const char *why;
};

static const struct tls_alert_desc tls_alerts[] = {
    {0, "close_notify", "orderly end of the TLS session"},
    {10, "unexpected_message",
	"a message arrived out of order: an implementation bug or a "
	"middlebox interfering with STARTTLS"},
    {20, "bad_record_mac",
	"a record failed its integrity check: corrupted or altered data "
	"on the path"},
    {21, "decryption_failed", "a record could not be decrypted"},
    {22, "record_overflow", "a record was longer than allowed"},
    {30, "decompression_failure", "compressed data could not be inflated"},
    {40, "handshake_failure",
	"the two sides share no acceptable protocol version, cipher suite "
	"or key exchange: compare the TLS settings of client and server"},
    {41, "no_certificate", "no certificate was available"},
    {42, "bad_certificate",
	"a certificate was corrupt or its signature did not verify"},
    {43, "unsupported_certificate", "a certificate type is not supported"},
    {44, "certificate_revoked", "a certificate was revoked by its CA"},
    {45, "certificate_expired",
	"a certificate has expired or is not yet valid: renew it"},
    {46, "certificate_unknown",
	"a certificate was rejected, typically because its name does not "
	"match or its chain is incomplete"},
    {47, "illegal_parameter",
	"a handshake field had a value out of range or inconsistent: "
	"incompatible implementations"},
    {48, "unknown_ca",
	"the certificate's issuer is not trusted (self-signed or private "
	"CA, or a missing intermediate certificate)"},
    {49, "access_denied", "the peer refused access after the handshake"},
    {50, "decode_error", "a message could not be parsed"},
    {51, "decrypt_error",
	"a signature or Finished check failed: wrong key, or data changed "
	"on the path"},
    {70, "protocol_version",
	"no TLS version in common: one side allows only versions the "
	"other does not offer"},
    {71, "insufficient_security",
	"the server requires stronger ciphers than the client offered"},
    {80, "internal_error",
	"the sender hit a local problem unrelated to the peer (e.g. an "
	"unreadable key or certificate file)"},
    {86, "inappropriate_fallback",
	"a version downgrade after a failed attempt was refused"},
    {90, "user_canceled", "the handshake was cancelled by the sender"},
    {100, "no_renegotiation", "renegotiation was refused"},
    {109, "missing_extension", "a required extension was missing"},
    {110, "unsupported_extension", "an extension was not expected"},
    {112, "unrecognized_name",
	"the server has no certificate for the name sent in SNI"},
    {113, "bad_certificate_status_response", "an OCSP response was bad"},
    {115, "unknown_psk_identity", "the pre-shared key was not known"},
    {116, "certificate_required",
	"the server requires a client certificate and got none"},
    {120, "no_application_protocol",
	"no application protocol (ALPN) in common"},
};

static void
tls_alert(struct tls_conn *t, int dir, const uint8_t *p, size_t len,
    const struct timeval *ts)
{
	const struct tls_alert_desc *a = NULL;
	struct event *ev;
	struct rd r;
	uint8_t level, code;
	size_t i;
	char name[32], *reason;

	rd_init(&r, p, len);
	while (rd_left(&r) >= 2) {
		level = rd_u8(&r);
		code = rd_u8(&r);
		t->alert_seen = true;
		if (code == 0)
			continue; /* close_notify: the normal end */
		for (i = 0; i < sizeof tls_alerts / sizeof tls_alerts[0]; i++)
			if (tls_alerts[i].code == code)
				a = &tls_alerts[i];
		if (a == NULL)
			snprintf(name, sizeof name, "alert_%u", code);
		ev = tls_event(t, "alert", ts);
		xasprintf(&ev->alert, "%s %s",
		    level == 2 ? "fatal" : (level == 1 ? "warning" : "unknown"),
		    a != NULL ? a->name : name);
		xasprintf(&reason, "the %s %s: %s%s", tls_dir_name(dir),
		    level == 2 ? "aborted TLS" : "warned",
		    a != NULL ? a->why : "an alert code not known to smtpscope",
		    level != 2 || t->reported_est ? ""
		    : t->starttls
			? "; a sender whose STARTTLS fails usually defers the "
			  "mail (4xx) and retries later, or falls back to "
			  "plain text"
			: "; a sender whose TLS handshake fails defers the "
			  "mail and retries later");
		ev->reason = reason;
		ev->decrypted = t->decrypted_any;
		t->ops->emit(t->arg, ev);
		a = NULL;
	}
	if (rd_left(&r) != 0)
		tls_anomaly(t, EV_ANOM_TLS_RECORD, ts,
		    "alert record from the %s has an odd length %zu",
		    tls_dir_name(dir), len);
}

/* ---- certificates ---- */

static char *
tls_x509_name(const X509_NAME *n)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s, *data;
	long len;

	if (b == NULL)
		return NULL;
	/* RFC 2253 with high bytes escaped: plain ASCII. */
	X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253);
	len = BIO_get_mem_data(b, &data);
	if (len < 0)
		len = 0;
	if (len > TLS_CERT_STR_MAX)
		len = TLS_CERT_STR_MAX;
	s = xmalloc((size_t)len + 1);
	memcpy(s, data, (size_t)len);
	s[len] = '\0';
	BIO_free(b);
	return s;
}

static void
tls_append(char *buf, size_t len, const char *what)
{
	size_t used = strlen(buf);

	if (used + strlen(what) + 2 >= len)
		return;
	if (used > 0)
		buf[used++] = ',';
	strcpy(buf + used, what);
}

static char *
tls_x509_san(X509 *x)
{
	GENERAL_NAMES *names;
	const GENERAL_NAME *g;
	char buf[TLS_CERT_STR_MAX], one[TLS_NAME_MAX + 1], *s;
	const unsigned char *p;
	int i, n, len;

	names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	if (names == NULL)
		return NULL;
	buf[0] = '\0';
	n = sk_GENERAL_NAME_num(names);
	for (i = 0; i < n; i++) {
		g = sk_GENERAL_NAME_value(names, i);
		if (g->type == GEN_DNS) {
			p = ASN1_STRING_get0_data(g->d.dNSName);
			len = ASN1_STRING_length(g->d.dNSName);
			s = tls_clean_name(p, len < 0 ? 0 : (size_t)len);
			tls_append(buf, sizeof buf, s);
			free(s);
		} else if (g->type == GEN_IPADD) {
			p = ASN1_STRING_get0_data(g->d.iPAddress);
			len = ASN1_STRING_length(g->d.iPAddress);
			if (len == 4) {
				snprintf(one, sizeof one, "%u.%u.%u.%u", p[0],
				    p[1], p[2], p[3]);
				tls_append(buf, sizeof buf, one);
			} else if (len == 16) {
				snprintf(one, sizeof one,
				    "%x:%x:%x:%x:%x:%x:%x:%x", p[0] << 8 | p[1],
				    p[2] << 8 | p[3], p[4] << 8 | p[5],
				    p[6] << 8 | p[7], p[8] << 8 | p[9],
				    p[10] << 8 | p[11], p[12] << 8 | p[13],
				    p[14] << 8 | p[15]);
				tls_append(buf, sizeof buf, one);
			}
		}
	}
	GENERAL_NAMES_free(names);
	return buf[0] != '\0' ? xstrdup(buf) : NULL;
}

static char *
tls_asn1_time(const ASN1_TIME *at)
{
	struct tm tm;
	char buf[32];

	if (at == NULL || ASN1_TIME_to_tm(at, &tm) != 1)
		return NULL;
	strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return xstrdup(buf);
}

/* The server's certificate (DER); problems judged at capture time ts. */
static void
tls_certificate(struct tls_conn *t, const uint8_t *der, size_t len,
    const struct timeval *ts)
{
	const unsigned char *p = der;
	char problems[128];
	time_t when = ts->tv_sec;
	bool named = false, matched = false;
	X509 *x;

	if (t->have_cert)
		return;
	if ((x = d2i_X509(NULL, &p, (long)len)) == NULL) {
		tls_anomaly(t, EV_ANOM_TLS_RECORD, ts,
		    "the server's certificate could not be parsed");
		return;
	}
	t->have_cert = true;
	t->cert_subject = tls_x509_name(X509_get_subject_name(x));
	t->cert_issuer = tls_x509_name(X509_get_issuer_name(x));
	t->cert_san = tls_x509_san(x);
	t->cert_not_after = tls_asn1_time(X509_get0_notAfter(x));

	problems[0] = '\0';
	if (X509_cmp_time(X509_get0_notAfter(x), &when) < 0)
		tls_append(problems, sizeof problems, "expired");
	if (X509_cmp_time(X509_get0_notBefore(x), &when) > 0)
		tls_append(problems, sizeof problems, "not-yet-valid");
	if (X509_get_extension_flags(x) & EXFLAG_SS)
		tls_append(problems, sizeof problems, "self-signed");
	/* The name must match what the client asked for (SNI) or, for
	   STARTTLS, the name the server announced in its greeting. */
	if (t->sni != NULL) {
		named = true;
		matched |= X509_check_host(x, t->sni, 0, 0, NULL) == 1;
	}
	if (t->greeting_host != NULL) {
		named = true;
		matched |=
		    X509_check_host(x, t->greeting_host, 0, 0, NULL) == 1;
	}
	if (named && !matched)
		tls_append(problems, sizeof problems, "name-mismatch");
	if (problems[0] != '\0')
		t->cert_problems = xstrdup(problems);
	X509_free(x);
}

/* ---- key derivation (OpenSSL KDFs) ---- */

static bool
tls_hkdf_expand_label(const char *md, const uint8_t *secret, size_t slen,
    const char *label, uint8_t *out, size_t outlen)
{
	uint8_t info[2 + 1 + 6 + 32 + 1];
	size_t llen = strlen(label), n = 0;
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY, ok;
	EVP_KDF *kdf;
	EVP_KDF_CTX *kctx;
	OSSL_PARAM params[5];

	if (llen > 32)
		return false;
	/* struct HkdfLabel, RFC 8446 7.1, with an empty context. */
	info[n++] = (uint8_t)(outlen >> 8);
	info[n++] = (uint8_t)outlen;
	info[n++] = (uint8_t)(6 + llen);
	memcpy(info + n, "tls13 ", 6);
	n += 6;
	memcpy(info + n, label, llen);
	n += llen;
	info[n++] = 0;

	if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) == NULL)
		return false;
	kctx = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	if (kctx == NULL)
		return false;
	params[0] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	params[1] = OSSL_PARAM_construct_utf8_string(
	    OSSL_KDF_PARAM_DIGEST, (char *)md, 0);
	params[2] = OSSL_PARAM_construct_octet_string(
	    OSSL_KDF_PARAM_KEY, (void *)secret, slen);
	params[3] =
	    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, n);
	params[4] = OSSL_PARAM_construct_end();
	ok = EVP_KDF_derive(kctx, out, outlen, params);
	EVP_KDF_CTX_free(kctx);
	return ok > 0;
}

static bool
tls_prf(const char *md, const uint8_t *secret, size_t slen, const uint8_t *seed,
    size_t seedlen, uint8_t *out, size_t outlen)
{
	EVP_KDF *kdf;
	EVP_KDF_CTX *kctx;
	OSSL_PARAM params[4];
	int ok;

	if ((kdf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL)) == NULL)
		return false;
	kctx = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	if (kctx == NULL)
		return false;
	params[0] = OSSL_PARAM_construct_utf8_string(
	    OSSL_KDF_PARAM_DIGEST, (char *)md, 0);
	params[1] = OSSL_PARAM_construct_octet_string(
	    OSSL_KDF_PARAM_SECRET, (void *)secret, slen);
	params[2] = OSSL_PARAM_construct_octet_string(
	    OSSL_KDF_PARAM_SEED, (void *)seed, seedlen);
	params[3] = OSSL_PARAM_construct_end();
	ok = EVP_KDF_derive(kctx, out, outlen, params);
	EVP_KDF_CTX_free(kctx);
	return ok > 0;
}

static const EVP_CIPHER *
tls_evp_cipher(const struct tls_suite *s)
{
	switch (s->kind) {
	case TLS_K_GCM:
		return s->key_len == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
	case TLS_K_CHACHA:
		return EVP_chacha20_poly1305();
	case TLS_K_CBC:
		return s->key_len == 16 ? EVP_aes_128_cbc() : EVP_aes_256_cbc();
	case TLS_K_CCM:
	case TLS_K_CCM8:
		return s->key_len == 16 ? EVP_aes_128_ccm() : EVP_aes_256_ccm();
	case TLS_K_NONE:
		break;
	}
	return NULL;
}

/* Authentication tag bytes of an AEAD suite. */
static size_t
tls_tag_len(const struct tls_suite *s)
{
	return s->kind == TLS_K_CCM8 ? 8 : TLS_TAG;
}

static bool
tls_ccm(const struct tls_suite *s)
{
	return s->kind == TLS_K_CCM || s->kind == TLS_K_CCM8;
}

static size_t
tls_md_len(const char *md)
{
	return strcmp(md, "SHA384") == 0 ? 48 : 32;
}

/* Fixed IV bytes per direction in the TLS 1.2 key block. */
static size_t
tls12_iv_len(const struct tls_suite *s)
{
	switch (s->kind) {
	case TLS_K_GCM:
	case TLS_K_CCM:
	case TLS_K_CCM8:
		return 4;
	case TLS_K_CHACHA:
		return 12;
	case TLS_K_CBC:
		return 16;
	case TLS_K_NONE:
		break;
	}
	return 0;
}

/* Derive key and IV of a TLS 1.3 direction from d->secret. */
static bool
tls13_derive(struct tls_conn *t, struct tls_dir *d)
{
	const struct tls_suite *s = t->suite;

	return tls_hkdf_expand_label(s->prf_md, d->secret, d->secret_len, "key",
		   d->key, s->key_len) &&
	       tls_hkdf_expand_label(
		   s->prf_md, d->secret, d->secret_len, "iv", d->iv, 12);
}

static bool
tls_ctx_init(struct tls_conn *t, struct tls_dir *d)
{
	const EVP_CIPHER *c = tls_evp_cipher(t->suite);

	if (d->ctx == NULL && (d->ctx = EVP_CIPHER_CTX_new()) == NULL)
		return false;
	if (c == NULL || EVP_CIPHER_CTX_reset(d->ctx) != 1)
		return false;
	if (t->suite->kind == TLS_K_CBC) {
		/* TLS 1.0 chains the IV from the key block across records;
		   later versions send an explicit IV that we simply decrypt
		   as the first block and drop. */
		if (EVP_DecryptInit_ex(d->ctx, c, NULL, d->key, d->iv) != 1)
			return false;
		EVP_CIPHER_CTX_set_padding(d->ctx, 0);
		return true;
	}
	/* CCM takes its tag before the key: it is set up per record. */
	if (tls_ccm(t->suite))
		return true;
	if (EVP_DecryptInit_ex(d->ctx, c, NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(d->ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) != 1)
		return false;
	return true;
}

static const char *
tls13_label(int dir, enum tls_epoch ep)
{
	if (ep == TLS_EP_HANDSHAKE)
		return dir == EV_DIR_CLIENT ? "CLIENT_HANDSHAKE_TRAFFIC_SECRET"
					    : "SERVER_HANDSHAKE_TRAFFIC_SECRET";
	return dir == EV_DIR_CLIENT ? "CLIENT_TRAFFIC_SECRET_0"
				    : "SERVER_TRAFFIC_SECRET_0";
}

static bool
tls_keys_known(struct tls_conn *t, int dir)
{
	uint8_t secret[KEYLOG_SECRET_MAX];
	size_t len;

	if (t->kl == NULL || !t->have_ch || t->no_decrypt != NULL)
		return false;
	if (tls13(t))
		return (t->d[dir].epoch != TLS_EP_APP &&
			   keylog_lookup(t->kl,
			       tls13_label(dir, TLS_EP_HANDSHAKE),
			       t->client_random, secret, &len)) ||
		       keylog_lookup(t->kl, tls13_label(dir, TLS_EP_APP),
			   t->client_random, secret, &len);
	/* RSA key exchange with the server's key: known once the
	   ClientKeyExchange is read (a failure there is reported then). */
	if (t->have_master ||
	    (t->suite != NULL && !t->resumed && tls_suite_rsa_kex(t->suite) &&
		keylog_has_server_key(t->kl)))
		return true;
	return keylog_lookup(
	    t->kl, "CLIENT_RANDOM", t->client_random, secret, &len);
}

/*
 * Install the keys of dir for its current epoch.  Returns 0 when installed,
 * 1 when the key log does not have them (yet), -1 on failure (*why set).
 */
static int
tls_keys_install(struct tls_conn *t, int dir, const char **why)
{
	struct tls_dir *d = &t->d[dir];
	const struct tls_suite *s = t->suite;
	uint8_t master[KEYLOG_SECRET_MAX], seed[13 + 64];
	size_t len, off, mac, ivl;

	*why = NULL;
	if (tls13(t)) {
		/* A key log with only the application secrets: try them on
		   the protected handshake records too (see tls_decrypt). */
		if (!keylog_lookup(t->kl, tls13_label(dir, d->epoch),
			t->client_random, d->secret, &d->secret_len)) {
			if (d->epoch != TLS_EP_HANDSHAKE ||
			    !keylog_lookup(t->kl, tls13_label(dir, TLS_EP_APP),
				t->client_random, d->secret, &d->secret_len))
				return 1;
			d->hs_opaque = true;
		}
		if (d->secret_len != tls_md_len(s->prf_md)) {
			*why = "the key log's secret has the wrong length for "
			       "this cipher suite";
			return -1;
		}
		if (!tls13_derive(t, d)) {
			*why = "key derivation failed";
			return -1;
		}
	} else {
		if (!t->have_kb) {
			if (keylog_lookup(t->kl, "CLIENT_RANDOM",
				t->client_random, master, &len))
				;
			else if (t->have_master) {
				/* From the server's key (RSA key exchange). */
				memcpy(master, t->master, sizeof t->master);
				len = sizeof t->master;
			} else
				return 1;
			if (len != 48) {
				*why = "the key log's master secret is not 48 "
				       "bytes";
				return -1;
			}
			/* A PRF seed: bytes, not a string. */
			memcpy(seed, "key expansion", 13); /* NOLINT */
			memcpy(seed + 13, t->server_random, 32);
			memcpy(seed + 45, t->client_random, 32);
			if (!tls_prf(
				t->version < 0x0303 ? "MD5-SHA1" : s->prf_md,
				master, len, seed, sizeof seed, t->kb,
				sizeof t->kb)) {
				*why = "key derivation failed";
				return -1;
			}
			t->have_kb = true;
		}
		/* RFC 5246 6.3: MAC keys, encryption keys, IVs, each
		   client first. */
		mac = s->mac_len;
		ivl = tls12_iv_len(s);
		off = dir == EV_DIR_CLIENT ? 0 : mac;
		memcpy(d->mac_key, t->kb + off, mac);
		off = 2 * mac + (dir == EV_DIR_CLIENT ? 0 : s->key_len);
		memcpy(d->key, t->kb + off, s->key_len);
		off = 2 * mac + 2 * (size_t)s->key_len +
		      (dir == EV_DIR_CLIENT ? 0 : ivl);
		memcpy(d->iv, t->kb + off, ivl);
	}
	if (!tls_ctx_init(t, d)) {
		*why = "the cipher could not be set up";
		return -1;
	}
	tls_dir_crypt(d, TLS_CR_KEYED);
	return 0;
}

/* RFC 8446 7.2: next traffic secret after a KeyUpdate. */
static bool
tls13_key_update(struct tls_conn *t, struct tls_dir *d)
{
	uint8_t next[KEYLOG_SECRET_MAX];

	if (!tls_hkdf_expand_label(t->suite->prf_md, d->secret, d->secret_len,
		"traffic upd", next, d->secret_len))
		return false;
	memcpy(d->secret, next, d->secret_len);
	d->seq = 0;
	return tls13_derive(t, d) && tls_ctx_init(t, d);
}

/* ---- record decryption ---- */

/*
 * AES-CCM through EVP: the tag and the total length are given before the
 * data, and the one update of the ciphertext verifies the tag.
 */
static bool
tls_ccm_open(const struct tls_suite *s, struct tls_dir *d,
    const uint8_t nonce[12], const uint8_t *aad, size_t aadlen,
    const uint8_t *ct, size_t ctlen, const uint8_t *tag, uint8_t *out)
{
	int outl;
	size_t taglen = tls_tag_len(s);

	return EVP_DecryptInit_ex(
		   d->ctx, tls_evp_cipher(s), NULL, NULL, NULL) == 1 &&
	       EVP_CIPHER_CTX_ctrl(d->ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) ==
		   1 &&
	       EVP_CIPHER_CTX_ctrl(d->ctx, EVP_CTRL_AEAD_SET_TAG, (int)taglen,
		   (void *)tag) == 1 &&
	       EVP_DecryptInit_ex(d->ctx, NULL, NULL, d->key, nonce) == 1 &&
	       EVP_DecryptUpdate(d->ctx, NULL, &outl, NULL, (int)ctlen) == 1 &&
	       EVP_DecryptUpdate(d->ctx, NULL, &outl, aad, (int)aadlen) == 1 &&
	       EVP_DecryptUpdate(d->ctx, out, &outl, ct, (int)ctlen) > 0;
}

static bool
tls_aead_open(const struct tls_suite *s, struct tls_dir *d,
    const uint8_t nonce[12], const uint8_t *aad, size_t aadlen,
    const uint8_t *ct, size_t ctlen, const uint8_t *tag, uint8_t *out)
{
	int outl, fin;

	if (tls_ccm(s))
		return tls_ccm_open(
		    s, d, nonce, aad, aadlen, ct, ctlen, tag, out);
	if (EVP_DecryptInit_ex(d->ctx, NULL, NULL, d->key, nonce) != 1 ||
	    EVP_DecryptUpdate(d->ctx, NULL, &outl, aad, (int)aadlen) != 1 ||
	    EVP_DecryptUpdate(d->ctx, out, &outl, ct, (int)ctlen) != 1 ||
	    EVP_CIPHER_CTX_ctrl(
		d->ctx, EVP_CTRL_AEAD_SET_TAG, TLS_TAG, (void *)tag) != 1)
		return false;
	fin = EVP_DecryptFinal_ex(d->ctx, out + outl, &outl);
	return fin == 1;
}

/* Sequence number, type, version, length: the TLS 1.2 MAC/AAD header. */
static void
tls12_pseudo_header(
    uint8_t h[13], uint64_t seq, uint8_t type, uint16_t version, size_t len)
{
	int i;

	for (i = 0; i < 8; i++)
		h[i] = (uint8_t)(seq >> (56 - 8 * i));
	h[8] = type;
	h[9] = (uint8_t)(version >> 8);
	h[10] = (uint8_t)version;
	h[11] = (uint8_t)(len >> 8);
	h[12] = (uint8_t)len;
}

static bool
tls_hmac(const char *md, const uint8_t *key, size_t keylen,
    const uint8_t hdr[13], const uint8_t *data, size_t len, uint8_t *out,
    size_t outlen)
{
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx;
	OSSL_PARAM params[2];
	size_t got = 0;
	bool ok;

	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return false;
	ctx = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);
	if (ctx == NULL)
		return false;
	params[0] = OSSL_PARAM_construct_utf8_string(
	    OSSL_MAC_PARAM_DIGEST, (char *)md, 0);
	params[1] = OSSL_PARAM_construct_end();
	ok = EVP_MAC_init(ctx, key, keylen, params) == 1 &&
	     EVP_MAC_update(ctx, hdr, 13) == 1 &&
	     EVP_MAC_update(ctx, data, len) == 1 &&
	     EVP_MAC_final(ctx, out, &got, outlen) == 1 && got == outlen;
	EVP_MAC_CTX_free(ctx);
	return ok;
}

/* TLS 1.0-1.2 CBC: returns the plaintext length, or -1. */
static long
tls12_cbc_open(struct tls_conn *t, struct tls_dir *d, uint8_t type,
    uint16_t version, const uint8_t *body, size_t len, const char **why)
{
	const struct tls_suite *s = t->suite;
	size_t mac = s->mac_len, skip = t->version >= 0x0302 ? 16 : 0;
	size_t ctlen = len, i, plen, pad;
	uint8_t hdr[13], want[48];
	int outl;

	if (t->etm) {
		if (len < mac + 16) {
			*why = "record too short for its MAC";
			return -1;
		}
		ctlen = len - mac;
		tls12_pseudo_header(hdr, d->seq, type, version, ctlen);
		if (!tls_hmac(s->mac_md, d->mac_key, mac, hdr, body, ctlen,
			want, mac) ||
		    CRYPTO_memcmp(want, body + ctlen, mac) != 0) {
			*why = "the record's MAC does not verify";
			return -1;
		}
	}
	if (ctlen == 0 || ctlen % 16 != 0 || ctlen < skip + 16) {
		*why = "CBC record length is not a whole number of blocks";
		return -1;
	}
	if (EVP_DecryptUpdate(d->ctx, t->pt, &outl, body, (int)ctlen) != 1 ||
	    (size_t)outl != ctlen) {
		*why = "CBC decryption failed";
		return -1;
	}
	/* Drop the explicit IV block, then the padding (RFC 5246 6.2.3.2). */
	memmove(t->pt, t->pt + skip, ctlen - skip);
	plen = ctlen - skip;
	pad = t->pt[plen - 1];
	if (pad + 1 > plen || (!t->etm && pad + 1 + mac > plen)) {
		*why = "bad CBC padding (wrong key?)";
		return -1;
	}
	for (i = plen - 1 - pad; i < plen; i++)
		if (t->pt[i] != pad) {
			*why = "bad CBC padding (wrong key?)";
			return -1;
		}
	plen -= pad + 1;
	if (!t->etm) {
		plen -= mac;
		tls12_pseudo_header(hdr, d->seq, type, version, plen);
		if (!tls_hmac(s->mac_md, d->mac_key, mac, hdr, t->pt, plen,
			want, mac) ||
		    CRYPTO_memcmp(want, t->pt + plen, mac) != 0) {
			*why = "the record's MAC does not verify (wrong key?)";
			return -1;
		}
	}
	return (long)plen;
}

/*
 * Decrypt one record of dir into t->pt.  Returns the plaintext length and
 * the inner content type, -1 on failure (*why), -2 when keys are missing,
 * -3 for a TLS 1.3 handshake record that stays opaque (no handshake secret).
 */
static long
tls_decrypt(struct tls_conn *t, int dir, uint8_t type, uint16_t version,
    const uint8_t *body, size_t len, uint8_t *inner, const char **why)
{
	struct tls_dir *d = &t->d[dir];
	const struct tls_suite *s = t->suite;
	uint8_t nonce[12], aad[13];
	size_t i, ctlen, tag;
	long n;
	int r;

	if (d->crypt != TLS_CR_KEYED) {
		r = tls_keys_install(t, dir, why);
		if (r == 1)
			return -2;
		if (r < 0)
			return -1;
	}
	*inner = type;
	if (t->pt == NULL)
		t->pt = xmalloc(TLS_RECORD_MAX + 64);
	if (len > TLS_RECORD_MAX) {
		*why = "record too long";
		return -1;
	}
	tag = tls_tag_len(s);
	if (tls13(t)) {
		if (len < tag + 1) {
			*why = "record shorter than its authentication tag";
			return -1;
		}
		memcpy(nonce, d->iv, 12);
		for (i = 0; i < 8; i++)
			nonce[4 + i] ^= (uint8_t)(d->seq >> (56 - 8 * i));
		aad[0] = type;
		aad[1] = (uint8_t)(version >> 8);
		aad[2] = (uint8_t)version;
		aad[3] = (uint8_t)(len >> 8);
		aad[4] = (uint8_t)len;
		ctlen = len - tag;
		if (!tls_aead_open(s, d, nonce, aad, 5, body, ctlen,
			body + ctlen, t->pt)) {
			/* Without handshake secrets, a handshake record:
			   skipped, the next one is tried. */
			if (d->hs_opaque && d->epoch == TLS_EP_HANDSHAKE)
				return -3;
			*why = "authentication tag mismatch";
			return -1;
		}
		if (d->hs_opaque && d->epoch == TLS_EP_HANDSHAKE)
			d->epoch = TLS_EP_APP;
		/* RFC 8446 5.4: strip the zero padding; the last non-zero
		   byte is the real content type. */
		while (ctlen > 0 && t->pt[ctlen - 1] == 0)
			ctlen--;
		if (ctlen == 0) {
			*why = "decrypted record has no content type";
			return -1;
		}
		*inner = t->pt[ctlen - 1];
		n = (long)(ctlen - 1);
	} else if (s->kind == TLS_K_GCM || tls_ccm(s)) {
		/* RFC 5288, RFC 6655: 4-byte salt + 8-byte explicit nonce. */
		if (len < 8 + tag) {
			*why = "record shorter than nonce and tag";
			return -1;
		}
		memcpy(nonce, d->iv, 4);
		memcpy(nonce + 4, body, 8);
		ctlen = len - 8 - tag;
		tls12_pseudo_header(aad, d->seq, type, version, ctlen);
		if (!tls_aead_open(s, d, nonce, aad, 13, body + 8, ctlen,
			body + 8 + ctlen, t->pt)) {
			*why = "authentication tag mismatch";
			return -1;
		}
		n = (long)ctlen;
	} else if (s->kind == TLS_K_CHACHA) {
		/* RFC 7905: the IV XOR the sequence number. */
		if (len < TLS_TAG) {
			*why = "record shorter than its tag";
			return -1;
		}
		memcpy(nonce, d->iv, 12);
		for (i = 0; i < 8; i++)
			nonce[4 + i] ^= (uint8_t)(d->seq >> (56 - 8 * i));
		ctlen = len - TLS_TAG;
		tls12_pseudo_header(aad, d->seq, type, version, ctlen);
		if (!tls_aead_open(s, d, nonce, aad, 13, body, ctlen,
			body + ctlen, t->pt)) {
			*why = "authentication tag mismatch";
			return -1;
		}
		n = (long)ctlen;
	} else {
		if ((n = tls12_cbc_open(t, d, type, version, body, len, why)) <
		    0)
			return -1;
	}
	d->seq++;
	return n;
}

/* ---- handshake messages ---- */

static void
tls_client_hello(struct tls_conn *t, struct rd *r)
{
	struct rd cs, ext, e, l;
	uint16_t type;
	uint8_t n;
	size_t len;

	rd_be16(r); /* legacy_version */
	rd_copy(r, t->client_random, 32);
	t->ch_sid_len = rd_u8(r); /* session id */
	if (t->ch_sid_len > sizeof t->ch_sid)
		r->err = 1;
	else
		rd_copy(r, t->ch_sid, t->ch_sid_len);
	cs = rd_sub(r, rd_be16(r)); /* cipher suites */
	(void)cs;
	rd_skip(r, rd_u8(r)); /* compression */
	if (r->err)
		return;
	t->have_ch = true;
	if (rd_left(r) < 2)
		return;
	ext = rd_sub(r, rd_be16(r));
	while (rd_left(&ext) >= 4) {
		type = rd_be16(&ext);
		e = rd_sub(&ext, rd_be16(&ext));
		switch (type) {
		case TLS_EXT_SERVER_NAME:
			l = rd_sub(&e, rd_be16(&e));
			while (rd_left(&l) >= 3) {
				n = rd_u8(&l);
				len = rd_be16(&l);
				if (rd_left(&l) < len)
					break;
				if (n == 0 && t->sni == NULL && len > 0)
					t->sni = tls_clean_name(
					    rd_bytes(&l, len), len);
				else
					rd_skip(&l, len);
			}
			break;
		case TLS_EXT_ETM:
			t->etm_offered = true;
			break;
		case TLS_EXT_EMS:
			t->ems_offered = true;
			break;
		case TLS_EXT_SESSION_TICKET:
			len = rd_left(&e);
			if (len > 0 && len <= TLS_TICKET_MAX &&
			    t->ticket == NULL) {
				t->ticket = xmalloc(len);
				rd_copy(&e, t->ticket, len);
				t->ticket_len = len;
			}
			break;
		}
	}
}

static void
tls_server_hello(struct tls_conn *t, struct rd *r, const struct timeval *ts)
{
	struct rd ext, e, l;
	uint16_t type, version;
	char buf[96];

	version = rd_be16(r);
	rd_copy(r, t->server_random, 32);
	t->sh_sid_len = rd_u8(r);
	if (t->sh_sid_len > sizeof t->sh_sid)
		r->err = 1;
	else
		rd_copy(r, t->sh_sid, t->sh_sid_len);
	t->suite_id = rd_be16(r);
	rd_u8(r);
	if (r->err) {
		tls_anomaly(t, EV_ANOM_TLS_RECORD, ts, "truncated ServerHello");
		return;
	}
	if (memcmp(t->server_random, tls_hrr_random, 32) == 0) {
		/* HelloRetryRequest: the real ServerHello follows the
		   client's second ClientHello. */
		t->hrr = true;
		return;
	}
	t->etm = false;
	t->ems = false;
	if (rd_left(r) >= 2) {
		ext = rd_sub(r, rd_be16(r));
		while (rd_left(&ext) >= 4) {
			type = rd_be16(&ext);
			e = rd_sub(&ext, rd_be16(&ext));
			if (type == TLS_EXT_SUPPORTED_VERSIONS &&
			    rd_left(&e) >= 2)
				version = rd_be16(&e);
			else if (type == TLS_EXT_ETM)
				t->etm = t->etm_offered;
			else if (type == TLS_EXT_EMS)
				t->ems = t->ems_offered;
			else if (type == TLS_EXT_ALPN) {
				l = rd_sub(&e, rd_be16(&e));
				if (rd_left(&l) >= 1) {
					size_t n = rd_u8(&l);

					if (rd_left(&l) >= n && n > 0 &&
					    t->alpn == NULL)
						t->alpn = tls_clean_name(
						    rd_bytes(&l, n), n);
				}
			}
		}
	}
	t->have_sh = true;
	t->version = version;
	t->suite = tls_suite_find(t->suite_id);
	/* An abbreviated handshake: the server echoes the session ID the
	   client offered (also with a ticket, RFC 5077 3.4), and the master
	   secret is the earlier session's. */
	if (version != 0x0304 && t->sh_sid_len > 0 &&
	    t->sh_sid_len == t->ch_sid_len &&
	    memcmp(t->sh_sid, t->ch_sid, t->sh_sid_len) == 0) {
		t->resumed = true;
		tls_transcript_drop(t);
		if (keylog_has_server_key(t->kl) &&
		    ((t->ticket != NULL &&
			 keylog_recall_session(
			     t->kl, t->ticket, t->ticket_len, t->master)) ||
			keylog_recall_session(
			    t->kl, t->sh_sid, t->sh_sid_len, t->master)))
			t->have_master = true;
	}

	/* no_decrypt may already be set: data before the handshake. */
	if (t->no_decrypt == NULL && t->kl == NULL)
		t->no_decrypt = xstrdup("no key log");
	else if (t->no_decrypt == NULL && !t->have_ch)
		t->no_decrypt = xstrdup("the ClientHello was not captured "
					"(capture began mid-session)");
	else if (t->no_decrypt == NULL &&
		 (version < 0x0301 || version > 0x0304))
		xasprintf(&t->no_decrypt,
		    "protocol version 0x%04X not supported", version);
	else if (t->no_decrypt == NULL &&
		 (t->suite == NULL || t->suite->kind == TLS_K_NONE ||
		     t->suite->tls13 != (version == 0x0304)))
		xasprintf(&t->no_decrypt, "cipher suite %s not supported",
		    tls_cipher_name(t, buf, sizeof buf));
	else if (t->no_decrypt == NULL && tls_key_only(t) &&
		 !tls_suite_rsa_kex(t->suite))
		xasprintf(&t->no_decrypt,
		    "%s uses %s key exchange (forward secrecy): the server's "
		    "private key (--tls-key) cannot decrypt it, only a key log "
		    "(-k) written by the client or the server can",
		    t->suite->name, tls_suite_kex(t->suite, buf, sizeof buf));
	else if (t->no_decrypt == NULL && tls_key_only(t) && t->resumed &&
		 !t->have_master)
		t->no_decrypt = xstrdup(TLS_RESUMED_WHY);
	if (t->no_decrypt != NULL || tls13(t) ||
	    !keylog_has_server_key(t->kl) || !tls_suite_rsa_kex(t->suite))
		tls_transcript_drop(t);

	if (tls13(t)) {
		/* Everything after the ServerHello is encrypted with the
		   handshake secrets (RFC 8446 2). */
		tls_dir_crypt(&t->d[EV_DIR_SERVER], TLS_CR_NEED_KEYS);
		t->d[EV_DIR_SERVER].epoch = TLS_EP_HANDSHAKE;
		tls_dir_crypt(&t->d[EV_DIR_CLIENT], TLS_CR_NEED_KEYS);
		t->d[EV_DIR_CLIENT].epoch = TLS_EP_HANDSHAKE;
		tls_report_handshake(t, ts);
	}
}

/* Decryption can come only from the server's key: no key log file, and
   no secrets added otherwise. */
static bool
tls_key_only(const struct tls_conn *t)
{
	return keylog_has_server_key(t->kl) && !keylog_has_file(t->kl) &&
	       keylog_count(t->kl) == 0;
}

/* The session hash is no longer needed (or cannot be had). */
static void
tls_transcript_drop(struct tls_conn *t)
{
	free(t->th);
	t->th = NULL;
	t->th_len = t->th_cap = 0;
	t->th_off = true;
}

/* Keep a whole handshake message (header included) for the session
   hash, while RSA key exchange with the server's key may need it. */
static void
tls_transcript_add(struct tls_conn *t, const uint8_t *msg, size_t len)
{
	if (t->th_off || !keylog_has_server_key(t->kl))
		return;
	if (xcapped_grow((void **)&t->th, &t->th_cap, t->th_len + len,
		TLS_TRANSCRIPT_MAX) != 0) {
		tls_transcript_drop(t);
		return;
	}
	memcpy(t->th + t->th_len, msg, len);
	t->th_len += len;
}

/*
 * RFC 5246 8.1 and RFC 7627 4: the master secret from the premaster
 * secret, over the randoms or, with extended_master_secret, over the hash
 * of the handshake up to the ClientKeyExchange.
 */
static bool
tls12_master(struct tls_conn *t, const uint8_t pms[48])
{
	const char *prf = t->version < 0x0303 ? "MD5-SHA1" : t->suite->prf_md;
	uint8_t seed[22 + EVP_MAX_MD_SIZE];
	unsigned int hlen = 0;
	size_t n;
	EVP_MD *md;
	bool ok;

	if (t->ems) {
		if (t->th == NULL ||
		    (md = EVP_MD_fetch(NULL, prf, NULL)) == NULL)
			return false;
		memcpy(seed, "extended master secret", 22); /* NOLINT */
		ok = EVP_Digest(t->th, t->th_len, seed + 22, &hlen, md, NULL) ==
		     1;
		EVP_MD_free(md);
		if (!ok)
			return false;
		n = 22 + hlen;
	} else {
		memcpy(seed, "master secret", 13); /* NOLINT */
		memcpy(seed + 13, t->client_random, 32);
		memcpy(seed + 45, t->server_random, 32);
		n = 13 + 64;
	}
	return tls_prf(prf, pms, 48, seed, n, t->master, sizeof t->master);
}

/* The client's ClientKeyExchange: with RSA key exchange and the server's
   key, the premaster secret, hence the master secret. */
static void
tls_client_key_exchange(
    struct tls_conn *t, struct rd *r, const struct timeval *ts)
{
	uint8_t pms[48], secret[KEYLOG_SECRET_MAX];
	const uint8_t *enc;
	size_t len;

	if (!t->have_sh || t->suite == NULL || tls13(t) || t->have_master ||
	    t->no_decrypt != NULL || !tls_suite_rsa_kex(t->suite) ||
	    !keylog_has_server_key(t->kl) ||
	    keylog_lookup(
		t->kl, "CLIENT_RANDOM", t->client_random, secret, &len)) {
		tls_transcript_drop(t);
		return;
	}
	/* EncryptedPreMasterSecret: opaque <0..2^16-1> (TLS 1.0 on). */
	len = rd_be16(r);
	enc = rd_bytes(r, len);
	if (r->err || enc == NULL)
		t->no_decrypt = xstrdup("the ClientKeyExchange is truncated");
	else if (!keylog_rsa_premaster(t->kl, enc, len, pms))
		t->no_decrypt = xstrdup(
		    t->key_match == 0
			? "the server's certificate is not for the key given "
			  "with --tls-key: the premaster secret cannot be "
			  "decrypted"
			: "the key given with --tls-key does not decrypt the "
			  "premaster secret (not the server's key?)");
	else if (t->ems && t->th_off)
		t->no_decrypt = xstrdup("the handshake was too long to keep "
					"for the extended master secret");
	else if (!tls12_master(t, pms))
		t->no_decrypt = xstrdup("key derivation failed");
	else {
		t->have_master = true;
		if (t->sh_sid_len > 0)
			keylog_remember_session(
			    t->kl, t->sh_sid, t->sh_sid_len, t->master);
	}
	OPENSSL_cleanse(pms, sizeof pms);
	tls_transcript_drop(t);
	/* Said now if the handshake was already reported, else with it. */
	if (t->no_decrypt != NULL && t->reported_hs)
		tls_report_verdict(t, t->no_decrypt, ts);
}

static void
tls_cert_msg(struct tls_conn *t, struct rd *r, const struct timeval *ts)
{
	struct rd list;
	size_t len;

	if (tls13(t))
		rd_skip(r, rd_u8(r)); /* certificate_request_context */
	list = rd_sub(r, rd_be24(r));
	len = rd_be24(&list);
	if (list.err || rd_left(&list) < len || len == 0)
		return; /* an empty list: no certificate */
	if (!t->have_cert && keylog_has_server_key(t->kl))
		t->key_match =
		    keylog_server_key_matches(t->kl, list.base + list.off, len);
	tls_certificate(t, rd_bytes(&list, len), len, ts);
}

/* TLS 1.3: switch dir to the next epoch after the current record. */
static void
tls13_next_epoch(struct tls_conn *t, int dir)
{
	struct tls_dir *d = &t->d[dir];

	if (d->epoch != TLS_EP_HANDSHAKE)
		return;
	d->epoch = TLS_EP_APP;
	if (d->crypt == TLS_CR_KEYED)
		tls_dir_crypt(d, TLS_CR_NEED_KEYS);
	d->seq = 0;
	(void)t;
}

static void
tls_handshake_msg(struct tls_conn *t, int dir, uint8_t type, struct rd *r,
    const struct timeval *ts)
{
	switch (type) {
	case TLS_HS_CLIENT_HELLO:
		if (dir == EV_DIR_CLIENT && !t->have_sh)
			tls_client_hello(t, r);
		break;
	case TLS_HS_SERVER_HELLO:
		if (dir == EV_DIR_SERVER && !t->have_sh)
			tls_server_hello(t, r, ts);
		break;
	case TLS_HS_ENCRYPTED_EXTENSIONS:
		if (dir == EV_DIR_SERVER) {
			struct rd ext = rd_sub(r, rd_be16(r)), e, l;
			uint16_t et;
			size_t n;

			while (rd_left(&ext) >= 4) {
				et = rd_be16(&ext);
				e = rd_sub(&ext, rd_be16(&ext));
				if (et != TLS_EXT_ALPN)
					continue;
				l = rd_sub(&e, rd_be16(&e));
				n = rd_u8(&l);
				if (rd_left(&l) >= n && n > 0 &&
				    t->alpn == NULL)
					t->alpn =
					    tls_clean_name(rd_bytes(&l, n), n);
			}
		}
		break;
	case TLS_HS_CERTIFICATE:
		if (dir == EV_DIR_SERVER)
			tls_cert_msg(t, r, ts);
		break;
	case TLS_HS_SERVER_HELLO_DONE:
		if (dir == EV_DIR_SERVER)
			tls_report_handshake(t, ts);
		break;
	case TLS_HS_CLIENT_KEY_EXCHANGE:
		if (dir == EV_DIR_CLIENT)
			tls_client_key_exchange(t, r, ts);
		break;
	case TLS_HS_NEW_SESSION_TICKET:
		/* TLS 1.2 (RFC 5077 3.3): a later session may resume with
		   this ticket; remember the master secret under it. */
		if (dir == EV_DIR_SERVER && !tls13(t) && t->have_master) {
			size_t n;

			rd_skip(r, 4); /* ticket_lifetime_hint */
			n = rd_be16(r);
			if (n > 0 && rd_left(r) >= n)
				keylog_remember_session(
				    t->kl, rd_bytes(r, n), n, t->master);
		}
		break;
	case TLS_HS_FINISHED:
		if (tls13(t)) {
			tls13_next_epoch(t, dir);
			if (dir == EV_DIR_CLIENT && t->decrypted_any)
				tls_report_established(t, ts);
		} else if (dir == EV_DIR_SERVER && t->decrypted_any)
			tls_report_established(t, ts);
		break;
	case TLS_HS_KEY_UPDATE:
		if (tls13(t))
			t->d[dir].key_update = true;
		break;
	default:
		break;
	}
}

/* Append handshake bytes of dir and parse every complete message. */
static void
tls_handshake(struct tls_conn *t, int dir, const uint8_t *p, size_t len,
    const struct timeval *ts)
{
	struct tls_dir *d = &t->d[dir];
	struct rd r, m;
	size_t off = 0, mlen;
	uint8_t type;

	/* An empty record adds nothing, and the buffer may still be NULL:
	   copying zero bytes to it is undefined behaviour (issue 13). */
	if (d->hs_dead || len == 0)
		return;
	if (xcapped_grow((void **)&d->hs, &d->hs_cap, d->hs_len + len,
		TLS_HANDSHAKE_MAX) != 0) {
		d->hs_dead = true;
		tls_anomaly(t, EV_ANOM_TLS_CAP, ts,
		    "handshake message from the %s exceeds %u bytes",
		    tls_dir_name(dir), (unsigned)TLS_HANDSHAKE_MAX);
		return;
	}
	memcpy(d->hs + d->hs_len, p, len);
	d->hs_len += len;
	while (d->hs_len - off >= 4) {
		rd_init(&r, d->hs + off, d->hs_len - off);
		type = rd_u8(&r);
		mlen = rd_be24(&r);
		if (mlen + 4 > TLS_HANDSHAKE_MAX) {
			d->hs_dead = true;
			tls_anomaly(t, EV_ANOM_TLS_CAP, ts,
			    "handshake message from the %s announces %zu "
			    "bytes",
			    tls_dir_name(dir), mlen);
			return;
		}
		if (rd_left(&r) < mlen)
			break;
		if (!t->th_off && !tls13(t))
			tls_transcript_add(t, d->hs + off, 4 + mlen);
		m = rd_sub(&r, mlen);
		tls_handshake_msg(t, dir, type, &m, ts);
		off += 4 + mlen;
	}
	memmove(d->hs, d->hs + off, d->hs_len - off);
	d->hs_len -= off;
}

/* ---- records ---- */

/* The content of a record, in clear or decrypted. */
static void
tls_content(struct tls_conn *t, int dir, uint8_t type, const uint8_t *p,
    size_t len, bool decrypted, const struct timeval *ts)
{
	struct tls_dir *d = &t->d[dir];

	switch (type) {
	case TLS_CT_CCS:
		if (!tls13(t) && t->have_sh && !decrypted) {
			/* TLS 1.2: this direction is encrypted from the next
			   record on (RFC 5246 7.1). */
			tls_dir_crypt(d, TLS_CR_NEED_KEYS);
			d->seq = 0;
			if (dir == EV_DIR_SERVER)
				tls_report_handshake(t, ts);
		}
		break;
	case TLS_CT_ALERT:
		tls_alert(t, dir, p, len, ts);
		break;
	case TLS_CT_HANDSHAKE:
		tls_handshake(t, dir, p, len, ts);
		break;
	case TLS_CT_APPDATA:
		t->app_seen = true;
		if (!decrypted) {
			if (d->crypt != TLS_CR_CLEAR)
				break;
			/* Application data without a handshake: the
			   capture began mid-session (or 0-RTT data). */
			tls_dir_crypt(d, TLS_CR_NEED_KEYS);
			if (t->no_decrypt == NULL)
				t->no_decrypt = xstrdup(
				    t->have_ch
					? "application data before the "
					  "handshake finished"
					: "the handshake was not captured "
					  "(capture began mid-session)");
			tls_report_verdict(t, t->no_decrypt, ts);
			break;
		}
		tls_report_established(t, ts);
		if (len > 0)
			t->ops->plaintext(t->arg, dir, p, len, ts);
		break;
	case TLS_CT_HEARTBEAT:
		break;
	}
}

static bool
tls_pend_push(struct tls_conn *t, int dir, uint8_t type, uint16_t version,
    const uint8_t *body, size_t len, const struct timeval *ts)
{
	struct tls_pend_hdr h;

	if (xcapped_grow((void **)&t->pend, &t->pend_cap,
		t->pend_len + sizeof h + len, TLS_PENDING_MAX) != 0)
		return false;
	memset(&h, 0, sizeof h);
	h.ts = *ts;
	h.len = (uint16_t)len;
	h.version = version;
	h.dir = (uint8_t)dir;
	h.type = type;
	memcpy(t->pend + t->pend_len, &h, sizeof h);
	memcpy(t->pend + t->pend_len + sizeof h, body, len);
	t->pend_len += sizeof h + len;
	return true;
}

static void
tls_pend_drop(struct tls_conn *t)
{
	free(t->pend);
	t->pend = NULL;
	t->pend_len = t->pend_cap = 0;
}

/* A record whose key is missing: queue it, or give up when full. */
static void
tls_wait_for_keys(struct tls_conn *t, int dir, uint8_t type, uint16_t version,
    const uint8_t *body, size_t len, const struct timeval *ts)
{
	struct tls_dir *d = &t->d[dir];

	/* As in tls_record: is application data flowing?  (TLS 1.3: the
	   client's first protected record is its Finished.) */
	if (type == TLS_CT_APPDATA && d->crypt != TLS_CR_CLEAR &&
	    (!tls13(t) || (dir == EV_DIR_CLIENT && ++d->queued_app >= 2)))
		t->app_seen = true;
	if (tls_pend_push(t, dir, type, version, body, len, ts))
		return;
	tls_anomaly(t, EV_ANOM_TLS_CAP, ts,
	    "more than %u bytes of TLS records waited for their keys",
	    (unsigned)TLS_PENDING_MAX);
	tls_pend_drop(t);
	free(t->no_decrypt);
	t->no_decrypt = xstrdup("no key for this session in the key log "
				"(gave up waiting)");
	tls_report_verdict(t, t->no_decrypt, ts);
}

static void
tls_record(struct tls_conn *t, int dir, uint8_t type, uint16_t version,
    const uint8_t *body, size_t len, const struct timeval *ts)
{
	struct tls_dir *d = &t->d[dir];
	const char *why = NULL;
	uint8_t inner;
	long n;

	if (t->pend_len > 0 && !t->draining) {
		tls_wait_for_keys(t, dir, type, version, body, len, ts);
		return;
	}
	d->records++;
	/* In TLS 1.3 only application_data records are protected; a CCS
	   or an alert in the clear may still appear. */
	if (d->crypt == TLS_CR_CLEAR || (tls13(t) && type != TLS_CT_APPDATA)) {
		tls_content(t, dir, type, body, len, false, ts);
		return;
	}
	if (d->crypt == TLS_CR_FAILED)
		return;
	/* Application data is flowing when the client sends more than its
	   Finished (TLS 1.3), or any application_data (TLS 1.2). */
	d->sealed++;
	if (type == TLS_CT_APPDATA &&
	    (!tls13(t) || (dir == EV_DIR_CLIENT && d->sealed >= 2)))
		t->app_seen = true;
	if (t->no_decrypt != NULL)
		return;
	n = tls_decrypt(t, dir, type, version, body, len, &inner, &why);
	if (n == -2) {
		d->records--;
		d->sealed--;
		if (t->draining)
			t->stall = true;
		else
			tls_wait_for_keys(t, dir, type, version, body, len, ts);
		return;
	}
	if (n == -3) {
		/* Not counted: the first application record is record 1 of
		   the epoch either way. */
		d->sealed--;
		if (++d->opaque_records <= TLS_OPAQUE_MAX)
			return;
		tls_dir_crypt(d, TLS_CR_FAILED);
		tls_anomaly(t, EV_ANOM_TLS_DECRYPT, ts,
		    "%u records from the %s do not open with the key log's "
		    "application traffic secret; decryption of this direction "
		    "stops",
		    d->opaque_records, tls_dir_name(dir));
		tls_report_verdict(t,
		    "the key log's application secrets do not decrypt this "
		    "session",
		    ts);
		return;
	}
	if (n < 0) {
		tls_dir_crypt(d, TLS_CR_FAILED);
		tls_anomaly(t, EV_ANOM_TLS_DECRYPT, ts,
		    "record %llu from the %s: %s; the key log's secrets do not "
		    "fit this session, decryption of this direction stops",
		    (unsigned long long)d->records, tls_dir_name(dir), why);
		tls_report_verdict(
		    t, "the key log's secrets do not decrypt this session", ts);
		return;
	}
	t->decrypted_any = true;
	tls_content(t, dir, inner, t->pt, (size_t)n, true, ts);
	if (d->key_update) {
		d->key_update = false;
		if (d->crypt == TLS_CR_KEYED && !tls13_key_update(t, d)) {
			tls_dir_crypt(d, TLS_CR_FAILED);
			tls_anomaly(t, EV_ANOM_TLS_DECRYPT, ts,
			    "KeyUpdate from the %s: key derivation failed",
			    tls_dir_name(dir));
		}
	}
}

/* Try the queued records in order; stop at the first that still lacks
   its key. */
static void
tls_pend_run(struct tls_conn *t)
{
	struct tls_pend_hdr h;
	size_t off = 0;
	const char *why;
	struct tls_dir *d;

	t->draining = true;
	while (t->pend != NULL && t->pend_len - off >= sizeof h) {
		memcpy(&h, t->pend + off, sizeof h);
		d = &t->d[h.dir];
		if (d->crypt == TLS_CR_NEED_KEYS && t->no_decrypt == NULL &&
		    (!tls13(t) || h.type == TLS_CT_APPDATA) &&
		    tls_keys_install(t, h.dir, &why) == 1)
			break;
		t->stall = false;
		tls_record(t, h.dir, h.type, h.version,
		    t->pend + off + sizeof h, h.len, &h.ts);
		if (t->stall)
			break;
		off += sizeof h + h.len;
	}
	t->draining = false;
	if (t->pend == NULL)
		return;
	memmove(t->pend, t->pend + off, t->pend_len - off);
	t->pend_len -= off;
	if (t->pend_len == 0)
		tls_pend_drop(t);
}

static bool
tls_header_ok(const uint8_t *h)
{
	return h[0] >= TLS_CT_CCS && h[0] <= TLS_CT_HEARTBEAT && h[1] == 3 &&
	       h[2] <= 4;
}

/* Report why dir's bytes are not TLS and stop parsing it. */
static void
tls_bad_start(struct tls_conn *t, int dir, const uint8_t *h, size_t have,
    const struct timeval *ts)
{
	struct tls_dir *d = &t->d[dir];
	size_t i, n = have < 4 ? have : 4;
	bool text = n > 0, started = d->frame == TLS_FR_RECORDS;

	tls_dir_frame(d, TLS_FR_DEAD);
	for (i = 0; i < n; i++)
		if (h[i] < 0x20 || h[i] >= 0x7f)
			text = false;
	if (!started && have >= 3 && (h[0] & 0x80) && h[2] == 1)
		tls_anomaly(t, EV_ANOM_TLS_RECORD, ts,
		    "SSLv2-compatible ClientHello from the %s: not "
		    "supported, the rest of this direction is ignored",
		    tls_dir_name(dir));
	else if (!started && text) {
		/* After STARTTLS this is seen in captures of TLS proxies and
		   in decrypted exports: the dialogue goes on in clear, so let
		   the SMTP engine read it rather than lose it.  On an
		   implicit-TLS port it is a server that does not speak TLS
		   there: the anomaly says so. */
		if (t->starttls)
			tls_dir_frame(d, TLS_FR_CLEAR);
		tls_anomaly(t, EV_ANOM_TLS_RECORD, ts,
		    "plain text from the %s where TLS was expected%s",
		    tls_dir_name(dir),
		    t->starttls ? " after STARTTLS; read as SMTP"
				: " (is this port really implicit TLS?)");
	} else
		tls_anomaly(t, EV_ANOM_TLS_RECORD, ts,
		    "bytes from the %s are not a TLS record (%02x %02x %02x "
		    "%02x...); the rest of this direction is ignored",
		    tls_dir_name(dir), n > 0 ? h[0] : 0, n > 1 ? h[1] : 0,
		    n > 2 ? h[2] : 0, n > 3 ? h[3] : 0);
}

/* After tls_bad_start() found plain text: hand on what was buffered and
   the rest of this chunk. */
static void
tls_pass_clear(struct tls_conn *t, int dir, const uint8_t *rest, size_t len,
    const struct timeval *ts)
{
	struct tls_dir *d = &t->d[dir];

	if (d->frame != TLS_FR_CLEAR)
		return;
	if (d->rec_len > 0)
		t->ops->plaintext(t->arg, dir, d->rec, d->rec_len, ts);
	d->rec_len = 0;
	if (len > 0)
		t->ops->plaintext(t->arg, dir, rest, len, ts);
}

struct tls_conn *
tls_conn_new(struct keylog *kl, const struct tls_ops *ops, void *arg,
    bool starttls, const char *greeting_host)
{
	struct tls_conn *t = xcalloc(1, sizeof *t);

	t->kl = kl;
	t->ops = ops;
	t->arg = arg;
	t->starttls = starttls;
	t->key_match = -1; /* no certificate compared yet */
	if (greeting_host != NULL && *greeting_host != '\0')
		t->greeting_host = tls_clean_name(
		    (const uint8_t *)greeting_host, strlen(greeting_host));
	return t;
}

size_t
tls_conn_mem(const struct tls_conn *t)
{
	size_t n;
	int i;

	if (t == NULL)
		return 0;
	n = sizeof *t + t->pend_cap + t->th_cap + t->ticket_len +
	    (t->pt != NULL ? TLS_RECORD_MAX + 64 : 0);
	for (i = 0; i < 2; i++)
		n += t->d[i].rec_cap + t->d[i].hs_cap;
	return n;
}

size_t
tls_conn_trim(struct tls_conn *t, const struct timeval *ts)
{
	size_t before = tls_conn_mem(t);

	if (t == NULL || t->pend_cap == 0)
		return 0;
	/* As when the queue is full: these records will never be read. */
	tls_pend_drop(t);
	free(t->no_decrypt);
	t->no_decrypt = xstrdup("no key for this session in the key log "
				"(memory budget reached while waiting)");
	tls_report_verdict(t, t->no_decrypt, ts);
	return before - tls_conn_mem(t);
}

void
tls_conn_free(struct tls_conn *t)
{
	int i;

	if (t == NULL)
		return;
	for (i = 0; i < 2; i++) {
		free(t->d[i].rec);
		free(t->d[i].hs);
		EVP_CIPHER_CTX_free(t->d[i].ctx);
		OPENSSL_cleanse(t->d[i].key, sizeof t->d[i].key);
		OPENSSL_cleanse(t->d[i].secret, sizeof t->d[i].secret);
		OPENSSL_cleanse(t->d[i].mac_key, sizeof t->d[i].mac_key);
	}
	OPENSSL_cleanse(t->kb, sizeof t->kb);
	OPENSSL_cleanse(t->master, sizeof t->master);
	free(t->th);
	free(t->ticket);
	free(t->pt);
	free(t->pend);
	free(t->greeting_host);
	free(t->sni);
	free(t->alpn);
	free(t->cert_subject);
	free(t->cert_issuer);
	free(t->cert_san);
	free(t->cert_not_after);
	free(t->cert_problems);
	free(t->no_decrypt);
	free(t);
}

void
tls_conn_feed(struct tls_conn *t, int dir, const uint8_t *data, size_t len,
    const struct timeval *ts)
{
	struct tls_dir *d;
	size_t need, take;
	uint16_t rlen;

	if (dir != EV_DIR_CLIENT && dir != EV_DIR_SERVER)
		return;
	d = &t->d[dir];
	if (d->frame == TLS_FR_CLEAR) {
		t->ops->plaintext(t->arg, dir, data, len, ts);
		return;
	}
	while (len > 0 && d->frame != TLS_FR_DEAD) {
		/* The header first, then exactly the announced body. */
		need = TLS_HDR;
		if (d->rec_len >= TLS_HDR)
			need = TLS_HDR + ((size_t)d->rec[3] << 8 | d->rec[4]);
		take = need - d->rec_len < len ? need - d->rec_len : len;
		/* need never exceeds one record: the header was checked. */
		if (xcapped_grow((void **)&d->rec, &d->rec_cap,
			d->rec_len + take, TLS_HDR + TLS_RECORD_MAX) != 0)
			break;
		memcpy(d->rec + d->rec_len, data, take);
		d->rec_len += take;
		data += take;
		len -= take;
		if (d->rec_len == TLS_HDR && need == TLS_HDR) {
			if (!tls_header_ok(d->rec)) {
				tls_bad_start(t, dir, d->rec, d->rec_len, ts);
				tls_pass_clear(t, dir, data, len, ts);
				return;
			}
			rlen = (uint16_t)(d->rec[3] << 8 | d->rec[4]);
			if (rlen > TLS_RECORD_MAX) {
				tls_dir_frame(d, TLS_FR_DEAD);
				tls_anomaly(t, EV_ANOM_TLS_RECORD, ts,
				    "record of %u bytes from the %s exceeds "
				    "the limit of %u; the rest of this "
				    "direction is ignored",
				    rlen, tls_dir_name(dir),
				    (unsigned)TLS_RECORD_MAX);
				break;
			}
			tls_dir_frame(d, TLS_FR_RECORDS);
			if (rlen > 0)
				continue;
		}
		if (d->rec_len < TLS_HDR ||
		    d->rec_len < TLS_HDR + ((size_t)d->rec[3] << 8 | d->rec[4]))
			continue;
		d->rec_len = 0;
		tls_record(t, dir, d->rec[0],
		    (uint16_t)(d->rec[1] << 8 | d->rec[2]), d->rec + TLS_HDR,
		    (size_t)d->rec[3] << 8 | d->rec[4], ts);
	}
	/* Fewer than 5 bytes of garbage still deserve a report at the end;
	   an SSLv2 hello is recognisable from its first 3 bytes. */
	if (d->frame == TLS_FR_NEW && d->rec_len >= 3 &&
	    !tls_header_ok(d->rec)) {
		tls_bad_start(t, dir, d->rec, d->rec_len, ts);
		tls_pass_clear(t, dir, NULL, 0, ts);
	}
}

void
tls_conn_gap(
    struct tls_conn *t, int dir, uint64_t bytes, const struct timeval *ts)
{
	struct tls_dir *d;

	(void)bytes;
	(void)ts;
	if (dir != EV_DIR_CLIENT && dir != EV_DIR_SERVER)
		return;
	d = &t->d[dir];
	/* Record boundaries and sequence numbers are lost: this direction
	   cannot be followed any more (the gap itself is reported by the
	   pipeline). */
	tls_dir_frame(d, TLS_FR_DEAD);
	d->rec_len = 0;
}

void
tls_conn_retry(struct tls_conn *t, const struct timeval *ts)
{
	(void)ts;
	if (t->pend_len > 0)
		tls_pend_run(t);
}

/* Why the key log had no key, and whether the server's key would help. */
static char *
tls_no_key_reason(const struct tls_conn *t)
{
	char *s, buf[16];

	if (t->resumed && keylog_has_server_key(t->kl) && !t->have_master)
		s = xstrdup(
		    "no key for this session in the key log; " TLS_RESUMED_WHY);
	else if (t->suite != NULL && keylog_has_server_key(t->kl) &&
		 !tls_suite_rsa_kex(t->suite))
		xasprintf(&s,
		    "no key for this session in the key log; the --tls-key "
		    "key cannot help: %s uses %s key exchange",
		    t->suite->name, tls_suite_kex(t->suite, buf, sizeof buf));
	else if (t->suite != NULL && !keylog_has_server_key(t->kl) &&
		 tls_suite_rsa_kex(t->suite))
		xasprintf(&s,
		    "no key for this session in the key log; %s uses RSA key "
		    "exchange: the server's private key (--tls-key) would "
		    "decrypt it",
		    t->suite->name);
	else
		s = xstrdup("no key for this session in the key log");
	return s;
}

void
tls_conn_finish(struct tls_conn *t, const struct timeval *ts)
{
	char *why;
	int i;

	if (t->pend_len > 0) {
		tls_pend_run(t);
		if (t->pend_len > 0) {
			tls_pend_drop(t);
			tls_report_handshake(t, ts);
			why = tls_no_key_reason(t);
			tls_report_verdict(t, why, ts);
			free(why);
			return;
		}
	}
	for (i = 0; i < 2; i++)
		if (t->d[i].hs_opaque && t->d[i].epoch == TLS_EP_HANDSHAKE &&
		    t->d[i].crypt != TLS_CR_FAILED &&
		    t->d[i].opaque_records > 0)
			tls_report_verdict(t,
			    "the key log's application secrets do not "
			    "decrypt this session",
			    ts);
	if (t->have_ch && !t->have_sh && !t->reported_hs && !t->alert_seen) {
		t->reported_hs = true;
		tls_report_verdict(t,
		    "the handshake did not complete (no ServerHello seen)", ts);
		return;
	}
	if (t->have_sh && !t->reported_hs)
		tls_report_handshake(t, ts);
}

bool
tls_conn_decrypting(const struct tls_conn *t)
{
	return t->decrypted_any && t->d[0].crypt != TLS_CR_FAILED &&
	       t->d[1].crypt != TLS_CR_FAILED;
}

bool
tls_conn_clear(const struct tls_conn *t, int dir)
{
	return (dir == 0 || dir == 1) && t->d[dir].frame == TLS_FR_CLEAR;
}
