"""ci/qemu.py - the one way the scripts boot Pollux in QEMU (ci/bench.py,
ci/trace.py, ci/bench_plot.py, and tests/pollux.py's console harness).

    argv(...)  the qemu-system-riscv64 command line
    run(...)   boot to power-off: (exit status or None on timeout, console text, seconds)

icount=True adds `-icount shift=0` (the guest's counters then count
instructions, deterministically; a string gives -icount's options, e.g.
"shift=0,sleep=off" for the chaos tests) *and* the bootarg `icount`, which is how
the kernel knows what its counter counts: /proc/tasks labels the column
INSNS, not HOST-TICKS (src/instruments/monitor.c).  Always pass both
together; this module is the one place that does.
"""
import os
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QEMU = "qemu-system-riscv64"
OPENSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin"
ICOUNT = "shift=0"


def bootargs_with(bootargs, icount):
    words = bootargs.split()
    if icount and "icount" not in words:
        words.append("icount")
    return " ".join(words)


def disk_args(disks):
    """virtio-blk disks (the modern interface), in order: vda, vdb, ..."""
    a = ["-global", "virtio-mmio.force-legacy=false"] if disks else []
    for i, d in enumerate(disks):
        a += ["-drive", "file=%s,if=none,format=raw,id=d%d" % (d, i),
              "-device", "virtio-blk-device,drive=d%d" % i]
    return a


def argv(kernel, opensbi=OPENSBI, initrd="", smp=4, mem="128M", bootargs="", icount=False,
         extra=()):
    a = [QEMU, "-machine", "virt", "-smp", str(smp), "-m", mem, "-nographic",
         "-bios", opensbi, "-kernel", kernel, "-append", bootargs_with(bootargs, icount)]
    if initrd and os.path.exists(initrd):
        a += ["-initrd", initrd]
    if icount:
        a += ["-icount", ICOUNT if icount is True else icount]   # or its own options
    return a + list(extra)


def run(kernel, opensbi=OPENSBI, initrd="", smp=4, mem="128M", bootargs="", icount=False,
        timeout=300, extra=()):
    """Boot until the guest powers off.  Returns (status, console text, seconds);
    status is None if it did not finish within `timeout` seconds."""
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv(kernel, opensbi, initrd, smp, mem, bootargs, icount, extra),
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
        return p.returncode, p.stdout.decode("latin-1"), time.monotonic() - t0
    except subprocess.TimeoutExpired as e:
        return None, (e.stdout or b"").decode("latin-1"), time.monotonic() - t0


def git_rev():
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def git_dirty():
    try:
        out = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                             capture_output=True, text=True)
        return out.returncode == 0 and bool(out.stdout.strip())
    except OSError:
        return False
