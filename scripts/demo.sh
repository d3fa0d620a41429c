#!/usr/bin/env bash
# Fresh Debian 12, as root: installs what berth needs, builds it, makes an OCI bundle from
# Debian's busybox-static and runs it with berth's own OCI runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --release -p berth
berth=target/release/berth

bundle=$(mktemp -d /tmp/berth-demo.XXXXXX)
trap 'rm -rf "$bundle"' EXIT
bash scripts/busybox-bundle.sh "$bundle"
id="demo-$$"
"$berth" runtime run --bundle "$bundle" "$id"
