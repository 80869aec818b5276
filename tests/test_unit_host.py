"""Build and run the host unit tests in tests/unit/.

Each tests/unit/test_*.c is one pytest test.  Its first line names the
kernel sources it links:

    // SOURCES: src/mem/page_alloc.c src/mem/kmalloc.c

An optional second line adds compiler flags (`// CFLAGS: -DPOLLUX_POISON`).
It is compiled with ASan/UBSan together with tests/unit/host_stubs.c into
build/unit/<name> and must exit 0.  test_fdt additionally gets the path
of a QEMU virt device tree, dumped into build/unit/virt.dtb.
"""

import pathlib
import re
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
UNIT_DIR = ROOT / "tests" / "unit"
BUILD_DIR = ROOT / "build" / "unit"

CFLAGS = [
    "-std=gnu11", "-O1", "-g", "-DHOST_TEST",
    "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
    "-Iinclude", "-Isrc", "-Itests/unit",
]

TEST_SOURCES = sorted(UNIT_DIR.glob("test_*.c"))


def kernel_sources(test_c):
    """The sources listed on the test file's `// SOURCES:` line."""
    first = test_c.read_text().splitlines()[0] if test_c.stat().st_size else ""
    m = re.match(r"^//\s*SOURCES:(.*)$", first)
    assert m, f"{test_c.name}: first line must be '// SOURCES: ...'"
    return m.group(1).split()


def extra_cflags(test_c):
    """The flags on an optional second line `// CFLAGS: ...`."""
    lines = test_c.read_text().splitlines()
    m = re.match(r"^//\s*CFLAGS:(.*)$", lines[1]) if len(lines) > 1 else None
    return m.group(1).split() if m else []


def make_virt_dtb():
    """Dump QEMU virt's device tree for the configuration test_fdt expects.

    QEMU only accepts -append and -initrd together with -kernel, so a
    tiny raw kernel is made up as well; dumpdtb exits before running it.
    """
    qemu = shutil.which("qemu-system-riscv64")
    assert qemu, "qemu-system-riscv64 is needed to make the test dtb"
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    kernel = BUILD_DIR / "dtb-kernel.bin"
    initrd = BUILD_DIR / "dtb-initrd.img"
    dtb = BUILD_DIR / "virt.dtb"
    kernel.write_bytes(b"\x00" * 64)
    initrd.write_bytes(b"pollux test initrd\n" * 8)
    if dtb.exists():
        dtb.unlink()
    cmd = [
        qemu, "-machine", f"virt,dumpdtb={dtb}", "-smp", "4", "-m", "128M",
        "-bios", "none", "-kernel", str(kernel), "-initrd", str(initrd),
        "-append", "hello world", "-nographic",
    ]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and dtb.exists(), f"qemu dumpdtb failed:\n{r.stderr}"
    return dtb


@pytest.mark.parametrize("test_c", TEST_SOURCES, ids=[p.stem for p in TEST_SOURCES])
def test_unit(test_c):
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    exe = BUILD_DIR / test_c.stem
    srcs = [str(test_c.relative_to(ROOT))] + kernel_sources(test_c) + ["tests/unit/host_stubs.c"]
    cc = subprocess.run(["gcc", *CFLAGS, *extra_cflags(test_c), *srcs, "-o", str(exe)],
                        cwd=ROOT, capture_output=True, text=True)
    assert cc.returncode == 0, f"compile failed:\n{cc.stderr}"

    args = [str(exe)]
    if test_c.stem == "test_fdt":
        args.append(str(make_virt_dtb()))
    r = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    print(r.stdout)
    assert r.returncode == 0, f"{test_c.stem} exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
