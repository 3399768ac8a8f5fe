#!/bin/sh
# golden.sh: byte-for-byte golden test of --json output.
#
# For every row of tests/golden.tsv, run
#   $SMTPSCOPE -r tests/fixtures/CAPTURE -j OPTIONS
# and compare with tests/golden/GOLDEN.  The only thing normalised (in both)
# is the stats line's "elapsed" wall-clock time.  One TAP line per row; on a
# mismatch the diff is printed as TAP comments.  A row whose golden file does
# not exist yet is skipped with a message (tests/scripts/regen-golden.sh
# writes them).  Every row is run a second time reading the capture from
# stdin ("-r -"), which smtpscope reads on its own thread without read-ahead:
# both ways must give the same bytes.
#
# Then the context checks, which must hold whatever the wording of
# the rules: on the project's own captures, the diagnosis of a 452 or 421
# states what the session itself shows (how many recipients were accepted,
# how long the client was idle, how many sessions in a row got 421, how many
# messages the connection carried).  They need /usr/bin/python3.
. "$(dirname "$0")/lib.sh"
# --maillog lines without a zone are local time: the goldens are UTC.
TZ=UTC
export TZ
tap_init

tsv=$top_srcdir/tests/golden.tsv
fix=$top_srcdir/tests/fixtures
gold=$top_srcdir/tests/golden
[ -x "$SMTPSCOPE" ] || tap_skip_all "no smtpscope binary at $SMTPSCOPE"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/golden.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

PY=/usr/bin/python3
NCTX=8
n=$(grep -v '^#' "$tsv" | grep -c .)
tap_plan $((2 * n + NCTX))
grep -v '^#' "$tsv" | grep . | {
	i=0
	failed=0
	while IFS='	' read -r name pcap opts golden; do
		i=$((i + 1))
		[ "$opts" = "-" ] && opts=
		opts=$(printf '%s' "$opts" | sed "s|@FIXTURES@|$fix|g")
		if [ ! -f "$gold/$golden" ]; then
			echo "ok $i - $name # SKIP tests/golden/$golden not generated yet"
			i=$((i + 1))
			echo "ok $i - $name (read from stdin) # SKIP no golden"
			continue
		fi
		json_normalise < "$gold/$golden" > "$tmp/want"
		for how in file stdin; do
			[ $how = stdin ] && i=$((i + 1))
			# shellcheck disable=SC2086 # options split on purpose
			if [ $how = file ]; then
				"$SMTPSCOPE" -r "$fix/$pcap" -j $opts
			else
				"$SMTPSCOPE" -r - -j $opts < "$fix/$pcap"
			fi > "$tmp/raw" 2> "$tmp/err"
			rc=$?
			json_normalise < "$tmp/raw" > "$tmp/out"
			t="$name"
			[ $how = stdin ] && t="$name (read from stdin)"
			if [ $rc -ne 0 ]; then
				echo "not ok $i - $t (exit status $rc)"
				sed 's/^/# /' "$tmp/err"
				failed=$((failed + 1))
			elif cmp -s "$tmp/want" "$tmp/out"; then
				echo "ok $i - $t"
			else
				echo "not ok $i - $t (differs from" \
				    "tests/golden/$golden)"
				diff -u "$tmp/want" "$tmp/out" | head -60 |
				    sed 's/^/# /'
				failed=$((failed + 1))
			fi
		done
	done
	[ $failed -eq 0 ]
}
rows_ok=$?

