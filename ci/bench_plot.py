#!/usr/bin/python3
"""make bench-plot: draw build/bench.png, three (or four) panels in one picture.

  left    every figure in build/bench.json as a bar (make bench's result;
          ci/bench.py is run first when the file is missing)
  middle  the scaling experiment's cost: instructions per operation summed
          over all harts, against N = 1, 2, 4, 8 harts (under -icount)
  right   the same workloads' wall-clock throughput (operations per
          second, without -icount), measured in the same sweep
  fourth  when build/bench-linux.json exists (make bench-linux): Pollux /
          Linux for every figure both kernels measured, one hart, log scale
          (below 1: Pollux needs fewer instructions)

The scaling experiment is the kernel's `bench scale` (src/instruments/
bench_scale.c, user/scale.c): on N harts, N independent workers, worker
i pinned to hart i -- a ping-pong pair of kernel tasks, a process that
forks, a coroutine runtime awaiting io_uring NOPs.  For every N it boots
twice: with -icount (QEMU 7.2's rdinstret is then one virtual clock for
the whole machine, so a delta is the instructions of all harts together)
and without (the guest clock follows the host's, so ns is wall-clock
time).  The -icount runs load ci/hartinsn.c, a QEMU plugin that counts
each hart's instructions (QEMU 7.2's rdinstret cannot: under -icount it
is one clock for the machine); the kernel marks each workload's start
and end for it.  It prints each hart's share -- its instructions, the
workers' own operation counts (checked with getcpu) and the per-hart
poll counters -- and fails if a hart did not do its share.  Without -icount QEMU runs one host thread per
hart, so throughput can grow only up to the host's cores (2 here).

    make bench-plot                         # make bench (if needed) + 8 boots
    make bench-plot BOOTARGS="wake=local"   # the sweep with an experiment switch

The sweep is also written to build/bench_harts.json.  Uses Debian's
python3-matplotlib with the Agg backend (no display needed).
"""
import argparse
import json
import os
import re
import subprocess
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt   # noqa: E402
from matplotlib.patches import Patch   # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench   # noqa: E402  (ci/bench.py)
import qemu    # noqa: E402  (ci/qemu.py)

HARTS = [1, 2, 4, 8]
WORKLOADS = ["pingpong", "fork", "coro"]
TOTAL = re.compile(r"^scale (\w+) harts=(\d+) ops=(\d+) ns=(\d+) insns=(\d+)\s*$")
WORKER = re.compile(r"^scale (\w+) hart=(\d+) ops=(\d+) strays=(\d+)\s*$")
POLLS = re.compile(r"^scale (\w+) hart=(\d+) polls=(\d+)\s*$")


class ScaleError(SystemExit):
    pass


def plugin_args(a, out):
    """-plugin arguments for ci/hartinsn.c, or () if it or the marker is missing."""
    if not a.plugin or not os.path.exists(a.plugin):
        return ()
    try:
        nm = subprocess.run([a.nm, a.kernel], capture_output=True, text=True).stdout
    except OSError:
        return ()
    m = re.search(r"^([0-9a-f]+) T bench_scale_mark$", nm, re.M)
    if not m:
        return ()
    return ("-plugin", "%s,out=%s,mark=0x%s" % (a.plugin, out, m.group(1)))


def parse_marks(path, n):
    """Per-workload per-hart instructions from the plugin's marks: the kernel
    marks each workload's start and end, in WORKLOADS order."""
    try:
        with open(path) as f:
            marks = [list(map(int, l.split()[2:])) for l in f if l.startswith("mark ")]
    except OSError:
        return {}
    r = {}
    for i, w in enumerate(WORKLOADS):
        if 2 * i + 1 < len(marks):
            b, e = marks[2 * i], marks[2 * i + 1]
            r[w] = {h: e[h] - b[h] for h in range(min(n, len(e)))}
    return r


