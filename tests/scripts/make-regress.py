#!/usr/bin/python3
"""Write the crafted captures of tests/regress/ (one per bug).

Usage: make-regress.py [OUTDIR]     (default: tests/regress next to this
                                     script's tests/ directory)

Every capture is a classic little-endian pcap written by hand with struct:
Ethernet or raw IPv4 (LINKTYPE_RAW), IPv4 and TCP with correct sequence and
acknowledgement numbers and checksums, and fixed timestamps, so that running
the script again gives the same bytes.  Each function below builds the
capture named after the bug it caught; its docstring says what the session
does and what smtpscope must print for it.  The expected outputs (NAME.jsonl)
are not written here: produce them with the binary, then read and check
them by hand before committing (see tests/regress/README.md).

Addresses are from the documentation ranges (RFC 5737): clients in
192.0.2.0/24, the server 198.51.100.25.
"""

import os
import socket
import struct
import sys

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101

# TCP flags
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

C, S = 0, 1  # client, server

BASE = 1700000000  # 2023-11-14T22:13:20Z: every capture starts here


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


class Pcap:
    def __init__(self, linktype=LINKTYPE_ETHERNET):
        self.linktype = linktype
        self.records = []
        self.ipid = 1

    def packet(self, usec, src, dst, sport, dport, seq, ack, flags,
               payload=b""):
        """One IPv4/TCP packet at BASE + usec microseconds."""
        tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF,
                          ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0, 0)
        s, d = socket.inet_aton(src), socket.inet_aton(dst)
        pseudo = s + d + struct.pack("!BBH", 0, 6, len(tcp) + len(payload))
        c = csum(pseudo + tcp + payload)
        tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) +
                         len(payload), self.ipid, 0x4000, 64, 6, 0, s, d)
        self.ipid = (self.ipid + 1) & 0xFFFF
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        frame = ip + tcp + payload
        if self.linktype == LINKTYPE_ETHERNET:
            # Locally administered MACs: 02:..:01 client, 02:..:02 server.
            smac = b"\x02\0\0\0\0" + (b"\x01" if sport != 25 else b"\x02")
            dmac = b"\x02\0\0\0\0" + (b"\x02" if sport != 25 else b"\x01")
            frame = dmac + smac + b"\x08\x00" + frame
        self.records.append((usec, frame))

    def write(self, path):
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144,
                                self.linktype))
            for usec, frame in self.records:
                f.write(struct.pack("<IIII", BASE + usec // 1000000,
                                    usec % 1000000, len(frame), len(frame)))
                f.write(frame)


class Conn:
    """One TCP connection; t is the session's clock in milliseconds."""

    def __init__(self, cap, start_ms, cport, cip="192.0.2.10",
                 sip="198.51.100.25", sport=25):
        self.cap = cap
        self.t = start_ms
        self.ep = [(cip, cport), (sip, sport)]
        # Fixed, distinct initial sequence numbers; the client's is just
        # below 2^32 so that its stream wraps within the first 200 bytes
        # and sequence arithmetic is exercised too.
        self.seq = [0xFFFFFF40 + cport % 64, 1000000 + cport * 7]

    def emit(self, d, flags, payload=b"", dt=1.0, seq=None, ack=True):
        self.t += dt
        src, dst = self.ep[d], self.ep[1 - d]
        s = self.seq[d] if seq is None else seq
        self.cap.packet(int(round(self.t * 1000)), src[0], dst[0], src[1],
                        dst[1], s, self.seq[1 - d] if ack else 0,
                        flags | (ACK if ack else 0), payload)

    def open(self, syn=True, dt=1.0):
        """Three-way handshake (without the SYN when syn is False)."""
        if syn:
            self.emit(C, SYN, dt=dt, ack=False)
        self.seq[C] += 1
        self.emit(S, SYN, dt=0.2 if syn else dt)
        self.seq[S] += 1
        self.emit(C, 0, dt=0.1)

    def send(self, d, data, dt=1.0, lose=False):
        """A data segment; lose=True leaves it out of the capture."""
        if isinstance(data, str):
            data = data.encode()
        if not lose:
            self.emit(d, PSH, data, dt=dt)
        else:
            self.t += dt
        self.seq[d] = (self.seq[d] + len(data)) & 0xFFFFFFFF

    def ack(self, d, dt=0.1):
        """A pure ACK from d (acknowledges everything the peer sent)."""
        self.emit(d, 0, dt=dt)

    def close(self, first=C, dt=1.0):
        """FIN from first, FIN from the other side, last ACK."""
        self.emit(first, FIN, dt=dt)
        self.seq[first] += 1
        self.emit(1 - first, FIN, dt=0.2)
        self.seq[1 - first] += 1
        self.emit(first, 0, dt=0.1)


