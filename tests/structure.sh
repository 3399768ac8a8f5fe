#!/bin/sh
# structure.sh: the shape of the code, as doc/ARCHITECTURE.md states it.
#   1. No cycle among the modules of src/: tools/modgraph.py reads the
#      symbol tables of the built libsmtpscope.a (who calls whom) and finds
#      none.
#   2. Data flows one way: no src/ui*.c includes the headers of the stages
#      before the event queue (capture, pipeline, maillog, metrics).
#   3. Every module in the library is in the README's Layout table.
#   4. A private header, include/X_int.h, is included in src/ and include/
#      only by the files of its module: src/X.c and src/X_*.c (tls_int.h by
#      the TLS layer, ui_list_int.h by the session list alone).
# TAP output.
. "$(dirname "$0")/lib.sh"
tap_init
tap_plan 4

lib=$top_builddir/libsmtpscope.a
if [ ! -f "$lib" ] || ! command -v nm > /dev/null ||
    ! command -v python3 > /dev/null; then
	tap_skip "module graph: needs libsmtpscope.a, nm and python3"
else
	out=$(python3 "$top_srcdir/tools/modgraph.py" "$top_builddir")
	rc=$?
	tap_ok $rc "no cycle among the modules of src/"
	[ $rc -eq 0 ] || tap_diag "$(printf '%s\n' "$out" | grep '^cycle:')"
fi

bad=$(grep -l '^#include "\(capture\|pipeline\|maillog\|metrics\|metrics_http\|flow\|smtp\|tls\|reasm\|decode\)\.h"' \
    "$top_srcdir"/src/ui*.c 2> /dev/null)
[ -z "$bad" ]
tap_ok $? "the UI includes no header of the capture side"
[ -z "$bad" ] || tap_diag "includes them: $bad"

missing=
for f in "$top_srcdir"/src/*.c; do
	b=$(basename "$f")
	grep -q "src/$b\|\`$b\`" "$top_srcdir/README.md" || missing="$missing $b"
done
[ -z "$missing" ]
tap_ok $? "the README's Layout table names every file of src/"
[ -z "$missing" ] || tap_diag "not named:$missing"

leaked=
for h in "$top_srcdir"/include/*_int.h; do
	[ -f "$h" ] || continue
	hb=$(basename "$h")
	mod=${hb%_int.h}
	for f in $(grep -l "^#include \"$hb\"" "$top_srcdir"/src/*.c \
	    "$top_srcdir"/include/*.h); do
		b=$(basename "$f")
		case $b in
		"$mod".c | "$mod"_*.c) ;;
		*) leaked="$leaked $b:$hb" ;;
		esac
	done
done
[ -z "$leaked" ]
tap_ok $? "a private header (include/*_int.h) stays in its module"
[ -z "$leaked" ] || tap_diag "included outside:$leaked"
