#!/bin/bash
# make-fidelity-captures.sh: record the captures of imperfect captures and
# odd servers into tests/fixtures/ (golden rows in tests/golden.tsv).
#
# How to regenerate (as root, on Debian/Ubuntu):
#   apt-get install -y swaks tcpdump tcpreplay wireshark-common openssl
#   tests/scripts/make-fidelity-captures.sh [OUTDIR]   (default tests/fixtures)
#   tests/scripts/regen-golden.sh                      (then review the diff)
#
# Like make-smtp-captures.sh it is not run by "make check"; it uses the same
# helpers (capture-lib.sh) and the same scripted servers and clients, on
# loopback ports 10640-10649, rewritten with tcprewrite to the port each
# capture is about.
#
# Captures:
#   scripted-odd-replies     RCPTs answered 400, 402 and 472 (codes no RFC
#                            defines), a RCPT whose address holds a NUL
#                            byte echoed in a 501, and the message deferred
#                            with a line that has an enhanced code but no
#                            reply code; port 25
#   tls-to-plain-465         openssl s_client (implicit TLS: ClientHello at
#                            once) against a plain SMTP server, seen on 465
#   tls-to-plain-25          the same packets seen on 25: a TLS ClientHello
#                            to a plain SMTP port
#   plain-to-tls-465         a client that sends EHLO at once to openssl
#                            s_server (implicit TLS), seen on 465: plain text
#                            where the server waits for a ClientHello
#   hdronly-postfix-clean    postfix-clean.pcap cut with editcap -s 64: only
#                            headers (Ethernet + IP + TCP with timestamps is
#                            66 bytes, so even the TCP options are cut)
#   hdronly-postfix-rcpt-limit
#                            postfix-rcpt-limit.pcap cut the same way
#   snap72-postfix-rcpt-limit
#                            postfix-rcpt-limit.pcap cut with editcap -s 72:
#                            the first 6 payload bytes of each packet, so
#                            every reply keeps its code ("452 4.") and every
#                            command its verb
#   hdronly-live             swaks against the plain scripted server, recorded
#                            live with tcpdump -s 64
#   anyport-mixed            for -P any: swaks to scripted SMTP servers on
#                            2525, 10025 and 10026, amid curl to an HTTP
#                            server (python3 -m http.server, 8080), curl to
#                            an IMAP responder (imap_scripted.py, 1143) and
#                            curl over TLS to openssl s_server -www (8443);
#                            no port rewrite
set -eu

TOP=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$TOP/tests/fixtures}
WORK=$(mktemp -d /tmp/smtpscope-fidelity.XXXXXX)
chmod 755 "$WORK"
. "$TOP/tests/scripts/capture-lib.sh"

if [ "$(id -u)" != 0 ]; then
	echo "make-fidelity-captures: run as root (tcpdump on lo)" >&2
	exit 1
fi
for t in tcpdump tcprewrite swaks openssl editcap curl; do
	command -v $t >/dev/null ||
	    { echo "make-fidelity-captures: $t missing" >&2; exit 1; }
done