def parse_scale(text):
    """{workload: {"ops", "ns", "insns", "workers": {hart: (ops, strays)}, "polls": {hart: n}}}"""
    r = {}
    for line in text.splitlines():
        line = line.strip()
        m = TOTAL.match(line)
        if m:
            r.setdefault(m.group(1), {}).update(
                {"harts": int(m.group(2)), "ops": int(m.group(3)), "ns": int(m.group(4)),
                 "insns": int(m.group(5))})
        m = WORKER.match(line)
        if m:
            r.setdefault(m.group(1), {}).setdefault("workers", {})[int(m.group(2))] = \
                (int(m.group(3)), int(m.group(4)))
        m = POLLS.match(line)
        if m:
            r.setdefault(m.group(1), {}).setdefault("polls", {})[int(m.group(2))] = int(m.group(3))
    return r


def check_shares(res, n, mode):
    """Every hart did its share: problems as strings."""
    problems = []
    for w in WORKLOADS:
        d = res.get(w)
        if not d or "ops" not in d:
            problems.append("%s (%s, %d harts): no result" % (w, mode, n))
            continue
        # Every hart must have executed a real part of the work.  Harts may
        # differ a lot upwards: instructions spent spinning on a lock held
        # by another hart are contention, which the cost panel shows.
        insns = d.get("hart_insns")
        if insns:
            mean = sum(insns.values()) / n
            low = [h for h in range(n) if insns.get(h, 0) < mean / 10]
            if low:
                problems.append("%s (%s, %d harts): harts %s executed under a tenth of the "
                                "mean (%s)" % (w, mode, n, low, insns))
        if w == "pingpong":
            polls = d.get("polls", {})
            share = d["ops"] // n
            low = [h for h in range(n) if polls.get(h, 0) < share]
            if low:
                problems.append("pingpong (%s, %d harts): harts %s polled fewer than %d times"
                                % (mode, n, low, share))
        else:
            workers = d.get("workers", {})
            if sorted(workers) != list(range(n)) or any(s for _, s in workers.values()) or \
                    sum(o for o, _ in workers.values()) != d["ops"]:
                problems.append("%s (%s, %d harts): workers by hart (ops, strays) %s"
                                % (w, mode, n, workers))
    return problems


def share_line(d):
    if "workers" in d:
        return " ".join("h%d=%d" % (h, o) for h, (o, _) in sorted(d["workers"].items()))
    return " ".join("h%d=%d" % kv for kv in sorted(d.get("polls", {}).items()))


def scale_sweep(a):
    """{"icount": {n: parsed}, "wall": {n: parsed}}; prints every hart's share."""
    out = {"icount": {}, "wall": {}}
    problems = []
    for n in HARTS:
        for mode in ("icount", "wall"):
            print("bench-plot: %d hart%s, %s ..." % (n, "" if n == 1 else "s",
                                                     "-icount" if mode == "icount" else
                                                     "no -icount (wall clock)"), flush=True)
            marks = os.path.join(os.path.dirname(os.path.abspath(a.out)), "hartinsn.txt")
            if os.path.exists(marks):
                os.unlink(marks)
            extra = plugin_args(a, marks) if mode == "icount" else ()
            status, text, _ = qemu.run(a.kernel, a.opensbi, a.initrd, n, a.mem,
                                       ("bench scale " + a.bootargs).strip(),
                                       icount=mode == "icount", timeout=a.timeout, extra=extra)
            if status is None or "bench: done" not in text:
                sys.stderr.write(text[-4000:])
                raise ScaleError("bench-plot: the scale run (%d harts, %s) did not finish"
                                 % (n, mode))
            res = parse_scale(text)
            for w, per_hart in (parse_marks(marks, n) if extra else {}).items():
                if w in res:
                    res[w]["hart_insns"] = per_hart
            out[mode][n] = res
            problems += check_shares(res, n, mode)
            for w in WORKLOADS:
                d = res.get(w, {})
                if "ops" in d:
                    what = "ops by worker" if "workers" in d else "polls by hart"
                    print("bench-plot:   %-8s %s: %s" % (w, what, share_line(d)))
                if d.get("hart_insns"):
                    print("bench-plot:   %-8s instructions by hart: %s" % (w, " ".join(
                        "h%d=%d" % kv for kv in sorted(d["hart_insns"].items()))))
    if problems:
        raise ScaleError("bench-plot: work did not run on every hart:\n  " + "\n  ".join(problems))
    return out


