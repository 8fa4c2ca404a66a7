#!/usr/bin/env bash
# Every test of the project, on a fresh machine: installs what the tests need (tests/setup-tools.sh),
# checks formatting and lints, builds, runs the Rust tests (unit, fixture and end-to-end over the
# protocol) and the tests in real editors (pytest).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

echo "== tools"
tests/setup-tools.sh

echo "== format and lints"
cargo fmt --all -- --check
cargo clippy --locked --workspace --all-targets -- -D warnings

echo "== build"
cargo build --locked --workspace --all-targets

echo "== Rust tests"
cargo test --locked --workspace --no-fail-fast

echo "== editor tests"
CRASHLOOM_BIN="$top/target/debug/crashloom" .venv/bin/python -m pytest -q tests/neovim
