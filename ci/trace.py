#!/usr/bin/env python3
"""make trace: boot Pollux with tracing on, run one workload, and turn the
trace the kernel prints into build/trace.json, a Chrome trace-event file
(open it in https://ui.perfetto.dev or chrome://tracing).

    make trace PROG="/bin/prog arg"   # SMP=4 by default; BOOTARGS=... added
    make trace                        # no PROG: the kernel self-tests
    ci/trace.py --from-log build/trace.log --out build/trace.json

The guest gets bootargs `trace traceprog=<PROG words joined by ','>`
(`traceprog=ktest` when PROG is empty).  src/instruments/trace_export.c runs the
workload (a user program; `ktest`, the kernel self-tests, also used when
the program cannot be started; or `pingpong`, two kernel tasks on harts 0
and 1 waking each other), then prints every hart's trace ring as text
frames on the serial console and powers off:

    @TBEGIN <harts> <timebase Hz> <workload>
    @N <task id> <name>              task names, before their first poll record
    @T <hart> <time> <kind> <a> <b>  one record; kind numbers as in include/instruments/trace.h
    @TH <hart> <records sent> <dropped>
    @TEND <dropped of hart 0> <dropped of hart 1> ...

Rings hold the last 8192 records of each hart; older ones are counted as
dropped.  Dropped records are always reported here (and in the JSON's
otherData), never silently ignored; records the guest sent that did not
arrive make this script fail.

The JSON: one process (pid 0, "Pollux") with one thread per hart (tid =
hart index, "hart N").  Polls are complete ("X") slices named after the
task; idle, user-mode runs (trap exit .. trap entry) and system calls
that complete within one poll are slices too; a system call that waits
is an async slice ("b"/"e", category "syscall").  Wakes and IPIs are
instant events, each with a flow arrow: a wake to the task's next poll,
an IPI send to the target hart's next IPI receipt.  Timestamps are
microseconds from the first record, converted with the guest's timebase.
"""
import argparse
import bisect
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qemu   # noqa: E402  (ci/qemu.py: the shared QEMU runner)
from qemu import ROOT   # noqa: E402

# Must match enum trace_kind in include/instruments/trace.h; kind_names() re-reads
# the header when it is there, so the two cannot drift apart silently.
KINDS = ["POLL_BEGIN", "POLL_END", "WAKE", "IPI_SEND", "IPI_RECV", "TRAP_ENTER",
         "TRAP_EXIT", "SYSCALL_BEGIN", "SYSCALL_END", "URING_SUBMIT", "URING_COMPLETE",
         "IDLE_BEGIN", "IDLE_END"]

FRAME = re.compile(r"@(TBEGIN|TEND|TH|T|N)(?: (.*))?$")


def kind_names(header=os.path.join(ROOT, "include", "instruments", "trace.h")):
    """{number: name} of the trace kinds, from include/instruments/trace.h if present."""
    names = list(KINDS)
    try:
        with open(header) as f:
            text = f.read()
        m = re.search(r"enum trace_kind\s*{([^}]*)}", text)
        if m:
            body = re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)
            parsed = []
            for item in body.split(","):
                item = item.strip()
                if not item or item == "TR_KINDS":
                    continue
                name = item.split("=")[0].strip()
                if name.startswith("TR_"):
                    parsed.append(name[3:])
            if parsed and parsed[0] == "POLL_BEGIN":
                names = parsed
    except OSError:
        pass
    return {i + 1: n for i, n in enumerate(names)}


def syscall_names(src=os.path.join(ROOT, "src", "proc", "syscall.c")):
    """{number: name} from the kernel's system-call table, if present."""
    try:
        with open(src) as f:
            return {int(nr): name for nr, name in re.findall(r"E\((\d+),\s*(\w+)\)", f.read())}
    except OSError:
        return {}


class TraceError(Exception):
    pass


