"""make bench-linux's pieces that need no Linux: the initramfs it packs
(ci/bench_linux.py) and its table.  The Linux boot itself is not part of
make test (it needs a kernel build of many minutes)."""
import os
import subprocess
import sys

import pytest

from pollux import BUILD, ROOT

sys.path.insert(0, os.path.join(ROOT, "ci"))
import bench_linux   # noqa: E402

STRIP = os.path.join(BUILD, "user", "strip")


def test_linux_initramfs_holds_init_console_and_the_benchmarks(tmp_path):
    out = tmp_path / "initramfs.cpio"
    bench_linux.make_initramfs(STRIP, os.path.join(STRIP, "bench_init"), str(out))
    listing = subprocess.run(["cpio", "-itv", "--quiet"], stdin=open(out, "rb"),
                             capture_output=True, text=True, check=True).stdout
    lines = {l.split()[-1]: l for l in listing.splitlines()}
    assert lines["init"].startswith("-rwxr-xr-x")
    assert lines["dev/console"].startswith("crw-------") and "5," in lines["dev/console"]
    for p in bench_linux.INIT_PROGS:
        assert lines["bin/" + p].startswith("-rwxr-xr-x"), p
        assert os.path.getsize(os.path.join(STRIP, p)) > 0


def test_table_pairs_figures_and_keeps_the_rest_apart():
    pollux = {"null_syscall": (311, "instructions"), "task_spawn": (899, "instructions")}
    linux = {"null_syscall": (165, "instructions"), "boot_to_init": (66_000_000, "instructions")}
    rows, lonly, ponly = bench_linux.table(pollux, linux)
    assert rows == [{"name": "null_syscall", "unit": "instructions", "pollux": 311,
                     "linux": 165, "ratio": 1.885}]
    assert [f["name"] for f in lonly] == ["boot_to_init"]
    assert [f["name"] for f in ponly] == ["task_spawn"]
