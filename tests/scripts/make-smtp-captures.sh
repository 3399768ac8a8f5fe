#!/bin/bash
# make-smtp-captures.sh: record smtpscope's own SMTP test captures with real
# servers and clients on loopback, into tests/fixtures/*.pcap.
#
# How to regenerate (as root, on Debian/Ubuntu):
#   apt-get install -y postfix swaks tcpdump tcpreplay python3-aiosmtpd openssl
#   tests/scripts/make-smtp-captures.sh [OUTDIR]      (default tests/fixtures)
#   tests/scripts/regen-golden.sh                      (then review the diff)
#
# It is NOT run by "make check": the captures are committed, only the golden
# JSON Lines test (tests/golden.sh) runs on them.  A regenerated capture has
# new timestamps, client ports and Postfix queue ids, so its golden must be
# regenerated and reviewed too.  To add or redo one capture and leave the
# others alone, give a scratch OUTDIR and copy just that file.
#
# Servers: private Postfix instances (tests/scripts/postfix-instance.sh,
# never the system one), aiosmtpd and a raw asyncio scripted server
# (tests/scripts/aiosmtpd_scripted.py).  Clients: swaks, Python smtplib and
# a raw socket client (tests/scripts/smtp_client.py).  Servers listen on
# 127.0.0.1 ports 10601-10629; each capture is rewritten with tcprewrite so
# the server port is 25 (587 for the AUTH capture), which is what smtpscope
# watches by default.  Every server is started before tcpdump so that
# readiness probes are not recorded.
#
# Captures (see the report in each "rec" call below for what they show):
#   postfix-clean                plain ESMTP session, one message
#   postfix-rcpt-limit           smtpd_recipient_limit=3, 5 RCPTs: 452 4.5.3 x2
#   postfix-pipeline-rcpt-limit  the same with swaks --pipeline: the replies
#                                to MAIL, 5 RCPTs and DATA in one segment
#   postfix-conn-limit           anvil limit 1, no loopback exemption: the
#                                second parallel session gets 421 4.7.0
#   postfix-queue-minfree        huge queue_minfree: 452 4.3.1 to MAIL
#   postfix-bdat                 CHUNKING: BDAT chunks with CRLF.CRLF and
#                                binary inside, BDAT 0 LAST, BDAT n LAST
#   postfix-large-message        a 2 MB message in one write: on lo (MTU
#                                65536) the body travels in segments of up
#                                to 64 KiB, frames larger than smtpscope's
#                                read-ahead blocks; server port left at
#                                10601 (tcprewrite would cut those frames)
#   postfix-starttls             swaks --tls (self-signed certificate)
#   postfix-idle-timeout         smtpd_timeout=3s: unsolicited 421 4.4.2
#   aiosmtpd-auth                AUTH PLAIN (ok), AUTH LOGIN (ok), AUTH PLAIN
#                                with a wrong password (535), port 587
#   aiosmtpd-rcpt-quota          452 4.2.2 over quota to the 2nd of 3 RCPTs
#   aiosmtpd-quota-three         452 4.2.2 to the 2nd, 3rd and 5th of 5 RCPTs
#   aiosmtpd-dataend-452         452 after the end of data
#   aiosmtpd-multiline           multi-line EHLO and a 3-line 550 to RCPT
#   scripted-greet-421           421 4.3.2 instead of the greeting
#   scripted-mail-421            421 4.3.2 in answer to MAIL
#   scripted-multiline-421       3-line 421 4.7.0 after the end of data
#   scripted-max-messages        421 "too many messages" to the 4th MAIL
#   scripted-greet-421-burst     4 sessions in a row, each 421 at greeting
set -eu

TOP=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$TOP/tests/fixtures}
WORK=$(mktemp -d /tmp/smtpscope-captures.XXXXXX)
chmod 755 "$WORK"   # Postfix daemons (user postfix) must reach it
. "$TOP/tests/scripts/capture-lib.sh"

if [ "$(id -u)" != 0 ]; then
	echo "make-smtp-captures: run as root (tcpdump on lo)" >&2
	exit 1
fi
for t in tcpdump tcprewrite swaks postfix openssl; do
	command -v $t >/dev/null || { echo "make-smtp-captures: $t missing" >&2; exit 1; }
done