# ctx N CAPTURE TEXT CHECK: run smtpscope on CAPTURE, evaluate the Python
# expression CHECK with R = the list of reply events (dicts) and W(r) = the
# reply's diagnosis "when" text.
ctx() {
	num=$1 cap=$2 text=$3 check=$4
	if [ ! -x "$PY" ]; then
		echo "ok $num - $text # SKIP no $PY"
		return 0
	fi
	"$SMTPSCOPE" -r "$fix/$cap" -j > "$tmp/ctx" 2> /dev/null
	if $PY - "$tmp/ctx" "$check" > "$tmp/ctx.err" 2>&1 <<'PYEOF'
import json, re, sys
ev = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
R = [e for e in ev if e["event"] == "reply"]
def W(r):
    return (r.get("diagnosis") or {}).get("when") or ""
def code(c, s=None):
    return [r for r in R if r["code"] == c and (s is None or r["session"] == s)]
ok = eval(sys.argv[2])
if not ok:
    for r in R:
        if r["code"] in (421, 452):
            print("session %d: %d answers %s; when: %s"
                  % (r["session"], r["code"], r["answers"], W(r)))
sys.exit(0 if ok else 1)
PYEOF
	then
		echo "ok $num - $text"
	else
		echo "not ok $num - $text"
		sed 's/^/# /' "$tmp/ctx.err"
		return 1
	fi
}

c=$((2 * n))
cf=0
c=$((c + 1)); ctx $c postfix-rcpt-limit.pcap \
    "recipient limit: the 452 to the 4th RCPT says 3 were accepted" \
    'len(code(452)) == 2 and all(r["answers"] == "RCPT" for r in code(452)) and re.search(r"\b3\b", W(code(452)[0])) and re.search(r"4th|\b4\b|fourth", W(code(452)[0]))' || cf=1
c=$((c + 1)); ctx $c postfix-pipeline-rcpt-limit.pcap \
    "pipelined recipient limit: each 452 matched to its RCPT, 3 accepted" \
    '[r["answers"] for r in R[2:9]] == ["MAIL", "RCPT", "RCPT", "RCPT", "RCPT", "RCPT", "DATA"] and [r["code"] for r in R[2:9]] == [250, 250, 250, 250, 452, 452, 354] and re.search(r"\b3\b", W(code(452)[1]))' || cf=1
c=$((c + 1)); ctx $c postfix-idle-timeout.pcap \
    "idle timeout: unsolicited 421 reports about 3 s of client silence" \
    'code(421)[0]["answers"] is None and re.search(r"\b3(\.[0-9]+)? ?s", W(code(421)[0]))' || cf=1
c=$((c + 1)); ctx $c scripted-greet-421-burst.pcap \
    "burst: the 4th greeting 421 in a row is recognised as a pattern" \
    'len(code(421)) == 4 and all(r["answers"] == "CONNECT" for r in code(421)) and re.search(r"\b4\b", W(code(421, 4)[0])) and not re.search(r"\b4 of", W(code(421, 1)[0]))' || cf=1
c=$((c + 1)); ctx $c scripted-max-messages.pcap \
    "messages per connection: the 421 to MAIL says 3 messages were sent" \
    'code(421)[0]["answers"] == "MAIL" and re.search(r"\b3\b", W(code(421)[0]))' || cf=1
c=$((c + 1)); ctx $c postfix-conn-limit.pcap \
    "anvil limit: 421 4.7.0 instead of the greeting of the 2nd session" \
    'code(421)[0]["session"] == 2 and code(421)[0]["answers"] == "CONNECT" and code(421)[0]["enhanced"] == "4.7.0" and "diagnosis" in code(421)[0]' || cf=1
c=$((c + 1)); ctx $c postfix-queue-minfree.pcap \
    "queue_minfree: 452 4.3.1 to MAIL is diagnosed as a storage problem" \
    'code(452)[0]["answers"] == "MAIL" and re.search(r"(?i)disk|storage|space|queue", code(452)[0]["diagnosis"]["title"] + code(452)[0]["diagnosis"]["meaning"])' || cf=1
c=$((c + 1)); ctx $c aiosmtpd-dataend-452.pcap \
    "452 after the end of data answers DATA-END" \
    'code(452)[0]["answers"] == "DATA-END" and "diagnosis" in code(452)[0]' || cf=1
[ $rows_ok -eq 0 ] && [ $cf -eq 0 ]
