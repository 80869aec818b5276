"""Persistent storage: the virtio-blk driver, ext2 read-write, the root disk.

Every test works on its own copy of build/rootfs.img (or an image it makes
with Debian's mkfs.ext2 -d), so the tests are independent of each other
and of what a user did with `make run`.
"""
import os
import random
import re
import shutil
import struct
import subprocess

import pytest

from pollux import BUILD

PROMPT = "$ "
ROOTFS = os.path.join(BUILD, "rootfs.img")
STRIP = os.path.join(BUILD, "user", "strip")
MKFS = "/usr/sbin/mkfs.ext2"
E2FSCK = "/usr/sbin/e2fsck"


def scratch_disk(tmp_path, mib=8, name="scratch.img"):
    p = tmp_path / name
    with open(p, "wb") as f:
        f.truncate(mib << 20)
    return str(p)


def root_copy(tmp_path, name="root.img"):
    """A fresh root image like build/rootfs.img (which `make run` may have
    changed): the programs, /etc/motd, /proc, /dev, /tmp; 4 KiB blocks."""
    motd = open(os.path.join(os.path.dirname(BUILD), "user", "motd"), "rb").read()
    return make_image(tmp_path, name, {"etc/motd": motd}, block=4096, size="128M",
                      programs=True, dirs=("proc", "dev"))


def make_image(tmp_path, name, files, block=1024, size="32M", programs=False, dirs=()):
    """An ext2 image of a staging tree: files maps paths to bytes."""
    stage = tmp_path / (name + ".stage")
    shutil.rmtree(stage, ignore_errors=True)
    os.makedirs(stage / "tmp")
    for d in dirs:
        os.makedirs(stage / d)
    if programs:
        shutil.copytree(STRIP, stage / "bin")
    for path, data in files.items():
        full = stage / path
        os.makedirs(full.parent, exist_ok=True)
        full.write_bytes(data)
    img = str(tmp_path / name)
    subprocess.run([MKFS, "-q", "-F", "-b", str(block), "-d", str(stage), img, size],
                   check=True, capture_output=True)
    return img