EHLO_REPLY = ("250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
              "250-8BITMIME\r\n250 AUTH PLAIN LOGIN\r\n")


def greeting_latency_null():
    """The greeting's latency_ms must run from the client's SYN to the
    first byte of the 220 (flow.c once recorded the SYN after the open
    callback, and the greeting said null).  Session 1: SYN at 1 ms, the
    220 in two segments, its first line at 31 ms: latency_ms 30.000.
    Session 2 starts at the SYN-ACK (no SYN captured): latency_ms null."""
    cap = Pcap()
    c = Conn(cap, 0, 40001)
    c.open()                                       # SYN at 1 ms
    c.send(S, "220-mx.example.test ESMTP\r\n", dt=29.7)  # at 31 ms
    c.send(S, "220 no UCE\r\n", dt=15)
    c.send(C, "QUIT\r\n", dt=2)
    c.send(S, "221 2.0.0 Bye\r\n", dt=0.5)
    c.close(first=S)
    c = Conn(cap, 1000, 40002)
    c.open(syn=False)                              # SYN-ACK at 1001 ms
    c.send(S, "220 mx.example.test ESMTP\r\n", dt=20)
    c.send(C, "QUIT\r\n", dt=2)
    c.send(S, "221 2.0.0 Bye\r\n", dt=0.5)
    c.close(first=S)
    return cap


def reply_handler_use_after_free():
    """A reply handler once read the reply event after handing it over
    (found by fuzzing in smtp_reply_helo): EHLO answered by a multi-line
    250 with SIZE, then more commands, a second EHLO and a HELO with
    multi-line replies.  Run under the sanitizer build it must be clean;
    every reply keeps its text and lines."""
    cap = Pcap()
    c = Conn(cap, 0, 40011)
    c.open()
    c.send(S, "220 mx.example.test ESMTP\r\n", dt=5)
    c.send(C, "EHLO client.example.org\r\n")
    c.send(S, EHLO_REPLY)
    c.send(C, "MAIL FROM:<a@example.org> SIZE=2048\r\n")
    c.send(S, "250 2.1.0 Ok\r\n")
    c.send(C, "RSET\r\n")
    c.send(S, "250 2.0.0 Ok\r\n")
    c.send(C, "EHLO client2.example.org\r\n")
    # The same reply split in the middle of a line.
    c.send(S, EHLO_REPLY[:40])
    c.send(S, EHLO_REPLY[40:], dt=0.3)
    c.send(C, "HELO client3.example.org\r\n")
    c.send(S, "250-mx.example.test\r\n250 hello client3\r\n")
    c.send(C, "NOOP\r\n")
    c.send(S, "250 2.0.0 Ok\r\n")
    c.send(C, "QUIT\r\n")
    c.send(S, "221 2.0.0 Bye\r\n")
    c.close(first=S)
    return cap


