#ifndef SMTPSCOPE_PRIVDROP_H
#define SMTPSCOPE_PRIVDROP_H

/*
 * -Z: drop root after the capture is opened, before any packet is parsed.
 * user is the -Z argument; NULL means, when running as root, the user who
 * ran sudo (SUDO_UID and SUDO_GID, both decimal and not 0), else "nobody";
 * when not root, NULL means nothing to do.
 * give (may be NULL) is a file this process created as root just before:
 * when dropping to the sudo user it is handed over to them (a plain file
 * owned by root with one link only; anything else is left alone).
 * Returns 0, or -1 with *cause set (allocated, the caller frees it) when
 * the user is unknown, a step of the drop fails, or root could be regained
 * afterwards.
 */
int privdrop(const char *user, const char *give, char **cause);
/* The account root was given up for, or NULL when privdrop() did not. */
const char *privdrop_user(void);

#endif
