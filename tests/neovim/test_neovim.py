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


def run_commands(tmp_path):
    workspace = tmp_path / "shop"
    shutil.copytree(
        REPO / "examples" / "shop-python", workspace, ignore=shutil.ignore_patterns("__pycache__", "reports", "crashloom.db*")
    )
    out = tmp_path / "commands.json"
    env = dict(os.environ, REPO=str(REPO), WORKSPACE=str(workspace), OUT=str(out), CRASHLOOM_BIN=str(CRASHLOOM))
    subprocess.run(
        [str(NVIM), "--headless", "-u", "NONE", "-i", "NONE", "-c", f"luafile {REPO / 'tests/neovim/check_commands.lua'}"],
        env=env, cwd=workspace, timeout=300, check=True, stdin=subprocess.DEVNULL,
    )
    return json.loads(out.read_text()), workspace


def test_neovim_commands_list_investigate_and_apply_with_a_diff_first(tmp_path):
    assert CRASHLOOM.exists(), f"build the server first: {CRASHLOOM}"
    seen, workspace = run_commands(tmp_path)
    assert seen["errors"] == []
    assert seen["report_before"].startswith("Crashloom: crash ") and "has not been investigated yet" in seen["report_before"]

    # :Crashloom crashes: every crash mark of the workspace, errors first, in the quickfix list.
    assert seen["quickfix_open"]
    quickfix = [(q["file"], q["lnum"], q["type"]) for q in seen["quickfix"]]
    assert quickfix[:3] == [("catalog.py", 11, "E"), ("orders.py", 21, "E"), ("orders.py", 26, "E")]
    assert sorted(quickfix[3:]) == [
        ("app.py", 27, "I"), ("app.py", 30, "I"), ("app.py", 42, "I"),
        ("orders.py", 13, "I"), ("orders.py", 19, "I"), ("orders.py", 27, "I"),
    ]
    assert seen["quickfix"][2]["text"] == "[CL-54E9F7] TypeError: 'NoneType' object is not subscriptable — crashed here 1 time"

    # On a line without a crash there is nothing to investigate.
    assert seen["investigate_elsewhere"] == "Crashloom: no crash on this line"

    # Progress of the agents, as vim.notify messages, then the verdict; the report opens.
    notes = seen["notes"]
    begin = notes.index("Investigating crash CL-54E9F7: Error Analyzer")
    steps = [n for n in notes[begin:] if n.startswith("Investigating crash CL-54E9F7 (")]
    assert any(": Sandbox Validator" in s for s in steps), steps
    assert notes.count("Crash CL-54E9F7: validated fix ready") == 1
    assert seen["report_opened"] == "CL-54E9F7.md"

    # :Crashloom fix shows the diff (the file and the fixed text side by side) and asks.
    first, second = seen["questions"]
    assert first["message"] == "Apply the validated fix to shop/orders.py?"
    assert first["diff_windows"] == 2
    assert "    if customer is None:\n        raise OrderError(" in first["fixed"]
    # Declined: nothing changes, the diff tab is gone.
    original = (REPO / "examples" / "shop-python" / "shop" / "orders.py").read_text()
    assert seen["after_decline"] + "\n" == original
    assert seen["tabs_after_decline"] == 1
    # Accepted: the buffer has the fix.
    assert second["diff_windows"] == 2
    assert 'customer = customers.get(order["customer"])\n    if customer is None:\n' in seen["after_accept"]

    # :checkhealth crashloom finds the server, and says so when it is missing.
    assert "OK" in seen["health_ok"] and "crashloom 0.1.0" in seen["health_ok"]
    assert "ERROR" not in seen["health_ok"]
    assert "ERROR" in seen["health_missing"] and "no-such-crashloom is not an executable" in seen["health_missing"]
