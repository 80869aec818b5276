#!/usr/bin/env python3
"""ci/insnprof.py - where a benchmark's instructions go, per function.

    ci/insnprof.py --prog /bin/bench_pipe --per 7500 [--top 30] [--smp 1]
    ci/insnprof.py --prog /bin/bench_pipe --per 7500 --annotate thread_poll

Boots Pollux under `-icount shift=0` twice with the insnprof plugin
(ci/insnprof.c, built to build/insnprof.so): once with bootargs
`bench benchprog=PROG` and once with a program that does not exist (the
same boot, no benchmark).  The difference, charged to kernel functions
(build/pollux.elf) and to the program's own functions (build/user/bin/NAME),
is the benchmark's cost; divided by --per (the operations the program
makes: e.g. 15 rounds x 500 round trips = 7500) it reads in instructions
per operation.  Setup (exec, fork, thread creation) is in the total too,
small next to thousands of operations.  Not part of make test.
"""
import argparse
import bisect
import collections
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qemu   # noqa: E402
from qemu import ROOT   # noqa: E402


def symbols(elf, nm):
    """Sorted (address, name) of the text symbols of `elf`."""
    out = subprocess.run([nm, "-n", elf], capture_output=True, text=True).stdout
    syms = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tTwW":
            syms.append((int(parts[0], 16), parts[2]))
    return syms


def profile(kernel, initrd, opensbi, plugin, smp, mem, bootargs):
    """[(block address, instructions, executions)] for one boot."""
    with tempfile.NamedTemporaryFile(suffix=".prof", delete=False) as f:
        path = f.name
    status, out, _ = qemu.run(kernel, opensbi, initrd, smp, mem, bootargs, icount=True,
                              timeout=900, extra=["-plugin", "%s,out=%s" % (plugin, path)])
    if status is None:
        sys.exit("insnprof: the guest did not finish")
    blocks = []
    with open(path) as f:
        for line in f:
            a, n, runs = line.split()
            blocks.append((int(a, 16), int(n), int(runs)))
    os.unlink(path)
    return blocks, out


def by_function(counts, tables):
    """{function: instructions}; tables is [(lo, hi, label, syms)]."""
    funcs = collections.Counter()
    for a, n, runs in counts:
        c = n * runs
        name = "?"
        for lo, hi, label, syms in tables:
            if lo <= a < hi:
                i = bisect.bisect_right(syms, (a, "\xff")) - 1
                name = (label + syms[i][1]) if i >= 0 else label + "?"
                break
        else:
            name = "[opensbi]" if 0x80000000 <= a < 0x80200000 else "[?]"
        funcs[name] += c
    return funcs


def annotate(func, elf, objdump, counts, base, per, lines=False):
    """Print `func`'s disassembly with each instruction's executions per operation."""
    out = subprocess.run([objdump, "-d", "--no-show-raw-insn", elf], capture_output=True,
                         text=True).stdout
    insns, inside = [], False
    for line in out.splitlines():
        if line.endswith(">:"):
            inside = line.split("<", 1)[1][:-2] == func
            continue
        if inside and ":" in line and line.strip():
            a, text = line.split(":", 1)
            try:
                insns.append((int(a.strip(), 16), text.strip()))
            except ValueError:
                pass
    index = {a: i for i, (a, _) in enumerate(insns)}
    runs = [0] * len(insns)
    for blocks, sign in ((counts, 1), (base, -1)):
        for a, n, r in blocks:
            if a in index:
                for i in range(index[a], min(index[a] + n, len(insns))):
                    runs[i] += sign * r
    if lines:
        # by source line (the innermost inlined function's), heaviest first
        hot = [(a, r) for (a, _), r in zip(insns, runs) if r]
        out = subprocess.run([objdump.replace("objdump", "addr2line"), "-e", elf] +
                             ["%x" % a for a, _ in hot], capture_output=True, text=True).stdout
        byline = collections.Counter()
        for (a, r), where in zip(hot, out.splitlines()):
            byline[where.replace(ROOT + "/", "")] += r
        for where, r in byline.most_common():
            print("%8.2f  %s" % (r / per, where))
        return
    for (a, text), r in zip(insns, runs):
        print("%8.2f  %x  %s" % (r / per, a, text))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--prog", required=True, help="e.g. /bin/bench_pipe, /bin/bench_uring,switch")
    ap.add_argument("--per", type=float, default=1.0, help="divide by this many operations")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--smp", type=int, default=1)
    ap.add_argument("--mem", default="256M")
    ap.add_argument("--bootargs", default="")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--nm", default="riscv64-unknown-elf-nm")
    ap.add_argument("--annotate", default="", help="a function: its instructions, counted")
    ap.add_argument("--lines", action="store_true", help="with --annotate: by source line")
    ap.add_argument("--opensbi", default=qemu.OPENSBI)
    a = ap.parse_args(argv)
    kernel = os.path.join(a.build, "pollux.elf")
    initrd = os.path.join(a.build, "initrd.cpio")
    plugin = os.path.join(a.build, "insnprof.so")
    user = os.path.join(a.build, "user", "bin", os.path.basename(a.prog.split(",")[0]))
    tables = [(1 << 63, 1 << 64, "", symbols(kernel, a.nm))]
    if os.path.exists(user):
        tables.append((0, 1 << 38, "u:", symbols(user, a.nm)))
    extra = (" " + a.bootargs) if a.bootargs else ""
    with_prog, out = profile(kernel, initrd, a.opensbi, plugin, a.smp, a.mem,
                             "bench benchprog=%s%s" % (a.prog, extra))
    base, _ = profile(kernel, initrd, a.opensbi, plugin, a.smp, a.mem,
                      "bench benchprog=/bin/none-such%s" % extra)
    for line in out.splitlines():
        if line.startswith("bench "):
            print("#", line.strip())
    if a.annotate:
        elf = user if a.annotate.startswith("u:") else kernel
        annotate(a.annotate[2:] if a.annotate.startswith("u:") else a.annotate, elf,
                 a.nm.replace("nm", "objdump"), with_prog, base, a.per, a.lines)
        return
    f1, f0 = by_function(with_prog, tables), by_function(base, tables)
    diff = {k: f1[k] - f0.get(k, 0) for k in f1}
    total = sum(diff.values())
    print("# total %.1f instructions per operation (%d operations)" % (total / a.per, a.per))
    for name, c in sorted(diff.items(), key=lambda kv: -kv[1])[:a.top]:
        print("%10.1f  %5.1f%%  %s" % (c / a.per, 100.0 * c / total if total else 0, name))


if __name__ == "__main__":
    main()
