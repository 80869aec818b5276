"""The foundation: boot on every hart, the monitor, self-tests, bad input."""
import re

import pexpect


def boot_monitor(boot, **kw):
    m = boot(bootargs=kw.pop("bootargs", "monitor"), **kw)
    m.expect(r"Pollux: (\d+) harts, (\d+) MiB memory")
    m.child.expect_exact(m.PROMPT)
    return m


def test_banner_reports_harts_memory_and_bootargs(boot):
    m = boot(smp=2, mem="256M", bootargs="monitor hello=world")
    match = m.expect(r'Pollux: (\d+) harts, (\d+) MiB memory .*bootargs "([^"]*)"')
    assert match.group(1) == "2"
    assert match.group(2) == "256"
    assert match.group(3) == "monitor hello=world"


def test_every_hart_comes_online(boot):
    m = boot_monitor(boot, smp=4)
    out = m.monitor("harts")
    rows = [l for l in out.splitlines() if re.match(r"^\d+\s", l)]
    assert len(rows) == 4
    assert all(l.split()[2] == "yes" for l in rows), out


def test_help_lists_the_commands(boot):
    m = boot_monitor(boot)
    out = m.monitor("help")
    for cmd in ("help", "harts", "tasks", "mem", "ktest"):
        assert cmd in out


def test_tasks_shows_the_monitor_task(boot):
    m = boot_monitor(boot)
    out = m.monitor("tasks")
    assert re.search(r"^ID\s+NAME\s+STATE\s+HART\s+POLLS", out, re.M)
    assert re.search(r"^\d+\s+monitor\s+running\s+\d+\s+\d+", out, re.M), out


def test_mem_shows_allocator_counters(boot):
    m = boot_monitor(boot)
    out = m.monitor("mem")
    assert re.search(r"pages: \d+ total, \d+ free", out)
    assert re.search(r"kmalloc: \d+ objects", out)


def test_unknown_command_gets_one_line_error(boot):
    m = boot_monitor(boot)
    out = m.monitor("frobnicate now")
    assert "error: unknown command 'frobnicate'" in out
    assert "help" in m.monitor("help")


def test_4k_line_is_rejected_and_monitor_continues(boot):
    m = boot_monitor(boot)
    m.send("x" * 4096 + "\r")
    m.expect("error: line too long")
    m.child.expect_exact(m.PROMPT)
    assert "pages:" in m.monitor("mem")


def test_binary_garbage_does_not_crash_the_kernel(boot):
    m = boot_monitor(boot)
    garbage = bytes(range(256)).replace(b"\r", b"").replace(b"\n", b"").replace(b"\x03", b"").replace(b"\x04", b"")
    for _ in range(4):
        m.child.send(garbage.decode("latin-1"))
    m.send("\r")
    m.expect(r"error: (unknown command|line too long)")
    m.child.expect_exact(m.PROMPT)
    assert "pages:" in m.monitor("mem")


def test_backspace_edits_the_line(boot):
    m = boot_monitor(boot)
    m.send("mex\x7f\x7fem\r")
    m.expect(r"pages: \d+ total")


def test_ktest_in_the_monitor_passes(boot):
    m = boot_monitor(boot, smp=4)
    out = m.monitor("ktest", timeout=120)
    assert re.search(r"ktest: \d+ passed, 0 failed", out), out


def test_ktest_bootarg_exits_qemu_with_status_0(boot):
    m = boot(smp=4, bootargs="ktest", initrd=False)
    m.expect(r"ktest: (\d+) passed, (\d+) failed", timeout=120)
    assert m.child.match.group(2) == "0"
    assert m.wait_exit() == 0


def test_panic_report_is_symbolized(boot):
    from pollux import symbolize
    m = boot_monitor(boot)
    m.sendline("panic")
    m.expect("end of panic report")
    assert m.wait_exit() != 0
    text = symbolize(m.log)
    assert re.search(r"hart \d+", text)
    assert "sepc=" in text or "backtrace" in text
    assert "monitor.c:" in text


def harts_column(out, name):
    header = next(l for l in out.splitlines() if l.startswith("HART"))
    col = header.split().index(name)
    return [int(l.split()[col]) for l in out.splitlines() if re.match(r"^\d+\s", l)]


def test_harts_idle_since_boot_show_as_idle(boot):
    """Harts 1-3 never get work in the monitor: they sit in one wfi since
    boot, and IDLE% must say so (it read 0 while that first wait lasted)."""
    m = boot_monitor(boot, smp=4)
    m.monitor("help")
    idle = harts_column(m.monitor("harts"), "IDLE%")
    assert len(idle) == 4
    assert all(v >= 50 for v in idle[1:]), idle
    assert all(0 <= v <= 100 for v in idle), idle


def tasks_counter_column(out):
    header = next(l for l in out.splitlines() if l.startswith("ID "))
    return header.split()[-1]


def test_tasks_counter_column_is_host_ticks_without_icount(boot):
    m = boot_monitor(boot)
    out = m.monitor("tasks")
    assert tasks_counter_column(out) == "HOST-TICKS", out
    assert "not instructions" in out


def test_tasks_counter_column_is_instructions_under_icount(boot):
    m = boot_monitor(boot, icount=True)
    out = m.monitor("tasks")
    assert tasks_counter_column(out) == "INSNS", out
    assert "INSTRET" not in out
