#!/usr/bin/env bash
# Usage: busybox-bundle.sh DIR [berth-binary] [command...] — makes DIR an OCI bundle: rootfs/
# from Debian's busybox-static (one symlink per applet) and config.json from
# `berth runtime spec`, edited (with python3) to run without a terminal. The default command
# shows the isolation: `sh -c 'echo hello from berth; hostname; ps'`.
set -euo pipefail
dir=$1
berth=${2:-target/release/berth}
berth=$(readlink -f "$berth")
shift $(( $# >= 2 ? 2 : $# ))
mkdir -p "$dir/rootfs"/{bin,proc,sys,dev,tmp,etc,root}
cp /bin/busybox "$dir/rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$dir/rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$dir/rootfs/etc/passwd"
printf 'root:x:0:\n' > "$dir/rootfs/etc/group"
rm -f "$dir/config.json"
"$berth" runtime spec --bundle "$dir"
if [ $# -eq 0 ]; then
  set -- sh -c 'echo hello from berth; echo "hostname: $(hostname)"; ps'
fi
python3 - "$dir/config.json" "$@" <<'PY'
import json, sys
path, args = sys.argv[1], sys.argv[2:]
with open(path) as f:
    spec = json.load(f)
spec["process"]["terminal"] = False
spec["process"]["args"] = args
with open(path, "w") as f:
    json.dump(spec, f, indent=2)
PY
