#!/bin/sh
# readahead.sh: a capture file is read on a second thread (capture.c,
# "read-ahead"); stdin is read directly.  Whatever the path, the events
# must be the same: this runs the cases where the two threads have to agree
# on more than "read everything" -- -c stopping in the middle of a block,
# frames larger than a block, a file cut in the middle of a packet after
# the ring has wrapped many times, and a reader of our output that goes
# away early (the analysis stops, the reader thread must not hang).  With
# one CPU (taskset) the file is read directly, as stdin and pipes are.
. "$(dirname "$0")/lib.sh"
tap_init

fx=$top_srcdir/tests/fixtures
demo=$top_srcdir/data/demo.pcap
large=$fx/postfix-large-message.pcap
[ -x "$SMTPSCOPE" ] || tap_skip_all "no smtpscope binary at $SMTPSCOPE"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/readahead.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

tap_plan 13

# same WHAT FILE ARGS...: file and stdin give the same events and status.
same() {
	_what=$1 _f=$2
	shift 2
	"$SMTPSCOPE" -r "$_f" -j "$@" > "$tmp/a.raw" 2> "$tmp/a.err"
	_ra=$?
	"$SMTPSCOPE" -r - -j "$@" < "$_f" > "$tmp/b.raw" 2> "$tmp/b.err"
	_rb=$?
	json_normalise < "$tmp/a.raw" > "$tmp/a"
	json_normalise < "$tmp/b.raw" > "$tmp/b"
	# The error names the source: the file's name or "stdin".
	sed 's|^smtpscope: [^:]*:|smtpscope: SRC:|' "$tmp/a.err" > "$tmp/a.e"
	sed 's|^smtpscope: [^:]*:|smtpscope: SRC:|' "$tmp/b.err" > "$tmp/b.e"
	if [ $_ra -ne $_rb ]; then
		tap_fail "$_what (exit $_ra from the file, $_rb from stdin)"
	elif ! cmp -s "$tmp/a" "$tmp/b"; then
		tap_fail "$_what (events differ)" \
		    "$(diff -u "$tmp/b" "$tmp/a" | head -30)"
	elif ! cmp -s "$tmp/a.e" "$tmp/b.e"; then
		tap_fail "$_what (stderr differs)" \
		    "$(cat "$tmp/a.err" "$tmp/b.err")"
	else
		tap_pass "$_what"
	fi
}

# packets N: the stats line's packet count in $tmp/a
packets() {
	sed -n 's/.*"event":"stats".*"packets":\([0-9]*\).*/\1/p' "$tmp/a"
}

# 1-2: -c stops in the middle of a block
same "-c 25 on the demo: file and stdin agree" "$demo" -c 25
[ "$(packets)" = 25 ] && tap_pass "-c 25: 25 packets analysed" ||
    tap_fail "-c 25: 25 packets analysed" "stats: $(grep stats "$tmp/a")"

# 3-4: -c where every data frame fills a block of its own (64 KiB frames)
same "-c 40 on 64 KiB frames: file and stdin agree" "$large" -c 40 -P 10601
[ "$(packets)" = 40 ] && tap_pass "-c 40: 40 packets analysed" ||
    tap_fail "-c 40: 40 packets analysed" "stats: $(grep stats "$tmp/a")"

# 5-7: cut in the middle of a packet after the ring has wrapped: the same
# events, then the same one error line, exit 1.
size=$(wc -c < "$large")
head -c $((size - 30000)) "$large" > "$tmp/cut.pcap"
same "cut 64 KiB frame: file and stdin agree" "$tmp/cut.pcap" -P 10601
tap_ok $((1 - $(grep -c '"event":"session_open"' "$tmp/a"))) \
    "cut 64 KiB frame: the session before the cut is reported"
grep -q "capture file is truncated (cut in the middle of a packet)" \
    "$tmp/a.err"
tap_ok $? "cut 64 KiB frame: the cut is reported"

# 8-9: the reader of our output goes away after one line: smtpscope stops
# (the read-ahead thread is joined, nothing hangs) and says nothing.
for f in "$demo" "$large"; do
	timeout 20 sh -c "'$SMTPSCOPE' -r '$f' -j -P 25,10601 2> '$tmp/err'; \
	    echo \$? > '$tmp/st'" | head -n 1 > /dev/null
	rc=$?
	st=$(cat "$tmp/st" 2>/dev/null)
	if [ $rc -ne 0 ] || [ -z "$st" ]; then
		tap_fail "output closed early on $(basename "$f"): stops" \
		    "timeout status $rc, smtpscope status '$st'"
	elif [ -s "$tmp/err" ]; then
		tap_fail "output closed early on $(basename "$f"): stops" \
		    "$(cat "$tmp/err")"
	else
		tap_pass "output closed early on $(basename "$f"): stops (exit $st)"
	fi
done

# 10: -c reaching exactly the last whole packet before a cut: the count
# ends the run (exit 0), the cut after it is never read, on both paths.
head -c 2000 "$fx/postfix-clean.pcap" > "$tmp/cut16.pcap"
n=$("$SMTPSCOPE" -r - -j -P 25 < "$tmp/cut16.pcap" 2> /dev/null |
    sed -n 's/.*"event":"stats".*"packets":\([0-9]*\).*/\1/p')
same "-c at the last whole packet before a cut: file and stdin agree" \
    "$tmp/cut16.pcap" -c "${n:-0}"

# 11-12: a named pipe (also what <(ssh mx tcpdump -w - ...) gives) is a
# stream like stdin: read directly and flushed line by line, so the events
# are out while the writer is still connected, and they are the same.
mkfifo "$tmp/fifo"
"$SMTPSCOPE" -r "$demo" -j | json_normalise > "$tmp/whole"
last=$(grep '"event":"reply"' "$tmp/whole" | tail -n 1)
{ cat "$demo"; sleep 4; } > "$tmp/fifo" &
writer=$!
timeout 20 "$SMTPSCOPE" -r "$tmp/fifo" -j > "$tmp/fifo.raw" 2> "$tmp/err" &
reader=$!
i=0
while [ $i -lt 30 ] && ! grep -qF "$last" "$tmp/fifo.raw"; do
	sleep 0.1
	i=$((i + 1))
done
if kill -0 $writer 2> /dev/null && grep -qF "$last" "$tmp/fifo.raw"; then
	tap_pass "named pipe: every reply is out while the writer is connected"
else
	tap_fail "named pipe: every reply is out while the writer is connected" \
	    "$(wc -l < "$tmp/fifo.raw") lines so far; $(cat "$tmp/err")"
fi
wait $writer
wait $reader
json_normalise < "$tmp/fifo.raw" > "$tmp/fifo.out"
cmp -s "$tmp/whole" "$tmp/fifo.out"
tap_ok $? "named pipe: the same events as the file"

# 13: with one CPU the file is read on one thread: the same events.
if command -v taskset > /dev/null 2>&1; then
	"$SMTPSCOPE" -r "$large" -j -P 10601 | json_normalise > "$tmp/two"
	taskset -c 0 "$SMTPSCOPE" -r "$large" -j -P 10601 |
	    json_normalise > "$tmp/one"
	if [ -s "$tmp/one" ] && cmp -s "$tmp/one" "$tmp/two"; then
		tap_pass "one CPU (taskset): the same events without read-ahead"
	else
		tap_fail "one CPU (taskset): the same events without read-ahead" \
		    "$(diff "$tmp/two" "$tmp/one" | head -20)"
	fi
else
	tap_skip "one CPU: no taskset"
fi

[ $TAP_FAILED -eq 0 ]
