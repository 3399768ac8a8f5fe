#!/bin/bash
# make-demo.sh: record data/demo.pcap, the capture that "smtpscope --demo"
# replays in real time (installed to pkgdatadir).
#
# How to regenerate (as root, on Debian/Ubuntu):
#   apt-get install -y postfix swaks tcpdump tcpreplay wireshark-common \
#       python3-aiosmtpd openssl
#   tests/scripts/make-demo.sh [OUTFILE]           (default data/demo.pcap)
#
# About 75 seconds of traffic between real servers and clients on loopback,
# paced with sleeps so that a real-time replay looks like a live mail server:
# normal sessions, STARTTLS, pipelining, BDAT, AUTH on 587, and the failures
# smtpscope is for: 452 4.5.3 (Postfix recipient limit, plain and pipelined),
# 452 4.3.1 (Postfix queue_minfree), 452 4.2.2 (mailbox over quota), 421 at
# the greeting (Postfix anvil connection limit; a burst from a busy Exim-like
# server), 421 idle timeout (Postfix smtpd_timeout), 421 after too many
# messages on one connection, and a multi-line 421 after the end of data.
#
# Servers listen on 127.0.0.1 ports 10650-10659; clients bind to
# 127.0.0.2-127.0.0.9 ("different clients").  Afterwards each server's
# packets are rewritten with tcprewrite to look like distinct hosts on port
# 25 (587 for submission), and client addresses are moved to 10.10.1.x:
#   10650 Postfix mx1 (recipient limit 3, smtpd_timeout 4s, anvil limit 2,
#         STARTTLS)                                    -> 192.0.2.10:25
#   10651 Postfix mx2 (queue_minfree larger than the disk) -> 192.0.2.11:25
#   10652 aiosmtpd mailbox host (over-quota recipients)    -> 198.51.100.20:25
#   10653 scripted relay (421 after 3 messages)            -> 198.51.100.21:25
#   10654 scripted busy server (421 at the greeting)       -> 203.0.113.5:25
#   10655 scripted rate limiter (multi-line 421)           -> 203.0.113.6:25
#   10656 aiosmtpd submission (AUTH PLAIN/LOGIN)           -> 192.0.2.10:587
# Not run by "make check"; the result is committed.
set -eu

TOP=$(cd "$(dirname "$0")/../.." && pwd)
OUTFILE=${1:-$TOP/data/demo.pcap}
WORK=$(mktemp -d /tmp/smtpscope-demo.XXXXXX)
chmod 755 "$WORK"   # Postfix daemons (user postfix) must reach it
. "$TOP/tests/scripts/capture-lib.sh"

if [ "$(id -u)" != 0 ]; then
	echo "make-demo: run as root (tcpdump on lo)" >&2
	exit 1
fi
for t in tcpdump tcprewrite mergecap swaks postfix openssl; do
	command -v $t >/dev/null || { echo "make-demo: $t missing" >&2; exit 1; }
done
# KEEP=1 keeps the scratch directory (raw capture, logs) for inspection.
trap 'cap_cleanup; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT INT TERM
LOG=$WORK/clients.log
BG=

# sw CLIENT PORT [swaks options]: swaks from 127.0.0.CLIENT.
sw() {
	c=$1 port=$2
	shift 2
	swaks --server 127.0.0.1 --port "$port" --local-interface "127.0.0.$c" \
	    "$@" >> "$LOG" 2>&1 || true
}

# msg CLIENT PORT HELO FROM TO SUBJECT [swaks options]
msg() {
	c=$1 port=$2 helo=$3 from=$4 to=$5 subj=$6
	shift 6
	sw "$c" "$port" --helo "$helo" --from "$from" --to "$to" \
	    --data "$(msg_data "$from" "$to" "$subj")" "$@"
}

client() {
	$PY "$SCRIPTS/smtp_client.py" "$@" 2>> "$LOG" || true
}

# ---------------------------------------------------------------- servers
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
    -subj /CN=mx1.example.test -keyout "$WORK/key.pem" -out "$WORK/cert.pem" \
    2>/dev/null
pf_up "$WORK/mx1" 10650 "myhostname = mx1.example.test" \
    "smtpd_recipient_limit = 3" "smtpd_timeout = 4s" \
    "smtpd_client_connection_count_limit = 2" \
    "smtpd_client_event_limit_exceptions =" \
    "smtpd_tls_security_level = may" \
    "smtpd_tls_cert_file = $WORK/cert.pem" \
    "smtpd_tls_key_file = $WORK/key.pem"
pf_up "$WORK/mx2" 10651 "myhostname = mx2.example.test" \
    "queue_minfree = 1000000000000000"
SCRIPTED_HOSTNAME=mailbox.example.net srv_start quota 10652
SCRIPTED_HOSTNAME=relay.example.net srv_start maxmsg 10653
SCRIPTED_HOSTNAME=busy.example.com srv_start busy 10654
SCRIPTED_HOSTNAME=mx.example.com srv_start multiline421 10655
SCRIPTED_HOSTNAME=submit.example.test srv_start auth 10656

# ---------------------------------------------------------------- traffic
cap_start demo "tcp portrange 10650-10659"
MX1=10650

