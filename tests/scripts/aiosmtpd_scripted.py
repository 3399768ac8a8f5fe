#!/usr/bin/python3
"""Scripted SMTP servers for smtpscope's capture fixtures.

Usage: aiosmtpd_scripted.py SCENARIO PORT [HOST]

The server calls itself $SCRIPTED_HOSTNAME (default mx2.example.test).
Prints "ready" on stdout once it listens, then serves until SIGTERM/SIGINT.
Run with Debian's /usr/bin/python3 (python3-aiosmtpd).

Two kinds of server live here:

* aiosmtpd-based (the real aiosmtpd SMTP state machine; we only answer
  from its hooks): "auth", "quota", "dataend452", "multiline".
* a small raw asyncio server for the cases aiosmtpd cannot express,
  because they must send a 421 and hang up at a precise point (at the
  greeting, in answer to MAIL, after the end of data, after N messages):
  "greet421", "mail421", "multiline421", "maxmsg", "busy"; and "odd",
  a server that answers with codes outside RFC 5321's list (400, 402,
  472), echoes a NUL byte of the client's RCPT in its reply, and ends the
  message with a line that has an enhanced code but no reply code (the
  way Yahoo's servers did; seen in suricata-verify's smtp-errors capture),
  and "plain", a plain server for a client that speaks TLS to it.

The reply texts imitate what real servers say (Exchange, Exim, Gmail,
Dovecot) so the diagnosis rules can recognise them; the facts behind them
are in ../shared/reference/reply-variants.tsv.
"""

import asyncio
import os
import signal
import sys

# The name the server gives itself (make-demo.sh runs several of them).
HOSTNAME = os.environ.get("SCRIPTED_HOSTNAME", "mx2.example.test")

# ---------------------------------------------------------------- aiosmtpd


def run_aiosmtpd(scenario, host, port):
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address,
                              rcpt_options):
            local = address.split("@", 1)[0].lower()
            if scenario == "quota" and local.startswith("full"):
                # Over-quota mailbox, the way Gmail words it.
                return ("452 4.2.2 The email account that you tried to "
                        "reach is over quota. Please direct the recipient "
                        "to https://support.example.test/quota")
            if scenario == "multiline" and local.startswith("nobody"):
                # A multi-line permanent rejection of one recipient.
                return ("550-5.1.1 The email account that you tried to "
                        "reach does not exist.\r\n"
                        "550-5.1.1 Please try double-checking the "
                        "recipient's email address\r\n"
                        "550 5.1.1 for typos or unnecessary spaces.")
            envelope.rcpt_tos.append(address)
            return "250 2.1.5 OK"

        async def handle_DATA(self, server, session, envelope):
            if scenario == "dataend452":
                # Storage shortage noticed only once the body is in.
                return ("452 Requested action not taken: insufficient "
                        "system storage")
            return "250 2.0.0 OK: queued as 7F3A2B91C0"

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login == b"alice"
              and auth_data.password == b"s3cret")
        # handled=False: let aiosmtpd send its own 535 on failure.
        return AuthResult(success=ok, handled=False)

    kwargs = {}
    if scenario == "auth":
        # AUTH without TLS: test only, on loopback.
        kwargs = dict(authenticator=authenticator, auth_require_tls=False)
    ctl = Controller(Handler(), hostname=host, port=port,
                     server_hostname=HOSTNAME, ident="ESMTP aiosmtpd",
                     **kwargs)
    # Block the stop signals before aiosmtpd starts its thread, so that the
    # thread inherits the mask and sigwait() below is the only receiver.
    sigs = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    ctl.start()
    print("ready", flush=True)
    signal.sigwait(sigs)
    ctl.stop()


# ---------------------------------------------------------------- raw server

GREET_OK = "220 %s ESMTP ready" % HOSTNAME
EHLO_LINES = [HOSTNAME, "PIPELINING", "SIZE 10240000", "8BITMIME",
              "ENHANCEDSTATUSCODES"]


