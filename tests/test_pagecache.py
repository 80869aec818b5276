"""The page cache and file mappings: mmap of ext2 files (MAP_SHARED written
back, MAP_PRIVATE copied on write), faults that wait for the disk, and
programs run from the disk sharing their pages.
"""
import os
import re

import pytest

from test_storage import fsck, poweroff, root_copy, run, shell


def test_shared_mapping_writes_reach_read_and_survive_a_reboot(boot, tmp_path):
    img = root_copy(tmp_path)
    m = shell(boot, [img])
    assert "mmapfile: make ok" in run(m, "mmapfile make /tmp/mf")
    assert "mmapfile: shared ok" in run(m, "mmapfile shared /tmp/mf")
    assert "mmapfile: coherent ok" in run(m, "mmapfile coherent /tmp/mf")
    poweroff(m)
    code, log = fsck(img)
    assert code == 0, log
    # a fresh boot: the cache is cold, so the mapping's faults wait for the disk
    m = shell(boot, [img])
    assert "mmapfile: check ok" in run(m, "mmapfile check /tmp/mf")
    # the faults on the cold file found no page: the thread's task waited
    # (returned PENDING) for a fill task instead of holding the hart
    g = re.search(r"pagecache faults: (\d+) fills started, (\d+) waits", run(m, "cat /proc/mem"))
    assert g and int(g.group(1)) > 0 and int(g.group(2)) > 0, g
    poweroff(m)


def test_private_mapping_writes_stay_private(boot, tmp_path):
    m = shell(boot, [root_copy(tmp_path)])
    run(m, "mmapfile make /tmp/mf")
    assert "mmapfile: private ok" in run(m, "mmapfile private /tmp/mf")


def test_two_processes_share_a_shared_mapping(boot, tmp_path):
    m = shell(boot, [root_copy(tmp_path)])
    run(m, "mmapfile make /tmp/mf")
    assert "mmapfile: two ok" in run(m, "mmapfile two /tmp/mf")


def test_a_system_call_copying_into_an_unread_file_page_waits_for_it(boot, tmp_path):
    img = root_copy(tmp_path)
    m = shell(boot, [img])
    run(m, "mmapfile make /tmp/mf")
    poweroff(m)
    m = shell(boot, [img])              # cold cache
    assert "mmapfile: sysread ok" in run(m, "mmapfile sysread /tmp/mf")


def test_io_uring_copies_to_and_from_unread_file_pages_wait_for_them(boot, tmp_path):
    # READ, WRITE, STATX and READV whose user memory is a page of a file
    # mapping that is only on the disk: each op waits for the page (as a
    # fault does) and copies the right bytes, instead of failing -EFAULT
    img = root_copy(tmp_path)
    m = shell(boot, [img])
    files = ["/tmp/u%d" % i for i in range(5)]
    for f in files:
        run(m, "mmapfile make " + f)
    poweroff(m)
    m = shell(boot, [img])              # cold cache
    out = run(m, "mmapfile uring " + " ".join(files))
    assert "mmapfile: uring ok" in out, out


def test_io_uring_ops_waiting_for_a_file_page_are_cancelled_cleanly(boot, tmp_path):
    # an op waiting for a page's fill is cancelled by ASYNC_CANCEL, and by
    # its process's exit: both end, the fills go on, and the pages read
    img = root_copy(tmp_path)
    m = shell(boot, [img])
    for f in ["/tmp/c5", "/tmp/c6", "/tmp/src"]:
        run(m, "mmapfile make " + f)
    poweroff(m)
    m = shell(boot, [img])              # cold cache
    out = run(m, "mmapfile uringcancel /tmp/c5 /tmp/c6 /tmp/src")
    assert "mmapfile: uringcancel ok" in out, out
    assert "hello" in run(m, "echo hello")
    poweroff(m)
    code, log = fsck(img)
    assert code == 0, log


def pagecache_stats(m):
    out = run(m, "cat /proc/mem")
    g = re.search(r"pagecache: (\d+) pages, (\d+) mapped, (\d+) shared", out)
    assert g, out
    return [int(x) for x in g.groups()]


def test_programs_from_the_disk_share_their_pages(boot, tmp_path):
    m = shell(boot, [root_copy(tmp_path)])
    _, _, shared0 = pagecache_stats(m)
    run(m, "sleep 30 &")
    run(m, "sleep 30 &")
    pages, mapped, shared = pagecache_stats(m)
    # the two sleeps map the same cache pages of /bin/sleep's text
    assert shared >= shared0 + 10, (shared0, shared)
    assert "hello" in run(m, "echo hello")