def parse_console(text):
    """Collect the trace frames from console output.

    Returns a dict: harts, timebase, workload, names {task id: name},
    records [(hart, time, kind, a, b)] in the order sent (each hart's in
    time order), sent {hart: records the guest says it sent}, dropped
    [per hart], received {hart: records that arrived}, complete (the
    @TEND frame arrived), malformed (lines that looked like frames but
    did not parse).  Raises TraceError if there is no trace at all."""
    t = {"harts": 0, "timebase": 10_000_000, "workload": "?", "names": {}, "records": [],
         "sent": {}, "dropped": [], "received": {}, "complete": False, "malformed": 0}
    begun = False
    for raw in text.splitlines():
        line = raw.strip("\r\n\x00 ")
        if not line.startswith("@"):
            continue
        m = FRAME.match(line)
        if not m:
            if line.startswith("@T") or line.startswith("@N"):
                t["malformed"] += 1
            continue
        tag, rest = m.group(1), (m.group(2) or "")
        f = rest.split()
        try:
            if tag == "TBEGIN":
                t["harts"], t["timebase"] = int(f[0]), int(f[1])
                t["workload"] = f[2] if len(f) > 2 else "?"
                begun = True
            elif not begun:
                continue
            elif tag == "N":
                t["names"][int(f[0])] = rest.split(" ", 1)[1] if " " in rest else "?"
            elif tag == "T":
                hart, time, kind, a, b = (int(x) for x in f[:5])
                if len(f) != 5:
                    raise ValueError
                t["records"].append((hart, time, kind, a, b))
                t["received"][hart] = t["received"].get(hart, 0) + 1
            elif tag == "TH":
                t["sent"][int(f[0])] = int(f[1])
            elif tag == "TEND":
                t["dropped"] = [int(x) for x in f]
                t["complete"] = True
                break
        except (ValueError, IndexError):
            t["malformed"] += 1
    if not begun:
        raise TraceError("no @TBEGIN frame in the console output: the traced run did not "
                         "reach the dump (is trace_run_start() wired to bootargs traceprog=?)")
    return t


def lost_in_transit(t):
    """{hart: records the guest sent that did not arrive}."""
    lost = {}
    for h, n in t["sent"].items():
        if t["received"].get(h, 0) != n:
            lost[h] = n - t["received"].get(h, 0)
    return lost


