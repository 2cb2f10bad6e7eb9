"""`validate_suite`: one fixture per kind of finding, and the suites that must be clean."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from turnscope.core import Item, Suite
from turnscope.suites import LoadedSuite, resolve_suite
from turnscope.suites.validate import FINDING_KINDS, Finding, prompt_counts, validate_suite

DATA = Path(__file__).resolve().parents[1] / "data"
FIXTURES = DATA / "validate"


def findings(ref: str) -> list[Finding]:
    return validate_suite(resolve_suite(ref, skip_invalid=True))


def summary(found: list[Finding]) -> list[tuple[str, str | None, int | None]]:
    return [(f.kind, f.item_id, f.turn) for f in found]


def test_a_reference_that_fails_its_own_scorers() -> None:
    found = findings(str(FIXTURES / "reference_fails.yaml"))
    assert summary(found) == [
        ("reference-fails", "wrong-gold", 1),
        ("reference-fails", "gold-breaks-instruction", 1),
    ]
    assert "expected 48, found 42" in found[0].message
    assert "punctuation:no_comma" in found[1].message
    assert found[0].where == f"{FIXTURES / 'reference_fails.yaml'}:3"


def test_ifeval_kwargs_that_contradict_the_prompt() -> None:
    found = findings(f"ifeval:{FIXTURES / 'ifeval_kwargs.jsonl'}")
    assert summary(found) == [
        ("kwargs-vs-prompt", "ifeval-1", 1),
        ("kwargs-vs-prompt", "ifeval-3", 1),
    ]
    assert "num_placeholders=1 but the prompt says 3" in found[0].message
    assert "num_words=80 but the prompt says 50" in found[1].message
    assert found[1].where.endswith("ifeval_kwargs.jsonl:3")


@pytest.mark.parametrize(
    ("prompt", "unit", "expected"),
    [
        ("Use at least 3 placeholders like [name].", r"placeholders?", {3}),
        ("Answer in exactly four bullet points.", r"bullets?", {4}),
        ("Write 2 poems of 100 words each.", r"words?", {2, 100}),
        ("Mention the word 'tea' at least twelve times.", r"times?", {12}),
        ("Version 3.5 words", r"words?", set()),
        ("No count here.", r"words?", set()),
    ],
)
def test_prompt_counts(prompt: str, unit: str, expected: set[int]) -> None:
    assert prompt_counts(prompt, unit) == expected


def test_prompt_counts_is_linear_on_hostile_text() -> None:
    hostile = "1 " * 100_000 + "x"
    started = time.perf_counter()
    assert prompt_counts(hostile, r"words?") == set()
    assert time.perf_counter() - started < 2.0


def test_instructions_that_cannot_both_hold() -> None:
    found = findings(f"ifeval:{FIXTURES / 'ifeval_conflicts.jsonl'}")
    # key 14 ("at least 40" and "less than 90" words) can both hold.
    assert summary(found) == [
        ("conflict", "ifeval-11", 1),
        ("conflict", "ifeval-12", 1),
        ("conflict", "ifeval-13", 1),
    ]
    assert "english_lowercase" in found[0].message and "english_capital" in found[0].message
    assert "less than 100 words" in found[1].message and "at least 300 words" in found[1].message


def test_a_conflict_across_turns_of_an_accumulating_conversation(tmp_path: Path) -> None:
    suite = tmp_path / "turns.yaml"
    suite.write_text(
        "- id: drift\n"
        "  turns:\n"
        "    - user: Write a haiku in lowercase letters only.\n"
        "      scorers: [{type: instructions, add: [{id: 'change_case:english_lowercase'}]}]\n"
        "    - user: Now another haiku, all in capitals.\n"
        "      scorers: [{type: instructions, add: [{id: 'change_case:english_capital'}]}]\n"
        "    - user: Now drop the lowercase rule and write a third.\n"
        "      scorers: [{type: instructions, remove: ['change_case:english_lowercase']}]\n",
        encoding="utf-8",
    )
    assert summary(findings(str(suite))) == [("conflict", "drift", 2)]


def test_duplicate_and_near_duplicate_items() -> None:
    found = findings(str(FIXTURES / "duplicates.yaml"))
    assert summary(found) == [
        ("duplicate", "same-again", None),
        ("near-duplicate", "nearly-same", None),
    ]
    assert "item 'original'" in found[0].message and "duplicates.yaml:2" in found[0].message


def test_duplicates_among_short_punctuated_and_non_ascii_texts() -> None:
    # Words are runs of \\w: punctuation and spacing aside, an underscore joins two words;
    # a text of fewer than three words is compared whole.
    story = " ".join(f"word{n} of the story" for n in range(30))
    texts = {
        "short": "Hello there",
        "short-again": "hello, THERE!",
        "short-accented": "héllo there",
        "short-accented-again": "Héllo -- there?",
        "joined": "snake_case names here",
        "split": "snake case names here",
        "story": story,
        "story-edited": story.replace("word29", "chapter29"),
        "story-tabbed": story.replace(" ", "\t"),
    }
    items = tuple(
        Item.model_validate({"id": key, "turns": [{"user": text}]}) for key, text in texts.items()
    )
    found = validate_suite(LoadedSuite(Suite(name="mixed", items=items)))
    assert summary(found) == [
        ("duplicate", "short-again", None),
        ("duplicate", "short-accented-again", None),
        ("near-duplicate", "story-edited", None),
        ("duplicate", "story-tabbed", None),
    ]
    assert "item 'story'" in found[2].message


def test_empty_turns_and_references() -> None:
    found = findings(str(FIXTURES / "empty.yaml"))
    assert summary(found) == [("empty", "blank-user", 2), ("empty", "blank-reference", 1)]


def test_a_judge_on_a_turn_that_is_never_answered() -> None:
    found = findings(str(FIXTURES / "no_answer.yaml"))
    assert summary(found) == [
        ("no-answer", "twin-only", 1),
        ("no-answer", "gold-without-references", 2),
    ]
    assert "judge" in found[0].message


def test_a_turn_that_does_not_exist() -> None:
    found = findings(str(FIXTURES / "missing_turn.yaml"))
    assert summary(found) == [
        ("missing-turn", "reads-later-turn", 2),
        ("missing-turn", "probes-past-the-end", None),
    ]
    assert "turn 3" in found[0].message and "key turn 7" in found[1].message


def test_an_item_that_does_not_load() -> None:
    found = findings(str(FIXTURES / "invalid.jsonl"))
    assert summary(found) == [("invalid", None, None)]
    assert "invalid.jsonl:2" in found[0].message and "no-such-scorer" in found[0].message


def test_every_kind_has_a_fixture() -> None:
    refs = [str(p) for p in FIXTURES.glob("*.yaml")] + [str(FIXTURES / "invalid.jsonl")]
    refs += [f"ifeval:{p}" for p in FIXTURES.glob("ifeval_*.jsonl")]
    kinds = {f.kind for ref in refs for f in findings(ref)}
    assert kinds == set(FINDING_KINDS)


@pytest.mark.parametrize(
    "ref",
    [
        "core",
        "persona",
        "starter",
        str(DATA / "mini.yaml"),
        f"ifeval:{DATA / 'ifeval_sample.jsonl'}",
        f"multi-if:{DATA / 'multi_if_sample.csv'}",
        f"mt-bench:{DATA / 'mt_bench'}",
        f"mt-bench-101:{DATA / 'mt_bench_101.jsonl'}",
        f"mt-eval:{DATA / 'mt_eval'}",
        f"mint:{DATA / 'mint'}",
    ],
)
def test_shipped_suites_and_adapter_fixtures_are_clean(ref: str) -> None:
    assert findings(ref) == []


def test_the_full_suite_is_clean_its_repeats_drawn_again() -> None:
    # The feedback family of `full` draws its tasks from a small pool: four first draws
    # (seed 0) repeat an earlier item word for word, and the suite draws those four again.
    loaded: LoadedSuite = resolve_suite("full")
    assert validate_suite(loaded) == []
    redrawn = [item for item in loaded.suite.items if "redraw" in item.metadata]
    assert [item.id for item in redrawn] == [
        "feedback-0096",
        "feedback-0098",
        "feedback-0121",
        "feedback-0145",
    ]