trap 'cap_cleanup; rm -rf "$WORK"' EXIT INT TERM
mkdir -p "$OUT"
LOG=$WORK/clients.log

# rec NAME PORT MAPPORT: stop the running capture and write OUT/NAME.pcap
# with the server port rewritten to MAPPORT.
rec() {
	cap_stop
	cap_port "$WORK/$1.raw" "$OUT/$1.pcap" "$2:$3"
	cap_check "$OUT/$1.pcap"
	echo "wrote $OUT/$1.pcap ($(wc -c < "$OUT/$1.pcap") bytes)"
}

# rec_raw NAME: the same without the port rewrite, for captures with frames
# over the 65549 bytes tcprewrite keeps of a packet (the golden row gives
# smtpscope -P with the port used here).
rec_raw() {
	cap_stop
	cp "$WORK/$1.raw" "$OUT/$1.pcap"
	cap_check "$OUT/$1.pcap"
	echo "wrote $OUT/$1.pcap ($(wc -c < "$OUT/$1.pcap") bytes)"
}

# sw PORT [swaks options]: swaks with fixed HELO, sender and data.
sw() {
	port=$1
	shift
	swaks --server 127.0.0.1 --port "$port" --helo client.example.test \
	    --from sender@example.org "$@" >> "$LOG" 2>&1
}

data() {
	msg_data sender@example.org "$1" "$2"
}

# ---------------------------------------------------------------- Postfix
P=10601
pf_up "$WORK/pf" $P "smtpd_recipient_limit = 3"

cap_start postfix-clean "tcp port $P"
sw $P --to alice@example.test --data "$(data alice@example.test 'clean session')"
rec postfix-clean $P 25

RCPTS=r1@example.test,r2@example.test,r3@example.test,r4@example.test,r5@example.test
cap_start postfix-rcpt-limit "tcp port $P"
sw $P --to $RCPTS --data "$(data r1@example.test 'recipient limit')"
rec postfix-rcpt-limit $P 25

cap_start postfix-pipeline-rcpt-limit "tcp port $P"
sw $P --pipeline --to $RCPTS --data "$(data r1@example.test 'pipelined recipient limit')"
rec postfix-pipeline-rcpt-limit $P 25

cap_start postfix-bdat "tcp port $P"
$PY "$SCRIPTS/smtp_client.py" bdat 127.0.0.1 $P 2>> "$LOG"
rec postfix-bdat $P 25

# The segment sizes follow the congestion window: try again until one
# frame is over 64 KiB (the first attempt normally is).
for _ in 1 2 3 4 5; do
	cap_start postfix-large-message "tcp port $P"
	$PY "$SCRIPTS/smtp_client.py" large 127.0.0.1 $P 2>> "$LOG"
	rec_raw postfix-large-message
	big=$(tshark -r "$OUT/postfix-large-message.pcap" -T fields \
	    -e frame.cap_len 2>/dev/null | sort -n | tail -1)
	[ "${big:-0}" -gt 65536 ] && break
	echo "postfix-large-message: largest frame $big bytes, again" >&2
done
pf_stop "$WORK/pf"

# anvil: one connection per client, and no exemption for loopback
# (smtpd_client_event_limit_exceptions defaults to $mynetworks).
P=10602
pf_up "$WORK/pf-anvil" $P "smtpd_client_connection_count_limit = 1" \
    "smtpd_client_event_limit_exceptions ="
cap_start postfix-conn-limit "tcp port $P"
$PY "$SCRIPTS/smtp_client.py" hold 127.0.0.1 $P --hold 2 2>> "$LOG" &
HOLD=$!
sleep 0.7
sw $P --to alice@example.test --data "$(data alice@example.test 'second connection')" || true
wait $HOLD
rec postfix-conn-limit $P 25
pf_stop "$WORK/pf-anvil"

P=10603
pf_up "$WORK/pf-minfree" $P "queue_minfree = 1000000000000000"
cap_start postfix-queue-minfree "tcp port $P"
sw $P --to alice@example.test --data "$(data alice@example.test 'queue minfree')" || true
rec postfix-queue-minfree $P 25
pf_stop "$WORK/pf-minfree"

P=10604
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
    -subj /CN=mx.example.test -keyout "$WORK/key.pem" -out "$WORK/cert.pem" \
    2>/dev/null
