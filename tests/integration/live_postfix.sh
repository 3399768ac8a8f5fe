#!/bin/bash
# live_postfix.sh: live capture on lo while swaks talks to a real Postfix.
#
# A private Postfix (tests/scripts/postfix-instance.sh) listens on
# 127.0.0.1:10690 with smtpd_recipient_limit = 2; smtpscope captures on lo
# with -j -P 10690; swaks sends one message to 3 recipients, so the 3rd RCPT
# gets 452 4.5.3 and the message is queued for 2.  Needs root (live capture),
# postfix, swaks and /usr/bin/python3 (to read the JSON); skips otherwise.
. "$(dirname "$0")/../lib.sh"
tap_init

PORT=10690
PY=/usr/bin/python3
[ "$(id -u)" = 0 ] || tap_skip_all "live capture needs root (or CAP_NET_RAW)"
# A host whose mail server is not Postfix does not get Postfix from
# tools/deps.sh (apt would replace its MTA): say so rather than "not installed".
if ! command -v postfix >/dev/null 2>&1; then
	mta=$("$top_srcdir/tools/deps.sh" --other-mta 2>/dev/null | tr '\n' ' ')
	[ -z "$mta" ] || tap_skip_all "this host runs ${mta% }; the Postfix tests do not replace a mail server (the live aiosmtpd tests in ui_tmux.sh still run)"
fi
for t in postfix swaks; do
	command -v $t >/dev/null 2>&1 || tap_skip_all "$t not installed"
done
[ -x "$PY" ] || tap_skip_all "no $PY to check the JSON"
[ -x "$SMTPSCOPE" ] || tap_skip_all "no smtpscope binary at $SMTPSCOPE"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/live_postfix.XXXXXX")
chmod 755 "$tmp"        # Postfix daemons run as user postfix
SPID=
cleanup() {
	[ -z "$SPID" ] || kill -INT "$SPID" 2>/dev/null
	pf_stop "$tmp/pf"
	[ -z "$SPID" ] || wait "$SPID" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

. "$top_srcdir/tests/scripts/postfix-instance.sh"
if ! pf_start "$tmp/pf" $PORT "smtpd_recipient_limit = 2" 2> "$tmp/pf.err"; then
	echo "1..1"
	echo "not ok 1 - private Postfix starts on 127.0.0.1:$PORT"
	sed 's/^/# /' "$tmp/pf.err"
	exit 1
fi
# Let pf_start's own port probe (and Postfix's late greeting to it) pass
# before capturing, so only the swaks session is seen.
sleep 1

"$SMTPSCOPE" -i lo -j -P $PORT > "$tmp/out.jsonl" 2> "$tmp/err" &
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
	echo "not ok 1 - smtpscope -i lo keeps capturing (exit $rc)"
	sed 's/^/# /' "$tmp/err"
	exit 1
fi

swaks --server 127.0.0.1 --port $PORT --helo live.example.test \
    --from sender@example.org \
    --to r1@example.test,r2@example.test,r3@example.test \
    --body "live capture test" > "$tmp/swaks.log" 2>&1
swaks_rc=$?
sleep 1
kill -INT $SPID
# Give it a moment to write the close and stats events, then force it.
wait_gone $SPID 50
kill -KILL $SPID 2>/dev/null
wait $SPID
src=$?
SPID=

tap_plan 10
tap_ok $swaks_rc "swaks delivered its message (status $swaks_rc)"
tap_ok $src "smtpscope exits 0 on SIGINT (status $src)"

check() {
	$PY - "$tmp/out.jsonl" "$PORT" "$1" <<'PYEOF'
import json, sys
path, port, what = sys.argv[1], sys.argv[2], sys.argv[3]
ev = []
for ln in open(path, encoding="utf-8"):
    try:
        ev.append(json.loads(ln))
    except ValueError:
        sys.exit("not JSON: %r" % ln[:200])
srv = "127.0.0.1:" + port
sess = [e for e in ev if e.get("server") == srv]
def has(pred):
    return any(pred(e) for e in sess)
ok = {
    "open": lambda: has(lambda e: e["event"] == "session_open"),
    "commands": lambda: all(has(lambda e, v=v: e["event"] == "command"
                                and e.get("verb") == v)
                            for v in ("EHLO", "MAIL", "RCPT", "DATA")),
    "452": lambda: has(lambda e: e["event"] == "reply"
                       and e.get("code") == 452
                       and e.get("highlight") is True
                       and e.get("answers") == "RCPT"
                       and isinstance(e.get("diagnosis"), dict)),
    "message": lambda: has(lambda e: e["event"] == "message"
                           and len(e.get("rcpt_accepted") or []) == 2
                           and len(e.get("rcpt_rejected") or []) == 1
                           and e.get("queue_id")),
    "close": lambda: has(lambda e: e["event"] == "session_close"),
    "stats": lambda: bool(ev) and ev[-1].get("event") == "stats",
}[what]()
sys.exit(0 if ok else 1)
PYEOF
}

check open;     tap_ok $? "session_open for the swaks session"
check commands; tap_ok $? "EHLO, MAIL, RCPT and DATA commands seen"
check 452;      tap_ok $? "452 highlighted, answers RCPT, with a diagnosis"
check message;  tap_ok $? "message: 2 recipients accepted, 1 rejected, queue id"
check close;    tap_ok $? "session_close"
check stats;    tap_ok $? "stats is the last line"
grep -q '"queue_id":"[0-9A-F]\{6,\}"' "$tmp/out.jsonl"
tap_ok $? "queue id looks like Postfix's"
# The instance's master.cf is its own: one inet listener, ours, and nothing
# taken from the system's master.cf (whose listeners would clash).
listeners=$(awk '!/^[#[:space:]]/ && $2 == "inet" { print $1 }' "$tmp/pf/etc/master.cf")
[ "$listeners" = "127.0.0.1:$PORT" ]
tap_ok $? "private master.cf has only the test listener (got: $(echo $listeners))"
if [ $TAP_FAILED -ne 0 ]; then
	tap_diag "smtpscope output:"
	sed 's/^/# /' "$tmp/out.jsonl" | cut -c1-300
	sed 's/^/# stderr: /' "$tmp/err"
	sed 's/^/# swaks: /' "$tmp/swaks.log" | head -40
	exit 1
fi
exit 0
