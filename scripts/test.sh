#!/usr/bin/env bash
# The test command: install what is missing, then format check, lints, and every test of the
# workspace (unit, root-only integration, real peers) in parallel under cargo-nextest.
# Run as root: the integration tiers need it (they fail under CI=true rather than skip).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo fmt --all -- --check
cargo clippy --release --workspace --all-targets -q -- -D warnings
cargo nextest run --release --workspace --profile ci "$@"
