"""The Lost-in-Conversation adapter: the authors' sharded-instructions layout, played by the
simulated-user protocol under sharded, full and concat."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from helpers.cli import assert_clean_failure, run_cli
from turnscope.core import GenerationParams, RunConfig, TurnRecord
from turnscope.models.llamacpp import LlamaCppClient
from turnscope.run import create_run, execute_run
from turnscope.suites import SuiteError, resolve_suite
from turnscope.suites.adapters.lost_in_conversation import MATH_SYSTEM
from turnscope.suites.validate import validate_suite

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "lic" / "sharded_instructions_600.json"


def test_math_samples_load_with_shards_in_order_and_other_tasks_counted() -> None:
    loaded = resolve_suite(f"lic:{FIXTURE.parent}")
    assert [i.id for i in loaded.suite.items] == [
        "lic-sharded-gsm8k-demo-1",
        "lic-sharded-gsm8k-demo-2",
    ]
    ferry, savings = loaded.suite.items
    assert ferry.protocol == "simulated" and ferry.system == MATH_SYSTEM
    # Shards are released in shard_id order, whatever their order in the file.
    assert [s["text"] for s in ferry.setup["shards"]] == [
        "How many cars can the ferry carry on Sunday?",
        "Normally it crosses 6 times a day with 38 cars each time.",
        "On Sunday it makes 2 crossings fewer than usual.",
    ]
    # Markers (what shows a message revealed a shard) are words or numbers no other shard says.
    assert [s["markers"] for s in ferry.setup["shards"]] == [
        ["ferry", "carry"],
        ["38", "6"],
        ["2", "crossings"],
    ]
    assert ferry.turns[0].user.startswith("A ferry carries 38 cars")
    assert ferry.turns[0].reference == "152"
    assert [s.params for s in ferry.turns[0].scorers] == [{"expected": 152.0}]
    # `shard_text` (the README's name) is read too; the gold loses its thousands separator.
    assert savings.setup["shards"][1]["text"] == "She saves $1,250 every month for 3 months."
    assert savings.turns[0].reference == "2775"
    assert loaded.conditions == ("sharded", "full", "concat")
    assert sorted(loaded.left_out.values()) == [1, 1]
    assert any("task code" in reason for reason in loaded.left_out)
    assert loaded.origins["lic-sharded-gsm8k-demo-2"] == f"{FIXTURE}:13"
    assert validate_suite(loaded) == []


def _write(tmp_path: Path, samples: Any) -> Path:
    path = tmp_path / "sharded_instructions_600.json"
    path.write_text(json.dumps(samples, indent=4), encoding="utf-8")
    return path


MATH = {
    "task_id": "m1",
    "task": "math",
    "question": "What is 2 + 3?",
    "answer": "2 + 3 = 5\n#### 5",
    "shards": [{"shard_id": 1, "shard": "What is the sum?"}, {"shard_id": 2, "shard": "2 and 3."}],
}


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"answer": "five"}, "'answer' must hold the final answer after '####'"),
        ({"answer": "#### five"}, "the final answer 'five' is not a number"),
        ({"shards": []}, "'shards' is not a non-empty list"),
        ({"shards": [{"shard_id": 1}]}, "shard 1 has no text"),
        ({"question": ""}, "'question' must be non-empty text"),
        ({"task_id": None}, "no 'task_id' field"),
    ],
)
def test_a_bad_sample_is_one_line_naming_file_and_line(
    tmp_path: Path, change: dict[str, Any], fragment: str
) -> None:
    path = _write(tmp_path, [MATH, {**MATH, **change}])
    with pytest.raises(SuiteError) as raised:
        resolve_suite(f"lic:{path}")
    assert str(raised.value).startswith(f"{path}:") and fragment in str(raised.value)
    assert len(resolve_suite(f"lic:{path}", skip_invalid=True).suite.items) == 1


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ('{"task_id": "x"}', "expected a JSON array of samples"),
        ("[\n" + json.dumps(MATH) + "\n{", "expected ',' or ']'"),
        ('[{"task": "code", "shards": []}]', "no sample here can be played"),
    ],
)
def test_a_file_not_in_the_layout_is_one_error_line(
    tmp_path: Path, content: str, fragment: str
) -> None:
    path = tmp_path / "data.json"
    path.write_text(content, encoding="utf-8")
    code, _, err = run_cli("validate", f"lic:{path}")
    assert_clean_failure(code, err, fragment, single_line=True)


def test_missing_path_is_one_error_line(tmp_path: Path) -> None:
    for ref in ("lic", f"lic:{tmp_path / 'nowhere'}", f"lic:{tmp_path}"):
        code, _, err = run_cli("validate", ref)
        assert_clean_failure(code, err, "lic", single_line=True)


def test_played_sharded_full_and_concat_with_the_embedded_target(
    embedded: LlamaCppClient, tmp_path: Path
) -> None:
    loaded = resolve_suite(f"lic:{FIXTURE}")
    ferry = loaded.suite.items[0]
    config = RunConfig.model_validate(
        {
            "model": "llamacpp",
            "suite": f"lic:{FIXTURE}",
            "conditions": loaded.conditions,
            "params": GenerationParams(max_tokens=12),
            "use_cache": False,
            "created_at": datetime.now(UTC),
        }
    )
    store = create_run(config, [ferry], tmp_path)
    asyncio.run(execute_run(store, embedded))
    played: dict[str, list[TurnRecord]] = {}
    for record in store.records(role=None):
        played.setdefault(record.condition, []).append(record)
    store.close()
    shards = [s["text"] for s in ferry.setup["shards"]]
    (full,) = played["full"]
    assert [m.content for m in full.new_messages] == [MATH_SYSTEM, ferry.turns[0].user]
    (concat,) = played["concat"]
    assert all(f"- {shard}" in str(concat.new_messages[-1].content) for shard in shards)
    users = [r.response for r in played["sharded"] if r.role == "user"]
    targets = [r for r in played["sharded"] if r.role == "target"]
    # The scripted user releases the shards in order, one per turn; every attempt is scored.
    for said, shard in zip(users, shards, strict=False):
        assert said is not None and said.endswith(shard)
    assert targets and all([s.scorer for s in t.scores] == ["numeric"] for t in targets)
    assert all(r.scores and r.scores[0].error is None for r in (full, concat, *targets))
