#!/bin/sh
# Run the libFuzzer targets of a build configured with --enable-fuzzing
# (what `make fuzz` calls).  Each target runs SECONDS seconds (FUZZ_SECONDS,
# default 60) on a working corpus in BUILDDIR/tests/fuzz/work/NAME, seeded
# from tests/fuzz/corpus/NAME (made by tools/fuzz-corpus.py when absent),
# with its dictionary, and with ASan and UBSan halting on the first error.
# FUZZ_JOBS targets run at a time (default 2 on a machine with 2 CPUs or
# more, else 1), each in its own process, so the wall time is about
# targets x SECONDS / FUZZ_JOBS.  A finding is saved as
# BUILDDIR/tests/fuzz/findings/NAME-crash-... and makes the script exit 1
# once every target ran.
#
# Usage: tests/fuzz/run.sh SRCDIR BUILDDIR [TARGET...]
# Environment: FUZZ_SECONDS, FUZZ_JOBS, FUZZ_FLAGS (more libFuzzer options).
set -u
src=$1
build=$2
shift 2
secs=${FUZZ_SECONDS:-60}
targets=${*:-"decode smtp tls rules pipeline explain reasm keylog output capture opts metrics_http maillog rx"}
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
if [ -n "${FUZZ_JOBS:-}" ]; then
	jobs=$FUZZ_JOBS
elif [ "$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)" -ge 2 ]; then
	jobs=2
else
	jobs=1
fi

# The dictionaries of a target (tests/fuzz/dict), joined into one file.
dict_for() {
	case $1 in
	smtp | explain | output) echo smtp ;;
	pipeline) echo smtp tls ;;
	tls) echo tls keylog ;;
	rules) echo rules ;;
	keylog) echo keylog ;;
	opts) echo opts ;;
	maillog) echo maillog ;;
	rx) echo rx ;;
	esac
}

# libFuzzer options of a target.  The entropic power schedule costs the
# targets that reach many features (thousands per input) most of their
# time in bookkeeping: fuzz_pipeline ran about 175 inputs a CPU second
# with it and about 2,000 without, fuzz_smtp about 480 and 1,970.
flags_for() {
	case $1 in
	pipeline | smtp) echo -entropic=0 ;;
	esac
}

# Run target $1; its result line goes to work/NAME.result, and a finding
# leaves work/NAME.failed.
run_one() {
	t=$1
	bin=$fz/fuzz_$t
	res=$fz/work/$t.result
	rm -f "$fz/work/$t.failed"
	if [ ! -x "$bin" ]; then
		echo "$t: $bin not built (configure --enable-fuzzing CC=clang)" \
		    >"$res"
		: >"$fz/work/$t.failed"
		return
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
	# shellcheck disable=SC2046,SC2086
	"$bin" -max_total_time="$secs" -print_final_stats=1 -timeout=30 \
	    -artifact_prefix="$fz/findings/$t-" $dict $(flags_for "$t") \
	    ${FUZZ_FLAGS:-} "$work" $([ -d "$seeds/$t" ] && echo "$seeds/$t") \
	    >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	last=$(grep -a -E '(DONE|pulse|NEW|REDUCE|INITED) +cov:' "$log" | tail -1)
	cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	if [ "$rc" -eq 0 ]; then
		r=ok
	else
		r="FINDING (exit $rc, see $log)"
		: >"$fz/work/$t.failed"
	fi
	{
		printf '%-9s %6s %8s %9s %6s %7s  %s\n' "$t" "$secs" \
		    "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$r"
		if [ "$rc" -ne 0 ]; then
			grep -a -E 'ERROR|SUMMARY|runtime error|model check|fuzz_' \
			    "$log" | head -5
		fi
	} >"$res"
}

# Deal the targets to $jobs lanes; each lane runs its own in turn.
lane=0
pids=
while [ "$lane" -lt "$jobs" ]; do
	mine=
	i=0
	for t in $targets; do
		[ $((i % jobs)) -eq "$lane" ] && mine="$mine $t"
		i=$((i + 1))
	done
	if [ -n "$mine" ]; then
		(for t in $mine; do run_one "$t"; done) &
		pids="$pids $!"
	fi
	lane=$((lane + 1))
done
for p in $pids; do
	wait "$p"
done

status=0
printf '%-9s %6s %8s %9s %6s %7s  %s\n' target seconds execs exec/s cov ft result
for t in $targets; do
	cat "$fz/work/$t.result" 2>/dev/null || echo "$t: no result"
	if [ -e "$fz/work/$t.failed" ] || [ ! -e "$fz/work/$t.result" ]; then
		status=1
	fi
done
exit $status
