"""make bench's output: build/bench.json's schema (documented in
ci/bench.py) and figures that repeat from one boot to the next."""
import json
import os
import re
import subprocess
import sys

from pollux import KERNEL, OPENSBI, ROOT

KERNEL_FIGURES = {"task_spawn": "instructions", "wake_same_hart": "instructions",
                  "wake_cross_hart": "instructions", "kbytes_per_idle_task": "bytes"}


def test_bench_json_schema_and_repeatability(tmp_path):
    out = tmp_path / "bench.json"
    # the kernel's figures only (no initrd): two boots, medians, <= 1% apart
    p = subprocess.run([sys.executable, "ci/bench.py", "--kernel", KERNEL, "--opensbi", OPENSBI,
                        "--out", str(out), "--smp", "2", "--runs", "2", "--timeout", "120",
                        "--bootargs", "steal=on"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    doc = json.loads(out.read_text())

    assert doc["schema"] == 1
    assert isinstance(doc["git_revision"], str) and re.fullmatch(r"[0-9a-f]{4,40}|unknown",
                                                                 doc["git_revision"])
    assert isinstance(doc["git_dirty"], bool)
    assert doc["harts"] == 2 and doc["memory"] == "256M" and doc["runs"] == 2
    assert doc["bootargs"] == "bench steal=on icount"
    assert doc["qemu"] == "-icount shift=0"

    figs = doc["figures"]
    names = [f["name"] for f in figs]
    assert len(names) == len(set(names))
    assert set(KERNEL_FIGURES) <= set(names)
    for f in figs:
        assert set(f) == {"name", "value", "unit", "harts", "samples"}, f
        assert re.fullmatch(r"[a-z0-9_]+", f["name"])
        assert type(f["value"]) is int and f["value"] > 0
        assert f["unit"] in ("instructions", "bytes")
        assert f["harts"] == 2
        assert len(f["samples"]) == 2 and all(type(v) is int for v in f["samples"])
        assert max(f["samples"]) - min(f["samples"]) <= 0.01 * min(f["samples"]), f
    for name, unit in KERNEL_FIGURES.items():
        assert next(f for f in figs if f["name"] == name)["unit"] == unit

    # what the script printed is what it wrote
    for f in figs:
        assert "bench %s %d %s" % (f["name"], f["value"], f["unit"]) in p.stdout


def test_scaling_experiment_puts_its_work_on_every_hart():
    """`bench scale` (make bench-plot's sweep) on 2 harts: every workload
    ran on both harts, each hart did its share, nothing strayed."""
    sys.path.insert(0, os.path.join(ROOT, "ci"))
    import bench_plot
    import qemu
    status, text, _ = qemu.run(KERNEL, OPENSBI, os.path.join(ROOT, "build", "initrd.cpio"), 2,
                               "256M", "bench scale", icount=True, timeout=300)
    assert status == 0 and "bench: done" in text, text[-3000:]
    res = bench_plot.parse_scale(text)
    assert bench_plot.check_shares(res, 2, "icount") == []
    assert res["pingpong"]["polls"][0] >= 40000 and res["pingpong"]["polls"][1] >= 40000
    for w in ("fork", "coro"):
        assert sorted(res[w]["workers"]) == [0, 1], res[w]
        assert res[w]["ops"] == sum(ops for ops, _ in res[w]["workers"].values())


def test_benchprog_with_an_argument_runs_only_that_part():
    """bootargs benchprog=/bin/bench_uring,switch: bench_uring runs with
    the argument `switch` and prints only its coroutine-switch figure."""
    sys.path.insert(0, os.path.join(ROOT, "ci"))
    import qemu
    status, text, _ = qemu.run(KERNEL, OPENSBI, os.path.join(ROOT, "build", "initrd.cpio"), 1,
                               "256M", "bench benchprog=/bin/bench_uring,switch", icount=True,
                               timeout=300)
    assert status is not None, text[-2000:]
    user = re.findall(r"^bench (\w+) \d+ \w+", text, re.M)
    assert "coro_switch" in user, text[-2000:]
    assert not {"uring_nop_b1", "coro10k", "null_syscall", "pipe_pingpong"} & set(user), user


def test_profile_charges_a_benchmark_to_the_functions_it_runs():
    """make profile's script: bench_syscall's getpid calls are answered in
    syscall_fast, and the program's own main shows up (user symbols)."""
    subprocess.run(["make", "-s", "build/insnprof.so"], cwd=ROOT, check=True,
                   capture_output=True, timeout=120)
    p = subprocess.run([sys.executable, "ci/insnprof.py", "--prog", "/bin/bench_syscall",
                        "--per", "15000", "--top", "60"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    funcs = {line.split()[-1]: float(line.split()[0]) for line in p.stdout.splitlines()
             if line and not line.startswith("#")}
    assert funcs.get("syscall_fast", 0) >= 10, p.stdout    # about 40 per getpid
    assert "u:main" in funcs, p.stdout
