/*
 * privdrop: -Z, give up root once the capture is open.
 *
 * Order matters: supplementary groups first (setgroups needs root), then the
 * group, then the user; afterwards setuid(0) must fail, or the drop did not
 * take (e.g. a saved set-user-ID of 0 left behind) and we refuse to go on.
 * Descriptors opened before the drop (the capture, the -w file, the key log)
 * stay usable.
 */
#include "config.h"

#include "privdrop.h"

#include <sys/types.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The account used when running as root and no -Z is given. */
#define PRIVDROP_DEFAULT_USER "nobody"

/* Who we became, for messages about files we can no longer write. */
static char privdrop_to[64];

const char *
privdrop_user(void)
{
	return privdrop_to[0] != '\0' ? privdrop_to : NULL;
}

int
privdrop(const char *user, const char **why)
{
	static char msg[256];
	struct passwd *pw;
	uid_t uid;
	gid_t gid;

	*why = NULL;
	if (user == NULL) {
		if (geteuid() != 0)
			return 0;
		user = PRIVDROP_DEFAULT_USER;
	}
	pw = getpwnam(user);
	if (pw == NULL) {
		snprintf(msg, sizeof msg, "unknown user '%s'", user);
		*why = msg;
		return -1;
	}
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	/*
	 * Not root (e.g. capabilities granted with setcap): there is no root
	 * to give up, and switching users is impossible; tcpdump does the
	 * same and carries on.
	 */
	if (geteuid() != 0)
		return 0;
	if (initgroups(pw->pw_name, gid) != 0 && setgroups(1, &gid) != 0) {
		snprintf(msg, sizeof msg, "setgroups: %s", strerror(errno));
		*why = msg;
		return -1;
	}
	if (setresgid(gid, gid, gid) != 0) {
		snprintf(msg, sizeof msg, "setgid %lu: %s", (unsigned long)gid,
		    strerror(errno));
		*why = msg;
		return -1;
	}
	if (setresuid(uid, uid, uid) != 0) {
		snprintf(msg, sizeof msg, "setuid %lu (%s): %s",
		    (unsigned long)uid, user, strerror(errno));
		*why = msg;
		return -1;
	}
	/* Dropping to uid 0 itself (-Z root) is allowed and trivially true. */
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		*why = "could regain root after dropping privileges";
		return -1;
	}
	if (uid != 0)
		snprintf(privdrop_to, sizeof privdrop_to, "%s", pw->pw_name);
	return 0;
}
