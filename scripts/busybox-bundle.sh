#!/usr/bin/env bash
# Usage: busybox-bundle.sh DIR [berth-binary] — makes DIR an OCI bundle: rootfs/ from Debian's
# busybox-static (one symlink per applet) and config.json from `berth runtime spec`, running
# `sh -c 'echo hello from berth; uname -n; ps'` without a terminal.
set -euo pipefail
dir=$1
berth=${2:-target/release/berth}
berth=$(readlink -f "$berth")
mkdir -p "$dir/rootfs"/{bin,proc,sys,dev,tmp,etc,root}
cp /bin/busybox "$dir/rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$dir/rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$dir/rootfs/etc/passwd"
printf 'root:x:0:\n' > "$dir/rootfs/etc/group"
cd "$dir"
"$berth" runtime spec
# Not a terminal; a command that shows the isolation.
sed -i -e 's/"terminal": true/"terminal": false/' \
  -e 's/"sh"$/"sh", "-c", "echo hello from berth; hostname; ps"/' config.json
