#!/bin/bash
# ci/install.sh - install the Debian packages Pollux needs, if missing.
# A quick no-op when everything is present.  Called by every make target
# that builds, boots or tests.  Arguments name extra packages wanted by one
# target only (`make fresh-check` asks for debootstrap).
set -u
PKGS="make gcc gcc-riscv64-unknown-elf binutils-riscv64-unknown-elf
      gcc-riscv64-linux-gnu libc6-dev-riscv64-cross linux-libc-dev-riscv64-cross
      qemu-system-misc opensbi gdb-multiarch python3 python3-pytest python3-pexpect
      python3-matplotlib e2fsprogs cpio $*"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "ci/install.sh: installing:$missing"
SUDO=""
[ "$(id -u)" != 0 ] && command -v sudo >/dev/null && SUDO="sudo"
if ! { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
       $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends $missing; } >/tmp/pollux-apt.log 2>&1; then
    echo "ci/install.sh: could not install these Debian packages:$missing" >&2
    echo "ci/install.sh: install them by hand (apt-get install$missing); log in /tmp/pollux-apt.log" >&2
    exit 1
fi
echo "ci/install.sh: done"
