#!/bin/sh
# Benchmark: live capture on lo at several replay rates, smtpscope (headless
# --json, and the UI in tmux) next to tcpdump.
#
# usage: bench/live.sh [BUILDDIR | SMTPSCOPE-BINARY]
#
# Environment:
#   SMTPSCOPE    binary to measure (else BUILDDIR/smtpscope)
#   BENCH_DIR    work directory (default /tmp/smtpscope-live)
#   LIVE_SIZE    size of the generated capture (default 100M)
#   LIVE_SHAPE   data (the default: DATA-heavy sessions), dialogue (short
#                sessions, many refused: gen -d, the shape of a busy MX),
#                relay (the same sessions to 4,000 servers: gen -d -S 4000,
#                the shape of an outbound relay) or storm (nine sessions in
#                ten refused at the greeting with 421: gen -d -g 900, an
#                outage)
#   LIVE_RATES   replay rates in Mbit/s (default "20 200 1000")
#   LIVE_MODES   any of "tcpdump json ui" (default all three)
#   LIVE_PORT    the SMTP port the capture is moved to (default 18925)
#   LIVE_ARGS    extra smtpscope options (e.g. "-B 2")
#   LIVE_KEYS    keys (tmux key names) to press in the UI, one every
#                LIVE_KEY_GAP seconds (default 0.5), while the capture is
#                replayed, e.g. "g j NPage p p / 4 5 2 Enter G"; the UI row
#                then also gives their latency from smtpscope's log
#                (SMTPSCOPE_UI_TIMING): keys answered, and the elapsed and
#                CPU time from reading a key to the end of its redraw,
#                median and maximum
#
# The capture comes from bench/gen.c (198.18/15, port 25).  tcprewrite
# moves it to 127.18/15 and LIVE_PORT; its Ethernet destinations are not
# lo's address, so the kernel drops the replayed frames after the packet
# taps saw them: nothing answers, no local server is reached.  tcpreplay
# sends it onto lo at each rate while one reader captures.  Per rate and
# reader the table shows the 421 and 452 replies seen out of those in the
# file, and the drops the reader reports (kernel drops; for smtpscope also
# its own: events it could not keep up with).
#
# Needs root (tcpreplay and capture on lo), tcpreplay, tcprewrite, tcpdump
# and tmux.  Hold /tmp/smtpscope-check.lock around it on a shared machine:
# other live tests on lo disturb it and are disturbed by it.  Figures are
# noisy on a busy machine; it is a benchmark, not a test.

set -eu

here=$(cd "$(dirname "$0")" && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/smtpscope-live}
LIVE_SIZE=${LIVE_SIZE:-100M}
LIVE_SHAPE=${LIVE_SHAPE:-data}
LIVE_RATES=${LIVE_RATES:-20 200 1000}
LIVE_MODES=${LIVE_MODES:-tcpdump json ui}
LIVE_PORT=${LIVE_PORT:-18925}
LIVE_ARGS=${LIVE_ARGS:-}
SETTLE=${LIVE_SETTLE:-2}
LIVE_KEYS=${LIVE_KEYS:-}
LIVE_KEY_GAP=${LIVE_KEY_GAP:-0.5}

die() { echo "live: $*" >&2; exit 2; }

for t in tcpreplay tcprewrite tcpdump tmux pkg-config; do
	command -v "$t" >/dev/null 2>&1 || die "$t is missing"
done
[ "$(id -u)" = 0 ] || die "needs root (tcpreplay and capture on lo)"
mkdir -p "$BENCH_DIR"

. "$(dirname "$0")/lib.sh"
bench_bin "$@" || die "name the binary: bench/live.sh BUILDDIR (an -O2 build)"
case $bin in /*) ;; *) bin=$(pwd)/$bin ;; esac

# ---- the capture, on 127/8
gen=$BENCH_DIR/gen
if [ ! -x "$gen" ] || [ -n "$(find "$here/gen.c" -newer "$gen")" ]; then
	# shellcheck disable=SC2046
	${CC:-cc} -std=c11 -D_DEFAULT_SOURCE -O2 -o "$gen" "$here/gen.c" \
	    $(pkg-config --cflags --libs libpcap) || die "cannot build gen"
fi
case $LIVE_SHAPE in
data) shape= name=smtp ;;
dialogue) shape=-d name=smtp-dialogue ;;
relay) shape="-d -S 4000" name=smtp-relay ;;
storm) shape="-d -g 900" name=smtp-storm ;;
*) die "LIVE_SHAPE is data, dialogue, relay or storm" ;;
esac
raw=$BENCH_DIR/$name-$LIVE_SIZE.pcap
lo=$BENCH_DIR/$name-$LIVE_SIZE-lo-$LIVE_PORT.pcap
if [ ! -s "$raw" ]; then
	# shellcheck disable=SC2086
	"$gen" $shape "$raw.tmp" "$LIVE_SIZE" >&2 || die "gen failed"
	mv "$raw.tmp" "$raw"
fi
if [ ! -s "$lo" ]; then
	tcprewrite --pnat=198.18.0.0/15:127.18.0.0/15 \
	    --portmap=25:"$LIVE_PORT" --infile="$raw" --outfile="$lo.tmp" ||
	    die "tcprewrite failed"
	mv "$lo.tmp" "$lo"
fi

count_codes() { # FILE: "N421 N452" from JSON Lines reply events
	a=$(grep '"event": *"reply"' "$1" | grep -c '"code": *421' || true)
	b=$(grep '"event": *"reply"' "$1" | grep -c '"code": *452' || true)
	echo "$a $b"
}
"$bin" -r "$lo" -P "$LIVE_PORT" --json >"$BENCH_DIR/expected.json" ||
    die "$bin -r $lo failed"
set -- $(count_codes "$BENCH_DIR/expected.json")
want421=$1 want452=$2
want=$((want421 + want452))
pkts=$(tail -n 1 "$BENCH_DIR/expected.json" |
    sed -n 's/.*"packets": *\([0-9]*\).*/\1/p')

