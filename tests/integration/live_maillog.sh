#!/bin/bash
# live_maillog.sh: --maillog while capturing live on lo, with a private
# Postfix writing its own maillog_file.
#
# The instance (tests/scripts/postfix-instance.sh) listens on
# 127.0.0.1:10781 with smtpd_recipient_limit = 2, one connection per client
# (anvil, no loopback exemption) and client port logging off, and relays
# everything to an aiosmtpd on 127.0.0.1:10782 that answers 452 4.2.2 to
# recipients named full@ (tests/scripts/aiosmtpd_scripted.py quota).
# smtpscope follows the log (-i lo -j -P 10781,10782 --maillog) while:
#   1. swaks sends to 3 recipients: the 3rd RCPT gets 452 4.5.3;
#   2. a silent client holds a connection and swaks gets 421 4.7.0;
#   3. swaks sends to ok@ and full@: Postfix relays, aiosmtpd answers 452
#      to full@ and Postfix logs status=deferred; postqueue -f makes
#      Postfix try full@ again (a second session, a second 452, attempt 2);
#   4. `postfix logrotate` renames the log and a new one begins (rotation
#      while following), and swaks sends once more.
# The checks name the session ids the joined lines must carry.  Needs root,
# postfix, swaks, python3-aiosmtpd; skips otherwise.
. "$(dirname "$0")/../lib.sh"
tap_init

PORT=10781
RELAY=10782
PY=/usr/bin/python3
[ "$(id -u)" = 0 ] || tap_skip_all "live capture needs root (or CAP_NET_RAW)"
for t in postfix swaks; do
	command -v $t >/dev/null 2>&1 || tap_skip_all "$t not installed"
