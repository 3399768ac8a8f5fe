#!/bin/sh
# badinput.sh: bad input and capture behaviour (EXIT STATUS in
# doc/smtpscope.1).  Each failure must be exactly one line
# "smtpscope: WHAT: WHY" (plus an optional "hint:" line) with exit status 1
# (runtime) or 2 (usage), and a capture cut in the middle of a packet must
# still report everything before the cut.  Also: every link-type fixture
# decodes to the same sessions, -c, --replay pacing, -w, -Z, and a live
# capture on lo while swaks talks to aiosmtpd (ports 10090-10099).
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
: "${SMTPSCOPE:=./smtpscope}"
: "${top_srcdir:=..}"
fx=$top_srcdir/tests/fixtures
P=10025,10026			# the ports of the linktype-* fixtures

tmp=$(mktemp -d) || exit 1
chmod 755 "$tmp"
bgpids=""
cleanup() {
	for p in $bgpids; do kill "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

ok() { tap_pass "$@"; }
notok() { tap_fail "$@"; }
skip() { tap_skip "$@"; }
is_root() {
	[ "$(id -u)" -eq 0 ]
}



# json_num FILE KEY: the number KEY in the last stats line of FILE.
json_num() {
	grep '"event":"stats"' "$1" | tail -n 1 |
	    sed -n "s/.*\"$2\":\\([0-9.]*\\).*/\\1/p"
}
count_events() {		# FILE EVENT
	grep -c "\"event\":\"$2\"" "$1"
}

echo "1..39"

# ---- files (1-9)
tap_expect_error "missing file" 1 \
    "^smtpscope: $tmp/nonexistent.pcap: No such file or directory" \
    "$SMTPSCOPE" -j -r "$tmp/nonexistent.pcap"
printf 'From: someone\r\nSubject: not a capture\r\n\r\nhello\r\n' > "$tmp/mail.txt"
tap_expect_error "a file that is not a capture" 1 \
    "^smtpscope: $tmp/mail.txt: not a pcap or pcapng capture file" \
    "$SMTPSCOPE" -j -r "$tmp/mail.txt"
: > "$tmp/empty.pcap"
tap_expect_error "an empty file" 1 "^smtpscope: $tmp/empty.pcap: empty file" \
    "$SMTPSCOPE" -j -r "$tmp/empty.pcap"
tap_expect_error "a directory" 1 "^smtpscope: $tmp: is a directory" \
    "$SMTPSCOPE" -j -r "$tmp"
head -c 10 "$fx/linktype-en10mb.pcap" > "$tmp/header-cut.pcap"
tap_expect_error "a capture cut in its file header" 1 \
    "^smtpscope: $tmp/header-cut.pcap: capture file is truncated" \
    "$SMTPSCOPE" -j -r "$tmp/header-cut.pcap"
tap_expect_error "garbage on stdin" 1 "^smtpscope: stdin: not a pcap or pcapng" \
    sh -c "cat '$tmp/mail.txt' | '$SMTPSCOPE' -j -r -"
tap_expect_error "empty stdin" 1 "^smtpscope: stdin: empty input" \
    sh -c "'$SMTPSCOPE' -j -r - < /dev/null"
# A magic number and nothing else is a cut header, not empty input.
tap_expect_error "stdin cut after the magic number" 1 \
    "^smtpscope: stdin: capture file is truncated (cut in its header)" \
    sh -c "head -c 4 '$fx/linktype-en10mb.pcap' | '$SMTPSCOPE' -j -r -"
editcap -F pcap -T ieee-802-11 "$fx/linktype-en10mb.pcap" "$tmp/wifi.pcap" \
    2>/dev/null
tap_expect_error "an unsupported link type is named" 1 \
    "^smtpscope: wifi.pcap: unsupported link type IEEE802_11 (105)" \
    "$SMTPSCOPE" -j -r "$tmp/wifi.pcap"

# ---- a capture cut in the middle of a packet (10-13)
"$SMTPSCOPE" -j -P $P -r "$fx/linktype-en10mb.pcap" > "$tmp/full.json" \
    2> "$tmp/full.err"
full_packets=$(json_num "$tmp/full.json" packets)
full_sessions=$(count_events "$tmp/full.json" session_open)
size=$(wc -c < "$fx/linktype-en10mb.pcap")
# The last packet is an ACK of 66 captured bytes plus a 16-byte record
# header: cutting 20 bytes leaves it incomplete and 47 whole packets.
head -c $((size - 20)) "$fx/linktype-en10mb.pcap" > "$tmp/cut.pcap"
tap_expect_error --stdout-ok \
    "a capture cut mid-packet: one error line, exit 1" 1 \
    "^smtpscope: cut.pcap: capture file is truncated (cut in the middle of a packet)" \
    "$SMTPSCOPE" -j -P $P -r "$tmp/cut.pcap"
cp "$tmp/out" "$tmp/cut.json"
if [ "$full_packets" = 48 ] && [ "$(json_num "$tmp/cut.json" packets)" = 47 ]
then
	ok "every complete packet before the cut is read (47 of 48)"
else
	notok "every complete packet before the cut is read" \
	    "full=$full_packets cut=$(json_num "$tmp/cut.json" packets)"
fi
if [ "$full_sessions" -gt 0 ]; then
	if [ "$(count_events "$tmp/cut.json" session_open)" -eq \
	    "$full_sessions" ] &&
	    [ "$(count_events "$tmp/cut.json" session_close)" -eq \
	    "$full_sessions" ]; then
		ok "the sessions before the cut are opened and closed"
	else
		notok "the sessions before the cut are opened and closed" \
		    "$(cat "$tmp/cut.json")"
	fi
else
	skip "no sessions reported yet (flow table not written)"
fi
size=$(wc -c < "$fx/linktype-en10mb.pcapng")
head -c $((size - 40)) "$fx/linktype-en10mb.pcapng" > "$tmp/cut.pcapng"
tap_expect_error --stdout-ok "a pcapng capture cut mid-packet" 1 \
    "^smtpscope: cut.pcapng: capture file is truncated (cut in the middle" \
    "$SMTPSCOPE" -j -P $P -r "$tmp/cut.pcapng"

# ---- no SMTP, BPF (14-17)
"$SMTPSCOPE" -j -r "$fx/linktype-en10mb.pcap" > "$tmp/nosmtp.json" \
    2> "$tmp/nosmtp.err"
rc=$?
# Not an error, but a hint on stderr (stdout stays JSON) naming the ports
# that did carry TCP, busiest first, and the -P to watch them.
hint='hint: no SMTP session on ports 25,465,587; TCP traffic on ports 10025 (24 packets), 10026 (24 packets): try -P 10025,10026'
if [ $rc -eq 0 ] && [ "$(cat "$tmp/nosmtp.err")" = "$hint" ] &&
    [ "$(json_num "$tmp/nosmtp.json" sessions)" = 0 ] &&
    [ "$(count_events "$tmp/nosmtp.json" session_open)" -eq 0 ] &&
    [ "$(wc -l < "$tmp/nosmtp.json")" -eq 1 ]; then
	ok "a capture with no SMTP (ports 10025/10026 not watched): exit 0, no session, a -P hint"
else
	notok "a capture with no SMTP: exit 0, no session" \
	    "rc=$rc $(cat "$tmp/nosmtp.err" "$tmp/nosmtp.json")"
fi
tap_expect_error "a BPF expression that does not compile (file)" 2 \
    "^smtpscope: bad BPF expression 'port 25 and': " \
    "$SMTPSCOPE" -j -r "$fx/linktype-en10mb.pcap" port 25 and
tap_expect_error "an unknown BPF keyword" 2 \
    "^smtpscope: bad BPF expression 'hots 10.0.0.1': " \
    "$SMTPSCOPE" -j -r "$fx/linktype-en10mb.pcap" hots 10.0.0.1
# The user's expression applies to VLAN-tagged frames as well.
"$SMTPSCOPE" -j -P $P -r "$fx/linktype-qinq.pcap" ip6 > "$tmp/bpf.json" 2>&1
if [ "$(json_num "$tmp/bpf.json" packets)" = 24 ]; then
	ok "a user BPF expression matches QinQ-tagged frames (ip6: 24 of 48)"
else
	notok "a user BPF expression matches QinQ-tagged frames" \
	    "$(cat "$tmp/bpf.json")"
fi

# ---- every link type decodes to the same sessions (18)
bad=""
ref=$(json_num "$tmp/full.json" sessions)
for f in en10mb.pcapng vlan.pcap qinq.pcap sll.pcap sll2.pcap raw.pcap \
    ipv4.pcap ipv6.pcap null.pcap null6.pcap loop.pcap; do
	"$SMTPSCOPE" -j -P $P -r "$fx/linktype-$f" > "$tmp/lt.json" 2>&1 ||
	    bad="$bad $f(exit)"
	case $f in
	ipv4* | ipv6* | null* | loop*) want_p=24 ;;
	*) want_p=48 ;;
	esac
	[ "$(json_num "$tmp/lt.json" packets)" = $want_p ] ||
	    bad="$bad $f(packets)"
	if [ "$ref" -gt 0 ]; then
		case $want_p in
		24) want_s=$((ref / 2)) ;;
		*) want_s=$ref ;;
		esac
		[ "$(json_num "$tmp/lt.json" sessions)" = "$want_s" ] ||
		    bad="$bad $f(sessions)"
	fi