replay() { # RATE: replay onto lo, keep tcpreplay's own summary
	tcpreplay -i lo --mbps="$1" "$lo" >"$BENCH_DIR/replay.out" 2>&1 ||
	    die "tcpreplay failed: $(tail -n 3 "$BENCH_DIR/replay.out")"
	achieved=$(sed -n 's/.*Rated: .*, \([0-9.]*\) Mbps.*/\1/p' \
	    "$BENCH_DIR/replay.out" | head -n 1)
}

# Each run_* sets seen (421+452 replies seen), drops and note.
run_tcpdump() {
	tcpdump -i lo -n -w /dev/null "tcp port $LIVE_PORT" \
	    2>"$BENCH_DIR/tcpdump.err" &
	pid=$!
	sleep 1
	replay "$1"
	sleep "$SETTLE"
	kill -INT "$pid"
	wait "$pid" || true
	got=$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$BENCH_DIR/tcpdump.err")
	drops=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$BENCH_DIR/tcpdump.err")
	seen=-
	note="captured $got of $pkts packets"
}

run_json() {
	# shellcheck disable=SC2086
	"$bin" -i lo -P "$LIVE_PORT" --json $LIVE_ARGS >"$BENCH_DIR/live.json" \
	    2>"$BENCH_DIR/live.err" &
	pid=$!
	sleep 1
	replay "$1"
	sleep "$SETTLE"
	kill -INT "$pid"
	wait "$pid" || true
	set -- $(count_codes "$BENCH_DIR/live.json")
	seen=$(($1 + $2))
	st=$(tail -n 1 "$BENCH_DIR/live.json")
	drops=$(echo "$st" | sed -n 's/.*"dropped": *\([0-9]*\).*/\1/p')
	lost=$(echo "$st" | sed -n 's/.*"lost": *\([0-9]*\).*/\1/p')
	got=$(echo "$st" | sed -n 's/.*"packets": *\([0-9]*\).*/\1/p')
	note="packets $got of $pkts${lost:+, lost events $lost}"
}

# Sorted numbers on stdin: "median M max X ms".
stat_ms() {
	awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "-"; exit }
		printf "median %.1f max %.1f ms", v[int((NR + 1) / 2)], v[NR] }'
}

run_ui() {
	s=smtpscope-live-$$
	tmux kill-session -t "$s" 2>/dev/null || true
	timing=$BENCH_DIR/ui-timing
	: >"$timing"
	chmod 666 "$timing" # smtpscope may run as nobody (-Z)
	# shellcheck disable=SC2086
	tmux new-session -d -s "$s" -x 200 -y 40 \
	    "TERM=xterm-256color SMTPSCOPE_UI_TIMING=$timing $bin -i lo -P $LIVE_PORT $LIVE_ARGS; sleep 60"
	sleep 1.5
	kpid=
	if [ -n "$LIVE_KEYS" ]; then
		(
			sleep 0.5
			for k in $LIVE_KEYS; do
				tmux send-keys -t "$s" "$k"
				sleep "$LIVE_KEY_GAP"
			done
		) &
		kpid=$!
	fi
	replay "$1"
	[ -z "$kpid" ] || wait "$kpid"
	sleep "$SETTLE"
	tmux capture-pane -p -t "$s" >"$BENCH_DIR/ui.txt"
	tmux send-keys -t "$s" q
	sleep 0.5
	tmux kill-session -t "$s" 2>/dev/null || true
	bar=$(grep 'replies:' "$BENCH_DIR/ui.txt" | tail -n 1)
	a=$(echo "$bar" | sed -n 's/.*421 replies: \([0-9]*\).*/\1/p')
	b=$(echo "$bar" | sed -n 's/.*452 replies: \([0-9]*\).*/\1/p')
	drops=$(echo "$bar" | sed -n 's/.*drops \([0-9]*\).*/\1/p')
	lost=$(echo "$bar" | sed -n 's/.*lost \([0-9]*\).*/\1/p')
	got=$(echo "$bar" | sed -n 's/.*pkts \([0-9]*\).*/\1/p')
	seen=$((${a:-0} + ${b:-0}))
	note="packets ${got:-?} of $pkts${lost:+, lost events $lost}"
	if [ -n "$LIVE_KEYS" ]; then
		# "key K E ms, cpu C ms" per batch of keys read.
		el=$(awk '{ print $3 }' "$timing" | sort -n | stat_ms)
		cpu=$(awk '{ print $6 }' "$timing" | sort -n | stat_ms)
		keys="$(wc -l <"$timing") batches, elapsed $el, CPU $cpu"
		note="$note; keys: $keys"
	fi
}

echo "smtpscope: $bin"
echo "capture: $lo, $pkts packets, $want421 replies 421 and $want452 replies 452"
echo "uptime:$(uptime | sed 's/.*load/ load/')"
printf '%-6s %-8s %-9s %-12s %-10s %s\n' Mbit/s actual reader "421+452" drops note
for r in $LIVE_RATES; do
	for m in $LIVE_MODES; do
		"run_$m" "$r"
		printf '%-6s %-8s %-9s %-12s %-10s %s\n' "$r" "${achieved:-?}" \
		    "$m" "$([ "$seen" = - ] && echo - || echo "$seen/$want")" \
		    "${drops:-?}" "$note"
	done
done
