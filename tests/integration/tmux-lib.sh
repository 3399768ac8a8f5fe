#!/bin/sh
# tmux-lib.sh: what the tmux-driven UI tests share.  Source it, then call
#   tmux_init NAME      skip all unless tmux and /usr/bin/python3 are there;
#                       make $WORK (removed on exit unless KEEP is set) and a
#                       private tmux server ($TM)
#   ok TEXT, not_ok TEXT, check TEXT CMD..., skip COUNT REASON
#                       TAP lines, counted in $n and $fails; a failure
#                       prints the pane as a comment
#   start W H [ENV=VALUE...] -- ARGS
#                       smtpscope in a new window of W x H; the shell prints
#                       EXIT=status when it returns
#   pane [-e]           the visible pane into $WORK/pane (-e: with SGR codes)
#   wait_for REGEX [SECONDS]   poll the pane until grep -E matches
#   keys KEY...         send keys, then give the UI a moment

: "${top_srcdir:=.}"
: "${SMTPSCOPE:=./smtpscope}"
PY=/usr/bin/python3
FIX="$top_srcdir/tests/fixtures"
TZ=UTC
export TZ
n=0
fails=0

tmux_init() {
	if ! command -v tmux >/dev/null 2>&1; then
		echo "1..0 # SKIP tmux is not installed"
		exit 0
	fi
	if [ ! -x "$PY" ]; then
		echo "1..0 # SKIP /usr/bin/python3 is needed"
		exit 0
	fi
	TM="tmux -L smtpscope-$1-test-$$ -f /dev/null"
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/smtpscope-$1.XXXXXX")
	# Run as root, smtpscope drops privileges: the save directory must
	# be open to the user it becomes.
	chmod 777 "$WORK"
	trap '$TM kill-server >/dev/null 2>&1; [ -n "$KEEP" ] || rm -rf "$WORK"' \
	    EXIT INT TERM
}

ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}
not_ok() {
	n=$((n + 1))
	fails=$((fails + 1))
	echo "not ok $n - $1"
	if [ -f "$WORK/pane" ]; then
		sed 's/^/# /' "$WORK/pane"
	fi
}
check() { # check "what" command...
	what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
skip() { # skip COUNT reason
	i=0
	while [ $i -lt "$1" ]; do
		n=$((n + 1))
		echo "ok $n # SKIP $2"
		i=$((i + 1))
	done
}
pane() {
	$TM capture-pane -p "$@" -t ui >"$WORK/pane" 2>/dev/null
}
wait_for() {
	i=0
	lim=$(( ${2:-5} * 10 ))
	while [ $i -lt $lim ]; do
		pane
		grep -Eq -- "$1" "$WORK/pane" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
keys() {
	$TM send-keys -t ui "$@"
	sleep 0.3
}
start() {
	w=$1
	h=$2
	shift 2
	envs=""
	while [ "$1" != "--" ]; do
		envs="$envs $1"
		shift
	done
	shift
	$TM kill-server >/dev/null 2>&1
	sleep 0.2
	$TM new-session -d -s ui -x "$w" -y "$h" -c "$WORK" \
	    "env TZ=UTC $envs $SMTPSCOPE $*; echo EXIT=\$?; sleep 60"
	$TM set-option -t ui -g status off >/dev/null 2>&1
}
