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
   arrived, 0 when none, -1 on error (*why static). */
int keylog_refresh(struct keylog *, const char **why);
/* Look up a secret by label ("CLIENT_RANDOM", "SERVER_TRAFFIC_SECRET_0",
   ...) and client random.  Copies into secret (KEYLOG_SECRET_MAX bytes). */
bool keylog_lookup(const struct keylog *, const char *label,
    const uint8_t client_random[32], uint8_t *secret, size_t *secret_len);
size_t keylog_count(const struct keylog *);
size_t keylog_junk(const struct keylog *);

#endif
