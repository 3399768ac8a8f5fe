#!/bin/sh
# ui_maillog.sh: the MTA's log lines (--maillog) in the UI, driven through
# tmux: a capture of Postfix's connection limit (tests/fixtures/
# maillog-conn-limit.pcap, its Postfix log beside it) is read with -r; the
# 421 session's transcript shows its log lines marked "L: log" with their
# join, its 421 box quotes the log's concurrency-limit warning, and L hides
# and shows the lines.  TAP output.
. "$(dirname "$0")/tmux-lib.sh"

tmux_init maillog
pcap=$FIX/maillog-conn-limit.pcap
log=$FIX/maillog-conn-limit.maillog
if [ ! -f "$pcap" ] || [ ! -f "$log" ]; then
	echo "1..0 # SKIP fixture maillog-conn-limit is missing"
	exit 0
fi
echo "1..8"
start 140 45 -- -r "$pcap" -P 10672 --maillog "$log"
wait_for 'done' 10
pane
# The list is in session order: the 421 session is the second.
keys Down Enter
wait_for 'Session 2' 5
pane
check "the 421 session's transcript shows its log lines marked L: log" \
    grep -q 'L: log postfix/smtpd\[[0-9]*\]: connect from localhost\[127.0.0.1\]:[0-9]*  \[addr-port\]' "$WORK/pane"
check "the warning line is in the transcript" \
    grep -q 'L: log postfix/smtpd\[[0-9]*\]: warning: Connection concurrency limit' "$WORK/pane"
check "the 421 box quotes the server's log" \
    grep -q "Log.*the server's log says: postfix/smtpd\[[0-9]*\]: warning:" "$WORK/pane"
check "the box names the cause the log line gives" \
    grep -q "concurrency limit exceeded: conn-limit)" "$WORK/pane"
# Time order: the connect line comes before the 421 reply.
check "log lines are interleaved by time" sh -c "
    awk '/L: log .*connect from/ { c = NR } / 421 / && !r { r = NR }
	END { exit !(c && r && c < r) }' '$WORK/pane'"
keys L
pane
check "L hides the log lines" sh -c "! grep -q 'L: log' '$WORK/pane'"
keys L
pane
check "L shows them again" grep -q 'L: log' "$WORK/pane"
keys Q
# The same evidence headless: -N appends it to the log line.
TZ=UTC "$SMTPSCOPE" -r "$pcap" -P 10672 --maillog "$log" -N >"$WORK/n.txt" 2>&1
check "-N: the warning line ends with the reason of the 421" \
    grep -q "L: .*concurrency limit exceeded.*\[log, join addr-port\]  << the server's log says why the 421: concurrency limit exceeded (conn-limit) >>\$" "$WORK/n.txt"
[ "$fails" -eq 0 ]
