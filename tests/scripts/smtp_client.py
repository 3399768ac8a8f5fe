#!/usr/bin/python3
"""Small SMTP clients for smtpscope's capture fixtures (what swaks can't do).

Usage: smtp_client.py MODE HOST PORT [--bind ADDR] [--hold SECONDS]

Modes:
  bdat      raw socket: EHLO, MAIL, RCPT, three BDAT chunks (one holding a
            CRLF.CRLF that must not end anything, one with binary bytes
            including NUL), then "BDAT 0 LAST"; a second transaction with a
            single "BDAT n LAST"; QUIT.  Each chunk is sent with its command
            in one write, as real clients do.
  idle      EHLO and MAIL, then silence until the server gives up (idle
            timeout 421) and closes; the client then closes too.
  maxmsg    Python smtplib sending up to 5 messages on one connection, for
            a server that limits messages per connection.
  hold      connect, read the greeting, stay silent for --hold seconds
            (keeps an anvil connection slot busy), then QUIT.
  large     Python smtplib sending one 2 MB message (24,000 lines, some
            starting with a dot) in a single write, so that on loopback the
            body travels in segments of up to 64 KiB.
  odd       raw socket for the "odd" scripted server: RCPTs answered 400,
            402 and 472, a RCPT whose address holds a NUL byte, then a
            message that the server defers with a line carrying no reply
            code.
  early     raw socket that sends EHLO at once, without waiting for a
            greeting (a plain client on a port whose server speaks TLS
            first), then reads until the server closes.

Run with /usr/bin/python3.  Content is fixed so that regenerated captures
differ only in timestamps, ports and queue ids.
"""

import smtplib
import socket
import sys
import time


def connect(host, port, bind):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if bind:
        s.bind((bind, 0))
    s.connect((host, port))
    s.settimeout(30)
    return s


class Lines:
    """Reads CRLF-terminated reply lines from a socket."""

    def __init__(self, sock):
        self.s = sock
        self.buf = b""

    def line(self):
        while b"\n" not in self.buf:
            d = self.s.recv(4096)
            if not d:
                r, self.buf = self.buf, b""
                return r
            self.buf += d
        i = self.buf.index(b"\n") + 1
        r, self.buf = self.buf[:i], self.buf[i:]
        return r

    def reply(self):
        """Whole (possibly multi-line) reply; returns its code."""
        while True:
            ln = self.line()
            if not ln:
                raise ConnectionError("server closed the connection")
            sys.stderr.write("S: " + ln.decode("ascii", "replace"))
            if len(ln) < 4 or ln[3:4] != b"-":
                return int(ln[:3])


def cmd(s, rd, text, expect):
    sys.stderr.write("C: %r\n" % text)
    s.sendall(text.encode("latin-1") + b"\r\n")
    code = rd.reply()
    if code != expect:
        raise SystemExit("smtp_client: %r got %d, expected %d"
                         % (text, code, expect))


def bdat_chunk(s, rd, data, last=False):
    head = "BDAT %d%s" % (len(data), " LAST" if last else "")
    sys.stderr.write("C: %s (+%d bytes)\n" % (head, len(data)))
    s.sendall(head.encode("ascii") + b"\r\n" + data)
    code = rd.reply()
    if code != 250:
        raise SystemExit("smtp_client: %s got %d" % (head, code))


def mode_bdat(host, port, bind, _hold):
    s = connect(host, port, bind)
    rd = Lines(s)
    rd.reply()
    cmd(s, rd, "EHLO bdat-client.example.test", 250)
    cmd(s, rd, "MAIL FROM:<chunker@example.org> BODY=8BITMIME", 250)
    cmd(s, rd, "RCPT TO:<alice@example.test>", 250)
    # Chunk 1: headers and a line with a lone dot: inside BDAT, CRLF.CRLF
    # is plain data, it must not end the message.
    c1 = (b"From: chunker@example.org\r\nTo: alice@example.test\r\n"
          b"Subject: BDAT test\r\nMIME-Version: 1.0\r\n"
          b"Content-Type: application/octet-stream\r\n\r\n"
          b"first line\r\n.\r\nQUIT\r\nRSET\r\n")
    bdat_chunk(s, rd, c1)
    # Chunk 2: binary, including NUL, CR/LF fragments and 0xff bytes.
    c2 = bytes(range(256)) + b"\r\n.\r\n\x00\x00MAIL FROM:<x@y>\r\n"
    bdat_chunk(s, rd, c2)
    c3 = b"last text line\r\n"
    bdat_chunk(s, rd, c3)
    bdat_chunk(s, rd, b"", last=True)
    # Second transaction: the whole message in one BDAT n LAST.
    cmd(s, rd, "MAIL FROM:<chunker@example.org>", 250)
    cmd(s, rd, "RCPT TO:<bob@example.test>", 250)
    body = (b"From: chunker@example.org\r\nTo: bob@example.test\r\n"
            b"Subject: single chunk\r\n\r\nOne chunk, LAST.\r\n")
    bdat_chunk(s, rd, body, last=True)
    cmd(s, rd, "QUIT", 221)
    s.close()