done
if [ -z "$bad" ]; then
	ok "every link-type fixture gives the same packets and sessions (ref $ref sessions)"
else
	notok "every link-type fixture gives the same packets and sessions" "$bad"
fi

# ---- -c, --replay, -w, -k (19-25)
"$SMTPSCOPE" -j -P $P -c 5 -r "$fx/linktype-en10mb.pcap" > "$tmp/c.json"
if [ "$(json_num "$tmp/c.json" packets)" = 5 ]; then
	ok "-c 5 stops after 5 packets"
else
	notok "-c 5 stops after 5 packets" "$(cat "$tmp/c.json")"
fi
# The fixture spans about 0.06 s; at 1/20 speed that is about 1.2 s.
"$SMTPSCOPE" -j -P $P --replay=0.05 -r "$fx/linktype-en10mb.pcap" \
    > "$tmp/replay.json"
el=$(json_num "$tmp/replay.json" elapsed)
if awk -v e="$el" 'BEGIN { exit !(e >= 0.9 && e < 10) }'; then
	ok "--replay=0.05 paces the packets (elapsed $el s)"
else
	notok "--replay=0.05 paces the packets" "elapsed $el"
fi
"$SMTPSCOPE" -j -P $P -r "$fx/linktype-en10mb.pcap" > "$tmp/fast.json"
el=$(json_num "$tmp/fast.json" elapsed)
if awk -v e="$el" 'BEGIN { exit !(e < 0.5) }'; then
	ok "without --replay a file is read at once (elapsed $el s)"