class Session:
    """One scripted SMTP session on the raw server."""

    def __init__(self, scenario, reader, writer, conn_no):
        self.scenario = scenario
        self.r = reader
        self.w = writer
        self.conn_no = conn_no
        self.messages = 0
        self.in_tx = False
        self.peer = writer.get_extra_info("peername")[0]

    async def send(self, *lines):
        self.w.write("".join(l + "\r\n" for l in lines).encode("latin-1"))
        await self.w.drain()

    async def hangup(self, *lines):
        await self.send(*lines)
        self.w.close()
        try:
            await self.w.wait_closed()
        except ConnectionError:
            pass

    async def read_data(self):
        """Read a DATA body up to the lone dot; never kept, just counted."""
        n = 0
        while True:
            line = await self.r.readline()
            if not line:
                return None
            if line in (b".\r\n", b".\n"):
                return n
            n += len(line)

    async def odd_rcpt(self, text):
        """Scenario "odd": the recipient's local part picks the reply."""
        local = text.split("<", 1)[-1].split("@", 1)[0].lower()
        if local == "r400":
            await self.send("400 Temporary failure, try again")
        elif local == "r402":
            await self.send("402 Mailbox temporarily unavailable")
        elif local == "r472":
            await self.send("472 %s DNS A-record is empty" % local)
        elif "\0" in text:
            # The address, NUL included, echoed back.
            await self.send("501 5.1.3 Bad recipient address syntax: %s"
                            % text.split(":", 1)[-1])
        else:
            await self.send("250 2.1.5 Recipient OK")

    async def run(self):
        sc = self.scenario
        if sc == "greet421":
            # Exchange draining its transport: refused before the banner.
            return await self.hangup("421 4.3.2 Service not available")
        if sc == "busy":
            # Exim at smtp_accept_max: refused instead of the banner.
            return await self.hangup(
                "421 %s Too many concurrent SMTP connections; "
                "please try again later." % HOSTNAME)
        await self.send(GREET_OK)
        while True:
            line = await self.r.readline()
            if not line:
                break
            text = line.decode("latin-1").rstrip("\r\n")
            verb = text.split(" ", 1)[0].upper()
            if sc == "plain" and not text[:4].isalpha():
                # A TLS record read as a line: what Postfix says to it.
                await self.send("502 5.5.2 Error: command not recognized")
                continue
            if verb == "RCPT" and sc == "odd":
                await self.odd_rcpt(text)
                continue
            if verb == "EHLO":
                lines = EHLO_LINES
                await self.send(*(["250-" + l for l in lines[:-1]] +
                                  ["250 " + lines[-1]]))
            elif verb == "HELO":
                await self.send("250 " + HOSTNAME)
            elif verb == "MAIL":
                if sc == "mail421":
                    return await self.hangup(
                        "421 4.3.2 Service not available")
                if sc == "maxmsg" and self.messages >= 3:
                    # Exim's smtp_accept_max_per_connection reached.
                    return await self.hangup(
                        "421 too many messages in this connection")
                self.in_tx = True
                await self.send("250 2.1.0 Sender OK")
            elif verb == "RCPT":
                await self.send("250 2.1.5 Recipient OK")
            elif verb == "DATA":
                await self.send("354 Start mail input; end with <CRLF>.<CRLF>")
                n = await self.read_data()
                if n is None:
                    break
                self.in_tx = False
                if sc == "odd":
                    # Yahoo's deferral: an enhanced code and no reply code.
                    return await self.hangup(
                        "4.7.0 [TSS04] Messages from %s temporarily "
                        "deferred due to user complaints - 4.16.55.1; "
                        "see https://help.example.test/postmaster"
                        % self.peer)
                if sc == "multiline421":
                    # Gmail-style reputation rate limit, as a 3-line 421.
                    return await self.hangup(
                        "421-4.7.0 [%s] Our system has detected an "
                        "unusual rate of" % self.peer,
                        "421-4.7.0 unsolicited mail originating from your "
                        "IP address. To protect our",
                        "421 4.7.0 users from spam, mail sent from your IP "
                        "address has been temporarily rate limited.")
                self.messages += 1
                await self.send("250 2.0.0 OK id=%d-%04d" %
                                (self.conn_no, self.messages))
            elif verb == "RSET":
                self.in_tx = False
                await self.send("250 2.0.0 Reset OK")
            elif verb == "NOOP":
                await self.send("250 2.0.0 OK")
            elif verb == "QUIT":
                return await self.hangup("221 2.0.0 %s closing connection"
                                         % HOSTNAME)
            else:
                await self.send("500 5.5.1 Command unrecognized")
        self.w.close()


async def raw_main(scenario, host, port):
    count = [0]

    async def client(reader, writer):
        count[0] += 1
        try:
            await Session(scenario, reader, writer, count[0]).run()
        except ConnectionError:
            pass

    server = await asyncio.start_server(client, host, port)
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, lambda: done.done() or done.set_result(0))
    await done
    server.close()
    await server.wait_closed()


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: aiosmtpd_scripted.py SCENARIO PORT [HOST]")
    scenario, port = sys.argv[1], int(sys.argv[2])
    host = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"
    if scenario in ("auth", "quota", "dataend452", "multiline"):
        run_aiosmtpd(scenario, host, port)
    elif scenario in ("greet421", "mail421", "multiline421", "maxmsg",
                      "busy", "odd", "plain"):
        asyncio.run(raw_main(scenario, host, port))
    else:
        sys.exit("aiosmtpd_scripted.py: unknown scenario %s" % scenario)


if __name__ == "__main__":
    main()
