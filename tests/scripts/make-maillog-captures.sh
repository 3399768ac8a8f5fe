#!/bin/bash
# make-maillog-captures.sh: record captures together with the log the MTA
# wrote meanwhile, for the --maillog goldens: tests/fixtures/maillog-*.pcap
# and tests/fixtures/maillog-*.maillog (the .maillog extension: *.log is
# ignored by git).
#
# How to regenerate (as root, on Debian/Ubuntu):
#   apt-get install -y postfix swaks tcpdump python3-aiosmtpd
#   tests/scripts/make-maillog-captures.sh [OUTDIR]   (default tests/fixtures)
#   tests/scripts/regen-golden.sh                      (then review the diff)
#
# Not run by "make check".  Servers are private Postfix instances
# (tests/scripts/postfix-instance.sh, never the system one) writing their
# own maillog_file, and aiosmtpd (tests/scripts/aiosmtpd_scripted.py) as the
# next hop.  Ports 10671-10679 on 127.0.0.1 are kept as they are (no
# rewrite: the log names them), so the goldens run smtpscope with -P.
#
#   maillog-rcpt-limit   smtpd_recipient_limit=3, 5 RCPTs: 452 4.5.3 x2;
#                        the log's smtpd lines (connect, queue id,
#                        disconnect rcpt=3/5), cleanup, qmgr, discard
#   maillog-conn-limit   anvil limit 1 and smtpd_client_port_logging: the
#                        second parallel session gets 421 4.7.0 and smtpd
#                        logs "Connection concurrency limit exceeded"
#   maillog-relay-452    Postfix relays through aiosmtpd (relayhost), which
#                        answers 452 4.2.2 to one of two recipients: the
#                        smtp client's status=deferred and status=sent lines
set -eu

TOP=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$TOP/tests/fixtures}
WORK=$(mktemp -d /tmp/smtpscope-maillog.XXXXXX)
chmod 755 "$WORK"
. "$TOP/tests/scripts/capture-lib.sh"

if [ "$(id -u)" != 0 ]; then
	echo "make-maillog-captures: run as root (tcpdump on lo)" >&2
	exit 1
fi
for t in tcpdump swaks postfix; do
	command -v $t >/dev/null || { echo "make-maillog-captures: $t missing" >&2; exit 1; }
done
trap 'cap_cleanup; rm -rf "$WORK"' EXIT INT TERM
mkdir -p "$OUT"
LOG=$WORK/clients.log

# rec NAME DIR: stop the capture, write OUT/NAME.pcap and the Postfix log
# of DIR (what it wrote since the capture began) as OUT/NAME.maillog.
rec() {
	cap_stop
	cp "$WORK/$1.raw" "$OUT/$1.pcap"
	cap_check "$OUT/$1.pcap"
	tail -c +"$((LOGPOS + 1))" "$2/maillog" > "$OUT/$1.maillog"
	echo "wrote $OUT/$1.pcap and $1.maillog ($(wc -l < "$OUT/$1.maillog") lines)"
}
# mark DIR: remember where the log of DIR ends now.
mark() {
	LOGPOS=$(wc -c < "$1/maillog" 2>/dev/null || echo 0)
}
sw() {
	port=$1
	shift
	swaks --server 127.0.0.1 --port "$port" --helo client.example.test \
	    --from sender@example.org "$@" >> "$LOG" 2>&1
}
data() {
	msg_data sender@example.org "$1" "$2"
}

P=10671
pf_up "$WORK/pf" $P "smtpd_recipient_limit = 3"
mark "$WORK/pf"
cap_start maillog-rcpt-limit "tcp port $P"
sw $P --to r1@example.test,r2@example.test,r3@example.test,r4@example.test,r5@example.test \
    --data "$(data r1@example.test 'recipient limit')"
sleep 1.5 # qmgr and discard log the delivery
rec maillog-rcpt-limit "$WORK/pf"
pf_stop "$WORK/pf"

P=10672
pf_up "$WORK/pf-anvil" $P "smtpd_client_connection_count_limit = 1" \
    "smtpd_client_event_limit_exceptions =" \
    "smtpd_client_port_logging = yes"
mark "$WORK/pf-anvil"
cap_start maillog-conn-limit "tcp port $P"
$PY "$SCRIPTS/smtp_client.py" hold 127.0.0.1 $P --hold 2 2>> "$LOG" &
HOLD=$!
sleep 0.7
sw $P --to alice@example.test --data "$(data alice@example.test 'second connection')" || true
wait $HOLD
sleep 1
rec maillog-conn-limit "$WORK/pf-anvil"
pf_stop "$WORK/pf-anvil"

P=10673
P2=10674
srv_start quota $P2
pf_up "$WORK/pf-relay" $P "relayhost = [127.0.0.1]:$P2" \
    "default_transport = smtp" "relay_transport = smtp" \
    "smtp_tls_security_level = none"
mark "$WORK/pf-relay"
cap_start maillog-relay-452 "tcp port $P or tcp port $P2"
sw $P --to ok@remote.test,full@remote.test \
    --data "$(data ok@remote.test 'relayed with one deferral')"
# qmgr hands the message to smtp at once; wait for its status lines.
i=0
while [ $i -lt 50 ] && ! grep -q 'status=deferred' "$WORK/pf-relay/maillog"; do
	sleep 0.2
	i=$((i + 1))
done
sleep 1
rec maillog-relay-452 "$WORK/pf-relay"
pf_stop "$WORK/pf-relay"
srv_stop
