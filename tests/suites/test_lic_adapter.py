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
from helpers.servers import FakeOpenAIServer
from turnscope.core import GenerationParams, RunConfig, TurnRecord
from turnscope.models.llamacpp import LlamaCppClient
from turnscope.run import client_for, create_run, execute_run
from turnscope.scorers import bleu
from turnscope.store import RunStore
from turnscope.suites import SuiteError, resolve_suite
from turnscope.suites.adapters.lost_in_conversation import (
    DATA2TEXT_SYSTEM,
    MATH_SYSTEM,
    TRANSLATION_SYSTEM,
)
from turnscope.suites.validate import validate_suite

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "lic" / "sharded_instructions_600.json"
TRANSLATION = FIXTURE.parent / "sharded_translation.json"


def test_math_samples_load_with_shards_in_order_and_other_tasks_counted() -> None:
    loaded = resolve_suite(f"lic:{FIXTURE.parent}")
    # A folder: both of the authors' files, in that order.
    assert [i.id for i in loaded.suite.items] == [
        "lic-sharded-gsm8k-demo-1",
        "lic-sharded-gsm8k-demo-2",
        "lic-sharded-totto-demo-1",
        "lic-wmt-news-demo-1-de-en",
        "lic-wmt-news-demo-2-de-en",
    ]
    ferry, savings = loaded.suite.items[:2]
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
    assert loaded.conditions == ("sharded", "full", "concat") and loaded.max_tokens == 1000
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


def test_data2text_samples_become_bleu_items_with_every_reference() -> None:
    loaded = resolve_suite(f"lic:{FIXTURE}")
    (table,) = [i for i in loaded.suite.items if i.category == "lic/data2text"]
    assert table.id == "lic-sharded-totto-demo-1" and table.system == DATA2TEXT_SYSTEM
    task = table.turns[0].user
    assert isinstance(task, str)
    # full: the highlighted table, the metadata as "key: value" lines, the example descriptions.
    assert '<td class="highlighted">2019</td>' in task
    assert "page_title: Ilse Marten\nsection_title: Filmography\n" in task
    assert "- The Lakeside Trio released their second album in 1987." in task
    references = [
        "Ilse Marten starred in Harbour Lights in 2019.",
        "In 2019, Ilse Marten appeared in the film Harbour Lights.",
    ]
    (spec,) = table.turns[0].scorers
    assert spec.type == "bleu" and spec.params == {"references": references}
    assert table.turns[0].reference == references[0]
    shards = [s["text"] for s in table.setup["shards"]]
    assert shards[0] == "Can you write me one sentence that describes a table?"
    assert shards[1].startswith("Here is the table") and shards[2].startswith("It comes from")
    # concat: the hints in shard_id order, numbered, between the task and the answer format.
    concat = table.setup["concat"]
    assert concat.index("Hint 1:\nCan you") < concat.index("Hint 2:\nHere is the table")
    assert concat.index("Hint 3:\nIt comes from") < concat.index("Hint 4:\nDescriptions")
    assert loaded.origins[table.id] == f"{FIXTURE}:24"


def test_translation_samples_load_from_a_json_array_or_a_python_literal_of_shards() -> None:
    loaded = resolve_suite(f"lic:{TRANSLATION}")
    bakery, bridge = loaded.suite.items
    assert bakery.category == "lic/translation" and bakery.system == TRANSLATION_SYSTEM
    english = json.loads(TRANSLATION.read_text(encoding="utf-8"))[0]["document_en"]
    assert bakery.turns[0].reference == english
    assert bakery.turns[0].scorers[0].params == {"references": [english]}
    assert str(bakery.turns[0].user).endswith("Die Kunden stehen oft bis auf die Straße an.")
    said = [s["text"] for s in bakery.setup["shards"]]
    # Chunk 1 says what to do; every chunk asks for the whole document so far; shard_id order.
    assert "translation of the WHOLE document" in said[0]
    assert said[0].endswith(
        "Chunk 1:\n\nDie Bäckerei am Marktplatz öffnet um sechs Uhr.\n"
        "Samstags verkauft sie frische Brezeln."
    )
    assert said[1].endswith("Chunk 2:\n\nIm Winter backt sie auch Lebkuchen.")
    assert said[2].endswith("Chunk 3:\n\nDie Kunden stehen oft bis auf die Straße an.")
    assert all("whole document received so far" in s for s in said[1:])
    # Markers come from the German text, never from the framing the user repeats.
    assert [s["markers"] for s in bakery.setup["shards"]] == [
        ["Marktplatz", "Bäckerei"],
        ["Lebkuchen", "Winter"],
        ["Kunden", "stehen"],
    ]
    # `shards` written as text holding a Python list literal (quotes inside quotes).
    assert [s["text"].rsplit("\n\n", 1)[1] for s in bridge.setup["shards"]] == [
        "Die Brücke über den Fluss wurde 1998 gebaut.",
        "Sie ist 300 Meter lang und heißt 'Neue Brücke'.",
    ]
    assert "Chunk 2:\nSie ist 300 Meter lang" in bridge.setup["concat"]
    assert loaded.left_out == {}
    assert validate_suite(resolve_suite(f"lic:{FIXTURE.parent}")) == []


