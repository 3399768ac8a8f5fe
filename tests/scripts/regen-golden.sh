#!/bin/sh
# regen-golden.sh: rewrite every tests/golden/*.jsonl listed in
# tests/golden.tsv from the current smtpscope binary.
#
#   tests/scripts/regen-golden.sh [SMTPSCOPE]     (default ./smtpscope, or
#                                                  $SMTPSCOPE when set)
#
# Run it from a build directory (or pass the binary), then READ the diff
# (git diff tests/golden/) before committing: a golden is only as good as
# the review that accepted it.  The stats line's "elapsed" is written as 0.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-${SMTPSCOPE:-./smtpscope}}
[ -x "$bin" ] || { echo "regen-golden: no smtpscope at $bin" >&2; exit 1; }
. "$top/tests/lib.sh"
TZ=UTC
export TZ

grep -v '^#' "$top/tests/golden.tsv" | grep . |
while IFS='	' read -r name pcap opts golden; do
	[ "$opts" = "-" ] && opts=
	opts=$(printf '%s' "$opts" | sed "s|@FIXTURES@|$top/tests/fixtures|g")
	# shellcheck disable=SC2086 # options are split on purpose
	"$bin" -r "$top/tests/fixtures/$pcap" -j $opts |
	    json_normalise > "$top/tests/golden/$golden.tmp"
	mv "$top/tests/golden/$golden.tmp" "$top/tests/golden/$golden"
	echo "$name: $(wc -l < "$top/tests/golden/$golden") events -> tests/golden/$golden"
done
