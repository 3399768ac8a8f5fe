/*
 * diag_tables: the fixed knowledge of the diagnosis (src/diag_tables.c);
 * private to diag.c.  diag_code_meaning() is declared in diag.h.
 */
#ifndef SMTPSCOPE_DIAG_TABLES_H
#define SMTPSCOPE_DIAG_TABLES_H

/* Meaning of a reply code's first digit (index 2-5; 0 and 1 are NULL) and
   of its second digit (index 0-5). */
extern const char *const diag_first_digit[6];
extern const char *const diag_second_digit[6];

/* The short name of a basic reply code ("Service not available"), or
   NULL. */
const char *diag_code_name(int code);

/* A server software's default idle timeout. */
struct diag_idle_default {
	const char *id;	  /* kb server id: "postfix", "exim", ... */
	const char *knob; /* the setting, as the explanation names it */
	double ms;
};

/* The default idle timeout of the server software id, or NULL. */
const struct diag_idle_default *diag_idle_default(const char *id);

#endif
