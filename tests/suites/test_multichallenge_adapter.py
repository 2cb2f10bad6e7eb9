"""The MultiChallenge adapter and the replay protocol: the authors' transcript reaches the model
word for word, the model is asked once per conversation, the final turn carries its rubric."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from turnscope.core import GenerationParams, Item, Message, RunConfig
from turnscope.engine.judging import request_history
from turnscope.models.llamacpp import LlamaCppClient
from turnscope.run import create_run, execute_run
from turnscope.suites import SuiteError, resolve_suite
from turnscope.suites.validate import validate_suite

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "multichallenge"
ROWS = [
    json.loads(line)
    for line in (FIXTURE / "benchmark_questions.jsonl").read_text(encoding="utf-8").splitlines()
]


def test_rows_load_as_replay_items_with_their_rubric() -> None:
    loaded = resolve_suite(f"multichallenge:{FIXTURE}")
    items = loaded.suite.items
    assert [i.id for i in items] == [f"multichallenge-{r['QUESTION_ID']}" for r in ROWS]
    assert [i.category for i in items] == [
        "inference-memory",
        "instruction-retention",
        "reliable-version-editing",
    ]
    memory, _, editing = items
    assert memory.protocol == "replay" and memory.system is None
    assert memory.setup["messages"] == ROWS[0]["CONVERSATION"][:-1]
    assert memory.turns[0].user == ROWS[0]["CONVERSATION"][-1]["content"]
    (spec,) = memory.turns[0].scorers
    assert spec.type == "judge"
    assert spec.params == {
        "kind": "rubric",
        "use_reference": False,
        "rubric": ROWS[0]["TARGET_QUESTION"],
    }
    # A leading system message becomes the item's system prompt.
    assert editing.system == "You help people edit short texts."
    assert editing.setup["messages"] == ROWS[2]["CONVERSATION"][1:-1]
    assert loaded.conditions == ("replay",)
    assert loaded.origins[editing.id].endswith("benchmark_questions.jsonl:3")
    assert validate_suite(loaded) == []


def _file(tmp_path: Path, rows: list[dict[str, Any]]) -> Path:
    path = tmp_path / "benchmark_questions.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


TWO_TURNS = ROWS[1]["CONVERSATION"]


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"PASS_CRITERIA": "NO"}, "only YES is supported"),
        ({"TARGET_QUESTION": " "}, "field 'TARGET_QUESTION' must be non-empty text"),
        ({"CONVERSATION": TWO_TURNS[:2]}, "must end with the user turn to answer"),
        ({"CONVERSATION": [TWO_TURNS[0], TWO_TURNS[0]]}, "is from 'user', expected 'assistant'"),
        ({"CONVERSATION": [{"role": "user", "content": ""}]}, "message 1 has no text"),
        ({"CONVERSATION": "hello"}, "'CONVERSATION' is not a non-empty list"),
        ({"QUESTION_ID": None}, "field 'QUESTION_ID'"),
    ],
)
def test_a_bad_row_is_one_line_naming_file_and_line(
    tmp_path: Path, change: dict[str, Any], fragment: str
) -> None:
    path = _file(tmp_path, [ROWS[1], {**ROWS[1], "QUESTION_ID": "other", **change}])
    with pytest.raises(SuiteError) as raised:
        resolve_suite(f"multichallenge:{path}")
    assert str(raised.value).startswith(f"{path}:2: ") and fragment in str(raised.value)
    assert len(resolve_suite(f"multichallenge:{path}", skip_invalid=True).suite.items) == 1


@pytest.mark.parametrize(
    ("messages", "fragment"),
    [
        ([{"role": "assistant", "content": "Hi."}, {"role": "user", "content": "Hi."}], "from"),
        ([{"role": "user", "content": "Hi."}], "must end with an assistant message"),
        ([{"role": "user", "content": "Hi."}, {"role": "assistant", "content": " "}], "no text"),
    ],
)
def test_a_replay_setup_that_is_not_a_transcript_is_refused(
    tmp_path: Path, messages: list[dict[str, str]], fragment: str
) -> None:
    path = tmp_path / "suite.jsonl"
    item = {
        "id": "x",
        "protocol": "replay",
        "setup": {"messages": messages},
        "turns": [{"user": "Go."}],
    }
    path.write_text(json.dumps(item) + "\n", encoding="utf-8")
    with pytest.raises(SuiteError) as raised:
        resolve_suite(str(path))
    assert "setup.messages" in str(raised.value) and fragment in str(raised.value)


def test_the_published_transcript_is_sent_once_word_for_word(
    embedded: LlamaCppClient, tmp_path: Path
) -> None:
    loaded = resolve_suite(f"multichallenge:{FIXTURE}")
    config = RunConfig.model_validate(
        {
            "model": "llamacpp",
            "suite": "multichallenge-test",
            "conditions": loaded.conditions,
            "params": GenerationParams(max_tokens=8),
            "use_cache": False,
            "created_at": datetime.now(UTC),
        }
    )
    store = create_run(config, list(loaded.suite.items), tmp_path)
    outcome = asyncio.run(execute_run(store, embedded))
    assert outcome.requests_sent == len(ROWS)
    records = {r.item_id: r for r in store.records(role=None)}
    assert len(records) == len(ROWS)
    items: dict[str, Item] = {i.id: i for i in loaded.suite.items}
    for row in ROWS:
        item_id = f"multichallenge-{row['QUESTION_ID']}"
        record = records[item_id]
        sent = [{"role": m.role, "content": m.content} for m in record.new_messages]
        assert sent == row["CONVERSATION"]
        assert record.turn == 1 and record.condition == "replay" and record.response is not None
        # What the judge is shown as the conversation is what the model was sent.
        history = request_history(items[item_id], "replay", {1: record}, 1)
        assert history == record.new_messages
        assert history[-1] == Message(role="user", content=row["CONVERSATION"][-1]["content"])
    again = asyncio.run(execute_run(store, embedded))
    assert again.requests_sent == 0
    store.close()
