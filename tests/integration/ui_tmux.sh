#!/bin/sh
# The terminal UI driven through tmux: start on fixture captures at 80x24 and
# 200x50, navigate, open a 452, check the explanation box and its colour,
# filter, problems only, statistics, help, resize, save (w) and read back,
# NO_COLOR and TERM=vt100, wire text with escape sequences, and that the
# terminal is given back (no alternate screen left) on q and on SIGTERM.
# Expected numbers come from the same capture read with -j.
# TAP output.

. "$(dirname "$0")/tmux-lib.sh"

tmux_init ui
if [ ! -f "$FIX/postfix-rcpt-limit.pcap" ]; then
	echo "1..0 # SKIP fixture captures are missing (tests/fixtures)"
	exit 0
fi

# The capture the UI tests look at: several fixtures merged in time order
# (mergecap comes with tshark); one fixture when it is missing.
CAP="$WORK/merged.pcap"
set --
for f in postfix-clean postfix-rcpt-limit postfix-conn-limit \
    postfix-queue-minfree postfix-starttls scripted-greet-421-burst \
    aiosmtpd-auth aiosmtpd-rcpt-quota; do
	[ -f "$FIX/$f.pcap" ] && set -- "$@" "$FIX/$f.pcap"
done
if ! command -v mergecap >/dev/null 2>&1 ||
    ! mergecap -F pcap -w "$CAP" "$@" 2>/dev/null; then
	cp "$FIX/postfix-rcpt-limit.pcap" "$CAP"
fi

"$SMTPSCOPE" -r "$CAP" -j >"$WORK/all.jsonl" 2>"$WORK/json.err"

# Expected figures, from the JSON events.
eval "$("$PY" - "$WORK/all.jsonl" <<'EOF'
import json, sys
sess = set(); codes = {}; s452 = set(); prob = set(); first452 = 0
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["event"] == "session_open":
        sess.add(e["session"])
    if e["event"] == "reply":
        c = e["code"]
        codes[c] = codes.get(c, 0) + 1
        if c == 452:
            s452.add(e["session"])
        if 400 <= c < 600:
            prob.add(e["session"])
    if e["event"] == "gap":
        prob.add(e["session"])
print("EXP_SESSIONS=%d" % len(sess))
print("EXP_421=%d" % codes.get(421, 0))
print("EXP_452=%d" % codes.get(452, 0))
print("EXP_250=%d" % codes.get(250, 0))
print("EXP_S452=%d" % len(s452))
print("EXP_PROBLEMS=%d" % len(prob))
print("FIRST452=%d" % (min(s452) if s452 else 0))
print("S452_IDS='%s'" % " ".join(str(x) for x in sorted(s452)))
# Recipients of the first 452 session: accepted (2xx to RCPT) / sent.
rok = rn = 0
if s452:
    for line in open(sys.argv[1]):
        e = json.loads(line)
        if e.get("session") != min(s452):
            continue
        if e["event"] == "command" and e["verb"] == "RCPT":
            rn += 1
        if e["event"] == "reply" and e.get("answers") == "RCPT" and \
                200 <= e["code"] < 300:
            rok += 1
print("RCPT452='%d/%d'" % (rok, rn))
EOF
)"

if [ "${EXP_452:-0}" -eq 0 ]; then
	echo "1..0 # SKIP the fixtures give no 452 reply yet"
	exit 0
fi

echo "1..56"

rows() { # session rows in the list
	grep -Ec '^ *[0-9]+ [0-9][0-9]:[0-9][0-9]:[0-9][0-9] ' "$WORK/pane"
}
alt_off() {
	[ "$($TM display-message -p -t ui '#{alternate_on}')" = "0" ]
}

# ---- 80x24: list, navigation, 452, filter, problems, stats, help
start 80 24 -- -r "$CAP"
check "80x24: the list and status bar appear, reading finishes" \
    wait_for "\\[done\\]" 10
check "status bar counts sessions, and 421 and 452 replies (named so)" \
    grep -Eq "sessions $EXP_SESSIONS +421 replies: $EXP_421 +452 replies: $EXP_452 " \
    "$WORK/pane"
check "list header names the columns" \
    grep -Eq "# Start +Client +Server +MAIL FROM +Rcpt TLS +Last Flags" \
    "$WORK/pane"
check "a 452 session carries the 452 flag" \
    grep -Eq "^ *$FIRST452 .* 452( |$)" "$WORK/pane"
keys g Enter
check "Home then Enter opens session 1" wait_for "^Session 1: " 3
keys Escape j Enter
check "Esc goes back, j moves down, Enter opens session 2" \
    wait_for "^Session 2: " 3
