#!/bin/sh
# Benchmark: the UI with 100,000 sessions in its store, every key timed.
#
# usage: bench/ui_scale.sh [BUILDDIR | SMTPSCOPE-BINARY]
#
# Environment:
#   BENCH_DIR   work directory (default /tmp/smtpscope-bench)
#   UI_SIZE     size of the dialogue-heavy capture (default 1200M: about
#               108,000 sessions)
#   UI_ARGS     smtpscope options (default "--limit 100000 --memory 8192":
#               the store must be allowed to keep them all)
#   UI_WAIT     seconds to wait, after the pane changed, for smtpscope to
#               log the end of its redraws (default 0.3): a key answered in
#               several batches (a filter pasted at once) is summed whole
#
# Opens the UI in tmux (200x50) on a `gen -d` capture, waits until it has
# read the whole file ("[done]"), then sends keys one at a time and times
# each two ways: from send-keys until the pane changes (tmux capture-pane -e
# polled: each poll forks, so on a loaded machine this has a floor of some
# tens of ms), and inside smtpscope, from reading the key to the end of its
# redraw (SMTPSCOPE_UI_TIMING).  Prints one line per key and the peak RSS.
# Noisy on a shared machine; a benchmark, not a test.

set -eu

here=$(cd "$(dirname "$0")" && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/smtpscope-bench}
UI_SIZE=${UI_SIZE:-1200M}
UI_ARGS=${UI_ARGS:---limit 100000 --memory 8192}
UI_WAIT=${UI_WAIT:-0.3}

die() { echo "ui_scale: $*" >&2; exit 2; }
command -v tmux >/dev/null 2>&1 || die "tmux is missing"
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
bench_bin "$@" || die "name the binary: bench/ui_scale.sh BUILDDIR"
case $bin in /*) ;; *) bin=$(pwd)/$bin ;; esac
mkdir -p "$BENCH_DIR"
bench_dialogue_capture "$here" "$UI_SIZE"

s=smtpscope-uiscale-$$
pane() { tmux capture-pane -p -e -t "$s"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
timing=$BENCH_DIR/ui-timing.$$
: >"$timing"
chmod 666 "$timing" # smtpscope may run as nobody (-Z)
trap 'tmux kill-session -t "$s" 2>/dev/null || true; rm -f "$timing"' EXIT

# shellcheck disable=SC2086
tmux new-session -d -s "$s" -x 200 -y 50 \
    "TERM=xterm-256color SMTPSCOPE_UI_TIMING=$timing $bin -r $f $UI_ARGS; sleep 600"
t0=$(now_ms)
while ! pane | grep -q '\[done\]'; do
	sleep 0.2
	[ $(($(now_ms) - t0)) -lt 600000 ] || die "the UI did not finish reading"
done
echo "capture: $f"
echo "read in $(($(now_ms) - t0)) ms: $(pane | grep 'sessions' | tail -n 1 |
    sed 's/  */ /g')"

# key NAME KEY...: time one tmux send-keys until the pane changes, and
# what smtpscope itself spent on it (the sum of the batches it logged).
key() {
	name=$1
	shift
	before=$(pane)
	lines=$(wc -l <"$timing")
	t=$(now_ms)
	tmux send-keys -t "$s" "$@"
	while [ "$(pane)" = "$before" ]; do
		if [ $(($(now_ms) - t)) -gt 5000 ]; then
			printf '%-28s no change in 5 s\n' "$name"
			return
		fi
	done
	el=$(($(now_ms) - t))
	# Wait for the log: until it has a new line and UI_WAIT passed
	# without another (a key answered in several batches), 5 s at most.
	n0=-1
	while :; do
		sleep "$UI_WAIT"
		n1=$(wc -l <"$timing")
		[ "$n1" -gt "$lines" ] && [ "$n1" = "$n0" ] && break
		[ $(($(now_ms) - t)) -lt 5000 ] || break
		n0=$n1
	done
	in=$(tail -n +$((lines + 1)) "$timing" |
	    awk '{ t += $3; c += $6 } END { printf "%7.1f ms %7.1f ms", t, c }')
	printf '%-28s %5d ms   %s\n' "$name" "$el" "$in"
}

echo "                             pane     in smtpscope, key read to redraw done"
echo "key                          changed  elapsed    CPU"
# The list follows the newest session: start from the top.
key "home (g)" g
key "down (j)" j
key "page down" NPage
key "page down" NPage
key "page up" PPage
key "end (G)" G
key "up (k)" k
key "problems only (p)" p
key "all again (p)" p
key "filter prompt (/)" /
key "filter: 4" 4
key "filter: 45" 5
key "filter: 452" 2
key "filter: 45 (backspace)" BSpace
key "filter: 452" 2
key "filter: Enter" Enter
key "up (k), filtered" k
key "open session (Enter)" Enter
key "back (Esc)" Escape
key "statistics (s)" s
key "back (Esc)" Escape
key "clear the filter (Esc)" Escape
key "filter prompt (/)" /
key "filter: r" r
key "filter: rc" c
key "filter: rcp" p
key "filter: rcpt" t
key "filter: rcpt:" :
key "filter: rcpt:a" a
key "filter: clear (Ctrl-U)" C-u
key "filter: Esc" Escape
# A cause (read from the replies' diagnoses) and regular expressions,
# each pasted at once: the figures are the sum of every batch.
key "filter prompt (/)" /
key "filter: cause:rcpt-limit" "cause:rcpt-limit"
key "filter: Enter" Enter
key "clear the filter (Esc)" Escape
key "filter prompt (/)" /
key "filter: from:/^sender1[0-9]*\\./" 'from:/^sender1[0-9]*\./'
key "filter: Enter" Enter
key "clear the filter (Esc)" Escape
key "filter prompt (/)" /
key "filter: /example\\.(com|net)\$/" '/example\.(com|net)$/'
key "filter: Enter" Enter
key "statistics (s)" s
key "back (Esc)" Escape
key "clear the filter (Esc)" Escape
pid=$(pgrep -n -f "^$bin " || true) # any binary name
if [ -n "$pid" ]; then
	echo "RSS now: $(awk '/VmRSS/ { print $2 " " $3 }' /proc/"$pid"/status)," \
	    "peak $(awk '/VmHWM/ { print $2 " " $3 }' /proc/"$pid"/status)"
fi
tmux send-keys -t "$s" q
