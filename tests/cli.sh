#!/bin/sh
# cli.sh: the command line contract (SPEC section 2): help names every flag,
# -V names the libraries, usage errors are one "smtpscope: WHAT: WHY" line
# (plus an optional "hint:" line) with exit status 2, -D lists devices.
: "${SMTPSCOPE:=./smtpscope}"

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
ok() { tap_pass "$@"; }
notok() { tap_fail "$@"; }
check() {			# check WHAT CMD...: ok when CMD succeeds
	what=$1
	shift
	if "$@"; then ok "$what"; else notok "$what"; fi
}

# The stderr of a failed run is exactly one error line, optionally
# followed by one hint line.


echo "1..16"

# 1-2: help
"$SMTPSCOPE" -h > "$tmp/h" 2> "$tmp/herr"
rc=$?
missing=""
for flag in -i -D -r -P --ports --tls-ports -s -B -p -c -j --json -N --no-ui \
    -w -k --keylog -Z --replay --demo --limit --show-auth --rules --explain \
    -V -h "BPF expression"; do
	grep -q -- "$flag" "$tmp/h" || missing="$missing $flag"
done
if [ $rc -eq 0 ] && [ -z "$missing" ] && [ ! -s "$tmp/herr" ]; then
	ok "-h exits 0 and names every SPEC flag"
else
	notok "-h exits 0 and names every SPEC flag" "rc=$rc missing:$missing"
fi
"$SMTPSCOPE" --help > "$tmp/h2"
check "--help is the same as -h" cmp -s "$tmp/h" "$tmp/h2"

# 3: version
"$SMTPSCOPE" -V > "$tmp/v"
rc=$?
if [ $rc -eq 0 ] && grep -q '^smtpscope [0-9]' "$tmp/v" &&
    grep -q 'libpcap version [0-9]' "$tmp/v" &&
    grep -q 'ncurses [0-9]' "$tmp/v" && grep -q 'OpenSSL [0-9]' "$tmp/v"; then
	ok "-V prints smtpscope, libpcap, ncurses and OpenSSL versions"
else
	notok "-V prints smtpscope, libpcap, ncurses and OpenSSL versions" \
	    "$(cat "$tmp/v")"
fi

# 4-12: usage errors
tap_expect_error "unknown long option" 2 '^smtpscope: --bogus: unknown option' \
    "$SMTPSCOPE" --bogus
tap_expect_error "unknown short option" 2 '^smtpscope: -x: unknown option' \
    "$SMTPSCOPE" -x
tap_expect_error "missing argument" 2 '^smtpscope: -c: .*argument' \
    "$SMTPSCOPE" -j -c
tap_expect_error "-c not a number" 2 "^smtpscope: -c: 'many' is not a number" \
    "$SMTPSCOPE" -c many -r /dev/null
tap_expect_error "-P out of range" 2 '^smtpscope: -P: ' \
    "$SMTPSCOPE" -P 25,70000 -r /dev/null
tap_expect_error "-r with -i" 2 '^smtpscope: -r: cannot be used with -i' \
    "$SMTPSCOPE" -r x.pcap -i lo
tap_expect_error "--replay without -r" 2 '^smtpscope: --replay: ' \
    "$SMTPSCOPE" --replay -i lo
tap_expect_error "--replay bad speed" 2 '^smtpscope: --replay: ' \
    "$SMTPSCOPE" --replay=0 -r x.pcap
tap_expect_error "bad BPF is a usage error" 2 \
    "^smtpscope: bad BPF expression 'tcp port': " \
    "$SMTPSCOPE" -j -r "$top_srcdir/tests/fixtures/linktype-en10mb.pcap" \
    tcp port

# 13: usage errors happen before anything is opened
tap_expect_error "-Z unknown user" 1 "^smtpscope: -Z: unknown user 'no-such-user-x'" \
    "$SMTPSCOPE" -j -Z no-such-user-x \
    -r "$top_srcdir/tests/fixtures/linktype-en10mb.pcap"

# 14-16: -D
if [ "$(id -u)" -ne 0 ]; then
	echo "ok 14 # SKIP -D needs root"
	echo "ok 15 # SKIP -D needs root"
	echo "ok 16 # SKIP -D needs root"
	n=16
else
	"$SMTPSCOPE" -D > "$tmp/d" 2> "$tmp/derr"
	rc=$?
	check "-D exits 0" [ $rc -eq 0 ]
	check "-D lists lo, numbered" grep -q '^[0-9][0-9]*\.lo\b' "$tmp/d"
	check "-D lists the any device" grep -q '^[0-9][0-9]*\.any ' "$tmp/d"
fi

[ $TAP_FAILED -eq 0 ]
