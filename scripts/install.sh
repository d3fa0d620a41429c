#!/usr/bin/env bash
# Fresh Debian 12, as root: installs berth as the machine's container engine and runs a
# container from an image berth built itself.
#
# 1. what berth needs (scripts/install-deps.sh --engine: no test peers; a Rust toolchain
#    must be there, https://rustup.rs),
# 2. builds the Debian package (scripts/build-deb.sh) and installs it with apt (dpkg plus
#    the package's Depends): /usr/bin/berth, berth.socket + berth.service, the `berth`
#    group, /etc/berth/daemon.json,
# 3. starts the engine: where systemd is PID 1 the package already started berth.socket;
#    elsewhere (containers, chroots) the service's own ExecStart line runs with the socket
#    passed by systemd-socket-activate, owned root:berth 0660 as the socket unit makes it,
# 4. makes a base image from Debian's busybox-static (`berth import`), builds an image on it
#    from a Dockerfile (`berth build`) and runs it (`berth run --rm`).
#
# berth stays installed and running: `berth ps`, `docker -H unix:///run/berth/berth.sock ps`
# (README, "For docker users"); `apt purge berth` removes it with its data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --engine
bash scripts/build-deb.sh
deb=$(ls target/deb/berth_*.deb | head -1)
# A rerun after the sources changed builds the same version: apt would keep the installed
# package ("already the newest version"), so it is reinstalled when a packaged file differs
# (the md5sums of the package against dpkg's record; the conffile is not among them).
reinstall=()
if [ "$(dpkg-query -W -f='${Status} ${Version}' berth 2>/dev/null)" = \
  "install ok installed $(dpkg-deb -f "$deb" Version)" ] &&
  ! cmp -s <(dpkg-deb -I "$deb" md5sums | sort) <(sort /var/lib/dpkg/info/berth.md5sums); then
  reinstall=(--reinstall)
  echo "berth $(dpkg-deb -f "$deb" Version) is installed from another build: reinstalling"
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${reinstall[@]}" "./$deb"

sock=/run/berth/berth.sock
if [ "$(cat /proc/1/comm)" = systemd ]; then
  systemctl start berth.socket
else
  unit=/lib/systemd/system/berth.service
  read -r -a exec_start <<<"$(sed -n 's/^ExecStart=//p' "$unit")"
  mkdir -p /run/berth
  # A daemon this script started before, whose binary the reinstall replaced: stopped (by
  # its pid; the package's restart does this where systemd runs) and started again below.
  for pid in $(pgrep -x berth || true); do
    if [ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" = "${exec_start[*]} " ] &&
      [[ "$(readlink "/proc/$pid/exe")" == *" (deleted)" ]]; then
      echo "stopping the berth daemon of the previous build (pid $pid)"
      kill -TERM "$pid"
      for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      rm -f "$sock"
    fi
  done
  if ! berth -H "unix://$sock" version >/dev/null 2>&1; then
    setsid systemd-socket-activate -l "$sock" "${exec_start[@]}" \
      </dev/null >>/var/log/berth.log 2>&1 &
    for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
    chgrp berth "$sock" && chmod 0660 "$sock"
    echo "berth daemon started without systemd (pid $!), log in /var/log/berth.log"
  fi
fi
for _ in $(seq 100); do berth version >/dev/null 2>&1 && break; sleep 0.1; done
berth version

work=$(mktemp -d /tmp/berth-install.XXXXXX)
trap 'rm -rf "$work"' EXIT
# A base image berth makes itself: busybox-static's applets, imported (once: a second run
# reuses it, and the build below its cache).
if ! berth image inspect berth-demo/busybox >/dev/null 2>&1; then
  mkdir -p "$work/rootfs"/{bin,etc,tmp,root}
  cp /bin/busybox "$work/rootfs/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$work/rootfs/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$work/rootfs/etc/passwd"
  printf 'root:x:0:\n' >"$work/rootfs/etc/group"
  tar -C "$work/rootfs" -c . | berth import -c 'CMD ["sh"]' - berth-demo/busybox:latest
fi
# An image berth builds from a Dockerfile on that base, and a container from it.
mkdir -p "$work/app"
cat >"$work/app/Dockerfile" <<'DOCKERFILE'
FROM berth-demo/busybox
WORKDIR /app
COPY greeting.txt .
RUN echo "built by berth's builder" > built.txt
CMD ["sh", "-c", "cat greeting.txt built.txt; echo \"hostname: $(hostname)\"; ps"]
DOCKERFILE
echo "hello from berth, the machine's engine" >"$work/app/greeting.txt"
berth build -t berth-demo/hello "$work/app"
berth run --rm --hostname berth-demo berth-demo/hello
echo "berth is installed: add users to the 'berth' group to let them use it (usermod -aG berth USER)"
