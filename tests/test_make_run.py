"""`make run` itself, as a user types it: it builds what is missing, boots
from the ext2 root disk to the shell, runs a pipeline, and Ctrl-A X quits.
(The other console tests boot QEMU through tests/pollux.py, so a mistake in
build.mk's run command line would go unnoticed without this one.)"""
import pathlib

import pexpect

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_make_run_boots_from_the_root_disk_to_a_working_shell():
    c = pexpect.spawn("make", ["run", "SMP=2"], cwd=str(ROOT), encoding="latin-1", timeout=300)
    try:
        c.expect_exact("root: ext2 on vda")     # / is the disk, not the initrd
        c.expect_exact("$ ")
        c.sendline("echo ok | cat")
        c.expect_exact("ok\r\n")
        c.expect_exact("$ ")
        c.send("\x01x")                 # Ctrl-A X: QEMU quits
        c.expect(pexpect.EOF, timeout=60)
    finally:
        c.close(force=True)
    assert c.exitstatus == 0, (c.exitstatus, c.signalstatus)
