"""`crashloom mcp` driven by the official MCP Python SDK (`mcp` on PyPI) over stdio, as a coding agent
would: the tools are listed, the example's crash groups come with their sites, a crash's frames map to
workspace files, the Rust inventory's crash is investigated with progress notifications and its validated
fix is applied to the files (once: a second time it no longer validates), the shop's fix that only turns
the crash into another error is refused and the file stays as it was, and bad input (an unknown tool,
bad arguments, a line that is not JSON) gets an error while the server goes on answering.

Each test works on a copy of an example in a temporary folder; examples/ is never changed."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import anyio
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError

REPO = Path(__file__).resolve().parents[2]
CRASHLOOM = Path(os.environ.get("CRASHLOOM_BIN", REPO / "target" / "debug" / "crashloom"))
STEPS = ["Error Analyzer", "Code Search", "Root Cause", "Fix Proposal", "Sandbox Validator"]
TOOLS = ["list_crashes", "get_crash", "investigate", "get_fix", "apply_fix"]
# What a sandboxed investigation may take on a slow machine; the tests assert no times.
TIMEOUT = 300


def copy_example(tmp_path, name):
    workspace = tmp_path / name
    shutil.copytree(
        REPO / "examples" / name, workspace,
        ignore=shutil.ignore_patterns("__pycache__", "target", "reports", "crashloom.db*"),
    )
    return workspace


def session_in(workspace, body):
    """Starts `crashloom mcp` for `workspace` (from its folder, as an agent does with no --workspace)
    and runs `body(session)` on an initialized client session."""
    assert CRASHLOOM.exists(), f"build the server first: {CRASHLOOM}"
    server = StdioServerParameters(command=str(CRASHLOOM), args=["mcp"], cwd=str(workspace))

    async def main():
        with anyio.fail_after(TIMEOUT):
            async with stdio_client(server) as (read, write):
                async with ClientSession(read, write) as session:
                    info = await session.initialize()
                    assert info.server_info.name == "crashloom"
                    return await body(session)

    return anyio.run(main)


def answer(result):
    """The JSON a tool answered; it must not be an error."""
    assert not result.is_error, result.content[0].text
    assert json.loads(result.content[0].text) == result.structured_content
    return result.structured_content


def error_text(result):
    assert result.is_error, result.structured_content
    return result.content[0].text


def test_the_rust_crash_is_listed_mapped_investigated_with_progress_and_its_validated_fix_applied(tmp_path):
    workspace = copy_example(tmp_path, "inventory-rust")
    picking = workspace / "src" / "picking.rs"
    before = picking.read_text()
    progress = []

    async def body(session):
        tools = await session.list_tools()
        seen = {"tools": [t.name for t in tools.tools]}
        seen["list"] = answer(await session.call_tool("list_crashes", {}))
        seen["by_file"] = answer(await session.call_tool("list_crashes", {"file": "picking.rs"}))
        seen["other_file"] = answer(await session.call_tool("list_crashes", {"file": "src/stock.rs"}))
        seen["other_env"] = answer(await session.call_tool("list_crashes", {"environment": "staging"}))
        seen["crash"] = answer(await session.call_tool("get_crash", {"crash": "CL-EB20E1"}))
        seen["unknown_crash"] = error_text(await session.call_tool("get_crash", {"crash": "CL-000000"}))
        seen["fix_before"] = error_text(await session.call_tool("get_fix", {"crash": "CL-EB20E1"}))
        seen["apply_before"] = error_text(await session.call_tool("apply_fix", {"crash": "CL-EB20E1"}))

        async def on_progress(value, total, message):
            progress.append((value, total, message))

        seen["investigation"] = answer(
            await session.call_tool("investigate", {"crash": "CL-EB20E1"}, progress_callback=on_progress)
        )
        seen["file_after_investigating"] = picking.read_text()
        return seen

    seen = session_in(workspace, body)
    assert seen["tools"] == TOOLS

    # list_crashes: the one group, with where it crashed.
    listed = seen["list"]
    assert (listed["total"], listed["matching"]) == (1, 1)
    group = listed["groups"][0]
    assert (group["short_id"], group["count"], group["exception"]) == ("CL-EB20E1", 1, "panic")
    assert group["title"] == "panic: called `Option::unwrap()` on a `None` value"
    site = group["site"]
    assert (site["path"], site["line"], site["column"], site["role"]) == ("src/picking.rs", 7, 38, "crash_site")
    assert site["function"] == "inventory::picking::reserve"
    assert [g["short_id"] for g in seen["by_file"]["groups"]] == ["CL-EB20E1"]
    assert seen["other_file"]["groups"] == [] and seen["other_file"]["total"] == 1
    assert seen["other_env"]["groups"] == []

    # get_crash: every frame, oldest first, mapped to its workspace file or with the reason it is not.
    crash = seen["crash"]
    assert [e["type"] for e in crash["exceptions"]] == ["panic"]
    frames = crash["exceptions"][0]["frames"]
    mapped = [(f["workspace"]["path"], f["workspace"]["line"], f["workspace"]["role"]) for f in frames if f["workspace"]]
    assert mapped == [
        ("src/main.rs", 28, "frame"), ("src/main.rs", 13, "frame"),
        ("src/picking.rs", 20, "frame"), ("src/picking.rs", 7, "crash_site"),
    ]
    assert frames[-1]["workspace"]["function"] == "inventory::picking::reserve"
    unmapped = [f for f in frames if f["workspace"] is None]
    assert [f["function"] for f in unmapped] == ["core::ops::function::FnOnce::call_once"]
    assert "is dependency code (under `rustc`), not in the workspace" in unmapped[0]["unmapped_reason"]
    assert all(f["unmapped_reason"] is None for f in frames if f["workspace"])
    assert seen["unknown_crash"] == f"no crash group CL-000000 in {workspace.resolve()}; known: CL-EB20E1 (list_crashes shows them)"

    assert seen["fix_before"] == "crash CL-EB20E1 has not been investigated yet; call investigate first"
    assert seen["apply_before"] == seen["fix_before"]

    # investigate: progress through the five agents, then the validated fix with its proof.
    assert progress, "no progress notification arrived"
    values = [value for value, _, _ in progress]
    assert values == sorted(values) and len(set(values)) == len(values)
    assert all(total == 5 for _, total, _ in progress)
    assert [message.split(":")[0] for _, _, message in progress[:5]] == STEPS
    assert any(message.startswith("Sandbox Validator: round 1, candidate 1 of 1") for _, _, message in progress)
    inv = seen["investigation"]
    assert (inv["short_id"], inv["verdict"], inv["validated"]) == ("CL-EB20E1", "validated fix", True)
    assert inv["explanation"].startswith(
        "panic: called `Option::unwrap()` on a `None` value, at src/picking.rs:7 in inventory::picking::reserve"
    )
    assert inv["root_cause"] == "`stock.get_mut(sku)` returned None and `unwrap()` turned that into a panic"
    fix = inv["fix"]
    assert fix["summary"] == "Propagate instead of `.unwrap()` in `reserve`"
    assert fix["files"] == ["src/picking.rs"]
    assert "-    let on_hand = stock.get_mut(sku).unwrap();\n" in fix["diff"]
    assert '+    let on_hand = stock.get_mut(sku).ok_or("stock.get_mut(sku) returned None")?;\n' in fix["diff"]
    proof = inv["proof"]
    assert (proof["validated"], proof["outcome"], proof["outcome_words"]) == (True, "fixed", "fixes the crash")
    assert [(r["name"], r["outcome"]) for r in proof["rungs"]] == [
        ("The change applies and the project builds", "passed"),
        ("The crash reproduces before the change, and the reproduction succeeds after it", "passed"),
        ("No test that passed before fails after", "passed"),
    ]
    assert proof["reproduction"]["command"].startswith("env RUST_BACKTRACE=1 cargo run")
    assert Path(inv["report"]) == workspace.resolve() / ".crashloom" / "reports" / "CL-EB20E1.md"
    assert Path(inv["report"]).read_text().startswith("# Crash CL-EB20E1: validated fix")
    # Investigating proves the fix in a copy; the workspace itself is untouched.
    assert seen["file_after_investigating"] == before

    # A new session (another agent, later) finds the fix in the history and applies it.
    async def apply(session):
        got = {"fix": answer(await session.call_tool("get_fix", {"crash": "cl-eb20e1"}))}
        got["applied"] = answer(await session.call_tool("apply_fix", {"crash": "CL-EB20E1"}))
        got["file"] = picking.read_text()
        got["again"] = error_text(await session.call_tool("apply_fix", {"crash": "CL-EB20E1"}))
        return got

    got = session_in(workspace, apply)
    assert got["fix"]["fix"] == fix and got["fix"]["proof"]["outcome"] == "fixed"
    assert got["fix"]["files_changed_since"] is False
    assert got["applied"] == {
        "applied": True, "short_id": "CL-EB20E1", "candidate": 1,
        "summary": "Propagate instead of `.unwrap()` in `reserve`", "files": ["src/picking.rs"], "revalidated": None,
    }
    assert got["file"] == before.replace(
        "stock.get_mut(sku).unwrap();", 'stock.get_mut(sku).ok_or("stock.get_mut(sku) returned None")?;'
    )
    assert got["file"] != before
    # Applied once, the files changed: judged again, the change no longer applies, and it is refused.
    assert got["again"].startswith(
        "the files the fix for CL-EB20E1 touches changed since it was validated, and it does not validate any more"
    )
    assert picking.read_text() == got["file"]


def test_the_shop_fix_that_only_converts_the_crash_is_not_applied(tmp_path):
    workspace = copy_example(tmp_path, "shop-python")
    orders, app = workspace / "shop" / "orders.py", workspace / "shop" / "app.py"
    before = {path: path.read_bytes() for path in (orders, app)}

    async def body(session):
        seen = {"list": answer(await session.call_tool("list_crashes", {"file": "shop/orders.py"}))}
        seen["investigation"] = answer(await session.call_tool("investigate", {"crash": "CL-54E9F7"}))
        seen["refused"] = error_text(await session.call_tool("apply_fix", {"crash": "CL-54E9F7"}))
        seen["files_after_refusal"] = {path: path.read_bytes() for path in (orders, app)}
        seen["no_candidate"] = error_text(await session.call_tool("apply_fix", {"crash": "CL-54E9F7", "candidate": 9}))
        validated = [c for c in seen["investigation"]["candidates"] if c["validated"]]
        assert validated, seen["investigation"]["candidates"]
        seen["alternative"] = validated[0]
        seen["applied"] = answer(
            await session.call_tool("apply_fix", {"crash": "CL-54E9F7", "candidate": validated[0]["candidate"]})
        )
        return seen

    seen = session_in(workspace, body)
    assert [(g["short_id"], g["count"], g["site"]["path"], g["site"]["line"]) for g in seen["list"]["groups"]] == [
        ("CL-E583EB", 2, "shop/orders.py", 21), ("CL-54E9F7", 1, "shop/orders.py", 26),
    ]
    inv = seen["investigation"]
    assert inv["validated"] is False
    assert inv["verdict"] == "fix NOT validated (the change turns the crash into OrderError)"
    assert inv["proof"]["outcome"] == "converted"
    assert inv["proof"]["reproduction"]["converted_into"] == "OrderError"
    assert [r["outcome"] for r in inv["proof"]["rungs"]] == ["passed", "failed", "passed"]
    assert inv["fix"]["files"] == ["shop/orders.py"]

    # The refusal says why, and no file changed.
    assert seen["refused"] == (
        "the fix for CL-54E9F7 is not validated (the change turns the crash into OrderError); it is not "
        "applied. Read it with get_fix, or apply a validated alternative"
    )
    assert seen["files_after_refusal"] == before
    assert seen["no_candidate"].startswith("crash CL-54E9F7 has no candidate 9; its investigation tried ")

    # The validated alternative (it hides the symptom, and says so) is judged again and applied.
    alternative = seen["alternative"]
    assert alternative["hides_symptom"] is True and alternative["candidate"] > 1
    applied = seen["applied"]
    assert applied["applied"] is True and applied["files"] == ["shop/app.py"]
    assert applied["revalidated"]["validated"] is True and applied["revalidated"]["outcome"] == "fixed"
    assert orders.read_bytes() == before[orders]
    assert app.read_bytes() != before[app] and b"except TypeError:" in app.read_bytes()


def test_bad_requests_get_errors_and_the_server_keeps_answering(tmp_path):
    workspace = copy_example(tmp_path, "inventory-rust")

    async def body(session):
        seen = {}
        with pytest.raises(MCPError) as unknown:
            await session.call_tool("drop_tables", {})
        seen["unknown"] = (unknown.value.code, unknown.value.message)
        seen["bad_args"] = error_text(await session.call_tool("get_crash", {"crash": 42}))
        seen["extra_arg"] = error_text(await session.call_tool("investigate", {"crash": "CL-EB20E1", "force": True}))
        seen["after"] = answer(await session.call_tool("list_crashes", {}))
        return seen

    seen = session_in(workspace, body)
    assert seen["unknown"] == (
        -32602, 'there is no tool named "drop_tables"; the tools are list_crashes, get_crash, investigate, get_fix, apply_fix'
    )
    assert seen["bad_args"] == "get_crash: the arguments do not fit: invalid type: integer `42`, expected a string"
    assert seen["extra_arg"].startswith("investigate: the arguments do not fit: unknown field `force`")
    assert [g["short_id"] for g in seen["after"]["groups"]] == ["CL-EB20E1"]


def test_a_line_that_is_not_json_gets_a_parse_error_and_stdout_carries_only_messages(tmp_path):
    workspace = copy_example(tmp_path, "inventory-rust")
    lines = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        '{"jsonrpc": "2.0", "id": 2, "method": "tools/list"',
        "",
        {"jsonrpc": "2.0", "id": 3, "method": "tools/list"},
    ]
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    done = subprocess.run(
        [str(CRASHLOOM), "mcp", "--workspace", str(workspace)], input=text, capture_output=True, text=True, timeout=60,
    )
    # The client closed stdin: the server ends normally.
    assert done.returncode == 0, done.stderr
    # Every line of stdout is one message; the parse error may come before the answer to `initialize`.
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    by_id = {a.get("id"): a for a in answers}
    assert len(answers) == 3 and set(by_id) == {1, None, 3}
    assert by_id[1]["result"]["serverInfo"]["name"] == "crashloom"
    assert by_id[None]["error"]["code"] == -32700
    assert by_id[None]["error"]["message"].startswith("Parse error: the message is not JSON (EOF while parsing")
    assert [t["name"] for t in by_id[3]["result"]["tools"]] == TOOLS


def test_a_client_that_leaves_before_the_handshake_ends_the_server_quietly(tmp_path):
    workspace = copy_example(tmp_path, "inventory-rust")
    done = subprocess.run([str(CRASHLOOM), "mcp"], cwd=workspace, input="", capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, "")
    missing = subprocess.run(
        [str(CRASHLOOM), "mcp", "--workspace", str(tmp_path / "nowhere")], input="", capture_output=True, text=True,
        timeout=60,
    )
    assert (missing.returncode, missing.stdout) == (2, "")
    assert missing.stderr.startswith(f"crashloom: cannot open the workspace {tmp_path / 'nowhere'}: ")


def test_an_investigation_the_agent_abandons_stops_and_the_crash_can_be_investigated_again(tmp_path):
    workspace = copy_example(tmp_path, "shop-python")
    log = tmp_path / "server.log"
    cancelled_line = "crash CL-54E9F7: the investigation was cancelled"

    async def body(session):
        in_sandbox = anyio.Event()

        async def on_progress(value, total, message):
            if message.startswith("Sandbox Validator: preparing the sandbox"):
                in_sandbox.set()

        scope = anyio.CancelScope()

        async def investigate():
            with scope:
                await session.call_tool("investigate", {"crash": "CL-54E9F7"}, progress_callback=on_progress)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(investigate)
            await in_sandbox.wait()
            # The agent gives up: the SDK tells the server with notifications/cancelled.
            scope.cancel()
        with anyio.fail_after(30):
            while cancelled_line not in log.read_text():
                await anyio.sleep(0.05)
        seen = {"fix_after_cancel": error_text(await session.call_tool("get_fix", {"crash": "CL-54E9F7"}))}
        seen["again"] = answer(await session.call_tool("investigate", {"crash": "CL-54E9F7"}))
        return seen

    with log.open("w") as errlog:
        assert CRASHLOOM.exists(), f"build the server first: {CRASHLOOM}"
        server = StdioServerParameters(command=str(CRASHLOOM), args=["mcp"], cwd=str(workspace))

        async def main():
            with anyio.fail_after(TIMEOUT):
                async with stdio_client(server, errlog=errlog) as (read, write):
                    async with ClientSession(read, write) as session:
                        await session.initialize()
                        return await body(session)

        seen = anyio.run(main)
    # Stopped before it ended: nothing was kept, and a new investigation runs to its end.
    assert seen["fix_after_cancel"] == "crash CL-54E9F7 has not been investigated yet; call investigate first"
    assert seen["again"]["verdict"] == "fix NOT validated (the change turns the crash into OrderError)"
