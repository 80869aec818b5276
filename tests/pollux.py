"""Boot Pollux in QEMU and talk to its serial console (pexpect).

Every test gets a fresh machine from the `boot` fixture in conftest.py.
When a test fails, the console log is printed with any kernel addresses
in a panic report symbolized to file:line by addr2line.

Tests boot the poisoned debug kernel (TEST_KERNEL, `make all` builds it:
a use-after-free panics naming the allocation site); benchmarks measure
the ordinary one (KERNEL).  POLLUX_POISON=0 in the environment makes the
tests boot the ordinary kernel too; POLLUX_TEST_KERNEL and POLLUX_INITRD
name other files (make chaos boots copies, so a rebuild meanwhile does
not disturb a campaign).
"""
import os
import re
import subprocess
import sys

import pexpect

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "ci"))
import qemu   # noqa: E402  (ci/qemu.py: the one QEMU command line)
BUILD = os.path.join(ROOT, "build")
KERNEL = os.path.join(BUILD, "pollux.elf")
POISON_KERNEL = os.path.join(BUILD, "pollux-poison.elf")
TEST_KERNEL = os.environ.get("POLLUX_TEST_KERNEL") or (
    KERNEL if os.environ.get("POLLUX_POISON") == "0" else POISON_KERNEL)
INITRD = os.environ.get("POLLUX_INITRD") or os.path.join(BUILD, "initrd.cpio")
OPENSBI = qemu.OPENSBI
ADDR2LINE = "riscv64-unknown-elf-addr2line"


def qemu_argv(smp=4, mem="128M", bootargs="", initrd=True, icount=False, kernel=None,
              disks=()):
    """icount: True for `-icount shift=0`, or the -icount options themselves
    (e.g. "shift=0,sleep=off": idle time is skipped too, so a run depends on
    nothing but its inputs); either adds the bootarg `icount` (ci/qemu.py)."""
    return qemu.argv(kernel or TEST_KERNEL, OPENSBI, INITRD if initrd else "", smp, mem,
                     bootargs, icount, extra=qemu.disk_args(disks))


def symbolize(text, kernel=None):
    """Append file:line to every kernel address (0xffffffc0...) in text."""
    addrs = sorted(set(re.findall(r"0x(ffffffc0[0-9a-f]{8})", text)))
    if not addrs:
        return text
    try:
        out = subprocess.run([ADDR2LINE, "-f", "-p", "-e", kernel or TEST_KERNEL] + ["0x" + a for a in addrs],
                             capture_output=True, text=True, timeout=30).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return text
    where = dict(zip(addrs, out))
    return re.sub(r"0x(ffffffc0[0-9a-f]{8})",
                  lambda m: m.group(0) + " [" + where.get(m.group(1), "?").strip() + "]", text)


class Machine:
    """One QEMU guest; `log` keeps everything the console printed."""

    PROMPT = "pollux> "

    def __init__(self, smp=4, mem="128M", bootargs="", initrd=True, timeout=60,
                 icount=False, kernel=None, disks=()):
        self.log_chunks = []
        self.kernel = kernel or TEST_KERNEL
        seed = os.environ.get("POLLUX_CHAOS_SEED")      # make chaos FULL=1: every boot chaotic
        if seed and "chaos=" not in bootargs:
            bootargs = (bootargs + " chaos=" + seed).strip()
        argv = qemu_argv(smp, mem, bootargs, initrd, icount, self.kernel, disks)
        self.child = pexpect.spawn(argv[0], argv[1:], encoding="latin-1",
                                   timeout=timeout, codec_errors="replace")
        self.child.logfile_read = self

    # pexpect logfile protocol
    def write(self, s):
        self.log_chunks.append(s)

    def flush(self):
        pass

    @property
    def log(self):
        return "".join(self.log_chunks)

    def expect(self, pattern, timeout=-1):
        self.child.expect(pattern, timeout=timeout)
        return self.child.match

    def send(self, s):
        self.child.send(s)

    def sendline(self, s):
        self.child.send(s + "\r")

    def monitor(self, line, timeout=30):
        """Run a monitor command; return its output (up to the next prompt)."""
        self.sendline(line)
        self.child.expect_exact(self.PROMPT, timeout=timeout)
        out = self.child.before
        return out.split("\n", 1)[1] if "\n" in out else ""

    def wait_exit(self, timeout=120):
        self.child.expect(pexpect.EOF, timeout=timeout)
        self.child.wait()
        return self.child.exitstatus

    def close(self):
        if self.child.isalive():
            self.child.terminate(force=True)
