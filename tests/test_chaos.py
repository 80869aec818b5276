"""The chaos executor (bootargs chaos=SEED) on the poisoned debug kernel:
the kernel self-tests and a set of console workloads must pass whatever
order, placement and spurious polls the seed chooses, and no freed memory
may be written (the poison check panics if it is).

Seeds: POLLUX_CHAOS_SEEDS ("1 2 3" by default; "5-9" is a range).
POLLUX_CHAOS_ALL=1 adds the longer workloads (`make chaos` sets both; see
ci/chaos.py, which prints each failing seed with its reproducer).

The self-tests run under `-icount shift=0,sleep=off`: the harts then run
deterministically and nothing waits for the host's clock, so a seed gives
exactly the same run every time (the fingerprint test proves it) and a
failure reproduces with `make run POISON=1 ICOUNT=1 SMP=N BOOTARGS="ktest chaos=S"`
(N = harts_for(S)).
Console workloads depend on when the host delivers keystrokes, so the
same seed makes the same choices but not always in the same places.
"""
import os
import re

import pytest

from test_user import run, shell

ICOUNT = "shift=0,sleep=off"


def seeds():
    spec = os.environ.get("POLLUX_CHAOS_SEEDS", "1 2 3")
    out = []
    for part in spec.replace(",", " ").split():
        if "-" in part:
            a, b = part.split("-")
            out += range(int(a), int(b) + 1)
        else:
            out.append(int(part))
    return out


SEEDS = seeds()
ALL = os.environ.get("POLLUX_CHAOS_ALL") == "1"


def harts_for(seed):
    """The machine size is part of the seed: 4, 2, 3, 4, 2, ... harts."""
    return (4, 2, 3)[seed % 3] if seed > 3 else 4

# (command line, what its output must contain); each runs in one shell, in order.
WORKLOAD = [
    ("echo ok | cat", r"\bok\b"),
    ("echo one two | cat | cat", r"one two"),
    ("hello", r"hello, world"),
    ("threads 4", r"threads: counter=\d+ ok"),
    ("systest", r"systest: all ok"),
    ("uring_test", r"uring_test: all ok"),
    ("forkloop 30", r"forkloop: 30 ok"),
    ("cowtest basic", r"cowtest: basic ok"),
]
WORKLOAD_ALL = [
    ("badcalls", r"badcalls: all \d+ ok"),
    ("threads 8", r"threads: counter=\d+ ok"),
    ("fault null", r"killed: .*sepc="),
    ("tlbstress fixed 50", r"tlbstress: fixed 50 rounds ok"),
    ("tlbstress dontneed 50", r"tlbstress: dontneed 50 rounds ok"),
    ("coro10k", r"coro10k: 10000 ok, 0 bad"),
    ("aecho", r"aecho: 64 coroutines, 1024 messages ok"),
    # that a coroutine moves to the idle worker is a timing property chaos
    # may defeat (seed 106 on 2 harts): only that it runs through cleanly
    ("migrate 2", r"migrate: ok|migrate: FAILED: no resumption on another hart"),
    ("forkloop 300", r"forkloop: 300 ok"),
    ("cowtest threads 50", r"cowtest: threads 50 rounds ok"),
    ("spin a 1 | cat", r"spin a done"),
    ("cat /proc/tasks", r"ID\s+NAME\s+STATE"),
    ("uring_smoke", r"uring_smoke: ok"),
    # chaos sometimes pops a lower priority first: only that it runs through
    ("prio", r"prio: sleeper at 7"),
]


def no_panic(m):
    assert "KERNEL PANIC" not in m.log and "use after free" not in m.log, m.log[-4000:]


# "icount": deterministic; "parallel" (campaigns only): QEMU runs the
# harts on host threads at once, so races of a few instructions can show.
@pytest.mark.parametrize("mode", ["icount", "parallel"] if ALL else ["icount"])
@pytest.mark.parametrize("seed", SEEDS)
def test_ktest_passes_under_chaos(boot, seed, mode):
    m = boot(smp=harts_for(seed), bootargs="ktest chaos=%d" % seed,
             icount=ICOUNT if mode == "icount" else False)
    m.expect(r"ktest: (\d+) passed, (\d+) failed", timeout=240)
    assert m.child.match.group(2) == "0", m.log[-4000:]
    assert m.wait_exit() == 0
    no_panic(m)


@pytest.mark.parametrize("seed", SEEDS)
def test_shell_workload_passes_under_chaos(boot, seed):
    m = shell(boot, smp=harts_for(seed), bootargs="chaos=%d" % seed, timeout=120)
    assert "chaos: seed %d" % seed in m.log
    for line, want in WORKLOAD + (WORKLOAD_ALL if ALL else []):
        out = run(m, line, timeout=240)
        assert re.search(want, out), "%s:\n%s" % (line, out)
        no_panic(m)
    assert "ok" in run(m, "echo ok")


@pytest.mark.parametrize("seed", SEEDS)
def test_ext2_lock_workload_under_chaos_then_fsck_clean(boot, tmp_path, seed):
    """fsmix (renames between two directories, creates and unlinks in a
    shared one, a reader and a writer at once) on an ext2 root disk."""
    import test_storage as st
    img = st.root_copy(tmp_path)
    m = st.shell(boot, [img], smp=harts_for(seed), bootargs="chaos=%d" % seed)
    assert "fsmix: ok" in st.run(m, "fsmix 8", timeout=400)
    no_panic(m)
    st.poweroff(m)
    code, log = st.fsck(img)
    assert code == 0, log


def test_same_seed_same_run_under_icount(boot):
    prints = []
    for _ in range(2):
        m = boot(smp=4, bootargs="ktest chaos=7", initrd=False, icount=ICOUNT)
        prints.append(m.expect(r"chaos seed 7, (\d+) choices, fingerprint ([0-9a-f]+)\r?\n",
                               timeout=240).group(0))
        m.wait_exit()
    assert prints[0] == prints[1]
    m = boot(smp=4, bootargs="ktest chaos=8", initrd=False, icount=ICOUNT)
    other = m.expect(r"chaos seed 8, (\d+) choices, fingerprint ([0-9a-f]+)", timeout=240)
    assert other.group(2) != re.search(r"fingerprint ([0-9a-f]+)", prints[0]).group(1)
    m.wait_exit()


def test_run_with_chaos_7_boots_to_a_working_shell(boot):
    from pollux import KERNEL
    m = shell(boot, bootargs="chaos=7", kernel=KERNEL)     # what `make run` boots
    assert "chaos: seed 7" in m.log
    assert re.search(r"^ok\r?$", run(m, "echo ok | cat"), re.M)


def test_use_after_free_panics_naming_the_allocation_site(boot):
    from pollux import symbolize
    m = boot(bootargs="monitor")
    m.child.expect_exact(m.PROMPT)
    m.sendline("uaf")
    m.expect("end of panic report")
    assert m.wait_exit() != 0
    text = symbolize(m.log, m.kernel)
    assert "uaf: not caught" not in text
    line = next(l for l in text.splitlines() if "use after free" in l)
    assert re.search(r"written at \+40 \(0x1234\) after it was freed", line), line
    assert re.search(r"last allocated at 0x[0-9a-f]+ \[cmd_uaf at \S*monitor\.c:\d+", line), line
