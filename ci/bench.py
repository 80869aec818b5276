#!/usr/bin/env python3
"""make bench: boot Pollux under `-icount shift=0` with bootargs `bench`,
collect its `bench <name> <value> <unit>` lines, print them and write
build/bench.json.

    make bench                          # 2 harts
    make bench BENCH_SMP=4              # or SMP=4 on the command line
    make bench BOOTARGS="steal=off"     # extra bootargs: the experiment switches
    ci/bench.py --kernel build/pollux.elf --opensbi ... --out x.json --runs 3

Under -icount the guest's counters count instructions, so two runs give
the same figures; nothing here measures wall-clock time.  With --runs N
the guest is booted N times and each figure is the median; the script
fails if two runs of one figure differ by more than 1%.

build/bench.json (schema version 1):

    {
      "schema": 1,
      "git_revision": "1a2b3c4",        # `git rev-parse --short HEAD`, "unknown" outside git
      "git_dirty": true,                # uncommitted changes in the tree measured
      "harts": 2,                       # -smp
      "memory": "256M",                 # -m
      "bootargs": "bench steal=off icount",  # the whole kernel command line
      "qemu": "-icount shift=0",
      "runs": 1,
      "figures": [
        {"name": "task_spawn",          # [a-z0-9_]+, unique in the list
         "value": 1733,                 # integer (the median of the runs)
         "unit": "instructions",        # or "bytes"
         "harts": 2,                    # the same as the top-level harts
         "samples": [1733, 1733]},      # only when runs > 1: every run's value
        ...
      ]
    }

The kernel's figures (src/instruments/bench.c), always present:
  task_spawn            instructions (all harts together) to spawn and
                        complete one no-op task, 20000 spawned from one hart
  wake_same_hart        instructions per wake-to-poll, two tasks on one hart
  wake_cross_hart       the same, the two tasks on two harts (needs >= 2 harts)
  kbytes_per_idle_task  kernel bytes held by one task waiting on a queue
                        (the unit says bytes; the name is historical)
User-space figures (user/bench_*.c), when the initrd has the programs:
null_syscall, thread_yield, pipe_pingpong, fork_exit_wait, fork_exec_wait,
uring_*, coro_* ... each "instructions" per operation, and
  kbytes_per_process    bytes (all pages: user, page tables, kernel) one
                        forked child blocked in read() on a pipe costs
                        (user/bench_procmem.c; the unit says bytes)
"""
import argparse
import json
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qemu   # noqa: E402  (ci/qemu.py: the shared QEMU runner)
from qemu import ROOT, git_rev, git_dirty   # noqa: E402,F401

LINE = re.compile(r"^bench (\S+) (\d+) (\S+)\s*$")
ONLINE = re.compile(r"^bench: (\d+) harts online")
QEMU_ICOUNT = qemu.ICOUNT
TOLERANCE = 0.01            # two runs of one figure may differ by this much


class BenchError(SystemExit):
    pass


DISK = None                 # --disk: an empty ext2 image for bench_fs (copied per boot)


def boot(kernel, initrd, opensbi, smp, mem, bootargs, timeout, extra=()):
    """Boot once under -icount; the figures as a list of {name, value, unit, harts}."""
    status, out, _ = qemu.run(kernel, opensbi, initrd, smp, mem, bootargs,
                              icount=True, timeout=timeout, extra=list(extra))
    if status is None:
        sys.stderr.write(out[-4000:])
        raise BenchError("bench: the guest did not finish within %d s" % timeout)
    figures = []
    for line in out.splitlines():
        line = line.strip()
        m = LINE.match(line)
        if m:
            figures.append({"name": m.group(1), "value": int(m.group(2)), "unit": m.group(3),
                            "harts": smp})
        m = ONLINE.match(line)
        if m and int(m.group(1)) != smp:
            sys.stderr.write(out[-4000:])
            raise BenchError("bench: only %s of %d harts came online: the figures would "
                             "not be for %d harts" % (m.group(1), smp, smp))
    if "bench: done" not in out:
        sys.stderr.write(out[-4000:])
        raise BenchError("bench: the guest did not finish (see its output above)")
    return figures


