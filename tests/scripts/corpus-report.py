#!/usr/bin/python3
"""corpus-report.py: run tests/data/replies.tsv through smtpscope --explain -j
and print, for review, the rows whose cause is not one the enhanced code
alone would give (the evidence says "would say ..."), and the rows where the
engine and the expected cause differ (known, argued ones have an 8th column).

    tests/scripts/corpus-report.py [SMTPSCOPE]   (default ./smtpscope)
"""
import json
import os
import subprocess
import sys

top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
binary = sys.argv[1] if len(sys.argv) > 1 else "./smtpscope"
overrides, differs, families = [], [], {}
for line in open(os.path.join(top, "tests", "data", "replies.tsv"), encoding="utf-8"):
    line = line.rstrip("\n")
    if not line or line.startswith("#") or line.startswith("family\t"):
        continue
    f = line.split("\t")
    fam, _src, code, enh, ans, text, cause = f[:7]
    want = f[7] if len(f) > 7 else cause
    families[fam] = families.get(fam, 0) + 1
    args = [binary, "--explain", "-j"]
    if ans != "-":
        args += ["--after", ans]
    args += ["--", code] + ([enh] if enh != "-" else []) + [text]
    out = subprocess.run(args, capture_output=True, text=True, check=False)
    d = json.loads(out.stdout)["diagnosis"]
    said = [e for e in d["evidence"] if "would say" in e]
    if said:
        overrides.append("%-11s %s %-7s %-14s %s | %s" % (
            fam, code, enh, d["cause"], text[:60], said[0]))
    if d["cause"] != cause:
        differs.append("%-11s %s %-7s expected %-14s engine %-14s%s %s" % (
            fam, code, enh, cause, d["cause"],
            " (argued)" if d["cause"] == want else " (UNEXPECTED)", text[:50]))
print("rows by family:", ", ".join("%s %d" % kv for kv in sorted(families.items())))
print("total %d\n" % sum(families.values()))
print("causes the enhanced code alone would not give (%d):" % len(overrides))
print("\n".join(overrides))
print("\nengine and expected cause differ (%d):" % len(differs))
print("\n".join(differs))
