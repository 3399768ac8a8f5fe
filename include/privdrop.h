#ifndef SMTPSCOPE_PRIVDROP_H
#define SMTPSCOPE_PRIVDROP_H

/*
 * -Z: drop root after the capture is opened, before any packet is parsed.
 * user NULL means "nobody" when running as root, nothing otherwise.
 * Returns 0, or -1 with *why set (static string) when the user is unknown or
 * root could be regained afterwards.
 */
int privdrop(const char *user, const char **why);
/* The account root was given up for, or NULL when privdrop() did not. */
const char *privdrop_user(void);

#endif
