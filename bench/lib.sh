#!/bin/sh
# lib.sh: what the benchmark scripts share.  Source it after defining die.
#
#   bench_bin [BUILDDIR | SMTPSCOPE-BINARY]
#       set bin to the smtpscope to measure: the argument (a build
#       directory or the binary itself), else $SMTPSCOPE; return 1 when
#       neither is given, so the caller can build one or say what it needs.
bench_bin() {
	bin=
	if [ $# -ge 1 ]; then
		if [ -d "$1" ] && [ -x "$1/smtpscope" ]; then
			bin=$1/smtpscope
		elif [ -f "$1" ] && [ -x "$1" ]; then
			bin=$1
		else
			die "$1: neither a build directory nor an executable"
		fi
	elif [ -n "${SMTPSCOPE:-}" ]; then
		bin=$SMTPSCOPE
	else
		return 1
	fi
}

#   bench_dialogue_capture HERE SIZE
#       set f to the dialogue-heavy capture of SIZE (gen -d) in $BENCH_DIR,
#       building gen from HERE/gen.c and making the file when missing.
bench_dialogue_capture() {
	gen=$BENCH_DIR/gen
	if [ ! -x "$gen" ] || [ -n "$(find "$1/gen.c" -newer "$gen")" ]; then
		# shellcheck disable=SC2046
		${CC:-cc} -std=c11 -D_DEFAULT_SOURCE -O2 -o "$gen" "$1/gen.c" \
		    $(pkg-config --cflags --libs libpcap) || die "cannot build gen"
	fi
	f=$BENCH_DIR/smtp-dialogue-$2.pcap
	if [ ! -s "$f" ]; then
		"$gen" -d "$f.tmp" "$2" >&2 || die "gen failed"
		mv "$f.tmp" "$f"
	fi
}
