/*
 * tls_int: what the parts of the TLS layer share (src/tls.c, tls_hs.c,
 * tls_crypt.c, tls_cert.c, tls_base.c); not for other modules, which use
 * tls.h.  Calls go one way: tls.c -> tls_hs.c -> tls_crypt.c, tls_cert.c
 * -> tls_base.c.
 */
#ifndef SMTPSCOPE_TLS_INT_H
#define SMTPSCOPE_TLS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include <openssl/evp.h>

#include "rd.h"
#include "tls.h"

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

/* tls_base.c: suites, names, events, key log lookups */
void tls_dir_crypt(struct tls_dir *d, enum tls_crypt to);
const char *tls_dir_name(int dir);
const struct tls_suite *tls_suite_find(uint16_t id);
const char *tls_suite_kex(const struct tls_suite *s, char *buf, size_t len);
bool tls_suite_rsa_kex(const struct tls_suite *s);
bool tls13(const struct tls_conn *t);
char *tls_clean_name(const uint8_t *p, size_t len);
void tls_anomaly(struct tls_conn *t, const char *what, const struct timeval *ts,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
const char *tls_cipher_name(const struct tls_conn *t, char *buf, size_t len);
void tls_report_handshake(struct tls_conn *t, const struct timeval *ts);
void tls_report_established(struct tls_conn *t, const struct timeval *ts);
void tls_report_verdict(
    struct tls_conn *t, const char *reason, const struct timeval *ts);

struct event *tls_event(
    struct tls_conn *t, const char *phase, const struct timeval *ts);
bool tls_keys_known(struct tls_conn *t, int dir);
const char *tls13_label(int dir, enum tls_epoch ep);

/* tls_hs.c: handshake messages */
void tls_handshake(struct tls_conn *t, int dir, const uint8_t *p, size_t len,
    const struct timeval *ts);

/* tls_crypt.c: key derivation and record decryption */
bool tls_prf(const char *md, const uint8_t *secret, size_t slen,
    const uint8_t *seed, size_t seedlen, uint8_t *out, size_t outlen);
int tls_keys_install(struct tls_conn *t, int dir, const char **why);
bool tls13_key_update(struct tls_conn *t, struct tls_dir *d);
long tls_decrypt(struct tls_conn *t, int dir, uint8_t type, uint16_t version,
    const uint8_t *body, size_t len, uint8_t *inner, const char **why);

/* tls_cert.c: the server certificate */
void tls_certificate(struct tls_conn *t, const uint8_t *der, size_t len,
    const struct timeval *ts);

#endif
