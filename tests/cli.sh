#!/bin/sh
# cli.sh: the command line contract (OPTIONS in doc/smtpscope.1): help names every flag,
# -V names the libraries, usage errors are one "smtpscope: WHAT: WHY" line
# (plus an optional "hint:" line) with exit status 2, -D lists devices.
: "${SMTPSCOPE:=./smtpscope}"

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
ok() { tap_pass "$@"; }
notok() { tap_fail "$@"; }
check() {			# check WHAT CMD...: ok when CMD succeeds
	what=$1
	shift
	if "$@"; then ok "$what"; else notok "$what"; fi
}

# The stderr of a failed run is exactly one error line, optionally
# followed by one hint line.


echo "1..56"

# 1-2: help
"$SMTPSCOPE" -h > "$tmp/h" 2> "$tmp/herr"
rc=$?
missing=""
for flag in -i -D -r -P --ports --tls-ports -s -B -p -c -j --json -N --no-ui \
    -w -k --keylog -Z --replay --demo --limit --show-auth --rules \
    --rules-dump --lexicon --lexicon-dump --explain \
    -V -h "BPF expression"; do
	grep -q -- "$flag" "$tmp/h" || missing="$missing $flag"
done
if [ $rc -eq 0 ] && [ -z "$missing" ] && [ ! -s "$tmp/herr" ]; then
	ok "-h exits 0 and names every SPEC flag"
else
	notok "-h exits 0 and names every SPEC flag" "rc=$rc missing:$missing"
fi
"$SMTPSCOPE" --help > "$tmp/h2"
check "--help is the same as -h" cmp -s "$tmp/h" "$tmp/h2"

# 3: version
"$SMTPSCOPE" -V > "$tmp/v"
rc=$?
if [ $rc -eq 0 ] && grep -q '^smtpscope [0-9]' "$tmp/v" &&
    grep -q 'libpcap version [0-9]' "$tmp/v" &&
    grep -q 'ncurses [0-9]' "$tmp/v" && grep -q 'OpenSSL [0-9]' "$tmp/v"; then
	ok "-V prints smtpscope, libpcap, ncurses and OpenSSL versions"
else
	notok "-V prints smtpscope, libpcap, ncurses and OpenSSL versions" \
	    "$(cat "$tmp/v")"
fi

# 4-12: usage errors
tap_expect_error "unknown long option" 2 '^smtpscope: --bogus: unknown option' \
    "$SMTPSCOPE" --bogus
tap_expect_error "unknown short option" 2 '^smtpscope: -x: unknown option' \
    "$SMTPSCOPE" -x
tap_expect_error "missing argument" 2 '^smtpscope: -c: .*argument' \
    "$SMTPSCOPE" -j -c
tap_expect_error "-c not a number" 2 \
    "^smtpscope: -c: 'many' is not a positive number of packets" \
    "$SMTPSCOPE" -c many -r /dev/null
tap_expect_error "-P out of range" 2 \
    "^smtpscope: -P: '70000' is not a port (1 to 65535) or a range" \
    "$SMTPSCOPE" -P 25,70000 -r /dev/null
tap_expect_error "-r with -i" 2 '^smtpscope: -r: cannot be used with -i' \
    "$SMTPSCOPE" -r x.pcap -i lo
tap_expect_error "--replay without -r" 2 '^smtpscope: --replay: ' \
    "$SMTPSCOPE" --replay -i lo
tap_expect_error "--replay bad speed" 2 '^smtpscope: --replay: ' \
    "$SMTPSCOPE" --replay=0 -r x.pcap
tap_expect_error "bad BPF is a usage error" 2 \
    "^smtpscope: bad BPF expression 'tcp port': " \
    "$SMTPSCOPE" -j -r "$top_srcdir/tests/fixtures/linktype-en10mb.pcap" \
    tcp port

# 13: usage errors happen before anything is opened
tap_expect_error "-Z unknown user" 1 "^smtpscope: -Z: unknown user 'no-such-user-x'" \
    "$SMTPSCOPE" -j -Z no-such-user-x \
    -r "$top_srcdir/tests/fixtures/linktype-en10mb.pcap"

