#!/usr/bin/env bash
# Import a tiny base image from Debian's busybox-static, offline: copy /bin/busybox into a
# root filesystem, symlink the applets, and `docker import` the tar. Nothing is pulled.
# Usage: examples/base-image.sh [NAME:TAG]   (default dockyard/busybox:latest; idempotent)
set -euo pipefail
IMAGE=${1:-dockyard/busybox:latest}
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "-----> Base image $IMAGE already exists"
  exit 0
fi
ROOTFS=$(mktemp -d)
trap 'rm -rf "$ROOTFS"' EXIT
mkdir -p "$ROOTFS"/{bin,tmp,etc,www,app}
chmod 1777 "$ROOTFS/tmp"
cp /bin/busybox "$ROOTFS/bin/busybox"
for applet in sh ash httpd nc sleep cat echo env wget ls true false mkdir printf hostname ps kill \
              test grep id date seq head tail rm cp mv touch nslookup ping sed tr wc timeout uname; do
  ln -s busybox "$ROOTFS/bin/$applet"
done
echo 'root:x:0:0:root:/:/bin/sh' >"$ROOTFS/etc/passwd"
echo 'root:x:0:' >"$ROOTFS/etc/group"
echo 'hello from dockyard' >"$ROOTFS/www/index.html"
tar -C "$ROOTFS" -c . | docker import --change 'ENV PATH=/bin' --change 'CMD ["sh"]' - "$IMAGE" >/dev/null
echo "-----> Imported base image $IMAGE"
