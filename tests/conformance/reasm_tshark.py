"""Compare streamdump's reassembled streams with tshark's follow,tcp,raw.

Called by reasm_tshark.sh: argv = PUBLIC_DIR STREAMDUMP.  Prints TAP, one
line per capture.  Accepted differences are documented in
REASM-DIFFERENCES.md; classify() recognises each of them, and anything it
does not recognise is a failure.
"""

import concurrent.futures
import os
import re
import subprocess
import sys
import tempfile

PUBLIC, STREAMDUMP = sys.argv[1], sys.argv[2]
VERBOSE = os.environ.get("REASM_TSHARK_VERBOSE") == "1"
BASE_PORTS = {25, 465, 587, 2525, 1224}


def smtp_ports():
    """The standard ports plus every decode-as port SOURCES.md names."""
    ports = set(BASE_PORTS)
    try:
        with open(os.path.join(PUBLIC, "SOURCES.md"), encoding="utf-8") as f:
            for m in re.finditer(r"tcp\.port==(\d+)", f.read()):
                ports.add(int(m.group(1)))
    except OSError:
        pass
    return sorted(ports)


PORTS = smtp_ports()
PORTS_ARG = ",".join(str(p) for p in PORTS)


def run(args):
    return subprocess.run(args, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, check=False).stdout


def tshark_streams(path):
    out = run(["tshark", "-r", path, "-T", "fields", "-E", "separator=,",
               "-e", "tcp.stream", "-e", "tcp.srcport", "-e", "tcp.dstport",
               "-Y", "tcp"])
    ids = set()
    for line in out.decode("ascii", "replace").splitlines():
        parts = line.split(",")
        if len(parts) != 3 or not parts[0]:
            continue
        try:
            sid, sp, dp = int(parts[0]), int(parts[1]), int(parts[2])
        except ValueError:
            continue
        if sp in PORTS or dp in PORTS:
            ids.add(sid)
    return sorted(ids)


def tshark_follow(path, ids):
    """stream id -> (node0, node1, bytes0, bytes1)"""
    if not ids:
        return {}
    args = ["tshark", "-r", path, "-q"]
    for i in ids:
        args += ["-z", "follow,tcp,raw,%d" % i]
    out = run(args).decode("ascii", "replace")
    res = {}
    cur = None
    for line in out.split("\n"):
        if line.startswith("Filter: tcp.stream eq "):
            cur = {"id": int(line.split()[-1]), "n": [None, None],
                   "b": [bytearray(), bytearray()]}
            res[cur["id"]] = cur
        elif cur is None:
            continue
        elif line.startswith("Node 0: "):
            cur["n"][0] = line[8:].strip()
        elif line.startswith("Node 1: "):
            cur["n"][1] = line[8:].strip()
        elif line.startswith("====="):
            cur = None
        elif re.fullmatch(r"\t?[0-9a-fA-F]+", line):
            node = 1 if line.startswith("\t") else 0
            cur["b"][node] += bytes.fromhex(line.strip())
    return {k: (v["n"][0], v["n"][1], bytes(v["b"][0]), bytes(v["b"][1]))
            for k, v in res.items()}


