"""A small run store that holds what every export must carry: key turns, a scorer used twice
in one turn, judgments (one failed), a serving role's record, a failed turn, two samples,
item metadata, replicas that served turns, and hostile text in ids, categories and answers."""

from __future__ import annotations

from pathlib import Path

from helpers.synthetic_runs import NOW, make_item, make_record, write_run
from turnscope.core import (
    Item,
    JudgeAttempt,
    Judgment,
    ModelIdentity,
    Score,
    ToolCall,
    ToolFunctionCall,
    TurnRecord,
    Verdict,
)
from turnscope.store import RunStore

JUDGE_A = "openai:judge-a@http://127.0.0.1:1/v1"
JUDGE_B = "openai:judge-b@http://127.0.0.1:1/v1"
HOSTILE = '=HYPERLINK("http://x")\x00<script>'
SERVER = "http://127.0.0.1:8001/v1"


def judgment(judge: str, value: float | None) -> Judgment:
    """A grade judgment (value None: the judge's text never parsed)."""
    verdict = None if value is None else Verdict(kind="grade", value=value, grade=int(value * 10))
    return Judgment(
        judge=judge,
        identity=ModelIdentity(backend="openai", model=judge.split("@")[0]),
        kind="grade",
        attempts=(JudgeAttempt(request_hash="h", text="grade: 7" if value else "no idea"),),
        verdict=verdict,
        error=None if value is not None else "no grade in the judge's text",
        finished_at=NOW,
    )


def _items() -> list[Item]:
    recall = make_item("recall", "recollection", 3, probe_turns=[3], distance=2)
    plain = make_item("plain", "expansion", 2)
    hostile = Item.model_validate(
        {
            "id": "=evil",
            "category": "-cmd",
            "metadata": {"source": "@x", "tags": ["a", "b"]},
            "turns": [{"user": "hi"}],
        }
    )
    return [recall, plain, hostile]


def _records() -> list[TurnRecord]:
    records = [make_record("recall", t, s) for t, s in ((1, 1.0), (2, 0.0))]
    third = make_record("recall", 3, 1.0)
    records.append(
        third.model_copy(
            update={
                "scores": (
                    *third.scores,
                    Score(scorer="exact", value=0.0),
                    Score(scorer="judge", value=0.7),
                )
            }
        )
    )
    # Sample 0 answered by an embedded worker, sample 1 by a pool's server; the rest by one
    # model in one process (served_by None).
    records = [r.model_copy(update={"served_by": "worker-1"}) for r in records]
    records += [
        make_record("recall", t, 1.0, sample=1).model_copy(update={"served_by": SERVER})
        for t in (1, 2, 3)
    ]
    records.append(make_record("plain", 1, 0.5))
    records.append(make_record("plain", 2, None, error="HTTP 500: upstream"))
    user = make_record("plain", 1, None).model_copy(
        update={"role": "user", "scores": (), "flags": ("sim:drift",), "request_hash": "u1"}
    )
    records.append(user)
    evil = make_record("=evil", 1, 1.0, response=HOSTILE, user="-2+3")
    records.append(evil.model_copy(update={"tool_calls": HOSTILE_CALLS}))
    return records


HOSTILE_CALLS = (
    ToolCall(id="c1", function=ToolFunctionCall(name="python", arguments="[" * 100_000)),
    ToolCall(id="c2", function=ToolFunctionCall(name="=calc", arguments='{"n": [1, 2], "s": "x"}')),
)
"""Tool calls as a model may write them: arguments nested past any parser's depth, and
arguments whose values are not strings."""
RECORDS = _records()
CONVERSATIONS = 4
"""recall (two samples), plain, =evil."""


def write_export_run(path: Path) -> Path:
    """The run directory at `path`, judgments included."""
    write_run(path, _items(), RECORDS)
    store = RunStore.open(path)
    try:
        store.commit_judgment("recall", "own", 0, 3, 2, judgment(JUDGE_A, 0.7))
        store.commit_judgment("recall", "own", 0, 3, 2, judgment(JUDGE_B, None))
        store.commit_judgment("plain", "own", 0, 1, 0, judgment(JUDGE_A, 0.5))
    finally:
        store.close()
    return path
