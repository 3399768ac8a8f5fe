#!/bin/sh
# metrics.sh: --metrics against the JSON events of the same run.
#
# For every row of tests/golden.tsv, run
#   $SMTPSCOPE -r CAPTURE -j OPTIONS --metrics 127.0.0.1:PORT --metrics-linger
# scrape /metrics with curl once the stats line is out, and check that the
# counters equal what the JSON Lines say (tests/scripts/metrics-lib.sh: jq
# on one side, the scrape on the other), and that `promtool check metrics`
# (Debian package prometheus) accepts the scrape; without promtool that
# part is skipped, saying so.  Then the HTTP side: 404, 405, HEAD, a request
# that never ends (the server moves on after its timeout), an oversized one,
# and bad --metrics addresses.
. "$(dirname "$0")/lib.sh"
tap_init
. "$top_srcdir/tests/scripts/metrics-lib.sh"

tsv=$top_srcdir/tests/golden.tsv
fix=$top_srcdir/tests/fixtures
[ -x "$SMTPSCOPE" ] || tap_skip_all "no smtpscope binary at $SMTPSCOPE"
for t in curl jq python3; do
	command -v $t > /dev/null || tap_skip_all "$t not installed"
done
promtool=$(command -v promtool)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/metrics.XXXXXX")
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2> /dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# start CAPTURE OPTS...: smtpscope -r CAPTURE -j OPTS --metrics on a free
# port, lingering; sets pid and port, output in $tmp/out.json.  Retries
# when another process took the port in between.
start() {
	_cap=$1
	shift
	for _try in 1 2 3; do
		port=$(metrics_free_port)
		# Emptied here, not only by the child's redirection: under
		# load the child may not have run yet when the loop below
		# first looks, and the last run's stats line would pass.
		: > "$tmp/out.json"
		"$SMTPSCOPE" -r "$_cap" -j "$@" --metrics "127.0.0.1:$port" \
		    --metrics-linger 60 > "$tmp/out.json" 2> "$tmp/err" &
		pid=$!
		# The stats line is the last one: the counters are final.
		_i=0
		while [ $_i -lt 300 ]; do
			grep -q '"event":"stats"' "$tmp/out.json" && return 0
			kill -0 "$pid" 2> /dev/null || break
			sleep 0.1
			_i=$((_i + 1))
		done
		kill "$pid" 2> /dev/null
		wait "$pid" 2> /dev/null
		pid=
		grep -q 'Address already in use' "$tmp/err" || return 1
	done
	return 1
}

stop() {
	kill "$pid" 2> /dev/null
	wait "$pid" 2> /dev/null
	pid=
}

n=$(grep -v '^#' "$tsv" | grep -c .)
tap_plan $((2 * n + 10))

rows=$(grep -v '^#' "$tsv" | grep .)
IFS='
'
for row in $rows; do
	IFS='	' read -r name pcap opts golden << ROW
$row
ROW
	[ "$opts" = "-" ] && opts=
	opts=$(printf '%s' "$opts" | sed "s|@FIXTURES@|$fix|g")
	unset IFS
	# shellcheck disable=SC2086 # options split on purpose
	if ! start "$fix/$pcap" $opts; then
		tap_fail "$name: counters equal the JSON events" "$(cat "$tmp/err")"
		tap_fail "$name: promtool check metrics"
		IFS='
'
		continue
	fi
	curl -sf "http://127.0.0.1:$port/metrics" > "$tmp/scrape"
	rc=$?
	stop
	metrics_expected "$tmp/out.json" > "$tmp/want"
	metrics_actual "$tmp/scrape" > "$tmp/got"
	if [ $rc -ne 0 ]; then
		tap_fail "$name: counters equal the JSON events" "curl failed ($rc)"
	elif diff -u "$tmp/want" "$tmp/got" > "$tmp/diff"; then
		tap_pass "$name: counters equal the JSON events ($(wc -l < "$tmp/want") series)"
	else
		tap_fail "$name: counters equal the JSON events" "$(cat "$tmp/diff")"
	fi
	if [ -z "$promtool" ]; then
		tap_skip "$name: promtool not installed (Debian package prometheus)"
	elif "$promtool" check metrics < "$tmp/scrape" > "$tmp/prom" 2>&1; then
		tap_pass "$name: promtool check metrics"
	else
		tap_fail "$name: promtool check metrics" "$(cat "$tmp/prom")"
	fi
	IFS='
'
done
unset IFS

# A SYN flood: one anomaly per server stands for a thousand attempts; the
# attempts counter adds them up, as the JSON's "attempts" do.
python3 "$top_srcdir/tests/scripts/make-flood.py" syn 3000 3 > "$tmp/syn.pcap"
if ! start "$tmp/syn.pcap"; then
	tap_fail "SYN flood: the attempts counter (smtpscope did not start)" \
	    "$(cat "$tmp/err")"
