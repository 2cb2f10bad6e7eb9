"""Whole runs of the interactive families through the `turnscope` command: the real embedded
model on generated compute and hidden-rule items, and kill -9 while a tool turn's code runs,
then resume.

The kill test needs code at known turns, which no real small model writes on demand: its
model is the fake OpenAI-compatible server answering from a script (the fault injected is
the kill). Its requests are counted by the server, so a repeated model call would show."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from helpers.sandbox import require_sandbox
from helpers.servers import FakeOpenAIServer
from turnscope.core import content_text
from turnscope.store import RunStore, StoreError
from turnscope.suites.builtin import Knobs, generate_item, write_jsonl

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module", autouse=True)
def _sandbox() -> None:
    require_sandbox()


def turnscope(*args: str, runs: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TURNSCOPE_RUNS_DIR": str(runs)}
    return subprocess.run(
        [sys.executable, "-m", "turnscope.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def only_run_dir(runs: Path) -> Path:
    dirs = [p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(dirs) == 1
    return dirs[0]


def test_embedded_model_plays_compute_and_hidden_rule(tmp_path: Path, gguf_path: Path) -> None:
    items = [
        generate_item("compute", 0, 5, Knobs(budget=2, level=1)),
        generate_item("hidden-rule", 0, 5, Knobs(budget=3, level=1)),
    ]
    suite = tmp_path / "tools.jsonl"
    write_jsonl(items, suite)
    runs = tmp_path / "runs"
    done = turnscope(
        "run", "-s", str(suite), "-v", "tools", "-v", "no-tools", "-v", "env",
        "--max-tokens", "16", "--no-cache", runs=runs,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    store = RunStore.open(only_run_dir(runs))
    records = list(store.records())
    store.close()
    assert all(r.error is None for r in records)
    by_conversation = Counter((r.item_id, r.condition) for r in records)
    assert set(by_conversation) == {
        ("compute-0000", "tools"),
        ("compute-0000", "no-tools"),
        ("hidden-rule-0000", "env"),
    }
    assert by_conversation[("hidden-rule-0000", "env")] <= 3
    # Every turn is scored (a solution checked, or 0.0: not solved at that turn), so the
    # success-at-k curve sees every turn; the turns after the first show what the last did.
    assert all(r.score is not None for r in records)
    later = [r for r in records if r.turn > 1]
    assert later and all("left." in content_text(r.new_messages[-1].content) for r in later)
    assert "success at k (tools)" in done.stdout and "tools − no-tools" in done.stdout
    assert "success at k (env)" in done.stdout


def test_embedded_kill_9_mid_conversation_then_resume(tmp_path: Path, gguf_path: Path) -> None:
    """kill -9 once a tools conversation has committed a turn, then --resume: the committed
    records are kept as they were (not asked again) and the conversation is finished."""
    items = [generate_item("compute", i, 11, Knobs(budget=4, level=2)) for i in range(2)]
    suite = tmp_path / "compute.jsonl"
    write_jsonl(items, suite)
    runs = tmp_path / "runs"
    command = [
        sys.executable, "-m", "turnscope.cli", "run", "-s", str(suite), "-v", "tools",
        "--max-tokens", "16", "--no-cache", "--runs-dir", str(runs),
    ]  # fmt: skip
    with (tmp_path / "first.log").open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    run_dir: Path | None = None
    try:
        deadline = time.monotonic() + 300
        while answered(run_dir) < 2:
            assert process.poll() is None, (tmp_path / "first.log").read_text()
            assert time.monotonic() < deadline, "no turn committed within 300 s"
            time.sleep(0.05)
            dirs = [p for p in runs.iterdir() if p.is_dir()] if runs.is_dir() else []
            run_dir = next((p for p in dirs if not p.name.startswith(".")), None)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    assert run_dir is not None
    store = RunStore.open(run_dir)
    before = {(r.item_id, r.turn): r for r in store.records() if r.response is not None}
    store.close()
    resumed = turnscope("run", "--resume", str(run_dir), runs=runs)
    assert resumed.returncode == 0, resumed.stderr
    store = RunStore.open(run_dir)
    after = list(store.records())
    store.close()
    keys = [(r.item_id, r.turn) for r in after]
    assert len(keys) == len(set(keys)) and all(r.error is None for r in after)
    for key, record in before.items():
        # The same record, committed at the same moment: it was not asked for again.
        assert next(r for r in after if (r.item_id, r.turn) == key) == record
    for item in items:
        turns = sorted(t for i, t in keys if i == item.id)
        assert turns == list(range(1, len(turns) + 1)) and len(turns) <= 4


TASK = "What is 41 times 23? Give the number alone as your solution."
SCRIPT = (
    "<execute>base = 40\nopen('part', 'w').write('3')</execute>",
    "<execute>import time\ntime.sleep(4)\ntotal = base + int(open('part').read())\n"
    "print(total)</execute>",
    "<execute>print(total * 23 - 46)</execute>",
    "<solution>943</solution>",
)


def scripted_turn(messages: list[dict[str, Any]]) -> int:
    return sum(m["role"] == "assistant" for m in messages) + 1


def answered(run_dir: Path | None) -> int:
    if run_dir is None:
        return 0
    try:
        store = RunStore.open(run_dir)
    except StoreError:
        return 0
    try:
        return store.answered_count()
    except Exception:  # the schema is still being written
        return 0
    finally:
        store.close()


def test_kill_9_during_a_tool_turn_then_resume(tmp_path: Path) -> None:
    item = {
        "id": "kill-tools",
        "protocol": "tools",
        "setup": {"budget": 5},
        "turns": [{"user": TASK, "reference": "943", "scorers": [{"type": "numeric"}]}],
    }
    suite = tmp_path / "kill.jsonl"
    suite.write_text(json.dumps(item) + "\n", encoding="utf-8")
    runs = tmp_path / "runs"
    server = FakeOpenAIServer(reply=lambda messages, attempt: SCRIPT[scripted_turn(messages) - 1])
    with server:
        spec = f"openai:fake@{server.base_url}"
        command = [
            sys.executable, "-m", "turnscope.cli", "run", "-m", spec, "-s", str(suite),
            "-v", "tools", "--no-cache", "--runs-dir", str(runs),
        ]  # fmt: skip
        log = (tmp_path / "first.log").open("w")
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            run_dir: Path | None = None
            while answered(run_dir) < 2:
                assert process.poll() is None, (tmp_path / "first.log").read_text()
                assert time.monotonic() < deadline, "turn 2 was not committed within 120 s"
                time.sleep(0.05)
                dirs = [p for p in runs.iterdir() if p.is_dir()] if runs.is_dir() else []
                run_dir = next((p for p in dirs if not p.name.startswith(".")), None)
            # Turn 2 is committed; its code sleeps 4 s before the next request: kill now.
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
            log.close()
        assert run_dir is not None
        asked_before = [scripted_turn(x.messages) for x in server.exchanges]
        assert asked_before == [1, 2]

        resumed = turnscope("run", "--resume", str(run_dir), runs=runs, timeout=240)
        assert resumed.returncode == 0, resumed.stderr
        asked = [scripted_turn(x.messages) for x in server.exchanges]

    assert asked == [1, 2, 3, 4], "a model call was repeated or skipped"
    store = RunStore.open(run_dir)
    records = list(store.records())
    store.close()
    assert [r.turn for r in records] == [1, 2, 3, 4]
    third, fourth = records[2], records[3]
    # The sandbox was rebuilt: turn 1's code replayed, turn 2's run again, so `total` exists.
    assert "sandbox:replayed" in third.flags
    assert "43" in content_text(third.new_messages[-1].content)
    assert "943" in content_text(fourth.new_messages[-1].content)
    assert fourth.score == 1.0
