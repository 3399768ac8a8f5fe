#!/usr/bin/env python3
"""Build the seed corpora of the libFuzzer targets from smtpscope's own
fixtures: tests/fuzz/corpus/NAME/ for every target of tests/fuzz/.

Usage: tools/fuzz-corpus.py [OUTDIR]   (default: tests/fuzz/corpus)

Each seed is written in the input format its harness documents at the top
of tests/fuzz/fuzz_NAME.c, and named after the fixture it comes from, so
that running the script again gives the same files.  Seeds stay under
4 KiB (libFuzzer's default input limit follows the largest seed).
Reads classic pcap files only (the fixtures' format); pcapng is skipped.
"""

import os
import struct
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(TOP, "tests", "fixtures")
SEED_MAX = 4096

# Link types the decode harness knows, in the order of its table.
DECODE_DLTS = [0, 108, 1, 12, 101, 228, 229, 113, 276]


def pcap_packets(path):
    """(linktype, [(ts, frame)]) of a classic pcap file, or None."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return None
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return None
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    pkts, off = [], 24
    while off + 16 <= len(data):
        sec, usec, incl, _orig = struct.unpack(e + "IIII", data[off:off + 16])
        off += 16
        pkts.append((sec + usec / 1e6, data[off:off + incl]))
        off += incl
    return linktype, pkts


def ip_of(linktype, frame):
    """The IP datagram inside a frame, or None."""
    if linktype == 1:  # Ethernet, with VLAN tags
        off, et = 12, None
        while off + 2 <= len(frame):
            et = struct.unpack(">H", frame[off:off + 2])[0]
            off += 2
            if et in (0x8100, 0x88A8):
                off += 2
                continue
            break
        return frame[off:] if et in (0x0800, 0x86DD) else None
    if linktype in (0, 108):  # BSD loopback
        return frame[4:]
    if linktype in (12, 101, 228, 229):
        return frame
    if linktype == 113:  # Linux cooked
        return frame[16:]
    if linktype == 276:  # Linux cooked v2
        return frame[20:]
    return None


def tcp_of(ip):
    """(src, sport, dst, dport, seq, ack, flags, payload) or None."""
    if not ip:
        return None
    v = ip[0] >> 4
    if v == 4 and len(ip) >= 20 and ip[9] == 6:
        hl = (ip[0] & 15) * 4
        tot = struct.unpack(">H", ip[2:4])[0]
        src, dst, seg = ip[12:16], ip[16:20], ip[hl:max(tot, hl)]
    elif v == 6 and len(ip) >= 40 and ip[6] == 6:
        plen = struct.unpack(">H", ip[4:6])[0]
        src, dst, seg = ip[8:24], ip[24:40], ip[40:40 + plen]
    else:
        return None
    if len(seg) < 20:
        return None
    sport, dport, seq, ack = struct.unpack(">HHII", seg[:12])
    doff = (seg[12] >> 4) * 4
    return src, sport, dst, dport, seq, ack, seg[13], seg[doff:]


SMTP_PORTS = (25, 465, 587)


def segments(path):
    """The TCP segments of the first SMTP connection of a capture, as
    (dir, seq, ack, flags, payload) with dir 0 client to server."""
    got = pcap_packets(path)
    if got is None:
        return []
    linktype, pkts = got
    out, conn = [], None
    for _ts, frame in pkts:
        t = tcp_of(ip_of(linktype, frame))
        if t is None:
            continue
        src, sport, dst, dport, seq, ack, flags, payload = t
        if conn is None:
            if flags & 0x12 == 0x02:  # a SYN names the server
                conn = (src, sport, dst, dport)
            elif dport in SMTP_PORTS:
                conn = (src, sport, dst, dport)
            elif sport in SMTP_PORTS:
                conn = (dst, dport, src, sport)
            else:
                continue
        if (src, sport, dst, dport) == conn:
            d = 0
        elif (dst, dport, src, sport) == conn:
            d = 1
        else:
            continue
        out.append((d, seq, ack, flags, payload))
    return out


def fixtures(sub=""):
    d = os.path.join(FIX, sub)
    return sorted(os.path.join(d, f) for f in os.listdir(d)
                  if f.endswith(".pcap"))


def regress_pcaps():
    d = os.path.join(TOP, "tests", "regress")
    return sorted(os.path.join(d, f) for f in os.listdir(d)
                  if f.endswith(".pcap"))


def base(path):
    return os.path.splitext(os.path.basename(path))[0]


class Out:
    def __init__(self, root):
        self.root = root
        self.count = {}

    def put(self, name, seed, data):
        if not data or len(data) > SEED_MAX:
            data = data[:SEED_MAX]
        d = os.path.join(self.root, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, seed), "wb") as f:
            f.write(data)
        self.count[name] = self.count.get(name, 0) + 1


def build_decode(o):
    for p in fixtures():
        got = pcap_packets(p)
        if got is None or got[0] not in DECODE_DLTS:
            continue
        idx = DECODE_DLTS.index(got[0])
        for i, (_ts, frame) in enumerate(got[1][:3]):
            o.put("decode", "%s-%d" % (base(p), i), bytes([idx]) + frame)


def build_capture(o):
    # The capture files themselves, cut to the seed limit (a cut file is
    # a case of its own).
    for p in sorted(os.listdir(FIX)):
        if p.endswith((".pcap", ".pcapng")):
            with open(os.path.join(FIX, p), "rb") as f:
                o.put("capture", p.replace(".", "-"), f.read(SEED_MAX))


def build_pipeline(o):
    # Raw records: 0x80, 16-bit length, the IP datagram.
    for p in fixtures() + fixtures("tls") + regress_pcaps():
        got = pcap_packets(p)
        if got is None:
            continue
        buf = b""
        for _ts, frame in got[1]:
            ip = ip_of(got[0], frame)
            if ip is None:
                continue
            rec = b"\x80" + struct.pack(">H", len(ip)) + ip
            if len(buf) + len(rec) > SEED_MAX:
                break
            buf += rec
        if buf:
            o.put("pipeline", base(p), buf)


def client_server_streams(path):
    segs = segments(path)
    chunks = []
    for d, _seq, _ack, _flags, payload in segs:
        if payload:
            chunks.append((d, payload))
    return chunks


def build_smtp(o):
    # flags byte 8 (SYN seen), then records [ctl][len][bytes] of data.
    for p in fixtures() + regress_pcaps():
        buf = b"\x08"
        for d, payload in client_server_streams(p):
            for i in range(0, len(payload), 255):
                piece = payload[i:i + 255]
                rec = bytes([d, len(piece)]) + piece
                if len(buf) + len(rec) > SEED_MAX:
                    break
                buf += rec
        if len(buf) > 1:
            o.put("smtp", base(p), buf)


def tls_chunks(path):
    """The TLS bytes of a connection: all of it on 465, else what follows
    the server's 220 answer to STARTTLS."""
    segs = segments(path)
    implicit = any(True for _ in segs) and os.path.basename(
        path).startswith("implicit")
    out, started, asked = [], implicit, False
    for d, _seq, _ack, _flags, payload in segs:
        if not payload:
            continue
        if started:
            out.append((d, payload))
        elif d == 0 and payload.upper().startswith(b"STARTTLS"):
            asked = True
        elif d == 1 and asked and payload.startswith(b"220"):
            started = True
    return implicit, out


