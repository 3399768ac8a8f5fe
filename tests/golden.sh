#!/bin/sh
# golden.sh: byte-for-byte golden test of --json output.
#
# For every row of tests/golden.tsv, run
#   $SMTPSCOPE -r tests/fixtures/CAPTURE -j OPTIONS
# and compare with tests/golden/GOLDEN.  The only thing normalised (in both)
# is the stats line's "elapsed" wall-clock time.  One TAP line per row; on a
# mismatch the diff is printed as TAP comments.  A row whose golden file does
# not exist yet is skipped with a message (tests/scripts/regen-golden.sh
# writes them).
. "$(dirname "$0")/lib.sh"
tap_init

tsv=$top_srcdir/tests/golden.tsv
fix=$top_srcdir/tests/fixtures
gold=$top_srcdir/tests/golden
[ -x "$SMTPSCOPE" ] || tap_skip_all "no smtpscope binary at $SMTPSCOPE"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/golden.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

n=$(grep -v '^#' "$tsv" | grep -c .)
tap_plan "$n"
grep -v '^#' "$tsv" | grep . | {
	i=0
	failed=0
	while IFS='	' read -r name pcap opts golden; do
		i=$((i + 1))
		[ "$opts" = "-" ] && opts=
		if [ ! -f "$gold/$golden" ]; then
			echo "ok $i - $name # SKIP tests/golden/$golden not generated yet"
			continue
		fi
		# shellcheck disable=SC2086 # options are split on purpose
		"$SMTPSCOPE" -r "$fix/$pcap" -j $opts > "$tmp/raw" 2> "$tmp/err"
		rc=$?
		json_normalise < "$tmp/raw" > "$tmp/out"
		json_normalise < "$gold/$golden" > "$tmp/want"
		if [ $rc -ne 0 ]; then
			echo "not ok $i - $name (exit status $rc)"
			sed 's/^/# /' "$tmp/err"
			failed=$((failed + 1))
		elif cmp -s "$tmp/want" "$tmp/out"; then
			echo "ok $i - $name"
		else
			echo "not ok $i - $name (differs from tests/golden/$golden)"
			diff -u "$tmp/want" "$tmp/out" | head -60 | sed 's/^/# /'
			failed=$((failed + 1))
		fi
	done
	[ $failed -eq 0 ]
}
