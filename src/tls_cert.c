/*
 * tls_cert: the server certificate of the TLS layer: subject, issuer,
 * subject alternative names and expiry for the event, and the problems
 * worth telling (expired, not yet valid at capture time, self-signed, a
 * name that matches neither the SNI nor the greeting's host).  Parsed by
 * OpenSSL from DER whose length the handshake reader checked.
 */
#include "config.h"

#include "tls_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "xmalloc.h"

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
void
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