def fsck(img, fix=False):
    r = subprocess.run([E2FSCK, "-fy" if fix else "-fn", img], capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def shell(boot, disks, **kw):
    m = boot(initrd=False, disks=disks, timeout=120, **kw)
    m.child.expect_exact(PROMPT, timeout=60)
    return m


def run(m, line, timeout=120):
    m.sendline(line)
    m.child.expect_exact(PROMPT, timeout=timeout)
    out = m.child.before.replace("\r", "")
    return out.split("\n", 1)[1] if "\n" in out else ""


def poweroff(m):
    m.sendline("poweroff")
    assert m.wait_exit(timeout=60) == 0
    assert "file systems synced" in m.log


# ---- the driver ------------------------------------------------------------

def test_disk_32_requests_in_flight_complete_by_interrupt(boot, tmp_path):
    disk = scratch_disk(tmp_path)
    tail = random.Random(7).randbytes(32 * 4096)
    with open(disk, "r+b") as f:
        f.seek(-len(tail), os.SEEK_END)
        f.write(tail)
    m = boot(bootargs="ktest", initrd=False, disks=[disk])
    m.expect(r"ktest: (\d+) passed, (\d+) failed", timeout=120)
    assert m.child.match.group(2) == "0", m.log
    assert "disk_32_requests_in_flight ... ok" in m.log
    # the pattern went to the device and was read back (writes counted by
    # the driver), and the disk's own bytes were put back: a ktest run on a
    # user's root image (make run BOOTARGS=ktest) leaves it as it was
    writes = re.search(r"ktest: vd\w+: \d+ reads, (\d+) writes", m.log)
    assert writes and int(writes.group(1)) >= 64, m.log
    with open(disk, "rb") as f:
        f.seek(-len(tail), os.SEEK_END)
        assert f.read() == tail


# ---- files and directories through the calls ----------------------------------

def test_boots_from_the_ext2_root_disk(boot, tmp_path):
    img = str(tmp_path / "rootfs.img")     # the image `make run` boots (a copy)
    shutil.copyfile(ROOTFS, img)
    m = shell(boot, [img])
    assert re.search(r"root: ext2 on vda", m.log)
    assert "Pollux" in run(m, "cat /etc/motd")
    out = run(m, "ls -l /")
    assert re.search(r"^d\S+\s+\d+\s+\d+ bin$", out, re.M), out
    assert "proc" in out and "tmp" in out
    assert re.search(r"^1\s+0\s+1\s+\S+\s+\S+\s+init", run(m, "cat /proc/ps"), re.M)


def test_every_file_call_on_4k_blocks_then_fsck_clean(boot, tmp_path):
    img = root_copy(tmp_path)
    m = shell(boot, [img])
    out = run(m, "fstest /tmp/ft", timeout=300)
    assert "fstest: 13 passed, 0 failed" in out, out
    poweroff(m)
    code, log = fsck(img)
    assert code == 0, log


def test_every_file_call_on_1k_blocks_then_fsck_clean(boot, tmp_path):
    img = make_image(tmp_path, "k1.img", {}, block=1024, size="64M", programs=True)
    m = shell(boot, [img])
    out = run(m, "fstest /tmp/ft", timeout=300)
    assert "fstest: 13 passed, 0 failed" in out, out
    poweroff(m)
    code, log = fsck(img)
    assert code == 0, log


def test_shell_file_programs(boot, tmp_path):
    img = root_copy(tmp_path)
    m = shell(boot, [img])
    run(m, "mkdir -p /tmp/a/b")
    run(m, "echo data > /tmp/a/b/f")
    run(m, "cp /tmp/a/b/f /tmp/a/g")
    run(m, "mv /tmp/a/g /tmp/a/h")
    run(m, "ln -s /tmp/a/h /tmp/link")
    run(m, "ln /tmp/a/h /tmp/hard")
    run(m, "touch /tmp/empty")
    assert "data" in run(m, "cat /tmp/link")
    out = run(m, "ls -l /tmp")
    assert re.search(r"^l\S+\s+1\s+\d+ link -> /tmp/a/h$", out, re.M), out
    assert re.search(r"^-\S+\s+2\s+5 hard$", out, re.M), out
    assert re.search(r"^-\S+\s+1\s+0 empty$", out, re.M), out
    out = run(m, "stat /tmp/hard")
    assert "Links: 2" in out and "regular file" in out
    run(m, "rm -r /tmp/a")
    assert "No such file" in run(m, "ls /tmp/a")
    assert re.search(r"^/\s+\d+", run(m, "df"), re.M)


def test_data_survives_a_reboot(boot, tmp_path):
    img = root_copy(tmp_path)
    m = shell(boot, [img])
    run(m, "mkdir /tmp/keep")
    run(m, "echo written before the reboot > /tmp/keep/note")
    run(m, "sync")
    m.close()                           # pull the plug after sync
    m = shell(boot, [img])
    assert "written before the reboot" in run(m, "cat /tmp/keep/note")
    poweroff(m)
    code, log = fsck(img)
    assert code == 0, log


def test_8_writers_on_4_harts_then_fsck_clean(boot, tmp_path):
    img = root_copy(tmp_path)
    m = shell(boot, [img], smp=4)
    assert "fswriters: 8 ok" in run(m, "fswriters 8 512", timeout=300)
    poweroff(m)
    code, log = fsck(img)
    assert code == 0, log


def fsmix_bytes(seed, n):
    """What user/fsmix.c's write_file(path, seed, n) writes."""
    out = bytearray()
    for off in range(0, n, 4096):
        s = seed + off // 4096
        out += bytes((s * 131 + i * 7 + (i >> 9)) & 0xff for i in range(min(4096, n - off)))
    return bytes(out)


def debugfs(img, req):
    return subprocess.run(["/usr/sbin/debugfs", "-R", req, img], capture_output=True).stdout


def test_renames_creates_unlinks_reads_and_writes_at_once_on_4_harts_then_fsck_clean(boot, tmp_path):
    """Per-inode locks: two renamers cross between two directories (and race
    to move each one's directory into the other's), two creators share a
    directory, a reader and a writer work on two files, all at once."""
    img = root_copy(tmp_path)
    m = shell(boot, [img], smp=4)
    assert "fsmix: ok" in run(m, "fsmix 12", timeout=400)
    poweroff(m)
    code, log = fsck(img)
    assert code == 0, log
    for k, d in ((0, "a"), (1, "b")):
        for i in range(8):
            got = debugfs(img, "cat /tmp/mix/%s/r%d_%d" % (d, k, i))
            assert got == fsmix_bytes(1000 + k * 100 + i, 1000 + i * 100), (d, k, i)
    names = set(re.findall(rb"\b(c\d_\d+|o\d_\d+)\b", debugfs(img, "ls /tmp/mix/s")))
    assert names == {b"c%d_%d" % (k, i) for k in range(2) for i in range(0, 48, 2)}
    for i in range(0, 48, 2):
        assert debugfs(img, "cat /tmp/mix/s/c1_%d" % i) == fsmix_bytes(6000 + i, 200 + i * 37)
    assert debugfs(img, "cat /tmp/mix/w") == fsmix_bytes(43, 384 * 1024)


def test_uring_32_reads_in_flight_at_offsets_and_fsync(boot, tmp_path):
    blob = random.Random(7).randbytes(32 * 4096)
    img = make_image(tmp_path, "u.img", {"etc/blob": blob}, block=4096, programs=True)
    m = shell(boot, [img])
    out = run(m, "uring_blk /etc/blob")
    assert "uring_blk: 32 reads ok" in out and "uring_blk: fsync ok" in out, out


def test_uring_openat_write_read_statx_close_on_the_ext2_root(boot, tmp_path):
    """A file's whole life through io_uring alone (OPENAT, WRITE, READ, STATX,
    CLOSE), and the errors Linux gives (-ENOENT, -EBADF, -EFAULT)."""
    img = root_copy(tmp_path)
    m = shell(boot, [img])
    out = run(m, "uring_files /")
    assert "uring_files: all ok" in out, out
    assert "statx by path: size, mode, inode" in out and "close of a bad fd: -EBADF" in out, out
    poweroff(m)
    code, log = fsck(img)
    assert code == 0, log


def test_mount_a_second_disk(boot, tmp_path):
    root = root_copy(tmp_path)
    data = make_image(tmp_path, "data.img", {"hello": b"from the second disk\n"}, block=1024)
    m = shell(boot, [root, data])
    run(m, "mkdir /mnt")
    assert run(m, "mount /dev/vdb /mnt").strip() == ""
    assert "from the second disk" in run(m, "cat /mnt/hello")
    run(m, "echo new > /mnt/new")
    assert "Device or resource busy" in run(m, "mount /dev/vdb /mnt")
    assert run(m, "umount /mnt").strip() == ""
    assert "No such file" in run(m, "cat /mnt/hello")
    code, log = fsck(data)
    assert code == 0, log
    r = subprocess.run(["/usr/sbin/debugfs", "-R", "cat /new", data], capture_output=True, text=True)
    assert r.stdout == "new\n"


# ---- corrupted images: errors, never a crash or a hang ---------------------------

def _sb(img):
    with open(img, "rb") as f:
        f.seek(1024)
        sb = f.read(1024)
    bsize = 1024 << struct.unpack_from("<I", sb, 24)[0]
    first = struct.unpack_from("<I", sb, 20)[0]
    isize = struct.unpack_from("<H", sb, 88)[0]
    with open(img, "rb") as f:
        f.seek((first + 1) * bsize)
        gd = f.read(32)
    itab = struct.unpack_from("<I", gd, 8)[0]
    return bsize, first, isize, itab


def _inode_off(img, ino):
    bsize, _, isize, itab = _sb(img)
    return itab * bsize + (ino - 1) * isize


def _inode_of(img, path):
    out = subprocess.run(["/usr/sbin/debugfs", "-R", "stat " + path, img],
                         capture_output=True, text=True).stdout
    return int(re.search(r"Inode: (\d+)", out).group(1))


def _patch(img, off, data):
    with open(img, "r+b") as f:
        f.seek(off)
        f.write(data)


def _i_block(img, ino, k):
    with open(img, "rb") as f:
        f.seek(_inode_off(img, ino) + 40 + 4 * k)
        return struct.unpack("<I", f.read(4))[0]


def corrupt(kind, img):
    rnd = random.Random(kind)
    bsize, first, isize, itab = _sb(img)
    if kind == "superblock":
        _patch(img, 1024, rnd.randbytes(1024))
    elif kind == "group_descriptors":
        _patch(img, (first + 1) * bsize, rnd.randbytes(bsize))
    elif kind == "inode_table":
        _patch(img, itab * bsize, rnd.randbytes(bsize))
    elif kind == "directory_block":
        d = _inode_of(img, "/d")
        _patch(img, _i_block(img, d, 0) * bsize, rnd.randbytes(bsize))
    elif kind == "indirect_loop":
        big = _inode_of(img, "/big")
        ind = _i_block(img, big, 12)
        _patch(img, ind * bsize, struct.pack("<I", ind) * (bsize // 4))
        dind = _i_block(img, big, 13)
        if dind:
            _patch(img, dind * bsize, struct.pack("<I", dind) * (bsize // 4))
    elif kind == "block_out_of_range":
        f = _inode_of(img, "/f")
        _patch(img, _inode_off(img, f) + 40, struct.pack("<I", 0xfffffff0))
        big = _inode_of(img, "/big")
        _patch(img, _inode_off(img, big) + 40 + 4 * 12, struct.pack("<I", 0x7ffffff0))


@pytest.mark.parametrize("kind", ["superblock", "group_descriptors", "inode_table",
                                  "directory_block", "indirect_loop", "block_out_of_range"])
def test_corrupted_disk_gives_errors_not_a_crash(boot, tmp_path, kind):
    data = make_image(tmp_path, "bad.img", {
        "f": b"small file\n", "d/x": b"in a directory\n", "d/y": b"y\n",
        "big": random.Random(1).randbytes(600 * 1024)}, block=1024)
    corrupt(kind, data)
    m = shell(boot, [root_copy(tmp_path), data])
    run(m, "mkdir /mnt")
    out = run(m, "mount /dev/vdb /mnt")
    if not out.strip():                 # mounted: every operation errs or works, none hangs
        run(m, "ls -l /mnt")
        run(m, "ls /mnt/d")
        run(m, "cat /mnt/f")
        run(m, "cat /mnt/d/x")
        run(m, "cp /mnt/big /tmp/big")
        run(m, "echo more >> /mnt/f")
        run(m, "rm /mnt/big")
        run(m, "umount /mnt")
    else:
        assert re.search(r"Structure needs cleaning|Invalid argument", out), out
    assert "still alive" in run(m, "echo still alive")
    assert "panic" not in m.log.lower()


# ---- a crash in the middle of writes ---------------------------------------------

def test_kill_during_writes_fsck_repairs_and_fsynced_files_are_intact(boot, tmp_path):
    img = root_copy(tmp_path)
    m = shell(boot, [img])
    m.sendline("fsyncer")
    m.expect(r"synced f12\r?\n", timeout=300)
    m.close()                           # QEMU killed mid-write
    synced = [int(n) for n in re.findall(r"synced f(\d+)", m.log)]
    code, log = fsck(img, fix=True)
    assert code in (0, 1), log          # clean, or errors corrected
    code, log = fsck(img)
    assert code == 0, "a second pass still finds problems:\n" + log
    for n in synced:
        r = subprocess.run(["/usr/sbin/debugfs", "-R", "cat /tmp/crash/f%d" % n, img],
                           capture_output=True)
        want = bytes((n * 7 + k) & 0xff for k in range(20480))
        assert r.stdout == want, "f%d lost what fsync acknowledged" % n
    m = shell(boot, [img])              # and it boots from the repaired image
    assert "Pollux" in run(m, "cat /etc/motd")


def test_disk_read_errors_give_eio_and_the_rest_works(boot, tmp_path):
    data = make_image(tmp_path, "eio.img", {"good": b"readable\n", "bad": b"B" * 4096}, block=1024)
    blk = int(subprocess.run(["/usr/sbin/debugfs", "-R", "bmap /bad 0", data],
                             capture_output=True, text=True).stdout.split()[0])
    rules = tmp_path / "blkdebug.cfg"
    rules.write_text('[inject-error]\nevent = "read_aio"\nerrno = "5"\nsector = "%d"\n' % (blk * 2))
    m = shell(boot, [root_copy(tmp_path), "blkdebug:%s:%s" % (rules, data)])
    run(m, "mkdir /mnt")
    assert run(m, "mount /dev/vdb /mnt").strip() == ""
    assert "Input/output error" in run(m, "cat /mnt/bad")
    assert "readable" in run(m, "cat /mnt/good")
    assert "Input/output error" in run(m, "cat /mnt/bad")     # tried again, failed again
    assert "still alive" in run(m, "echo still alive")


def test_a_file_larger_than_memory_is_written_and_read_back(boot, tmp_path):
    # 160 MiB through a 128 MiB machine: dirty blocks are written back
    # (the writer waits), clean ones reclaimed
    img = make_image(tmp_path, "large.img", {}, block=4096, size="256M", programs=True)
    m = shell(boot, [img], mem="128M")
    assert "fswriters: 1 ok" in run(m, "fswriters 1 163840", timeout=600)
    assert "1 ok" in run(m, "cat /proc/mem; echo 1 ok")
    poweroff(m)
    code, log = fsck(img)
    assert code == 0, log


def test_cold_uring_reads_racing_read_ahead_never_fail(boot, tmp_path):
    # 32 reads at once on a cold cache race the read-ahead of the blocks
    # they want; a read-ahead that finds no free slot must not fail them
    blob = random.Random(3).randbytes(2 << 20)
    data = make_image(tmp_path, "blob.img", {"blob": blob}, block=4096)
    m = shell(boot, [root_copy(tmp_path), data])
    run(m, "mkdir /mnt")
    for _ in range(8):
        run(m, "mount /dev/vdb /mnt")   # a fresh mount: nothing cached
        out = run(m, "uring_blk /mnt/blob")
        assert "uring_blk: 32 reads ok" in out, out
        run(m, "umount /mnt")


def test_uring_files_gives_the_same_results_on_linux(tmp_path):
    """The same static binary as /init of the Linux 6.1 that make bench-linux
    builds (skipped when that build is not there: it takes many minutes)."""
    import stat as st
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(BUILD), "ci"))
    import bench_linux
    import qemu
    image = os.path.join(BUILD, "linux", "obj", "arch", "riscv", "boot", "Image")
    if not os.path.exists(image):
        pytest.skip("no Linux build (make bench-linux)")
    with open(os.path.join(STRIP, "uring_files"), "rb") as f:
        init = f.read()
    parts = [bench_linux._newc("dev", st.S_IFDIR | 0o755),
             bench_linux._newc("dev/console", st.S_IFCHR | 0o600, rdev=(5, 1)),
             bench_linux._newc("init", st.S_IFREG | 0o755, init), bench_linux._newc("TRAILER!!!", 0)]
    blob = b"".join(parts)
    cpio = tmp_path / "initramfs.cpio"
    cpio.write_bytes(blob + b"\0" * (-len(blob) % 512))
    status, out, _ = qemu.run(image, qemu.OPENSBI, str(cpio), 1, "256M", bench_linux.LINUX_APPEND,
                              timeout=120)
    assert "uring_files: all ok" in out, out[-3000:]
