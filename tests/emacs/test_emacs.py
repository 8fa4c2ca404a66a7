"""Crashloom in a real Emacs (eglot, flymake) with the shipped crashloom.el: a workspace that is
not a git repository is found by its crashloom.toml, and the crash diagnostics flymake holds are on
the right lines with the right type and message."""

import json
import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EMACS = os.environ.get("EMACS", "emacs")
CRASHLOOM = Path(os.environ.get("CRASHLOOM_BIN", REPO / "target" / "debug" / "crashloom"))


def run_emacs(tmp_path):
    workspace = tmp_path / "shop"
    shutil.copytree(
        REPO / "examples" / "shop-python", workspace, ignore=shutil.ignore_patterns("__pycache__", "reports", "crashloom.db*")
    )
    elsewhere = tmp_path / "plain" / "src"
    elsewhere.mkdir(parents=True)
    out = tmp_path / "emacs.json"
    env = dict(
        os.environ, REPO=str(REPO), WORKSPACE=str(workspace), ELSEWHERE=str(elsewhere), OUT=str(out),
        CRASHLOOM_BIN=str(CRASHLOOM), HOME=str(tmp_path),
    )
    subprocess.run(
        [EMACS, "--batch", "-l", str(REPO / "tests/emacs/check_crashes.el")],
        env=env, cwd=workspace, timeout=120, check=True, stdin=subprocess.DEVNULL, capture_output=True,
    )
    return json.loads(out.read_text()), workspace


def test_emacs_finds_the_workspace_without_git_and_shows_the_crashes(tmp_path):
    assert CRASHLOOM.exists(), f"build the server first: {CRASHLOOM}"
    seen, workspace = run_emacs(tmp_path)
    assert seen["errors"] is None or seen["errors"] == []
    # The root comes from crashloom.toml (the copy is in no repository); a folder without it has none.
    assert seen["vc"] is None
    assert seen["project_root"] == f"{workspace}/"
    assert seen["root_elsewhere"] is None
    assert seen["server_class"] == "crashloom-eglot-server"

    marks = [(d["line"], d["type"], d["text"].splitlines()[0]) for d in seen["diagnostics"]]
    assert [(line, kind) for line, kind, _ in marks] == [
        (13, "eglot-note"), (19, "eglot-note"), (21, "eglot-error"), (26, "eglot-error"), (27, "eglot-note"),
    ]
    assert marks[3][2].endswith("TypeError: 'NoneType' object is not subscriptable — crashed here 1 time")
    assert "OrderError: order 102 cannot be priced — crashed here 2 times" in marks[2][2]
    assert "TypeError" in seen["hover"] and "shop/orders.py:26 ← here" in seen["hover"]

    # The server's code actions through eglot: on the crash line, none elsewhere; investigating and
    # applying the validated fix changes the buffer.
    assert "Investigate crash CL-54E9F7" in seen["actions_crash"]
    assert seen["actions_elsewhere"] is None or seen["actions_elsewhere"] == []
    assert seen["verdict"] == "validated fix ready"
    assert 'customer = customers.get(order["customer"])\n    if customer is None:\n' in seen["after_fix"]
