#!/usr/bin/env bash
# Every test of the project, on a fresh machine: installs what the tests need (tests/setup-tools.sh),
# checks formatting and lints, builds, runs the Rust tests (unit, fixture and end-to-end over the
# protocol), the MCP server with the MCP Python SDK as its client, and the tests in real editors
# (Neovim, Emacs, Vim through pytest; VS Code in code-server through node's test runner).
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

echo "== VS Code extension: type-check, lint, bundle, package"
npm run --prefix editors/vscode --silent package

# Both editor suites run even when the first fails.
editors_failed=0
echo "== editor tests (Neovim, Emacs, Vim)"
CRASHLOOM_BIN="$top/target/debug/crashloom" .venv/bin/python -m pytest -q tests/neovim tests/emacs tests/vim \
  || editors_failed=1

echo "== MCP server (the MCP Python SDK as the client)"
CRASHLOOM_BIN="$top/target/debug/crashloom" .venv/bin/python -m pytest -q tests/mcp || editors_failed=1

echo "== editor tests (VS Code in code-server)"
PATH="$top/tests/.tools/node24/node_modules/.bin:$PATH" CRASHLOOM_BIN="$top/target/debug/crashloom" \
  VSIX="$top/editors/vscode/crashloom.vsix" node --test tests/vscode/vscode.test.mjs || editors_failed=1
exit "$editors_failed"
