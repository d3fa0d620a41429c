#!/usr/bin/env bash
# Tests the Debian package on this machine (as root; run scripts/build-deb.sh first):
#
# 1. unpacked into a throwaway root: `systemd-analyze verify` of berth.socket and
#    berth.service, the ExecStart line is `/usr/bin/berth daemon -H fd://`;
# 2. `dpkg -i`: binaries, units, conffile, the `berth` group;
# 3. the engine started as the machine's: `systemctl start berth.socket` where systemd is
#    PID 1, elsewhere the unit's ExecStart line with its socket passed by
#    systemd-socket-activate (root:berth 0660, as the socket unit makes it);
# 4. a user in the `berth` group runs a container with the packaged CLI; a user outside it
#    is refused at the socket;
# 5. with `live-restore: true` a running container survives a restart of the service
#    (same pid, exec still works);
# 6. an upgrade (`dpkg -i` of the same build with a bumped version, then the service's
#    restart) keeps that container running and exec-able, and the edited conffile;
# 7. `dpkg -r` keeps /var/lib/berth and the conffile, `dpkg -P` removes them.
#
# Refuses to run where berth is already installed. The test's daemon.json (a conffile, gone
# with the purge) keeps it off the host's networking: no default bridge, an nft table of
# its own. Everything made is removed at exit: the package (purged), the two users, the
# group if the test made it, the temp dir.
set -euo pipefail
# The packaged CLI talks to the installed engine (its default socket), nothing else.
unset DOCKER_HOST DOCKER_CONTEXT
root="$(cd "$(dirname "$0")/.." && pwd)"
deb="$(ls "${CARGO_TARGET_DIR:-$root/target}"/deb/berth_*.deb | head -1)"
if dpkg-query -W -f='${Status}' berth 2>/dev/null | grep -q installed; then
	echo "berth is installed on this machine; test-deb.sh installs and purges it: refusing" >&2
	exit 1
fi
work="$(mktemp -d /tmp/berth-deb-test.XXXXXX)"
member="berthin$$"
outsider="berthout$$"
table="berth_debtest_$$"
sock=/run/berth/berth.sock
had_group=0
getent group berth >/dev/null && had_group=1
systemd_pid1=0
[ "$(cat /proc/1/comm)" = systemd ] && systemd_pid1=1
pid=""

start_engine() {
	if [ "$systemd_pid1" = 1 ]; then
		systemctl start berth.socket
		return
	fi
	local line
	read -r -a line <<<"$(sed -n 's/^ExecStart=//p' /lib/systemd/system/berth.service)"
	mkdir -p /run/berth
	rm -f "$sock"
	systemd-socket-activate -l "$sock" "${line[@]}" </dev/null >>"$work/daemon.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
	chgrp berth "$sock" && chmod 0660 "$sock"
	for _ in $(seq 200); do berth version >/dev/null 2>&1 && return; sleep 0.1; done
	echo "the engine did not answer"; cat "$work/daemon.log"; exit 1
}

# `systemctl stop berth` (KillMode=process: the daemon only, containers keep running).
stop_engine() {
	if [ "$systemd_pid1" = 1 ]; then
		systemctl stop berth.service berth.socket
		return
	fi
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	pid=""
}

