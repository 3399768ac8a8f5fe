#!/bin/sh
# floods.sh: hostile but legal traffic under a small --memory.  The captures
# come from tests/scripts/make-flood.py through a pipe (nothing large on
# disk): sessions that pipeline thousands of long RCPTs and get no reply,
# servers that never finish a multi-line reply, a SYN flood, thousands of
# idle sessions, and one session past the outstanding-command cap.  Each
# run checks the anomalies that say what was dropped, and the peak RSS
# (getrusage of the child), which before the memory budget followed the
# flood: 144 MiB, 75 MiB, 103 MiB and 90 MiB for the first four.
. "$(dirname "$0")/lib.sh"
tap_init

gen=$top_srcdir/tests/scripts/make-flood.py
[ -x "$SMTPSCOPE" ] || tap_skip_all "no smtpscope binary at $SMTPSCOPE"
command -v python3 >/dev/null 2>&1 || tap_skip_all "python3 is missing"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/floods.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# Peak RSS allowed (KiB) with --memory 16: the budget, the process's own
# (rules, libraries, stdio) and malloc's slack.
RSS_MAX=40960

tap_plan 25

# flood NAME SMTPSCOPE-ARGS -- GEN-ARGS: run the generator into smtpscope -r -,
# output in $tmp/NAME.out, peak RSS (KiB) in $tmp/NAME.rss.
flood() {
	_n=$1
	shift
	_a=
	while [ "$1" != -- ]; do
		_a="$_a $1"
		shift
	done
	shift
	# shellcheck disable=SC2086
	python3 "$gen" "$@" | python3 -c '
import resource, subprocess, sys
r = subprocess.run(sys.argv[2:], stdout=open(sys.argv[1], "wb"))
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(r.returncode)' "$tmp/$_n.out" "$SMTPSCOPE" -r - $_a >"$tmp/$_n.rss"
}

# count RE FILE: lines matching
count() {
	grep -c "$1" "$2" || true
}

# AddressSanitizer's shadow memory and quarantine make RSS meaningless.
sanitized=0
if ldd "$SMTPSCOPE" 2>/dev/null | grep -q 'libasan'; then
	sanitized=1
fi

rss_ok() { # NAME WHAT
	if [ "$sanitized" = 1 ]; then
		tap_skip "$2: peak RSS (not measured under AddressSanitizer)"
		return
	fi
	_r=$(cat "$tmp/$1.rss")
	[ -n "$_r" ] && [ "$_r" -le "$RSS_MAX" ]
	tap_ok $? "$2: peak RSS ${_r:-?} KiB <= $RSS_MAX KiB"
}

# 1. 16 sessions pipeline 4096 RCPTs of 2 KB each; nothing answers.
flood pending -j --memory 16 -- pending 16 4096 2048
tap_ok $? "pending arguments: exit 0"
n=$(grep '"memory budget reached"' "$tmp/pending.out" |
    grep -c 'dropped the arguments of [0-9]* pending commands' || true)
[ "$n" -ge 1 ]
tap_ok $? "pending arguments: the budget trims them, and says so ($n anomalies)"
rss_ok pending "pending arguments"
n=$(count '"event":"command"' "$tmp/pending.out")
[ "$n" -eq $((16 * 4098)) ]
tap_ok $? "pending arguments: every command is still reported ($n)"

# 2. 1024 servers each send 60 KB of "250-" lines, never the last one.
flood replies -j --memory 16 -- replies 1024 61440
tap_ok $? "unfinished replies: exit 0"
n=$(grep '"memory budget reached"' "$tmp/replies.out" |
    grep -c 'bytes of an unfinished 250 reply' || true)
[ "$n" -ge 100 ]
tap_ok $? "unfinished replies: trimmed with an anomaly naming them ($n)"
n=$(grep '"memory budget reached"' "$tmp/replies.out" |
    cut -d, -f3 | sort | uniq -d | wc -l)
[ "$n" -eq 0 ]
tap_ok $? "unfinished replies: at most one such anomaly per session"
rss_ok replies "unfinished replies"

# 3. 200,000 SYNs to 3 servers, from 131,072 addresses; nothing answers.
flood syn -j --memory 16 -- syn 200000 3
tap_ok $? "SYN flood: exit 0"
n=$(wc -l <"$tmp/syn.out")
[ "$n" -eq 4 ]
tap_ok $? "SYN flood: 4 lines (3 aggregated anomalies and stats), got $n"
n=$(grep '"what":"connection attempts without a handshake"' "$tmp/syn.out" |
    grep -c '"session":0,"client":null,"server":"192.0.2.[123]:25".*"detail":"6666[67] connection attempts without a completed handshake .* from about [0-9]* sources, within 10 s"' || true)
