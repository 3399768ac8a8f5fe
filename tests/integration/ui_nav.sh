#!/bin/sh
# The UI taking you from one problem to the next, driven through tmux:
# n/N through the three 452s of a session and back (with wrap), G then N,
# n/N on the list (next session with a 421/452), search in a transcript,
# the filter's fields and regular expressions applied as you type, a paused
# --replay that keeps its pace, the quit prompt of a live capture and the
# summary line, narrow terminals (50 and 80 columns), and the banners that
# say what headless mode says.  Expected figures come from the same
# captures read with -j.  TAP output.

. "$(dirname "$0")/tmux-lib.sh"
DEMO="$top_srcdir/data/demo.pcap"
THREE="$FIX/aiosmtpd-quota-three.pcap"

tmux_init nav
if [ ! -f "$THREE" ] || [ ! -f "$DEMO" ]; then
	echo "1..0 # SKIP fixture captures are missing"
	exit 0
fi

# The sessions listed, as the title counts them ("6 of 29 sessions").
listed() {
	sed -nE 's/.* ([0-9]+) of [0-9]+ sessions.*/\1/p' "$WORK/pane" | head -1
}
# The status bar's count of a code ("452 replies: N" or "452: N").
status_count() {
	grep -E "452" "$WORK/pane" | tail -1 |
	    sed -nE "s/.*$1( replies)?: ?([0-9]+).*/\\2/p"
}
# current_after WORD: the line n/N went to (its time stamp is drawn in
# reverse, SGR 47) follows a line that contains WORD.
current_after() {
	pane -e
	ln=$(grep -an '47m' "$WORK/pane" | head -1 | cut -d: -f1)
	pane
	[ -n "$ln" ] && [ "$ln" -gt 1 ] &&
	    sed -n "$((ln - 1))p" "$WORK/pane" | grep -q -- "$1" &&
	    sed -n "${ln}p" "$WORK/pane" | grep -q "S: 452"
}

# ---- n/N through the three 452s of one session, both ways, with wrap
start 100 30 -- -r "$THREE"
wait_for "\\[done\\]" 10
keys Enter
keys n
check "n: the first 452, counted (1 of 3)" wait_for "421/452 reply 1 of 3\$" 2
check "  ... the line n went to is the 452 for full-bob" \
    current_after "full-bob@"
keys n
pane
check "n again: the second 452 (full-cat, 2 of 3)" \
    grep -q 'reply 2 of 3' "$WORK/pane"
check "  ... and the screen shows it" current_after "full-cat@"
keys n
check "n again: the third 452 (full-eve, 3 of 3)" current_after "full-eve@"
keys n
pane
check "n past the last wraps to the first, and says so" \
    sh -c "grep -q 'reply 1 of 3 (wrapped: back to the first)' '$WORK/pane'"
check "  ... the first is on screen again (full-bob)" current_after "full-bob@"
keys N
pane
check "N before the first wraps to the last, and says so" \
    sh -c "grep -q 'reply 3 of 3 (wrapped: back to the last)' '$WORK/pane'"
keys N
check "N goes back to the second (full-cat)" current_after "full-cat@"
keys N
check "N goes back to the first (full-bob)" current_after "full-bob@"
keys g G N
pane
check "G then N lands on the last 452, not the first" \
    sh -c "grep -q 'reply 3 of 3' '$WORK/pane' && ! grep -q wrapped '$WORK/pane'"

# ---- search in the transcript
keys / d a n Enter
pane
check "/ dan: one match, found and counted" \
    grep -q 'match for "dan" 1 of 1' "$WORK/pane"
pane -e
check "the match is highlighted (black on yellow, SGR 43)" \
    sh -c "grep -a 'RCPT TO:<' '$WORK/pane' | grep -aq '43mdan'"
keys / C-u e x a m p l e Enter
pane
total=$(sed -nE 's/.*match for "example" [0-9]+ of ([0-9]+).*/\1/p' "$WORK/pane")
first=$(sed -nE 's/.*match for "example" ([0-9]+) of.*/\1/p' "$WORK/pane")
keys n
pane
second=$(sed -nE 's/.*match for "example" ([0-9]+) of.*/\1/p' "$WORK/pane")
keys N
pane
back=$(sed -nE 's/.*match for "example" ([0-9]+) of.*/\1/p' "$WORK/pane")
check "search: n goes to the next match, N back (${first:-?} ${second:-?} ${back:-?} of ${total:-?})" \
    sh -c "[ '${total:-0}' -gt 5 ] && [ '${second:-0}' -eq \$(( ${first:-0} % ${total:-1} + 1 )) ] && [ '${back:-0}' -eq '${first:-x}' ]"