cleanup() {
	if command -v berth >/dev/null && berth version >/dev/null 2>&1; then
		berth rm -f keep >/dev/null 2>&1 || true
	fi
	stop_engine
	if dpkg-query -W -f='${Status}' berth 2>/dev/null | grep -q "ok"; then
		dpkg -P berth >/dev/null 2>&1 || true
	fi
	userdel "$member" 2>/dev/null || true
	userdel "$outsider" 2>/dev/null || true
	[ "$had_group" = 1 ] || groupdel berth 2>/dev/null || true
	nft delete table inet "$table" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$work/daemon.log" ] && tail -20 "$work/daemon.log" >&2; exit 1; }

# 1. The units, unpacked.
pkg="$work/root"
dpkg-deb -x "$deb" "$pkg"
cp -rn /lib/systemd/system/. "$pkg/lib/systemd/system/"
mkdir -p "$pkg/bin" && cp /bin/kill "$pkg/bin/kill"
systemd-analyze verify --man=no --root="$pkg" \
	"$pkg/lib/systemd/system/berth.socket" "$pkg/lib/systemd/system/berth.service"
exec_start="$(sed -n 's/^ExecStart=//p' "$pkg/lib/systemd/system/berth.service")"
[ "$exec_start" = "/usr/bin/berth daemon -H fd://" ] || fail "ExecStart: $exec_start"

# 2. Installed.
dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -i"; }
for f in /usr/bin/berth /usr/bin/berth-shim /usr/bin/berth-runtime \
	/lib/systemd/system/berth.socket /lib/systemd/system/berth.service /etc/berth/daemon.json; do
	[ -e "$f" ] || fail "$f not installed"
done
getent group berth >/dev/null || fail "postinst made no berth group"
dpkg-query -W -f='${Conffiles}' berth | grep -q /etc/berth/daemon.json || fail "daemon.json is no conffile"
cat >/etc/berth/daemon.json <<JSON
{
	"data-root": "/var/lib/berth",
	"exec-root": "/run/berth",
	"live-restore": true,
	"bridge": "none",
	"nft-table": "$table"
}
JSON

# 3. Started as the machine's engine.
start_engine
[ "$(stat -c %G:%a "$sock")" = "berth:660" ] || fail "socket is $(stat -c %U:%G:%a "$sock")"
mkdir -p "$work/rootfs/bin"
cp "$(command -v busybox)" "$work/rootfs/bin/busybox"
for a in sh echo sleep true; do ln -s busybox "$work/rootfs/bin/$a"; done
tar -C "$work/rootfs" -c . | berth import - berth-deb-test >/dev/null

# 4. A member of `berth` uses the engine; anyone else is refused.
useradd -M -N -G berth -s /bin/sh "$member"
useradd -M -N -s /bin/sh "$outsider"
out="$(cd / && runuser -u "$member" -- berth run --rm --network none berth-deb-test echo hello from a berth member)"
[ "$out" = "hello from a berth member" ] || fail "member's run printed: $out"
if err="$(cd / && runuser -u "$outsider" -- berth ps 2>&1)"; then
	fail "a user outside the berth group could use the engine"
fi
echo "$err" | grep -qi "permission denied" || fail "outsider got: $err"

# 5. live-restore: a running container survives a restart of the service.
berth run -d --name keep --network none berth-deb-test sleep 600 >/dev/null
cpid="$(berth inspect -f '{{.State.Pid}}' keep)"
stop_engine
kill -0 "$cpid" 2>/dev/null || fail "the container died with the daemon"
start_engine
[ "$(berth inspect -f '{{.State.Running}} {{.State.Pid}}' keep)" = "true $cpid" ] ||
	fail "after restart: $(berth inspect -f '{{.State.Status}} {{.State.Pid}}' keep)"
[ "$(berth exec keep echo still here)" = "still here" ] || fail "exec after restart"

# 6. An upgrade to a newer build (the same files repacked with a bumped version) keeps the
#    container running: dpkg replaces the binaries under the running daemon, then the
#    service restarts (postinst does it where systemd is PID 1; here, as it would).
old_version="$(dpkg-query -W -f='${Version}' berth)"
new_version="${old_version}+upgrade1"
dpkg-deb -R "$deb" "$work/newer"
sed -i "s/^Version: .*/Version: $new_version/" "$work/newer/DEBIAN/control"
dpkg-deb -b "$work/newer" "$work/berth_${new_version}.deb" >/dev/null
dpkg -i "$work/berth_${new_version}.deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -i (upgrade)"; }
[ "$(dpkg-query -W -f='${Version}' berth)" = "$new_version" ] || fail "upgrade: not at $new_version"
grep -q '"live-restore": true' /etc/berth/daemon.json || fail "upgrade replaced the edited conffile"
if [ "$systemd_pid1" = 0 ]; then
	stop_engine
	start_engine
fi
kill -0 "$cpid" 2>/dev/null || fail "the container died in the upgrade"
[ "$(berth inspect -f '{{.State.Running}} {{.State.Pid}}' keep)" = "true $cpid" ] ||
	fail "after upgrade: $(berth inspect -f '{{.State.Status}} {{.State.Pid}}' keep)"
[ "$(berth exec keep echo upgraded)" = "upgraded" ] || fail "exec after upgrade"
berth rm -f keep >/dev/null
berth rmi berth-deb-test >/dev/null

# 7. remove keeps the data and the conffile, purge removes them.
stop_engine
dpkg -r berth >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -r"; }
[ ! -e /usr/bin/berth ] || fail "/usr/bin/berth left after remove"
[ -d /var/lib/berth ] || fail "remove deleted /var/lib/berth"
[ -f /etc/berth/daemon.json ] || fail "remove deleted the conffile"
dpkg -P berth >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -P"; }
[ ! -e /var/lib/berth ] || fail "purge left /var/lib/berth"
[ ! -e /etc/berth/daemon.json ] || fail "purge left the conffile"
echo "package ok: $(basename "$deb")"
