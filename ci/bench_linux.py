#!/usr/bin/env python3
"""make bench-linux: the same benchmark programs on Pollux and on Linux 6.1,
under the same QEMU flags as `make bench` (ci/bench.py), one table.

    make bench-linux                    # builds Linux once (ci/bench_linux_build.sh)
    ci/bench_linux.py --linux build/linux/obj/arch/riscv/boot/Image \\
        --kernel build/pollux.elf --initrd build/initrd.cpio --opensbi ... \\
        --bins build/user/strip --out build/bench-linux.json

Linux boots with an initramfs made here: /init is user/bench_init.c (the
same programs, in the same order, as Pollux's `bench` boot, then coro10k
alone), /bin holds the same stripped static binaries, /dev/console the
console.  QEMU gets exactly `make bench`'s flags (-machine virt -smp N -m
256M -nographic -bios OpenSBI -icount shift=0 -kernel ... -initrd ...);
only -append differs (Linux needs console=ttyS0).

One hart (--smp 1, the default): under -icount QEMU 7.2 may never bring
Linux to /init at 2 harts, and rdinstret is the global instruction count,
so only one-hart figures compare like with like.

Figures are instructions per operation, lower is better; the ratio is
Pollux / Linux (below 1: Pollux is ahead).  build/bench-linux.json:

    {"schema": 1, "harts": 1, "memory": "256M", "qemu": "-icount shift=0",
     "git_revision": "...", "git_dirty": false, "linux": "6.1.xx",
     "figures": [{"name": "null_syscall", "unit": "instructions",
                  "pollux": 311, "linux": 165, "ratio": 1.885}, ...],
     "linux_only": [...], "pollux_only": [...]}
"""
import argparse
import json
import os
import re
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench   # noqa: E402  (ci/bench.py)
import qemu    # noqa: E402  (ci/qemu.py)

INIT_PROGS = ["bench_syscall", "bench_yield", "bench_pipe", "bench_fork", "bench_exec",
              "bench_uring", "bench_procmem", "coro10k", "nop"]
LINUX_APPEND = "console=ttyS0 quiet"


# ---- a newc cpio writer (directories, files, one device node) -------------

def _newc(name, mode, data=b"", rdev=(0, 0), ino=[0]):
    ino[0] += 1
    namez = name.encode() + b"\0"
    hdr = "070701" + "".join("%08x" % v for v in (
        ino[0], mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(namez), 0))
    out = hdr.encode() + namez
    out += b"\0" * (-len(out) % 4)
    out += data + b"\0" * (-len(data) % 4)
    return out


