#!/bin/sh
# privdrop.sh: whom smtpscope becomes when started as root.
#
# Through sudo (SUDO_UID and SUDO_GID set) it drops to the invoking user, so
# that what it saves belongs to them, and a -w file it creates is handed to
# them too; -Z still decides when given; without sudo (or with a SUDO_UID
# that is 0 or not a number) it drops to nobody.  Each case reads a capture
# from a named pipe that stays open, so the process is still there, past
# the drop, when /proc/PID/status is read; then the -w file's owner is
# checked.
# The sudo user is a made-up uid with no passwd entry, as in a container.
# Needs root; skips otherwise.
. "$(dirname "$0")/lib.sh"
tap_init

[ "$(id -u)" = 0 ] || tap_skip_all "needs root (to drop privileges)"
[ -x "$SMTPSCOPE" ] || tap_skip_all "no smtpscope binary at $SMTPSCOPE"
nobody=$(id -u nobody 2>/dev/null) || tap_skip_all "no user nobody"
nogroup=$(id -g nobody)

TUID=64123
TGID=64124
pcap=$top_srcdir/tests/fixtures/postfix-clean.pcap

tmp=$(mktemp -d "${TMPDIR:-/tmp}/privdrop.XXXXXX") || exit 1
chmod 755 "$tmp"
PID=
cleanup() {
	[ -z "$PID" ] || kill "$PID" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# run NAME [VAR=VALUE...] -- [smtpscope options]: start smtpscope as root
# with that environment (and no other SUDO_ variable) on a capture fed
# through a named pipe that stays open, wait for its first event (written
# after the drop), record "uid gid" of the process in $tmp/NAME.ids and of
# its -w file in $tmp/NAME.own, stop it.
run() {
	name=$1
	shift
	envs=
	while [ "$1" != -- ]; do
		envs="$envs $1"
		shift
	done
	shift
	rm -f "$tmp/fifo"
	mkfifo "$tmp/fifo"
	# shellcheck disable=SC2086 # the assignments are split on purpose
	env -u SUDO_UID -u SUDO_GID -u SUDO_USER $envs \
	    "$SMTPSCOPE" -r "$tmp/fifo" -j -w "$tmp/$name.pcap" "$@" \
	    > "$tmp/$name.out" 2> "$tmp/$name.err" &
	PID=$!
	exec 3> "$tmp/fifo"
	cat "$pcap" >&3
	i=0
	while [ $i -lt 100 ] && ! grep -q session_open "$tmp/$name.out"; do
		kill -0 $PID 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	awk '/^Uid:/ { u = $2 } /^Gid:/ { g = $2 } END { print u, g }' \
	    /proc/$PID/status > "$tmp/$name.ids" 2>/dev/null
	kill $PID 2>/dev/null
	exec 3>&-
	wait $PID 2>/dev/null
	PID=
	stat -c '%u %g' "$tmp/$name.pcap" > "$tmp/$name.own" 2>/dev/null
}

# expect NAME "UID GID" "FILE-UID FILE-GID" TEXT
expect() {
	ids=$(cat "$tmp/$1.ids" 2>/dev/null)
	own=$(cat "$tmp/$1.own" 2>/dev/null)
	if [ "$ids" = "$2" ]; then
		tap_pass "$4: runs as $2"
	else
		tap_fail "$4: runs as $2" "runs as '$ids'; stderr: $(cat "$tmp/$1.err")"
	fi
	if [ "$own" = "$3" ]; then
		tap_pass "$4: the -w file belongs to $3"
	else
		tap_fail "$4: the -w file belongs to $3" "owner '$own'"
	fi
}

tap_plan 13

run sudo SUDO_UID=$TUID SUDO_GID=$TGID SUDO_USER=someone --
expect sudo "$TUID $TGID" "$TUID $TGID" "through sudo"

run sudo-z SUDO_UID=$TUID SUDO_GID=$TGID -- -Z nobody
expect sudo-z "$nobody $nogroup" "0 0" "through sudo with -Z nobody"

run root --
expect root "$nobody $nogroup" "0 0" "as root without sudo"

run sudo-root SUDO_UID=0 SUDO_GID=0 --
expect sudo-root "$nobody $nogroup" "0 0" "sudo from root (SUDO_UID=0)"

run sudo-bad SUDO_UID=${TUID}x SUDO_GID=$TGID --
expect sudo-bad "$nobody $nogroup" "0 0" "SUDO_UID not a number"

run sudo-nogid SUDO_UID=$TUID --
expect sudo-nogid "$nobody $nogroup" "0 0" "SUDO_UID without SUDO_GID"

# A -w file that existed keeps its owner: only what smtpscope created is
# handed over.
: > "$tmp/keep.pcap"
run keep SUDO_UID=$TUID SUDO_GID=$TGID --
own=$(stat -c '%u %g' "$tmp/keep.pcap")
if [ "$own" = "0 0" ] && [ -s "$tmp/keep.pcap" ]; then
	tap_pass "through sudo, an existing -w file is written and keeps its owner"
else
	tap_fail "through sudo, an existing -w file is written and keeps its owner" \
	    "owner '$own', $(wc -c < "$tmp/keep.pcap") bytes"
fi
exit 0