def bare_lf_end_of_data():
    """A body ended with bare LFs ("\\n.\\n") after 354.  smtpscope only
    takes CRLF.CRLF as the end of data (RFC 5321 4.1.1.4; SMTP smuggling),
    but a server that accepts "\\n.\\n" (Sendmail-like) answers 250: that
    reply ends the message, answers DATA-END and comes with the anomaly
    "reply before the end of data (no CRLF.CRLF)".  QUIT/221 after it are
    matched normally."""
    cap = Pcap()
    c = Conn(cap, 0, 40021)
    c.open()
    c.send(S, "220 mx.example.test ESMTP\r\n", dt=5)
    c.send(C, "EHLO client.example.org\r\n")
    c.send(S, "250-mx.example.test\r\n250 8BITMIME\r\n")
    c.send(C, "MAIL FROM:<a@example.org>\r\n")
    c.send(S, "250 2.1.0 Ok\r\n")
    c.send(C, "RCPT TO:<b@example.test>\r\n")
    c.send(S, "250 2.1.5 Ok\r\n")
    c.send(C, "DATA\r\n")
    c.send(S, "354 End data with <CR><LF>.<CR><LF>\r\n")
    c.send(C, "Subject: bare\r\n\r\nhello\n.\n", dt=2)
    c.send(S, "250 2.0.0 Ok: queued as 3AbCdE\r\n", dt=10)
    c.send(C, "QUIT\r\n")
    c.send(S, "221 2.0.0 Bye\r\n")
    c.close(first=S)
    return cap


def early_talker_data_end():
    """An early talker: EHLO, MAIL, RCPT, DATA and the whole body are sent
    before the 220 arrives (Exim's PIPE_CONNECT goes further than the
    RFC).  The greeting answers CONNECT, the next replies EHLO, MAIL, RCPT
    and DATA in order, the final 250 answers DATA-END (one message event,
    accepted) and the 221 answers QUIT."""
    cap = Pcap()
    c = Conn(cap, 0, 40031)
    c.open()
    c.send(C, "EHLO client.example.org\r\nMAIL FROM:<a@example.org>\r\n"
           "RCPT TO:<b@example.test>\r\nDATA\r\n", dt=0.5)
    c.send(C, "Subject: early\r\n\r\nbody\r\n.\r\n", dt=0.2)
    c.send(S, "220 mx.example.test ESMTP\r\n", dt=20)
    c.send(S, "250-mx.example.test\r\n250 PIPELINING\r\n250 2.1.0 Ok\r\n"
           "250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n", dt=0.3)
    c.send(S, "250 2.0.0 Ok: queued as 4EaRlY\r\n", dt=3)
    c.send(C, "QUIT\r\n")
    c.send(S, "221 2.0.0 Bye\r\n")
    c.close(first=S)
    return cap


def reply_after_client_gap():
    """Capture holes around an AUTH LOGIN exchange.  Session 1: a client
    segment ("NOOP") is missing; the server's 250 to it has nothing to
    answer, the gap is reported when the next client segment is bounded,
    and the AUTH LOGIN that follows is still read as a command (the engine
    resynchronises on a known verb instead of dropping the next line): its
    334 answers AUTH, the SASL lines are not commands, the 235 answers
    AUTH.  Session 2: a server segment (the 250 to NOOP) is missing; the
    334 finds NOOP at the head of the queue and realigns on AUTH (354, 334
    and 221 answer one verb each).  The ACK that bounds each hole comes at
    the same instant as the segment held behind it: smtpscope stamps held
    data with the time of the packet that releases it, and this capture
    is about matching, not about that."""
    cap = Pcap()
    c = Conn(cap, 0, 40041)
    c.open()
    c.send(S, "220 mx.example.test ESMTP\r\n", dt=5)
    c.send(C, "EHLO client.example.org\r\n")
    c.send(S, EHLO_REPLY)
    c.send(C, "NOOP\r\n", lose=True)
    c.send(S, "250 2.0.0 Ok\r\n")
    c.send(C, "AUTH LOGIN\r\n")
    c.ack(S, dt=0)
    c.send(S, "334 VXNlcm5hbWU6\r\n")
    c.send(C, "dXNlcg==\r\n")
    c.send(S, "334 UGFzc3dvcmQ6\r\n")
    c.send(C, "cGFzcw==\r\n")
    c.send(S, "235 2.7.0 Authentication successful\r\n")
    c.send(C, "QUIT\r\n")
    c.send(S, "221 2.0.0 Bye\r\n")
    c.close(first=S)

    c = Conn(cap, 1000, 40042)
    c.open()
    c.send(S, "220 mx.example.test ESMTP\r\n", dt=5)
    c.send(C, "EHLO client.example.org\r\n")
    c.send(S, EHLO_REPLY)
    c.send(C, "NOOP\r\n")
    c.send(S, "250 2.0.0 Ok\r\n", lose=True)
    c.send(C, "AUTH LOGIN\r\n")
    c.send(S, "334 VXNlcm5hbWU6\r\n")
    c.ack(C, dt=0)
    c.send(C, "dXNlcg==\r\n")
    c.send(S, "334 UGFzc3dvcmQ6\r\n")
    c.send(C, "cGFzcw==\r\n")
    c.send(S, "235 2.7.0 Authentication successful\r\n")
    c.send(C, "QUIT\r\n")
    c.send(S, "221 2.0.0 Bye\r\n")
    c.close(first=S)
    return cap