# 14-16: -D
if [ "$(id -u)" -ne 0 ]; then
	tap_skip "-D needs root"
	tap_skip "-D needs root"
	tap_skip "-D needs root"
else
	"$SMTPSCOPE" -D > "$tmp/d" 2> "$tmp/derr"
	rc=$?
	check "-D exits 0" [ $rc -eq 0 ]
	check "-D lists lo, numbered" grep -q '^[0-9][0-9]*\.lo\b' "$tmp/d"
	check "-D lists the any device" grep -q '^[0-9][0-9]*\.any ' "$tmp/d"
fi

fx=$top_srcdir/tests/fixtures
# 17-20: -P takes ranges; a range counts as each of its ports
"$SMTPSCOPE" -j -P 10020-10030 -r "$fx/linktype-en10mb.pcap" > "$tmp/pr.json" \
    2> "$tmp/pr.err"
rc=$?
n=$(grep -c '"event":"session_open"' "$tmp/pr.json")
if [ $rc -eq 0 ] && [ "$n" -eq 2 ] && [ ! -s "$tmp/pr.err" ]; then
	ok "-P 10020-10030 watches the range (2 sessions on 10025/10026)"
else
	notok "-P 10020-10030 watches the range" "rc=$rc n=$n $(cat "$tmp/pr.err")"
fi
tap_expect_error "-P range wider than the port table" 2 \
    "^smtpscope: -P: more than 64 ports in '1-65535' (a range counts each" \
    "$SMTPSCOPE" -P 1-65535 -r /dev/null
tap_expect_error "-P reversed range" 2 \
    "^smtpscope: -P: '2530-2525' is not a port (1 to 65535) or a range" \
    "$SMTPSCOPE" -P 25,2530-2525 -r /dev/null
check "--help shows a -P range" grep -q -- '-P, --ports LIST .*2525-2530' \
    "$tmp/h"

# 21-22: no SMTP session on the watched ports, TCP on others: a hint on
# stderr names them; stdout stays JSON, exit 0.
"$SMTPSCOPE" -j -r "$fx/linktype-ipv4.pcap" > "$tmp/ns.json" 2> "$tmp/ns.err"
rc=$?
want='hint: no SMTP session on ports 25,465,587; TCP traffic on port 10025 (24 packets): try -P 10025'
if [ $rc -eq 0 ] && [ "$(cat "$tmp/ns.err")" = "$want" ] &&
    [ "$(wc -l < "$tmp/ns.json")" -eq 1 ] &&
    grep -q '^{"event":"stats".*"sessions":0' "$tmp/ns.json"; then
	ok "0 sessions with TCP on other ports: a -P hint on stderr, exit 0"
else
	notok "0 sessions with TCP on other ports: a -P hint on stderr" \
	    "rc=$rc $(cat "$tmp/ns.err")"
fi
"$SMTPSCOPE" -N -P 10025 -r "$fx/linktype-ipv4.pcap" > "$tmp/ns2.out" \
    2> "$tmp/ns2.err"
check "no hint when a session was found" [ ! -s "$tmp/ns2.err" ]

# 23-26: -N text: one line per event; a highlighted reply's line
# carries its envelope, the diagnosis title and its situation text (as in
# JSON).
demo=$top_srcdir/data/demo.pcap
"$SMTPSCOPE" -N -r "$demo" > "$tmp/demo.txt" 2> "$tmp/demo.err"
"$SMTPSCOPE" -j -r "$demo" > "$tmp/demo.json" 2>&1
line=$(grep -m 1 -n ' S: !! 452 4\.5\.3 ' "$tmp/demo.txt" | cut -d: -f1)
if [ -n "$line" ] && sed -n "${line}p" "$tmp/demo.txt" |
    grep -q ' S: !! 452 4\.5\.3 Error: too many recipients \[from <[^>]*> to <[^>]*>\]  << [^!]* >>$'
then
	ok "-N: a 452 line shows the code once, its envelope, and the diagnosis in << >>"
else
	notok "-N: a 452 line shows the code once, its envelope, and the diagnosis in << >>" \
	    "$(sed -n "${line:-1}p" "$tmp/demo.txt")"