def build_tls(o):
    # flags (bit 0 key log, bit 1 STARTTLS), records [dir][len16][bytes];
    # dir 2 is key log text.
    for p in fixtures("tls"):
        implicit, chunks = tls_chunks(p)
        if not chunks:
            continue
        kl = os.path.splitext(p)[0] + ".keylog"
        for with_keys in (False, True):
            buf = bytes([(1 if with_keys else 0) | (0 if implicit else 2)])
            if with_keys and os.path.exists(kl):
                with open(kl, "rb") as f:
                    text = f.read()
                buf += b"\x02" + struct.pack(">H", len(text)) + text
            for d, payload in chunks:
                rec = bytes([d]) + struct.pack(">H", len(payload)) + payload
                if len(buf) + len(rec) > SEED_MAX:
                    break
                buf += rec
            o.put("tls", base(p) + ("-keys" if with_keys else ""), buf)


def build_keylog(o):
    # byte 0: pieces - 1 (bit 7: truncate and write again), then one
    # boundary byte per piece but the last, then the text.
    d = os.path.join(FIX, "tls")
    for f in sorted(os.listdir(d)):
        if not f.endswith(".keylog"):
            continue
        with open(os.path.join(d, f), "rb") as fh:
            text = fh.read()
        o.put("keylog", base(f), b"\x03\x40\x80\xc0" + text)
        o.put("keylog", base(f) + "-again", b"\x80" + text)


