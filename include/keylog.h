#ifndef SMTPSCOPE_KEYLOG_H
#define SMTPSCOPE_KEYLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * TLS key log files (the SSLKEYLOGFILE format): lines of
 * "LABEL <client_random hex> <secret hex>".  The file is re-read from where
 * it stopped when it grows; junk lines are counted and skipped.
 */

#define KEYLOG_SECRET_MAX 64
#define KEYLOG_ENTRIES_MAX 1000000

struct keylog;

/* Never fails; the file need not exist yet.  path is copied; NULL gives a
   key log fed only by keylog_add_text(). */
struct keylog *keylog_new(const char *path);
void keylog_free(struct keylog *);
/* Add lines from memory (tests); returns lines accepted. */
size_t keylog_add_text(struct keylog *, const char *text, size_t len);
/* Read what was appended since the last call.  Returns 1 when new keys
   arrived, 0 when none, -1 on error (*cause allocated, the caller frees
   it; NULL otherwise). */
int keylog_refresh(struct keylog *, char **cause);
/* Look up a secret by label ("CLIENT_RANDOM", "SERVER_TRAFFIC_SECRET_0",
   ...) and client random.  Copies into secret (KEYLOG_SECRET_MAX bytes). */
bool keylog_lookup(const struct keylog *, const char *label,
    const uint8_t client_random[32], uint8_t *secret, size_t *secret_len);
size_t keylog_count(const struct keylog *);
/* Whether a key log file was given (keylog_new() with a path). */
bool keylog_has_file(const struct keylog *);

/*
 * The server's private key (--tls-key), for TLS 1.0-1.2 sessions with RSA
 * key exchange: the client encrypts the premaster secret to the server's
 * RSA key (RFC 5246 7.4.7.1), so the key recovers it.
 */

/* Load a PEM private key (RSA; encrypted keys are refused).  Returns 0, or
   -1 with *cause set (caller frees).  A second call replaces the key. */
int keylog_load_server_key(struct keylog *, const char *path, char **cause);
bool keylog_has_server_key(const struct keylog *);
/* Whether the server key is the key of this certificate's public key (DER
   of a certificate from the wire).  -1: not an RSA certificate or not
   parsable; 0: another key; 1: the same key. */
int keylog_server_key_matches(
    const struct keylog *, const uint8_t *der, size_t len);
/* Decrypt the premaster secret of a ClientKeyExchange (PKCS #1 v1.5).
   Returns true with 48 bytes in pms, false when there is no key or the
   result is not a 48-byte premaster secret (another key). */
bool keylog_rsa_premaster(
    const struct keylog *, const uint8_t *enc, size_t len, uint8_t pms[48]);
/* TLS 1.2 session resumption: the master secret a session with the server
   key recovered, under its session ID or session ticket (opaque bytes), for
   a later abbreviated handshake that has no ClientKeyExchange.  Not counted
   by keylog_count(); dropped silently at KEYLOG_ENTRIES_MAX. */
void keylog_remember_session(
    struct keylog *, const uint8_t *id, size_t len, const uint8_t master[48]);
bool keylog_recall_session(
    const struct keylog *, const uint8_t *id, size_t len, uint8_t master[48]);
size_t keylog_junk(const struct keylog *);

#endif
