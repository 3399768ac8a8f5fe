#!/bin/sh
# make-linktype-captures.sh: regenerate tests/fixtures/linktype-*.
#
# Records one real SMTP exchange over IPv4 (swaks -> aiosmtpd on
# 127.0.0.1:10025) and one over IPv6 ([::1]:10026) on the loopback
# interface, three ways at once:
#   tcpdump -i lo                 -> linktype-en10mb.pcap   (DLT_EN10MB)
#   tcpdump -i any                -> linktype-sll2.pcap     (DLT_LINUX_SLL2)
#   tcpdump -i any -y LINUX_SLL   -> linktype-sll.pcap      (DLT_LINUX_SLL)
# and derives the other encapsulations from the Ethernet one:
#   tcprewrite 802.1Q tag 100     -> linktype-vlan.pcap
#   + 802.1ad outer tag 200       -> linktype-qinq.pcap
#   editcap chop 14 + rawip       -> linktype-raw.pcap      (LINKTYPE_RAW 101)
#   the IPv4 part, rawip4         -> linktype-ipv4.pcap     (DLT_IPV4)
#   the IPv6 part, rawip6         -> linktype-ipv6.pcap     (DLT_IPV6)
#   IPv4 + BSD header, LE AF 2    -> linktype-null.pcap     (DLT_NULL)
#   IPv6 + BSD header, LE AF 30   -> linktype-null6.pcap    (DLT_NULL, macOS)
#   IPv4 + BE AF 2                -> linktype-loop.pcap     (DLT_LOOP)
#   editcap -F pcapng             -> linktype-en10mb.pcapng
# The IPv4 session uses port 10025 and the IPv6 one 10026, so readers pass
# -P 10025,10026.  Run as root from anywhere; needs tcpdump, tcprewrite,
# editcap, swaks and python3-aiosmtpd.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/tests/fixtures
tmp=$(mktemp -d)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

filter='tcp and (port 10025 or port 10026)'

/usr/bin/python3 -m aiosmtpd -n -l 127.0.0.1:10025 >/dev/null 2>&1 &
pids="$pids $!"
/usr/bin/python3 -m aiosmtpd -n -l ::1:10026 >/dev/null 2>&1 &
pids="$pids $!"

# tcpdump -U writes each packet at once; wait for "listening on".
start_tcpdump() {		# NAME ARGS...
	name=$1
	shift
	# -Z root: tcpdump would otherwise open the file as user tcpdump,
	# which cannot write into our private temporary directory.
	tcpdump -U -n -Z root "$@" -w "$tmp/$name.pcap" "$filter" 2> "$tmp/$name.err" &
	pids="$pids $!"
	eval "pid_$name=$!"
}
start_tcpdump en10mb -i lo
start_tcpdump sll2 -i any
start_tcpdump sll -i any -y LINUX_SLL
for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
	if grep -q listening "$tmp/en10mb.err" && grep -q listening \
	    "$tmp/sll2.err" && grep -q listening "$tmp/sll.err" &&
	    ss -ltn | grep -q '127.0.0.1:10025' &&
	    ss -ltn | grep -q '\[::1\]:10026'; then
		break
	fi
	sleep 0.25
done

swaks --server 127.0.0.1 --port 10025 --helo client.example \
    --from alice@example.org --to bob@example.net \
    --header 'Subject: link types' --body 'Hello over IPv4.' >/dev/null
swaks --server ::1 --port 10026 --helo client6.example \
    --from carol@example.org --to dave@example.net \
    --header 'Subject: link types' --body 'Hello over IPv6.' >/dev/null
sleep 1
for name in en10mb sll2 sll; do
	eval "kill -INT \$pid_$name"
done
sleep 1

pcap() {			# editcap wrapper writing classic pcap
	editcap -F pcap "$@"
}

for name in en10mb sll2 sll; do
	cp "$tmp/$name.pcap" "$out/linktype-$name.pcap"
done
e=$out/linktype-en10mb.pcap

tcprewrite --enet-vlan=add --enet-vlan-tag=100 --enet-vlan-pri=0 \
    --enet-vlan-cfi=0 --infile="$e" --outfile="$out/linktype-vlan.pcap"
tcprewrite --enet-vlan=add --enet-vlan-tag=200 --enet-vlan-pri=0 \
    --enet-vlan-cfi=0 --enet-vlan-proto=802.1ad \
    --infile="$out/linktype-vlan.pcap" --outfile="$out/linktype-qinq.pcap"

# editcap -C shortens what was captured but keeps each record's original
# length, which still counts the 14 bytes chopped off: fix that up so the
# raw files look as if recorded raw (caplen == len).
fixlen() {			# FILE
	/usr/bin/python3 - "$1" <<'PY'
import struct, sys
path = sys.argv[1]
b = bytearray(open(path, "rb").read())
e = "<" if b[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
off = 24
while off + 16 <= len(b):
    caplen, wlen = struct.unpack_from(e + "II", b, off + 8)
    if wlen == caplen + 14:
        struct.pack_into(e + "I", b, off + 12, caplen)
    off += 16 + caplen
open(path, "wb").write(b)
PY
}
pcap -C 14 -T rawip "$e" "$out/linktype-raw.pcap"
tcpdump -r "$e" -w "$tmp/v4.pcap" ip 2>/dev/null
tcpdump -r "$e" -w "$tmp/v6.pcap" ip6 2>/dev/null
pcap -C 14 -T rawip4 "$tmp/v4.pcap" "$out/linktype-ipv4.pcap"
pcap -C 14 -T rawip6 "$tmp/v6.pcap" "$out/linktype-ipv6.pcap"
for f in raw ipv4 ipv6; do
	fixlen "$out/linktype-$f.pcap"
done
# tcprewrite's "user" DLT swaps the 14-byte Ethernet header for our bytes.
tcprewrite --dlt=user --user-dlt=0 --user-dlink=02,00,00,00 \
    --infile="$tmp/v4.pcap" --outfile="$out/linktype-null.pcap"
tcprewrite --dlt=user --user-dlt=0 --user-dlink=1e,00,00,00 \
    --infile="$tmp/v6.pcap" --outfile="$out/linktype-null6.pcap"
tcprewrite --dlt=user --user-dlt=108 --user-dlink=00,00,00,02 \
    --infile="$tmp/v4.pcap" --outfile="$out/linktype-loop.pcap"
editcap -F pcapng "$e" "$out/linktype-en10mb.pcapng"

for f in "$out"/linktype-*; do
	printf '%-28s %6d bytes  %s\n' "$(basename "$f")" "$(wc -c < "$f")" \
	    "$(tcpdump -r "$f" 2>&1 >/dev/null | sed -n 's/.*link-type \([^ ]*\).*/\1/p')"
done