SSERVER=
OTHERS=
cleanup() {
	[ -z "$SSERVER" ] || kill "$SSERVER" 2>/dev/null || true
	for pid in $OTHERS; do kill "$pid" 2>/dev/null || true; done
	cap_cleanup
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
mkdir -p "$OUT"
LOG=$WORK/clients.log

# rec NAME PORT MAPPORT [RAWNAME]: stop the capture and write OUT/NAME.pcap
# with the server port rewritten to MAPPORT; with RAWNAME, from that
# capture, already stopped.
rec() {
	[ -n "${4:-}" ] || cap_stop
	cap_port "$WORK/${4:-$1}.raw" "$OUT/$1.pcap" "$2:$3"
	echo "wrote $OUT/$1.pcap ($(wc -c < "$OUT/$1.pcap") bytes)"
}

# ---------------------------------------------------------------- odd replies
P=10640
srv_start odd $P
cap_start scripted-odd-replies "tcp port $P"
$PY "$SCRIPTS/smtp_client.py" odd 127.0.0.1 $P 2>> "$LOG"
rec scripted-odd-replies $P 25
srv_stop

# ---------------------------------------------------------------- TLS/plain
# The client starts TLS at once; the server greets in clear text and reads
# the ClientHello as a line.  s_client gives up on the greeting.
P=10641
srv_start plain $P
cap_start tls-to-plain "tcp port $P"
timeout 10 openssl s_client -connect 127.0.0.1:$P -servername mx.example.test \
    < /dev/null >> "$LOG" 2>&1 || true
cap_stop
rec tls-to-plain-465 $P 465 tls-to-plain
rec tls-to-plain-25 $P 25 tls-to-plain
srv_stop

# The server waits for a ClientHello; the client sends EHLO at once.
P=10642
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
    -subj /CN=mx.example.test -keyout "$WORK/key.pem" -out "$WORK/cert.pem" \
    2>/dev/null
openssl s_server -accept 127.0.0.1:$P -cert "$WORK/cert.pem" \
    -key "$WORK/key.pem" -quiet > "$WORK/s_server.out" 2>&1 &
SSERVER=$!
sleep 1
cap_start plain-to-tls "tcp port $P"
$PY "$SCRIPTS/smtp_client.py" early 127.0.0.1 $P 2>> "$LOG"
cap_stop
rec plain-to-tls-465 $P 465 plain-to-tls
kill "$SSERVER" 2>/dev/null || true
wait "$SSERVER" 2>/dev/null || true
SSERVER=

# ---------------------------------------------------------------- snaplen
editcap -s 64 "$TOP/tests/fixtures/postfix-clean.pcap" \
    "$OUT/hdronly-postfix-clean.pcap"
editcap -s 64 "$TOP/tests/fixtures/postfix-rcpt-limit.pcap" \
    "$OUT/hdronly-postfix-rcpt-limit.pcap"
editcap -s 72 "$TOP/tests/fixtures/postfix-rcpt-limit.pcap" \
    "$OUT/snap72-postfix-rcpt-limit.pcap"
echo "wrote $OUT/hdronly-postfix-*.pcap, $OUT/snap72-postfix-rcpt-limit.pcap"

# Recorded live with a snapshot length of 64, as an old script would.
P=10643
srv_start plain $P
: > "$WORK/tcpdump.err"
tcpdump -i lo -n -U --immediate-mode -s 64 -w "$WORK/hdronly-live.raw" \
    "tcp port $P" 2> "$WORK/tcpdump.err" &
CAP_PID=$!
i=0
while ! grep -q 'listening on' "$WORK/tcpdump.err"; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "tcpdump did not start" >&2; exit 1; }
	sleep 0.05
done
sleep 0.2
swaks --server 127.0.0.1 --port $P --helo client.example.test \
    --from sender@example.org --to alice@example.test \
    --data "$(msg_data sender@example.org alice@example.test 'header only')" \
    >> "$LOG" 2>&1
rec hdronly-live $P 25
srv_stop

# ---------------------------------------------------------------- -P any
srv_start plain 2525
srv_start plain 10025
srv_start plain 10026
(cd "$WORK" && exec $PY -m http.server --bind 127.0.0.1 8080) \
    > "$WORK/http.out" 2>&1 &
OTHERS="$OTHERS $!"
$PY "$SCRIPTS/imap_scripted.py" 1143 > "$WORK/imap.out" 2>&1 &
OTHERS="$OTHERS $!"
openssl s_server -accept 127.0.0.1:8443 -cert "$WORK/cert.pem" \
    -key "$WORK/key.pem" -www -quiet > "$WORK/https.out" 2>&1 &
OTHERS="$OTHERS $!"
sleep 1.5
echo hello > "$WORK/index.txt"
cap_start anyport-mixed "tcp and host 127.0.0.1"
curl -s -o /dev/null http://127.0.0.1:8080/index.txt >> "$LOG" 2>&1
swaks --server 127.0.0.1 --port 2525 --helo client.example.test \
    --from sender@example.org --to alice@example.test \
    --data "$(msg_data sender@example.org alice@example.test 'port 2525')" \
    >> "$LOG" 2>&1
curl -s -u alice:secret imap://127.0.0.1:1143/ >> "$LOG" 2>&1 || true
swaks --server 127.0.0.1 --port 10025 --helo localhost \
    --from sender@example.org --to bob@example.test \
    --data "$(msg_data sender@example.org bob@example.test 'filter in')" \
    >> "$LOG" 2>&1
curl -s -k -o /dev/null https://127.0.0.1:8443/ >> "$LOG" 2>&1 || true
swaks --server 127.0.0.1 --port 10026 --helo localhost \
    --from sender@example.org --to bob@example.test \
    --data "$(msg_data sender@example.org bob@example.test 'filter out')" \
    >> "$LOG" 2>&1
cap_stop
cp "$WORK/anyport-mixed.raw" "$OUT/anyport-mixed.pcap"
echo "wrote $OUT/anyport-mixed.pcap"
for pid in $OTHERS; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
OTHERS=
srv_stop

echo "all captures written to $OUT; client transcript:"
cat "$LOG"