else
	notok "without --replay a file is read at once" "elapsed $el"
fi
tap_expect_error "-w into a missing directory" 1 \
    "^smtpscope: -w output file $tmp/no/such/dir.pcap: No such file or directory" \
    "$SMTPSCOPE" -j -P $P -r "$fx/linktype-en10mb.pcap" -w "$tmp/no/such/dir.pcap"
"$SMTPSCOPE" -j -P $P -r "$fx/linktype-vlan.pcap" -w "$tmp/w.pcap" \
    > /dev/null 2>&1
wp=$(tcpdump -r "$tmp/w.pcap" 2>/dev/null | wc -l)
lt=$(tcpdump -r "$tmp/w.pcap" 2>&1 >/dev/null | grep -o 'link-type [A-Z0-9_]*')
# (The last ACK after both FINs may come after the flow is gone.)
if [ "$lt" = "link-type EN10MB" ] && { [ "$ref" -eq 0 ] || [ "$wp" -ge 46 ]; }
then
	ok "-w writes a pcap of the capture's link type ($wp packets)"
else
	notok "-w writes a pcap of the capture's link type" "$lt, $wp packets"
fi
"$SMTPSCOPE" -j -P 2525 -r "$fx/linktype-vlan.pcap" -w "$tmp/w0.pcap" \
    > /dev/null 2>&1
wp=$(tcpdump -r "$tmp/w0.pcap" 2>/dev/null | wc -l)
if [ "$wp" -eq 0 ]; then
	ok "-w saves only packets of SMTP sessions (none here)"
else
	notok "-w saves only packets of SMTP sessions" "$wp packets"
fi

# A key log that is not there is a warning (one line), not an error: the
# run goes on and ends with status 0.  With a capture file it cannot come
# in time ("not found"); a stream on stdin keeps looking for it.
"$SMTPSCOPE" -j -P $P -r "$fx/linktype-en10mb.pcap" -k "$tmp/no.keylog" \
    > "$tmp/k.json" 2> "$tmp/k.err"
