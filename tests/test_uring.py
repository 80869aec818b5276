"""Asynchronous system calls (io_uring) and the user coroutine runtime."""
import re
import time

from test_user import PROMPT, run, shell


def free_pages(m):
    return int(re.search(r"(\d+) free", run(m, "cat /proc/mem")).group(1))


# An idle hart holds back the page-table root of the last process it ran
# (arch/riscv/pagetable.c, at most one per hart): "back to baseline" is
# within that many pages.
ROOTS_HELD = 4


def settles_back(m, before):
    for _ in range(20):
        if free_pages(m) + ROOTS_HELD >= before:
            return True
        time.sleep(0.2)
    return False


def test_uring_abi_conformance(boot):
    m = shell(boot)
    out = run(m, "uring_test", timeout=120)
    assert "FAIL" not in out, out
    assert "uring_test: all ok" in out, out
    # the read on an empty pipe was still pending when io_uring_enter returned
    assert "enter returned 1 with the read still pending" in out, out


def test_coroutine_thread_blocks_only_when_all_wait(boot):
    m = shell(boot)
    m.sendline("coread")
    # a read of the console is pending all along, and the other coroutine
    # keeps ticking: the thread does not block on the read
    ticks = [int(m.expect(r"coread: tick (\d+)", timeout=10).group(1)) for _ in range(3)]
    assert ticks == sorted(ticks) and len(set(ticks)) == 3, ticks
    m.sendline("hello pollux")
    m.expect(r"coread: got hello pollux", timeout=10)
    stats = m.expect(r"coread: ticks (\d+), enters (\d+), waits (\d+)", timeout=10)
    assert int(stats.group(1)) >= 3
    m.child.expect_exact(PROMPT, timeout=10)


def test_many_coroutines_echo_through_pipes(boot):
    m = shell(boot)
    out = run(m, "aecho", timeout=60)
    assert re.search(r"aecho: 64 coroutines, 1024 messages ok", out), out


def test_ten_thousand_coroutines(boot):
    m = shell(boot)
    before = free_pages(m)
    out = run(m, "coro10k", timeout=120)
    assert re.search(r"coro10k: 10000 done in \d+ ms", out), out
    assert "coro10k: 10000 ok, 0 bad" in out, out
    # every kernel task and ring of the run is gone
    assert settles_back(m, before), (before, free_pages(m))


def test_high_priority_coroutine_is_served_first(boot):
    m = shell(boot)
    out = run(m, "prio", timeout=60)
    g = re.search(r"prio: high served first \(max lag (\d+) yields\) ok", out)
    assert g and int(g.group(1)) <= 1, out
    # for comparison, at the same priority it waits behind the 8 others
    g = re.search(r"prio: sleeper at 1: max lag (\d+) yields", out)
    assert g and int(g.group(1)) >= 1, out


def test_coroutine_migrates_to_an_idle_worker(boot):
    m = shell(boot, smp=4)
    out = run(m, "migrate 2", timeout=60)
    g = re.search(r"migrate: coroutine resumed on hart (\d+) after hart (\d+)", out)
    assert g and g.group(1) != g.group(2), out
    assert "migrate: ok" in out, out


def test_killed_with_operations_in_flight_leaves_the_kernel_fine(boot):
    m = shell(boot)

    rounds = iter(range(100))

    def sync():
        # the job's output and the shell's prompt come in either order
        n = next(rounds)
        m.sendline("echo SYNC%d" % n)
        m.expect(r"\nSYNC%d" % n, timeout=20)
        m.child.expect_exact(PROMPT, timeout=10)

    def one_round():
        m.sendline("uring_test hold &")
        pid = m.expect(r"\[(\d+)\]").group(1)
        # the job may print before the shell prints its job number (chaos seed 111)
        if "uring_test: holding 16 operations" not in m.child.before:
            m.expect(r"uring_test: holding 16 operations", timeout=20)
        sync()
        run(m, "kill -9 %s" % pid)
        for _ in range(20):
            if not re.search(r"^%s\s" % pid, run(m, "ps"), re.M):
                break
            time.sleep(0.2)
        else:
            raise AssertionError("uring_test hold did not die")

    one_round()                 # warm the allocator caches up
    before = free_pages(m)
    for _ in range(4):
        one_round()
    assert settles_back(m, before), (before, free_pages(m))
    out = run(m, "uring_test nop_batches async_cancel exit_in_flight", timeout=60)
    assert "uring_test: all ok" in out, out