def test_cached_pages_give_way_when_a_program_needs_the_memory(boot, tmp_path):
    # a 48 MiB file read back fills the page and block caches; a program
    # that then wants most of memory gets it: the allocator asks the caches
    # to give back clean pages before it fails (mapped ones stay)
    m = shell(boot, [root_copy(tmp_path)], mem="128M")
    run(m, "mmapfile make /tmp/mf")
    assert "fswriters: 1 ok" in run(m, "fswriters 1 49152", timeout=300)
    assert "memhog: ok" in run(m, "memhog 80", timeout=300)
    g = re.search(r"pagecache: .* (\d+) reclaimed", run(m, "cat /proc/mem"))
    assert g and int(g.group(1)) > 0, g
    assert "mmapfile: shared ok" in run(m, "mmapfile shared /tmp/mf")


def test_one_hart_runs_another_process_while_a_fault_waits_for_the_disk(boot, tmp_path):
    if os.environ.get("POLLUX_CHAOS_SEED"):
        # the chaos executor may poll the woken fault before the child
        pytest.skip("the order of ready tasks is the point here")
    img = root_copy(tmp_path)
    m = shell(boot, [img])
    run(m, "mmapfile make /tmp/counter")
    run(m, "mmapfile make /tmp/cold")
    poweroff(m)
    m = shell(boot, [img], smp=1)       # /tmp/cold is on the disk only now
    out = run(m, "mmapfile overlap /tmp/counter /tmp/cold")
    assert "mmapfile: overlap ok" in out, out


def test_a_process_killed_while_its_fault_waits_dies_and_the_page_still_reads(boot, tmp_path):
    img = root_copy(tmp_path)
    m = shell(boot, [img])
    run(m, "mmapfile make /tmp/flag")
    run(m, "mmapfile make /tmp/cold")
    poweroff(m)
    m = shell(boot, [img], smp=1)
    out = run(m, "mmapfile killwait /tmp/flag /tmp/cold")
    assert "mmapfile: killwait ok" in out, out
    assert "hello" in run(m, "echo hello")


def test_shared_writes_forks_truncation_and_fp_migration_race_on_four_harts(boot, tmp_path):
    # racer: writers through a MAP_SHARED mapping, a forker whose children
    # write their copy-on-write copies of a MAP_PRIVATE file mapping, a
    # truncator shrinking and growing the file, and FP threads moved from
    # hart to hart, all at once; every byte checked
    m = shell(boot, [root_copy(tmp_path)], smp=4)
    out = run(m, "racer /tmp/race 150", timeout=300)
    assert "racer: ok" in out, out
    # write() and a pipe write from a buffer running from an anonymous
    # page into a file page not cached: every byte once
    out = run(m, "racer split /tmp/split", timeout=300)
    assert "racer: split ok" in out, out
    assert "hello" in run(m, "echo hello")


def test_a_program_truncated_and_rewritten_while_it_runs_leaves_the_kernel_standing(boot, tmp_path):
    # racer exec: children exec a copy of /bin/hello while it is truncated
    # and written back (no ETXTBSY here: a child may die of the zeros it
    # finds); the kernel survives, and the rewritten program runs
    m = shell(boot, [root_copy(tmp_path)], smp=4)
    out = run(m, "racer exec /tmp/h 40", timeout=300)
    assert "racer: exec ok" in out, out
    assert "hello, world" in run(m, "/tmp/h")
    assert "KERNEL PANIC" not in m.log


def test_a_mapped_page_wholly_past_the_end_of_the_file_raises_sigbus(boot, tmp_path):
    m = shell(boot, [root_copy(tmp_path)])
    out = run(m, "mmapfile pasteof /tmp/short")
    assert "mmapfile: pasteof ok" in out, out
    assert "shared read past the end: SIGBUS si_code=2 si_addr_ok=1" in out, out
    assert "private write past the end: SIGBUS si_code=2 si_addr_ok=1" in out, out


def test_truncating_a_mapped_file_makes_the_lost_pages_raise_sigbus(boot, tmp_path):
    m = shell(boot, [root_copy(tmp_path)])
    out = run(m, "mmapfile truncate /tmp/shrunk")
    assert "mmapfile: truncate ok" in out, out
    assert "shared read of a truncated page: SIGBUS si_code=2 si_addr_ok=1" in out, out
    # the private copy of the lost page went too (as on Linux)
    assert "private read of a truncated page: SIGBUS si_code=2 si_addr_ok=1" in out, out
    assert "hello" in run(m, "echo hello")