keys Escape
pane
check "Esc ends the search; n then goes to 421/452 again" \
    sh -c "grep -q 'search cleared' '$WORK/pane'"
keys n
pane
check "  ... n after the search: a 421/452 reply again" \
    grep -q "421/452 reply [0-9] of 3" "$WORK/pane"
keys Q
wait_for "^EXIT=0" 5
check "quitting a file does not ask; one summary line on the terminal" \
    grep -q "^smtpscope: aiosmtpd-quota-three.pcap: 1 session, 421 replies: 0, 452 replies: 3, drops: 0\$" "$WORK/pane"

# ---- context: a pipelined reply names its command, the box the envelope
PIPE="$FIX/postfix-pipeline-rcpt-limit.pcap"
if [ -f "$PIPE" ]; then
	start 120 50 -- -r "$PIPE"
	wait_for "\\[done\\]" 10
	keys Enter n
	pane
	check "pipelined: the 452 line names the RCPT it answers" \
	    grep -Eq "S: 452 4\\.5\\.3 .*(←|<-) RCPT TO:<r4@example\\.test>" "$WORK/pane"
	check "pipelined: the box names the sender and the recipient" \
	    grep -Eq "Envelope +from <sender@example\\.org>, to <r4@example\\.test>" "$WORK/pane"
	keys Q
else
	skip 2 "postfix-pipeline-rcpt-limit.pcap is missing"
fi
start 120 50 -- -r "$THREE"
wait_for "\\[done\\]" 10
keys Enter n
pane
check "not pipelined: a reply right after its command names nothing" \
    sh -c "grep -q 'S: 452 4.2.2' '$WORK/pane' && ! grep -Eq 'S: 452 .*(←|<-)' '$WORK/pane' && grep -Eq 'Envelope +from <sender@example.org>, to <full-bob@example.test>' '$WORK/pane'"
keys Q

# ---- expected figures of the demo capture for the list's keys and filters
# With tcprewrite, session 3 (a 452, no 421) gets client port 44210: the
# filter 421 must not list it.
DEMOF=$DEMO
if command -v tcprewrite >/dev/null 2>&1 &&
    tcprewrite --infile="$DEMO" --outfile="$WORK/ports.pcap" \
    --portmap=49567:44210 >/dev/null 2>&1; then
	DEMOF=$WORK/ports.pcap
fi
"$SMTPSCOPE" -r "$DEMOF" -j >"$WORK/demo.jsonl" 2>/dev/null
eval "$("$PY" - "$WORK/demo.jsonl" <<'EOF'
import json, re, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
sess = {}
for e in ev:
    s = e.get("session")
    if not s:
        continue
    d = sess.setdefault(s, {"codes": set(), "from": None, "rcpt": [],
                            "helo": None, "client": e["client"],
                            "server": e["server"], "causes": set()})
    if e["event"] == "command":
        if e["verb"] in ("EHLO", "HELO", "LHLO"):
            d["helo"] = e["arg"]
        if e["verb"] == "MAIL":
            m = re.match(r"(?i)FROM:\s*<([^>]*)>", e["arg"])
            d["from"] = m.group(1) if m else e["arg"]
        if e["verb"] == "RCPT":
            m = re.match(r"(?i)TO:\s*<([^>]*)>", e["arg"])
            d["rcpt"].append(m.group(1) if m else e["arg"])
    if e["event"] == "reply":
        d["codes"].add(e["code"])
        c = (e.get("diagnosis") or {}).get("cause")
        if c:
            d["causes"].add(c)
ids = sorted(sess)
prob = [s for s in ids if sess[s]["codes"] & {421, 452}]
def count(f):
    return sum(1 for s in ids if f(sess[s]))