def piggybacked_ack_gap():
    """A lost client segment whose loss is proved by the ACK riding on the
    server's next reply.  The client's "NOOP" is missing; "AUTH LOGIN"
    waits behind the hole; the server's 334 carries the ACK that bounds
    it.  The ACK must be handled before the 334's own data: the gap and
    the AUTH command come first, and the 334 answers AUTH with a latency
    from the moment AUTH LOGIN was captured (40 ms), not from its release."""
    cap = Pcap()
    c = Conn(cap, 0, 40051)
    c.open()
    c.send(S, "220 mx.example.test ESMTP\r\n", dt=5)
    c.send(C, "EHLO client.example.org\r\n")
    c.send(S, EHLO_REPLY)
    c.send(C, "NOOP\r\n", lose=True)
    c.send(C, "AUTH LOGIN\r\n", dt=10)
    c.send(S, "334 VXNlcm5hbWU6\r\n", dt=40)
    c.send(C, "dXNlcg==\r\n")
    c.send(S, "334 UGFzc3dvcmQ6\r\n")
    c.send(C, "cGFzcw==\r\n")
    c.send(S, "235 2.7.0 Authentication successful\r\n")
    c.send(C, "QUIT\r\n")
    c.send(S, "221 2.0.0 Bye\r\n")
    c.close(first=S)
    return cap


def quit_after_421():
    """421 at the greeting.  Session 1: the client says QUIT, as a polite
    client does: no "client data after 421" anomaly.  Session 2: the
    client goes on with MAIL, RCPT and QUIT: exactly one such anomaly."""
    cap = Pcap()
    c = Conn(cap, 0, 40051)
    c.open()
    c.send(S, "421 4.7.0 mx.example.test Too many connections, "
           "try again later\r\n", dt=5)
    c.send(C, "QUIT\r\n")
    c.close(first=S)
    c = Conn(cap, 1000, 40052)
    c.open()
    c.send(S, "421 4.7.0 mx.example.test Too many connections, "
           "try again later\r\n", dt=5)
    c.send(C, "MAIL FROM:<a@example.org>\r\n")
    c.send(C, "RCPT TO:<b@example.test>\r\n")
    c.send(C, "QUIT\r\n")
    c.close(first=S)
    return cap


# Sent after 354 (or speculatively after DATA): stuffed dots ("..foo" is
# ".foo", ".." alone is a line that was "."), a line with a dot inside.
# The first line is stuffed too: in a speculative body it goes through the
# command-line path before the body scanner takes over.
DOT_BODY = ("..x\r\nSubject: dots\r\n\r\n..foo\r\n..\r\nbar.baz\r\n"
            "...\r\nend\r\n")
TERM = "\r\n.\r\n"  # the CRLF of the last line and ".\r\n"