fi
if [ -x /usr/bin/python3 ] && [ -n "$line" ]; then
	/usr/bin/python3 - "$tmp/demo.json" > "$tmp/want.txt" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("event") == "reply" and e.get("code") == 452 and e.get("diagnosis"):
        d = e["diagnosis"]
        t = d["title"]
        if t.startswith("452 "):
            t = t[4:]
        why = "%s (%s)" % (d["cause"], d["confidence"])
        for i, ev in enumerate(d["evidence"][:3]):
            why += (": " if i == 0 else "; ") + ev
        print(" [from <%s> to <%s>]  << %s%s [cause %s] >>" % (e["mail_from"],
            e["rcpt"], t, ". " + d["when"] if d["when"] else "", why))
        break
PY
	sed -n "${line}p" "$tmp/demo.txt" | sed 's/.*Error: too many recipients//' \
	    > "$tmp/got.txt"
	if [ -s "$tmp/want.txt" ] && cmp -s "$tmp/want.txt" "$tmp/got.txt" &&
	    [ "$(grep -c '^ ' "$tmp/demo.txt")" -eq 0 ]; then
		ok "-N: the 452 line ends with the JSON's envelope, title, situation and cause; no continuation lines"
	else
		notok "-N: the 452 line ends with the JSON's envelope, title, situation and cause; no continuation lines" \
		    "$(diff "$tmp/want.txt" "$tmp/got.txt")"
	fi
else
	tap_skip "no /usr/bin/python3 to read the JSON"
fi
if ! grep -q '!!.*!!\|<< !!\|[^ ]>>' "$tmp/demo.txt" &&
    grep -q ' S: !! 421 .* << .* >>$' "$tmp/demo.txt"; then
	ok "-N: no doubled !! marker, spaces inside << >>"
else
	notok "-N: no doubled !! marker, spaces inside << >>" \
	    "$(grep '!!.*!!\|<< !!\|[^ ]>>' "$tmp/demo.txt" | head -n 2)"
fi
if ! grep -q '[^0-9.]1 \(messages\|recipients\|commands\|replies\|packets\|bytes\|sessions\)\b' \
    "$tmp/demo.txt" &&
    grep -q ', 1 recipient accepted,' "$tmp/demo.txt" &&
    grep -q ' replies, 1 message;' "$tmp/demo.txt"; then
	ok "-N: singular for counts of 1"
else
	notok "-N: singular for counts of 1" \
	    "$(grep '[^0-9.]1 \(messages\|recipients\|commands\|replies\)' "$tmp/demo.txt" | head -n 2)"
fi

# 27: --explain --after takes only the words the rules know
tap_expect_error "--explain --after with an unknown command" 2 \
    "^smtpscope: --after: unknown command" \
    "$SMTPSCOPE" --explain 452 4.5.3 --after FOO

# 28-29: -j and -N both write stdout, in two formats: a usage error
tap_expect_error "-j with -N" 2 '^smtpscope: -N: cannot be used with -j' \
    "$SMTPSCOPE" -j -N -r "$top_srcdir/tests/fixtures/postfix-clean.pcap"
tap_expect_error "--no-ui with --json" 2 \
    '^smtpscope: -j: cannot be used with -N' \
    "$SMTPSCOPE" --no-ui --json -r "$top_srcdir/tests/fixtures/postfix-clean.pcap"

# 30-31: --rules-dump prints the built-in rules, a valid --rules file
"$SMTPSCOPE" --rules-dump > "$tmp/rules" 2> "$tmp/rules.err"
rc=$?
if [ $rc -eq 0 ] && [ ! -s "$tmp/rules.err" ] &&
    cmp -s "$tmp/rules" "$top_srcdir/data/rules.conf"; then
	ok "--rules-dump prints data/rules.conf byte for byte, exit 0"
else
	notok "--rules-dump prints data/rules.conf byte for byte, exit 0" \
	    "rc=$rc $(cat "$tmp/rules.err")"
fi
"$SMTPSCOPE" --explain 452 4.5.3 "Error: too many recipients" --after RCPT \
    > "$tmp/x1" 2>&1
