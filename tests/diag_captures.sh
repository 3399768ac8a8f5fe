#!/bin/sh
# Diagnosis in context, on the project's own captures of real servers
# (issue 4): the rule chosen and the concrete situation it describes.
# TAP output.
: "${top_srcdir:=.}" "${SMTPSCOPE:=./smtpscope}"
fx="$top_srcdir/tests/fixtures"
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "1..0 # SKIP /usr/bin/python3 missing"; exit 0; }

n=0
fail=0
# check NAME PCAP SESSION CODE ANSWERS RULE REGEX: the highlighted reply with
# that code in that session has that rule, and its `when` matches REGEX.
check() {
	n=$((n + 1))
	got=$("$SMTPSCOPE" -r "$fx/$2" -j 2>&1 | "$PY" -c '
import json, re, sys
sess, code, answers, rule, rx = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
for line in sys.stdin:
    e = json.loads(line)
    if e["event"] != "reply" or e["session"] != sess or e["code"] != code:
        continue
    d = e.get("diagnosis") or {}
    ok = (e["highlight"] and str(e["answers"]) == answers and d.get("rule") == rule
          and re.search(rx, d.get("when") or ""))
    print("ok" if ok else "bad: %s %s %s" % (e["answers"], d.get("rule"), d.get("when")))
    break
else:
    print("bad: no such reply")
' "$3" "$4" "$5" "$6" "$7")
	if [ "$got" = ok ]; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		echo "# $got"
		fail=$((fail + 1))
	fi
}

echo "1..7"
check "Postfix recipient limit: 3 accepted, limit 3" postfix-rcpt-limit.pcap \
    1 452 RCPT 452-postfix-rcpt-limit \
    "4th RCPT.*first 3 recipients were accepted.*limit is 3 recipients"
check "pipelined RCPTs: the 452 is matched to its RCPT" \
    postfix-pipeline-rcpt-limit.pcap 1 452 RCPT 452-postfix-rcpt-limit \
    "limit is [0-9]+ recipients"
check "idle timeout 421 reports the measured idle time" \
    postfix-idle-timeout.pcap 1 421 None 421-postfix-timeout \
    "after 3\\.[0-9] s of silence"
check "burst of 421 from one server is recognised" \
    scripted-greet-421-burst.pcap 4 421 CONNECT 421-exim-conn-limit \
    "4 of the last 4 sessions to this server"
check "421 after N messages reveals the per-connection limit" \
    scripted-max-messages.pcap 1 421 MAIL 421-exim-msgs-per-conn \
    "limit is 3 messages per connection"
check "452 4.3.1 to MAIL: queue disk space" postfix-queue-minfree.pcap \
    1 452 MAIL 452-postfix-queue-space "MAIL FROM"
check "421 at the greeting: Postfix connection limit" postfix-conn-limit.pcap \
    2 421 CONNECT 421-postfix-conn-limit "instead of the 220 greeting"
[ $fail -eq 0 ]