keys Escape

keys / 4 5 2 Enter
pane
check "filter 452 keeps only the sessions with a 452 ($EXP_S452)" \
    test "$(rows)" -eq "$EXP_S452"
check "the title shows the filter" grep -q "filter: 452" "$WORK/pane"
check "the title counts the sessions listed ($EXP_S452 of $EXP_SESSIONS)" \
    grep -q "filter: 452\\]  $EXP_S452 of $EXP_SESSIONS sessions" "$WORK/pane"
check "Rcpt shows accepted/sent recipients ($RCPT452 in session $FIRST452)" \
    grep -Eq "^ *$FIRST452 .* $RCPT452 " "$WORK/pane"
keys g Enter
keys n
pane
check "session view: the 452 reply is shown" \
    grep -Eq "S: 452 [0-9]\\.[0-9]+\\.[0-9]+" "$WORK/pane"
check "the explanation box has its title line and labels" \
    sh -c "grep -q '!! 452' '$WORK/pane' && grep -Eq '│ Meaning|\\| Meaning' '$WORK/pane' && grep -Eq 'Operator' '$WORK/pane'"
check "the box says what to do for the sender" grep -q "Sender" "$WORK/pane"
pane -e
check "the box title is white on red (SGR 41)" \
    sh -c "grep -a '!! 452' '$WORK/pane' | grep -aq '41m'"
check "the 452 reply line is red (SGR 31)" \
    sh -c "grep -a 'S: .*452 [0-9]\\.' '$WORK/pane' | grep -aq '31m'"
keys Escape Escape
pane
check "Esc on the list clears the filter" \
    test "$(rows)" -eq "$EXP_SESSIONS" -o "$(rows)" -ge 20
keys p
pane
check "p shows problems only ($EXP_PROBLEMS sessions)" \
    test "$(rows)" -eq "$EXP_PROBLEMS"
keys p s
check "statistics: 452 count" wait_for "^ +452 +$EXP_452( |$)" 3
check "statistics: 250 count" grep -Eq "^ +250 +$EXP_250( |$)" "$WORK/pane"
check "statistics: 452 per minute chart" \
    grep -q "421 and 452 per minute" "$WORK/pane"
keys Escape '?'
check "help lists the keys" wait_for "problems only" 3
check "help explains the filter and save keys" \
    sh -c "grep -q 'filter' '$WORK/pane' && grep -q 'pcap' '$WORK/pane'"
keys G
pane
check "help explains the Rcpt column and the reply counts" \
    sh -c "grep -q 'recipients accepted / RCPT commands sent' '$WORK/pane' && grep -q 'replies with that code' '$WORK/pane'"
keys Escape

# ---- resize mid-run, then quit
$TM resize-window -t ui -x 200 -y 50 >/dev/null 2>&1
sleep 0.5
check "resized to 200x50: the HELO column appears" \
    wait_for "Client +Server +HELO +MAIL FROM" 3
keys q
check "q quits with status 0" wait_for "^EXIT=0" 5
check "quit leaves no alternate screen" alt_off

# ---- save (w): the selected session, then the filtered ones; read back
start 80 24 -- -r "$CAP"
wait_for "\\[done\\]" 10
keys g j
keys w C-u one.pcap Enter
check "w saves the selected session's packets" \
    wait_for "saved [0-9]+ packets of 1 session to one.pcap" 3
keys / 4 5 2 Enter
keys w C-u saved.pcap Enter
check "w with a filter saves every listed session" \
    wait_for "saved [0-9]+ packets of $EXP_S452 sessions? to saved.pcap" 3
keys Q
wait_for "^EXIT=" 5
"$SMTPSCOPE" -r "$WORK/one.pcap" -j 2>/dev/null >"$WORK/one.jsonl"
"$SMTPSCOPE" -r "$WORK/saved.pcap" -j 2>/dev/null >"$WORK/saved.jsonl"
cat >"$WORK/same.py" <<'EOF'
# same.py ORIG SAVED ID...: the saved file's sessions 1, 2, ... carry the
# same events (stats aside) as the original's sessions ID...  The
# diagnosis "when" is left out: it may cite a burst over other sessions
# of the server, which a partial save rightly does not hold.
import json, sys
def events(path):
    out = {}
    for line in open(path):
        e = json.loads(line)
        if e["event"] == "stats":
            continue
        if "diagnosis" in e:
            e["diagnosis"].pop("when", None)
        sid = e.pop("session", None)
        out.setdefault(sid, []).append(e)
    return out
a = events(sys.argv[1])
b = events(sys.argv[2])
ids = [int(x) for x in sys.argv[3:]]
ok = len(b) == len(ids) and all(
    a.get(sid) and a[sid] == b.get(i + 1) for i, sid in enumerate(ids))
