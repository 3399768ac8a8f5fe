#!/bin/bash
# capture-lib.sh: shell helpers shared by make-smtp-captures.sh and
# make-demo.sh.  Source it after setting TOP (the source tree) and WORK (a
# scratch directory).  Needs root (tcpdump on lo), tcpdump, tcprewrite,
# /usr/bin/python3 with python3-aiosmtpd, swaks and postfix.
#
#   cap_start NAME FILTER      start tcpdump -i lo writing $WORK/NAME.raw
#   cap_stop                   stop it (after the last FIN has gone by)
#   cap_port IN OUT PORTMAP [PNAT]
#                              rewrite server ports (and addresses) with
#                              tcprewrite: PORTMAP "10601:25", PNAT
#                              "127.0.0.1/32:192.0.2.10/32"
#   cap_check FILE             fail if FILE lost segments (tshark)
#   srv_start SCENARIO PORT [HOST]
#                              start tests/scripts/aiosmtpd_scripted.py and
#                              wait until it listens
#   srv_stop                   stop all servers started so far
#   cap_cleanup                stop whatever is still running (for traps)

PY=/usr/bin/python3
SCRIPTS=$TOP/tests/scripts
CAP_PID=
SRV_PIDS=
PF_DIRS=

. "$SCRIPTS/postfix-instance.sh"

cap_start() {
	: > "$WORK/tcpdump.err"
	# --immediate-mode: without it packets sit in the kernel ring until a
	# timeout and are lost when tcpdump is stopped.  In immediate mode each
	# ring slot is snaplen bytes, so the default 2 MB buffer holds only a
	# few packets and a busy machine drops some: use a 32 MiB buffer and a
	# snaplen just above lo's 64 KiB MTU.
	tcpdump -i lo -n -U --immediate-mode -s 65600 -B 32768 \
	    -w "$WORK/$1.raw" "$2" \
	    2> "$WORK/tcpdump.err" &
	CAP_PID=$!
	# tcpdump prints "listening on" once the filter is in place.
	i=0
	while ! grep -q 'listening on' "$WORK/tcpdump.err"; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$CAP_PID" 2>/dev/null; then
			cat "$WORK/tcpdump.err" >&2
			echo "capture-lib: tcpdump did not start" >&2
			return 1
		fi
		sleep 0.05
	done
	sleep 0.2
}

cap_stop() {
	# Let the last FIN/ACK reach the capture before stopping it.
	sleep 0.5
	[ -n "$CAP_PID" ] || return 0
	kill -INT "$CAP_PID" 2>/dev/null || true
	wait "$CAP_PID" 2>/dev/null || true
	CAP_PID=
	# A capture that lost packets is useless as a fixture: say so loudly.
	if grep -q '^[1-9][0-9]* packets\{0,1\} dropped by kernel' "$WORK/tcpdump.err"; then
		echo "capture-lib: tcpdump dropped packets:" >&2
		cat "$WORK/tcpdump.err" >&2
		return 1
	fi
}

cap_port() {
	if [ -n "${4:-}" ]; then
		tcprewrite --portmap="$3" --pnat="$4" --fixcsum \
		    -i "$1" -o "$2"
	else
		tcprewrite --portmap="$3" --fixcsum -i "$1" -o "$2"
	fi
}

# cap_check FILE: fail when tshark sees a segment missing from FILE (the
# capture lost packets; record it again).
cap_check() {
	command -v tshark >/dev/null || return 0
	lost=$(tshark -r "$1" -Y 'tcp.analysis.lost_segment || tcp.analysis.ack_lost_segment' 2>/dev/null | wc -l)
	if [ "$lost" -ne 0 ]; then
		echo "capture-lib: $1 misses segments ($lost places); record it again" >&2
		return 1
	fi
}

srv_start() {
	out=$WORK/srv-$1-$2.out
	: > "$out"
	$PY "$SCRIPTS/aiosmtpd_scripted.py" "$1" "$2" "${3:-127.0.0.1}" \
	    > "$out" 2> "$WORK/srv-$1-$2.err" &
	pid=$!
	SRV_PIDS="$SRV_PIDS $pid"
	i=0
	while ! grep -q ready "$out"; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
			cat "$WORK/srv-$1-$2.err" >&2
			echo "capture-lib: server $1 did not start" >&2
			return 1
		fi
		sleep 0.05
	done
}

# srv_stop: stop every server srv_start started.
srv_stop() {
	for pid in $SRV_PIDS; do
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	SRV_PIDS=
}

# pf_up DIR PORT [main.cf settings]: pf_start, remembered for cleanup.
pf_up() {
	PF_DIRS="$PF_DIRS $1"
	pf_start "$@" || return 1
	# pf_start's readiness probe connects and hangs up at once; Postfix
	# answers it a moment later with a greeting and an RST.  Let that pass
	# before any capture starts.
	sleep 1
}

cap_cleanup() {
	[ -z "$CAP_PID" ] || kill -INT "$CAP_PID" 2>/dev/null || true
	for pid in $SRV_PIDS; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for d in $PF_DIRS; do
		pf_stop "$d"
	done
	wait 2>/dev/null || true
}

# The message swaks sends: fixed headers so that regenerated captures only
# differ in timestamps, ports and queue ids.
msg_data() {
	printf 'Date: Mon, 06 May 2024 10:00:00 +0000\n'
	printf 'From: %s\nTo: %s\nSubject: %s\n' "$1" "$2" "$3"
	printf 'Message-ID: <%s@client.example.test>\n\n' "$(echo "$3" | tr -c 'a-zA-Z0-9\n' -)"
	printf 'Hello,\n\nthis is a test message for smtpscope.\n'
}
