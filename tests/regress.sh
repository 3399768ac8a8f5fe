#!/bin/sh
# regress.sh: the regression captures of tests/regress/, byte for byte.
#
# Every tests/regress/NAME.pcap is an input that once crashed or misparsed,
# named after its bug (see tests/regress/README.md).  For each one, run
#   $SMTPSCOPE -r NAME.pcap -j [options from NAME.opts]
# and compare with NAME.jsonl after normalising the stats line's "elapsed"
# (json_normalise from lib.sh).  One TAP line per capture, the diff as TAP
# comments on a mismatch.  A non-zero exit status fails the capture whatever
# the output (the sanitizer build aborts with one).
#
# NAME.todo marks a bug that is known and not fixed yet: NAME.jsonl then
# holds the output that is right, and a mismatch is reported as TODO (it
# does not fail the suite).  When the output matches, the line is a plain
# "ok" with a comment asking to delete NAME.todo.
. "$(dirname "$0")/lib.sh"
tap_init

dir=$top_srcdir/tests/regress
[ -x "$SMTPSCOPE" ] || tap_skip_all "no smtpscope binary at $SMTPSCOPE"

n=0
for f in "$dir"/*.pcap; do
	[ -f "$f" ] && n=$((n + 1))
done
[ $n -gt 0 ] || tap_skip_all "no captures in tests/regress"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/regress.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

tap_plan $n
failed=0
for f in "$dir"/*.pcap; do
	name=$(basename "$f" .pcap)
	base=${f%.pcap}
	opts=
	[ -f "$base.opts" ] && opts=$(cat "$base.opts")
	todo=
	[ -f "$base.todo" ] && todo=$(head -n 1 "$base.todo")
	if [ ! -f "$base.jsonl" ]; then
		tap_ok 1 "$name (no tests/regress/$name.jsonl)"
		failed=$((failed + 1))
		continue
	fi
	# shellcheck disable=SC2086 # options are split on purpose
	"$SMTPSCOPE" -r "$f" -j $opts > "$tmp/raw" 2> "$tmp/err"
	rc=$?
	json_normalise < "$tmp/raw" > "$tmp/out"
	json_normalise < "$base.jsonl" > "$tmp/want"
	if [ $rc -ne 0 ]; then
		tap_ok 1 "$name (exit status $rc)"
		head -40 "$tmp/err" | sed 's/^/# /'
		failed=$((failed + 1))
	elif cmp -s "$tmp/want" "$tmp/out"; then
		tap_ok 0 "$name"
		[ -n "$todo" ] &&
		    tap_diag "$name is fixed: delete tests/regress/$name.todo"
	elif [ -n "$todo" ]; then
		tap_ok 1 "$name # TODO $todo"
		diff -u "$tmp/want" "$tmp/out" | head -30 | sed 's/^/# /'
	else
		tap_ok 1 "$name (differs from tests/regress/$name.jsonl)"
		diff -u "$tmp/want" "$tmp/out" | head -60 | sed 's/^/# /'
		failed=$((failed + 1))
	fi
done
[ $failed -eq 0 ]