def load_or_run_bench(path, a):
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    print("bench-plot: %s is missing; running make bench's script first" % path)
    bench.main(["--kernel", a.kernel, "--initrd", a.initrd, "--opensbi", a.opensbi,
                "--out", path, "--bootargs", a.bootargs])
    with open(path) as f:
        return json.load(f)


def all_harts_insns(d):
    """The plugin's per-hart counts summed, else the guest's global -icount clock."""
    return sum(d["hart_insns"].values()) if d.get("hart_insns") else d["insns"]


def cost_series(sw):
    """{workload: {n: instructions per op, all harts}} from the -icount runs."""
    return {w: {n: all_harts_insns(r[w]) / r[w]["ops"] for n, r in sw["icount"].items()
                if w in r and r[w].get("ops")} for w in WORKLOADS}


def rate_series(sw):
    """{workload: {n: ops per second of wall-clock time}} from the runs without -icount."""
    return {w: {n: r[w]["ops"] * 1e9 / r[w]["ns"] for n, r in sw["wall"].items()
                if w in r and r[w].get("ns")} for w in WORKLOADS}


def load_linux(path):
    """make bench-linux's document, or None when there is none."""
    if not path or not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def draw_ratios(ax, vs):
    rows = [r for r in vs.get("figures", []) if r.get("ratio")]
    names = [r["name"] for r in rows]
    ratios = [r["ratio"] for r in rows]
    colours = ["tab:green" if x <= 1 else "tab:red" for x in ratios]
    ax.barh(range(len(rows)), ratios, color=colours)
    for i, (x, r) in enumerate(zip(ratios, rows)):
        ax.annotate("%.2f  (%d / %d)" % (x, r["pollux"], r["linux"]), (x, i),
                    textcoords="offset points", xytext=(3, -3), fontsize=7)
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("Pollux / Linux instructions (log; < 1: Pollux ahead)")
    ax.set_title("vs. Linux %s, %d hart (make bench-linux, git %s)"
                 % (vs.get("linux", "6.1"), vs.get("harts", 1), vs.get("git_revision", "?")))
    ax.grid(True, axis="x", alpha=0.3)


