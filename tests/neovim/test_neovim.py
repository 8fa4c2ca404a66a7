"""Crashloom in a real Neovim: the shipped config attaches, the crash diagnostics Neovim holds are
on the right lines with the right severity and message, and hover shows the crash."""

import json
import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NVIM = Path(os.environ.get("NVIM", REPO / ".venv" / "bin" / "nvim"))
CRASHLOOM = Path(os.environ.get("CRASHLOOM_BIN", REPO / "target" / "debug" / "crashloom"))

ERROR, INFO = 1, 3


def run_neovim(tmp_path):
    workspace = tmp_path / "shop"
    shutil.copytree(REPO / "examples" / "shop-python", workspace, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "neovim.json"
    env = dict(os.environ, REPO=str(REPO), WORKSPACE=str(workspace), OUT=str(out), CRASHLOOM_BIN=str(CRASHLOOM))
    subprocess.run(
        [str(NVIM), "--headless", "-u", "NONE", "-i", "NONE", "-c", f"luafile {REPO / 'tests/neovim/check_crashes.lua'}"],
        env=env, cwd=workspace, timeout=120, check=True, stdin=subprocess.DEVNULL,
    )
    return json.loads(out.read_text())


def test_neovim_shows_the_crash_sites_and_the_hover(tmp_path):
    assert CRASHLOOM.exists(), f"build the server first: {CRASHLOOM}"
    seen = run_neovim(tmp_path)
    assert seen["errors"] == []
    marks = sorted((d["lnum"], d["severity"], d["message"].splitlines()[0]) for d in seen["diagnostics"])
    assert [(lnum, severity) for lnum, severity, _ in marks] == [
        (12, INFO), (18, INFO), (20, ERROR), (25, ERROR), (26, INFO),
    ]
    assert marks[3][2] == "TypeError: 'NoneType' object is not subscriptable — crashed here 1 time"
    assert marks[2][2] == "OrderError: order 102 cannot be priced — crashed here 2 times, last 2026-11-23 23:53 UTC"
    assert all(d["source"] == "crashloom" for d in seen["diagnostics"])
    assert seen["hover"].startswith("**TypeError**: 'NoneType' object is not subscriptable")
    assert "shop/orders.py:26 ← here" in seen["hover"]
