#!/bin/sh
# live_metrics.sh: --metrics during a live capture on lo while swaks talks to
# the project's private Postfix (tests/scripts/postfix-instance.sh, on
# 127.0.0.1:10695 with smtpd_recipient_limit = 2).  Two swaks sessions each
# send one message to 3 recipients (the 3rd RCPT gets 452 4.5.3); while
# smtpscope still runs, /metrics is scraped with curl, checked with
# `promtool check metrics`, and its counters compared with the JSON events
# smtpscope wrote up to then (tests/scripts/metrics-lib.sh).  Needs root,
# postfix, swaks, curl, jq and python3; skips otherwise (promtool: that part).
. "$(dirname "$0")/../lib.sh"
tap_init
. "$top_srcdir/tests/scripts/metrics-lib.sh"

PORT=10695
[ "$(id -u)" = 0 ] || tap_skip_all "live capture needs root (or CAP_NET_RAW)"
if ! command -v postfix > /dev/null 2>&1; then
	mta=$("$top_srcdir/tools/deps.sh" --other-mta 2> /dev/null | tr '\n' ' ')
	[ -z "$mta" ] || tap_skip_all "this host runs ${mta% }; the Postfix tests do not replace a mail server"
fi
for t in postfix swaks curl jq python3; do
	command -v $t > /dev/null 2>&1 || tap_skip_all "$t not installed"
done
[ -x "$SMTPSCOPE" ] || tap_skip_all "no smtpscope binary at $SMTPSCOPE"
promtool=$(command -v promtool)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/live_metrics.XXXXXX")
chmod 755 "$tmp" # Postfix daemons run as user postfix
SPID=
cleanup() {
	[ -z "$SPID" ] || kill -INT "$SPID" 2> /dev/null
	pf_stop "$tmp/pf"
	[ -z "$SPID" ] || wait "$SPID" 2> /dev/null
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
sleep 1 # pf_start's own probe of the port is over before capturing

for try in 1 2 3; do
	mport=$(metrics_free_port)
	"$SMTPSCOPE" -i lo -j -P $PORT --metrics "127.0.0.1:$mport" \
	    > "$tmp/out.jsonl" 2> "$tmp/err" &
	SPID=$!
	wait_capturing $SPID || sleep 1
	kill -0 $SPID 2> /dev/null && break
	wait $SPID
	SPID=
	grep -q 'Address already in use' "$tmp/err" || break
done
if [ -z "$SPID" ]; then
	if grep -qi 'permission\|not permitted' "$tmp/err"; then
		tap_skip_all "live capture not permitted here: $(head -1 "$tmp/err")"
	fi
	echo "1..1"
	echo "not ok 1 - smtpscope -i lo --metrics keeps running"
	sed 's/^/# /' "$tmp/err"
	exit 1
fi

tap_plan 9
url=http://127.0.0.1:$mport/metrics
curl -sf "$url" > "$tmp/scrape0"
grep -q '^smtpscope_sessions_total 0$' "$tmp/scrape0"
tap_ok $? "scraped before any session: smtpscope_sessions_total 0"

rc=0
for n in 1 2; do
	swaks --server 127.0.0.1 --port $PORT --helo live.example.test \
	    --from sender@example.org \
	    --to r1@example.test,r2@example.test,r3@example.test \
	    --body "live metrics test $n" >> "$tmp/swaks.log" 2>&1 || rc=$?
done
tap_ok $rc "swaks delivered its two messages (status $rc)"
# The sessions close on their FIN; the JSON is written within 50 ms.
sleep 1.5
curl -sf "$url" > "$tmp/scrape"
tap_ok $? "scraped with curl while capturing"
sleep 0.3
cp "$tmp/out.jsonl" "$tmp/upto.jsonl"

if [ -z "$promtool" ]; then
	tap_skip "promtool check metrics: promtool not installed (Debian package prometheus)"
else
	"$promtool" check metrics < "$tmp/scrape" > "$tmp/prom" 2>&1
	rc=$?
	tap_ok $rc "promtool check metrics"
	[ $rc -eq 0 ] || tap_diag "$(cat "$tmp/prom")"
fi
metrics_expected "$tmp/upto.jsonl" live > "$tmp/want"
metrics_actual "$tmp/scrape" live > "$tmp/got"
diff -u "$tmp/want" "$tmp/got" > "$tmp/diff"
rc=$?
tap_ok $rc "the counters equal the JSON events written so far ($(wc -l < "$tmp/want") series)"
[ $rc -eq 0 ] || tap_diag "$(cat "$tmp/diff")"
grep -q '^smtpscope_replies_total{code="452",cause="rcpt-limit"} 2$' "$tmp/scrape"
tap_ok $? "two 452 with cause rcpt-limit"
grep -q '^smtpscope_server_replies_total{server="127.0.0.1",code="452"} 2$' "$tmp/scrape"
tap_ok $? "two 452 for server 127.0.0.1"
grep -q '^smtpscope_messages_accepted_total 2$' "$tmp/scrape" &&
    grep -q '^smtpscope_sessions_total 2$' "$tmp/scrape" &&
    grep -q '^smtpscope_sessions_open 0$' "$tmp/scrape"
tap_ok $? "two sessions, both closed, two messages accepted"

kill -INT $SPID
wait_gone $SPID 50
kill -KILL $SPID 2> /dev/null
wait $SPID
rc=$?
SPID=
tap_ok $rc "smtpscope --metrics exits 0 on SIGINT (status $rc)"
if [ "$TAP_FAILED" -ne 0 ]; then
	sed 's/^/# stderr: /' "$tmp/err"
	sed 's/^/# scrape: /' "$tmp/scrape" | grep -v '# [#]'
	exit 1
fi
exit 0
