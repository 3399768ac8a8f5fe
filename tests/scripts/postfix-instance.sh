#!/bin/sh
# postfix-instance.sh: run a private Postfix instance for tests, never the
# system one.  Source this file, then:
#
#   pf_start DIR PORT [main.cf line ...]   start Postfix with its own
#                                          config, queue and data directories
#                                          under DIR, smtpd on 127.0.0.1:PORT
#   pf_stop DIR                            stop it
#
# The instance accepts mail for example.test and any domain from the
# loopback network, and discards it (local_transport = discard), so every
# accepted message gets "250 2.0.0 Ok: queued as ID".  Extra arguments are
# main.cf settings ("smtpd_recipient_limit = 3").  PORT 465 style implicit TLS
# and STARTTLS are set through those settings and pf_master_line.
#
# Plain POSIX sh (dash is fine): readiness is checked with ss(8) from
# iproute2, which also avoids opening a connection that Postfix would log.

pf_postconf() {
	postconf -c "$PF_DIR/etc" -e "$@" >/dev/null
}

# pf_master_cf PORT: a complete master.cf of our own.  Nothing is read from
# the system's /etc/postfix/master.cf: on a real MX that file has listeners
# of its own (127.0.0.2:25, [::1]:587...) that a second instance cannot bind.
# No chroot, so the instance needs no files copied into its queue directory.
pf_master_cf() {
	printf '127.0.0.1:%s inet n - n - - smtpd\n' "$1"
	# name, type, private, wakeup, maxproc, command; unprivileged and
	# chroot are "-" and "n" for all.
	while read -r name type private wakeup maxproc command; do
		printf '%s %s %s - n %s %s %s\n' "$name" "$type" "$private" \
		    "$wakeup" "$maxproc" "$command"
	done <<'EOF_SERVICES'
pickup unix n 60 1 pickup
cleanup unix n - 0 cleanup
qmgr unix n 300 1 qmgr
tlsmgr unix - 1000? 1 tlsmgr
rewrite unix - - - trivial-rewrite
bounce unix - - 0 bounce
defer unix - - 0 bounce
trace unix - - 0 bounce
verify unix - - 1 verify
flush unix - 1000? 0 flush
proxymap unix - - - proxymap
proxywrite unix - - 1 proxymap
smtp unix - - - smtp
relay unix - - - smtp
showq unix - - - showq
error unix - - - error
retry unix - - - error
discard unix - - - discard
local unix - - - local
virtual unix - - - virtual
lmtp unix - - - lmtp
anvil unix - - 1 anvil
scache unix - - 1 scache
postlog unix-dgram n - 1 postlogd
EOF_SERVICES
}

# pf_master_line DIR LINE: add a master.cf service line (e.g. a 465 listener).
pf_master_line() {
	printf '%s\n' "$2" >> "$1/etc/master.cf"
}

# pf_listening PORT: something listens on 127.0.0.1:PORT.
pf_listening() {
	ss -Hltn "sport = :$1" 2>/dev/null | grep -q '127\.0\.0\.1:'
}

pf_start() {
	PF_DIR=$1
	PF_PORT=$2
	shift 2
	pf_stop "$PF_DIR" 2>/dev/null
	rm -rf "$PF_DIR"
	mkdir -p "$PF_DIR/etc" "$PF_DIR/spool" "$PF_DIR/data"
	pf_master_cf "$PF_PORT" > "$PF_DIR/etc/master.cf"
	: > "$PF_DIR/etc/main.cf"
	pf_postconf \
	    "compatibility_level = 3.6" \
	    "queue_directory = $PF_DIR/spool" \
	    "data_directory = $PF_DIR/data" \
	    "myhostname = mx.example.test" \
	    "mydomain = example.test" \
	    "myorigin = example.test" \
	    "mydestination = example.test, localhost" \
	    "inet_interfaces = loopback-only" \
	    "inet_protocols = ipv4" \
	    "mynetworks = 127.0.0.0/8" \
	    "local_recipient_maps =" \
	    "local_transport = discard" \
	    "default_transport = discard" \
	    "relay_transport = discard" \
	    "alias_maps =" \
	    "alias_database =" \
	    "smtpd_banner = \$myhostname ESMTP Postfix" \
	    "maillog_file_prefixes = $PF_DIR" \
	    "maillog_file = $PF_DIR/maillog" \
	    "smtputf8_enable = no" \
	    "biff = no" \
	    "shlib_directory = /usr/lib/postfix" \
	    "daemon_directory = /usr/lib/postfix/sbin" \
	    "meta_directory = /etc/postfix" \
	    "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination"
	for setting in "$@"; do
		pf_postconf "$setting"
	done
	postfix -c "$PF_DIR/etc" set-permissions >/dev/null 2>&1 || true
	postfix -c "$PF_DIR/etc" start >/dev/null 2>&1 || {
		echo "postfix-instance: could not start Postfix in $PF_DIR" >&2
		cat "$PF_DIR/maillog" >&2 2>/dev/null
		return 1
	}
	# Wait until smtpd answers.
	i=0
	while [ $i -lt 50 ]; do
		if pf_listening "$PF_PORT"; then
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	echo "postfix-instance: Postfix in $PF_DIR does not listen on $PF_PORT" >&2
	return 1
}

pf_stop() {
	[ -d "$1/etc" ] || return 0
	postfix -c "$1/etc" stop >/dev/null 2>&1 || true
}