def build_maillog(o):
    # byte 0: where the text is cut in two, byte 1: the capture's clock
    # (seconds after 03:04:05) when the first piece is in; then the text:
    # the recorded Postfix logs and the hand-written Exim one.
    for f in sorted(os.listdir(FIX)):
        if not f.endswith(".maillog"):
            continue
        with open(os.path.join(FIX, f), "rb") as fh:
            text = fh.read()[:SEED_MAX]
        o.put("maillog", base(f), b"\x80\x07" + text)
        o.put("maillog", base(f) + "-whole", b"\xff\x1f" + text)


def build_reasm(o):
    # flags 1 (ISN set), the ISN, then inserts [op][off16][len8]: the
    # captured segments' payload positions (direction in op bit 3).
    for p in fixtures() + regress_pcaps():
        segs = segments(p)
        isn = [None, None]
        for d, seq, _ack, flags, _payload in segs:
            if flags & 2 and isn[d] is None:
                isn[d] = (seq + 1) & 0xFFFFFFFF
        if isn[0] is None or isn[1] is None:
            continue
        # The harness puts the server's ISN 0x10000000 after the client's.
        buf = b"\x01" + struct.pack(">I", isn[0])
        for d, seq, _ack, _flags, payload in segs:
            off = (seq - isn[d]) & 0xFFFFFFFF
            if not payload or off > 0xFFFF:
                continue
            for i in range(0, len(payload), 255):
                n = min(255, len(payload) - i)
                if off + i > 0xFFFF:
                    break
                buf += bytes([d << 3]) + struct.pack(">HB", off + i, n)
        if len(buf) > 5:
            o.put("reasm", base(p), buf[:SEED_MAX])


def reply_texts():
    """(code, enhanced, text) of the rows of tests/data/replies.tsv."""
    out = []
    with open(os.path.join(TOP, "tests", "data", "replies.tsv"), "rb") as f:
        for line in f:
            cols = line.rstrip(b"\n").split(b"\t")
            if line.startswith(b"#") or len(cols) < 6:
                continue
            if cols[2][:1].isdigit():
                enh = cols[3] if cols[3] != b"-" else b""
                out.append((cols[2], enh, cols[5]))
    return out


def build_explain(o):
    for i, (code, enh, text) in enumerate(reply_texts()):
        o.put("explain", "reply-%03d" % i,
              code + b" " + (enh + b" " if enh else b"") + text)


def build_output(o):
    # The harness reads the event's fields from the input: type, flags,
    # times, addresses, verb, argument, code, enhanced code, then the
    # reply text, so that the mutator starts from real bytes.
    for i, (code, enh, text) in enumerate(reply_texts()[:40]):
        text = text[:200]
        seed = (b"\x02\x2f" + b"\x00" * 12 + b"\x0f192.0.2.1:51234"
                + b"\x0d192.0.2.25:25" + b"\x04RCPT" + b"\x0cTO:<a@b.org>"
                + struct.pack(">I", int(code)) + bytes([len(enh)]) + enh
                + bytes([len(text)]) + text)
        o.put("output", "reply-%03d" % i, seed)


