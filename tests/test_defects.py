"""Defects a user program could trigger (issues 8 and 13), each checked
through the shell with user/defects.c."""
import re
import time

from test_user import PROMPT, run, shell


def test_fd_table_grows_to_the_linux_limits_and_dup3_to_100_works(boot):
    m = shell(boot)
    out = run(m, "defects fds")
    assert "defects fds: ok" in out, out


def test_close_on_exec_is_honoured_by_fcntl_open_pipe2_dup3_and_execve(boot):
    m = shell(boot)
    out = run(m, "defects cloexec")
    assert "defects cloexec: ok" in out, out
    assert "FAILED" not in out, out


def test_timeouts_before_the_epoch_huge_or_negative(boot):
    m = shell(boot)
    out = run(m, "defects sleeps", timeout=60)
    assert "defects sleeps: ok" in out, out


def test_futex_wake_counted_is_never_lost_to_a_timeout(boot):
    m = shell(boot)
    out = run(m, "defects futexrace 20000", timeout=180)
    assert "defects futexrace: ok" in out, out


def test_console_eof_is_only_where_ctrl_d_was_typed(boot):
    m = shell(boot)
    m.sendline("defects eof")
    m.child.expect_exact("defects eof: type now", timeout=30)
    m.send("abc\x04def\rghi\r")     # queued while nobody reads
    m.child.expect_exact(PROMPT, timeout=60)
    out = m.child.before
    assert 'read 1 3 "abc"' in out, out
    assert 'read 2 4 "def\\n"' in out, out
    assert 'read 3 4 "ghi\\n"' in out, out
    assert "read 4 would wait" in out, out


def test_setpriority_is_limited_to_own_processes_and_rlimit_nice(boot):
    m = shell(boot)
    out = run(m, "defects nice")
    assert "defects nice: ok" in out, out


def test_shell_answers_while_8_threads_spin_at_the_highest_priority(boot):
    m = shell(boot)
    m.sendline("defects spinners 8 &")
    g = m.expect(r"defects spinners: pid (\d+): 8 threads spinning at nice (-?\d+)", timeout=60)
    pid, nice = g.group(1), int(g.group(2))
    assert nice == 0, "a program raised itself above nice 0"
    # the shell, its children and the console still get the harts
    # (the quotes keep the echoed command line from matching the output)
    for word in ("first", "second"):
        m.sendline('echo still""' + word)
        m.child.expect_exact("still" + word, timeout=30)
    m.sendline("kill -9 " + pid)
    m.sendline('echo all""done')
    m.child.expect_exact("alldone", timeout=30)


def test_kernel_messages_are_dropped_not_polled_when_the_console_is_full(boot):
    m = shell(boot)
    m.sendline("defects logflood 2000")
    m.child.expect_exact("defects logflood: 2000 faults", timeout=30)
    # Stop reading: the host's pty fills, then the UART stalls and the
    # transmit ring fills while the kernel keeps reporting faults.  The
    # kernel must drop and count, not spin with interrupts masked.
    time.sleep(8)
    g = m.expect(r"logflood: done: (\d+) faults, (-?\d+) kernel messages dropped", timeout=120)
    m.child.expect_exact(PROMPT, timeout=30)
    made, dropped = int(g.group(1)), int(g.group(2))
    printed = m.log.count("): killed: store page fault")
    noted = sum(int(n) for n in re.findall(r"\[(\d+) kernel messages dropped\]", m.log))
    assert made == 2000
    assert dropped > 0, "the console never filled: nothing was dropped"
    assert noted <= dropped
    # every message was printed or counted
    assert printed + dropped == made, (printed, dropped)
