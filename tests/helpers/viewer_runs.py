"""Small run stores for the viewer's tests: every kind of record a transcript shows.

`rich_run` writes two scripted items played under own and gold, a tool-using conversation
(a call, its observation, the final answer), a simulated user's record with a flag, failed
turns, instruction checks (strict and loose) and two judges that disagree, each with its raw
text. `hostile_run` fills every text a page shows with markup, control characters and a 1 MB
answer. `start_viewer` runs the real `turnscope view` command on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from helpers.servers import free_port
from helpers.synthetic_runs import MODEL, make_item, make_record
from turnscope.core import (
    Check,
    GenerationParams,
    JudgeAttempt,
    Judgment,
    Message,
    RunConfig,
    Score,
    ToolCall,
    ToolFunctionCall,
    TurnRecord,
    Verdict,
)
from turnscope.store import RunStore

NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
VIEWER_START_TIMEOUT_S = 60.0

HOSTILE_TEXTS = (
    "<script>window.pwned = 1; document.title = 'pwned'</script>",
    '<img src="x" onerror="window.pwned = 1">',
    "</textarea></pre></table><b>loud</b>",
    "\x1b[31mred\x1b[0m \x1b]0;title\x07 \u202eevil",
    "nul\x00byte",
)
"""What a hostile model says; the 1 MB answer comes on top."""
BIG_ANSWER_CHARS = 1_000_000


def _judgment(judge: str, value: float, text: str) -> Judgment:
    return Judgment(
        judge=judge,
        identity=MODEL,
        kind="rubric",
        attempts=(JudgeAttempt(request_hash=f"{judge}-h", text=text),),
        verdict=Verdict(kind="rubric", value=value),
        finished_at=NOW,
    )


def _tool_records(item_id: str, condition: str, answer: str) -> list[TurnRecord]:
    """A conversation where the model calls a tool at turn 1 and answers from its result."""
    call = ToolCall(
        id="call-1", function=ToolFunctionCall(name="python", arguments='{"code": "6 * 7"}')
    )
    first = TurnRecord(
        item_id=item_id,
        turn=1,
        condition=condition,
        request_hash=f"{item_id}-{condition}-1",
        new_messages=(Message(role="user", content="What is six times seven? Use the tool."),),
        response="",
        tool_calls=(call,),
        prompt_tokens=31,
        completion_tokens=9,
        latency_s=0.25,
        ttft_s=0.05,
        model=MODEL,
        params=GenerationParams(),
        seed=0,
        scores=(Score(scorer="exact", value=0.0, detail="no answer yet"),),
        finished_at=NOW,
    )
    second = first.model_copy(
        update={
            "turn": 2,
            "request_hash": f"{item_id}-{condition}-2",
            "new_messages": (
                Message(
                    role="tool", content="observation: 42", tool_call_id="call-1", name="python"
                ),
            ),
            "response": answer,
            "tool_calls": None,
            "cached": True,
            "retries": 1,
            "scores": (Score(scorer="exact", value=1.0, detail="matched"),),
        }
    )
    return [first, second]


def rich_run(run_dir: Path, *, model: str = "model-a", shift: float = 0.0) -> Path:
    """A finished run with every kind of record; `shift` lowers the scripted items' scores
    (so that two runs differ turn by turn)."""
    items = [
        make_item("recall-1", "recollection", 3, probe_turns=[3]),
        make_item("recall-2", "recollection", 2, probe_turns=[2]),
        make_item("rules-1", "refinement", 2),
        make_item("calc-1", "tools", 2),
    ]
    records: list[TurnRecord] = []
    for condition in ("own", "gold"):
        for turn, score in ((1, 1.0), (2, 0.5), (3, 1.0 - shift)):
            records.append(make_record("recall-1", turn, score, condition=condition))
        records.append(make_record("recall-2", 1, 1.0, condition=condition))
        records.append(
            make_record("recall-2", 2, None, condition=condition, error="HTTP 500 from the server")
        )
    checks = (
        Check(name="punctuation:no_comma", passed=False, passed_loose=True),
        Check(name="change_case:english_lowercase", passed=True, passed_loose=True, since_turn=1),
    )
    records.append(make_record("rules-1", 1, 0.5 - shift / 2, checks=checks))
    records.append(make_record("rules-1", 2, 0.25, response="a, b and c", checks=checks))
    simulated = make_record("rules-1", 2, None, user="Please go on, and list them.")
    records.append(
        simulated.model_copy(
            update={"role": "user", "response": "Please go on.", "scores": (), "flags": ("leak",)}
        )
    )
    records.extend(_tool_records("calc-1", "tools", "It is 42."))
    config = RunConfig(
        model=model, suite="viewer-fixture", conditions=("own", "gold", "tools"), created_at=NOW
    )
    store = RunStore.create(run_dir, config, items)
    try:
        for record in records:
            store.commit(record)
        store.commit_judgment(
            "recall-1", "own", 0, 3, 0, _judgment("judge-a", 1.0, "VERDICT: yes, it recalls it")
        )
        store.commit_judgment(
            "recall-1", "own", 0, 3, 0, _judgment("judge-b", 0.0, "VERDICT: no, it forgot")
        )
        store.set_meta("status", "finished")
    finally:
        store.close()
    return run_dir


def hostile_run(run_dir: Path) -> Path:
    """A finished run whose item ids, prompts, answers, errors, judge texts, tool calls and
    flags are hostile text, one answer of 1 MB."""
    evil = " ".join(HOSTILE_TEXTS)
    item_id = "<script>alert(1)</script>\x00item"
    items = [make_item(item_id, "<b>family</b>", 2), make_item("big", "plain", 1)]
    first = make_record(item_id, 1, 1.0, user=evil, response=evil)
    call = ToolCall(id="</pre>", function=ToolFunctionCall(name="<script>", arguments=evil))
    records = [
        first.model_copy(update={"tool_calls": (call,), "flags": ("<i>flag</i>",)}),
        make_record(item_id, 2, None, error=evil),
        make_record("big", 1, 0.0, response="<script>" + "A" * BIG_ANSWER_CHARS),
    ]
    config = RunConfig(
        model="<script>alert('model')</script>", suite=evil, conditions=("own",), created_at=NOW
    )
    store = RunStore.create(run_dir, config, items)
    try:
        for record in records:
            store.commit(record)
        store.commit_judgment(item_id, "own", 0, 1, 0, _judgment("<b>judge</b>", 0.5, evil))
        store.set_meta("status", "finished")
    finally:
        store.close()
    return run_dir


@dataclass(frozen=True)
class RunningViewer:
    """A `turnscope view` process and where it answers."""

    process: subprocess.Popen[str]
    base_url: str


@contextmanager
def start_viewer(*paths: Path, cwd: Path | None = None) -> Iterator[RunningViewer]:
    """`turnscope view PATHS` on a free port of 127.0.0.1, once it answers; stopped after."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "turnscope.cli", "view", *map(str, paths), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1"},
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + VIEWER_START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise AssertionError(f"turnscope view exited: {process.stderr.read()}")  # type: ignore[union-attr]
            try:
                if httpx.get(base_url + "/", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("turnscope view did not answer in time")
            time.sleep(0.1)
        yield RunningViewer(process, base_url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