def build_metrics_http(o):
    # Requests a scraper sends, whole and cut short.
    reqs = [b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9187\r\n"
            b"User-Agent: Prometheus/2.45.0\r\nAccept: text/plain\r\n\r\n",
            b"GET /metrics HTTP/1.0\n\n",
            b"HEAD /metrics?x=1 HTTP/1.1\r\n\r\n",
            b"GET http://mx1:9187/metrics HTTP/1.1\r\n\r\n",
            b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            b"GET / HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nHost: x\r\n"]
    for i, r in enumerate(reqs):
        o.put("metrics_http", "req-%02d" % i, r)


def build_rules(o):
    # Rule files and lexicons, cut at blank lines into pieces under 4 KiB.
    for name in ("rules.conf", "lexicon.conf"):
        with open(os.path.join(TOP, "data", name), "rb") as f:
            text = f.read()
        piece, k = b"", 0
        for block in text.split(b"\n\n"):
            block += b"\n\n"
            if piece and len(piece) + len(block) > SEED_MAX:
                o.put("rules", "%s-%02d" % (base(name), k), piece)
                piece, k = b"", k + 1
            piece += block[:SEED_MAX]
        if piece:
            o.put("rules", "%s-%02d" % (base(name), k), piece)


def build_opts(o):
    # Command lines in the shape of the README's and the man page's
    # examples, and each option with a value; arguments are NUL-separated.
    lines = [
        ["-i", "eth0"], ["-D"], ["-r", "mail.pcap", "-j"],
        ["-r", "-", "-N", "port", "25"], ["-P", "25,2525-2530", "-r", "x"],
        ["-P", "any", "--tls-ports", "465,10465"], ["-s", "0", "-B", "32"],
        ["-p", "-c", "100", "-w", "out.pcap"], ["-k", "keys.log",
        "--tls-key", "key.pem"], ["-Z", "nobody", "-i", "any"],
        ["--replay=2.5", "-r", "x"], ["--replay", "-r", "x"], ["--demo"],
        ["-l", "10", "--flows", "5", "--memory", "64"], ["--show-auth"],
        ["--rules", "r.conf", "--lexicon", "l.conf"], ["--rules-dump"],
        ["--lexicon-dump"], ["--explain", "452", "4.5.3", "--after", "RCPT"],
        ["--explain", "-", "-j"], ["-V"], ["-h"], ["-jN"], ["-x"],
        ["--count=3", "--json", "tcp", "and", "host", "192.0.2.1"],
    ]
    for i, args in enumerate(lines):
        o.put("opts", "cmdline-%02d" % i,
              b"\0".join(a.encode() for a in args))


def build_rx(o):
    # Filter expressions against the texts they are typed for: an even
    # first byte is the C locale, an odd one C.UTF-8.
    pats = [b"^bob@", b"example\\.(com|net)$", b"^sender1[0-9]*\\.",
            b"\\<word\\>", b"[[:space:]]+x", b"a{,2}", b"[]a]", b"[^a-z]",
            b"\\w+@\\S+", b"(a|aa)*b", b"(a)\\1", b"a+?", b"\xc3\xa9.",
            b"^4[0-9]{2} ", b"[[:upper:]]", b"[^[:lower:]]y",
            b"^[[:upper:][:digit:]]+$", b"x(s|)y", b"(|a||bc)d*a"]
    texts = [b"bob@example.com", b"Alice@Example.NET", b"sender17.x",
             b"a word", b"\xc3\x89t\xc3\xa9", b"452 4.5.3 Too many",
             b"a\xff", b"aaaab", b"\xc2\xaay\xca\xb0", b"\xc7\x85Y"]
    for i, p in enumerate(pats):
        for j, t in enumerate(texts):
            o.put("rx", "rx-%02d-%d" % (i, j), bytes([j & 1]) + p + b"\0" + t)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        TOP, "tests", "fuzz", "corpus")
    o = Out(root)
    for build in (build_decode, build_capture, build_pipeline, build_smtp, build_tls,
                  build_keylog, build_maillog, build_reasm, build_explain, build_output,
                  build_rules, build_opts, build_metrics_http, build_rx):
        build(o)
    for name in sorted(o.count):
        print("%s: %d seeds" % (name, o.count[name]))


if __name__ == "__main__":
    main()
