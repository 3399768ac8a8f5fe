#ifndef SMTPSCOPE_TLS_H
#define SMTPSCOPE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include "event.h"
#include "keylog.h"

/*
 * The TLS layer of one session: parses records (bounded), follows the
 * handshake (SNI, versions, cipher, ALPN, certificate via OpenSSL X.509,
 * alerts), and with keys from a key log, or the server's RSA key for RSA
 * key exchange (both in struct keylog), decrypts application data (TLS 1.2
 * and 1.3 AEAD, TLS 1.2 CBC+HMAC) through OpenSSL EVP and KDFs, handing the
 * plaintext to the SMTP engine.  Emits tls and anomaly events (without the
 * session header).
 */

/* Buffered ciphertext waiting for keys, per session. */
#define TLS_PENDING_MAX (4u * 1024 * 1024)
/* Largest record accepted (2^14 + 2048, RFC 8446 5.2 / RFC 5246 6.2.3). */
#define TLS_RECORD_MAX (16384 + 2048)
/* Largest handshake message reassembled (certificate chains included). */
#define TLS_HANDSHAKE_MAX (256u * 1024)

struct tls_ops {
	/* Decrypted application data of one direction, borrowed. */
	void (*plaintext)(void *arg, int dir, const uint8_t *data, size_t len,
	    const struct timeval *ts);
	void (*emit)(void *arg, struct event *take);
};

struct tls_conn;

/* keylog may be NULL (no decryption).  starttls: after STARTTLS (false:
   implicit TLS).  greeting_host: the host name of the server's greeting, to
   check the certificate against (may be NULL).  Never fails. */
struct tls_conn *tls_conn_new(struct keylog *, const struct tls_ops *,
    void *arg, bool starttls, const char *greeting_host);
void tls_conn_free(struct tls_conn *);
/* Heap bytes held (struct and buffers); 0 for NULL.  Never fails. */
size_t tls_conn_mem(const struct tls_conn *);
/* Under memory pressure: drop the records waiting for keys (this session
   will not be decrypted; a tls event says why).  Returns the bytes freed. */
size_t tls_conn_trim(struct tls_conn *, const struct timeval *ts);
/* TLS bytes of one direction, in order. */
void tls_conn_feed(struct tls_conn *, int dir, const uint8_t *data, size_t len,
    const struct timeval *ts);
void tls_conn_gap(
    struct tls_conn *, int dir, uint64_t bytes, const struct timeval *ts);
/* The key log grew: try records that waited for keys. */
void tls_conn_retry(struct tls_conn *, const struct timeval *ts);
/* End of session: report "no key for this session" etc. if still pending. */
void tls_conn_finish(struct tls_conn *, const struct timeval *ts);
bool tls_conn_decrypting(const struct tls_conn *);
/* Whether dir turned out to carry plain text where TLS was expected (a
   capture exported after decryption): its bytes were never encrypted. */
bool tls_conn_clear(const struct tls_conn *, int dir);

#endif