def to_chrome(t, meta=None):
    """Build the Chrome trace-event document (a dict) from parse_console()'s result."""
    kinds = kind_names()
    k = {name: num for num, name in kinds.items()}
    sysnames = syscall_names()
    tb = float(t["timebase"])
    recs = t["records"]
    t0 = min((r[1] for r in recs), default=0)

    def us(time):
        return round((time - t0) * 1e6 / tb, 3)

    def name_of(task):
        return t["names"].get(task, "task %d" % task)

    ev = [{"ph": "M", "pid": 0, "name": "process_name", "args": {"name": "Pollux"}},
          {"ph": "M", "pid": 0, "name": "process_sort_index", "args": {"sort_index": 0}}]
    for h in range(t["harts"]):
        ev.append({"ph": "M", "pid": 0, "tid": h, "name": "thread_name",
                   "args": {"name": "hart %d" % h}})
        ev.append({"ph": "M", "pid": 0, "tid": h, "name": "thread_sort_index",
                   "args": {"sort_index": h}})

    by_hart = {}
    for r in recs:
        by_hart.setdefault(r[0], []).append(r)

    stats = {"unmatched_ends": 0, "unfinished": 0, "flows": 0}
    polls_of = {}               # task -> sorted poll-begin times, for wake flows
    poll_hart = {}              # (task, time) -> hart
    ipi_recvs = {}              # hart -> sorted receipt times, for IPI flows
    wakes, ipis = [], []
    syscalls = {}               # task -> (name, begin time, hart, poll serial)

    for h, rs in sorted(by_hart.items()):
        rs.sort(key=lambda r: r[1])     # stable: same-time records keep their order
        poll = None                     # (task, begin time, serial)
        serial = 0
        idle = None
        user = None                     # (tid, time, sepc)
        last = rs[-1][1]
        for (_, time, kind, a, b) in rs:
            kn = kinds.get(kind, "KIND_%d" % kind)
            if kind == k.get("POLL_BEGIN"):
                serial += 1
                poll = (a, time, serial)
                polls_of.setdefault(a, []).append(time)
                poll_hart[(a, time)] = h
            elif kind == k.get("POLL_END"):
                if poll and poll[0] == a:
                    ev.append({"ph": "X", "name": name_of(a), "cat": "poll", "pid": 0, "tid": h,
                               "ts": us(poll[1]), "dur": round(us(time) - us(poll[1]), 3),
                               "args": {"task": a, "result": "READY" if b == 1 else "PENDING"}})
                else:
                    stats["unmatched_ends"] += 1
                poll = None
            elif kind == k.get("IDLE_BEGIN"):
                idle = time
            elif kind == k.get("IDLE_END"):
                if idle is not None:
                    ev.append({"ph": "X", "name": "idle", "cat": "idle", "pid": 0, "tid": h,
                               "ts": us(idle), "dur": round(us(time) - us(idle), 3)})
                else:
                    stats["unmatched_ends"] += 1
                idle = None
            elif kind == k.get("WAKE"):
                ev.append({"ph": "i", "s": "t", "name": "wake " + name_of(a), "cat": "wake",
                           "pid": 0, "tid": h, "ts": us(time), "args": {"task": a}})
                wakes.append((time, h, a))
            elif kind == k.get("IPI_SEND"):
                ev.append({"ph": "i", "s": "t", "name": "ipi send", "cat": "ipi", "pid": 0,
                           "tid": h, "ts": us(time), "args": {"to_hart": a}})
                ipis.append((time, h, a))
            elif kind == k.get("IPI_RECV"):
                ev.append({"ph": "i", "s": "t", "name": "ipi recv", "cat": "ipi", "pid": 0,
                           "tid": h, "ts": us(time), "args": {"count": a}})
                ipi_recvs.setdefault(h, []).append(time)
            elif kind == k.get("TRAP_EXIT"):      # kernel -> user
                user = (a, time, b)
            elif kind == k.get("TRAP_ENTER"):     # user -> kernel
                if user is not None:
                    ev.append({"ph": "X", "name": "user", "cat": "user", "pid": 0, "tid": h,
                               "ts": us(user[1]), "dur": round(us(time) - us(user[1]), 3),
                               "args": {"tid": a, "sepc": "0x%x" % user[2], "cause": "0x%x" % b}})
                else:
                    stats["unmatched_ends"] += 1
                user = None
            elif kind == k.get("SYSCALL_BEGIN"):
                task = poll[0] if poll else -1
                nm = "syscall " + sysnames.get(a, str(a))
                syscalls[task] = (nm, time, h, serial if poll else -1, a, b)
            elif kind == k.get("SYSCALL_END"):
                task = poll[0] if poll else -1
                s = syscalls.pop(task, None)
                if s is None:
                    stats["unmatched_ends"] += 1
                    continue
                nm, begin, bh, bserial, nr, tid = s
                res = b - (1 << 64) if b >= 1 << 63 else b
                args = {"nr": nr, "tid": tid, "result": res}
                if bh == h and bserial == serial and poll is not None:
                    ev.append({"ph": "X", "name": nm, "cat": "syscall", "pid": 0, "tid": h,
                               "ts": us(begin), "dur": round(us(time) - us(begin), 3),
                               "args": args})
                else:
                    aid = "task%d.%d" % (task, begin)
                    ev.append({"ph": "b", "name": nm, "cat": "syscall", "id": aid, "pid": 0,
                               "tid": bh, "ts": us(begin), "args": args})
                    ev.append({"ph": "e", "name": nm, "cat": "syscall", "id": aid, "pid": 0,
                               "tid": h, "ts": us(time)})
            else:
                ev.append({"ph": "i", "s": "t", "name": kn.lower().replace("_", " "),
                           "cat": "other", "pid": 0, "tid": h, "ts": us(time),
                           "args": {"a": a, "b": b}})
        # slices still open when the trace stopped end at the hart's last record
        if poll is not None:
            stats["unfinished"] += 1
            ev.append({"ph": "X", "name": name_of(poll[0]), "cat": "poll", "pid": 0, "tid": h,
                       "ts": us(poll[1]), "dur": round(us(last) - us(poll[1]), 3),
                       "args": {"task": poll[0], "unfinished": True}})
        if idle is not None:
            stats["unfinished"] += 1
            ev.append({"ph": "X", "name": "idle", "cat": "idle", "pid": 0, "tid": h,
                       "ts": us(idle), "dur": round(us(last) - us(idle), 3),
                       "args": {"unfinished": True}})

    # flow arrows: a wake to the woken task's next poll; an IPI to its receipt
    fid = 0
    for time, h, task in wakes:
        ts = polls_of.get(task)
        if not ts:
            continue
        ts.sort()
        i = bisect.bisect_left(ts, time)
        if i == len(ts):
            continue
        fid += 1
        ev.append({"ph": "s", "id": fid, "name": "wake", "cat": "wake", "pid": 0, "tid": h,
                   "ts": us(time)})
        ev.append({"ph": "f", "bp": "e", "id": fid, "name": "wake", "cat": "wake", "pid": 0,
                   "tid": poll_hart[(task, ts[i])], "ts": us(ts[i])})
    for time, h, to in ipis:
        ts = ipi_recvs.get(to)
        if not ts:
            continue
        ts.sort()
        i = bisect.bisect_left(ts, time)
        if i == len(ts):
            continue
        fid += 1
        ev.append({"ph": "s", "id": fid, "name": "ipi", "cat": "ipi", "pid": 0, "tid": h,
                   "ts": us(time)})
        ev.append({"ph": "f", "bp": "e", "id": fid, "name": "ipi", "cat": "ipi", "pid": 0,
                   "tid": to, "ts": us(ts[i])})
    stats["flows"] = fid

    other = {"source": "Pollux trace (src/instruments/trace_export.c, ci/trace.py)",
             "harts": t["harts"], "timebase_hz": t["timebase"], "workload": t["workload"],
             "records": len(recs), "records_per_hart": [t["received"].get(h, 0) for h in range(t["harts"])],
             "dropped_per_hart": t["dropped"], "complete": t["complete"],
             "lost_in_transit": lost_in_transit(t), "malformed_lines": t["malformed"]}
    other.update(stats)
    if meta:
        other.update(meta)
    return {"traceEvents": ev, "displayTimeUnit": "ns", "otherData": other}