print("PROB='%s'" % " ".join(map(str, prob)))
print("N421=%d" % count(lambda d: 421 in d["codes"]))
print("N452=%d" % count(lambda d: 452 in d["codes"]))
print("N4XX=%d" % count(lambda d: any(400 <= c < 500 for c in d["codes"])))
print("NPORT421=%d" % count(lambda d: "421" in d["client"] and 421 not in d["codes"]))
print("NFROM=%d" % count(lambda d: d["from"] and "alerts@" in d["from"].lower()))
print("NRCPT=%d" % count(lambda d: any("full-" in r.lower() for r in d["rcpt"])))
print("NSERVER=%d" % count(lambda d: "203.0.113.5:" in d["server"]))
print("NCLIENT=%d" % count(lambda d: "10.10.1.7:" in d["client"]))
print("NHELO=%d" % count(lambda d: d["helo"] and "example" in d["helo"].lower()))
print("NRE=%d" % count(lambda d: d["from"] and re.search(r"(?i)^(alerts|hr)@", d["from"])))
print("NCODEFROM=%d" % count(lambda d: 452 in d["codes"] and d["from"] and "alerts@" in d["from"].lower()))
causes = sorted({c for s in ids for c in sess[s]["causes"]})
cause = causes[0] if causes else ""
print("CAUSE='%s'" % cause)
print("NCAUSE=%d" % count(lambda d: any(cause in c for c in d["causes"])))
# Free text (not a code): a substring of the addresses, HELO, MAIL FROM or
# a recipient, in any case.
def free(t):
    return lambda d: any(t in (x or "").lower() for x in
                         [d["client"], d["server"], d["helo"], d["from"]] +
                         d["rcpt"])
print("NSUB4=%d" % count(free("4")))
print("NSUB45=%d" % count(free("45")))
print("NSUB45X=%d" % count(free("45.")))
print("NSUBR=%d" % count(free("r")))
print("NSUBRC=%d" % count(free("rc")))
print("NSUBRCP=%d" % count(free("rcp")))
print("NSUBRCPT=%d" % count(free("rcpt")))
print("NSESS=%d" % len(ids))
print("R421=%d" % sum(1 for e in ev if e["event"] == "reply" and e["code"] == 421))
print("R452=%d" % sum(1 for e in ev if e["event"] == "reply" and e["code"] == 452))
EOF
)"

# ---- n/N on the list: the next session with a 421 or 452
set -- $PROB
P1=$1
P2=$2
eval "PLAST=\${$#}"
start 120 24 -- -r "$DEMOF"
wait_for "\\[done\\]" 10
keys g n
pane
check "list: n selects the first session with a 421/452 (session $P1)" \
    grep -Eq "^session $P1: [0-9]+ x 421, [0-9]+ x 452" "$WORK/pane"
keys n
pane
check "list: n again, the next one (session $P2)" \
    grep -Eq "^session $P2: " "$WORK/pane"
keys N N
pane
check "list: N before the first wraps to the last (session $PLAST)" \
    grep -Eq "^session $PLAST: .*wrapped: back to the last" "$WORK/pane"
keys Enter
check "list: Enter opens the session n selected" \
    wait_for "^Session $PLAST: " 3
keys Escape

# ---- the filter: as you type, fields, regex, codes not ports
# filter_rows TEXT: type it, count the sessions listed while the prompt is
# still open (the filter applies as you type), then Enter.
filter_rows() {
	keys / C-u
	$TM send-keys -t ui -l -- "$1"
	sleep 0.5
	pane
	if grep -q '^Filter' "$WORK/pane"; then listed; else echo none; fi
	[ -n "$2" ] || keys Enter
}
# One character at a time: narrowing re-tests only the sessions listed, and
# must agree with a full walk at every step, across the change of meaning at
# a code ("45" is text, "452" a code) and back with backspace.
keys / C-u
typed_rows() { # typed_rows KEY: send one key, count the sessions listed
	$TM send-keys -t ui "$1"
	sleep 0.3
	pane
	listed
}
r=$(typed_rows 4)
r="$r $(typed_rows 5)"
r="$r $(typed_rows 2)"
r="$r $(typed_rows BSpace)"
r="$r $(typed_rows .)"
r="$r $(typed_rows BSpace)"
r="$r $(typed_rows BSpace)"
keys Enter
want="$NSUB4 $NSUB45 $N452 $NSUB45 $NSUB45X $NSUB45 $NSUB4"
check "filter typed a key at a time: 4 45 452 45 45. 45 4 list $want ($r)" \
    test "$r" = "$want"
# Back to a filter typed earlier reuses its list: the same sessions as
# before, and "rcpt:" (no value yet) is the unfiltered list.
keys / C-u
r=$(typed_rows r)
r="$r $(typed_rows c)"
r="$r $(typed_rows p)"
r="$r $(typed_rows t)"
r="$r $(typed_rows :)"
for k in f u l l -; do r1=$(typed_rows $k); done
r="$r $r1"
for k in 1 2 3 4; do typed_rows BSpace >/dev/null; done
r="$r $(typed_rows BSpace)"
r="$r $(typed_rows BSpace)"
r="$r $(typed_rows :)"
keys Escape
want="$NSUBR $NSUBRC $NSUBRCP $NSUBRCPT $NSESS $NRCPT $NSESS $NSUBRCPT $NSESS"
check "filter r rc rcp rcpt rcpt: rcpt:full- back to rcpt: rcpt rcpt: list $want ($r)" \
    test "$r" = "$want"