def uring_check(boot, name, timeout=120, smp=4):
    m = shell(boot, smp=smp)
    out = run(m, "uring_test " + name, timeout=timeout)
    assert "uring_test: PASS " + name in out, out
    assert "uring_test: all ok" in out, out
    return out


def test_a_read_polled_by_the_waiting_enter_outlives_the_wait(boot):
    # the wait of io_uring_enter polls the pipe READ it submitted; a signal,
    # another completion or the process's death ending the wait must leave
    # the READ to complete (or be cancelled) on its own
    uring_check(boot, "owned_read_outlives_the_wait", smp=2)


def test_link_timeout_of_an_op_cancelled_before_it_starts_still_completes(boot):
    # issue 13.6: READ (bad fd) -> NOP -> LINK_TIMEOUT gives three completions
    uring_check(boot, "link_timeout_cancelled_before_start")


def test_link_timeout_clock_starts_when_its_op_starts(boot):
    uring_check(boot, "link_timeout_clock_starts_with_op")


def test_msg_ring_into_a_full_ring_is_bounded_and_says_eoverflow(boot):
    # issue 13.1: no kernel memory grows with messages nobody reaps
    uring_check(boot, "msg_ring_overflow_bounded")


def test_each_sqe_is_read_once(boot):
    # issue 8.5: an SQE changed while the kernel takes it acts as one opcode
    out = uring_check(boot, "sqe_read_once", timeout=180)
    assert re.search(r"ran as \d+ READs and \d+ TIMEOUTs", out), out


def test_failed_copyout_of_pipe2_or_io_uring_setup_installs_no_fd(boot):
    uring_check(boot, "failed_copyout_installs_nothing", timeout=180)


def test_uring_operations_end_with_their_process(boot):
    # issue 13.9: rounds of children whose threads make random calls over
    # live descriptors, a live ring taking random SQEs, buffers unmapped
    # meanwhile, ended by exit_group or SIGKILL; afterwards no uring_op task
    # is left and /proc/tasks and /proc/mem are back to their baseline
    m = shell(boot, smp=4)
    out = run(m, "uring_fuzz 40 1", timeout=240)
    g = re.search(r"uring_fuzz: 40 rounds, tasks (\d+) -> (\d+), uring_op (\d+) -> (\d+)", out)
    assert g, out
    assert int(g.group(4)) == 0, out
    assert "uring_fuzz: ok" in out, out
    # the console is the shell's again: no dead child's READ took this line
    assert "still here" in run(m, "echo still here")


def test_poll_add_for_input_or_output_wakes_on_either(boot):
    uring_check(boot, "poll_add_both_sides")


def test_huge_uring_timeouts_do_not_wrap_to_nothing(boot):
    uring_check(boot, "huge_timeouts_do_not_wrap")


def test_execve_ends_the_old_images_uring_operations(boot):
    uring_check(boot, "exec_cancels_operations")


def test_ring_waits_interrupted_and_ended_mid_wait_with_a_thread_that_never_writes_the_hint(boot):
    # racer uring: each round a child waits in io_uring_enter for pipe
    # READs into copy-on-write buffers while sibling threads write the
    # pipes, signal it, close the ring and end the process.  The ring's
    # creator never writes the priority hint (as a Linux program): it
    # must not drop to the lowest level, where its busy sibling on the
    # same hart starved it and the child never exited (hung on 2 harts).
    from test_user import shell, run
    m = shell(boot, smp=2)
    out = run(m, "racer uring 60", timeout=240)
    assert "racer: uring ok" in out, out
    assert "KERNEL PANIC" not in m.log


def test_a_thread_polling_the_ring_sees_what_a_read_copied_on_write(boot):
    # a READ's copy-out breaks copy-on-write (the page shared with a forked
    # child) while another thread runs on the other hart with the old
    # page's translation; once that thread sees the CQE in the ring it must
    # read the new bytes: the CQE waits for the owed TLB shootdown
    uring_check(boot, "cow_copy_seen_by_ring_poller", smp=2)