rc=$?
"$SMTPSCOPE" -j -P $P -r - -k "$tmp/no.keylog" < "$fx/linktype-en10mb.pcap" \
    > "$tmp/k2.json" 2> "$tmp/k2.err"
rc2=$?
if [ $rc -eq 0 ] && [ "$(wc -l < "$tmp/k.err")" -eq 1 ] &&
    grep -q "^smtpscope: warning: key log not found: $tmp/no.keylog; TLS sessions are not decrypted" "$tmp/k.err" &&
    [ "$(json_num "$tmp/k.json" sessions)" = 2 ] &&
    [ $rc2 -eq 0 ] && [ "$(wc -l < "$tmp/k2.err")" -eq 1 ] &&
    grep -q "^smtpscope: warning: key log $tmp/no.keylog: No such file or directory; it is read again as it appears" "$tmp/k2.err" &&
    [ "$(json_num "$tmp/k2.json" sessions)" = 2 ]; then
	ok "-k with a missing file: a one-line warning (not found / read when it appears), the run goes on, exit 0"
else
	notok "-k with a missing file: a one-line warning (not found / read when it appears), the run goes on, exit 0" \
	    "rc=$rc $(cat "$tmp/k.err"); stdin: rc=$rc2 $(cat "$tmp/k2.err")"
fi

# ---- live capture (26-39)
if ! is_root; then
	tap_expect_error "no permission for live capture" 1 \
	    "^smtpscope: lo: permission denied" "$SMTPSCOPE" -j -i lo
	while [ $TAP_N -lt 39 ]; do skip "live tests need root"; done
	[ $TAP_FAILED -eq 0 ]
	exit
fi
asnobody() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"
}
tap_expect_error "no permission for live capture (as nobody)" 1 \
    "^smtpscope: lo: permission denied" asnobody "$SMTPSCOPE" -j -i lo
if grep -q '^hint: .*CAP_NET_RAW' "$tmp/err"; then
	ok "the permission error hints at root or CAP_NET_RAW"
else
	notok "the permission error hints at root or CAP_NET_RAW" \
	    "$(cat "$tmp/err")"
fi
tap_expect_error "a bad BPF expression wins over a permission error (usage)" 2 \
    "^smtpscope: bad BPF expression 'port 25 or or': " \
    asnobody "$SMTPSCOPE" -j -i lo port 25 or or
tap_expect_error "an unknown interface" 1 \
    "^smtpscope: nosuchif0: no such device" "$SMTPSCOPE" -j -i nosuchif0
if grep -q '^hint: .*smtpscope -D' "$tmp/err"; then
	ok "the unknown-interface error hints at -D"
else
	notok "the unknown-interface error hints at -D" "$(cat "$tmp/err")"
fi

# A real exchange on lo: aiosmtpd on 10091, swaks as the client.
/usr/bin/python3 -m aiosmtpd -n -l 127.0.0.1:10091 > /dev/null 2>&1 &
bgpids="$bgpids $!"
i=0
while ! ss -ltn | grep -q '127.0.0.1:10091'; do
	i=$((i + 1))
	[ $i -gt 40 ] && break
	sleep 0.25
done
# The Postfix helper of the integration tests probes its port the same way;
# it must work under a plain POSIX sh (no bash /dev/tcp).
if sh -c '. "$1"; pf_listening 10091 && ! pf_listening 10099' sh \
    "$top_srcdir/tests/scripts/postfix-instance.sh"; then
	ok "postfix-instance.sh: the port probe works under sh"
else
	notok "postfix-instance.sh: the port probe works under sh"
fi
timeout -s INT 20 "$SMTPSCOPE" -j -i lo -P 10091 -c 10 > "$tmp/live.json" \
    2> "$tmp/live.err" &
live=$!
bgpids="$bgpids $live"
wait_capturing $live
swaks --server 127.0.0.1 --port 10091 --from a@example.org \
    --to b@example.net > "$tmp/swaks.out" 2>&1
wait $live
rc=$?
if [ $rc -eq 0 ] && [ "$(json_num "$tmp/live.json" packets)" = 10 ]; then
	ok "live capture on lo during a swaks exchange (-c 10: 10 packets)"