sys.exit(0 if ok else 1)
EOF
check "the saved session reads back with the same events" \
    "$PY" "$WORK/same.py" "$WORK/all.jsonl" "$WORK/one.jsonl" 2
# shellcheck disable=SC2086
check "the saved filtered sessions read back with the same events" \
    "$PY" "$WORK/same.py" "$WORK/all.jsonl" "$WORK/saved.jsonl" $S452_IDS

# ---- 200x50, then SIGTERM
start 200 50 -- -r "$CAP"
check "200x50: the list fills the wide terminal" \
    wait_for "Client +Server +HELO +MAIL FROM" 10
pid=$($TM list-panes -t ui -F '#{pane_pid}')
sleep 0.3
pkill -TERM -P "$pid" -x smtpscope 2>/dev/null ||
    pkill -TERM -P "$pid" 2>/dev/null
check "SIGTERM ends the UI cleanly" wait_for "^EXIT=0" 5
check "after SIGTERM no alternate screen is left" alt_off

# ---- monochrome: NO_COLOR and TERM=vt100
start 80 24 NO_COLOR=1 -- -r "$FIX/postfix-rcpt-limit.pcap"
wait_for "\\[done\\]" 10
keys Enter n
pane -e
check "NO_COLOR: no colour codes, the box title in reverse video" \
    sh -c "! grep -aq '\\[3[0-7]m' '$WORK/pane' && grep -a '!! 452' '$WORK/pane' | grep -aq '7m'"
keys Q
start 80 24 TERM=vt100 -- -r "$FIX/postfix-rcpt-limit.pcap"
wait_for "\\[done\\]" 10
keys Enter n
pane -e
check "TERM=vt100: the box is drawn, in bold/reverse without colour" \
    sh -c "grep -aq 'Meaning' '$WORK/pane' && ! grep -aq '\\[3[0-7]m' '$WORK/pane'"
keys Q

# ---- wire text with escape sequences never reaches the terminal raw
"$PY" - "$WORK/evil.pcap" <<'EOF'
import struct, sys
out = open(sys.argv[1], "wb")
out.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
C, S = bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2])
seq = {C: 1000, S: 5000}
t = [1700000000.0]
def pkt(src, dst, sport, dport, flags, data=b""):
    tcp = struct.pack(">HHIIBBHHH", sport, dport, seq[src],
        seq[dst] if flags & 0x10 else 0, 5 << 4, flags, 65535, 0, 0) + data
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64,
        6, 0, src, dst) + tcp
    frame = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip
    t[0] += 0.01
    sec = int(t[0]); usec = int((t[0] - sec) * 1e6)
    out.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)))
    out.write(frame)
    seq[src] += len(data) + (1 if flags & 0x03 else 0)
def c2s(d): pkt(C, S, 40000, 25, 0x18, d)
def s2c(d): pkt(S, C, 25, 40000, 0x18, d)
pkt(C, S, 40000, 25, 0x02)
pkt(S, C, 25, 40000, 0x12)
pkt(C, S, 40000, 25, 0x10)
s2c(b"220 mx \x1b[31mRED\x1b]0;pwned-title\x07 ESMTP\r\n")
c2s(b"EHLO evil\x1b[2J.example\r\n")
s2c(b"250-mx\x1b[5m blink\r\n250 SIZE\x01\x02\r\n")
c2s(b"QUIT\r\n")
s2c(b"221 bye\r\n")
pkt(S, C, 25, 40000, 0x11)
pkt(C, S, 40000, 25, 0x11)
EOF
start 80 24 -- -r "$WORK/evil.pcap"
wait_for "\\[done\\]" 10
keys Enter
pane
check "escape sequences in replies are shown escaped" \
    grep -q '220 mx \\e\[31mRED\\e\]0;pwned-title\\x07 ESMTP' "$WORK/pane"
check "escape sequences in commands and HELO are shown escaped" \
    grep -q 'EHLO evil\\e\[2J.example' "$WORK/pane"
check "the pane title was not changed by the capture" \
    sh -c "! $TM display-message -p -t ui '#{pane_title}' | grep -q pwned"
keys Q