def make_initramfs(bins, init, out):
    parts = [_newc("bin", stat.S_IFDIR | 0o755), _newc("dev", stat.S_IFDIR | 0o755),
             _newc("proc", stat.S_IFDIR | 0o755),
             _newc("dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1))]
    with open(init, "rb") as f:
        parts.append(_newc("init", stat.S_IFREG | 0o755, f.read()))
    for p in INIT_PROGS:
        with open(os.path.join(bins, p), "rb") as f:
            parts.append(_newc("bin/" + p, stat.S_IFREG | 0o755, f.read()))
    parts.append(_newc("TRAILER!!!", 0))
    blob = b"".join(parts)
    blob += b"\0" * (-len(blob) % 512)
    with open(out, "wb") as f:
        f.write(blob)


# ---- running Linux ----------------------------------------------------------

def run_linux(image, initramfs, opensbi, smp, mem, timeout):
    """Boot once under make bench's flags; the figures and the whole output."""
    # The shared runner, with make bench's -icount but without the `icount`
    # bootarg (a word Linux would hand to /init as an argument).
    status, out, _ = qemu.run(image, opensbi, initramfs, smp, mem, LINUX_APPEND, icount=False,
                              timeout=timeout, extra=["-icount", qemu.ICOUNT])
    if status is None:
        sys.stderr.write(out[-4000:])
        raise bench.BenchError("bench-linux: Linux did not finish within %d s" % timeout)
    figures = {}
    for line in out.splitlines():
        m = bench.LINE.match(line.strip())
        if m:
            figures[m.group(1)] = (int(m.group(2)), m.group(3))
    if "bench: done" not in out:
        sys.stderr.write(out[-4000:])
        raise bench.BenchError("bench-linux: Linux did not reach the end of /init")
    return figures, out


def linux_version(image):
    try:
        with open(image, "rb") as f:
            m = re.search(rb"Linux version (\S+)", f.read())
        return m.group(1).decode() if m else "6.1"
    except OSError:
        return "6.1"


def table(pollux, linux):
    rows, lonly, ponly = [], [], []
    for name, (pv, unit) in pollux.items():
        if name in linux:
            lv = linux[name][0]
            rows.append({"name": name, "unit": unit, "pollux": pv, "linux": lv,
                         "ratio": round(pv / lv, 3) if lv else None})
        else:
            ponly.append({"name": name, "unit": unit, "value": pv})
    for name, (lv, unit) in linux.items():
        if name not in pollux:
            lonly.append({"name": name, "unit": unit, "value": lv})
    return rows, lonly, ponly


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--linux", required=True, help="the Linux Image")
    ap.add_argument("--kernel", required=True, help="Pollux")
    ap.add_argument("--initrd", required=True, help="Pollux's initrd")
    ap.add_argument("--opensbi", required=True)
    ap.add_argument("--bins", required=True, help="the stripped user programs")
    ap.add_argument("--initramfs", help="where to write Linux's (default: next to --out)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--smp", type=int, default=1)
    ap.add_argument("--mem", default="256M")
    ap.add_argument("--timeout", type=int, default=1200, help="seconds per boot")
    a = ap.parse_args(argv)

    initramfs = a.initramfs or os.path.join(os.path.dirname(os.path.abspath(a.out)),
                                            "linux-initramfs.cpio")
    make_initramfs(a.bins, os.path.join(a.bins, "bench_init"), initramfs)
    print("bench-linux: Pollux, %d hart%s ..." % (a.smp, "" if a.smp == 1 else "s"), flush=True)
    pollux = {f["name"]: (f["value"], f["unit"])
              for f in bench.run(a.kernel, a.initrd, a.opensbi, a.smp, a.mem, "", a.timeout)}
    print("bench-linux: Linux %s, %d hart%s ..." % (linux_version(a.linux), a.smp,
                                                   "" if a.smp == 1 else "s"), flush=True)
    linux, out = run_linux(a.linux, initramfs, a.opensbi, a.smp, a.mem, a.timeout)
    for line in out.splitlines():
        if line.startswith("bench-init:") and not line.rstrip().endswith(": ok"):
            print("bench-linux: on Linux, " + line.strip())
    rows, lonly, ponly = table(pollux, linux)

    w = max([len(r["name"]) for r in rows] + [6])
    print("%-*s  %12s  %12s  %7s" % (w, "figure", "Pollux", "Linux", "ratio"))
    for r in rows:
        print("%-*s  %12d  %12d  %7s" % (w, r["name"], r["pollux"], r["linux"],
                                         "%.2f" % r["ratio"] if r["ratio"] is not None else "-"))
    if ponly:
        print("Pollux only: " + ", ".join("%s %d" % (f["name"], f["value"]) for f in ponly))
    if lonly:
        print("Linux only: " + ", ".join("%s %d" % (f["name"], f["value"]) for f in lonly))
    doc = {"schema": 1, "harts": a.smp, "memory": a.mem, "qemu": "-icount " + bench.QEMU_ICOUNT,
           "git_revision": bench.git_rev(), "git_dirty": bench.git_dirty(),
           "linux": linux_version(a.linux), "linux_append": LINUX_APPEND,
           "figures": rows, "linux_only": lonly, "pollux_only": ponly}
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(doc, f, indent=2)
    print("bench-linux: wrote %s (ratio = Pollux / Linux, instructions, lower is better)" % a.out)


if __name__ == "__main__":
    main()
