#!/bin/sh
# Run the libFuzzer targets of a build configured with --enable-fuzzing
# (what `make fuzz` calls).  Each target runs SECONDS seconds (FUZZ_SECONDS,
# default 60) on a working corpus in BUILDDIR/tests/fuzz/work/NAME, seeded
# from tests/fuzz/corpus/NAME (made by tools/fuzz-corpus.py when absent),
# with its dictionary, and with ASan and UBSan halting on the first error.
# A finding is saved as BUILDDIR/tests/fuzz/findings/NAME-crash-... and
# makes the script exit 1 after the other targets ran.
#
# Usage: tests/fuzz/run.sh SRCDIR BUILDDIR [TARGET...]
# Environment: FUZZ_SECONDS, FUZZ_FLAGS (more libFuzzer options).
set -u
src=$1
build=$2
shift 2
secs=${FUZZ_SECONDS:-60}
targets=${*:-"decode smtp tls rules pipeline explain reasm keylog output capture maillog"}
fz=$build/tests/fuzz
seeds=$src/tests/fuzz/corpus
[ -d "$seeds" ] || seeds=$fz/corpus
if [ ! -d "$seeds" ]; then
	python3 "$src/tools/fuzz-corpus.py" "$seeds" >/dev/null || exit 1
fi
mkdir -p "$fz/work" "$fz/findings" "$fz/dict"
ASAN_OPTIONS=halt_on_error=1:detect_leaks=1
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS UBSAN_OPTIONS

# The dictionaries of a target (tests/fuzz/dict), joined into one file.
dict_for() {
	case $1 in
	smtp | explain | output) echo smtp ;;
	pipeline) echo smtp tls ;;
	tls) echo tls keylog ;;
	rules) echo rules ;;
	keylog) echo keylog ;;
	maillog) echo maillog ;;
	esac
}

status=0
printf '%-9s %6s %8s %9s %6s %7s  %s\n' target seconds execs exec/s cov ft result
for t in $targets; do
	bin=$fz/fuzz_$t
	if [ ! -x "$bin" ]; then
		echo "$t: $bin not built (configure --enable-fuzzing CC=clang)"
		status=1
		continue
	fi
	work=$fz/work/$t
	mkdir -p "$work"
	dict=
	d=$(dict_for "$t")
	if [ -n "$d" ]; then
		: >"$fz/dict/$t.dict"
		for f in $d; do
			cat "$src/tests/fuzz/dict/$f.dict" >>"$fz/dict/$t.dict"
		done
		dict=-dict=$fz/dict/$t.dict
	fi
	log=$fz/work/$t.log
	# shellcheck disable=SC2086
	"$bin" -max_total_time="$secs" -print_final_stats=1 -timeout=30 \
	    -artifact_prefix="$fz/findings/$t-" $dict ${FUZZ_FLAGS:-} \
	    "$work" $([ -d "$seeds/$t" ] && echo "$seeds/$t") >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	last=$(grep -a -E '(DONE|pulse|NEW|REDUCE|INITED) +cov:' "$log" | tail -1)
	cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	if [ "$rc" -eq 0 ]; then
		res=ok
	else
		res="FINDING (exit $rc, see $log)"
		status=1
	fi
	printf '%-9s %6s %8s %9s %6s %7s  %s\n' "$t" "$secs" "${execs:-?}" \
	    "${rate:-?}" "${cov:-?}" "${ft:-?}" "$res"
	if [ "$rc" -ne 0 ]; then
		grep -a -E 'ERROR|SUMMARY|runtime error|model check|fuzz_' \
		    "$log" | head -5
	fi
done
exit $status