def dot_stuffing_count():
    """Message bytes exclude the stuffed dots and the terminating ".\\r\\n"
    (the CRLF before the dot belongs to the last line).  Sessions 1-5
    send the body after 354 and split CRLF.CRLF across two segments after
    0, 1, 2, 3 and 4 of its 5 bytes; sessions 6-10 do the same with a
    pipelined body sent before the 354 (speculative).  All ten message
    events say 48 bytes: the unstuffed message is ".x\\r\\nSubject: dots\\r\\n
    \\r\\n.foo\\r\\n.\\r\\nbar.baz\\r\\n..\\r\\nend\\r\\n" (4+15+2+6+3+9+4+5)."""
    cap = Pcap(LINKTYPE_RAW)
    body = DOT_BODY[:-2]  # the last CRLF is the start of TERM
    for i in range(10):
        k = i % 5
        spec = i >= 5
        c = Conn(cap, i * 1000, 40061 + i)
        c.open()
        c.send(S, "220 mx.example.test ESMTP\r\n", dt=5)
        c.send(C, "EHLO client.example.org\r\n")
        c.send(S, "250-mx.example.test\r\n250 PIPELINING\r\n")
        if spec:
            c.send(C, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.test>"
                   "\r\nDATA\r\n")
            c.send(C, body + TERM[:k], dt=0.1)
            c.send(C, TERM[k:], dt=0.1)
            c.send(S, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go ahead\r\n")
        else:
            c.send(C, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.test>"
                   "\r\n")
            c.send(S, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n")
            c.send(C, "DATA\r\n")
            c.send(S, "354 go ahead\r\n")
            c.send(C, body + TERM[:k])
            c.send(C, TERM[k:], dt=0.1)
        c.send(S, "250 2.0.0 Ok: queued as D0T%d\r\n" % (i + 1))
        c.send(C, "QUIT\r\n")
        c.send(S, "221 2.0.0 Bye\r\n")
        c.close(first=S)
    return cap


def message_refused_at_data_end():
    """452 after the end of data: the reply answers DATA-END and is
    highlighted, and the message event says code 452, accepted false and
    queue_id null (a queue id is only taken from a 2xx)."""
    cap = Pcap()
    c = Conn(cap, 0, 40071)
    c.open()
    c.send(S, "220 mx.example.test ESMTP\r\n", dt=5)
    c.send(C, "EHLO client.example.org\r\n")
    c.send(S, "250-mx.example.test\r\n250 SIZE 10240000\r\n")
    c.send(C, "MAIL FROM:<a@example.org>\r\n")
    c.send(S, "250 2.1.0 Ok\r\n")
    c.send(C, "RCPT TO:<b@example.test>\r\n")
    c.send(S, "250 2.1.5 Ok\r\n")
    c.send(C, "DATA\r\n")
    c.send(S, "354 End data with <CR><LF>.<CR><LF>\r\n")
    c.send(C, "Subject: full\r\n\r\nhello\r\n.\r\n")
    c.send(S, "452 4.3.1 Insufficient system storage\r\n", dt=8)
    c.send(C, "QUIT\r\n")
    c.send(S, "221 2.0.0 Bye\r\n")
    c.close(first=S)
    return cap


CAPTURES = [
    ("greeting-latency-null", greeting_latency_null),
    ("reply-handler-use-after-free", reply_handler_use_after_free),
    ("bare-lf-end-of-data", bare_lf_end_of_data),
    ("early-talker-data-end", early_talker_data_end),
    ("reply-after-client-gap", reply_after_client_gap),
    ("piggybacked-ack-gap", piggybacked_ack_gap),
    ("quit-after-421", quit_after_421),
    ("dot-stuffing-count", dot_stuffing_count),
    ("message-refused-at-data-end", message_refused_at_data_end),
]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else \
        os.path.join(here, "..", "regress")
    for name, build in CAPTURES:
        build().write(os.path.join(out, name + ".pcap"))
        print(name + ".pcap")


if __name__ == "__main__":
    main()
