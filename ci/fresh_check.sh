#!/bin/bash
# ci/fresh_check.sh - `make fresh-check`: does `make test` pass on the first
# try on a Debian 12 machine that has none of Pollux's packages?
#
# 1. debootstrap a minimal bookworm root in a temporary directory, from the
#    host's own Debian mirror; give it the host's apt sources (and apt's
#    Acquire:: settings, e.g. for a dated snapshot archive).  The root gets
#    `make` and nothing else of ours: a user has to be able to type `make`.
# 2. copy a clean clone of this repository (its committed HEAD) into it;
# 3. chroot in with /proc, /sys, /dev and /dev/pts mounted (QEMU and the
#    console tests' pseudo-terminals run inside) and run `make test`;
# 4. print the last lines and the exit status; unmount and delete the root.
#
# Slow (it downloads and installs the whole tool chain into the new root)
# and needs root.  FRESH_KEEP=1 keeps the root for a look afterwards.
set -u
REPO=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel) || exit 2
SUITE=bookworm
[ "$(id -u)" = 0 ] || { echo "fresh-check: must run as root (debootstrap, chroot)" >&2; exit 2; }

# The host's Debian mirror: the first URIs/deb line that serves $SUITE.
mirror=$(awk -v s="$SUITE" '
    /^URIs:/   { u = $2 }
    /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s && u != "") { print u; exit } }
    /^deb /    { for (i = 2; i <= NF; i++) if ($i ~ /^(http|https|file):/ && $(i+1) == s) { print $i; exit } }
' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null)
mirror=${mirror:-http://deb.debian.org/debian}

ROOT=$(mktemp -d /var/tmp/pollux-fresh.XXXXXX) || exit 2
LOG=$ROOT.log
cleanup() {
    # Unmount before deleting, and never delete across a mount point: the
    # bound /dev must not be emptied if an unmount failed.
    for m in dev/pts dev sys proc; do
        mountpoint -q "$ROOT/$m" && umount -l "$ROOT/$m"
    done
    if [ -n "${FRESH_KEEP:-}" ]; then
        echo "fresh-check: root kept in $ROOT"
    elif ! findmnt -rn -o TARGET | grep -q "^$ROOT/"; then
        rm -rf --one-file-system "$ROOT"
    else
        echo "fresh-check: $ROOT still has mounts; not deleted" >&2
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "fresh-check: debootstrap $SUITE from $mirror into $ROOT (log: $LOG)"
if ! debootstrap --variant=minbase --include=make "$SUITE" "$ROOT" "$mirror" >"$LOG" 2>&1; then
    tail -n 20 "$LOG"
    echo "fresh-check: debootstrap failed"
    exit 1
fi

# The host's package sources and apt's Acquire:: settings.
rm -f "$ROOT/etc/apt/sources.list"
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && cp "$f" "$ROOT$f"
done
for f in /etc/apt/apt.conf.d/*; do
    grep -q '^[[:space:]]*Acquire::' "$f" 2>/dev/null && cp "$f" "$ROOT/etc/apt/apt.conf.d/"
done
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"

# A clean clone: the committed HEAD, no build/, no untracked files.
git clone -q --no-hardlinks "$REPO" "$ROOT/root/pollux" || exit 1
echo "fresh-check: testing $(git -C "$ROOT/root/pollux" log -1 --format='%h %s' | cut -c1-70)"

mount -t proc proc "$ROOT/proc"
mount -t sysfs sys "$ROOT/sys"
mount --bind /dev "$ROOT/dev"
mount --bind /dev/pts "$ROOT/dev/pts"

start=$(date +%s)
chroot "$ROOT" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash -c 'cd /root/pollux && make test' >>"$LOG" 2>&1
status=$?
echo "fresh-check: ---- last lines of make test ($(( $(date +%s) - start )) s) ----"
tail -n 12 "$LOG"
echo "fresh-check: make test in a fresh Debian 12 root exited with status $status"
if [ "$status" = 0 ] && [ -z "${FRESH_KEEP:-}" ]; then rm -f "$LOG"; else echo "fresh-check: full log in $LOG"; fi
exit $status