[ "$n" -eq 3 ]
tap_ok $? "SYN flood: one anomaly per server, with the count and the sources"
n=$(grep -o '"attempts":[0-9]*,"sources":[0-9]*}$' "$tmp/syn.out" |
    awk -F'[:,}]' '{a += $2; if ($4 < 1 || $4 > $2) bad = 1} END {print bad ? -1 : a}')
[ "$n" -eq 200000 ]
tap_ok $? "SYN flood: the counts as numbers too (attempts add up to 200000, got $n)"
grep -q '"sessions":0,.*"no_handshake":200000' "$tmp/syn.out"
tap_ok $? "SYN flood: no session; stats no_handshake 200000"
rss_ok syn "SYN flood"
python3 "$gen" syn 1000 2 | "$SMTPSCOPE" -r - -N >"$tmp/syn.txt"
n=$(count '^[-0-9T:.Z]* (no session) > 192.0.2.[12]:25 -- anomaly: connection attempts without a handshake: 500 connection attempts without a completed handshake .* from about [0-9]* sources, within 10 s' "$tmp/syn.txt")
[ "$n" -eq 2 ] && grep -q '1000 connection attempts without a handshake$' "$tmp/syn.txt"
tap_ok $? "SYN flood: -N says it the same way, and in its stats line"
! grep -q '#0\| > .* > ' "$tmp/syn.txt"
tap_ok $? "SYN flood: -N shows no session number 0 and no empty client"
# Past 32 servers in an interval, the rest are counted together.
python3 "$gen" syn 1000 40 | "$SMTPSCOPE" -r - -N >"$tmp/syn40.txt"
python3 "$gen" syn 1000 40 | "$SMTPSCOPE" -r - -j >"$tmp/syn40.out"
grep -q '^[-0-9T:.Z]* (no session) -- anomaly: .* 200 connection attempts .* to other servers' "$tmp/syn40.txt" &&
    grep -q '"session":0,"client":null,"server":null,"what":"connection attempts without a handshake".*to other servers' "$tmp/syn40.out"
tap_ok $? "SYN flood to 40 servers: the rest have no server, in -N and JSON"

# 4. 30,000 sessions say EHLO, then nothing; --memory 8 cannot hold them.
flood idle -j --memory 8 --limit 100000 -- idle 30000
tap_ok $? "idle sessions: exit 0"
n=$(grep '"memory budget reached"' "$tmp/idle.out" |
    grep -c 'the least recently active session was evicted' || true)
m=$(grep '"event":"session_close"' "$tmp/idle.out" |
    grep -c '"reason":"evicted"' || true)
[ "$n" -ge 1000 ] && [ "$n" -eq "$m" ]
tap_ok $? "idle sessions: evicted, each with an anomaly ($n) and a close ($m)"
rss_ok idle "idle sessions"
# --limit bounds the open sessions without a UI too.
python3 "$gen" idle 2000 | "$SMTPSCOPE" -r - -j --limit 500 >"$tmp/limit.out"
n=$(grep '"event":"session_close"' "$tmp/limit.out" |
    grep -c '"reason":"end-of-capture"' || true)
m=$(count '"what":"flow table full"' "$tmp/limit.out")
[ "$n" -eq 500 ] && [ "$m" -eq 1500 ]
tap_ok $? "--limit 500 headless: 500 open at the end ($n), 1500 evicted ($m)"

# 5. 5000 pipelined RCPTs: past the outstanding-command cap (4096).
python3 "$gen" resync 5000 | "$SMTPSCOPE" -r - -j >"$tmp/resync.out"
n=$(count '"what":"too many outstanding commands"' "$tmp/resync.out")
m=$(count '"what":"reply without command"' "$tmp/resync.out")
[ "$n" -eq 1 ] && [ "$m" -eq 0 ]
tap_ok $? "resync: one cap anomaly ($n), no reply without command ($m)"
n=$(grep '"event":"reply"' "$tmp/resync.out" | count '"answers":"RCPT"' -)
[ "$n" -eq 5000 ]
tap_ok $? "resync: all 5000 RCPT replies answer RCPT ($n)"
grep '"event":"session_close"' "$tmp/resync.out" | grep -q '"reason":"quit"'
tap_ok $? "resync: the 221 past the cap still ends the session as quit"

# 6. A reader that stops reading: the output's thread blocks in a write to
# the full pipe; SIGINT must still end the run (it interrupts the write), not
# wait for the reader.  A file, so that the output has its own thread.
python3 "$gen" idle 2000 >"$tmp/idle.pcap"
mkfifo "$tmp/fifo"
(sleep 60 <"$tmp/fifo") &
rp=$!
"$SMTPSCOPE" -r "$tmp/idle.pcap" -j >"$tmp/fifo" 2>/dev/null &
sp=$!
sleep 1
kill -INT $sp
wait_gone $sp 50
tap_ok $? "SIGINT ends a run whose reader stopped reading ($((WAITED * 100)) ms)"
kill $sp $rp 2>/dev/null
wait 2>/dev/null

exit $((TAP_FAILED > 0))
