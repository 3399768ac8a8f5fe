#!/bin/sh
# Conformance with tshark's SMTP dissector on the public captures.
#
# For every capture listed in ../shared/captures/public/SOURCES.md:
#   1. "runs cleanly": smtpscope -r FILE -j exits 0, its last line is the
#      stats event, and stderr has no sanitizer report;
#   2. "replies match tshark": per TCP session, the sequence of
#      (reply code, command it answers) printed by smtpscope equals the one
#      derived from tshark (commands and replies of the stream paired in
#      order), apart from the differences listed, with their reason, in
#      KNOWN-DIFFERENCES.md next to this script.
# tshark runs once per file; files are processed two at a time.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${SMTPSCOPE:=${top_builddir:-.}/smtpscope}"
. "$top_srcdir/tests/lib.sh"
tap_need_public
if [ ! -x "$SMTPSCOPE" ]; then
	echo "1..0 # SKIP $SMTPSCOPE not built"
	exit 0
fi

# The TLS layer would read keys from the environment; compare cleartext only.
unset SSLKEYLOGFILE

# While the capture module is still a stub there is nothing to compare.
if "$SMTPSCOPE" -r "$pub/sv-smtp-fw-simple-session.pcap" -j 2>&1 >/dev/null |
    grep -q 'not implemented'; then
	echo "1..0 # SKIP smtpscope cannot read captures yet (not implemented)"
	exit 0
fi

exec /usr/bin/python3 - "$pub" "$SMTPSCOPE" \
    "$top_srcdir/tests/conformance/KNOWN-DIFFERENCES.md" <<'PYEOF'
import concurrent.futures
import json
import os
import re
import subprocess
import sys

pub, smtpscope, known_path = sys.argv[1:4]
DEFAULT_PORTS = [25, 465, 587]


def listed_captures():
    """(file, [decode-as ports], corrupt) for every capture row of
    SOURCES.md; corrupt: capinfos stopped on an error in that file."""
    out = []
    with open(os.path.join(pub, "SOURCES.md"), encoding="utf-8") as f:
        for line in f:
            m = re.match(r"\|\s*`([^`]+\.pcap(?:ng)?)`\s*\|", line)
            if not m:
                continue
            ports = [int(p) for p in
                     re.findall(r"\[decode-as[^\]]*?tcp\.port==(\d+)", line)]
            corrupt = "An error occurred after reading" in line
            if os.path.exists(os.path.join(pub, m.group(1))):
                out.append((m.group(1), sorted(set(ports)), corrupt))
    return out


def load_known():
    """{(file, stream or '*'): reason} from KNOWN-DIFFERENCES.md."""
    known = {}
    try:
        f = open(known_path, encoding="utf-8")
    except OSError:
        return known
    with f:
        for line in f:
            parts = line.split(None, 2)
            if len(parts) < 3 or not re.search(r"\.pcap(ng)?$", parts[0]):
                continue
            known[(parts[0], parts[1])] = parts[2].strip()
    return known


def endpoint(addr, port):
    return "[%s]:%s" % (addr, port) if ":" in addr else "%s:%s" % (addr, port)


def last(field):
    return field.split("#")[-1] if field else ""