def mode_idle(host, port, bind, _hold):
    s = connect(host, port, bind)
    rd = Lines(s)
    rd.reply()
    cmd(s, rd, "EHLO slow-client.example.test", 250)
    cmd(s, rd, "MAIL FROM:<slow@example.org>", 250)
    # Now say nothing; the server's idle timer fires and it sends 421.
    try:
        code = rd.reply()
        sys.stderr.write("idle: server said %d\n" % code)
    except ConnectionError:
        pass
    # Read to EOF so that the server closes first, like a real client.
    while rd.line():
        pass
    s.close()


def mode_maxmsg(host, port, bind, _hold):
    src = (bind, 0) if bind else None
    c = smtplib.SMTP(host, port, local_hostname="bulk.example.org",
                     source_address=src, timeout=30)
    c.ehlo()
    for i in range(1, 6):
        msg = ("From: bulk@example.org\r\nTo: user%d@example.test\r\n"
               "Subject: newsletter part %d\r\n\r\nHello number %d.\r\n"
               % (i, i, i))
        try:
            c.sendmail("bulk@example.org", ["user%d@example.test" % i], msg)
        except (smtplib.SMTPSenderRefused,
                smtplib.SMTPServerDisconnected) as e:
            sys.stderr.write("maxmsg: stopped at message %d: %s\n" % (i, e))
            break
    try:
        c.quit()
    except smtplib.SMTPServerDisconnected:
        pass
    c.close()


def mode_large(host, port, bind, _hold):
    src = (bind, 0) if bind else None
    c = smtplib.SMTP(host, port, local_hostname="big.example.org",
                     source_address=src, timeout=30)
    c.ehlo()
    lines = ["From: big@example.org", "To: alice@example.test",
             "Subject: large message", ""]
    for i in range(24000):
        lines.append(("." if i % 1000 == 0 else "") + "%083d" % i)
    c.sendmail("big@example.org", ["alice@example.test"],
               "\r\n".join(lines) + "\r\n")
    c.quit()


def mode_hold(host, port, bind, hold):
    s = connect(host, port, bind)
    rd = Lines(s)
    rd.reply()
    time.sleep(hold)
    cmd(s, rd, "QUIT", 221)
    s.close()


def mode_odd(host, port, bind, _hold):
    s = connect(host, port, bind)
    rd = Lines(s)
    rd.reply()
    cmd(s, rd, "EHLO odd-client.example.test", 250)
    cmd(s, rd, "MAIL FROM:<odd@example.org>", 250)
    cmd(s, rd, "RCPT TO:<r400@example.test>", 400)
    cmd(s, rd, "RCPT TO:<r402@example.test>", 402)
    cmd(s, rd, "RCPT TO:<r472@example.test>", 472)
    cmd(s, rd, "RCPT TO:<nul\0bob@example.test>", 501)
    cmd(s, rd, "RCPT TO:<alice@example.test>", 250)
    cmd(s, rd, "DATA", 354)
    s.sendall(b"Subject: odd replies\r\n\r\nHello.\r\n.\r\n")
    # The answer has no reply code: read lines until the server closes.
    while True:
        ln = rd.line()
        if not ln:
            break
        sys.stderr.write("S: " + ln.decode("latin-1"))
    s.close()


def mode_early(host, port, bind, _hold):
    s = connect(host, port, bind)
    s.settimeout(5)
    s.sendall(b"EHLO early-client.example.test\r\n")
    try:
        while s.recv(4096):
            pass
    except (socket.timeout, ConnectionError):
        pass
    s.close()


def main():
    args = sys.argv[1:]
    bind, hold = None, 3.0
    if "--bind" in args:
        i = args.index("--bind")
        bind = args[i + 1]
        del args[i:i + 2]
    if "--hold" in args:
        i = args.index("--hold")
        hold = float(args[i + 1])
        del args[i:i + 2]
    if len(args) != 3:
        sys.exit(__doc__)
    mode, host, port = args[0], args[1], int(args[2])
    fn = {"bdat": mode_bdat, "idle": mode_idle, "maxmsg": mode_maxmsg,
          "hold": mode_hold, "large": mode_large,
          "odd": mode_odd, "early": mode_early}.get(mode)
    if fn is None:
        sys.exit("smtp_client.py: unknown mode %s" % mode)
    fn(host, port, bind, hold)


if __name__ == "__main__":
    main()
