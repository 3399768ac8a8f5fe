#ifndef SMTPSCOPE_RULES_H
#define SMTPSCOPE_RULES_H

#include <stddef.h>

/*
 * The diagnosis rules file: parsing into a rule list.  The format is
 * documented at the top of data/rules.conf.  The built-in rules are that
 * file compiled in (src/rules_builtin.c, generated).
 */

struct rules;
struct rule;

/* Parse text (len bytes, need not be NUL-terminated); fname is used in
   errors.  Returns NULL with *cause ("FILE:LINE: why", caller frees) on a
   malformed file. */
struct rules *rules_parse(const char *text, size_t len, const char *fname,
    char **cause);
/* Read and parse a file; NULL with *cause on error. */
struct rules *rules_load(const char *path, char **cause);
/* The compiled-in rules; never fails (a bad built-in file is a bug). */
struct rules *rules_builtin(void);
void rules_free(struct rules *);
size_t rules_count(const struct rules *);

extern const char rules_builtin_text[];
extern const size_t rules_builtin_text_len;

#endif