def _translation(tmp_path: Path, **change: Any) -> Path:
    sample = json.loads(TRANSLATION.read_text(encoding="utf-8"))[1]
    path = tmp_path / "sharded_translation.json"
    path.write_text(json.dumps([sample, {**sample, "task_id": "bad", **change}], indent=4))
    return path


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"shards": "[{'shard_id': 1, 'shard': __import__('os').getcwd()}]"}, "Python list"),
        ({"shards": "[{'shard_id': 1, 'shard': 'x'}"}, "not a Python list literal"),
        ({"shards": "[" * 300 + "]" * 300}, "not a Python list literal"),
        ({"shards": "{'a', 'b'}"}, "not a Python list literal"),
        ({"shards": "[{'shard_id': 1, 'shard': '\\ud800'}]"}, "surrogate"),
        ({"shards": "[" + "'x', " * 50_000 + "]"}, "too long"),
        ({"shards": "[{'shard_id': 1}]"}, "shard 1 has no text"),
        ({"shards": "[]"}, "'shards' is not a non-empty list"),
        ({"document_en": ""}, "'document_en' must be non-empty text"),
        ({"document_de": None}, "'document_de' must be non-empty text"),
    ],
)
def test_a_malformed_translation_sample_is_one_line_naming_file_and_line(
    tmp_path: Path, change: dict[str, Any], fragment: str
) -> None:
    path = _translation(tmp_path, **change)
    with pytest.raises(SuiteError) as raised:
        resolve_suite(f"lic:{path}")
    message = str(raised.value)
    assert message.startswith(f"{path}:9: ") and fragment in message and "\n" not in message
    assert len(resolve_suite(f"lic:{path}", skip_invalid=True).suite.items) == 1
    # `turnscope validate` lists it as one invalid sample and checks the rest.
    code, out, _ = run_cli("validate", f"lic:{path}")
    assert code == 1 and [x for x in out.splitlines() if x.startswith("invalid: ")] == [
        f"invalid: {message}"
    ]


DATA2TEXT = {
    "task_id": "t1",
    "task": "data2text",
    "table_highlighted_html": "<table><tr><td>1</td></tr></table>",
    "fewshot_descriptions": "",
    "metadata": {"page_title": "P"},
    "references": ["One cell holds the number one."],
    "shards": [{"shard_id": 1, "shard": "Describe a table."}],
}


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"references": []}, "'references' must be a list of texts"),
        ({"references": ["", " "]}, "'references' must be a list of texts"),
        ({"references": ["a", 3]}, "'references' must be a list of texts"),
        ({"references": ["a"] * 65}, "65 references (at most 64)"),
        ({"metadata": ["page_title"]}, "'metadata' must be an object"),
        ({"table_highlighted_html": ""}, "'table_highlighted_html' must be non-empty text"),
        ({"fewshot_descriptions": None}, "'fewshot_descriptions' must be text"),
    ],
)
def test_a_malformed_data2text_sample_is_one_line(
    tmp_path: Path, change: dict[str, Any], fragment: str
) -> None:
    path = _write(tmp_path, [DATA2TEXT, {**DATA2TEXT, "task_id": "t2", **change}])
    with pytest.raises(SuiteError) as raised:
        resolve_suite(f"lic:{path}")
    assert str(raised.value).startswith(f"{path}:") and fragment in str(raised.value)
    assert "\n" not in str(raised.value)


def _answer(messages: list[dict[str, Any]], attempt: int) -> str:
    """The fake target: the whole reference once chunk 2 of the bakery text is out, else a
    first line (or a poor description)."""
    last = str(messages[-1]["content"])
    if "Chunk 2:\n\nIm Winter" in last:
        return BAKERY_EN
    if "Lebkuchen" in last or "Bäckerei" in last:
        return "The bakery on the market square opens at six."
    return "A table about a film."


BAKERY_EN = json.loads(TRANSLATION.read_text(encoding="utf-8"))[0]["document_en"]


async def _play(store: RunStore, config: RunConfig) -> None:
    client = client_for(config)
    try:
        await execute_run(store, client)
    finally:
        await client.aclose()


