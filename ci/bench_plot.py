#!/usr/bin/python3
"""make bench-plot: draw build/bench.png, two panels in one picture.

  left   every figure in build/bench.json as a bar (make bench's result;
         ci/bench.py is run first when the file is missing)
  right  instructions per operation against harts (1, 2, 4, 8) for
         task_spawn, wake_same_hart and wake_cross_hart (>= 2 harts),
         from one `bench` boot per hart count (ci/bench.py's run(), without
         the initrd: kernel figures only); the sweep is also written to
         build/bench_harts.json
  third  when build/bench-linux.json exists (make bench-linux): Pollux /
         Linux for every figure both kernels measured, one hart, log scale
         (below 1: Pollux needs fewer instructions)

    make bench-plot                         # make bench (if needed) + 4 short boots
    make bench-plot BOOTARGS="steal=off"    # the sweep with an experiment switch

Uses Debian's python3-matplotlib with the Agg backend (no display needed).
"""
import argparse
import json
import os
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt   # noqa: E402
from matplotlib.patches import Patch   # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench   # noqa: E402  (ci/bench.py)

HARTS = [1, 2, 4, 8]
SWEPT = ["task_spawn", "wake_same_hart", "wake_cross_hart"]


def load_or_run_bench(path, a):
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    print("bench-plot: %s is missing; running make bench's script first" % path)
    bench.main(["--kernel", a.kernel, "--initrd", a.initrd, "--opensbi", a.opensbi,
                "--out", path, "--bootargs", a.bootargs])
    with open(path) as f:
        return json.load(f)


def sweep(a):
    """{figure name: {harts: value}} for the SWEPT figures."""
    series = {name: {} for name in SWEPT}
    for n in HARTS:
        print("bench-plot: %d hart%s ..." % (n, "" if n == 1 else "s"), flush=True)
        # the kernel's figures only: no initrd, so no user-space benchmarks
        for f in bench.run(a.kernel, "", a.opensbi, n, a.mem, a.bootargs, a.timeout):
            if f["name"] in series:
                series[f["name"]][n] = f["value"]
    return series


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


def draw(doc, series, bootargs, out, vs=None):
    if vs:
        fig, (left, right, third) = plt.subplots(1, 3, figsize=(21, 5.5),
                                                 gridspec_kw={"width_ratios": [3, 2, 3]})
        draw_ratios(third, vs)
    else:
        fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5.5),
                                          gridspec_kw={"width_ratios": [3, 2]})
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
    left.set_title("make bench: %d harts, bootargs \"%s\"" % (doc.get("harts", 0),
                                                           doc.get("bootargs", "bench")))
    left.legend(handles=[Patch(color=c, label=u) for u, c in colours.items() if u in units],
                fontsize=8)

    markers = {"task_spawn": "o", "wake_same_hart": "s", "wake_cross_hart": "^"}
    for name in SWEPT:
        pts = sorted(series.get(name, {}).items())
        if pts:
            right.plot([p[0] for p in pts], [p[1] for p in pts], marker=markers[name], label=name)
            for x, y in pts:
                right.annotate("%d" % y, (x, y), textcoords="offset points", xytext=(0, 5),
                               ha="center", fontsize=7)
    right.set_xscale("log", base=2)
    right.set_xticks(HARTS)
    right.set_xticklabels([str(h) for h in HARTS])
    right.set_xlabel("harts (-smp)")
    right.set_ylabel("instructions per operation")
    right.set_ylim(bottom=0)
    right.set_title("Scaling with harts%s" % (" (%s)" % bootargs if bootargs else ""))
    right.grid(True, alpha=0.3)
    right.legend(fontsize=8, loc="lower right")

    fig.suptitle("Pollux benchmarks (QEMU -icount shift=0: instructions, not time) - git %s%s"
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
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("--linux-json", help="make bench-linux's output (default: next to --json)")
    ap.add_argument("--sweep-json", help="where to write the sweep (default: next to --out)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    a.bootargs = " ".join(a.bootargs.split())
    doc = load_or_run_bench(a.json, a)
    series = sweep(a)
    sweep_path = a.sweep_json or os.path.join(os.path.dirname(os.path.abspath(a.out)),
                                              "bench_harts.json")
    with open(sweep_path, "w") as f:
        json.dump({"git_revision": bench.git_rev(), "bootargs": ("bench " + a.bootargs).strip(),
                   "qemu": "-icount " + bench.QEMU_ICOUNT, "memory": a.mem, "harts": HARTS,
                   "unit": "instructions",
                   "series": {k: {str(h): v for h, v in s.items()} for k, s in series.items()}},
                  f, indent=2)
    vs = load_linux(a.linux_json or os.path.join(os.path.dirname(os.path.abspath(a.json)),
                                                 "bench-linux.json"))
    draw(doc, series, a.bootargs, a.out, vs)
    for name in SWEPT:
        print("bench-plot: %-16s %s" % (name, "  ".join("%dh=%d" % kv for kv in sorted(series[name].items()))))
    print("bench-plot: wrote %s and %s" % (a.out, sweep_path))


if __name__ == "__main__":
    main()
