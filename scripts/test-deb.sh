#!/usr/bin/env bash
# Checks the Debian package without installing it into the machine (as root): unpacks
# target/deb/berth_*.deb into a throwaway root, verifies berth.socket and berth.service with
# `systemd-analyze verify`, starts the packaged daemon with the unit's ExecStart line
# (`berth daemon -H fd://`) and its socket passed as fd 3 by systemd-socket-activate, imports
# a busybox image with the packaged CLI and runs a container from it, then stops the daemon.
# Run scripts/build-deb.sh first. Everything lives in a temp dir that is removed at exit.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
deb="$(ls "${CARGO_TARGET_DIR:-$root/target}"/deb/berth_*.deb | head -1)"
work="$(mktemp -d /tmp/berth-deb-test.XXXXXX)"
pid=""
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && sleep 2
	rm -rf "$work"
}
trap cleanup EXIT
pkg="$work/root"
dpkg-deb -x "$deb" "$pkg"
# systemd-analyze resolves the units' dependencies and commands inside --root.
cp -rn /lib/systemd/system/. "$pkg/lib/systemd/system/"
mkdir -p "$pkg/bin" && cp /bin/kill "$pkg/bin/kill"
systemd-analyze verify --man=no --root="$pkg" \
	"$pkg/lib/systemd/system/berth.socket" "$pkg/lib/systemd/system/berth.service"
exec_start="$(sed -n 's/^ExecStart=//p' "$pkg/lib/systemd/system/berth.service")"
[ "$exec_start" = "/usr/bin/berth daemon -H fd://" ] || { echo "ExecStart: $exec_start"; exit 1; }
sock="$work/berth.sock"
systemd-socket-activate -l "$sock" "$pkg/usr/bin/berth" daemon -H fd:// \
	--data-root "$work/data" --exec-root "$work/exec" \
	--config-file "$pkg/etc/berth/daemon.json" \
	--nft-table "berth_debtest_$$" --bridge none >"$work/daemon.log" 2>&1 &
pid=$!
export DOCKER_HOST="unix://$sock"
berth="$pkg/usr/bin/berth"
mkdir -p "$work/rootfs/bin"
cp "$(command -v busybox)" "$work/rootfs/bin/busybox"
ln -s busybox "$work/rootfs/bin/sh"
ln -s busybox "$work/rootfs/bin/echo"
tar -C "$work/rootfs" -c . | "$berth" import - berth-deb-test >/dev/null
out="$("$berth" run --rm --network none berth-deb-test echo hello from the package)"
[ "$out" = "hello from the package" ] || { echo "run printed: $out"; cat "$work/daemon.log"; exit 1; }
"$berth" rmi berth-deb-test >/dev/null
"$berth" completion bash | grep -q "complete -F _berth"
man -l "$pkg/usr/share/man/man8/berth-daemon.8.gz" >/dev/null 2>&1 || zcat "$pkg/usr/share/man/man8/berth-daemon.8.gz" | grep -q "berth-daemon"
echo "package ok: $(basename "$deb")"