else
	curl -sf "http://127.0.0.1:$port/metrics" > "$tmp/scrape"
	stop
	metrics_expected "$tmp/out.json" > "$tmp/want"
	metrics_actual "$tmp/scrape" > "$tmp/got"
	if diff -u "$tmp/want" "$tmp/got" > "$tmp/diff" &&
	    grep -q '^smtpscope_connection_attempts_without_handshake_total 3000$' \
		"$tmp/scrape"; then
		tap_pass "SYN flood: the attempts counter is 3000, as the JSON says"
	else
		tap_fail "SYN flood: the attempts counter is 3000, as the JSON says" \
		    "$(cat "$tmp/diff"; grep without_handshake "$tmp/scrape")"
	fi
fi

# The HTTP side, on one lingering run.
cap=$fix/postfix-rcpt-limit.pcap
if ! start "$cap"; then
	for t in 404 405 HEAD slow big; do
		tap_fail "http: $t (smtpscope did not start)" "$(cat "$tmp/err")"
	done
else
	url=http://127.0.0.1:$port
	code=$(curl -s -o /dev/null -w '%{http_code}' "$url/")
	[ "$code" = 404 ]
	tap_ok $? "http: another path is 404 ($code)"
	code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/metrics")
	[ "$code" = 405 ]
	tap_ok $? "http: POST is 405 ($code)"
	curl -s -I "$url/metrics" > "$tmp/head"
	grep -q '^HTTP/1.0 200' "$tmp/head" &&
	    grep -qi '^Content-Type: text/plain; version=0.0.4' "$tmp/head"
	tap_ok $? "http: HEAD is 200 with the exposition content type"
	# A client that sends half a request and waits: the server gives up
	# on it after its timeout (2 s) and serves the next one.
	python3 - "$port" > "$tmp/slow" 2>&1 << 'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /metrics HTTP/1.1\r\n")
print("sent", flush=True)
time.sleep(6)
PY
	slow=$!
	i=0
	while [ $i -lt 50 ] && ! grep -q sent "$tmp/slow"; do
		sleep 0.1
		i=$((i + 1))
	done
	sleep 0.2
	start_s=$(date +%s)
	curl -sf -m 5 "$url/metrics" > /dev/null
	rc=$?
	took=$(($(date +%s) - start_s))
	[ $rc -eq 0 ] && [ "$took" -ge 1 ] && [ "$took" -le 4 ]
	tap_ok $? "http: a stalled client delays the next scrape at most its timeout (${took}s, curl $rc)"
	kill $slow 2> /dev/null
	wait $slow 2> /dev/null
	# An endless header: 400 once the bound (4096 bytes) is reached.
	code=$(python3 - "$port" << 'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(5)
try:
    s.sendall(b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 8000)
except OSError:
    pass
try:
    print(s.recv(64).split(b" ")[1].decode())
except Exception as e:
    print("error", e)
PY
)
	[ "$code" = 400 ]
	tap_ok $? "http: a request over the bound is 400 ($code)"
	stop
fi

tap_expect_error "--metrics with a host name" 2 "not an IPv4 address" \
    "$SMTPSCOPE" -r "$cap" -j --metrics localhost:9187
tap_expect_error "--metrics with an IPv6 address without brackets" 2 \
    "IPv6 address is written" "$SMTPSCOPE" -r "$cap" -j --metrics ::1:9187
tap_expect_error "--metrics-linger without --metrics" 2 "needs --metrics" \
    "$SMTPSCOPE" -r "$cap" -j --metrics-linger 5
# [::1] where the host has IPv6 loopback.
port=$(metrics_free_port)
: > "$tmp/out.json"
"$SMTPSCOPE" -r "$cap" -j --metrics "[::1]:$port" --metrics-linger 30 \
    > "$tmp/out.json" 2> "$tmp/err" &
pid=$!
i=0
while [ $i -lt 100 ] && ! grep -q '"event":"stats"' "$tmp/out.json"; do
	kill -0 "$pid" 2> /dev/null || break
	sleep 0.1
	i=$((i + 1))
done
if grep -q 'Cannot assign\|not available\|not supported' "$tmp/err"; then
	tap_skip "--metrics [::1]:PORT: no IPv6 loopback here"
else
	curl -sf "http://[::1]:$port/metrics" | grep -q '^smtpscope_sessions_total 1$'
	tap_ok $? "--metrics [::1]:PORT serves over IPv6"
fi
stop
[ "$TAP_FAILED" -eq 0 ]
