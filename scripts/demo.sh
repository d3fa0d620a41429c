#!/usr/bin/env bash
# Fresh Debian 12, as root: installs what berth needs, builds it, starts a private berth daemon,
# makes a base image from Debian's busybox-static with `berth import`, builds an image on it from a
# Dockerfile with `berth build`, and runs a container from that with `berth run --rm` (the same
# commands as docker's). Everything it made is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --release -p berth -p berth-shim
berth=$(readlink -f target/release/berth)

work=$(mktemp -d /tmp/berth-demo.XXXXXX)
# The daemon makes its default bridge and nftables table (like docker0) when missing; the demo
# removes them again unless they were there before it.
had_bridge=0; ip link show berth0 >/dev/null 2>&1 && had_bridge=1
had_table=0; nft list table inet berth >/dev/null 2>&1 && had_table=1
sock="$work/berth.sock"
daemon_pid=
cleanup() {
  if [ -n "$daemon_pid" ]; then
    "$berth" -H "unix://$sock" rm -f demo >/dev/null 2>&1 || true
    kill "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  grep -o " $work[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
  [ "$had_bridge" = 1 ] || ip link del berth0 2>/dev/null || true
  [ "$had_table" = 1 ] || nft delete table inet berth 2>/dev/null || true
}
trap cleanup EXIT

"$berth" daemon -H "unix://$sock" --data-root "$work/data" --exec-root "$work/exec" \
  --pidfile "$work/berth.pid" --config-file "$work/daemon.json" 2>"$work/daemon.log" &
daemon_pid=$!
for _ in $(seq 100); do
  "$berth" -H "unix://$sock" version >/dev/null 2>&1 && break
  sleep 0.1
done
export DOCKER_HOST="unix://$sock"

# An image berth builds itself: busybox-static's rootfs, imported as berth-demo/busybox.
bash scripts/busybox-bundle.sh "$work/bundle" "$berth" >/dev/null
tar -C "$work/bundle/rootfs" -c . | "$berth" import -c 'CMD ["sh"]' - berth-demo/busybox:latest

# An image berth builds from a Dockerfile on that base (each RUN/COPY a layer, as docker build).
mkdir -p "$work/app"
cat > "$work/app/Dockerfile" <<'EOF'
FROM berth-demo/busybox
WORKDIR /app
COPY greeting.txt .
RUN echo "built by berth's builder" > built.txt
CMD ["sh", "-c", "cat greeting.txt built.txt; echo \"hostname: $(hostname)\"; ps"]
EOF
echo "hello from berth" > "$work/app/greeting.txt"
"$berth" build -t berth-demo/hello "$work/app"
"$berth" images berth-demo/hello
"$berth" run --rm --name demo --hostname berth-demo berth-demo/hello
