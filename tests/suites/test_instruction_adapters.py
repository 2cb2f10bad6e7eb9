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


def test_repeated_instruction_ids_are_all_kept_and_checked(tmp_path: Path) -> None:
    # Shaped like public IFEval keys 19 and 1418 (same id twice, different arguments) and
    # keys 1122 and 1129 (letter_frequency with "#" and "!").
    words = "length_constraints:number_words"
    sentences = "length_constraints:number_sentences"
    letters = "keywords:letter_frequency"
    rows = [
        {
            "key": 19,
            "prompt": "Write at least 6 and less than 9 words.",
            "instruction_id_list": [words, words],
            "kwargs": [
                {"num_words": 6, "relation": "at least", "letter": None},
                {"num_words": 9, "relation": "less than"},
            ],
        },
        {
            "key": 1418,
            "prompt": "Less than 3 sentences, at least 2.",
            "instruction_id_list": [sentences, sentences],
            "kwargs": [
                {"num_sentences": 3, "relation": "less than"},
                {"num_sentences": 2, "relation": "at least"},
            ],
        },
        {
            "key": 1122,
            "prompt": "Use # fewer than 2 times.",
            "instruction_id_list": [letters],
            "kwargs": [{"letter": "#", "let_frequency": 2, "let_relation": "less than"}],
        },
        {
            "key": 1129,
            "prompt": "Use ! at least 2 times.",
            "instruction_id_list": [letters],
            "kwargs": [{"letter": "!", "let_frequency": 2, "let_relation": "at least"}],
        },
    ]
    path = tmp_path / "input_data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    items = {i.id: i for i in resolve_suite(f"ifeval:{path}").suite.items}
    assert len(items) == 4  # every row loads, without --skip-invalid

    def verdicts(item_id: str, answer: str) -> list[bool]:
        item = items[item_id]
        view = TurnView(item=item, turn=1, response=answer, history=(), condition="own")
        (result,) = score_turn(view, item.turns[0].scorers)
        return [c.passed for c in result.checks]

    in_force = [e.spec.kwargs for e in instructions_in_force(items["ifeval-19"], 1)]
    assert [k["num_words"] for k in in_force] == [6, 9]
    # Ten words pass "at least 6" and fail "less than 9": the prompt-level verdict is a fail.
    assert verdicts("ifeval-19", "one two three four five six seven eight nine ten") == [
        True,
        False,
    ]
    assert verdicts("ifeval-1418", "One sentence only.") == [True, False]
    assert verdicts("ifeval-1122", "#a #b") == [False]
    assert verdicts("ifeval-1129", "Yes! Yes!") == [True]


def test_multi_if_turns_keep_repeated_ids(tmp_path: Path) -> None:
    words = "length_constraints:number_words"
    comma = "punctuation:no_comma"
    at_least_6 = json.dumps({"num_words": 6, "relation": "at least"})
    below_9 = json.dumps({"num_words": 9, "relation": "less than"})
    below_20 = json.dumps({"num_words": 20, "relation": "less than"})
    row = {
        "key": "k19",
        "language": "English",
        "turn_1_prompt": json.dumps({"role": "user", "content": "Between 6 and 8 words."}),
        "turn_1_instruction_id_list": json.dumps([words, words]),
        "turn_1_kwargs": json.dumps([at_least_6, below_9]),
        "turn_2_prompt": json.dumps({"role": "user", "content": "No commas too."}),
        "turn_2_instruction_id_list": json.dumps([words, words, comma]),
        "turn_2_kwargs": json.dumps([at_least_6, below_9, "{}"]),
        "turn_3_prompt": json.dumps({"role": "user", "content": "Now under 20 words."}),
        "turn_3_instruction_id_list": json.dumps([words, words, comma]),
        "turn_3_kwargs": json.dumps([at_least_6, below_20, "{}"]),
    }
    path = tmp_path / "multi.jsonl"
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    (item,) = resolve_suite(f"multi-if:{path}").suite.items
    in_force = [
        [(e.spec.id, e.spec.kwargs.get("num_words")) for e in instructions_in_force(item, t)]
        for t in (1, 2, 3)
    ]
    assert in_force == [
        [(words, 6), (words, 9)],
        [(words, 6), (words, 9), (comma, None)],
        [(comma, None), (words, 6), (words, 20)],
    ]
