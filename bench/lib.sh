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
