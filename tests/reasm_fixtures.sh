#!/bin/sh
# Reassembly against ground truth: the netem fixtures (made by
# tests/scripts/make-netem-captures.sh: real SMTP sessions over a link with
# loss, reordering and duplication) must reassemble to exactly the bytes
# each endpoint logged as sent, with no gap, one flow per session, each
# closed by FIN.

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
fix="$top_srcdir/tests/fixtures/netem"
streamdump="$top_builddir/tests/tools/streamdump"

set -- "$fix"/*.pcap
if [ ! -e "$1" ]; then
	echo "1..0 # SKIP no fixtures in $fix"
	exit 0
fi
if [ ! -x "$streamdump" ]; then
	echo "1..1"
	echo "not ok 1 - $streamdump not built (make check builds it)"
	exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/reasm-fixtures.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# count the checks first: per capture, one for the flow list, one per file
n=0
for pcap in "$@"; do
	name=$(basename "$pcap" .pcap)
	n=$((n + 1 + $(ls "$fix/$name".*.client "$fix/$name".*.server | wc -l)))
done
echo "1..$n"

i=0
for pcap in "$@"; do
	name=$(basename "$pcap" .pcap)
	out="$tmp/$name"
	mkdir -p "$out"
	"$streamdump" -P 25,465,587 -o "$out" "$pcap" 2>"$out/stderr"
	sessions=$(ls "$fix/$name".*.client | wc -l)
	flows=$(wc -l < "$out/index")
	fins=$(awk '$5 == "fin"' "$out/index" | wc -l)
	gaps=$(cat "$out"/*.gaps | wc -l)
	i=$((i + 1))
	if [ "$flows" -eq "$sessions" ] && [ "$fins" -eq "$sessions" ] &&
	    [ "$gaps" -eq 0 ]; then
		echo "ok $i - $name: $flows flows, all closed by FIN, no gap"
	else
		echo "not ok $i - $name: $flows flows ($sessions expected)," \
		    "$fins closed by FIN, $gaps gaps"
		sed 's/^/# /' "$out/index" "$out"/*.gaps
	fi
	for exp in "$fix/$name".*.client "$fix/$name".*.server; do
		rest=${exp#"$fix/$name".}	# N.client or N.server
		i=$((i + 1))
		if cmp -s "$exp" "$out/$rest"; then
			echo "ok $i - $name $rest: $(wc -c < "$exp") bytes equal"
		else
			echo "not ok $i - $name $rest: differs from what was sent"
			cmp "$exp" "$out/$rest" 2>&1 | sed 's/^/# /'
		fi
	done
done
