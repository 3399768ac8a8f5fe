/*
 * tls_hs: the handshake messages of the TLS layer (RFC 8446 4, RFC 5246
 * 7.4): the hellos (versions, suite, SNI, ALPN, session resumption), the
 * certificate, the RSA ClientKeyExchange that gives the master secret with
 * the server's key, the transcript kept for the extended master secret,
 * Finished and KeyUpdate.  Messages are reassembled across records in a
 * capped per-direction buffer; every length is checked through rd.
 */
#include "config.h"

#include "tls_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "xmalloc.h"

static void tls_transcript_drop(struct tls_conn *);
static bool tls_key_only(const struct tls_conn *);

/* SHA-256("HelloRetryRequest"): the ServerHello random of an HRR. */
static const uint8_t tls_hrr_random[32] = {0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a,
    0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2,
    0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8,
    0x33, 0x9c};

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
void
tls_handshake(struct tls_conn *t, int dir, const uint8_t *p, size_t len,
    const struct timeval *ts)
{
	struct tls_dir *d = &t->d[dir];
	struct rd r, m;
	size_t off = 0, mlen;
	uint8_t type;

	/* An empty record adds nothing, and the buffer may still be NULL:
	   copying zero bytes to it is undefined behaviour. */
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