def overlapping_slices(doc, eps=1e-6):
    """Pairs of complete ("X") slices on one track that overlap without
    nesting (Perfetto and the spec want them nested); [] if none."""
    bad = []
    by_tid = {}
    for e in doc["traceEvents"]:
        if e["ph"] == "X":
            by_tid.setdefault((e["pid"], e["tid"]), []).append(e)
    for slices in by_tid.values():
        slices.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack = []
        for e in slices:
            while stack and stack[-1]["ts"] + stack[-1]["dur"] <= e["ts"] + eps:
                stack.pop()
            if stack and e["ts"] + e["dur"] > stack[-1]["ts"] + stack[-1]["dur"] + eps:
                bad.append((stack[-1], e))
            stack.append(e)
    return bad


def report(t, out=sys.stdout):
    """Print the summary, dropped records included; returns a list of problems."""
    problems = []
    recv = [t["received"].get(h, 0) for h in range(t["harts"])]
    out.write("trace: %s on %d harts: %d records (per hart: %s)\n"
              % (t["workload"], t["harts"], sum(recv), " ".join(map(str, recv))))
    dropped = t["dropped"]
    out.write("trace: dropped records per hart: %s\n"
              % (" ".join(map(str, dropped)) if dropped else "unknown (no @TEND)"))
    if any(dropped):
        out.write("trace: WARNING: %d records were dropped (each hart's ring keeps its last "
                  "8192): the trace shows the end of the run only\n" % sum(dropped))
    if not t["complete"]:
        problems.append("the dump did not finish (no @TEND frame)")
    lost = lost_in_transit(t)
    if lost:
        problems.append("records lost between guest and host: %s" % lost)
    if t["malformed"]:
        problems.append("%d malformed frame lines" % t["malformed"])
    for p in problems:
        out.write("trace: ERROR: %s\n" % p)
    return problems


