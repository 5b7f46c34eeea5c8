#!/bin/bash
# base.sh — the pyapp example's base image as a rootfs tarball, made from
# Debian's packages with debootstrap (there is no registry to pull from):
# bookworm minbase, then python3 (with python3-redis and python3-psycopg2),
# redis-server and postgresql installed in a chroot. It prints the
# tarball's path; `berth image import PATH pyapp-base:bookworm` makes it an
# image the example's Dockerfiles start FROM.
#
# The tarball and the downloaded packages are cached under $CACHE (default
# /var/cache/berth-examples), keyed by the package list: the first run takes a few
# minutes (downloads from the machine's Debian mirror), later runs print the
# cached path at once. Runs may overlap: the cache is locked.
set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin
CACHE=${CACHE:-/var/cache/berth-examples}
SUITE=bookworm
PACKAGES=(python3 python3-redis python3-psycopg2 redis-server postgresql)
# Bump VERSION when the way the tarball is made changes.
VERSION=2
KEY=$(echo "$VERSION $SUITE ${PACKAGES[*]}" | sha256sum | cut -c1-16)
OUT=$CACHE/base-$SUITE-$KEY.tar
log() { echo "base.sh: $*" >&2; }

mkdir -p "$CACHE/debs"
exec 9>"$CACHE/lock"
flock 9
if [ -f "$OUT" ]; then
	echo "$OUT"
	exit 0
fi
command -v debootstrap >/dev/null || {
	log "installing debootstrap"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
}
# The mirror this machine's apt already uses.
MIRROR=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
[ -n "$MIRROR" ] || MIRROR=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null)
MIRROR=${MIRROR:-http://deb.debian.org/debian}

W=$(mktemp -d "$CACHE/work.XXXXXX")
R=$W/rootfs
cleanup() {
	for m in $(grep -o " $W/[^ ]*" /proc/mounts | sort -r); do umount -l "$m"; done
	rm -rf "$W"
}
trap cleanup EXIT
log "debootstrap $SUITE from $MIRROR (once; a few minutes)"
debootstrap --variant=minbase --cache-dir="$CACHE/debs" "$SUITE" "$R" "$MIRROR" >"$W/debootstrap.log" 2>&1 ||
	{ cat "$W/debootstrap.log" >&2; exit 1; }
log "apt-get install ${PACKAGES[*]}"
# Package scripts must not start the daemons on the host.
printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
chmod 755 "$R/usr/sbin/policy-rc.d"
mount -t proc proc "$R/proc"
mount --bind "$CACHE/debs" "$R/var/cache/apt/archives"
cp /etc/resolv.conf "$R/etc/resolv.conf"
chroot "$R" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	-o Acquire::Retries=3 "${PACKAGES[@]}" >"$W/apt.log" 2>&1 || { cat "$W/apt.log" >&2; exit 1; }
umount "$R/var/cache/apt/archives" "$R/proc"
rm -f "$R/usr/sbin/policy-rc.d" "$R/etc/resolv.conf" "$R/etc/hostname"
rm -rf "$R"/var/lib/apt/lists/* "$R"/var/cache/apt/*.bin "$R"/var/log/apt "$R"/var/log/*.log \
	"$R"/usr/share/doc "$R"/usr/share/man "$R"/usr/share/locale "$R"/usr/share/i18n
# PostgreSQL's JIT (LLVM and z3, 130 MB) stays out: the example's
# db runs with jit = off, and the library is loaded only for JIT.
rm -f "$R"/usr/lib/x86_64-linux-gnu/libLLVM-*.so* "$R"/usr/lib/x86_64-linux-gnu/libz3.so* \
	"$R"/usr/lib/postgresql/*/lib/llvmjit*.so
rm -rf "$R"/usr/lib/postgresql/*/lib/bitcode
tar --numeric-owner -C "$R" -cf "$W/base.tar" \
	--exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' --exclude='./run/*' .
mv "$W/base.tar" "$OUT"
# Older keys' tarballs are dead weight.
find "$CACHE" -maxdepth 1 -name "base-$SUITE-*.tar" ! -path "$OUT" -delete
echo "$OUT"