pf_up "$WORK/pf-tls" $P "smtpd_tls_security_level = may" \
    "smtpd_tls_cert_file = $WORK/cert.pem" \
    "smtpd_tls_key_file = $WORK/key.pem"
cap_start postfix-starttls "tcp port $P"
sw $P --tls --to alice@example.test --data "$(data alice@example.test 'starttls session')"
rec postfix-starttls $P 25
pf_stop "$WORK/pf-tls"

P=10605
pf_up "$WORK/pf-timeout" $P "smtpd_timeout = 3s"
cap_start postfix-idle-timeout "tcp port $P"
$PY "$SCRIPTS/smtp_client.py" idle 127.0.0.1 $P 2>> "$LOG"
rec postfix-idle-timeout $P 25
pf_stop "$WORK/pf-timeout"

# ---------------------------------------------------------------- aiosmtpd
P=10610
srv_start auth $P
cap_start aiosmtpd-auth "tcp port $P"
sw $P --to alice@example.test --auth PLAIN --auth-user alice \
    --auth-password s3cret --data "$(data alice@example.test 'auth plain')"
sleep 0.2
sw $P --to alice@example.test --auth LOGIN --auth-user alice \
    --auth-password s3cret --data "$(data alice@example.test 'auth login')"
sleep 0.2
sw $P --to alice@example.test --auth PLAIN --auth-user alice \
    --auth-password wrong --data "$(data alice@example.test 'auth failure')" || true
rec aiosmtpd-auth $P 587
srv_stop

P=10611
srv_start quota $P
cap_start aiosmtpd-rcpt-quota "tcp port $P"
sw $P --to ann@example.test,full-bob@example.test,carl@example.test \
    --data "$(data ann@example.test 'mailbox over quota')"
rec aiosmtpd-rcpt-quota $P 25
srv_stop

# Three over-quota mailboxes among five recipients: the UI's n/N walk them.
P=10614
srv_start quota $P
cap_start aiosmtpd-quota-three "tcp port $P"
sw $P --to ann@example.test,full-bob@example.test,full-cat@example.test,dan@example.test,full-eve@example.test \
    --data "$(data ann@example.test 'three mailboxes over quota')"
rec aiosmtpd-quota-three $P 25
srv_stop

P=10612
srv_start dataend452 $P
cap_start aiosmtpd-dataend-452 "tcp port $P"
sw $P --to ann@example.test --data "$(data ann@example.test 'storage at end of data')" || true
rec aiosmtpd-dataend-452 $P 25
srv_stop

P=10613
srv_start multiline $P
cap_start aiosmtpd-multiline "tcp port $P"
sw $P --to nobody@example.test,ann@example.test \
    --data "$(data ann@example.test 'multi-line rejection')" || true
rec aiosmtpd-multiline $P 25
srv_stop

# ---------------------------------------------------------------- scripted
P=10620
srv_start greet421 $P
cap_start scripted-greet-421 "tcp port $P"
sw $P --to ann@example.test --data "$(data ann@example.test 'greeting 421')" || true
rec scripted-greet-421 $P 25
srv_stop

P=10621
srv_start mail421 $P
cap_start scripted-mail-421 "tcp port $P"
sw $P --to ann@example.test --data "$(data ann@example.test 'mail 421')" || true
rec scripted-mail-421 $P 25
srv_stop

P=10622
srv_start multiline421 $P
cap_start scripted-multiline-421 "tcp port $P"
sw $P --to ann@example.test --data "$(data ann@example.test 'multi-line 421')" || true
rec scripted-multiline-421 $P 25
srv_stop

P=10623
srv_start maxmsg $P
cap_start scripted-max-messages "tcp port $P"
$PY "$SCRIPTS/smtp_client.py" maxmsg 127.0.0.1 $P 2>> "$LOG"
rec scripted-max-messages $P 25
srv_stop

P=10624
srv_start busy $P
cap_start scripted-greet-421-burst "tcp port $P"
for i in 1 2 3 4; do
	sw $P --to ann@example.test --data "$(data ann@example.test "burst $i")" || true
	sleep 0.3
done
rec scripted-greet-421-burst $P 25
srv_stop

echo "all captures written to $OUT; client transcript:"
cat "$LOG"
