#!/usr/bin/env python3
"""make bench: boot Pollux under `-icount shift=0` with bootargs `bench`,
collect its `bench <name> <value> <unit>` lines, print them and write
build/bench.json (figures with unit and hart count, plus the git revision).

Under -icount the guest's counters count instructions, so two runs give
the same figures; nothing here measures wall-clock time.
"""
import argparse
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINE = re.compile(r"^bench (\S+) (\d+) (\S+)\s*$")


def run(kernel, initrd, opensbi, smp, mem, extra_bootargs="", timeout=600):
    argv = ["qemu-system-riscv64", "-machine", "virt", "-smp", str(smp), "-m", mem,
            "-nographic", "-bios", opensbi, "-kernel", kernel, "-icount", "shift=0",
            "-append", ("bench " + extra_bootargs).strip()]
    if initrd and os.path.exists(initrd):
        argv += ["-initrd", initrd]
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    out = p.stdout.decode("latin-1")
    figures = []
    for line in out.splitlines():
        m = LINE.match(line.strip())
        if m:
            figures.append({"name": m.group(1), "value": int(m.group(2)), "unit": m.group(3),
                            "harts": smp})
    if "bench: done" not in out:
        sys.stderr.write(out[-4000:])
        raise SystemExit("bench: the guest did not finish (see its output above)")
    return figures


def git_rev():
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", default="")
    ap.add_argument("--opensbi", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--smp", type=int, default=2)
    ap.add_argument("--mem", default="256M")
    ap.add_argument("--bootargs", default="")
    a = ap.parse_args()
    figures = run(a.kernel, a.initrd, a.opensbi, a.smp, a.mem, a.bootargs)
    for f in figures:
        print("bench %s %d %s" % (f["name"], f["value"], f["unit"]))
    doc = {"git_revision": git_rev(), "harts": a.smp, "memory": a.mem,
           "qemu": "-icount shift=0", "figures": figures}
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(doc, f, indent=2)
    print("bench: wrote %s" % a.out)


if __name__ == "__main__":
    main()