r=$(filter_rows "code:452")
check "filter applies as you type: code:452 lists $N452 sessions ($r)" \
    test "$r" = "$N452"
r=$(filter_rows "421")
if [ "$NPORT421" -gt 0 ]; then
	check "filter 421: $N421 sessions with a 421, not the $NPORT421 with 421 in a port ($r)" \
	    test "$r" -eq "$N421"
else
	check "filter 421: $N421 sessions with a 421 ($r)" test "$r" -eq "$N421"
fi
r=$(filter_rows "code:4xx")
check "filter code:4xx: $N4XX sessions ($r)" test "$r" -eq "$N4XX"
r=$(filter_rows "from:alerts@")
check "filter from:alerts@: $NFROM sessions ($r)" test "$r" -eq "$NFROM"
r=$(filter_rows "rcpt:full-")
[ "$NRCPT" -gt 0 ] || r="$r (none expected: the demo changed?)"
check "filter rcpt:full-: $NRCPT sessions ($r)" test "$r" -eq "$NRCPT"
r=$(filter_rows "server:203.0.113.5:")
check "filter server:203.0.113.5: $NSERVER sessions ($r)" \
    test "$r" -eq "$NSERVER"
r=$(filter_rows "client:10.10.1.7:")
check "filter client:10.10.1.7: $NCLIENT sessions ($r)" \
    test "$r" -eq "$NCLIENT"
r=$(filter_rows "helo:example")
check "filter helo:example: $NHELO sessions ($r)" test "$r" -eq "$NHELO"
r=$(filter_rows "from:/^(alerts|hr)@/")
check "filter from:/^(alerts|hr)@/ (a regex): $NRE sessions ($r)" \
    test "$r" -eq "$NRE"
r=$(filter_rows "code:452 from:alerts@")
check "filter code:452 from:alerts@ (both): $NCODEFROM sessions ($r)" \
    test "$r" -eq "$NCODEFROM"
if [ -n "$CAUSE" ]; then
	r=$(filter_rows "cause:$CAUSE")
	check "filter cause:$CAUSE: $NCAUSE sessions ($r)" test "$r" -eq "$NCAUSE"
else
	skip 1 "the diagnosis carries no cause yet (JSON has no diagnosis.cause)"
fi
filter_rows "rcpt:/(/" open >/dev/null
check "a bad regex says why, above the prompt" \
    grep -q "filter: /(/: " "$WORK/pane"
keys Escape
pane
prev="code:452 from:alerts@"
[ -z "$CAUSE" ] || prev="cause:$CAUSE"
check "Esc in the prompt restores the previous filter" \
    grep -qF "filter: $prev" "$WORK/pane"
keys Escape
keys '?' G
pane
check "the help screen shows the filter's syntax" \
    sh -c "grep -q 'cause:' '$WORK/pane' || { $TM send-keys -t ui k k k k k k k k k k k k; sleep 0.3; $TM capture-pane -p -t ui | grep -q 'cause:'; }"
keys Q

# ---- 50 columns: the 421 and 452 counts stay; Last and Flags too
start 50 24 -- -r "$DEMO"
wait_for "\\[done\\]" 10
pane
c452=$(status_count 452)
c421=$(status_count 421)
check "50 columns: the status bar shows the 452 count (${c452:-none})" \
    test "${c452:-x}" = "$R452"
check "50 columns: ... and the 421 count (${c421:-none})" \
    test "${c421:-x}" = "$R421"
check "50 columns: Last and Flags are still listed" \
    grep -Eq "Last +Flags" "$WORK/pane"
keys Q