def draw(doc, sw, bootargs, out, vs=None):
    if vs:
        fig, (left, mid, right, third) = plt.subplots(1, 4, figsize=(26, 5.5),
                                                      gridspec_kw={"width_ratios": [3, 2, 2, 3]})
        draw_ratios(third, vs)
    else:
        fig, (left, mid, right) = plt.subplots(1, 3, figsize=(19, 5.5),
                                               gridspec_kw={"width_ratios": [3, 2, 2]})
    figs = doc.get("figures", [])
    names = [f["name"] for f in figs]
    values = [f["value"] for f in figs]
    units = [f["unit"] for f in figs]
    colours = {"instructions": "tab:blue", "bytes": "tab:orange"}
    bars = left.bar(range(len(figs)), values,
                    color=[colours.get(u, "tab:gray") for u in units])
    for b, v, u in zip(bars, values, units):
        left.annotate("%d" % v, (b.get_x() + b.get_width() / 2, b.get_height()),
                      ha="center", va="bottom", fontsize=8)
    left.set_xticks(range(len(figs)))
    left.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    if values and min(values) > 0 and max(values) / min(values) > 100:
        left.set_yscale("log")
    left.set_ylabel("instructions per operation (bytes for *_bytes figures)")
    left.set_title("make bench (-icount): %d harts, bootargs \"%s\"" % (doc.get("harts", 0),
                                                                     doc.get("bootargs", "bench")))
    left.legend(handles=[Patch(color=c, label=u) for u, c in colours.items() if u in units],
                fontsize=8)

    markers = {"pingpong": "o", "fork": "s", "coro": "^"}
    labels = {"pingpong": "ping-pong pair per hart (op: wake+poll)",
              "fork": "forking process per hart (op: fork+exit+wait)",
              "coro": "coroutine runtime per hart (op: io_uring NOP)"}
    for ax, series, fmt in ((mid, cost_series(sw), "%.0f"), (right, rate_series(sw), "%.3g")):
        for w in WORKLOADS:
            pts = sorted(series.get(w, {}).items())
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=markers[w], label=labels[w])
                for x, y in pts:
                    ax.annotate(fmt % y, (x, y), textcoords="offset points", xytext=(0, 5),
                                ha="center", fontsize=7)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(HARTS)
        ax.set_xticklabels([str(h) for h in HARTS])
        ax.set_xlabel("harts N (-smp N; N workers, worker i pinned to hart i)")
        ax.grid(True, alpha=0.3, which="both")
        ax.legend(fontsize=7, loc="best")
    extra = " (%s)" % bootargs if bootargs else ""
    mid.set_ylabel("instructions per operation, summed over all harts")
    mid.set_title("Cost per operation vs harts, -icount%s\nflat = no contention" % extra,
                  fontsize=10)
    right.set_ylabel("operations per second (wall clock)")
    right.set_title("Throughput vs harts, no -icount%s\n(host: %d cores)" % (extra, os.cpu_count()),
                    fontsize=10)

    fig.suptitle("Pollux benchmarks - git %s%s"
                 % (doc.get("git_revision", "?"), " (dirty)" if doc.get("git_dirty") else ""))
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", default="")
    ap.add_argument("--opensbi", required=True)
    ap.add_argument("--json", required=True, help="make bench's output (run if missing)")
    ap.add_argument("--bootargs", default="")
    ap.add_argument("--mem", default="256M")
    ap.add_argument("--plugin", default="", help="ci/hartinsn.c built (per-hart instructions)")
    ap.add_argument("--nm", default="riscv64-unknown-elf-nm")
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("--linux-json", help="make bench-linux's output (default: next to --json)")
    ap.add_argument("--sweep-json", help="where to write the sweep (default: next to --out)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    a.bootargs = " ".join(a.bootargs.split())
    doc = load_or_run_bench(a.json, a)
    sw = scale_sweep(a)
    sweep_path = a.sweep_json or os.path.join(os.path.dirname(os.path.abspath(a.out)),
                                              "bench_harts.json")
    cost, rate = cost_series(sw), rate_series(sw)
    with open(sweep_path, "w") as f:
        json.dump({"git_revision": qemu.git_rev(), "bootargs": ("bench scale " + a.bootargs).strip(),
                   "memory": a.mem, "harts": HARTS,
                   "instructions_per_op_all_harts": {w: {str(n): round(v, 1) for n, v in s.items()}
                                                     for w, s in cost.items()},
                   "ops_per_second_wall_clock": {w: {str(n): round(v, 1) for n, v in s.items()}
                                                 for w, s in rate.items()},
                   "runs": {mode: {str(n): {w: {k: (v if k not in ("workers", "polls", "hart_insns") else
                                                    {str(h): x for h, x in v.items()})
                                                for k, v in d.items()}
                                            for w, d in r.items()}
                                   for n, r in runs.items()}
                            for mode, runs in sw.items()}},
                  f, indent=1)
    vs = load_linux(a.linux_json or os.path.join(os.path.dirname(os.path.abspath(a.json)),
                                                 "bench-linux.json"))
    draw(doc, sw, a.bootargs, a.out, vs)
    for w in WORKLOADS:
        print("bench-plot: %-8s insns/op (all harts, -icount): %s" % (
            w, "  ".join("%dh=%.0f" % kv for kv in sorted(cost[w].items()))))
        print("bench-plot: %-8s ops/s (wall clock):            %s" % (
            w, "  ".join("%dh=%.0f" % kv for kv in sorted(rate[w].items()))))
    print("bench-plot: wrote %s and %s" % (a.out, sweep_path))


if __name__ == "__main__":
    main()
