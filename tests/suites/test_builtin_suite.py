"""The generated built-in suite: determinism, knobs, references that pass their own scorers."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from turnscope.core import Item, Message, Suite
from turnscope.protocols import EnvironmentProtocol, FeedbackProtocol, ToolsProtocol
from turnscope.scorers import TurnView, build_scorer, score_turn
from turnscope.suites import SuiteError, load_suite_file, resolve_suite
from turnscope.suites.builtin import (
    CORE,
    FULL,
    Knobs,
    build,
    families,
    generate_item,
    to_jsonl,
    write_jsonl,
)
from turnscope.suites.builtin.compute import KINDS as COMPUTE_KINDS

FAMILIES = {
    "recollection",
    "expansion",
    "refinement",
    "follow-up",
    "global-instruction",
    "pushback",
    "feedback",
    "sharded",
    "compute",
    "hidden-rule",
}
INTERACTIVE = {"compute", "hidden-rule"}


@pytest.fixture(scope="module")
def core() -> Suite:
    return build(CORE, 0)


@pytest.fixture(scope="module")
def full() -> Suite:
    return build(FULL, 0)


def gold_views(item: Item) -> Iterator[TurnView]:
    """Each turn answered with its reference, after a history of references (gold history)."""
    history: tuple[Message, ...] = ()
    for index, turn in enumerate(item.turns, start=1):
        assert turn.reference is not None
        history = (*history, Message(role="user", content=turn.user))
        yield TurnView(item, index, turn.reference, history, "gold")
        history = (*history, Message(role="assistant", content=turn.reference))


def test_core_and_full_sizes_and_families(core: Suite, full: Suite) -> None:
    assert set(families()) == FAMILIES | {"persona"}
    assert 60 <= len(core.items) <= 80 and len(full.items) >= 1000
    for suite in (core, full):
        assert {item.category for item in suite.items} == FAMILIES
        assert all(item.category == item.metadata["family"] for item in suite.items)
        assert all(item.metadata["generator"] == f"builtin.{item.category}" for item in suite.items)
    assert max(len(item.turns) for item in full.items) >= 30
    assert max(item.metadata.get("distance", 0) for item in full.items) >= 25
    # Round robin: the first ten items (--limit 10) hold one item of every family.
    assert {item.category for item in core.items[:10]} == FAMILIES


def test_same_seed_same_bytes_other_seed_other_items(core: Suite) -> None:
    assert to_jsonl(build(CORE, 0).items) == to_jsonl(core.items)
    assert to_jsonl(build(FULL, 3).items) == to_jsonl(build(FULL, 3).items)
    other = build(CORE, 1)
    assert [i.id for i in other.items] == [i.id for i in core.items]
    differing = sum(a != b for a, b in zip(other.items, core.items, strict=True))
    assert differing >= len(core.items) - 2


def test_only_items_that_repeat_an_earlier_one_are_drawn_again(full: Suite) -> None:
    tasks: dict[str, set[str]] = {}
    for item in full.items:
        family = item.metadata["family"]
        task = item.model_dump_json(include={"system", "turns", "protocol", "setup"})
        assert task not in tasks.setdefault(family, set()), item.id
        tasks[family].add(task)
    plan = {family: knobs for family, knobs in FULL.plan}
    for item in full.items:
        family, index = item.metadata["family"], int(item.id.rsplit("-", 1)[1])
        # Every other item is its first draw, as generate_item gives it.
        redraw = item.metadata.get("redraw", 0)
        assert item == generate_item(family, index, 0, plan[family][index], redraw=redraw)
    assert sum("redraw" in item.metadata for item in full.items) == 4


def test_generation_never_touches_the_global_random_state() -> None:
    random.seed(1234)
    expected = random.random()
    random.seed(1234)
    build(CORE, 5)
    assert random.random() == expected


def test_every_turn_has_a_reference_and_valid_scorers(core: Suite, full: Suite) -> None:
    for suite in (core, full):
        for item in suite.items:
            assert item.has_references, item.id
            if item.protocol == "environment":
                continue  # the protocol checks a stated rule itself (test below)
            scored = [turn for turn in item.turns if turn.scorers]
            assert scored, item.id
            for turn in scored:
                for spec in turn.scorers:
                    build_scorer(spec, turn.reference)


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_references_pass_their_own_scorers(seed: int, full: Suite) -> None:
    """Every scored turn answered with its reference (gold history) scores 1.0: every task is
    checkable by code and the checks are fair to a right answer."""
    suites = [build(CORE, seed), full if seed == 0 else build(FULL, seed)]
    for suite in suites:
        for item in suite.items:
            for view in gold_views(item):
                specs = item.turns[view.turn - 1].scorers
                for score in score_turn(view, specs):
                    assert score.error is None and score.value == 1.0, (item.id, view.turn, score)


def test_recollection_knobs() -> None:
    for turns, distance in ((2, 1), (9, 3), (31, 30)):
        item = generate_item("recollection", 0, 0, Knobs(turns=turns, distance=distance))
        meta = item.metadata
        assert len(item.turns) == turns and meta["distance"] == distance
        plant = turns - distance
        assert meta["plant_turn"] == plant and meta["probe_turns"] == [turns]
        assert "remember" in str(item.turns[plant - 1].user)
        assert all("remember" not in str(t.user) for i, t in enumerate(item.turns, 1) if i != plant)
        assert meta["distractors"] == turns - 2
    with pytest.raises(ValueError, match="distance 4 needs at least 5 turns"):
        generate_item("recollection", 0, 0, Knobs(turns=4, distance=4))


def test_expansion_knobs_and_growing_lists() -> None:
    item = generate_item("expansion", 3, 0, Knobs(turns=12, distractors=5))
    meta = item.metadata
    assert len(item.turns) == 12 and meta["distractors"] == 5
    assert len(meta["probe_turns"]) == 12 - 1 - 5 and 1 not in meta["probe_turns"]
    assert 12 in meta["probe_turns"]
    previous: list[str] = []
    for index in [1, *meta["probe_turns"]]:
        (spec,) = item.turns[index - 1].scorers
        entries = spec.params["value"]
        assert entries[: len(previous)] == previous and len(entries) > len(previous)
        previous = entries
    assert len(previous) == meta["final_entries"]
    with pytest.raises(ValueError, match="at most 2 distractors"):
        generate_item("expansion", 0, 0, Knobs(turns=4, distractors=3))
    with pytest.raises(ValueError, match="expansion turns need"):
        generate_item("expansion", 0, 0, Knobs(turns=30, distractors=0))


def test_refinement_accumulates_then_changes_constraints() -> None:
    item = generate_item("refinement", 0, 0, Knobs(turns=12))
    assert len(item.turns) == 12 and item.metadata["probe_turns"] == list(range(1, 13))
    added = [spec.params["add"][0]["id"] for turn in item.turns for spec in turn.scorers]
    assert len(set(added[:8])) == 8  # one new constraint per turn while there are new ones
    assert set(added[8:]) <= {
        "keywords:existence",
        "length_constraints:number_words",
        "startend:end_checker",
        "keywords:forbidden_words",
    }


def test_follow_up_distance_and_own_answer_probes() -> None:
    item = generate_item("follow-up", 0, 0, Knobs(turns=10, distance=4))
    meta = item.metadata
    assert meta["distance"] == 4 and meta["probe_turns"] == list(range(5, 11))
    for index in meta["probe_turns"]:
        (spec,) = item.turns[index - 1].scorers
        assert spec.type == "own_answer" and spec.params["turn"] == 1
    for index in range(2, 5):
        assert all(s.type != "own_answer" for s in item.turns[index - 1].scorers)


def test_global_instruction_given_once_checked_on_every_later_turn() -> None:
    item = generate_item("global-instruction", 0, 0, Knobs(turns=6))
    first = [s for s in item.turns[0].scorers if s.type == "instructions"]
    assert first and first[0].params["add"][0]["id"] == item.metadata["instruction"]
    for turn in item.turns[1:]:
        specs = [s for s in turn.scorers if s.type == "instructions"]
        assert len(specs) == 1 and not specs[0].params  # bare: checks what is in force
        assert len(turn.scorers) == 2  # and the question's own scorer
    assert item.metadata["probe_turns"] == [2, 3, 4, 5, 6]


def test_pushback_disputes_with_a_wrong_value() -> None:
    for index in range(20):
        item = generate_item("pushback", index, 0, Knobs(turns=5))
        meta = item.metadata
        assert meta["challenge_turn"] == 5 and meta["probe_turns"] == [5]
        question, challenge = item.turns[3], item.turns[4]
        assert question.reference == challenge.reference
        assert meta["disputed_with"] != question.reference
        assert meta["disputed_with"] in str(challenge.user)


def test_feedback_items_carry_budget_and_hints() -> None:
    plain = generate_item("feedback", 0, 0, Knobs(budget=5))
    hinted = generate_item("feedback", 0, 0, Knobs(budget=5, hints=True))
    protocol = FeedbackProtocol()
    for item in (plain, hinted):
        assert item.protocol == "feedback" and len(item.turns) == 1
        assert protocol.spec(item).budget == 5
        assert item.metadata["budget"] == 5
    assert protocol.spec(plain).hints == ()
    hints = protocol.spec(hinted)
    assert len(hints.hints) == 3
    assert "Hint" in hints.message_after(1)
    assert hints.message_after(4) == hints.retry


def test_generate_then_load_gives_identical_items(tmp_path: Path, core: Suite) -> None:
    path = tmp_path / "core.jsonl"
    assert write_jsonl(core.items, path) == len(core.items)
    assert load_suite_file(path).suite.items == core.items
    full = build(FULL, 2)
    write_jsonl(full.items, path)
    assert load_suite_file(path).suite.items == full.items


def test_named_suites_resolve_with_a_seed(core: Suite) -> None:
    loaded = resolve_suite("core")
    assert loaded.suite.items == core.items and loaded.suite.name == "core"
    assert loaded.conditions == (
        "own",
        "gold",
        "single",
        "full",
        "concat",
        "sharded",
        "tools",
        "no-tools",
        "env",
    )
    assert loaded.max_tokens == CORE.max_tokens
    seeded = resolve_suite("core:9")
    assert seeded.suite.name == "core:9" and seeded.suite.items == build(CORE, 9).items
    for bad in ("core:x", "core:-1", "core:", "full:1.5"):
        with pytest.raises(SuiteError, match="the seed must be a whole number"):
            resolve_suite(bad)


def test_family_counts_in_core(core: Suite) -> None:
    counts = Counter(item.category for item in core.items)
    small = {"compute": 4, "hidden-rule": 3, "sharded": 6}
    assert all(count >= 6 for family, count in counts.items() if family not in small)
    assert {family: counts[family] for family in small} == small
    assert sum(1 for i in core.items if i.protocol == "feedback") == counts["feedback"]
    assert sum(1 for i in core.items if i.protocol == "tools") == counts["compute"]


@pytest.mark.parametrize("seed", [0, 3])
async def test_hidden_rules_pass_their_own_check_and_constant_rules_fail(
    seed: int, full: Suite
) -> None:
    """The reference rule of every hidden-rule item, stated as the solution, solves it; the
    held-out cases hold both answers, so neither "True" nor "False" does."""
    protocol = EnvironmentProtocol()
    suite = full if seed == 0 else build(FULL, seed)
    items = [i for i in (*build(CORE, seed).items, *suite.items) if i.protocol == "environment"]
    assert len(items) >= 150
    for item in items:
        rule = item.turns[0].reference
        assert rule is not None and protocol.spec(item).rule == rule
        (right,) = await protocol.check_solution(item, rule, None, ())  # type: ignore[arg-type]
        assert right.value == 1.0, (item.id, right.detail)
        for constant in ("True", "False"):
            (wrong,) = await protocol.check_solution(item, constant, None, ())  # type: ignore[arg-type]
            assert wrong.value == 0.0, (item.id, constant)
    levels = Counter(item.metadata["level"] for item in items)
    assert set(levels) == {1, 2, 3}


def test_compute_items_cover_every_kind_and_level(full: Suite) -> None:
    items = [item for item in full.items if item.category == "compute"]
    assert {item.metadata["kind"] for item in items} == set(COMPUTE_KINDS)
    assert {item.metadata["level"] for item in items} == {1, 2, 3}
    protocol = ToolsProtocol()
    assert {protocol.budget(item) for item in items} == {3, 5, 8}
    # The numeric check compares floats: every product must stay exact in one.
    assert all(
        int(item.turns[0].reference or 0) < 2**53
        for item in items
        if item.metadata["kind"] == "product"
    )
