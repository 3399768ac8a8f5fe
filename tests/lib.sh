#!/bin/sh
# lib.sh: small helpers shared by the shell tests (TAP output).  Source it.
#
#   tap_init                 set top_srcdir/top_builddir/SMTPSCOPE defaults
#                            when a test is run by hand
#   tap_plan N | tap_skip_all REASON
#   tap_ok COND_STATUS TEXT  "ok N - TEXT" when COND_STATUS is 0, else not ok
#   tap_pass TEXT, tap_fail TEXT [DIAG], tap_skip TEXT
#                            one result line each (counted in TAP_N and
#                            TAP_FAILED; tap_fail always returns 0)
#   tap_diag TEXT...         "# TEXT" lines (shown by the TAP driver)
#   json_normalise           filter: make --json output comparable across
#                            runs (the stats line's wall-clock "elapsed")

TAP_N=0
TAP_FAILED=0

tap_init() {
	here=$(cd "$(dirname "$0")" && pwd)
	while [ ! -f "$here/configure.ac" ] && [ "$here" != / ]; do
		here=$(dirname "$here")
	done
	: "${top_srcdir:=$here}"
	: "${top_builddir:=$top_srcdir}"
	: "${SMTPSCOPE:=$top_builddir/smtpscope}"
	export top_srcdir top_builddir SMTPSCOPE
}

tap_plan() {
	echo "1..$1"
}

tap_skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

tap_ok() {
	TAP_N=$((TAP_N + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $TAP_N - $2"
	else
		echo "not ok $TAP_N - $2"
		TAP_FAILED=$((TAP_FAILED + 1))
	fi
}

tap_pass() {
	TAP_N=$((TAP_N + 1))
	echo "ok $TAP_N - $1"
}

tap_fail() {
	TAP_N=$((TAP_N + 1))
	TAP_FAILED=$((TAP_FAILED + 1))
	echo "not ok $TAP_N - $1"
	[ -n "${2:-}" ] && tap_diag "$2"
	return 0
}

tap_skip() {
	TAP_N=$((TAP_N + 1))
	echo "ok $TAP_N # SKIP $1"
}

tap_diag() {
	printf '%s\n' "$@" | sed 's/^/# /'
}

json_normalise() {
	sed '/"event":"stats"/s/"elapsed":[-0-9.eE+]*/"elapsed":0/'
}

# wait_capturing PID: wait (10 s at most) until PID, or a child of it such as
# the smtpscope under `timeout`, holds a socket: the live capture is open.
# Loaded machines (sanitizer builds, parallel tests) start slowly.
wait_capturing() {
	_i=0
	while [ $_i -lt 100 ]; do
		for _p in "$1" $(pgrep -P "$1" 2>/dev/null); do
			if ls -l /proc/"$_p"/fd 2>/dev/null | grep -q 'socket:'; then
				sleep 0.3 # the filter is set right after
				return 0
			fi
		done
		kill -0 "$1" 2>/dev/null || return 1
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}