# ---- keys come from the terminal, not from a stdin that is the capture
# start_sh W H 'shell command': like start, for pipelines.
start_sh() {
	$TM kill-server >/dev/null 2>&1
	sleep 0.2
	$TM new-session -d -s ui -x "$1" -y "$2" -c "$WORK" \
	    "export TZ=UTC; $3; echo EXIT=\$?; sleep 60"
	$TM set-option -t ui -g status off >/dev/null 2>&1
}
# The pipe stays open after the capture: pcap bytes taken as keys would
# quit (or draw nothing) long before the sleep ends.
# The pipeline outlives the UI: EXIT= is printed as soon as smtpscope ends.
start_sh 80 24 \
    "(cat '$CAP'; sleep 30) | { '$SMTPSCOPE' -r -; echo EXIT=\$?; }"
check "-r -: the capture read from stdin is listed" \
    wait_for "sessions $EXP_SESSIONS " 10
sleep 1.5
pane
check "-r -: still running on the open pipe (stdin bytes are not keys)" \
    sh -c "! grep -q '^EXIT=' '$WORK/pane' && grep -q '\\[reading\\]' '$WORK/pane'"
keys '?'
check "-r -: keys are read from the terminal" wait_for "problems only" 3
keys Escape q
check "-r -: q quits with status 0" wait_for "^EXIT=0" 5
check "-r -: no alternate screen is left" alt_off
start_sh 80 24 "'$SMTPSCOPE' -r '$CAP' </dev/null"
wait_for "\\[done\\]" 10
keys s
check "stdin from /dev/null: keys still come from the terminal" \
    wait_for "421 and 452 per minute" 3
keys Q
if command -v setsid >/dev/null 2>&1; then
	start_sh 80 24 "cat '$CAP' | setsid -w '$SMTPSCOPE' -r -"
	wait_for "^EXIT=" 10
	# The whole history, wrapped lines joined: the text scrolls.
	$TM capture-pane -p -J -S - -t ui >"$WORK/pane"
	check "no controlling terminal: falls back to text and says why" \
	    grep -q "no terminal UI: standard input is not a terminal" \
	    "$WORK/pane"
	check "no controlling terminal: the text lines follow, status 0" \
	    sh -c "grep -Eq ' S: (!! )?452 ' '$WORK/pane' && grep -q '^EXIT=0' '$WORK/pane'"
else
	n=$((n + 1)); echo "ok $n # SKIP setsid is not installed"
	n=$((n + 1)); echo "ok $n # SKIP setsid is not installed"
fi

# ---- save from a directory that cannot be written (as root, smtpscope
# runs as nobody by then): the default goes to $TMPDIR, a refusal says why
mkdir "$WORK/ro" "$WORK/tmp"
chmod 555 "$WORK/ro"
chmod 777 "$WORK/tmp"
start_sh 120 24 "cd '$WORK/ro' && TMPDIR='$WORK/tmp' '$SMTPSCOPE' -r '$CAP'"
wait_for "\\[done\\]" 10
keys g w
check "unwritable directory: the save prompt suggests \$TMPDIR" \
    wait_for "as pcap: $WORK/tmp/smtpscope-[0-9-]+\\.pcap" 3
keys Enter
check "unwritable directory: the suggested name saves" \
    wait_for "saved [0-9]+ packets of 1 session to $WORK/tmp/smtpscope-" 3
if [ "$(id -u)" -eq 0 ]; then
	keys t C-u denied.txt Enter
	check "refused after dropping root: the message says who and where" \
	    wait_for "denied.txt: Permission denied \\(running as nobody: save under $WORK/tmp, or start with -Z" 3
else
	n=$((n + 1)); echo "ok $n # SKIP privilege drop needs root"
fi
keys Q

# ---- long texts: cut at a word with an ellipsis, wrapped at spaces
cat >"$WORK/cut.py" <<'EOF2'
# cut.py NARROW WIDE CODE: the CODE line of the statistics screen is cut
# with an ellipsis at a word boundary of the same line seen wide.
import re, sys
def line(path, code):
    for l in open(path, encoding="utf-8", errors="replace"):
        if re.match(r"^ +%s +[0-9]+ " % code, l):
            return l.rstrip()
    return None
n = line(sys.argv[1], sys.argv[3])
w = line(sys.argv[2], sys.argv[3])
ok = False
if n and w:
    for ell in ("\u2026", "..."):
        if n.endswith(ell):
            head = n[: -len(ell)]
            ok = w.startswith(head) and len(w) > len(head) and \
                w[len(head)] in " ,;:"
sys.exit(0 if ok else 1)
EOF2
cat >"$WORK/whole.py" <<'EOF2'
# whole.py JSONL FILE CODE [WORD...]: every word of the CODE replies' text,
# and every WORD, appears whole among the words of FILE (a pane or a saved
# transcript).
import json, sys
words = set(open(sys.argv[2], encoding="utf-8", errors="replace").read().split())
want = sys.argv[4:]
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["event"] == "reply" and e["code"] == int(sys.argv[3]):
        want += e["text"].split()
