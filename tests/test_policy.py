"""The experiment switches (bootargs steal=on|off, wake=owner|local) change
what the scheduler observably does; each test fails if its switch were
ignored."""
import importlib.util
import os
import re

import pexpect
import pytest

from pollux import KERNEL, OPENSBI, ROOT

_spec = importlib.util.spec_from_file_location("pollux_trace", os.path.join(ROOT, "ci", "trace.py"))
ptrace = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ptrace)
_spec = importlib.util.spec_from_file_location("pollux_bench", os.path.join(ROOT, "ci", "bench.py"))
pbench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pbench)


def steals_after_ktest(boot, bootargs):
    m = boot(smp=4, bootargs=bootargs)
    m.expect(r"Pollux: 4 harts")
    m.child.expect_exact(m.PROMPT)
    out = m.monitor("ktest", timeout=120)
    assert re.search(r"ktest: \d+ passed, 0 failed", out), out
    out = m.monitor("harts")
    header = next(l for l in out.splitlines() if l.startswith("HART"))
    col = header.split().index("STEALS")
    rows = [l.split() for l in out.splitlines() if re.match(r"^\d+\s", l)]
    assert len(rows) == 4, out
    return [int(r[col]) for r in rows]


def test_steal_off_means_no_hart_ever_steals(boot):
    assert steals_after_ktest(boot, "monitor steal=off") == [0, 0, 0, 0]


def test_steal_on_lets_idle_harts_take_work(boot):
    assert sum(steals_after_ktest(boot, "monitor steal=on")) > 0


def pong_harts(boot, wake):
    """Two tasks start on harts 0 (ping) and 1 (pong) and wake each other
    200 times each way, stealing off: on which harts was each polled?
    (A task that finds the ball already back plays on within one poll, so
    the poll counts vary with timing.)"""
    m = boot(smp=2, bootargs="trace traceprog=pingpong steal=off wake=%s" % wake)
    try:
        m.expect(r"trace: tracing", timeout=10)
    except pexpect.TIMEOUT:
        pytest.fail("trace_run_start() never ran: userland_start() must call it when "
                    "bootargs have traceprog=")
    m.expect(r"@TEND[ \d]*\r?\n", timeout=60)
    assert m.wait_exit(timeout=30) == 0
    t = ptrace.parse_console(m.log)
    assert ptrace.report(t, out=open(os.devnull, "w")) == []
    polls = [e for e in ptrace.to_chrome(t)["traceEvents"] if e["ph"] == "X" and e.get("cat") == "poll"]
    harts = {}
    for e in polls:
        if e["name"] in ("ping", "pong"):
            harts.setdefault(e["name"], []).append(e["tid"])
    return harts


def test_wake_owner_runs_the_woken_task_where_it_ran_before(boot):
    h = pong_harts(boot, "owner")
    assert len(h["pong"]) >= 50 and set(h["pong"]) == {1}
    assert set(h["ping"]) == {0}


def test_wake_local_runs_the_woken_task_on_the_waking_hart(boot):
    h = pong_harts(boot, "local")
    assert len(h["pong"]) >= 50 and len(h["ping"]) >= 50
    # Each is woken by the other, so after the first wake both run on the
    # hart of whichever woke first (a race): all polls but a start-up one
    # or two are on one and the same hart.
    for hart in (0, 1):
        if h["ping"].count(hart) >= len(h["ping"]) - 2 and \
                h["pong"].count(hart) >= len(h["pong"]) - 2:
            break
    else:
        assert False, "ping on harts %s, pong on harts %s" % (h["ping"], h["pong"])


def test_wake_local_makes_the_cross_hart_benchmark_a_same_hart_one():
    """Under wake=local the benchmark's cross-hart ping-pong collapses onto
    one hart: wake_cross_hart costs what wake_same_hart does."""
    def figures(bootargs):      # kernel figures only: no initrd, no user benchmarks
        return {f["name"]: f["value"]
                for f in pbench.run(KERNEL, "", OPENSBI, 2, "256M", bootargs, timeout=120)}
    owner, local = figures("wake=owner"), figures("wake=local")
    assert owner["wake_cross_hart"] > 2 * owner["wake_same_hart"]
    assert local["wake_cross_hart"] <= 1.1 * local["wake_same_hart"]
