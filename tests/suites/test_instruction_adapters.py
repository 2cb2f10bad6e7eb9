"""IFEval and Multi-IF adapters, on small files written here in the publishers' layouts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from turnscope.core import Item
from turnscope.scorers import TurnView, score_turn
from turnscope.scorers.instructions import instructions_in_force
from turnscope.suites import SuiteError, resolve_suite

DATA = Path(__file__).parent.parent / "data"


def test_ifeval_rows_load_unchanged() -> None:
    loaded = resolve_suite(f"ifeval:{DATA / 'ifeval_sample.jsonl'}")
    items = loaded.suite.items
    assert [i.id for i in items] == ["ifeval-9001", "ifeval-9002", "ifeval-9003"]
    assert all(len(i.turns) == 1 and i.category == "ifeval" for i in items)
    second = [(e.spec.id, e.spec.kwargs) for e in instructions_in_force(items[1], 1)]
    assert second == [
        ("length_constraints:number_words", {"relation": "at least", "num_words": 40}),
        ("keywords:existence", {"keywords": ["anemone"]}),
    ]
    # The None placeholders of public rows are dropped, not passed as arguments.
    assert instructions_in_force(items[0], 1)[0].spec.kwargs == {}


def test_multi_if_turns_accumulate_and_languages_are_kept() -> None:
    items = {i.id: i for i in resolve_suite(f"multi-if:{DATA / 'multi_if_sample.csv'}").suite.items}
    english = items["multi-if-7001:1:en"]
    assert len(english.turns) == 3 and english.category == "multi-if/English"
    in_force = [[e.spec.id for e in instructions_in_force(english, t)] for t in (1, 2, 3)]
    assert in_force == [
        ["punctuation:no_comma"],
        ["punctuation:no_comma", "change_case:english_capital"],
        ["punctuation:no_comma", "keywords:existence"],
    ]
    rivers = items["multi-if-7003:1:en"]
    assert len(rivers.turns) == 2
    assert instructions_in_force(rivers, 2)[0].spec.kwargs == {"num_bullets": 4}

    chinese = items["multi-if-7002:1:zh"]
    assert chinese.metadata["language"] == "Chinese" and len(chinese.turns) == 2
    # 60 Chinese characters count as 60 words, so "less than 50 words" fails; 20 passes.
    for text, expected in (("<<茶馆>>\n" + "茶" * 60, 0.5), ("<<茶馆>>\n" + "茶" * 20, 1.0)):
        view = TurnView(item=chinese, turn=2, response=text, history=(), condition="own")
        (result,) = score_turn(view, chinese.turns[1].scorers)
        assert result.value == expected, result.detail


def test_multi_if_language_filter_and_jsonl_layout(tmp_path: Path) -> None:
    only = resolve_suite(f"multi-if:{DATA / 'multi_if_sample.csv'}@Chinese").suite.items
    assert [i.id for i in only] == ["multi-if-7002:1:zh"]
    row = {
        "key": "k1",
        "language": "English",
        "turn_1_prompt": {"role": "user", "content": "Say hi without commas."},
        "turn_1_instruction_id_list": ["punctuation:no_comma"],
        "turn_1_kwargs": ["{}"],
        "turn_2_prompt": "",
        "turn_3_prompt": None,
    }
    path = tmp_path / "multi.jsonl"
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    (item,) = resolve_suite(f"multi-if:{path}").suite.items
    assert isinstance(item, Item) and len(item.turns) == 1


def test_invalid_rows_fail_clearly_or_are_skipped_and_counted(tmp_path: Path) -> None:
    good = {
        "key": 1,
        "prompt": "Hi",
        "instruction_id_list": ["punctuation:no_comma"],
        "kwargs": [{}],
    }
    unknown = {**good, "key": 2, "instruction_id_list": ["keywords:telepathy"]}
    mismatched = {**good, "key": 3, "kwargs": [{}, {}]}
    path = tmp_path / "ifeval.jsonl"
    path.write_text(
        "\n".join(json.dumps(r) for r in (good, unknown, mismatched)) + "\n", encoding="utf-8"
    )
    with pytest.raises(SuiteError, match=r"ifeval\.jsonl:2: item 'ifeval-2'.*keywords:telepathy"):
        resolve_suite(f"ifeval:{path}")
    loaded = resolve_suite(f"ifeval:{path}", skip_invalid=True)
    assert [i.id for i in loaded.suite.items] == ["ifeval-1"]
    assert len(loaded.skipped) == 2
    assert "1 instruction ids but 2 kwargs entries" in loaded.skipped[1]


def test_unreachable_sources_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="no such file or directory"):
        resolve_suite(f"ifeval:{tmp_path / 'missing.jsonl'}")
    with pytest.raises(SuiteError, match="no files matching"):
        resolve_suite(f"multi-if:{tmp_path}")


def test_a_file_in_another_layout_is_named_as_such(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match=r"multi_if_sample\.csv:2: no 'prompt' field: not a row"):
        resolve_suite(f"ifeval:{DATA / 'multi_if_sample.csv'}")
    with pytest.raises(SuiteError, match=r"ifeval_sample\.jsonl:1: no turn_1_prompt: not a row"):
        resolve_suite(f"multi-if:{DATA / 'ifeval_sample.jsonl'}")
    keyless = tmp_path / "keyless.jsonl"
    keyless.write_text(json.dumps({"prompt": "Hi", "instruction_id_list": []}) + "\n")
    with pytest.raises(SuiteError, match=r"keyless\.jsonl:1: no 'key' field: not a row in IFEval"):
        resolve_suite(f"ifeval:{keyless}")


def test_a_bad_instruction_names_item_turn_and_instruction(tmp_path: Path) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(
        "- id: harbour\n  turns:\n    - user: Hi\n"
        "      scorers: [{type: instructions, add: [{id: 'keywords:telepathy'}]}]\n"
    )
    with pytest.raises(SuiteError) as caught:
        resolve_suite(str(path))
    # pydantic's "Value error, " prefix is dropped: the validator's own sentence is the message.
    assert str(caught.value) == (
        f"{path}:4: item 'harbour', field 'turns.0.scorers.0': scorer 'instructions', "
        "field 'add.0': unknown instruction id 'keywords:telepathy'"
    )