def tshark_sessions(path, ports):
    """{stream: {"key": (ep, ep), "seq": [(code, answers)]}} from tshark."""
    cmd = ["tshark", "-n", "-r", path]
    for p in ports:
        cmd += ["-d", "tcp.port==%d,smtp" % p]
    cmd += ["-Y", "smtp || tcp.flags.syn == 1", "-T", "fields",
            "-e", "tcp.stream", "-e", "ip.src", "-e", "ipv6.src",
            "-e", "tcp.srcport", "-e", "ip.dst", "-e", "ipv6.dst",
            "-e", "tcp.dstport", "-e", "tcp.flags.syn",
            "-e", "smtp.req.command", "-e", "smtp.response.code",
            "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=#"]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
    streams = {}
    for line in r.stdout.decode("utf-8", "replace").splitlines():
        f = line.split("\t")
        if len(f) < 10 or not f[0]:
            continue
        stream = last(f[0])
        src = endpoint(last(f[1]) or last(f[2]), last(f[3]))
        dst = endpoint(last(f[4]) or last(f[5]), last(f[6]))
        s = streams.setdefault(stream, {"syn": False, "events": [],
                                        "client": None, "server": None})
        cmds = [c for c in f[8].split("#") if c]
        codes = [c for c in f[9].split("#") if c]
        if f[7].split("#")[-1] == "1" and not cmds and not codes:
            if not s["events"]:
                s["syn"] = True
            continue
        if cmds and s["client"] is None:
            s["client"], s["server"] = src, dst
        if codes and s["client"] is None:
            s["client"], s["server"] = dst, src
        s["events"] += [("C", verb(c)) for c in cmds]
        s["events"] += [("S", int(c)) for c in codes if c.isdigit()]
    out = {}
    for stream, s in streams.items():
        if s["client"] is None:
            continue
        out[stream] = {"key": (s["client"], s["server"]),
                       "seq": pair(s["events"], s["syn"])}
    return out


# tshark 4.0 keeps only the first four letters of a command.
LONG_VERBS = {"STAR": "STARTTLS", "XCLI": "XCLIENT", "XFOR": "XFORWARD"}


def verb(c):
    c = c.upper()
    return LONG_VERBS.get(c, c)


def pair(events, syn):
    """Pair replies with commands in order, the way a pipelining server
    answers them: greeting first, 354 then the reply to the message,
    334 challenges then the final AUTH reply."""
    fifo = []
    seq = []
    greeted = not syn
    for kind, v in events:
        if kind == "C":
            fifo.append(v)
            continue
        if not greeted:
            greeted = True
            seq.append((v, "CONNECT"))
            continue
        ans = fifo.pop(0) if fifo else None
        if ans == "DATA" and v == 354:
            fifo.insert(0, "DATA-END")
        elif ans == "AUTH" and v == 334:
            fifo.insert(0, "AUTH")
        seq.append((v, ans))
    return seq


def smtpscope_run(path, ports, corrupt):
    cmd = [smtpscope, "-r", path, "-j"]
    if ports:
        cmd += ["-P", ",".join(str(p) for p in
                               sorted(set(DEFAULT_PORTS + ports)))]
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60)
    except subprocess.TimeoutExpired:
        return None, "timed out after 60 s", []
    err = r.stderr.decode("utf-8", "replace")
    lines = r.stdout.decode("utf-8", "replace").splitlines()
    events = []
    bad_json = 0
    for line in lines:
        try:
            events.append(json.loads(line))
        except ValueError:
            bad_json += 1
    problems = []
    errlines = err.strip().splitlines()
    if corrupt:
        # A capture that breaks off: one error line naming the file and
        # exit status 1, after everything read before the break.
        if r.returncode != 1 or len(errlines) != 1 or \
                not errlines[0].startswith("smtpscope: "):
            problems.append("exit status %d with %d lines on stderr, "
                            "expected 1 and one error line"
                            % (r.returncode, len(errlines)))
    elif r.returncode != 0:
        problems.append("exit status %d" % r.returncode)
    if not events or events[-1].get("event") != "stats":
        problems.append("last line is not the stats event")
    if bad_json:
        problems.append("%d lines are not JSON" % bad_json)
    for pat in ("runtime error:", "AddressSanitizer", "LeakSanitizer",
                "UndefinedBehaviorSanitizer"):
        if pat in err:
            problems.append("sanitizer: " + pat)
            break
    return events, "; ".join(problems), errlines[:5]


def our_sessions(events):
    """[(key, seq)] in order of session number, for sessions with replies."""
    sess = {}
    for e in events:
        if e.get("event") != "reply":
            continue
        s = sess.setdefault(e.get("session"),
                            {"key": (e.get("client"), e.get("server")),
                             "seq": []})
        s["seq"].append((e.get("code"), e.get("answers")))
    return [sess[k] for k in sorted(sess, key=lambda x: (x is None, x))]


def fmt(seq):
    return " ".join("%s/%s" % (c, a if a is not None else "-") for c, a in seq)