def ours(path, tmp):
    """Our flows in id order: dicts with endpoints, bytes and gaps."""
    subprocess.run([STREAMDUMP, "-P", PORTS_ARG, "-o", tmp, path],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=False)
    flows = []
    try:
        with open(os.path.join(tmp, "index"), encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        fid, client, server, start, reason = line.split()[:5]
        fl = {"id": int(fid), "client": client, "server": server,
              "start": start, "reason": reason, "gaps": []}
        for d in ("client", "server"):
            with open(os.path.join(tmp, "%s.%s" % (fid, d)), "rb") as f:
                fl[d + "_bytes"] = f.read()
        with open(os.path.join(tmp, fid + ".gaps"), encoding="utf-8") as f:
            for g in f.read().splitlines():
                d, off, n = g.split()
                fl["gaps"].append((d, int(off), int(n)))
        flows.append(fl)
    flows.sort(key=lambda x: x["id"])
    return flows


def tshark_marker(n):
    """What tshark 4.0 writes in place of n bytes missing from a capture."""
    return b"[%d bytes missing in capture file]\x00" % n


def classify(mine, theirs, gaps, d):
    """None when equal, else (accepted?, description).

    Accepted (REASM-DIFFERENCES.md):
      1. where we report a gap of N bytes, tshark writes a text marker
         "[N bytes missing in capture file]" and a NUL byte;
      2. a gap at the very end of a direction (bytes the peer acknowledged
         but that are not in the capture) has no tshark counterpart.
    """
    if mine == theirs:
        return None
    mygaps = [g for g in gaps if g[0] == d]
    n = min(len(mine), len(theirs))
    first = next((i for i in range(n) if mine[i] != theirs[i]), n)
    desc = "%s: ours %d bytes, tshark %d, first difference at %d, gaps %s" \
        % (d, len(mine), len(theirs), first, mygaps)
    if mygaps:
        marked, pos, rules = bytearray(), 0, set()
        for _, off, cnt in mygaps:
            marked += mine[pos:off]
            pos = off
            if off >= len(mine):
                rules.add("2 (trailing gap of %d)" % cnt)
            else:
                marked += tshark_marker(cnt)
                rules.add("1 (gap marker)")
        marked += mine[pos:]
        if bytes(marked) == theirs:
            return (True, "%s: rule %s" % (d, ", ".join(sorted(rules))))
    return (False, desc)


def check_capture(name):
    path = os.path.join(PUBLIC, name)
    ids = tshark_streams(path)
    follow = tshark_follow(path, ids)
    with tempfile.TemporaryDirectory(prefix="reasm-tshark-") as tmp:
        flows = ours(path, tmp)
    if flows is None:
        return name, False, ["streamdump failed"], 0, 0, 0
    # Pair flows and tshark streams by 4-tuple, in order of appearance.
    by_tuple = {}
    for sid in ids:
        n0, n1, _, _ = follow.get(sid, (None, None, b"", b""))
        by_tuple.setdefault(frozenset((n0, n1)), [[], []])[1].append(sid)
    for fl in flows:
        by_tuple.setdefault(frozenset((fl["client"], fl["server"])),
                            [[], []])[0].append(fl)
    notes, ok, agree, accepted, total = [], True, 0, 0, 0
    for key, (mine, theirs) in sorted(by_tuple.items(), key=str):
        for i in range(max(len(mine), len(theirs))):
            total += 1
            if i >= len(mine) or i >= len(theirs):
                what = "only tshark: stream %s" % theirs[i] if i >= len(mine) \
                    else "only ours: flow %d" % mine[i]["id"]
                notes.append(what)
                ok = False
                continue
            fl, sid = mine[i], theirs[i]
            n0, n1, b0, b1 = follow[sid]
            tb = {n0: b0, n1: b1}
            res = [classify(fl["client_bytes"], tb.get(fl["client"], b""),
                            fl["gaps"], "client"),
                   classify(fl["server_bytes"], tb.get(fl["server"], b""),
                            fl["gaps"], "server")]
            res = [r for r in res if r is not None]
            if not res:
                agree += 1
                if VERBOSE:
                    notes.append("flow %d = stream %d: equal" % (fl["id"], sid))
                continue
            if all(r[0] for r in res):
                accepted += 1
            else:
                ok = False
            notes.append("flow %d vs stream %d: %s" % (
                fl["id"], sid, "; ".join(
                    ("accepted " if r[0] else "") + r[1] for r in res)))
    return name, ok, notes, agree, accepted, total


def main():
    names = sorted(n for n in os.listdir(PUBLIC)
                   if n.endswith((".pcap", ".pcapng")))
    print("1..%d" % len(names))
    totals = [0, 0, 0]
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
        results = list(ex.map(check_capture, names))
    for i, (name, ok, notes, agree, acc, total) in enumerate(results, 1):
        totals[0] += agree
        totals[1] += acc
        totals[2] += total
        print("%s %d - %s: %d/%d streams equal, %d accepted differences"
              % ("ok" if ok else "not ok", i, name, agree, total, acc))
        for n in notes:
            print("# " + n)
    print("# total: %d streams, %d equal to tshark, %d accepted differences"
          % (totals[2], totals[0], totals[1]))


main()
