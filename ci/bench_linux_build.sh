#!/bin/bash
# ci/bench_linux_build.sh BUILD_DIR - build (once) the riscv64 Linux 6.1 that
# `make bench-linux` compares Pollux with: Debian's linux-source-6.1 (a
# tarball under /usr/src), tinyconfig plus ci/linux.config, cross-compiled
# with riscv64-linux-gnu-gcc.  The result is BUILD_DIR/linux/Image; a second
# call with an Image newer than ci/linux.config does nothing.
# Not part of `make test`: the packages are installed here, not by
# ci/install.sh.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(realpath -m "${1:-$ROOT/build}")
OUT=$BUILD/linux
CONF=$ROOT/ci/linux.config
IMAGE=$OUT/obj/arch/riscv/boot/Image

if [ -f "$IMAGE" ] && [ "$IMAGE" -nt "$CONF" ]; then
    echo "bench-linux: $IMAGE is up to date"
    exit 0
fi

need=""
for p in linux-source-6.1 flex bison bc cpio gcc-riscv64-linux-gnu; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need="$need $p"
done
if [ -n "$need" ]; then
    echo "bench-linux: installing:$need"
    SUDO=""; [ "$(id -u)" != 0 ] && SUDO=sudo
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $need >/dev/null
fi

mkdir -p "$OUT"
if [ ! -f "$OUT/src/Makefile" ]; then
    echo "bench-linux: unpacking /usr/src/linux-source-6.1.tar.xz"
    rm -rf "$OUT/src" "$OUT/src.tmp"
    mkdir -p "$OUT/src.tmp"
    tar -xJf /usr/src/linux-source-6.1.tar.xz -C "$OUT/src.tmp" --strip-components=1
    mv "$OUT/src.tmp" "$OUT/src"
fi

K="make -C $OUT/src O=$OUT/obj ARCH=riscv CROSS_COMPILE=riscv64-linux-gnu- -j$(nproc)"
mkdir -p "$OUT/obj"
$K tinyconfig >/dev/null
"$OUT/src/scripts/kconfig/merge_config.sh" -m -O "$OUT/obj" "$OUT/obj/.config" "$CONF" >/dev/null
$K olddefconfig >/dev/null
# every line of ci/linux.config must have taken: a silently dropped option
# would give a kernel that boots but measures something else
bad=0
while IFS= read -r line; do
    case "$line" in CONFIG_*=*) ;; *) continue ;; esac
    opt=${line%%=*}; val=${line#*=}
    if [ "$val" = n ]; then
        grep -q "^$opt=" "$OUT/obj/.config" && { echo "bench-linux: $opt is set, wanted n" >&2; bad=1; }
    else
        grep -qx "$line" "$OUT/obj/.config" || { echo "bench-linux: $line did not take" >&2; bad=1; }
    fi
done < "$CONF"
[ $bad = 0 ] || exit 1
echo "bench-linux: building Linux (long: minutes to tens of minutes)"
nice $K Image > "$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log" >&2; exit 1; }
echo "bench-linux: built $IMAGE"