BOOTARG_VALUE_MAX = 63     # bootarg_value() (src/main.c) keeps this many characters


def traceprog(prog):
    """PROG words joined by ',' (bootargs are split at spaces); 'ktest' if empty."""
    words = prog.split()
    if any("," in w for w in words):
        raise TraceError("PROG words cannot contain ',' (it separates them in bootargs)")
    value = ",".join(words) if words else "ktest"
    if len(value) > BOOTARG_VALUE_MAX:
        raise TraceError("PROG is %d characters joined; the kernel reads at most %d"
                         % (len(value), BOOTARG_VALUE_MAX))
    return value


def bootargs_for(prog, extra=""):
    return ("trace traceprog=%s %s" % (traceprog(prog), extra)).strip()


def boot(kernel, opensbi, initrd="", smp=4, mem="128M", bootargs="", timeout=300):
    """Run QEMU to power-off; returns (exit status or None on timeout, console text)."""
    status, out, _ = qemu.run(kernel, opensbi, initrd, smp, mem, bootargs, timeout=timeout)
    return status, out


git_rev = qemu.git_rev


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kernel")
    ap.add_argument("--initrd", default="")
    ap.add_argument("--opensbi", default="/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin")
    ap.add_argument("--smp", type=int, default=4)
    ap.add_argument("--mem", default="128M")
    ap.add_argument("--prog", default="", help="program and arguments; empty: kernel self-tests")
    ap.add_argument("--bootargs", default="", help="more bootargs (e.g. steal=off)")
    ap.add_argument("--timeout", type=int, default=300)
    ap.add_argument("--from-log", help="convert a saved console log instead of booting")
    ap.add_argument("--log", help="save the console output here")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)

    meta = {"git_revision": git_rev()}
    if a.from_log:
        with open(a.from_log, encoding="latin-1") as f:
            text = f.read()
        meta["log"] = a.from_log
    else:
        if not a.kernel:
            ap.error("--kernel is needed unless --from-log is given")
        try:
            bootargs = bootargs_for(a.prog, a.bootargs)
        except TraceError as e:
            raise SystemExit("trace: %s" % e)
        print("trace: booting %d harts with bootargs \"%s\"" % (a.smp, bootargs))
        status, text = boot(a.kernel, a.opensbi, a.initrd, a.smp, a.mem, bootargs, a.timeout)
        meta.update({"bootargs": bootargs, "prog": a.prog, "qemu_status": status})
        if a.log:
            os.makedirs(os.path.dirname(os.path.abspath(a.log)), exist_ok=True)
            with open(a.log, "w", encoding="latin-1") as f:
                f.write(text)
        if status is None:
            sys.stderr.write(text[-3000:])
            raise SystemExit("trace: QEMU did not power off within %d s" % a.timeout)
    try:
        t = parse_console(text)
    except TraceError as e:
        sys.stderr.write(text[-3000:] + "\n")
        raise SystemExit("trace: %s" % e)
    problems = report(t)
    doc = to_chrome(t, meta)
    overlaps = overlapping_slices(doc)
    if overlaps:
        problems.append("%d slices overlap without nesting, e.g. %s" % (len(overlaps), overlaps[0]))
        print("trace: ERROR: %s" % problems[-1])
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    print("trace: wrote %s (%d events); open it in https://ui.perfetto.dev or chrome://tracing"
          % (a.out, len(doc["traceEvents"])))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
