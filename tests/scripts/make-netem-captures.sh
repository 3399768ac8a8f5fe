#!/bin/sh
# Make the netem reassembly fixtures: real SMTP sessions across a lossy,
# reordering, duplicating link, captured on the server's side.
#
#   tests/fixtures/netem/NAME.pcap            the capture
#   tests/fixtures/netem/NAME.N.client        bytes the client of session N
#                                             sent (logged by the client)
#   tests/fixtures/netem/NAME.N.server        bytes the server sent (logged
#                                             by the server's transport)
#
# Two network namespaces joined by a veth pair; tc netem on both ends
# (loss 10%, reorder 25% 50%, duplicate 5%, delay 5ms); aiosmtpd (Debian's
# python3-aiosmtpd) serves in one, a Python smtplib client sends known
# messages from the other, and tcpdump records the server's veth.  netem
# sits on egress before the capture tap, so the capture holds what crossed
# the link: reassembly must rebuild exactly what each endpoint sent.
#
# Kernels built without sch_netem (some CI sandboxes): the same impairments
# are applied by a small user-space bridge (AF_PACKET) in a third namespace
# between the two veth pairs, with offloads turned off by ethtool so that
# frames are MSS-sized and carry real checksums.
#
# usage (root): tests/scripts/make-netem-captures.sh [OUTDIR]
# Needs: iproute2 (ip, tc with netem), tcpdump, /usr/bin/python3 with
# aiosmtpd.  The namespaces are named smtpscope-reasm-* and removed on exit.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../fixtures/netem}
mkdir -p "$out"
out=$(cd "$out" && pwd)
tmp=$(mktemp -d /tmp/smtpscope-reasm-netem.XXXXXX)
ns_s=smtpscope-reasm-srv-$$
ns_c=smtpscope-reasm-cli-$$
ns_r=
pids=""

cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null || true
	done
	ip netns del "$ns_s" 2>/dev/null || true
	ip netns del "$ns_c" 2>/dev/null || true
	[ -z "${ns_r:-}" ] || ip netns del "$ns_r" 2>/dev/null || true
	[ -n "${NETEM_KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# ---- the endpoints' programs
cat > "$tmp/server.py" <<'PY'
"""aiosmtpd on ADDR PORT; logs what each connection sent and received."""
import asyncio, itertools, os, sys
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

addr, port, logdir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
counter = itertools.count(1)


class Sink:
    async def handle_DATA(self, server, session, envelope):
        return "250 2.0.0 Ok: queued as NETEM%d" % len(envelope.content)


class LoggingSMTP(SMTP):
    def connection_made(self, transport):
        # The controller's own start-up probe comes from our address and
        # does not cross the link: not a session.
        peer = transport.get_extra_info("peername")
        n = "probe" if peer and peer[0] == addr else next(counter)
        self._log_sent = open(os.path.join(logdir, "%s.sent" % n), "wb")
        self._log_recv = open(os.path.join(logdir, "%s.recv" % n), "wb")
        write = transport.write

        def logged_write(data):
            self._log_sent.write(data)
            self._log_sent.flush()
            write(data)
        transport.write = logged_write
        super().connection_made(transport)

    def data_received(self, data):
        self._log_recv.write(data)
        self._log_recv.flush()
        super().data_received(data)

    def connection_lost(self, exc):
        self._log_sent.close()
        self._log_recv.close()
        super().connection_lost(exc)


class LoggingController(Controller):
    def factory(self):
        return LoggingSMTP(self.handler, hostname="mx.netem.test",
                           ident="smtpscope-netem")


c = LoggingController(Sink(), hostname=addr, port=port,
                      ready_timeout=10)
c.start()
open(os.path.join(logdir, "ready"), "w").close()
try:
    while not os.path.exists(os.path.join(logdir, "stop")):
        asyncio.run(asyncio.sleep(0.1))
finally:
    c.stop()
PY

cat > "$tmp/client.py" <<'PY'
"""smtplib client: sends one message of SIZE bytes; logs what it sent."""
import random, smtplib, sys

addr, port, size, log, seed = (sys.argv[1], int(sys.argv[2]),
                               int(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
sent = open(log, "wb")


class LoggingSMTP(smtplib.SMTP):
    def send(self, s):
        if isinstance(s, str):
            s = s.encode("ascii")
        sent.write(s)
        sent.flush()
        super().send(s)


rnd = random.Random(seed)
lines = []
total = 0
while total < size:
    n = rnd.randint(10, 76)
    line = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789 .")
                   for _ in range(n))
    lines.append(line)
    total += n + 2
body = "\r\n".join(lines)
msg = ("From: a@client.test\r\nTo: b@mx.netem.test\r\n"
       "Subject: netem %d\r\n\r\n%s\r\n" % (seed, body))
s = LoggingSMTP(addr, port, local_hostname="client.netem.test", timeout=60)
s.ehlo()
s.mail("a@client.test")
s.rcpt("b@mx.netem.test")
s.rcpt("c@mx.netem.test")
s.data(msg.encode("ascii"))
s.noop()
s.quit()
sent.close()
PY

cat > "$tmp/bridge.py" <<'PY'
"""User-space netem: copy frames between two interfaces with loss 10%,
reorder 25% (sent at once, the rest after 5 ms), duplicate 5%."""
import heapq, os, random, select, socket, sys, time

a, b, stopfile = sys.argv[1], sys.argv[2], sys.argv[3]
rnd = random.Random(1234)
socks = {}
for name in (a, b):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    s.bind((name, 0))
    s.setblocking(False)
    socks[name] = s
other = {a: b, b: a}
queue, n = [], 0
while not os.path.exists(stopfile):
    now = time.monotonic()
    while queue and queue[0][0] <= now:
        _, _, dst, frame = heapq.heappop(queue)
        try:
            socks[dst].send(frame)
        except OSError:
            pass
    timeout = max(0.0, queue[0][0] - now) if queue else 0.1
    ready, _, _ = select.select(list(socks.values()), [], [], timeout)
    for s in ready:
        src = s.getsockname()[0]
        while True:
            try:
                frame, addr = s.recvfrom(65536)
            except BlockingIOError:
                break
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            if rnd.random() < 0.10:
                continue            # loss
            copies = 2 if rnd.random() < 0.05 else 1
            for _ in range(copies):
                delay = 0 if rnd.random() < 0.25 else 0.005
                n += 1
                heapq.heappush(queue, (time.monotonic() + delay, n,
                                       other[src], frame))
PY

# ---- the link
ip netns add "$ns_s"
ip netns add "$ns_c"
if ip netns exec "$ns_s" tc qdisc add dev lo root netem delay 1ms \
    2>/dev/null; then
	ip netns exec "$ns_s" tc qdisc del dev lo root
	ip link add rs$$ type veth peer name rc$$
	ip link set rs$$ netns "$ns_s"
	ip link set rc$$ netns "$ns_c"
	netem=tc
else
	command -v ethtool >/dev/null 2>&1 ||
	    { echo "no sch_netem in this kernel and no ethtool" >&2; exit 1; }
	ns_r=smtpscope-reasm-rtr-$$
	ip netns add "$ns_r"
	ip netns exec "$ns_r" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	ip netns exec "$ns_r" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
	ip link add rs$$ type veth peer name xs$$
	ip link add rc$$ type veth peer name xc$$
	ip link set rs$$ netns "$ns_s"
	ip link set rc$$ netns "$ns_c"
	ip link set xs$$ netns "$ns_r"
	ip link set xc$$ netns "$ns_r"
	for x in xs$$ xc$$; do
		ip netns exec "$ns_r" ethtool -K $x tx off tso off gso off \
		    gro off >/dev/null 2>&1 || true
		ip -n "$ns_r" link set $x up
	done
	ip netns exec "$ns_r" /usr/bin/python3 "$tmp/bridge.py" xs$$ xc$$ \
	    "$tmp/bridge.stop" &
	pids="$pids $!"
	netem=bridge
fi
ip -n "$ns_s" link set lo up
ip -n "$ns_c" link set lo up
ip -n "$ns_s" addr add 10.200.0.25/24 dev rs$$
ip -n "$ns_c" addr add 10.200.0.10/24 dev rc$$
ip -n "$ns_s" addr add fd00:200::25/64 dev rs$$ nodad
ip -n "$ns_c" addr add fd00:200::10/64 dev rc$$ nodad
ip -n "$ns_s" link set rs$$ up
ip -n "$ns_c" link set rc$$ up
for pair in "$ns_s rs$$" "$ns_c rc$$"; do
	set -- $pair
	# GSO/TSO off where ethtool exists, so segments are MSS-sized as
	# on a real wire; without it the kernel's super-segments are fine too.
	if command -v ethtool >/dev/null 2>&1; then
		ip netns exec "$1" ethtool -K "$2" tx off tso off gso off \
		    gro off >/dev/null 2>&1 || true
	fi
	[ "$netem" = tc ] || continue
	ip netns exec "$1" tc qdisc add dev "$2" root netem \
	    loss 10% reorder 25% 50% duplicate 5% delay 5ms
done

# one capture: NAME ADDR PORT SIZE1 [SIZE2 ...]
capture() {
	name=$1 addr=$2 port=$3
	shift 3
	logs=$tmp/$name
	mkdir -p "$logs"
	rm -f "$out/$name".*
	ip netns exec "$ns_s" tcpdump -i rs$$ -U -s 0 -w "$out/$name.pcap" \
	    "tcp port $port" 2>/dev/null &
	tpid=$!
	ip netns exec "$ns_s" /usr/bin/python3 "$tmp/server.py" "$addr" \
	    "$port" "$logs" &
	spid=$!
	pids="$pids $tpid $spid"
	i=0
	while [ ! -e "$logs/ready" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "server did not start" >&2; exit 1; }
		sleep 0.1
	done
	sleep 1 # tcpdump ready
	n=0
	for size in "$@"; do
		n=$((n + 1))
		ip netns exec "$ns_c" /usr/bin/python3 "$tmp/client.py" \
		    "$addr" "$port" "$size" "$logs/c$n.sent" "$n"
		sleep 1
	done
	touch "$logs/stop"
	wait "$spid" || true
	sleep 1
	kill -INT "$tpid"
	wait "$tpid" || true
	n=0
	for size in "$@"; do
		n=$((n + 1))
		cmp -s "$logs/c$n.sent" "$logs/$n.recv" ||
		    { echo "$name: session $n: server received other bytes" >&2; exit 1; }
		cp "$logs/c$n.sent" "$out/$name.$n.client"
		cp "$logs/$n.sent" "$out/$name.$n.server"
	done
	echo "$name: $(ls -l "$out/$name.pcap" | awk '{print $5}') bytes," \
	    "$n sessions, impairment by $netem"
}

capture netem-ipv4 10.200.0.25 25 60000 90000
capture netem-ipv6 fd00:200::25 587 100000
touch "$tmp/bridge.stop"
