/*
 * libFuzzer target for the TLS layer and the key log parser.  The input is
 * a small script: byte 0 holds flags (bit 0: give a key log, bit 1:
 * STARTTLS, bit 2: retry after each chunk, bit 3: also the server's RSA
 * key, from $SMTPSCOPE_FUZZ_TLS_KEY or tests/fixtures/tls/rsa-server.key
 * under the current directory, so that ClientKeyExchange messages are
 * decrypted), then chunks of
 * [dir byte][16-bit length][bytes] fed to one connection; a chunk whose
 * dir byte is 2 goes to the key log instead, so that secrets (mostly
 * wrong ones) meet the records.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "keylog.h"
#include "tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_plaintext(void *arg, int dir, const uint8_t *data, size_t len,
    const struct timeval *ts)
{
	volatile uint8_t sink = 0;

	(void)arg;
	(void)dir;
	(void)ts;
	if (len > 0)
		sink ^= data[0] ^ data[len - 1];
	(void)sink;
}

static void
fuzz_emit(void *arg, struct event *ev)
{
	(void)arg;
	event_free(ev);
}

static const struct tls_ops fuzz_ops = {fuzz_plaintext, fuzz_emit};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct timeval ts = {1700000000, 0};
	struct keylog *kl = NULL;
	struct tls_conn *t;
	uint8_t flags;
	size_t off = 1, len;
	int dir;

	if (size < 1)
		return 0;
	flags = data[0];
	if (flags & 9)
		kl = keylog_new(NULL);
	if (flags & 8) {
		const char *key = getenv("SMTPSCOPE_FUZZ_TLS_KEY");
		char *cause = NULL;

		if (keylog_load_server_key(kl,
			key != NULL ? key : "tests/fixtures/tls/rsa-server.key",
			&cause) != 0)
			free(cause);
	}
	t = tls_conn_new(
	    kl, &fuzz_ops, NULL, (flags & 2) != 0, "mx.example.test");
	while (off + 3 <= size) {
		dir = data[off];
		len = (size_t)data[off + 1] << 8 | data[off + 2];
		off += 3;
		if (len > size - off)
			len = size - off;
		if (dir == 2 && kl != NULL)
			keylog_add_text(kl, (const char *)data + off, len);
		else if (dir == 0 || dir == 1)
			tls_conn_feed(t, dir, data + off, len, &ts);
		else if (dir == 3)
			tls_conn_gap(t, EV_DIR_SERVER, len, &ts);
		if (flags & 4)
			tls_conn_retry(t, &ts);
		off += len;
		ts.tv_sec++;
	}
	tls_conn_finish(t, &ts);
	tls_conn_free(t);
	keylog_free(kl);
	return 0;
}