missing = [w for w in want if w not in words]
if missing:
    print("# missing or split: %s" % " ".join(missing))
sys.exit(0 if want and not missing else 1)
EOF2
start 80 24 -- -r "$CAP"
wait_for "\\[done\\]" 10
keys s
pane
cp "$WORK/pane" "$WORK/stats80"
$TM resize-window -t ui -x 200 -y 50 >/dev/null 2>&1
sleep 0.5
pane
cp "$WORK/pane" "$WORK/stats200"
check "80 columns: a long code meaning ends in an ellipsis at a word" \
    "$PY" "$WORK/cut.py" "$WORK/stats80" "$WORK/stats200" 452
keys Q
QUOTA="$FIX/aiosmtpd-rcpt-quota.pcap"
if [ -f "$QUOTA" ]; then
	"$SMTPSCOPE" -r "$QUOTA" -j >"$WORK/quota.jsonl" 2>/dev/null
	start 80 24 -- -r "$QUOTA"
	wait_for "\\[done\\]" 10
	keys / 4 5 2 Enter
	keys g Enter
	keys n
	pane
	check "session view: a long reply is wrapped at spaces, words whole" \
	    "$PY" "$WORK/whole.py" "$WORK/quota.jsonl" "$WORK/pane" 452
	keys t C-u quota.txt Enter
	wait_for "saved the transcript" 3
	check "saved transcript: long lines wrapped at spaces, words whole" \
	    "$PY" "$WORK/whole.py" "$WORK/quota.jsonl" "$WORK/quota.txt" 452 \
	    accepted, rejected, 221:1 250:5 354:1 452:1
	keys Q
else
	for i in 1 2; do
		n=$((n + 1)); echo "ok $n # SKIP aiosmtpd-rcpt-quota.pcap is missing"
	done
fi

start 60 30 -- -r "$CAP"
wait_for "\\[done\\]" 10
keys / 4 5 2 Enter
keys g Enter
keys n
pane
check "60 columns: reply latencies are whole, never cut at the edge" \
    sh -c "grep -Eq '\\([0-9.]+ ms\\)' '$WORK/pane' && ! grep -Eq '\\([0-9.]*( m?)?\$' '$WORK/pane'"
keys Q

# ---- live on lo: a session shows up while it is still running
if [ "$(id -u)" -ne 0 ] || ! "$PY" -c 'import aiosmtpd' 2>/dev/null; then
	n=$((n + 1)); echo "ok $n # SKIP live capture needs root and aiosmtpd"
	n=$((n + 1)); echo "ok $n # SKIP live capture needs root and aiosmtpd"
	n=$((n + 1)); echo "ok $n # SKIP live capture needs root and aiosmtpd"
else
	PORT=10401
	cat >"$WORK/server.py" <<'EOF'
import sys, time
from aiosmtpd.controller import Controller
class H:
    async def handle_RCPT(self, server, session, envelope, address, opts):
        if address.startswith("full@"):
            return "452 4.2.2 Mailbox full, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"
c = Controller(H(), hostname="127.0.0.1", port=int(sys.argv[1]))
c.start()
time.sleep(float(sys.argv[2]))
c.stop()
EOF
	cat >"$WORK/client.py" <<'EOF'
import smtplib, sys, time
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
s.ehlo("live.example.test")
s.mail("a@example.org")
s.rcpt("full@example.net")
time.sleep(float(sys.argv[2]))   # the session stays open meanwhile
s.quit()
EOF
	"$PY" "$WORK/server.py" $PORT 20 >/dev/null 2>&1 &
	spid=$!
	sleep 1
	start 80 24 -- -i lo -P $PORT
	if wait_for "\\[live\\]" 5; then
		"$PY" "$WORK/client.py" $PORT 4 >/dev/null 2>&1 &
		cpid=$!
		check "live: the session appears while it is open" \
		    wait_for "^ *[0-9]+\\*[0-9:]+ +127\\.0\\.0\\.1:[0-9]+ +127\\.0\\.0\\.1:$PORT .* 452 *$" 3
		check "live: its 452 is counted at once" \
		    grep -q "452 replies: 1 " "$WORK/pane"
		wait "$cpid"
		check "live: the session is closed after QUIT" \
		    wait_for "^ *[0-9]+ [0-9:]+ .*:$PORT .* 221 +452 *\$" 10
	else
		not_ok "live: capture on lo started"
		not_ok "live: its 452 is counted at once"
		not_ok "live: the session is closed after QUIT"
	fi
	keys Q
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
fi

if [ $fails -ne 0 ]; then
	exit 1
fi
exit 0