def test_the_exact_messages_of_full_concat_and_sharded(tmp_path: Path) -> None:
    loaded = resolve_suite(f"lic:{FIXTURE.parent}")
    items = {i.id: i for i in loaded.suite.items}
    table, bakery = items["lic-sharded-totto-demo-1"], items["lic-wmt-news-demo-1-de-en"]
    with FakeOpenAIServer(reply=_answer) as server:
        config = RunConfig.model_validate(
            {
                "model": f"openai:fake@{server.base_url}",
                "suite": f"lic:{FIXTURE.parent}",
                "conditions": loaded.conditions,
                "params": GenerationParams(max_tokens=16),
                "use_cache": False,
                "created_at": datetime.now(UTC),
            }
        )
        store = create_run(config, [table, bakery], tmp_path)
        asyncio.run(_play(store, config))
        sent = [e.messages for e in server.exchanges]
    records = list(store.records(role=None))
    store.close()

    def said(item_shards: list[dict[str, Any]], index: int) -> str:
        return str(item_shards[index]["text"])

    def system(text: str) -> dict[str, str]:
        return {"role": "system", "content": text}

    def user(text: str) -> dict[str, str]:
        return {"role": "user", "content": text}

    def assistant(text: str) -> dict[str, str]:
        return {"role": "assistant", "content": text}

    poor = "A table about a film."
    line = "The bakery on the market square opens at six."
    t_system, b_system = system(DATA2TEXT_SYSTEM), system(TRANSLATION_SYSTEM)
    t_shards, b_shards = table.setup["shards"], bakery.setup["shards"]
    expected = [
        [t_system, user(str(table.turns[0].user))],
        [t_system, user(table.setup["concat"])],
        *(
            [
                t_system,
                *(m for k in range(n) for m in (user(said(t_shards, k)), assistant(poor))),
                user(said(t_shards, n)),
            ]
            for n in range(4)
        ),
        [b_system, user(str(bakery.turns[0].user))],
        [b_system, user(bakery.setup["concat"])],
        [b_system, user(said(b_shards, 0))],
        # The perfect translation after chunk 2 ends the conversation: chunk 3 is never sent.
        [b_system, user(said(b_shards, 0)), assistant(line), user(said(b_shards, 1))],
    ]
    assert sorted(json.dumps(m, sort_keys=True) for m in sent) == sorted(
        json.dumps(m, sort_keys=True) for m in expected
    )
    targets = {(r.item_id, r.condition, r.turn): r.score for r in records if r.role == "target"}
    partial = bleu(line, [BAKERY_EN]).score
    assert 0 < partial < 1
    assert targets[(bakery.id, "full", 1)] == pytest.approx(partial)
    assert targets[(bakery.id, "sharded", 1)] == pytest.approx(partial)
    assert targets[(bakery.id, "sharded", 2)] == 1.0
    assert (bakery.id, "sharded", 3) not in targets
    # Every attempt is scored against both references (a continuous score, smoothed BLEU).
    weak = bleu(poor, table.turns[0].scorers[0].params["references"]).score
    assert 0 < weak < 0.1
    assert [targets[(table.id, "sharded", t)] for t in range(1, 5)] == [pytest.approx(weak)] * 4
    # The scripted user's last message of the data2text conversation is the stop token.
    users = [r for r in records if r.role == "user" and r.item_id == table.id]
    assert [u.response for u in users][-1] == "<<END>>" and len(users) == 5
    assert all("spoilt" not in r.flags for r in records)


def test_an_empty_translation_chunk_is_still_sent_with_its_frame(tmp_path: Path) -> None:
    # Two published translation samples end with an empty chunk; the authors send its frame.
    shards = [
        {"shard_id": 1, "shard": "Die Brücke wurde 1998 gebaut."},
        {"shard_id": 2, "shard": ""},
    ]
    path = _translation(tmp_path, shards=shards)
    bad = resolve_suite(f"lic:{path}").suite.items[1]
    last = bad.setup["shards"][1]
    assert last["text"].endswith("Chunk 2:\n\n") and last["markers"] == []
    # Elsewhere an empty shard is an error.
    math = _write(tmp_path, [MATH, {**MATH, "task_id": "m2", "shards": shards}])
    with pytest.raises(SuiteError, match="shard 2 has no text"):
        resolve_suite(f"lic:{math}")


def test_a_translation_played_by_the_embedded_target_gets_bleu_scores(
    embedded: LlamaCppClient, tmp_path: Path
) -> None:
    loaded = resolve_suite(f"lic:{TRANSLATION}")
    bridge = loaded.suite.items[1]
    config = RunConfig.model_validate(
        {
            "model": "llamacpp",
            "suite": f"lic:{TRANSLATION}",
            # sharded only: full and concat add nothing here that the fake-server test lacks.
            "conditions": ("sharded",),
            "params": GenerationParams(max_tokens=8),
            "use_cache": False,
            "created_at": datetime.now(UTC),
        }
    )
    store = create_run(config, [bridge], tmp_path)
    asyncio.run(execute_run(store, embedded))
    records = list(store.records(role=None))
    store.close()
    targets = [r for r in records if r.role == "target"]
    assert [r.turn for r in targets] == [1, 2]
    for record in targets:
        (score,) = record.scores
        assert score.scorer == "bleu" and score.error is None
        assert score.value is not None and 0.0 <= score.value <= 1.0
        assert score.detail is not None and score.detail.startswith("BLEU ")
    users = [r.response or "" for r in records if r.role == "user"]
    # Each chunk once, in order (after the clarification line if the target asked something).
    for said, shard in zip(users, bridge.setup["shards"], strict=False):
        assert said.endswith(shard["text"])
