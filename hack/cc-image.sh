#!/bin/bash
# cc-image.sh — a C compiler image for the builder's e2e tests, as a rootfs
# tarball: the pyapp example's Debian base (examples/pyapp/base.sh, made
# with debootstrap) plus gcc and libc6-dev from the machine's Debian mirror.
# It prints the tarball's path; `berth image import PATH NAME` makes it an
# image. Cached under $CACHE (default /var/cache/berth-examples) beside the
# base, keyed by the base and the package list; the first run takes about a
# minute, later runs print the cached path at once. Runs may overlap: the
# cache is locked. hack/e2e.sh runs it before the tests, which never reach
# the network themselves.
set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin
CACHE=${CACHE:-/var/cache/berth-examples}
BASE=$(bash "$(dirname "$0")/../examples/pyapp/base.sh")
PACKAGES=(gcc libc6-dev)
VERSION=1
KEY=$(echo "$VERSION $(basename "$BASE") ${PACKAGES[*]}" | sha256sum | cut -c1-16)
OUT=$CACHE/cc-$KEY.tar
log() { echo "cc-image.sh: $*" >&2; }

exec 9>"$CACHE/cc.lock"
flock 9
if [ -f "$OUT" ]; then
	echo "$OUT"
	exit 0
fi
W=$(mktemp -d "$CACHE/ccwork.XXXXXX")
R=$W/rootfs
cleanup() {
	for m in $(grep -o " $W/[^ ]*" /proc/mounts | sort -r); do umount -l "$m"; done
	rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$R" "$CACHE/debs"
tar -C "$R" -xf "$BASE"
log "apt-get install ${PACKAGES[*]} (once; about a minute)"
printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
chmod 755 "$R/usr/sbin/policy-rc.d"
mount -t proc proc "$R/proc"
mount --bind /dev "$R/dev"
mount --bind "$CACHE/debs" "$R/var/cache/apt/archives"
cp /etc/resolv.conf "$R/etc/resolv.conf"
# The base dropped its package lists; fetch them again for this install.
chroot "$R" env DEBIAN_FRONTEND=noninteractive sh -c \
	"apt-get update -qq -o Acquire::Retries=3 && apt-get install -y -qq --no-install-recommends -o Acquire::Retries=3 ${PACKAGES[*]}" \
	>"$W/apt.log" 2>&1 || { cat "$W/apt.log" >&2; exit 1; }
umount "$R/var/cache/apt/archives" "$R/dev" "$R/proc"
rm -f "$R/usr/sbin/policy-rc.d" "$R/etc/resolv.conf"
rm -rf "$R"/var/lib/apt/lists/* "$R"/var/cache/apt/*.bin "$R"/var/log/apt "$R"/usr/share/doc "$R"/usr/share/man
tar --numeric-owner -C "$R" -cf "$W/cc.tar" \
	--exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' --exclude='./run/*' .
mv "$W/cc.tar" "$OUT"
find "$CACHE" -maxdepth 1 -name 'cc-*.tar' ! -path "$OUT" -delete
echo "$OUT"
