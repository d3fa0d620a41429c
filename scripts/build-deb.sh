#!/usr/bin/env bash
# Builds berth's Debian package: target/deb/berth_<version>_<arch>.deb.
#
# The binaries (berth, berth-shim, berth-runtime) are built with cargo, the man pages and
# completions generated from the clap definitions (crates/berth/examples/gen_docs.rs), then
# debhelper packs them with packaging/debian/ (units, conffile, maintainer scripts): see
# docs/install.md. Needs debhelper and fakeroot (scripts/install-deps.sh --install).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"

# BERTH_DEB_NO_BUILD=1 packs the binaries a workspace build already made (the CI test:
# `cargo nextest run --workspace` builds every binary).
if [ "${BERTH_DEB_NO_BUILD:-}" != 1 ]; then
	cargo build --release -p berth --bin berth --bin berth-runtime -p berth-shim
	cargo build --release -p berth --example gen_docs
fi
stage="$target/deb/berth-$version"
rm -rf "$target/deb"
mkdir -p "$stage"
cp -r packaging/debian "$stage/debian"
# BERTH_DOCS_DIR: man pages and completions generated already (the CI test makes them with
# the same code, crates/berth/examples/gen_docs.rs, as nextest builds no examples).
if [ -n "${BERTH_DOCS_DIR:-}" ]; then
	cp -r "$BERTH_DOCS_DIR" "$stage/generated"
else
	"$target/release/examples/gen_docs" "$stage/generated"
fi
# Dated by the commit, not the clock: the same sources pack the same files (install.sh
# reinstalls only what differs).
cat >"$stage/debian/changelog" <<CHANGELOG
berth ($version) unstable; urgency=medium

  * Built from the berth workspace at $(git rev-parse --short HEAD 2>/dev/null || echo unknown).

 -- berth developers <berth@localhost>  $(git log -1 --format=%cD 2>/dev/null || date -R)
CHANGELOG
cd "$stage"
BERTH_BIN_DIR="$target/release" BERTH_GEN_DIR="$stage/generated" \
	dpkg-buildpackage --build=binary --no-sign -d -rfakeroot >"$target/deb/build.log" 2>&1 ||
	{ tail -40 "$target/deb/build.log"; exit 1; }
ls "$target"/deb/berth_"$version"_*.deb
