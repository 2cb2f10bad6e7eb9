"""MT-Bench, MT-Bench-101 and MT-Eval adapters, on small files written here in the
publishers' layouts.

The `judge` scorer these suites use is registered by the judge-kinds work (issue 5); until it
is, whole-suite loads that validate judge specs are skipped and the items are checked as the
adapters build them (validated as Items, which checks everything but the judge parameters)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from turnscope.core import Item, ScorerSpec
from turnscope.scorers import TurnView, build_scorer, score_turn, scorer_names
from turnscope.suites import SuiteError, resolve_suite
from turnscope.suites.adapters.mt_bench import read_mt_bench
from turnscope.suites.adapters.mt_bench_101 import FIRST_TURN_NOT_JUDGED, TASKS, read_mt_bench_101
from turnscope.suites.adapters.mt_eval import (
    MULTI_CONFIGS,
    global_instruction_specs,
    read_mt_eval,
)
from turnscope.suites.loader import RawItem, validate_item

DATA = Path(__file__).parent.parent / "data"
needs_judge = pytest.mark.skipif(
    "judge" not in scorer_names(),
    reason="needs the 'judge' scorer (judge kinds, issue 5), merged separately",
)


def _items(raws: list[RawItem]) -> dict[str, Item]:
    """The items as the adapter built them; a row error fails the test with its message."""
    items = {}
    for raw in raws:
        assert raw.parse_error is None, f"{raw.path}:{raw.line}: {raw.parse_error}"
        item = Item.model_validate(raw.data)
        items[item.id] = item
    return items


def _judge(item: Item, turn: int) -> dict[str, object]:
    (spec,) = item.turns[turn - 1].scorers
    assert spec.type == "judge"
    return spec.params


# MT-Bench


def test_mt_bench_fastchat_directory_with_reference_answers() -> None:
    items = _items(read_mt_bench(str(DATA / "mt_bench")))
    assert list(items) == ["mt-bench-901", "mt-bench-902", "mt-bench-903", "mt-bench-904"]
    writing, math, reasoning, roleplay = items.values()
    assert [i.category for i in items.values()] == ["writing", "math", "reasoning", "roleplay"]
    assert all(len(i.turns) == 2 and i.metadata["pairwise"] for i in items.values())
    # No reference: a plain grade.
    assert writing.turns[0].reference is None
    assert _judge(writing, 1) == {"kind": "grade", "use_reference": False}
    # FastChat's reference-answer file wins over the question's short reference; numbers
    # stored as JSON numbers become text.
    assert math.turns[0].reference == "120 / 8 = 15, so the tank is empty after 15 minutes."
    assert math.turns[1].reference == "10"
    assert math.metadata["reference_source"] == "reference_answer"
    assert _judge(math, 2) == {"kind": "grade", "use_reference": True}
    # Without an entry in the file, the question's own reference is used.
    assert [t.reference for t in reasoning.turns] == ["Ana", "Ben"]
    assert reasoning.metadata["reference_source"] == "question"
    # Roleplay is not reference-guided in FastChat even when it carries a reference; an
    # empty reference is no reference.
    assert [t.reference for t in roleplay.turns] == ["Welcome aboard!", None]
    assert _judge(roleplay, 1)["use_reference"] is False


def test_mt_bench_hub_layout_prompt_field(tmp_path: Path) -> None:
    row = {"question_id": 7, "category": "STEM", "prompt": ["Why is the sky blue?", "Shorter."]}
    path = tmp_path / "question.jsonl"
    path.write_text(json.dumps({**row, "reference": []}) + "\n", encoding="utf-8")
    (item,) = _items(read_mt_bench(str(path))).values()
    assert item.id == "mt-bench-7" and item.category == "stem"
    assert [t.user for t in item.turns] == row["prompt"]
    assert not item.has_references and item.metadata["reference_source"] is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            '{"category": "math", "turns": ["a", "b"]}',
            "no 'question_id' field: not a row in MT-Bench's layout",
        ),
        ('{"question_id": 1, "category": "math", "turns": "a"}', "'turns' is not a non-empty list"),
        ('{"question_id": 1, "turns": ["a", "b"]}', "no 'category' field"),
        (
            '{"question_id": 1, "category": "math", "turns": ["a", "b"], "reference": ["x"]}',
            "1 reference answers for 2 turns",
        ),
        ('["not", "an", "object"]', "expected a JSON object, got list"),
        ("{broken", "invalid JSON"),
    ],
)
def test_mt_bench_bad_rows_are_named(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "question.jsonl"
    path.write_text('{"question_id": 1, "category": "math", "turns": ["a", "b"]}\n' + line + "\n")
    raws = read_mt_bench(str(path))
    assert raws[0].parse_error is None
    assert raws[1].line == 2 and message in str(raws[1].parse_error)
    with pytest.raises(SuiteError, match=rf"^{path}:2: .*{message[:20]}"):
        validate_item(raws[1])


def test_mt_bench_bad_reference_file_and_missing_source(tmp_path: Path) -> None:
    folder = tmp_path / "mt_bench"
    shutil.copytree(DATA / "mt_bench", folder)
    (folder / "reference_answer" / "gpt-4.jsonl").write_text('{"question_id": 902}\n')
    with pytest.raises(
        SuiteError, match=r"gpt-4.jsonl:1: no question_id or choices: not a row in FastChat"
    ):
        read_mt_bench(str(folder))
    with pytest.raises(SuiteError, match="no such file or directory, and not a hub dataset id"):
        read_mt_bench(str(tmp_path / "missing.jsonl"))


@needs_judge
def test_mt_bench_loads_as_a_suite() -> None:
    suite = resolve_suite(f"mt-bench:{DATA / 'mt_bench'}").suite
    assert len(suite.items) == 4


# MT-Bench-101


def test_mt_bench_101_tasks_gold_turns_and_judged_turns() -> None:
    items = _items(read_mt_bench_101(str(DATA / "mt_bench_101.jsonl")))
    assert list(items) == [
        "mt-bench-101-CM-11",
        "mt-bench-101-MR-12",
        "mt-bench-101-IC-13",
        "mt-bench-101-TS-14",
    ]
    memory = items["mt-bench-101-CM-11"]
    assert memory.category == "CM" and memory.metadata["ability"] == "perceptivity"
    assert memory.has_references  # gold bot turns: the gold variant is their golden context
    assert memory.turns[2].reference == "Her name is Pepper."
    # Context memory's first turn only plants the facts: played, not judged.
    assert memory.turns[0].scorers == ()
    assert memory.metadata["judged_turns"] == [2, 3] and memory.metadata["aggregate"] == "min"
    assert _judge(memory, 3) == {
        "kind": "grade",
        "use_reference": False,
        "guidance": TASKS["CM"].guidance,
    }
    # The reasoning tasks are judged against the gold answer as reference solution.
    maths = items["mt-bench-101-MR-12"]
    assert [_judge(maths, t)["use_reference"] for t in (1, 2)] == [True, True]
    assert items["mt-bench-101-IC-13"].metadata["judged_turns"] == [1, 2]


def test_mt_bench_101_taxonomy_is_complete() -> None:
    assert len(TASKS) == 13
    assert {t.ability for t in TASKS.values()} == {"perceptivity", "adaptability", "interactivity"}
    assert set(TASKS) >= FIRST_TURN_NOT_JUDGED
    assert all(len(t.guidance) > 80 for t in TASKS.values())


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            {"task": "XX", "id": 1, "history": [{"user": "a", "bot": "b"}]},
            "unknown task 'XX' (known: CM, AR",
        ),
        (
            {"id": 1, "history": [{"user": "a", "bot": "b"}]},
            "no task, id or history: not a row in MT-Bench-101's layout",
        ),
        ({"task": "TS", "id": 1, "history": [{"bot": "b"}]}, "history[0] has no 'user' text"),
        (
            {"task": "CM", "id": 1, "history": [{"user": "a", "bot": "b"}]},
            "a CM dialogue needs at least two turns",
        ),
    ],
)
def test_mt_bench_101_bad_rows_are_named(
    tmp_path: Path, row: dict[str, object], message: str
) -> None:
    path = tmp_path / "mtbench101.jsonl"
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    (raw,) = read_mt_bench_101(str(path))
    with pytest.raises(SuiteError) as caught:
        validate_item(raw)
    assert str(caught.value).startswith(f"{path}:1: ") and message in str(caught.value)


def test_mt_bench_101_needs_a_path() -> None:
    with pytest.raises(SuiteError, match="mt-bench-101 needs a path"):
        resolve_suite("mt-bench-101")


@needs_judge
def test_mt_bench_101_loads_as_a_suite() -> None:
    assert len(resolve_suite(f"mt-bench-101:{DATA / 'mt_bench_101.jsonl'}").suite.items) == 4


# MT-Eval


def test_mt_eval_directory_loads_every_multi_turn_config() -> None:
    items = _items(read_mt_eval(str(DATA / "mt_eval"), MULTI_CONFIGS))
    configs = {i.metadata["config"] for i in items.values()}
    assert configs == set(MULTI_CONFIGS)  # refinement_single.jsonl is not a multi-turn config
    assert {i.category for i in items.values()} == {
        "refinement",
        "expansion",
        "follow-up",
        "recollection",
    }
    assert all(i.category == i.metadata["family"] for i in items.values())


def test_mt_eval_refinement_accumulates_constraints_within_a_task() -> None:
    item = _items(read_mt_eval(str(DATA / "mt_eval/refinement_multi.jsonl"), MULTI_CONFIGS))[
        "mt-eval-refinement_multi-r1"
    ]
    assert item.metadata["context_turns"] == [1] and item.metadata["probe_turns"] == [2, 3, 4]
    assert item.turns[0].scorers == () and item.has_references
    third = str(_judge(item, 3)["guidance"])
    assert third.endswith("Constraints:\n1. Summarise the content.\n2. Keep it under ten words.")
    # A new task (ner after sum) starts a fresh list of constraints.
    assert str(_judge(item, 4)["guidance"]).endswith("Constraints:\n1. List the named places.")
    assert _judge(item, 4)["use_reference"] is False


def test_mt_eval_expansion_and_follow_up_are_judged() -> None:
    items = _items(read_mt_eval(str(DATA / "mt_eval"), MULTI_CONFIGS))
    expansion = items["mt-eval-expansion_multi-e1"]
    assert str(_judge(expansion, 2)["guidance"]).endswith("Request: Why do otters hold hands?")
    follow = items["mt-eval-follow-up_multi-f1"]
    assert follow.metadata["probe_turns"] == [1, 2] and _judge(follow, 2)["kind"] == "grade"


def _score(item: Item, turn: int, answer: str) -> float | None:
    view = TurnView(item=item, turn=turn, response=answer, history=(), condition="own")
    (result,) = score_turn(view, item.turns[turn - 1].scorers)
    assert result.error is None, result.error
    return result.value


def test_mt_eval_recollection_is_checked_by_code() -> None:
    items = _items(read_mt_eval(str(DATA / "mt_eval"), MULTI_CONFIGS))
    labels = items["mt-eval-recollection_multi_cls-c1"]
    assert _score(labels, 2, "Label: Sport.") == 1.0
    assert _score(labels, 3, "science") == 0.0
    commas = items["mt-eval-recollection_multi_global-inst-g1"]
    assert _score(commas, 1, "A small falcon.") == 1.0
    # The instruction given at turn 1 still holds at turn 2.
    assert _score(commas, 2, "Europe, Asia and Africa.") == 0.0
    letter = items["mt-eval-recollection_multi_global-inst-g2"]
    assert _score(letter, 1, "  Quail!") == 1.0 and _score(letter, 1, "A quail.") == 0.0
    emoji = items["mt-eval-recollection_multi_global-inst-g3"]
    assert _judge(emoji, 1)["kind"] == "rubric"
    spanish = items["mt-eval-recollection_multi_global-inst-g4"]
    (spec,) = spanish.turns[0].scorers
    assert spec.params["add"] == [
        {"id": "language:response_language", "kwargs": {"language": "es"}}
    ]


@pytest.mark.parametrize(
    ("name", "args", "first"),
    [
        (
            "keywords:existence",
            {"keywords": ["tide"]},
            {
                "type": "instructions",
                "add": [{"id": "keywords:existence", "kwargs": {"keywords": ["tide"]}}],
            },
        ),
        (
            "format:json_format",
            {},
            {
                "type": "instructions",
                "add": [{"id": "detectable_format:json_format", "kwargs": {}}],
            },
        ),
        (
            "content:placeholder",
            {"num_placeholder": 2},
            {
                "type": "instructions",
                "add": [
                    {
                        "id": "detectable_content:number_placeholders",
                        "kwargs": {"num_placeholders": 2},
                    }
                ],
            },
        ),
        (
            "format:bullet_list",
            {"num_bullets": 3},
            {
                "type": "instructions",
                "add": [
                    {"id": "detectable_format:number_bullet_lists", "kwargs": {"num_bullets": 3}}
                ],
            },
        ),
        (
            "format:constrained_response",
            {"response_options": None},
            {
                "type": "instructions",
                "add": [{"id": "detectable_format:constrained_response", "kwargs": {}}],
            },
        ),
        (
            "length_constraints:number_sentences",
            {"num_sentences": 4, "relation": "less than"},
            {
                "type": "instructions",
                "add": [
                    {
                        "id": "length_constraints:number_sentences",
                        "kwargs": {"num_sentences": 4, "relation": "less than"},
                    }
                ],
            },
        ),
    ],
)
def test_mt_eval_global_instructions_map_to_ifeval_twins(
    name: str, args: dict[str, object], first: dict[str, object]
) -> None:
    assert global_instruction_specs(name, args) == (first, {"type": "instructions"})
    build_scorer(ScorerSpec.model_validate(first), None)  # the IFEval arguments are complete


def _rule(name: str, args: dict[str, object], answer: str) -> float | None:
    first, later = global_instruction_specs(name, args)
    assert first == later  # the same check at every answered turn
    item = Item.model_validate({"id": "rule", "turns": [{"user": "hi", "scorers": [first]}]})
    return _score(item, 1, answer)


def test_mt_eval_own_rules_where_they_differ_from_ifeval() -> None:
    # MT-Eval's case checks ask for no language (IFEval's want English) ...
    assert _rule("change_case:capital_letter", {}, "ÇA VA TRÈS BIEN, MERCI.") == 1.0
    assert _rule("change_case:capital_letter", {}, "ÇA VA très BIEN.") == 0.0
    assert _rule("change_case:lowercase", {}, "ça va très bien, merci.") == 1.0
    assert _rule("change_case:lowercase", {}, "Ça va.") == 0.0
    # ... and their end phrase ignores closing single quotes, IFEval's closing double quotes.
    phrase = {"end_phrase": " Over and out. "}
    assert _rule("startend:end_phrase", phrase, "Done. over and OUT.'' \n") == 1.0
    assert _rule("startend:end_phrase", phrase, 'Done. Over and out."') == 0.0
    assert _rule("startend:end_phrase", phrase, "Over and out. Not quite.") == 0.0


def test_mt_eval_global_instructions_without_twin_go_to_a_rubric() -> None:
    first, later = global_instruction_specs("format:bullet_list", {"num_bullets": 0})
    assert first == later and first["kind"] == "rubric"
    assert first["rubric"] == "Is the answer written entirely as bullet points?"


def test_mt_eval_single_turn_versions() -> None:
    raws = read_mt_eval(str(DATA / "mt_eval"), ("refinement_single",))
    (item,) = _items(raws).values()
    assert item.id == "mt-eval-refinement_single-1_sum_2" and len(item.turns) == 1
    assert item.metadata["publisher_variant"] == "single"
    assert str(_judge(item, 1)["guidance"]).endswith("1. Summarise the content in under ten words.")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"user": "hi", "sys": "x", "id": "1", "inst": "", "do_inference": "yes"},
            "conv[0].do_inference must be true or false",
        ),
        (
            {"sys": "x", "id": "1", "inst": "", "do_inference": True},
            "conv[0] has no 'user' text: not a row in MT-Eval's layout",
        ),
        (
            {"user": "hi", "sys": "x", "id": "1", "inst": "", "do_inference": False},
            "no turn has do_inference true",
        ),
    ],
)
def test_mt_eval_bad_rows_are_named(tmp_path: Path, entry: dict[str, object], message: str) -> None:
    path = tmp_path / "expansion_multi.jsonl"
    path.write_text(json.dumps({"id": "x", "conv": [entry]}) + "\n", encoding="utf-8")
    (raw,) = read_mt_eval(str(path), MULTI_CONFIGS)
    with pytest.raises(SuiteError) as caught:
        validate_item(raw)
    assert str(caught.value).startswith(f"{path}:1: ") and message in str(caught.value)


def test_mt_eval_file_named_outside_its_configs_and_label_missing(tmp_path: Path) -> None:
    stray = tmp_path / "dialogues.jsonl"
    stray.write_text('{"id": "x", "conv": []}\n', encoding="utf-8")
    with pytest.raises(
        SuiteError,
        match=r"dialogues.jsonl: not an MT-Eval config file; expected one of refinement_multi",
    ):
        read_mt_eval(str(stray), MULTI_CONFIGS)
    unlabelled = tmp_path / "recollection_multi_cls.jsonl"
    row = {
        "id": "c",
        "conv": [
            {"user": "Classify: goal!", "sys": "", "id": "1", "inst": "", "do_inference": True}
        ],
    }
    unlabelled.write_text(json.dumps(row) + "\n", encoding="utf-8")
    (raw,) = read_mt_eval(str(unlabelled), MULTI_CONFIGS)
    assert "conv[0] is answered but has no gold label" in str(raw.parse_error)


def test_mt_eval_recollection_file_loads_as_a_suite_today() -> None:
    """Recollection configs whose checks are all code load through the registry already."""
    suite = resolve_suite(f"mt-eval:{DATA / 'mt_eval/recollection_multi_cls.jsonl'}").suite
    assert [i.id for i in suite.items] == ["mt-eval-recollection_multi_cls-c1"]


@needs_judge
def test_mt_eval_loads_as_a_suite() -> None:
    assert len(resolve_suite(f"mt-eval:{DATA / 'mt_eval'}").suite.items) == 8
    assert len(resolve_suite(f"mt-eval-single:{DATA / 'mt_eval'}").suite.items) == 1