# ---- 80 columns: a client address of 21 characters keeps its port
if command -v tcprewrite >/dev/null 2>&1; then
	tcprewrite --infile="$DEMO" --outfile="$WORK/wide.pcap" \
	    --srcipmap=10.10.1.4/32:192.168.100.200/32 \
	    --dstipmap=10.10.1.4/32:192.168.100.200/32 >/dev/null 2>&1
	"$SMTPSCOPE" -r "$WORK/wide.pcap" -j 2>/dev/null |
	    sed -nE 's/.*"event":"session_open".*"client":"(192\.168\.100\.200:[0-9]+)".*/\1/p' |
	    head -1 >"$WORK/wide.client"
	start 80 24 -- -r "$WORK/wide.pcap"
	wait_for "\\[done\\]" 10
	keys g
	pane
	check "80 columns: the client $(cat "$WORK/wide.client") is shown whole" \
	    sh -c "[ -s '$WORK/wide.client' ] && grep -q \" \$(cat '$WORK/wide.client') \" '$WORK/pane'"
	keys Q
else
	skip 1 "tcprewrite is not installed"
fi

# ---- pause: a paused --replay takes no packets and resumes at its pace
"$PY" - "$DEMO" >"$WORK/times" <<'EOF'
import struct, sys
f = open(sys.argv[1], "rb"); f.read(24); t = []
while True:
    h = f.read(16)
    if len(h) < 16:
        break
    s, u, cl, l = struct.unpack("<IIII", h); f.read(cl); t.append(s + u / 1e6)
for x in t:
    print("%.6f" % (x - t[0]))
EOF
upto() { # packets of the demo within SECONDS of its first
	awk -v s="$1" '$1 <= s { n++ } END { print n + 0 }' "$WORK/times"
}
now() { date +%s.%N; }
start 100 24 -- -r "$DEMO" --replay
t0=$(now)
wait_for "pkts [1-9]" 10
sleep 1.5
keys Space
tp=$(now)
wait_for "\\[paused\\]" 3
sleep 5
tr=$(now)
keys Space
sleep 1.5
pane
got=$(sed -nE 's/.* pkts ([0-9]+) .*/\1/p' "$WORK/pane" | tail -1)
# Time the replay ran (not paused), plus a second of slack.
ran=$(echo "$t0 $tp $tr $(now)" | awk '{ print ($2 - $1) + ($4 - $3) + 1.0 }')
caught=$(echo "$t0 $(now)" | awk '{ print $2 - $1 - 0.5 }')
lim=$(upto "$ran")
catch=$(upto "$caught")
check "paused replay resumes at its pace: $got packets, at most $lim (catching up: $catch)" \
    sh -c "[ -n '$got' ] && [ '$got' -le '$lim' ] && [ '$lim' -lt '$catch' ]"
# The demo's next packets are due within a few seconds.
i=0
got2=$got
while [ $i -lt 80 ] && [ "${got2:-0}" -le "${got:-0}" ]; do
	sleep 0.1
	pane
	got2=$(sed -nE 's/.* pkts ([0-9]+) .*/\1/p' "$WORK/pane" | tail -1)
	i=$((i + 1))
done
check "  ... and goes on after the pause ($got then ${got2:-?} packets)" \
    sh -c "[ -n '$got2' ] && [ '$got2' -gt '$got' ]"
keys Q

# ---- banners: what headless mode says on stderr, the UI says on screen
LARGE="$FIX/postfix-large-message.pcap"
if [ -f "$LARGE" ]; then
	"$SMTPSCOPE" -r "$LARGE" -j 2>"$WORK/hint.err" >/dev/null
	hint=$(sed -n 's/^hint: //p' "$WORK/hint.err")
	start 120 24 -- -r "$LARGE"
	wait_for "\\[done\\]" 10
	check "banner: no SMTP session, TCP traffic on port 10601: try -P 10601" \
	    wait_for "no SMTP session on ports 25,465,587; TCP traffic on port 10601 .*: try -P 10601" 3
	check "  ... the same text as headless mode's hint" \
	    grep -qF -- "$hint" "$WORK/pane"
	keys Q
else
	skip 2 "postfix-large-message.pcap is missing"
fi
if command -v editcap >/dev/null 2>&1; then
	editcap -s 90 "$FIX/postfix-clean.pcap" "$WORK/cut.pcap" >/dev/null 2>&1
	start 120 24 -- -r "$WORK/cut.pcap" -k "$WORK/no-such-keys.log"
	wait_for "\\[done\\]" 10
	check "banner: payload cut by the snapshot length" \
	    grep -q "payload cut by the snapshot length (-s) in 1 session" "$WORK/pane"
	check "banner: the key log given is missing" \
	    grep -q "key log not found: $WORK/no-such-keys.log" "$WORK/pane"
	keys Q
else
	skip 2 "editcap is not installed"
fi

