/*
 * tls_base: what every part of the TLS layer uses: the cipher suite table,
 * version and suite names, the direction's protection state
 * (tls_dir_crypt), anomalies and the "tls" events with what they report,
 * and whether the key log has a direction's keys.  It calls no other part
 * of the layer, so the parts depend on it one way.
 */
#include "config.h"

#include "tls_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

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

/* The one place a direction's protection changes.  A failure is final;
   TLS_CR_NEED_KEYS (a CCS, a TLS 1.3 ServerHello, a new epoch) drops
   installed keys. */
void
tls_dir_crypt(struct tls_dir *d, enum tls_crypt to)
{
	if (d->crypt == TLS_CR_FAILED)
		return;
	d->crypt = to;
}

const char *
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

const struct tls_suite *
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
const char *
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

bool
tls_suite_rsa_kex(const struct tls_suite *s)
{
	return !s->tls13 && strncmp(s->name, "TLS_RSA_WITH_", 13) == 0;
}

bool
tls13(const struct tls_conn *t)
{
	return t->version == 0x0304;
}

/* Copy a name from the wire keeping printable ASCII only. */
char *
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

void
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

const char *
tls_cipher_name(const struct tls_conn *t, char *buf, size_t len)
{
	if (t->suite != NULL)
		return t->suite->name;
	snprintf(buf, len, "0x%04X", t->suite_id);
	return buf;
}

struct event *
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

/* The clear part of the handshake is known: report it once. */
void
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
void
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
void
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

/* ---- key log lookups ---- */

const char *
tls13_label(int dir, enum tls_epoch ep)
{
	if (ep == TLS_EP_HANDSHAKE)
		return dir == EV_DIR_CLIENT ? "CLIENT_HANDSHAKE_TRAFFIC_SECRET"
					    : "SERVER_HANDSHAKE_TRAFFIC_SECRET";
	return dir == EV_DIR_CLIENT ? "CLIENT_TRAFFIC_SECRET_0"
				    : "SERVER_TRAFFIC_SECRET_0";
}

bool
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
