#!/bin/sh
# Reassembly conformance: for every public capture and every TCP stream on
# an SMTP port, the byte streams our flow table and reassembly deliver
# (tests/tools/streamdump) must equal tshark's "follow,tcp,raw" output,
# apart from the differences documented in REASM-DIFFERENCES.md (each is
# recognised by a rule below, and any other difference fails).
#
# One TAP line per capture.  tshark runs twice per capture (stream list,
# then every stream followed in one call), two captures at a time.
# Set REASM_TSHARK_VERBOSE=1 to print each stream's verdict.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
streamdump="$top_builddir/tests/tools/streamdump"
. "$top_srcdir/tests/lib.sh"
tap_need_public
public=$pub
if [ ! -x "$streamdump" ]; then
	echo "1..1"
	echo "not ok 1 - $streamdump not built (make check builds it)"
	exit 0
fi

exec /usr/bin/python3 "$top_srcdir/tests/conformance/reasm_tshark.py" \
    "$public" "$streamdump"
