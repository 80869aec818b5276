"""Persistent storage: the virtio-blk driver, ext2, the root disk."""
import os
import re
import subprocess

import pytest

from pollux import BUILD


def scratch_disk(tmp_path, mib=8, name="scratch.img"):
    p = tmp_path / name
    with open(p, "wb") as f:
        f.truncate(mib << 20)
    return str(p)


def test_disk_32_requests_in_flight_complete_by_interrupt(boot, tmp_path):
    disk = scratch_disk(tmp_path)
    m = boot(bootargs="ktest", initrd=False, disks=[disk])
    m.expect(r"ktest: (\d+) passed, (\d+) failed", timeout=120)
    assert m.child.match.group(2) == "0", m.log
    assert "disk_32_requests_in_flight ... ok" in m.log
    # what the 32 writes put at the end of the disk is really in the image
    with open(disk, "rb") as f:
        f.seek(-32 * 4096, os.SEEK_END)
        data = f.read(4096)
    assert data[:64] == bytes((b * 7 + 1) & 0xff for b in range(64))