"$SMTPSCOPE" --rules "$tmp/rules" --explain 452 4.5.3 "Error: too many recipients" \
    --after RCPT > "$tmp/x2" 2>&1
rc=$?
if [ $rc -eq 0 ] && [ -s "$tmp/x2" ] && cmp -s "$tmp/x1" "$tmp/x2"; then
	ok "--rules-dump's output loads with --rules and explains the same"
else
	notok "--rules-dump's output loads with --rules and explains the same" \
	    "rc=$rc $(diff "$tmp/x1" "$tmp/x2" | head -5)"
fi

# 32-33: --lexicon-dump prints the built-in lexicon, a valid --lexicon file
"$SMTPSCOPE" --lexicon-dump > "$tmp/lex" 2> "$tmp/lex.err"
rc=$?
if [ $rc -eq 0 ] && [ ! -s "$tmp/lex.err" ] &&
    cmp -s "$tmp/lex" "$top_srcdir/data/lexicon.conf"; then
	ok "--lexicon-dump prints data/lexicon.conf byte for byte, exit 0"
else
	notok "--lexicon-dump prints data/lexicon.conf byte for byte, exit 0" \
	    "rc=$rc $(cat "$tmp/lex.err")"
fi
"$SMTPSCOPE" --explain -j 421 4.3.2 "Service shutting down" > "$tmp/l1" 2>&1
"$SMTPSCOPE" --lexicon "$tmp/lex" --explain -j 421 4.3.2 "Service shutting down" \
    > "$tmp/l2" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q '"cause":"shutdown"' "$tmp/l2" && cmp -s "$tmp/l1" "$tmp/l2"; then
	ok "--lexicon-dump's output loads with --lexicon and explains the same"
else
	notok "--lexicon-dump's output loads with --lexicon and explains the same" \
	    "rc=$rc $(diff "$tmp/l1" "$tmp/l2" | head -5)"
fi

# 34: the stats line's keys are the ones README and the man page list
if [ -x /usr/bin/python3 ]; then
	"$SMTPSCOPE" -j -r "$top_srcdir/tests/fixtures/postfix-clean.pcap" |
	    tail -n 1 > "$tmp/stats.json"
	if /usr/bin/python3 - "$tmp/stats.json" "$top_srcdir/README.md" \
	    "$top_srcdir/doc/smtpscope.1" > "$tmp/stats.why" 2>&1 <<'PY'
import json, re, sys
e = json.loads(open(sys.argv[1]).read())
assert e["event"] == "stats", e
keys = set(k for k in e if k not in ("event", "ts"))
keys |= set(e["caps"])
assert e["session"] == 0 and e["client"] is None and e["server"] is None, e
# README: the paragraph that begins "The final `stats` line".
readme = open(sys.argv[2]).read()
par = readme[readme.index("The final `stats` line"):]
par = par[:par.index("\n\n")]
rk = set(re.findall(r"`([a-z_]+)`", par)) - {"stats"}
# Man page: the .B/.BR words of the "stats" entry of EVENTS.
man = open(sys.argv[3]).read()
ent = man[man.index("\n.TP\n.B stats\n") + 14:]
ent = ent[:re.search(r"\n\.(TP|SH|PP)", ent).start()]
mk = set(re.findall(r"^\.BR? ([a-z_]+)", ent, re.M))
# Keys written only when not zero; this capture has none of them.
optional = {"no_handshake", "memory_trimmed", "memory_evicted"}
bad = []
if rk - optional != keys or not optional <= rk:
    bad.append("README: %s, JSON: %s" % (sorted(rk), sorted(keys)))
if mk - optional != keys or not optional <= mk:
    bad.append("man: %s, JSON: %s" % (sorted(mk), sorted(keys)))
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
	then
		ok "stats: JSON keys are those README and the man page list"
	else
		notok "stats: JSON keys are those README and the man page list" \
		    "$(cat "$tmp/stats.why")"
	fi
else
	tap_skip "no /usr/bin/python3 to read the JSON"
fi

