"""Crashloom in a real Neovim: the shipped config attaches, the crash diagnostics Neovim holds are
on the right lines with the right severity and message, and hover shows the crash; the commands
list the crashes, investigate (the shop's fix is NOT validated and never offered for applying; the
Go ledger's is validated), and apply a validated fix only after showing the diff."""

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
    ledger = tmp_path / "ledger"
    shutil.copytree(REPO / "examples" / "ledger-go", ledger, ignore=shutil.ignore_patterns("reports", "crashloom.db*"))
    out = tmp_path / "commands.json"
    env = dict(
        os.environ, REPO=str(REPO), WORKSPACE=str(workspace), LEDGER=str(ledger), OUT=str(out), CRASHLOOM_BIN=str(CRASHLOOM)
    )
    subprocess.run(
        [str(NVIM), "--headless", "-u", "NONE", "-i", "NONE", "-c", f"luafile {REPO / 'tests/neovim/check_commands.lua'}"],
        env=env, cwd=workspace, timeout=600, check=True, stdin=subprocess.DEVNULL,
    )
    return json.loads(out.read_text()), workspace, ledger


def test_neovim_commands_list_investigate_and_apply_with_a_diff_first(tmp_path):
    assert CRASHLOOM.exists(), f"build the server first: {CRASHLOOM}"
    seen, workspace, ledger = run_commands(tmp_path)
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

    # The shop's TypeError: the offline change raises OrderError instead, so the fix is NOT
    # validated; nothing offers to apply it, and :Crashloom fix refuses and changes nothing.
    notes = seen["notes"]
    assert "Crash CL-54E9F7: fix NOT validated" in notes
    assert "Crash CL-54E9F7: validated fix ready" not in notes
    assert seen["shop_report_first_line"].startswith("# Crash CL-54E9F7: fix NOT validated")
    # The validated alternative that skips the guest order hides the missing customer: labelled so.
    assert seen["shop_titles"] == [
        "Show fix for CL-54E9F7 (NOT validated)",
        "Apply alternative 2 (hides the symptom): Skip the element in `main` when the call raises TypeError",
        "Show crash report CL-54E9F7",
        "Investigate crash CL-54E9F7",
    ]
    assert seen["shop_fix_note"] == "Crashloom: the fix was not applied (not validated)"
    assert seen["shop_questions"] == 0
    orders = (REPO / "examples" / "shop-python" / "shop" / "orders.py").read_text()
    assert seen["shop_after_fix"] + "\n" == orders

    # The Go ledger: the nil-map panic at ledger.go:31, in (*Ledger).Post.
    crash = seen["ledger_crash"]
    short_id = crash["code"]
    assert crash["lnum"] == 30
    assert crash["message"].splitlines()[0].startswith("panic: assignment to entry in nil map — crashed here 1 time")
    assert seen["ledger_titles_before"] == [f"Investigate crash {short_id}"]

    # Progress of the agents, as vim.notify messages, then the verdict; the report opens.
    ledger_notes = seen["ledger_notes"]
    assert ledger_notes[0] == f"Investigating crash {short_id}: Error Analyzer"
    steps = [n.split(": ", 1)[1].split(":")[0] for n in ledger_notes if n.startswith(f"Investigating crash {short_id} (")]
    for step in ["Code Search", "Root Cause", "Fix Proposal", "Sandbox Validator"]:
        assert step in steps, ledger_notes
    assert ledger_notes.count(f"Crash {short_id}: validated fix ready") == 1
    assert seen["report_opened"] == f"{short_id}.md"
    assert seen["report_first_line"].startswith(f"# Crash {short_id}: validated fix")
    assert seen["ledger_titles_after"] == [
        "Apply validated fix: Initialise `balances` where `Ledger` is built (`NewLedger`)",
        f"Show fix for {short_id} (validated)",
        f"Show crash report {short_id}",
        f"Investigate crash {short_id}",
    ]

    # :Crashloom fix shows the diff (the file and the fixed text side by side) and asks.
    first, second = seen["questions"]
    # (Named from Neovim's working directory, the shop, as :ls would name it.)
    assert first["message"] == f"Apply the validated fix to {ledger}/ledger.go?"
    assert first["diff_windows"] == 2
    assert "\treturn &Ledger{Currency: currency, balances: make(map[string]int64)}\n" in first["fixed"]
    # Declined: nothing changes, the diff tab is gone.
    original = (REPO / "examples" / "ledger-go" / "ledger.go").read_text()
    assert "\treturn &Ledger{Currency: currency}\n" in original
    assert seen["after_decline"] + "\n" == original
    assert seen["tabs_after_decline"] == 1
    # Accepted: the buffer has the fix, and nothing else changed.
    assert second["diff_windows"] == 2
    assert seen["after_accept"] + "\n" == original.replace(
        "return &Ledger{Currency: currency}", "return &Ledger{Currency: currency, balances: make(map[string]int64)}"
    )

    # :checkhealth crashloom finds the server, and says so when it is missing.
    assert "OK" in seen["health_ok"] and "crashloom 0.1.0" in seen["health_ok"]
    assert "ERROR" not in seen["health_ok"]
    assert "ERROR" in seen["health_missing"] and "no-such-crashloom is not an executable" in seen["health_missing"]
