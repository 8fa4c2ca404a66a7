"""Crashloom in a real Vim with ALE (Debian's vim and vim-ale) and the shipped config: the
workspace root comes from crashloom.toml, and the crash diagnostics ALE holds are on the right
lines with the right type and message. ALE never answers the server's client/registerCapability
request, so this passes once the server no longer waits for that answer before its first reload."""

import json
import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VIM = os.environ.get("VIM_BIN", "vim")
CRASHLOOM = Path(os.environ.get("CRASHLOOM_BIN", REPO / "target" / "debug" / "crashloom"))


def run_vim(tmp_path):
    workspace = tmp_path / "shop"
    shutil.copytree(
        REPO / "examples" / "shop-python", workspace, ignore=shutil.ignore_patterns("__pycache__", "reports", "crashloom.db*")
    )
    elsewhere = tmp_path / "plain"
    elsewhere.mkdir()
    out = tmp_path / "vim.json"
    env = dict(
        os.environ, REPO=str(REPO), WORKSPACE=str(workspace), ELSEWHERE=str(elsewhere), OUT=str(out),
        CRASHLOOM_BIN=str(CRASHLOOM), HOME=str(tmp_path),
    )
    subprocess.run(
        [VIM, "-N", "-u", "NONE", "-i", "NONE", "-n", "-es", "-S", str(REPO / "tests/vim/check_crashes.vim")],
        env=env, cwd=workspace, timeout=120, check=True, stdin=subprocess.DEVNULL, capture_output=True,
    )
    return json.loads(out.read_text()), workspace


def test_vim_with_ale_shows_the_crash_sites(tmp_path):
    assert CRASHLOOM.exists(), f"build the server first: {CRASHLOOM}"
    seen, workspace = run_vim(tmp_path)
    assert seen["errors"] == []
    assert seen["root"] == str(workspace)
    assert seen["root_elsewhere"] == ""
    marks = sorted((d["lnum"], d["type"], d["text"].splitlines()[0]) for d in seen["diagnostics"])
    # ALE 3.3 lists LSP Information as a warning ('W').
    assert [(lnum, kind) for lnum, kind, _ in marks] == [(13, "W"), (19, "W"), (21, "E"), (26, "E"), (27, "W")]
    assert marks[3][2] == "TypeError: 'NoneType' object is not subscriptable — crashed here 1 time"
    assert all(d["linter"] == "crashloom" for d in seen["diagnostics"])