def run(kernel, initrd, opensbi, smp, mem, extra_bootargs="", timeout=600):
    """Every figure: one boot at `smp` harts without a disk, then, with --disk,
    the file-system figures (bench_fs) in a second boot at one hart.  They are
    one-hart figures anyway, and under -icount QEMU 7.2 runs the harts in
    turn, so a completion interrupt that spins briefly on a lock held by the
    other hart can wait minutes for that hart's turn (see README)."""
    bootargs = ("bench " + extra_bootargs).strip()
    figures = boot(kernel, initrd, opensbi, smp, mem, bootargs, timeout)
    if DISK and os.path.exists(DISK):
        work = DISK + ".run"
        with open(DISK, "rb") as src, open(work, "wb") as dst:
            dst.write(src.read())       # every run starts from the same empty disk
        seen = {f["name"] for f in figures}
        figures += [f for f in boot(kernel, initrd, opensbi, 1, mem,
                                    bootargs + " benchprog=/bin/bench_fs", timeout,
                                    qemu.disk_args([work]))
                    if f["name"] not in seen]
    return figures


def run_many(kernel, initrd, opensbi, smp, mem, extra_bootargs="", runs=1, timeout=600):
    """Boot `runs` times; each figure's value is the median, with samples if runs > 1.
    Raises BenchError if a figure's runs differ by more than TOLERANCE."""
    samples = {}
    order = []
    units = {}
    for _ in range(max(1, runs)):
        for f in run(kernel, initrd, opensbi, smp, mem, extra_bootargs, timeout):
            if f["name"] not in samples:
                order.append(f["name"])
                samples[f["name"]] = []
            samples[f["name"]].append(f["value"])
            units[f["name"]] = f["unit"]
    figures, unsteady = [], []
    for name in order:
        v = samples[name]
        f = {"name": name, "value": int(statistics.median_low(v)), "unit": units[name],
             "harts": smp}
        if runs > 1:
            f["samples"] = v
            if max(v) - min(v) > TOLERANCE * max(1, min(v)):
                unsteady.append("%s %s" % (name, v))
        figures.append(f)
    if unsteady:
        raise BenchError("bench: figures differ by more than %d%% between runs: %s"
                         % (TOLERANCE * 100, "; ".join(unsteady)))
    return figures


def document(figures, smp, mem, bootargs, runs):
    return {"schema": 1, "git_revision": git_rev(), "git_dirty": git_dirty(), "harts": smp,
            "memory": mem, "bootargs": qemu.bootargs_with("bench " + bootargs, True),
            "qemu": "-icount " + QEMU_ICOUNT, "runs": runs, "figures": figures}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", default="")
    ap.add_argument("--disk", default="", help="empty ext2 image for the file-system figures")
    ap.add_argument("--opensbi", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--smp", type=int, default=2)
    ap.add_argument("--mem", default="256M")
    ap.add_argument("--bootargs", default="", help="more bootargs, e.g. steal=off wake=local")
    ap.add_argument("--runs", type=int, default=1, help="boot this many times; medians")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per boot")
    a = ap.parse_args(argv)
    global DISK
    DISK = a.disk or None
    bootargs = " ".join(a.bootargs.split())
    figures = run_many(a.kernel, a.initrd, a.opensbi, a.smp, a.mem, bootargs, a.runs, a.timeout)
    for f in figures:
        print("bench %s %d %s" % (f["name"], f["value"], f["unit"]))
    doc = document(figures, a.smp, a.mem, bootargs, a.runs)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(doc, f, indent=2)
    print("bench: wrote %s (%d harts%s)" % (a.out, a.smp, ", bootargs " + bootargs if bootargs else ""))


if __name__ == "__main__":
    main()
