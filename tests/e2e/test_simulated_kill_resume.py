"""kill -9 in the middle of simulated conversations (a model plays the user too), then
`turnscope run --resume`: every record of either role exists exactly once, and no request of
either role that was answered before the kill is sent again.

Target and user are both served by the real llama_cpp.server through a recording proxy, so
every request either role made, before and after the kill, is known; --no-cache makes sure no
cache hit hides a repeated request. Each request carries its own seed (derived from item, turn
and role), so two requests with the same body are the same request asked twice."""

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

from helpers.servers import LlamaServer, RecordingProxy
from helpers.store import committed
from helpers.suites import write_suite
from turnscope.protocols.simulators import LLM_USER_SYSTEM
from turnscope.store import RunStore

pytestmark = pytest.mark.timeout(400)

TRIPS = ("alps", "coast")
KILL_AFTER_TURNS = 1
MAX_TURNS = 3
USER_PROMPT_START = LLM_USER_SYSTEM[:30]


def suite_items() -> list[dict[str, Any]]:
    return [
        {
            "id": f"trip-{trip}",
            "protocol": "simulated",
            "turns": [
                {
                    "user": f"Total luggage for the {trip} trip: 17 kg and 6 kg?",
                    "reference": "23",
                    "scorers": [{"type": "numeric", "expected": 23}],
                }
            ],
            "setup": {
                "persona": f"A traveller going to the {trip}.",
                "goal": "Know the total luggage weight.",
                "simulator": "llm-user",
                "max_turns": MAX_TURNS,
                "shards": [
                    {"text": f"I'm packing for the {trip} and need my luggage's total weight."},
                    {"text": "The suitcase weighs 17 kilograms.", "markers": ["17"]},
                    {"text": "The backpack weighs 6 kilograms.", "markers": ["6"]},
                ],
            },
        }
        for trip in TRIPS
    ]


def body(request: dict[str, Any]) -> str:
    """A logged request's body, canonically: the identity of one request."""
    return json.dumps(request["body"], sort_keys=True)


def role_of(request: dict[str, Any]) -> str:
    first = str(request["body"]["messages"][0]["content"])
    return "user" if first.startswith(USER_PROMPT_START) else "target"


def test_kill_9_mid_simulation_then_resume_asks_neither_role_again(
    llama_server: LlamaServer, tmp_path: Path
) -> None:
    suite = write_suite(tmp_path / "trips.yaml", suite_items())
    runs = tmp_path / "runs"
    with RecordingProxy(llama_server.port, tmp_path / "requests.jsonl") as proxy:
        spec = llama_server.spec(proxy.base_url)
        command = [
            sys.executable, "-m", "turnscope.cli", "run", "-m", spec, "-s", str(suite),
            "-v", "sharded", "--role", f"user={spec}", "--role-param", "user.max_tokens=12",
            "--max-tokens", "8", "-c", "1", "--no-cache", "--runs-dir", str(runs),
            "--timeout", "120",
        ]  # fmt: skip
        log_path = tmp_path / "first-run.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 180
            run_dir, done = committed(runs)
            while done < KILL_AFTER_TURNS:
                assert process.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "no turn committed within 180 s"
                time.sleep(0.02)
                run_dir, done = committed(runs)
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
        assert run_dir is not None
        proxy.wait_idle()
        before = proxy.requests()
        store = RunStore.open(run_dir)
        done_before = {
            (r.item_id, r.role, r.turn) for r in store.records(role=None) if r.response is not None
        }
        store.close()
        assert {role for _, role, _ in done_before} == {"user", "target"}

        resumed = subprocess.run(
            [sys.executable, "-m", "turnscope.cli", "run", "--resume", str(run_dir)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert resumed.returncode == 0, resumed.stderr
        after = proxy.requests()[len(before) :]

    store = RunStore.open(run_dir)
    records = list(store.records(role=None))
    store.close()
    every = Counter((r.item_id, r.role, r.turn) for r in records)
    assert set(every.values()) == {1}
    assert all(r.response is not None for r in records)
    assert len(done_before) < len(records)  # killed mid-run: a conversation was unfinished
    assert {role for _, role, _ in every} == {"user", "target"}

    asked_before = Counter(body(r) for r in before)
    asked_after = Counter(body(r) for r in after)
    assert {role_of(r) for r in before} == {role_of(r) for r in after} == {"user", "target"}
    # No request was sent twice in either process ...
    assert set(asked_before.values()) == set(asked_after.values()) == {1}
    # ... and the resumed run sent again only what was in flight when the process died (one
    # conversation at a time: at most one request), nothing that had been answered.
    again = set(asked_after) & set(asked_before)
    assert len(again) <= 1
    assert len(before) - len(again) >= len(done_before)
    # Every record was asked for exactly once overall.
    assert len(set(asked_before) | set(asked_after)) == len(records)