done
[ -x "$PY" ] || tap_skip_all "no $PY"
$PY -c 'import aiosmtpd' 2>/dev/null || tap_skip_all "no python3-aiosmtpd"
[ -x "$SMTPSCOPE" ] || tap_skip_all "no smtpscope binary at $SMTPSCOPE"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/live_maillog.XXXXXX")
chmod 755 "$tmp"
SPID=
APID=
cleanup() {
	[ -z "$SPID" ] || kill -INT "$SPID" 2>/dev/null
	[ -z "$APID" ] || kill -TERM "$APID" 2>/dev/null
	pf_stop "$tmp/pf"
	[ -z "$SPID" ] || wait "$SPID" 2>/dev/null
	[ -z "$APID" ] || wait "$APID" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

$PY "$top_srcdir/tests/scripts/aiosmtpd_scripted.py" quota $RELAY \
    > "$tmp/relay.out" 2> "$tmp/relay.err" &
APID=$!
i=0
while ! grep -q ready "$tmp/relay.out" && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done

. "$top_srcdir/tests/scripts/postfix-instance.sh"
if ! pf_start "$tmp/pf" $PORT "smtpd_recipient_limit = 2" \
    "smtpd_client_connection_count_limit = 1" \
    "smtpd_client_event_limit_exceptions =" \
    "relayhost = [127.0.0.1]:$RELAY" "default_transport = smtp" \
    "relay_transport = smtp" "smtp_tls_security_level = none" \
    2> "$tmp/pf.err"; then
	echo "1..1"
	echo "not ok 1 - private Postfix starts on 127.0.0.1:$PORT"
	sed 's/^/# /' "$tmp/pf.err"
	exit 1
fi
sleep 1

# -Z root: after `postfix logrotate` Postfix creates the new log 0600 root,
# which the default unprivileged user could not open (a site gives -Z a
# user of the log's group).
"$SMTPSCOPE" -i lo -Z root -j -P $PORT,$RELAY --maillog "$tmp/pf/maillog" \
    > "$tmp/out.jsonl" 2> "$tmp/err" &
SPID=$!
wait_capturing $SPID || sleep 1
if ! kill -0 $SPID 2>/dev/null; then
	wait $SPID
	rc=$?
	SPID=
	if grep -qi 'permission\|not permitted\|root' "$tmp/err"; then
		tap_skip_all "live capture not permitted here: $(head -1 "$tmp/err")"
	fi
	echo "1..1"
	echo "not ok 1 - smtpscope -i lo --maillog keeps capturing (exit $rc)"
	sed 's/^/# /' "$tmp/err"
	exit 1
fi

sw() {
	swaks --server 127.0.0.1 --port $PORT --helo live.example.test \
	    --from sender@example.org "$@" >> "$tmp/swaks.log" 2>&1
}
# wait_log PATTERN: until the Postfix log holds PATTERN (10 s at most).
wait_log() {
	i=0
	while ! grep -q "$1" "$tmp/pf/maillog" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.2
		i=$((i + 1))
	done
}

# 1. 452 to the 3rd RCPT.
sw --to r1@remote.test,r2@remote.test,r3@remote.test --body "rcpt limit"
sleep 1
# 2. 421: one connection per client, and one is held.
$PY "$top_srcdir/tests/scripts/smtp_client.py" hold 127.0.0.1 $PORT \
    --hold 2 2>> "$tmp/swaks.log" &
HOLD=$!
sleep 0.7
sw --to alice@remote.test --body "second connection"
wait $HOLD
sleep 0.5
# 3. Relayed: aiosmtpd answers 452 4.2.2 to full@.
sw --to ok@remote.test,full@remote.test --body "relayed"
wait_log 'status=deferred'
sleep 1
# 3b. The deferred recipient tried again now (postqueue -f), answered 452
#     again: the second status=deferred line is attempt 2.
postqueue -c "$tmp/pf/etc" -f >> "$tmp/swaks.log" 2>&1
i=0
while [ "$(grep -c 'status=deferred' "$tmp/pf/maillog" 2>/dev/null)" -lt 2 ] &&
    [ $i -lt 50 ]; do
	sleep 0.2
	i=$((i + 1))
done
sleep 1
# 4. Rotation while following, then one more session.
postfix -c "$tmp/pf/etc" logrotate >> "$tmp/swaks.log" 2>&1
rot=$?
sleep 0.5
sw --to after@remote.test --body "after rotation"
wait_log 'after@remote.test'
sleep 1.5
kill -INT $SPID
wait_gone $SPID 100
kill -KILL $SPID 2>/dev/null
wait $SPID
src=$?
SPID=

tap_plan 9
tap_ok $src "smtpscope exits 0 on SIGINT (status $src)"
tap_ok $rot "postfix logrotate renamed the log (status $rot)"

check() {
	$PY - "$tmp/out.jsonl" "$PORT" "$RELAY" "$1" 2> "$tmp/check.err" <<'PYEOF'
import json, sys
path, port, relay, what = sys.argv[1:5]
ev = [json.loads(ln) for ln in open(path, encoding="utf-8")]
inb = "127.0.0.1:" + port
out = "127.0.0.1:" + relay
logs = [e for e in ev if e["event"] == "log"]
def sessions(pred):
    return [e["session"] for e in ev if pred(e)]
def joined(sid, words):
    return [l for l in logs if l["session"] == sid and words in l["line"]]
def fail(msg):
    sys.exit(msg)
if what == "452":
    s = sessions(lambda e: e["event"] == "reply" and e["code"] == 452
                 and e["server"] == inb)
    if len(s) != 1:
        fail("452 sessions: %r" % s)
    for w in ("connect from", "client=", "disconnect from"):
        if not joined(s[0], w):
            fail("no %r line joined to session %d" % (w, s[0]))
    # Postfix counts the RCPT refused for the limit as a RCPT command
    # ("rcpt=3"); a refusal by policy would read "rcpt=2/3".
    if not [l for l in joined(s[0], "disconnect from") if " rcpt=3" in l["line"]]:
        fail("disconnect line without rcpt=3")
elif what == "421":
    s = sessions(lambda e: e["event"] == "reply" and e["code"] == 421
                 and e["server"] == inb)
    if len(s) != 1:
        fail("421 sessions: %r" % s)
    if not joined(s[0], "Connection concurrency limit exceeded"):
        fail("no concurrency warning joined to session %d" % s[0])
elif what == "deferred":
    s = sessions(lambda e: e["event"] == "reply" and e["code"] == 452
                 and e["server"] == out)
    if len(s) != 2:
        fail("outbound 452 sessions (the first attempt and the retry): %r" % s)
    l = joined(s[0], "status=deferred")
    if not l or l[0]["join"] != "relay-reply":
        fail("status=deferred not joined to session %d by its reply: %r"
             % (s[0], [x for x in logs if "deferred" in x["line"]]))
    d = l[0].get("delivery") or {}
    if d.get("outcome") != "deferred" or d.get("attempt") != 1:
        fail("first status=deferred: delivery %r" % d)
    x = l[0].get("evidence") or {}
    if x.get("code") != 452 or x.get("cause") != "mailbox-full":
        fail("first status=deferred: evidence %r" % x)
elif what == "retry":
    s = sessions(lambda e: e["event"] == "reply" and e["code"] == 452
                 and e["server"] == out)
    l = joined(s[-1], "status=deferred") if len(s) == 2 else []
    if not l:
        fail("the retry's status=deferred is not joined to the second "
             "outbound session: %r" % s)
    d = l[0].get("delivery") or {}
    first = joined(s[0], "status=deferred")[0]
    if d.get("attempt") != 2 or d.get("previous_attempt_ts") != first["ts"]:
        fail("retry: delivery %r, first attempt at %s" % (d, first["ts"]))
elif what == "queue-id":
    # qmgr's lines name the queue id of the message the 250 named.
    q = [(e["session"], e["queue_id"]) for e in ev
         if e["event"] == "message" and e["server"] == inb and e["queue_id"]]
    if not q:
        fail("no queued message")
    for sid, qid in q:
        if not [l for l in logs if l["session"] == sid and l["queue_id"] == qid
                and l["program"].endswith("/qmgr")]:
            fail("no qmgr line joined to session %d by %s" % (sid, qid))
elif what == "rotation":
    s = [e["session"] for e in ev if e["event"] == "command"
         and e["verb"] == "RCPT" and "after@" in e["arg"]
         and e["server"] == inb]
    if len(s) != 1:
        fail("sessions after rotation: %r" % s)
    if not joined(s[0], "connect from"):
        fail("the new log's lines were not read or not joined")
elif what == "stats":
    if ev[-1]["event"] != "stats":
        fail("stats is not last")
n = len(logs)
j = len([l for l in logs if l["session"] != 0])
print("# %s: %d log lines, %d joined" % (what, n, j))
PYEOF
	_rc=$?
	[ $_rc -eq 0 ] || sed 's/^/# /' "$tmp/check.err"
	return $_rc
}

check 452;      tap_ok $? "452 session: its connect, client= and disconnect (rcpt=3) lines carry its id"
check 421;      tap_ok $? "421 session: the concurrency limit warning carries its id"
check deferred; tap_ok $? "outbound 452: status=deferred joined to the client-side session (relay-reply)"
check retry;    tap_ok $? "postqueue -f: the second status=deferred is attempt 2, naming the first's time"
check queue-id; tap_ok $? "qmgr lines joined by the queue id of the 250 after DATA"
check rotation; tap_ok $? "after postfix logrotate the new file is followed and joined"
check stats;    tap_ok $? "stats is the last line"
if [ $TAP_FAILED -ne 0 ]; then
	tap_diag "log events:"
	grep '"event":"log"' "$tmp/out.jsonl" | sed 's/^/# /' | cut -c1-400
	sed 's/^/# stderr: /' "$tmp/err"
	sed 's/^/# swaks: /' "$tmp/swaks.log" | tail -20
	exit 1
fi
exit 0
