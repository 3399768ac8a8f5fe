/*
 * privdrop: -Z, give up root once the capture is open.
 *
 * Whom to become: the -Z user; without -Z and running as root, the user who
 * ran sudo (SUDO_UID and SUDO_GID), so that what the program saves lands
 * where that user expects and belongs to them; otherwise "nobody".
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
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xmalloc.h"

/* The account used when running as root and no -Z is given. */
#define PRIVDROP_DEFAULT_USER "nobody"

/* Who we became, for messages about files we can no longer write. */
static char privdrop_to[64];

const char *
privdrop_user(void)
{
	return privdrop_to[0] != '\0' ? privdrop_to : NULL;
}

/*
 * A decimal id from the environment: digits only, no sign, no overflow, not
 * 0 (root running sudo has nobody else to become) and not (id_t)-1.
 */
static bool
privdrop_env_id(const char *name, unsigned long *id)
{
	const char *v = getenv(name);
	char *end;
	unsigned long n;

	if (v == NULL || *v < '0' || *v > '9')
		return false;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno != 0 || *end != '\0' || n == 0 || n != (uid_t)n ||
	    n != (gid_t)n || (uid_t)n == (uid_t)-1)
		return false;
	*id = n;
	return true;
}

/*
 * Hand a file this process created as root over to uid:gid.  Only a plain
 * file that root owns with a single link is handed over: nothing that was
 * swapped for a symlink or a hard link to someone else's file since.
 */
static void
privdrop_give(const char *path, uid_t uid, gid_t gid)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0 &&
	    st.st_nlink == 1)
		(void)fchown(fd, uid, gid);
	close(fd);
}

int
privdrop(const char *user, const char *give, char **cause)
{
	char name[64];
	struct passwd *pw;
	unsigned long su, sg;
	bool sudo = false;
	uid_t uid;
	gid_t gid;

	*cause = NULL;
	if (user == NULL) {
		if (geteuid() != 0)
			return 0;
		sudo = privdrop_env_id("SUDO_UID", &su) &&
		       privdrop_env_id("SUDO_GID", &sg);
		if (!sudo)
			user = PRIVDROP_DEFAULT_USER;
	}
	if (sudo) {
		uid = (uid_t)su;
		gid = (gid_t)sg;
		/* The account may have no passwd entry (a container's uid):
		   then its group from SUDO_GID is its only group. */
		pw = getpwuid(uid);
		if (pw != NULL)
			snprintf(name, sizeof name, "%s", pw->pw_name);
		else
			snprintf(name, sizeof name, "uid %lu", su);
	} else {
		pw = getpwnam(user);
		if (pw == NULL) {
			xasprintf(cause, "unknown user '%s'", user);
			return -1;
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
		snprintf(name, sizeof name, "%s", pw->pw_name);
	}
	/*
	 * Not root (e.g. capabilities granted with setcap): there is no root
	 * to give up, and switching users is impossible; tcpdump does the
	 * same and carries on.
	 */
	if (geteuid() != 0)
		return 0;
	if (sudo && give != NULL)
		privdrop_give(give, uid, gid);
	if ((pw == NULL || initgroups(pw->pw_name, gid) != 0) &&
	    setgroups(1, &gid) != 0) {
		xasprintf(cause, "setgroups: %s", strerror(errno));
		return -1;
	}
	if (setresgid(gid, gid, gid) != 0) {
		xasprintf(cause, "setgid %lu: %s", (unsigned long)gid,
		    strerror(errno));
		return -1;
	}
	if (setresuid(uid, uid, uid) != 0) {
		xasprintf(cause, "setuid %lu (%s): %s", (unsigned long)uid,
		    name, strerror(errno));
		return -1;
	}
	/* Dropping to uid 0 itself (-Z root) is allowed and trivially true. */
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		*cause = xstrdup("could regain root after dropping privileges");
		return -1;
	}
	if (uid != 0)
		snprintf(privdrop_to, sizeof privdrop_to, "%s", name);
	return 0;
}
