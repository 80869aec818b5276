"""Tracing: the kernel's trace rings, sent as @T frames on the console
(src/instruments/trace_export.c), turned into Chrome trace-event JSON by ci/trace.py.

The guest tests boot with bootargs `trace traceprog=...`, which
userland_start() hands to trace_run_start()."""
import importlib.util
import json
import os
import re

import pexpect
import pytest

from pollux import INITRD, ROOT

_spec = importlib.util.spec_from_file_location("pollux_trace", os.path.join(ROOT, "ci", "trace.py"))
ptrace = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ptrace)

RING = 8192     # records per hart (src/instruments/trace.c)


def start_traced(boot, smp, workload, extra=""):
    m = boot(smp=smp, bootargs=("trace traceprog=%s %s" % (workload, extra)).strip())
    try:
        m.expect(r"trace: (tracing|cannot run)", timeout=10)
    except pexpect.TIMEOUT:
        pytest.fail("trace_run_start() never ran: userland_start() must call it when "
                    "bootargs have traceprog=")
    return m


def traced_run(boot, smp, workload, extra="", timeout=120):
    m = start_traced(boot, smp, workload, extra)
    m.expect(r"@TEND[ \d]*\r?\n", timeout=timeout)
    assert m.wait_exit(timeout=30) == 0
    t = ptrace.parse_console(m.log)
    assert ptrace.report(t) == [], "the dump arrived incomplete or damaged"
    return t


def events(doc, ph=None, cat=None, name=None):
    return [e for e in doc["traceEvents"]
            if (ph is None or e["ph"] == ph) and (cat is None or e.get("cat") == cat)
            and (name is None or e.get("name") == name)]


def test_ktest_trace_is_valid_chrome_json_with_every_event_kind(boot, tmp_path):
    # 4 harts: each ring keeps its hart's last 8192 records, and on 2 harts
    # the end of ktest may hold no IPI at all
    smp = 4
    t = traced_run(boot, smp, "ktest")
    assert t["harts"] == smp and t["workload"] == "ktest"
    doc = ptrace.to_chrome(t)

    # valid JSON, in the object form Perfetto and chrome://tracing read
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(doc))
    doc = json.loads(path.read_text())
    assert isinstance(doc["traceEvents"], list)
    for e in doc["traceEvents"]:
        assert e["ph"] in "XBEibesftM" and e["pid"] == 0
        if e["ph"] != "M":
            assert isinstance(e["ts"], (int, float)) and e["ts"] >= 0
            assert 0 <= e["tid"] < smp
        if e["ph"] == "X":
            assert e["dur"] >= 0

    # one track per hart, named
    names = {e["tid"]: e["args"]["name"] for e in events(doc, "M") if e["name"] == "thread_name"}
    assert names == {h: "hart %d" % h for h in range(smp)}
    proc = [e for e in events(doc, "M") if e["name"] == "process_name"]
    assert proc and proc[0]["args"]["name"] == "Pollux"

    # slices on one track nest (the spec and Perfetto require it)
    assert ptrace.overlapping_slices(doc) == []

    # poll slices, named after their tasks, on every hart
    polls = events(doc, "X", "poll")
    assert {e["tid"] for e in polls} == set(range(smp))
    assert not [e for e in polls if e["name"].startswith("task ")], "a poll slice without a name"
    ktest_tasks = {"counter", "receiver", "sender", "ktest", "spawn_100k_tasks",
                   "cross_hart_wake_storm", "join_select_timeout_cancel", "timer_ordering",
                   "alloc_exhaustion_recovery"}
    assert ktest_tasks & {e["name"] for e in polls}, sorted({e["name"] for e in polls})[:20]

    # wakes (with arrows to the woken task's poll), IPIs both ways, idle
    assert events(doc, "i", "wake")
    assert events(doc, "s", "wake") and events(doc, "f", "wake")
    assert events(doc, "i", "ipi", "ipi send")
    assert events(doc, "i", "ipi", "ipi recv")
    assert events(doc, "X", "idle")

    # microseconds from the 10 MHz timer: a record's time maps to its event
    t0 = min(r[1] for r in t["records"])
    last = max(r[1] for r in t["records"])
    assert max(e["ts"] + e.get("dur", 0) for e in doc["traceEvents"] if e["ph"] != "M") \
        == pytest.approx((last - t0) / 10.0, abs=0.2)

    # ktest polls far more than two rings hold: the drops are counted and reported
    other = doc["otherData"]
    assert len(other["dropped_per_hart"]) == smp
    assert sum(other["dropped_per_hart"]) > 0
    for h in range(smp):
        if other["dropped_per_hart"][h]:
            assert other["records_per_hart"][h] == RING


