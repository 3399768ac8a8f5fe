#!/usr/bin/env python3
"""make-flood.py: write a synthetic hostile-but-legal SMTP capture to stdout.

usage: make-flood.py KIND [N] [ARGS...] > flood.pcap

KIND:
  pending SESSIONS RCPTS ARGLEN   each session pipelines RCPTS commands whose
                                  argument is ARGLEN bytes; no reply comes
  replies SESSIONS LEN            the server of each session sends LEN bytes
                                  of "250-" continuation lines, never the
                                  last line
  syn N [SERVERS]                 N SYNs from N sources to SERVERS servers;
                                  nothing answers
  idle SESSIONS                   each session: handshake, greeting, EHLO and
                                  its reply, then silence (never closed)
  resync RCPTS                    one session pipelines RCPTS RCPT commands
                                  (more than the engine's outstanding-command
                                  cap), then every reply comes, in order; the
                                  last reply answers a QUIT

Ethernet/IPv4/TCP, port 25, 192.0.2.0/24 servers and 198.18.0.0/15 clients
(documentation and benchmarking ranges).  Deterministic.  The pcap is
written as it is built, so memory stays small whatever the size.
"""

import struct
import sys

MSS = 1448


class Writer:
    def __init__(self, out):
        self.out = out
        self.t = 1_700_000_000 * 1_000_000
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))

    def frame(self, src, dst, sport, dport, seq, ack, flags, payload=b""):
        tcp = struct.pack(">HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF,
                          ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0, 0)
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload),
                         0, 0x4000, 64, 6, 0, src, dst)
        eth = b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00"
        data = eth + ip + tcp + payload
        self.t += 10
        self.out.write(struct.pack("<IIII", self.t // 1_000_000,
                                   self.t % 1_000_000, len(data), len(data)))
        self.out.write(data)


SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01


def client_addr(i):
    return bytes([198, 18 + (i >> 16) % 2, (i >> 8) & 0xFF, i & 0xFF])


def server_addr(i):
    return bytes([192, 0, 2, 1 + i % 250])


class Session:
    def __init__(self, w, i, server=0):
        self.w = w
        self.c = client_addr(i)
        self.s = server_addr(server)
        self.cport = 1024 + i % 60000
        self.cseq = 1000 + i * 7
        self.sseq = 5000 + i * 13

    def handshake(self):
        w = self.w
        w.frame(self.c, self.s, self.cport, 25, self.cseq, 0, SYN)
        self.cseq += 1
        w.frame(self.s, self.c, 25, self.cport, self.sseq, self.cseq, SYN | ACK)
        self.sseq += 1
        w.frame(self.c, self.s, self.cport, 25, self.cseq, self.sseq, ACK)

    def client(self, data):
        for off in range(0, len(data), MSS):
            seg = data[off:off + MSS]
            self.w.frame(self.c, self.s, self.cport, 25, self.cseq, self.sseq,
                         ACK | PSH, seg)
            self.cseq += len(seg)

    def server(self, data):
        for off in range(0, len(data), MSS):
            seg = data[off:off + MSS]
            self.w.frame(self.s, self.c, 25, self.cport, self.sseq, self.cseq,
                         ACK | PSH, seg)
            self.sseq += len(seg)

    def greet(self):
        self.handshake()
        self.server(b"220 mx.example.net ESMTP\r\n")
        self.client(b"EHLO client.example.org\r\n")
        self.server(b"250-mx.example.net\r\n250 PIPELINING\r\n")


def pending(w, sessions, rcpts, arglen):
    ss = [Session(w, i) for i in range(sessions)]
    for s in ss:
        s.greet()
        s.client(b"MAIL FROM:<flood@example.org>\r\n")
    pad = b"x" * max(0, arglen - 30)
    # Round robin, so that every session grows at once.
    for k in range(rcpts):
        for s in ss:
            s.client(b"RCPT TO:<r%d@example.net> " % k + pad + b"\r\n")


def replies(w, sessions, length):
    ss = [Session(w, i) for i in range(sessions)]
    for s in ss:
        s.handshake()
        s.server(b"220 mx.example.net ESMTP\r\n")
        s.client(b"EHLO client.example.org\r\n")
    line = b"250-" + b"y" * 70 + b"\r\n"
    sent = 0
    while sent < length:
        for s in ss:
            s.server(line * 16)
        sent += len(line) * 16


def syn(w, n, servers):
    for i in range(n):
        s = Session(w, i, i % servers)
        w.frame(s.c, s.s, s.cport, 25, s.cseq, 0, SYN)


def idle(w, sessions):
    for i in range(sessions):
        Session(w, i).greet()


def resync(w, rcpts):
    s = Session(w, 0)
    s.greet()
    cmds = b"MAIL FROM:<a@example.org>\r\n"
    cmds += b"".join(b"RCPT TO:<r%d@example.net>\r\n" % k
                     for k in range(rcpts))
    cmds += b"QUIT\r\n"
    s.client(cmds)
    reps = b"250 2.1.0 Ok\r\n" + b"250 2.1.5 Ok\r\n" * rcpts
    reps += b"221 2.0.0 Bye\r\n"
    s.server(reps)
    w.frame(s.s, s.c, 25, s.cport, s.sseq, s.cseq, FIN | ACK)
    s.sseq += 1
    w.frame(s.c, s.s, s.cport, 25, s.cseq, s.sseq, FIN | ACK)
    s.cseq += 1
    w.frame(s.s, s.c, 25, s.cport, s.sseq, s.cseq, ACK)


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    out = sys.stdout.buffer
    w = Writer(out)
    kind, n = a[0], [int(x) for x in a[1:]]
    if kind == "pending":
        pending(w, *n)
    elif kind == "replies":
        replies(w, *n)
    elif kind == "syn":
        syn(w, n[0], n[1] if len(n) > 1 else 1)
    elif kind == "idle":
        idle(w, *n)
    elif kind == "resync":
        resync(w, *n)
    else:
        sys.exit(__doc__)
    out.flush()


if __name__ == "__main__":
    main()
