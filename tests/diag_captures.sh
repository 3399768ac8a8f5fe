#!/bin/sh
# Diagnosis in context, on the project's own captures of real servers:
# the rule chosen and the concrete situation it describes.
# TAP output.
: "${top_srcdir:=.}" "${SMTPSCOPE:=./smtpscope}"
fx="$top_srcdir/tests/fixtures"
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "1..0 # SKIP /usr/bin/python3 missing"; exit 0; }

n=0
fail=0
# result NAME GOOD DIAG: "ok" when GOOD is yes, else "not ok" with DIAG
# as comment lines.
result() {
	if [ "$2" = yes ]; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		printf '%s\n' "$3" | sed 's/^/# /'
		fail=$((fail + 1))
	fi
}
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
	good=no; [ "$got" = ok ] && good=yes
	result "$1" $good "$got"
}

# checkf NAME PCAP SESSION CODE FIELD REGEX [!]: the diagnosis FIELD of the
# first highlighted reply with that code in that session matches REGEX (with
# "!": does not match it).
checkf() {
	n=$((n + 1))
	got=$("$SMTPSCOPE" -r "$2" -j 2>&1 | "$PY" -c '
import json, re, sys
sess, code, field, rx, neg = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5] == "!"
for line in sys.stdin:
    e = json.loads(line)
    if e["event"] != "reply" or e["session"] != sess or e["code"] != code or not e["highlight"]:
        continue
    v = (e.get("diagnosis") or {}).get(field) or ""
    print("ok" if bool(re.search(rx, v)) != neg else "bad: %s: %s" % (field, v))
    break
else:
    print("bad: no such reply")
' "$3" "$4" "$5" "$6" "${7:-}")
	good=no; [ "$got" = ok ] && good=yes
	result "$1" $good "$got"
}

# explain NAME REGEX ARGS...: smtpscope --explain ARGS prints REGEX (its
# lines joined by spaces); "!REGEX": no line of the output matches REGEX.
explain() {
	n=$((n + 1))
	name=$1 rx=$2
	shift 2
	out=$("$SMTPSCOPE" --explain "$@" 2>&1)
	case $rx in
	!*) echo "$out" | grep -Eq -- "${rx#!}" && ok=no || ok=yes ;;
	*) # the text is wrapped: match it as one line
		echo "$out" | tr '\n' ' ' | tr -s ' ' | grep -Eq -- "$rx" &&
		    ok=yes || ok=no ;;
	esac
	result "$name" $ok "$out"
}

demo="$top_srcdir/data/demo.pcap"

echo "1..21"
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

# The burst note counts only failures of the same kind: demo session 15 (a
# connection-limit 421 after a recipient-limit 452 and an idle timeout on
# the same server) is no "pattern", and 19's recipient limit is no overload.
checkf "demo 15: no burst note from unrelated failures" "$demo" 15 421 \
    when "Pattern" !
checkf "demo 19: a recipient limit is never called overload" "$demo" 19 452 \
    when "overloaded" !
# The greeting names aiosmtpd: Gmail's wording proves nothing.
checkf "demo 20: aiosmtpd greeting, no Gmail in the title" "$demo" 20 452 \
    title "Gmail" !
checkf "demo 20: aiosmtpd greeting, no Google advice" "$demo" 20 452 \
    fix_operator "Google" !
checkf "aiosmtpd quota capture: no Gmail rule" \
    "$fx/aiosmtpd-rcpt-quota.pcap" 1 452 rule "gmail" !
# Measured values become conclusions.
checkf "demo 7: the idle timeout looks set to the measured 4 s" "$demo" 7 \
    421 when "timeout looks set to about 4\\.0 s, below Postfix's default"
checkf "idle capture: timeout set to about 3 s, below RFC 5321" \
    "$fx/postfix-idle-timeout.pcap" 1 421 when \
    "about 3\\.[0-9] s.*RFC 5321 \\(section 4\\.5\\.3\\.2\\.7\\)"
checkf "recipient limit 3: below the 100 of RFC 5321 4.5.3.1.8" \
    "$fx/postfix-rcpt-limit.pcap" 1 452 fix_operator \
    "limit here, 3 recipients, is below the 100.*4\\.5\\.3\\.1\\.8"
checkf "recipient limit 3: no 'raise only if needed'" \
    "$fx/postfix-rcpt-limit.pcap" 1 452 fix_operator "only if needed" !
checkf "demo 15: two open connections: the limit looks set to about 2" \
    "$demo" 15 421 when "looks set low, to about 2"
explain "--explain 452 4.3.1 text: Postfix not named in the title" \
    "!^452 Postfix" "452 4.3.1 Insufficient system storage"
explain "--explain 452 4.3.1 text: the wording is said to be Postfix's" \
    "This wording is Postfix's" "452 4.3.1 Insufficient system storage"
explain "--explain 421 4.4.2 has its own rule" "rule 421-bad-connection" \
    421 4.4.2
explain "--explain 452 5.5.3: the class mismatch is pointed out" \
    "enhanced code 5\\.5\\.3 is of class 5" 452 5.5.3
[ $fail -eq 0 ]