msg 2 $MX1 web1.example.org alerts@example.org ops@example.test "disk usage report"
sleep 2
msg 3 $MX1 mail.partner.example partner@partner.example sales@example.test "quarterly figures" --tls
sleep 3
# A mailing list exploder pipelining 5 recipients into a limit of 3.
sw 4 $MX1 --pipeline --helo lists.example.org --from list@example.org \
    --to a1@example.test,a2@example.test,a3@example.test,a4@example.test,a5@example.test \
    --data "$(msg_data list@example.org list-members@example.test 'weekly digest')"
sleep 3
msg 5 $MX1 crm.example.org noreply@example.org anna@example.test,ben@example.test "meeting notes"
sleep 2
msg 6 10652 gw.example.org hr@example.org carla@example.net,full-dave@example.net "holiday schedule"
sleep 3
msg 2 10651 web1.example.org alerts@example.org admin@example.test "backup finished"
sleep 2
# A monitoring host that opens a session and then forgets about it.
client idle 127.0.0.1 $MX1 --bind 127.0.0.9 &
BG="$BG $!"
sleep 1
for i in 1 2 3; do
	msg 7 10654 bulk.example.com promo@example.com x$i@example.com "offer $i"
	sleep 1
done
sleep 1
client maxmsg 127.0.0.1 10653 --bind 127.0.0.8
sleep 3
sw 3 10656 --helo laptop.example.test --from alice@example.test \
    --to friend@example.org --auth PLAIN --auth-user alice \
    --auth-password s3cret \
    --data "$(msg_data alice@example.test friend@example.org 'photos')"
sleep 2
# Two long sessions from one client fill Postfix's anvil limit of 2; the
# third connection is refused at the greeting.
client hold 127.0.0.1 $MX1 --bind 127.0.0.4 --hold 3 &
BG="$BG $!"
client hold 127.0.0.1 $MX1 --bind 127.0.0.4 --hold 3 &
BG="$BG $!"
sleep 1
msg 4 $MX1 lists.example.org list@example.org b1@example.test "reminder"
sleep 4
msg 5 10655 crm.example.org newsletter@example.org reader@example.com "newsletter"
sleep 3
client bdat 127.0.0.1 $MX1 --bind 127.0.0.6
sleep 2
msg 3 $MX1 mail.partner.example partner@partner.example sales@example.test "re: quarterly figures" --tls
sleep 3
msg 2 $MX1 web1.example.org alerts@example.org ops@example.test,dev@example.test,qa@example.test,sec@example.test "incident summary"
sleep 3
msg 6 10652 gw.example.org hr@example.org full-dave@example.net "holiday schedule (retry)"
sleep 2
sw 3 10656 --helo laptop.example.test --from alice@example.test \
    --to friend@example.org --auth LOGIN --auth-user alice \
    --auth-password s3cret \
    --data "$(msg_data alice@example.test friend@example.org 'more photos')"
sleep 3
for i in 4 5; do
	msg 7 10654 bulk.example.com promo@example.com x$i@example.com "offer $i"
	sleep 1
done
sleep 2
msg 8 $MX1 shop.example.net orders@example.net anna@example.test "order confirmation"
sleep 3
msg 2 10651 web1.example.org alerts@example.org admin@example.test "backup finished (retry)"
sleep 3
msg 9 $MX1 hq.example.org ceo@example.org all-staff@example.test "friday update" --pipeline
sleep 2
msg 5 $MX1 crm.example.org noreply@example.org ben@example.test "follow-up"
sleep 3
msg 6 $MX1 gw.example.org hr@example.org payroll@example.test "payroll run" --pipeline
sleep 3
msg 8 $MX1 shop.example.net orders@example.net carl@example.test "shipping notice" --tls
for pid in $BG; do
	wait "$pid" || true
done
cap_stop

# ---------------------------------------------------------------- rewrite
# Split per server port, give each server its own address and port 25/587,
# merge back in time order, then move the clients off 127.0.0.x.
parts=
for map in 10650:25:192.0.2.10 10651:25:192.0.2.11 10652:25:198.51.100.20 \
    10653:25:198.51.100.21 10654:25:203.0.113.5 10655:25:203.0.113.6 \
    10656:587:192.0.2.10; do
	in=${map%%:*}
	rest=${map#*:}
	outp=${rest%%:*}
	ip=${rest#*:}
	tcpdump -r "$WORK/demo.raw" -w "$WORK/part-$in.raw" "tcp port $in" 2>/dev/null
	cap_port "$WORK/part-$in.raw" "$WORK/part-$in.pcap" "$in:$outp" \
	    "127.0.0.1/32:$ip/32"
	parts="$parts $WORK/part-$in.pcap"
done
# shellcheck disable=SC2086
mergecap -F pcap -w "$WORK/merged.pcap" $parts
# Same-length addresses, so the servers' quotes of the client address
# ("too many connections from 127.0.0.4") can be moved too.
$PY "$SCRIPTS/pcap_subst.py" "$WORK/merged.pcap" "$WORK/subst.pcap" \
    $(for i in 2 3 4 5 6 7 8 9; do printf '127.0.0.%s=10.10.1.%s ' $i $i; done)
tcprewrite --fixcsum -i "$WORK/subst.pcap" -o "$OUTFILE"
cap_check "$OUTFILE"
echo "wrote $OUTFILE ($(wc -c < "$OUTFILE") bytes)"
cat "$LOG" | grep -E '^(<\*\*|\*\*\*)|stopped|said' || true