# 35-43: --explain takes a reply in any form, and every form of one reply
# gives byte for byte the same JSON.  The log wordings are those of the
# MTAs' sources (see tests/unit/test_explain.c).
R='452 4.5.3 Error: too many recipients'
PF='Dec  3 10:00:00 mx postfix/smtp[123]: 4XyZ: to=<a@example.com>, relay=mx.example.com[192.0.2.1]:25, delay=1.2, delays=0.1/0/0.5/0.6, dsn=4.5.3, status=deferred (host mx.example.com[192.0.2.1] said: 452 4.5.3 Error: too many recipients (in reply to RCPT TO command))'
EX='2026-12-03 10:00:00 1vQxyz-000abc-AB == a@example.com R=dnslookup T=remote_smtp defer (-44) H=mx.example.com [192.0.2.1]: SMTP error from remote mail server after RCPT TO:<a@example.com>: 452 4.5.3 Error: too many recipients'
MS="Remote Server returned '452 4.5.3 Error: too many recipients'"
"$SMTPSCOPE" --explain 452 4.5.3 Error: too many recipients --after RCPT -j \
    > "$tmp/x0" 2> "$tmp/x0.err"
rc=$?
case $(cat "$tmp/x0") in
'{"code":452,"enhanced":"4.5.3","text":"Error: too many recipients","answers":"RCPT","diagnosis":{"rule":'*'}')
	if [ $rc -eq 0 ] && [ ! -s "$tmp/x0.err" ] && [ "$(wc -l < "$tmp/x0")" -eq 1 ]
	then
		ok "--explain unquoted words -j: one JSON object with code, enhanced, text, answers, diagnosis"
	else
		notok "--explain unquoted words -j: one JSON object" "rc=$rc $(cat "$tmp/x0.err")"
	fi ;;
*)	notok "--explain unquoted words -j: one JSON object" "$(cat "$tmp/x0" "$tmp/x0.err")" ;;
esac
same() {		# same WHAT CMD...: CMD's stdout is byte for byte x0
	_what=$1
	shift
	"$@" > "$tmp/x1" 2> "$tmp/x1.err"
	_rc=$?
	if [ $_rc -eq 0 ] && cmp -s "$tmp/x0" "$tmp/x1" && [ ! -s "$tmp/x1.err" ]; then
		ok "--explain $_what: the same JSON"
	else
		notok "--explain $_what: the same JSON" \
		    "rc=$_rc $(cat "$tmp/x1.err"; diff "$tmp/x0" "$tmp/x1")"
	fi
}
same "quoted whole" "$SMTPSCOPE" --explain "$R" --after RCPT -j
same "quoted text" "$SMTPSCOPE" --explain 452 "4.5.3 Error: too many recipients" --after RCPT -j
same "from stdin (-)" sh -c 'echo "$1" | "$2" --explain - --after RCPT -j' sh "$R" "$SMTPSCOPE"
same "-j first, --after in lower case" "$SMTPSCOPE" -j --explain "$R" --after rcpt
same "a Postfix log line (in reply to RCPT TO command)" "$SMTPSCOPE" --explain "$PF" -j
same "an Exim log line (after RCPT TO:<...>)" "$SMTPSCOPE" --json --explain "$EX"
same "an Exchange NDR line with --after RCPT" "$SMTPSCOPE" --explain "$MS" --after RCPT -j
same "a Postfix log line from stdin" sh -c 'printf "%s\n" "$1" | "$2" --explain - -j' sh "$PF" "$SMTPSCOPE"

# 44-48: pasted log lines (stdin) give the code, enhanced code and command.
pasted() {		# pasted WHAT WANT-PREFIX LINE
	printf '%s\n' "$3" | "$SMTPSCOPE" --explain - -j > "$tmp/p" 2> "$tmp/p.err"
	_rc=$?
	case $(cat "$tmp/p") in
	"$2"*) if [ $_rc -eq 0 ]; then ok "--explain - $1"; else notok "--explain - $1" "rc=$_rc"; fi ;;
	*) notok "--explain - $1" "$(cat "$tmp/p" "$tmp/p.err")" ;;
	esac
}
pasted "Postfix log line: 452 4.5.3, RCPT" \
    '{"code":452,"enhanced":"4.5.3","text":"Error: too many recipients","answers":"RCPT","diagnosis":{' "$PF"