def test_trace_of_a_cross_hart_pingpong_shows_the_wake_ipi_chain(boot):
    t = traced_run(boot, 2, "pingpong", "steal=off")
    doc = ptrace.to_chrome(t)
    polls = events(doc, "X", "poll")
    ping = [e for e in polls if e["name"] == "ping"]
    pong = [e for e in polls if e["name"] == "pong"]
    # (a task that finds the ball already back plays on without a new poll,
    # so the poll counts depend on timing; 200 rounds each way)
    assert len(ping) >= 50 and len(pong) >= 50
    assert {e["tid"] for e in ping} == {0} and {e["tid"] for e in pong} == {1}
    # every wake of ping or pong lands as a poll on the other hart
    flows = {e["id"]: e for e in events(doc, "f", "wake")}
    starts = [s for s in events(doc, "s", "wake") if s["id"] in flows]
    crossing = [s for s in starts if flows[s["id"]]["tid"] != s["tid"]]
    assert len(crossing) >= 50 and len(crossing) >= len(starts) - 2
    # ... through IPIs to the idle hart, seen on both ends
    assert len(events(doc, "i", "ipi", "ipi send")) >= 20
    assert len(events(doc, "i", "ipi", "ipi recv")) >= 20
    assert t["dropped"] == [0, 0]


def test_a_missing_program_falls_back_to_the_kernel_self_tests(boot):
    m = start_traced(boot, 2, "/bin/no-such-program,arg")
    m.expect(r"trace: tracing ktest on 2 harts")
    assert "trace: cannot run /bin/no-such-program" in m.log
    m.expect(r"@TEND[ \d]*\r?\n", timeout=120)
    assert m.wait_exit(timeout=30) == 0
    t = ptrace.parse_console(m.log)
    assert t["workload"] == "ktest" and t["complete"]


def _initrd_has(path):
    try:
        with open(INITRD, "rb") as f:
            return path.lstrip("/").encode() + b"\0" in f.read()
    except OSError:
        return False


@pytest.mark.skipif(not _initrd_has("/bin/hello"), reason="no /bin/hello in the initrd")
def test_trace_of_a_user_program_has_its_polls_and_system_calls(boot):
    t = traced_run(boot, 2, "/bin/hello")
    assert t["workload"] == "prog"
    doc = ptrace.to_chrome(t)
    assert "hello" in {e["name"] for e in events(doc, "X", "poll")}
    calls = {e["name"] for e in doc["traceEvents"] if e.get("cat") == "syscall"}
    assert any(re.match(r"syscall (write|exit|exit_group)$", n) for n in calls), calls
    assert events(doc, "X", "user"), "no user-mode slices (trap exit .. trap entry)"
    assert ptrace.overlapping_slices(doc) == []


# ---- the host side alone ----------------------------------------------------

FRAMES = """noise before
@TBEGIN 2 10000000 prog
@N 7 sh
@T 0 1000 1 7 0
@T 0 1010 8 64 3
@T 0 1020 9 64 5
@T 0 1030 8 63 3
@T 0 1040 2 7 0
@T 1 1100 1 7 0
@T 1 1150 9 0 18446744073709551615
@T 1 1200 2 7 1
@TH 0 5 2
@TH 1 3 0
@TEND 2 0
"""


def test_parser_builds_slices_async_syscalls_and_reports_drops():
    t = ptrace.parse_console(FRAMES)
    assert t["complete"] and t["dropped"] == [2, 0] and ptrace.lost_in_transit(t) == {}
    doc = ptrace.to_chrome(t)
    polls = events(doc, "X", "poll")
    assert [(e["tid"], e["name"], e["ts"], e["dur"]) for e in polls] == \
        [(0, "sh", 0.0, 4.0), (1, "sh", 10.0, 10.0)]
    write = events(doc, "X", "syscall")          # began and ended in one poll
    assert len(write) == 1 and write[0]["name"].startswith("syscall ") and write[0]["dur"] == 1.0
    b, e = events(doc, "b", "syscall"), events(doc, "e", "syscall")   # waited across polls
    assert len(b) == 1 and len(e) == 1 and b[0]["id"] == e[0]["id"]
    assert b[0]["tid"] == 0 and e[0]["tid"] == 1 and b[0]["args"]["result"] == -1
    assert doc["otherData"]["dropped_per_hart"] == [2, 0]


def test_parser_reports_a_truncated_or_damaged_dump():
    lost = FRAMES.replace("@T 1 1150 9 0 18446744073709551615\n", "")
    problems = ptrace.report(ptrace.parse_console(lost), out=open(os.devnull, "w"))
    assert any("lost between guest and host" in p for p in problems)
    cut = FRAMES.split("@TH 1")[0]
    problems = ptrace.report(ptrace.parse_console(cut), out=open(os.devnull, "w"))
    assert any("did not finish" in p for p in problems)
    with pytest.raises(ptrace.TraceError):
        ptrace.parse_console("no trace here\n")


def test_prog_words_become_one_bootarg():
    assert ptrace.bootargs_for("/bin/echo hi there") == "trace traceprog=/bin/echo,hi,there"
    assert ptrace.bootargs_for("", "steal=off") == "trace traceprog=ktest steal=off"


@pytest.mark.skipif(not _initrd_has("/bin/hello"), reason="no /bin/hello in the initrd")
def test_traceonly_keeps_the_program_process_alone(boot):
    t = traced_run(boot, 2, "/bin/hello", "traceonly")
    doc = ptrace.to_chrome(t)
    polls = {e["name"] for e in events(doc, "X", "poll")}
    assert polls == {"hello"}, polls            # no tracer, no other task
    assert not events(doc, "X", "idle")         # idle harts run no process
    assert events(doc, "X", "syscall") or events(doc, "b", "syscall")