# ---- a SYN flood: no session, yet the screen says what happened and stays
# saying it (the banner, the statistics, the summary line), not only on the
# message line for a few seconds
FLOOD="$top_srcdir/tests/scripts/make-flood.py"
"$PY" "$FLOOD" syn 3000 3 >"$WORK/syn.pcap"
start 120 40 -- -r "$WORK/syn.pcap"
wait_for "\\[done\\]" 10
check "SYN flood: the list says there is no session" \
    grep -q "No SMTP sessions yet" "$WORK/pane"
check "  ... one message for the servers of one report" \
    grep -Eq "^3000 connection attempts without a completed handshake, to 3 servers \(most to 192\.0\.2\.[123]:25: 1000\); s for statistics" "$WORK/pane"
check "  ... a banner that stays: the count, not sessions, the busiest server" \
    grep -Eq "^ 3000 connection attempts without a handshake, most to 192\.0\.2\.1:25 \(not sessions; a SYN flood\? s: statistics\)" "$WORK/pane"
keys s
pane
check "  ... the statistics: the total" \
    sh -c "grep -A1 '^Connection attempts without a handshake (not sessions)' '$WORK/pane' | grep -q '^  3000 in all: '"
check "  ... and per server: attempts, the latest report's sources" \
    sh -c "[ \$(grep -Ec '^  192\.0\.2\.[123]:25 +1000  1000 from about [0-9]+ sources, at 22:13:20' '$WORK/pane') -eq 3 ]"
keys Q
wait_for "^EXIT=0" 5
check "  ... and the summary line counts them" \
    grep -q "^smtpscope: syn.pcap: 0 sessions, 421 replies: 0, 452 replies: 0, drops: 0, connection attempts without a handshake: 3000\$" "$WORK/pane"

# A few attempts beside more sessions (a scanner at a busy MX): no banner,
# the statistics still count them.
"$PY" "$FLOOD" syn 5 1 >"$WORK/syn5.pcap"
"$PY" - "$WORK/syn5.pcap" "$DEMO" "$WORK/scan.pcap" <<'PYEOF'
import sys
a = open(sys.argv[1], "rb").read()
b = open(sys.argv[2], "rb").read()
open(sys.argv[3], "wb").write(a + b[24:])
PYEOF
start 120 50 -- -r "$WORK/scan.pcap"
wait_for "\\[done\\]" 10
check "5 attempts beside 29 sessions: no banner" \
    sh -c "grep -q 'sessions 29' '$WORK/pane' && ! grep -q 'connection attempts without a handshake (not sessions)' '$WORK/pane'"
keys s
pane
check "  ... the statistics count them" \
    sh -c "grep -q '^  5 in all: ' '$WORK/pane' && grep -Eq '^  192\.0\.2\.1:25 +5  5 from 5 sources' '$WORK/pane'"
keys Q

# ---- evicted sessions: the status bar counts every session seen, the
# list's title says how many it no longer holds
start 100 20 -- -r "$DEMO" --limit 5
wait_for "\\[done\\]" 10
check "--limit 5: the title says 5 kept, 24 evicted" \
    grep -q "^ smtpscope [^ ]*  Sessions  5 kept, 24 evicted " "$WORK/pane"
keys p
pane
check "  ... and with a filter, of how many and the evicted" \
    grep -q "  1 of 5 sessions (24 evicted) " "$WORK/pane"
keys Q

# ---- live: q asks first; the summary line on the way out
if [ "$(id -u)" -ne 0 ]; then
	skip 5 "live capture needs root"
else
	start 100 24 -- -i lo -P 10499
	wait_for "\\[live\\]" 5
	keys q
	pane
	check "live: q asks before quitting" \
	    grep -q "Stop the live capture and quit? q or y" "$WORK/pane"
	keys x
	pane
	check "live: another key goes on capturing" \
	    sh -c "grep -q 'still capturing' '$WORK/pane' && ! grep -q '^EXIT=' '$WORK/pane'"
	keys Q
	pane
	check "live: Q asks too" \
	    grep -q "Stop the live capture and quit?" "$WORK/pane"
	keys y
	check "live: y quits, status 0" wait_for "^EXIT=0" 5
	check "live: one summary line: sessions, 421 and 452 replies, drops" \
	    grep -Eq "^smtpscope: lo: 0 sessions, 421 replies: 0, 452 replies: 0, drops: [0-9]+\$" "$WORK/pane"
fi

# The plan last: how many checks ran depends on the tools present.
echo "1..$n"
if [ $fails -ne 0 ]; then
	exit 1
fi
exit 0
