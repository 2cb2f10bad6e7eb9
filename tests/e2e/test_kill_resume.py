"""kill -9 in the middle of a run, then `turnscope run --resume`: nothing finished is asked
again, nothing is lost, every turn ends up answered exactly once.

The run talks to the real llama_cpp.server through a recording proxy, so the requests the
server received (before and after the kill) are known exactly; --no-cache makes sure no
cache hit can hide a repeated request."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from helpers.servers import LlamaServer, RecordingProxy
from helpers.store import committed
from helpers.suites import request_turn, write_suite
from turnscope.store import RunStore

pytestmark = pytest.mark.timeout(300)

CONCURRENCY = 2
TURNS = 4
TOPICS = ("cats", "rivers", "bread", "trains")
KILL_AFTER_TURNS = 3


def suite_items() -> list[dict[str, Any]]:
    """Four items of four turns; every item opens with a user message of its own."""
    return [
        {
            "id": f"kill-{topic}",
            "turns": [
                {"user": f"Tell me one short fact about {topic}."},
                {"user": f"Give one more fact about {topic}."},
                {"user": "Say it again in fewer words."},
                {"user": f"Name one word that rhymes with {topic}."},
            ],
        }
        for topic in TOPICS
    ]


def test_kill_9_then_resume_repeats_no_finished_turn(
    llama_server: LlamaServer, tmp_path: Path
) -> None:
    items = suite_items()
    suite = write_suite(tmp_path / "kill.yaml", items)
    runs = tmp_path / "runs"
    item_of = {item["turns"][0]["user"]: item["id"] for item in items}
    every_turn = {(item["id"], turn) for item in items for turn in range(1, TURNS + 1)}

    def turn_of(request: dict[str, Any]) -> tuple[str, int]:
        first_user, turn = request_turn(request["body"]["messages"])
        return item_of[first_user], turn

    with RecordingProxy(llama_server.port, tmp_path / "requests.jsonl") as proxy:
        command = [
            sys.executable, "-m", "turnscope.cli", "run",
            "-m", llama_server.spec(proxy.base_url), "-s", str(suite),
            "--max-tokens", "8", "-c", str(CONCURRENCY), "--no-cache",
            "--runs-dir", str(runs), "--timeout", "120",
        ]  # fmt: skip
        log_path = tmp_path / "first-run.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            run_dir, done = committed(runs)
            while done < KILL_AFTER_TURNS:
                assert process.poll() is None, (
                    f"the run ended before it could be killed:\n{log_path.read_text()}"
                )
                assert time.monotonic() < deadline, "no turn committed within 120 s"
                time.sleep(0.02)
                run_dir, done = committed(runs)
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL
        assert run_dir is not None

        # Everything the killed process sent has reached the log once its connections closed.
        proxy.wait_idle()
        before = proxy.requests()
        store = RunStore.open(run_dir)
        done_before = {(r.item_id, r.turn) for r in store.records() if r.response is not None}
        assert store.meta("status") == "running"
        assert store.status() == "stopped"  # the process that marked it running is gone
        store.close()
        assert KILL_AFTER_TURNS <= len(done_before) < len(every_turn)

        resumed = subprocess.run(
            [sys.executable, "-m", "turnscope.cli", "run", "--resume", str(run_dir)],
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert resumed.returncode == 0, resumed.stderr
        assert f"{len(done_before)} turns done" in resumed.stderr
        after = proxy.requests()[len(before) :]

    store = RunStore.open(run_dir)
    records = list(store.records())
    status = store.meta("status")
    store.close()
    assert status == "finished"
    assert Counter((r.item_id, r.condition, r.sample, r.turn) for r in records) == Counter(
        {(item_id, "own", 0, turn): 1 for item_id, turn in every_turn}
    )
    assert all(r.response is not None and r.error is None for r in records)
    answers = {(r.item_id, r.turn): r.response for r in records}

    # Before the kill: each turn asked once; those asked but not committed were in flight.
    asked_before = Counter(turn_of(r) for r in before)
    assert set(asked_before.values()) == {1}
    assert done_before <= set(asked_before)
    in_flight = set(asked_before) - done_before
    assert len(in_flight) <= CONCURRENCY

    # After the kill: exactly the unfinished turns, each once, none finished before the kill.
    asked_after = Counter(turn_of(r) for r in after)
    assert not set(asked_after) & done_before
    assert asked_after == Counter({turn: 1 for turn in every_turn - done_before})
    assert len(before) + len(after) == len(every_turn) + len(in_flight)

    # A resumed conversation continues from the answers stored before the kill.
    for request in after:
        item_id, turn = turn_of(request)
        history = [m["content"] for m in request["body"]["messages"] if m["role"] == "assistant"]
        assert history == [answers[(item_id, n)] for n in range(1, turn)]
