#ifndef SMTPSCOPE_LEXICON_H
#define SMTPSCOPE_LEXICON_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The cause lexicon and the enhanced-code table (data/lexicon.conf, whose
 * head documents the format): words of a reply text that name a cause, and
 * what each class-free enhanced code (3.2 of 4.3.2) means and can be caused
 * by.  Parsing and lookup only; diag.c weighs the answers.
 */

#define LEXICON_MAX 4000	    /* entries per file */
#define LEXICON_FILE_MAX (1u << 20) /* bytes per file */
#define LEXICON_LINE_MAX 2048	    /* bytes per line */
#define LEXICON_CAUSES 4	    /* causes per enhanced entry */

struct lexicon;

/* What the words of a text say. */
struct lexicon_hit {
	int cause;	/* kb_causes index */
	int weight;	/* 1..100 */
	char words[48]; /* the words matched, lower case, printable */
};

/* Parse text[0..len); fname names it in errors.  NULL with *why ("FILE:LINE:
   what", caller frees) on a malformed file. */
struct lexicon *lexicon_parse(
    const char *text, size_t len, const char *fname, char **why);
struct lexicon *lexicon_load(const char *path, char **why);
/* The compiled-in lexicon; never fails (a bad built-in file is a bug). */
struct lexicon *lexicon_builtin(void);
void lexicon_free(struct lexicon *);
size_t lexicon_nwords(const struct lexicon *);

/* The best word entry matching text over the lexicons in order (the first
   has precedence on equal weight): false when none matches. */
bool lexicon_match(const struct lexicon *const *lx, size_t n, const char *text,
    struct lexicon_hit *hit);
/* The entry of a class-free code (subject, detail; detail -1: the subject
   itself) over the lexicons in order: its meaning, and its causes (kb
   indexes) into causes[LEXICON_CAUSES] with their number in *ncauses.  NULL
   when no entry (not even the subject's) exists. */
const char *lexicon_enhanced(const struct lexicon *const *lx, size_t n,
    int subject, int detail, int *causes, size_t *ncauses);

extern const char lexicon_builtin_text[];
extern const size_t lexicon_builtin_text_len;

#endif