else
	notok "live capture on lo during a swaks exchange" \
	    "rc=$rc $(cat "$tmp/live.err" "$tmp/live.json")"
fi
if [ "$(json_num "$tmp/live.json" dropped)" = 0 ]; then
	ok "kernel drops are reported (0)"
else
	notok "kernel drops are reported (0)" "$(cat "$tmp/live.json")"
fi
# The port filter: traffic on other ports is not captured.
"$SMTPSCOPE" -j -i lo -P 10092 > "$tmp/other.json" 2> "$tmp/other.err" &
live=$!
bgpids="$bgpids $live"
wait_capturing $live
swaks --server 127.0.0.1 --port 10091 --from a@example.org \
    --to b@example.net > /dev/null 2>&1
sleep 0.5
kill -INT $live
wait $live
rc=$?
if [ $rc -eq 0 ] && [ "$(json_num "$tmp/other.json" packets)" = 0 ]; then
	ok "live: the port filter leaves out other ports; SIGINT ends with stats"
else
	notok "live: the port filter leaves out other ports" \
	    "rc=$rc $(cat "$tmp/other.err" "$tmp/other.json")"
fi
# -i any (cooked v2) and a user expression.
timeout -s INT 20 "$SMTPSCOPE" -j -i any -P 10091 -c 6 'dst port 10091' \
    > "$tmp/any.json" 2> "$tmp/any.err" &
live=$!
bgpids="$bgpids $live"
wait_capturing $live
swaks --server 127.0.0.1 --port 10091 --from a@example.org \
    --to b@example.net > /dev/null 2>&1
wait $live
rc=$?
if [ $rc -eq 0 ] && [ "$(json_num "$tmp/any.json" packets)" = 6 ]; then
	ok "live capture on any with a user expression"
else
	notok "live capture on any with a user expression" \
	    "rc=$rc $(cat "$tmp/any.err" "$tmp/any.json")"
fi
# -Z: root is dropped while capturing, and -w was opened before the drop.
mkdir -m 700 "$tmp/rootonly"
"$SMTPSCOPE" -j -i lo -P 10093 -Z nobody -w "$tmp/rootonly/w.pcap" \
    > "$tmp/z.json" 2> "$tmp/z.err" &
live=$!
bgpids="$bgpids $live"
wait_capturing $live
uids=$(sed -n 's/^Uid:[[:space:]]*//p' /proc/$live/status | tr -s '\t ' ' ')
gids=$(sed -n 's/^Gid:[[:space:]]*//p' /proc/$live/status | tr -s '\t ' ' ')
groups=$(sed -n 's/^Groups:[[:space:]]*//p' /proc/$live/status)
kill -TERM $live
wait $live
rc=$?
nob=$(id -u nobody)
nog=$(id -g nobody)
if [ "$uids" = "$nob $nob $nob $nob" ] && [ "$gids" = "$nog $nog $nog $nog" ] &&
    ! printf '%s' "$groups" | grep -qw 0; then
	ok "-Z nobody: every uid and gid dropped while capturing"
else
	notok "-Z nobody: every uid and gid dropped while capturing" \
	    "uids=$uids gids=$gids groups=$groups"
fi
if [ $rc -eq 0 ] && [ -s "$tmp/rootonly/w.pcap" ] &&
    grep -q '"event":"stats"' "$tmp/z.json"; then
	ok "-w opened as root before the drop; SIGTERM ends with stats, exit 0"
else
	notok "-w opened as root before the drop; SIGTERM ends cleanly" \
	    "rc=$rc $(cat "$tmp/z.err")"
fi
tap_expect_error "-Z with an unknown user" 1 "^smtpscope: -Z: unknown user" \
    "$SMTPSCOPE" -j -i lo -Z no-such-user-x
# As root without -Z, a file is read after dropping to nobody.
"$SMTPSCOPE" -j -P $P -r "$fx/linktype-en10mb.pcap" > "$tmp/r.json" 2>&1
if [ "$(json_num "$tmp/r.json" packets)" = 48 ]; then
	ok "as root a file opened before the default drop is read"
else
	notok "as root a file opened before the default drop is read" \
	    "$(cat "$tmp/r.json")"
fi

[ $TAP_FAILED -eq 0 ]