pasted "Exim log line: 452 4.3.1, MAIL" \
    '{"code":452,"enhanced":"4.3.1","text":"Insufficient system storage","answers":"MAIL","diagnosis":{' \
    '2026-12-03 10:00:00 1vQxyz-000abc-AB == a@example.com R=dnslookup T=remote_smtp defer (-44) H=mx.example.com [192.0.2.1]: SMTP error from remote mail server after pipelined MAIL FROM:<b@example.org> SIZE=1234: 452 4.3.1 Insufficient system storage'
pasted "Sendmail log line: 421 4.3.2, command not logged" \
    '{"code":421,"enhanced":"4.3.2","text":"Service shutting down","answers":null,"diagnosis":{' \
    'Dec  3 10:00:00 mx sm-mta[123]: 0B3A0a1b002345: to=<a@example.com>, delay=00:00:01, xdelay=00:00:01, mailer=esmtp, pri=120000, relay=mx.example.com. [192.0.2.1], dsn=4.3.2, stat=Deferred: 421 4.3.2 Service shutting down'
pasted "Exchange NDR: 452 4.5.3, command not named" \
    '{"code":452,"enhanced":"4.5.3","text":"Too many recipients","answers":null,"diagnosis":{' \
    "Remote Server returned '< #4.4.7 smtp;452 4.5.3 Too many recipients>'"
pasted "Postfix refused to talk to me: 421 4.3.2, CONNECT" \
    '{"code":421,"enhanced":"4.3.2","text":"Service shutting down","answers":"CONNECT","diagnosis":{' \
    '2026-12-03T10:00:00+0000 mx postfix/smtp[123]: 4XyZ: to=<a@example.com>, relay=none, delay=0.3, dsn=4.3.2, status=deferred (host mx.example.com[192.0.2.1] refused to talk to me: 421 4.3.2 Service shutting down)'

# 49-50: a multi-line reply on stdin is one reply; the text output says
# which log form it read.
printf '452-4.5.3 first line\r\n452 4.5.3 second line\r\n' |
    "$SMTPSCOPE" --explain - -j > "$tmp/m" 2>&1
case $(cat "$tmp/m") in
'{"code":452,"enhanced":"4.5.3","text":"first line\nsecond line","answers":null,'*)
	ok "--explain -: a pasted multi-line reply is one reply" ;;
*)	notok "--explain -: a pasted multi-line reply is one reply" "$(cat "$tmp/m")" ;;
esac
"$SMTPSCOPE" --explain "$PF" > "$tmp/t" 2>&1
if sed -n 2p "$tmp/t" | grep -qx 'From a Postfix log line or bounce: in reply to RCPT' &&
    head -n 1 "$tmp/t" | grep -qx "$R (in answer to RCPT)"; then
	ok "--explain a log line: the text says which form it read"
else
	notok "--explain a log line: the text says which form it read" "$(head -n 3 "$tmp/t")"
fi

# 51-56: no reply code is a usage error, one line
tap_expect_error "--explain words without a code" 2 \
    '^smtpscope: --explain: no reply code found in "hello world"$' \
    "$SMTPSCOPE" --explain hello world
tap_expect_error "--explain without a reply" 2 '^smtpscope: --explain: a reply is needed' \
    "$SMTPSCOPE" --explain
tap_expect_error "--explain 999" 2 "^smtpscope: --explain: '999' is not a reply code" \
    "$SMTPSCOPE" --explain 999 text
tap_expect_error "--explain a code glued to its text" 2 \
    '^smtpscope: --explain: no reply code found in "452Error' \
    "$SMTPSCOPE" --explain 452Error: too many
tap_expect_error "--explain - with an empty stdin" 2 \
    '^smtpscope: --explain: no reply code found in an empty input' \
    "$SMTPSCOPE" --explain -
tap_expect_error "--explain a Sendmail line without a reply code" 2 \
    '^smtpscope: --explain: no reply code found in ' \
    "$SMTPSCOPE" --explain 'sm-mta[1]: x: to=<a@example.com>, dsn=4.0.0, stat=Deferred: Connection refused by mx.example.com.'

[ $TAP_FAILED -eq 0 ]