def compare(name, ports, corrupt, known):
    path = os.path.join(pub, name)
    events, problems, err = smtpscope_run(path, ports, corrupt)
    try:
        theirs = tshark_sessions(path, ports)
    except (subprocess.SubprocessError, OSError) as e:
        return problems, err, ["tshark failed: %s" % e], [], [], [], []
    ours = our_sessions(events or [])
    # Match sessions by their endpoints, in order when a pair repeats.
    by_key = {}
    for s in ours:
        by_key.setdefault(frozenset(s["key"]), []).append(s)
    diffs, known_hits, bugs, fixed, notes = [], [], [], [], []

    def classify(msg, reason):
        if not reason:
            diffs.append(msg)
        elif reason.startswith("BUG"):
            bugs.append(msg + "\n    " + reason)
        else:
            known_hits.append(msg + "\n    known: " + reason)

    for stream in sorted(theirs, key=int):
        t = theirs[stream]
        cand = by_key.get(frozenset(t["key"]), [])
        o = cand.pop(0) if cand else None
        oseq = o["seq"] if o else []
        if o and tuple(o["key"]) != t["key"]:
            notes.append("stream %s: client/server swapped (ours %s > %s)"
                         % (stream, o["key"][0], o["key"][1]))
        if oseq == t["seq"]:
            if known.get((name, stream), "").startswith("BUG"):
                fixed.append("stream %s: listed as a bug, now right" % stream)
            elif (name, stream) in known:
                notes.append("stream %s is listed but no longer differs"
                             % stream)
            continue
        msg = ("stream %s %s > %s\n    ours:   %s\n    tshark: %s"
               % (stream, t["key"][0], t["key"][1],
                  fmt(oseq) if o else "(no session with replies)",
                  fmt(t["seq"])))
        classify(msg, known.get((name, stream)) or known.get((name, "*")))
    for key, rest in by_key.items():
        for o in rest:
            msg = ("session %s > %s (tshark: no SMTP)\n    ours:   %s"
                   % (o["key"][0], o["key"][1], fmt(o["seq"])))
            classify(msg, known.get((name, "-")) or known.get((name, "*")))
    return problems, err, diffs, known_hits, bugs, fixed, notes


def main():
    caps = listed_captures()
    known = load_known()
    names = {c[0] for c in caps}
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
        futs = [ex.submit(compare, c, p, k, known) for c, p, k in caps]
        results = [f.result() for f in futs]
    print("1..%d" % (2 * len(caps)))
    n = 0
    for (name, _, _), (problems, err, diffs, known_hits, bugs, fixed,
                       notes) in \
            zip(caps, results):
        n += 1
        if problems:
            print("not ok %d - %s: runs cleanly: %s" % (n, name, problems))
            for line in err:
                print("# stderr: " + line)
        else:
            print("ok %d - %s: runs cleanly" % (n, name))
        n += 1
        if diffs:
            print("not ok %d - %s: replies match tshark (%d unlisted "
                  "differences)" % (n, name, len(diffs)))
        elif bugs:
            # A bug of ours, listed while it waits for its fix: an
            # expected failure, which turns into an unexpected pass (and
            # fails the run) once fixed, so that the line gets removed.
            print("not ok %d - %s: replies match tshark # TODO %d listed "
                  "bugs" % (n, name, len(bugs)))
        elif fixed:
            print("ok %d - %s: replies match tshark # TODO a listed bug "
                  "no longer shows: remove it from KNOWN-DIFFERENCES.md"
                  % (n, name))
        elif known_hits:
            print("ok %d - %s: replies match tshark, apart from %d known "
                  "differences" % (n, name, len(known_hits)))
        else:
            print("ok %d - %s: replies match tshark" % (n, name))
        for d in diffs + bugs + fixed + known_hits:
            for line in d.splitlines():
                print("#   " + line)
        for line in notes:
            print("#   note: " + line)
    for f, _ in known:
        if f not in names:
            print("# note: KNOWN-DIFFERENCES.md lists %s, which is not a "
                  "capture" % f)


main()
PYEOF
