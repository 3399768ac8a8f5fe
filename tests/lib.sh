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
#   tap_expect_error [--stdout-ok] WHAT STATUS RE CMD...
#                            CMD exits STATUS with one "smtpscope: WHAT: WHY"
#                            line (and maybe "hint: ...") matching RE, and
#                            nothing on stdout unless --stdout-ok; needs $tmp
#   tap_need_public          skip all unless ../shared/captures/public,
#                            tshark and /usr/bin/python3 are there
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

# wait_gone PID TENTHS: wait until PID has exited, at most TENTHS tenths of
# a second; WAITED is set to the tenths waited.  Returns 0 when it is gone.
wait_gone() {
	WAITED=0
	while kill -0 "$1" 2>/dev/null && [ "$WAITED" -lt "$2" ]; do
		sleep 0.1
		WAITED=$((WAITED + 1))
	done
	! kill -0 "$1" 2>/dev/null
}

# The SPEC's error format: one line "smtpscope: WHAT: WHY", maybe "hint: ".
tap_one_error_line() {	# FILE
	_lines=$(wc -l < "$1")
	head -n 1 "$1" | grep -q '^smtpscope: [^:]*: .' || return 1
	[ "$_lines" -eq 1 ] && return 0
	[ "$_lines" -eq 2 ] && sed -n 2p "$1" | grep -q '^hint: ' && return 0
	return 1
}

tap_expect_error() {	# [--stdout-ok] WHAT STATUS RE CMD...
	_quiet=1
	[ "$1" = --stdout-ok ] && { _quiet=0; shift; }
	_what=$1 _status=$2 _re=$3
	shift 3
	"$@" > "$tmp/out" 2> "$tmp/err" < /dev/null
	_rc=$?
	if [ "$_rc" -ne "$_status" ]; then
		tap_fail "$_what (exit $_rc, wanted $_status)" "$(cat "$tmp/err")"
	elif ! tap_one_error_line "$tmp/err"; then
		tap_fail "$_what (not one error line)" "$(cat "$tmp/err")"
	elif ! grep -q -- "$_re" "$tmp/err"; then
		tap_fail "$_what (message does not match $_re)" "$(cat "$tmp/err")"
	elif [ $_quiet = 1 ] && [ -s "$tmp/out" ]; then
		tap_fail "$_what (wrote to stdout)" "$(cat "$tmp/out")"
	else
		tap_pass "$_what"
	fi
}

# The conformance tests need the public captures and the tools to read them.
tap_need_public() {
	pub=$top_srcdir/../shared/captures/public
	[ -d "$pub" ] || tap_skip_all "../shared/captures/public not present"
	command -v tshark >/dev/null 2>&1 || tap_skip_all "tshark not installed"
	[ -x /usr/bin/python3 ] || tap_skip_all "/usr/bin/python3 not installed"
}
