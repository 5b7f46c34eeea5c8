#!/bin/sh
# busybox-rootfs.sh OUT.tar — a rootfs tarball made from Debian's busybox-static:
# /bin/busybox, one symlink per applet, /etc/passwd and /etc/group, /tmp.
# Reproducible: fixed mtimes and owners, sorted entries.
set -eu
out=${1:?usage: busybox-rootfs.sh OUT.tar}
bb=${BUSYBOX:-/bin/busybox}
[ -x "$bb" ] || { echo "busybox-rootfs.sh: $bb not found (apt-get install busybox-static, or make deps)" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
chmod 755 "$dir"
mkdir -p "$dir/bin" "$dir/etc" "$dir/tmp" "$dir/root" "$dir/www" "$dir/var/www" "$dir/proc" "$dir/sys" "$dir/dev"
cp "$bb" "$dir/bin/busybox"
chmod 1777 "$dir/tmp"
for app in $("$dir/bin/busybox" --list-full); do
  [ "$app" = bin/busybox ] && continue
  mkdir -p "$dir/$(dirname "$app")"
  ln -sf /bin/busybox "$dir/$app"
done
cat > "$dir/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat > "$dir/etc/group" <<'G'
root:x:0:
daemon:x:1:
www-data:x:33:
nogroup:x:65534:
G
tar --sort=name --mtime=@1700000000 --owner=0 --group=0 --numeric-owner -C "$dir" -cf "$out" .
