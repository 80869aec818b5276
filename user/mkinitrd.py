#!/usr/bin/python3
"""mkinitrd.py - pack the Pollux initrd as a newc ("070701") cpio archive.

    mkinitrd.py -o build/initrd.cpio bin/sh=build/user/strip/sh etc/motd=user/motd
    mkinitrd.py --list build/initrd.cpio      # show entries, check alignment

Each ARCHIVE_NAME=HOST_FILE argument adds one regular file (permission bits
from the host file); the parent directories of every name are added first.
Owner is root, timestamps are $SOURCE_DATE_EPOCH (default 0), so the
archive is reproducible. Python 3 standard library only.

Page alignment
--------------
The kernel maps program text straight out of the archive, so the data of
every non-empty file starts at an offset that is a multiple of 4096.

A newc entry is a 110-byte ASCII header, then c_namesize bytes of name
(c_namesize counts the terminating NUL), padded with NULs to a multiple of
4, then c_filesize bytes of data, padded to a multiple of 4. We choose the
data offset D (the first page boundary after room for header + name) and
make the name field fill the gap exactly: the name is followed by as many
extra NUL bytes as needed and c_namesize = D - header_offset - 110. Any
newc reader takes the name as the NUL-terminated string inside that field
and skips c_namesize bytes (Linux's own initramfs parser, GNU cpio and
libarchive all do), so the archive stays valid newc.

Linux rejects c_namesize > PATH_MAX (4096). When the next page boundary
is too close to hold header + name, the padded name would need up to
4096 + len(name) bytes. In that case we first emit a dummy entry for the
directory "." whose own padded name fills exactly up to that boundary (it
always fits: the gap is then 112..110+len(name) bytes, and "." needs 112);
the real entry then starts on the boundary and its data one page later.
"." entries are common in cpio archives (find . | cpio) and mean "the
root directory, already there": readers ignore them.

Because the headers are between the data, the bytes of a file's last page
after its end belong to the next entry's header: a kernel mapping that
page into a process must not expose them where zeroes are expected (.bss).
"""

import argparse
import os
import stat
import sys

PAGE = 4096
HDR = 110
PATH_MAX = 4096
MAGIC = b"070701"
TRAILER = "TRAILER!!!"


def align(x, a):
    return (x + a - 1) // a * a


class Writer:
    def __init__(self, mtime):
        self.out = bytearray()
        self.ino = 0
        self.mtime = mtime

    def _entry(self, name, mode, nlink, data, namesize=None):
        raw = name.encode() + b"\0"
        if namesize is None:
            namesize = len(raw)
        assert namesize >= len(raw) and namesize <= PATH_MAX, (name, namesize)
        self.ino += 1
        fields = [self.ino, mode, 0, 0, nlink, self.mtime, len(data),
                  0, 0, 0, 0, namesize, 0]
        hdr = MAGIC + b"".join(b"%08X" % f for f in fields)
        assert len(hdr) == HDR
        self.out += hdr + raw + b"\0" * (namesize - len(raw))
        self.out += b"\0" * (align(len(self.out), 4) - len(self.out))
        self.out += data
        self.out += b"\0" * (align(len(self.out), 4) - len(self.out))

    def directory(self, name):
        self._entry(name, stat.S_IFDIR | 0o755, 2, b"")

    def file(self, name, data, perm):
        mode = stat.S_IFREG | perm
        if not data:
            self._entry(name, mode, 1, data)
            return
        need = len(name) + 1
        off = len(self.out)
        start = align(off + HDR + need, PAGE)
        if start - off - HDR > PATH_MAX:
            # Too close to the next boundary: pad up to it with ".".
            boundary = align(off + HDR + 2, PAGE)
            self._entry(".", stat.S_IFDIR | 0o755, 2, b"",
                        namesize=boundary - off - HDR)
            off = len(self.out)
            assert off % PAGE == 0
            start = align(off + HDR + need, PAGE)
        self._entry(name, mode, 1, data, namesize=start - off - HDR)

    def finish(self):
        self._entry(TRAILER, 0, 1, b"")
        self.out += b"\0" * (align(len(self.out), PAGE) - len(self.out))
        return bytes(self.out)


def parse(buf):
    """Yield (header_offset, data_offset, name, mode, size) per entry."""
    off = 0
    while True:
        hdr = buf[off:off + HDR]
        if len(hdr) < HDR or hdr[:6] != MAGIC:
            raise ValueError("bad header at offset %d" % off)
        f = [int(hdr[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = f[1], f[6], f[11]
        if namesize < 1 or namesize > PATH_MAX:
            raise ValueError("bad namesize %d at offset %d" % (namesize, off))
        rawname = buf[off + HDR:off + HDR + namesize]
        if rawname[-1:] != b"\0":
            raise ValueError("name not NUL-terminated at offset %d" % off)
        name = rawname.split(b"\0", 1)[0].decode()
        data = align(off + HDR + namesize, 4)
        if data + size > len(buf):
            raise ValueError("truncated data for %s" % name)
        yield off, data, name, mode, size
        if name == TRAILER:
            return
        off = align(data + size, 4)


def list_archive(path):
    buf = open(path, "rb").read()
    bad = 0
    for hoff, doff, name, mode, size in parse(buf):
        ok = ""
        if stat.S_ISREG(mode) and size and doff % PAGE:
            ok = "  <-- NOT PAGE ALIGNED"
            bad += 1
        print("%8x %8x %06o %8d %s%s" % (hoff, doff, mode, size, name, ok))
    print("%d bytes, %s" % (len(buf), "alignment ok" if not bad
                            else "%d misaligned" % bad))
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--output", help="archive to write")
    ap.add_argument("--list", metavar="ARCHIVE",
                    help="list ARCHIVE and check the alignment of its data")
    ap.add_argument("files", nargs="*", metavar="NAME=HOSTFILE")
    args = ap.parse_args()

    if args.list:
        return list_archive(args.list)
    if not args.output:
        ap.error("-o is required")

    entries = []
    for spec in args.files:
        name, sep, host = spec.partition("=")
        name = name.strip("/")
        if not sep or not name or not host:
            ap.error("bad argument %r (want NAME=HOSTFILE)" % spec)
        entries.append((name, host))

    w = Writer(int(os.environ.get("SOURCE_DATE_EPOCH", "0")))
    dirs = []
    for name, _ in entries:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in dirs:
                dirs.append(d)
    for d in dirs:
        w.directory(d)
    for name, host in entries:
        with open(host, "rb") as f:
            data = f.read()
        perm = stat.S_IMODE(os.stat(host).st_mode) & 0o777
        w.file(name, data, perm)
    blob = w.finish()

    tmp = args.output + ".tmp"
    with open(tmp, "wb") as f:
        f.write(blob)
    os.replace(tmp, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
