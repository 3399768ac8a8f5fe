/*
 * tls_crypt: key derivation and record decryption of the TLS layer.  Keys
 * come from the key log's secrets (TLS 1.3 HKDF-Expand-Label, RFC 8446
 * 7.1/7.3; TLS 1.0-1.2 key block from the PRF, RFC 5246 6.3) or from the
 * master secret the server's key recovered; records are opened through
 * OpenSSL's EVP (AEAD ciphers, and CBC with HMAC, MAC-then-encrypt or
 * encrypt-then-MAC).  No cryptographic primitive is implemented here, and
 * plaintext is handed on only after its record authenticated.
 */
#include "config.h"

#include "tls_int.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "xmalloc.h"

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

bool
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

/*
 * Install the keys of dir for its current epoch.  Returns 0 when installed,
 * 1 when the key log does not have them (yet), -1 on failure (*why set).
 */
int
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
bool
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
long
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
