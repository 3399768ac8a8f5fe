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
 * This file frames records, reports events and alerts and drives the
 * pending queue; the handshake messages are read in tls_hs.c, keys are
 * derived and records opened in tls_crypt.c, the server certificate is
 * read in tls_cert.c; the suite table, names, events and key log lookups
 * that all of them use are in tls_base.c.  What they share is declared in
 * tls_int.h.
 *
 * Invariants: a direction that lost its framing (garbage, gap, over-size
 * record) or failed to decrypt is never parsed again, and reports that once;
 * plaintext is handed on only after its record authenticated; nothing from
 * the wire is kept beyond the buffers named above.
 */
#include "config.h"

#include "tls.h"

#include "tls_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "xmalloc.h"

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
