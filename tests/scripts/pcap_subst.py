#!/usr/bin/python3
"""Move IPv4 addresses in a pcap, in the headers and in the SMTP text.

Usage: pcap_subst.py IN OUT OLD=NEW...

OLD and NEW are dotted IPv4 addresses of the same length as text (so TCP
sequence numbers stay right).  Each OLD is replaced by NEW in the IPv4
source and destination fields and, as text, in the TCP payload (servers
quote the client's address, e.g. Postfix "too many connections from
127.0.0.4").  Only classic pcap with Ethernet link type is handled (what
tcpdump -i lo writes).  Checksums are left stale: run tcprewrite --fixcsum
afterwards.  Used by make-demo.sh.
"""

import socket
import struct
import sys


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    src, dst = sys.argv[1], sys.argv[2]
    pairs = []
    for arg in sys.argv[3:]:
        old, new = arg.split("=", 1)
        if len(old) != len(new):
            sys.exit("pcap_subst: %s and %s differ in length" % (old, new))
        pairs.append((socket.inet_aton(old), socket.inet_aton(new),
                      old.encode(), new.encode()))
    data = open(src, "rb").read()
    magic, = struct.unpack_from("<I", data, 0)
    if magic != 0xA1B2C3D4:
        sys.exit("pcap_subst: not a little-endian classic pcap")
    linktype, = struct.unpack_from("<I", data, 20)
    if linktype != 1:
        sys.exit("pcap_subst: link type %d, want Ethernet" % linktype)
    out = bytearray(data[:24])
    off = 24
    while off + 16 <= len(data):
        caplen, = struct.unpack_from("<I", data, off + 8)
        pkt = bytearray(data[off + 16:off + 16 + caplen])
        out += data[off:off + 16]
        off += 16 + caplen
        if len(pkt) < 14 + 20 or pkt[12:14] != b"\x08\x00":
            out += pkt
            continue
        ihl = (pkt[14] & 15) * 4
        for a, b, _, _ in pairs:
            if pkt[26:30] == a:
                pkt[26:30] = b
            if pkt[30:34] == a:
                pkt[30:34] = b
        if pkt[23] == 6 and len(pkt) >= 14 + ihl + 20:
            thl = (pkt[14 + ihl + 12] >> 4) * 4
            start = 14 + ihl + thl
            body = bytes(pkt[start:])
            for _, _, a, b in pairs:
                body = body.replace(a, b)
            pkt[start:] = body
        out += pkt
    open(dst, "wb").write(out)


if __name__ == "__main__":
    main()
