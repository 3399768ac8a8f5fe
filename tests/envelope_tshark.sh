#!/bin/sh
# envelope_tshark.sh: the envelope on JSON reply events (mail_from, and rcpt
# on replies to RCPT) agrees with what tshark reads from the same packets.
#
# For every Postfix capture in tests/fixtures, tshark lists the parameters
# of the client's commands (smtp.req.parameter) per TCP connection; those
# starting with "TO:" are RCPTs and those starting with "FROM:" are MAILs.
# smtpscope -j must give, per session (matched on the client address):
#   - one reply with answers "RCPT" per RCPT tshark saw, in the same order,
#     each with rcpt = that RCPT's address and mail_from = the address of
#     the last MAIL before it;
#   - one reply with answers "MAIL" per MAIL, whose mail_from is the
#     address that MAIL named (accepted or not);
#   - no rcpt key on any other reply.
# Sessions whose commands tshark cannot read (inside TLS) have no RCPT on
# either side.  Needs tshark and /usr/bin/python3; skips otherwise.
. "$(dirname "$0")/lib.sh"
tap_init

PY=/usr/bin/python3
command -v tshark >/dev/null 2>&1 || tap_skip_all "tshark not installed"
[ -x "$PY" ] || tap_skip_all "no $PY to read the JSON"
[ -x "$SMTPSCOPE" ] || tap_skip_all "no smtpscope binary at $SMTPSCOPE"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/envelope.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

# The captures and the options golden.tsv runs them with.
grep -v '^#' "$top_srcdir/tests/golden.tsv" | grep '^postfix-' |
    cut -f2,3 > "$tmp/list"
n=$(wc -l < "$tmp/list")
[ "$n" -gt 0 ] || tap_skip_all "no Postfix captures listed in golden.tsv"
tap_plan $((n + 1))

total=0
while IFS='	' read -r pcap opts; do
	[ "$opts" = "-" ] && opts=
	f=$top_srcdir/tests/fixtures/$pcap
	# Decode the capture's SMTP ports as SMTP (-P given in golden.tsv).
	dec=
	case "$opts" in
	-P\ *) dec="-d tcp.port==${opts#-P },smtp" ;;
	esac
	# shellcheck disable=SC2086 # options are split on purpose
	tshark -n -r "$f" $dec -Y smtp.req.parameter -T fields \
	    -e ip.src -e ipv6.src -e tcp.srcport -e smtp.req.parameter \
	    -E occurrence=a -E aggregator='	' > "$tmp/tshark" 2> "$tmp/terr"
	trc=$?
	# shellcheck disable=SC2086
	"$SMTPSCOPE" -r "$f" -j $opts > "$tmp/json" 2> "$tmp/err"
	src=$?
	if [ $trc -ne 0 ] || [ $src -ne 0 ]; then
		tap_fail "$pcap: tshark and smtpscope read it" \
		    "tshark $trc: $(head -3 "$tmp/terr"); smtpscope $src: $(head -3 "$tmp/err")"
		continue
	fi
	if "$PY" - "$tmp/tshark" "$tmp/json" > "$tmp/out" 2>&1 <<'EOF'
import json, sys

def addr(param, key):
    # "TO:<a@b> NOTIFY=NEVER" -> "a@b", as RFC 5321 4.1.2 writes a path.
    p = param[len(key):].lstrip(" ")
    if p.startswith("<"):
        end = p.find(">")
        return p[1:end] if end >= 0 else p[1:]
    return p.split(" ")[0]

want = {}  # client "ip:port" -> [(mail_from, rcpt)]
wantm = {}  # client -> [MAIL address]
mail = {}
for line in open(sys.argv[1]):
    f = line.rstrip("\n").split("\t")
    ip = f[0] or ("[%s]" % f[1])
    client = "%s:%s" % (ip, f[2])
    for p in f[3:]:
        if p[:5].upper() == "FROM:":
            mail[client] = addr(p, "FROM:")
            wantm.setdefault(client, []).append(mail[client])
        elif p[:3].upper() == "TO:":
            want.setdefault(client, []).append((mail.get(client), addr(p, "TO:")))

got = {}
gotm = {}
bad = []
for line in open(sys.argv[2]):
    e = json.loads(line)
    if e["event"] != "reply":
        continue
    if "mail_from" not in e:
        bad.append("reply without mail_from: %s" % line.strip())
    if e["answers"] == "RCPT":
        got.setdefault(e["client"], []).append((e["mail_from"], e.get("rcpt")))
    elif "rcpt" in e:
        bad.append("rcpt on a reply to %s: %s" % (e["answers"], line.strip()))
    if e["answers"] == "MAIL":
        gotm.setdefault(e["client"], []).append(e["mail_from"])

n = 0
for client in sorted(set(want) | set(got)):
    w, g = want.get(client, []), got.get(client, [])
    if w != g:
        bad.append("%s: tshark %s, smtpscope %s" % (client, w, g))
    n += len(w)
for client in sorted(set(wantm) | set(gotm)):
    w, g = wantm.get(client, []), gotm.get(client, [])
    if w != g:
        bad.append("%s: MAIL: tshark %s, smtpscope %s" % (client, w, g))
for b in bad:
    print(b)
print("rcpt %d" % n)
sys.exit(1 if bad else 0)
EOF
	then
		k=$(sed -n 's/^rcpt //p' "$tmp/out")
		total=$((total + k))
		tap_pass "$pcap: $k RCPT replies name tshark's RCPT and MAIL addresses"
	else
		tap_fail "$pcap: RCPT replies name tshark's RCPT and MAIL addresses" \
		    "$(cat "$tmp/out")"
	fi
done < "$tmp/list"

# The comparison must have compared something.
if [ "$total" -ge 10 ]; then
	tap_pass "$total RCPT replies compared in all"
else
	tap_fail "$total RCPT replies compared in all (want at least 10)"
fi
exit 0
