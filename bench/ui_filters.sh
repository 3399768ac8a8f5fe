#!/bin/sh
# Benchmark: filters pasted into the UI with 100,000 sessions in its store,
# each pattern new to it (no list kept from an earlier filter).
#
# usage: bench/ui_filters.sh [BUILDDIR | SMTPSCOPE-BINARY]
#
# Environment:
#   BENCH_DIR   work directory (default /tmp/smtpscope-bench)
#   UI_SIZE     size of the dialogue-heavy capture (default 1200M: about
#               105,000 sessions; the same file as bench/ui_scale.sh)
#   UI_ARGS     smtpscope options (default "--limit 100000 --memory 8192")
#   UI_ROUNDS   patterns of each kind (default 8)
#
# Opens the UI in tmux on a `gen -d` capture, waits until it has read the
# whole file, then UI_ROUNDS times pastes one pattern of each kind below,
# each with a round number in it so that no two are alike, after Esc and
# "/".  smtpscope logs each batch of keys (SMTPSCOPE_UI_TIMING): the figures
# per paste are the time from reading the keys to the end of the redraw
# (elapsed: what the user waits) and the UI thread's CPU time in it (a
# full walk over the store is split with a helper thread, whose CPU time
# is not counted there).  Prints, per kind, the median and the largest of
# each.  Steadier than
# bench/ui_scale.sh's single keys on a shared machine, as each kind is
# measured several times; a benchmark, not a test.

set -eu

here=$(cd "$(dirname "$0")" && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/smtpscope-bench}
UI_SIZE=${UI_SIZE:-1200M}
UI_ARGS=${UI_ARGS:---limit 100000 --memory 8192}
UI_ROUNDS=${UI_ROUNDS:-8}

die() { echo "ui_filters: $*" >&2; exit 2; }
command -v tmux >/dev/null 2>&1 || die "tmux is missing"
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
bench_bin "$@" || die "name the binary: bench/ui_filters.sh BUILDDIR"
case $bin in /*) ;; *) bin=$(pwd)/$bin ;; esac
mkdir -p "$BENCH_DIR"
bench_dialogue_capture "$here" "$UI_SIZE"

s=smtpscope-uifilters-$$
timing=$BENCH_DIR/ui-filters.$$
out=$BENCH_DIR/ui-filters-out.$$
: >"$timing"
: >"$out"
chmod 666 "$timing" # smtpscope may run as nobody (-Z)
trap 'tmux kill-session -t "$s" 2>/dev/null || true; rm -f "$timing" "$out"' EXIT

# shellcheck disable=SC2086
tmux new-session -d -s "$s" -x 200 -y 50 \
    "TERM=xterm-256color SMTPSCOPE_UI_TIMING=$timing $bin -r $f $UI_ARGS; sleep 600"
t0=$(date +%s)
while ! tmux capture-pane -p -t "$s" | grep -q '\[done\]'; do
	sleep 0.5
	[ $(($(date +%s) - t0)) -lt 600 ] || die "the UI did not finish reading"
done
echo "capture: $f"

# paste KIND TEXT: paste TEXT into a new filter prompt; append
# "KIND ELAPSED-ms CPU-ms" to $out once smtpscope has logged the batch.
paste_one() {
	tmux send-keys -t "$s" Escape
	sleep 0.5
	tmux send-keys -t "$s" /
	sleep 0.5
	lines=$(wc -l <"$timing")
	tmux send-keys -t "$s" -l -- "$2"
	sleep 1.2
	tail -n +$((lines + 1)) "$timing" |
	    awk -v k="$1" '{ e += $3; c += $6 }
		END { printf "%s %.1f %.1f\n", k, e, c }' >>"$out"
}

r=1
while [ "$r" -le "$UI_ROUNDS" ]; do
	paste_one "from:/^senderN[0-9]*\\./" "from:/^sender${r}[0-9]*\\./"
	paste_one "/examplN?\\.(com|net)\$/" "/exampl[e]$r?\\.(com|net)\$/"
	paste_one "/(a|)b*N@example\\.net\$/" "/(a|)b*$r@example\\.net\$/"
	paste_one "/exampNle|[[:upper:]]y/" "/examp${r}le|[[:upper:]]y/"
	paste_one "rcpt:rcptN (substring)" "rcpt:rcpt$r"
	r=$((r + 1))
done

echo "pattern kind (N: the round)          elapsed: median  largest" \
    "  UI thread CPU: median  largest"
awk '{ k = $1; for (i = 2; i < NF - 1; i++) k = k " " $i
       e[k] = e[k] " " $(NF - 1); c[k] = c[k] " " $NF
       if (!(k in order)) { order[k] = ++n; keys[n] = k } }
     function stat(s,   a, m, x, y, t, med) {
	m = split(s, a, " ")
	for (x = 1; x <= m; x++) for (y = x + 1; y <= m; y++)
		if (a[y] + 0 < a[x] + 0) { t = a[x]; a[x] = a[y]; a[y] = t }
	med = m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
	return sprintf("%7.1f ms %7.1f ms", med, a[m])
     }
     END {
	for (j = 1; j <= n; j++)
		printf "%-36s %s     %s\n", keys[j], stat(e[keys[j]]),
		    stat(c[keys[j]])
     }' "$out"
tmux send-keys -t "$s" q
