#!/usr/bin/env python3
"""modgraph.py: which module of src/ calls which, from the built library.

Usage: tools/modgraph.py BUILDDIR [--dot]

Reads the symbol tables of BUILDDIR/libsmtpscope.a (nm -P): a module is one
object file (src/NAME.c); module A depends on B when A has an undefined
symbol that B defines.  Prints one line per module, "A -> B C ...", then
every cycle (a strongly connected component of more than one module) and
exits 1 when there is one, 0 otherwise.  With --dot, prints the graph for
graphviz instead.  The generated tables (rules_builtin, lexicon_builtin)
are leaves like any other module.
"""
import collections
import os
import re
import subprocess
import sys


def module_of(member):
    """'libsmtpscope_a-ui_list.o' -> 'ui_list'."""
    name = os.path.basename(member)
    name = re.sub(r"\.o$", "", name)
    return re.sub(r"^libsmtpscope_a-", "", name)


def read_graph(lib):
    out = subprocess.run(["nm", "-P", lib], check=True,
                         capture_output=True, text=True).stdout
    defined = {}
    undefined = collections.defaultdict(set)
    mod = None
    for line in out.splitlines():
        # An archive member starts a block: "lib.a[member.o]:"
        m = re.match(r"^.*\[(.+\.o)\]:$", line)
        if m:
            mod = module_of(m.group(1))
            continue
        fields = line.split()
        if mod is None or len(fields) < 2:
            continue
        sym, kind = fields[0], fields[1]
        if kind == "U":
            undefined[mod].add(sym)
        elif kind in "TDBRCVW" and kind not in "vw":
            defined.setdefault(sym, mod)
        if mod not in undefined:
            undefined[mod] = undefined[mod]
    graph = {m: set() for m in undefined}
    for m, syms in undefined.items():
        for s in syms:
            d = defined.get(s)
            if d is not None and d != m:
                graph[m].add(d)
    return graph


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, comps = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return comps


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__.strip().splitlines()[2])
    lib = os.path.join(sys.argv[1], "libsmtpscope.a")
    graph = read_graph(lib)
    if "--dot" in sys.argv[2:]:
        print("digraph smtpscope {")
        for m in sorted(graph):
            for d in sorted(graph[m]):
                print('  "%s" -> "%s";' % (m, d))
        print("}")
        return 0
    for m in sorted(graph):
        print("%s -> %s" % (m, " ".join(sorted(graph[m]))))
    found = cycles(graph)
    for c in found:
        print("cycle: " + " ".join(c))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
