#!/usr/bin/python3
"""A minimal IMAP responder: non-SMTP traffic for smtpscope's -P any test.

Usage: imap_scripted.py PORT [HOST]

Greets with an untagged OK (RFC 9051 7.1.1), answers CAPABILITY, LIST and
LOGOUT as an IMAP server would, and every other tagged command with OK.
It stores nothing.  Prints "ready" once it listens; stops on SIGTERM.
"""

import asyncio
import signal
import sys


async def client(reader, writer):
    def send(*lines):
        writer.write("".join(l + "\r\n" for l in lines).encode("ascii"))

    send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] imap.example.test ready")
    while True:
        line = await reader.readline()
        if not line:
            break
        parts = line.decode("ascii", "replace").strip().split(" ", 2)
        if len(parts) < 2:
            continue
        tag, cmd = parts[0], parts[1].upper()
        if cmd == "CAPABILITY":
            send("* CAPABILITY IMAP4rev1 AUTH=PLAIN", tag + " OK done")
        elif cmd == "LIST":
            send('* LIST () "/" INBOX', tag + " OK LIST done")
        elif cmd == "LOGOUT":
            send("* BYE logging out", tag + " OK LOGOUT done")
            await writer.drain()
            break
        else:
            send(tag + " OK " + cmd + " done")
        await writer.drain()
    writer.close()


async def main(host, port):
    server = await asyncio.start_server(client, host, port)
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, lambda: done.done() or done.set_result(0))
    await done
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: imap_scripted.py PORT [HOST]")
    asyncio.run(main(sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1",
                     int(sys.argv[1])))
