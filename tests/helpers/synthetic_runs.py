"""Hand-made items, turn records and run stores shaped like the built-in suite's output.

Items follow the suite contract: category == metadata["family"], and metadata may hold
distance, probe_turns, challenge_turn and budget (1-based turn numbers)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from turnscope.core import (
    Check,
    GenerationParams,
    Item,
    Message,
    ModelIdentity,
    RunConfig,
    Score,
    TurnRecord,
)
from turnscope.store import RunStore

MODEL = ModelIdentity(backend="test", model="hand-made")
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def make_item(item_id: str, family: str, n_turns: int, **metadata: Any) -> Item:
    """An item of `family` with `n_turns` turns, each with a reference answer; a feedback
    item is, as the built-in suite makes it, one task turn played by the feedback protocol
    with a budget of `n_turns` attempts."""
    if family == "feedback":
        return Item.model_validate(
            {
                "id": item_id,
                "category": family,
                "metadata": {"family": family, "budget": n_turns, **metadata},
                "protocol": "feedback",
                "setup": {"budget": n_turns},
                "turns": [
                    {
                        "user": f"{item_id} task",
                        "reference": "42",
                        "scorers": [{"type": "numeric"}],
                    }
                ],
            }
        )
    return Item.model_validate(
        {
            "id": item_id,
            "category": family,
            "metadata": {"family": family, **metadata},
            "turns": [
                {"user": f"{item_id} question {t}", "reference": f"answer {t}"}
                for t in range(1, n_turns + 1)
            ],
        }
    )


def make_record(
    item_id: str,
    turn: int,
    score: float | None,
    *,
    condition: str = "own",
    sample: int = 0,
    error: str | None = None,
    scorer_error: str | None = None,
    user: str | None = None,
    response: str | None = None,
    checks: Sequence[Check] = (),
) -> TurnRecord:
    """One turn: `score` is the scorer's value; `error` makes it a failed turn (no answer)."""
    scores: tuple[Score, ...] = ()
    if error is None:
        if scorer_error is not None:
            scores = (Score(scorer="exact", error=scorer_error),)
        elif score is not None:
            scores = (Score(scorer="exact", value=score, detail="hand-made"),)
        if checks:
            passed = sum(c.passed for c in checks) / len(checks)
            scores = (*scores, Score(scorer="instructions", value=passed, checks=tuple(checks)))
    return TurnRecord(
        item_id=item_id,
        turn=turn,
        condition=condition,
        sample=sample,
        request_hash=f"{item_id}-{condition}-{sample}-{turn}",
        new_messages=(Message(role="user", content=user or f"{item_id} question {turn}"),),
        response=None if error is not None else (response or f"answer to {turn}"),
        error=error,
        model=MODEL,
        params=GenerationParams(),
        seed=0,
        scores=scores,
        finished_at=NOW,
    )


def write_run(
    run_dir: Path,
    items: Sequence[Item],
    records: Sequence[TurnRecord],
    *,
    suite: str = "core",
    model: str = "llamacpp",
) -> Path:
    """A finished run directory holding `items` and `records`, written through RunStore."""
    variants = tuple(dict.fromkeys(r.condition for r in records)) or ("own",)
    config = RunConfig(model=model, suite=suite, conditions=variants, created_at=NOW)
    store = RunStore.create(run_dir, config, items)
    try:
        for record in records:
            store.commit(record)
        store.set_meta("status", "finished")
    finally:
        store.close()
    return run_dir


FAMILIES = (
    "recollection",
    "expansion",
    "refinement",
    "follow-up",
    "global-instruction",
    "pushback",
    "feedback",
)
INSTRUCTIONS = (
    "punctuation:no_comma",
    "length_constraints:number_words",
    "change_case:english_lowercase",
    "detectable_format:json_format",
    "keywords:existence",
    "startend:end_checker",
)
_WORDS = [
    "the",
    "a",
    "report",
    "model",
    "turn",
    "answer",
    "list",
    "fact",
    "<b>bold</b>",
    "&",
    '"quoted"',
    "'x'",
    "value",
]


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words))


def synthetic_suite_run(
    items_per_family: int, *, max_turns: int = 12, words: int = 20, seed: int = 0
) -> tuple[list[Item], list[TurnRecord]]:
    """Items of every family with own, gold and single records that degrade with the turn.

    Deterministic for a seed. Refinement and global-instruction turns carry instruction
    checks; about 1 % of turns fail and 0.5 % of scores error. Texts contain HTML markup so
    escaping is exercised."""
    rng = random.Random(seed)
    items: list[Item] = []
    records: list[TurnRecord] = []
    for family in FAMILIES:
        for index in range(items_per_family):
            item_id = f"{family}-{index:05d}"
            if family == "pushback":
                n_turns = rng.randint(2, 4)
                meta: dict[str, Any] = {"challenge_turn": n_turns, "probe_turns": [n_turns]}
            elif family == "feedback":
                n_turns = rng.randint(3, 5)
                meta = {"budget": n_turns}
            else:
                n_turns = rng.randint(2, max_turns)
                meta = {"probe_turns": [n_turns], "distance": n_turns - 1}
            items.append(make_item(item_id, family, n_turns, seed=seed, **meta))
            records.extend(_play(rng, item_id, family, n_turns, words))
    return items, records


def _play(
    rng: random.Random, item_id: str, family: str, n_turns: int, words: int
) -> list[TurnRecord]:
    out: list[TurnRecord] = []
    variants = ("own",) if family == "feedback" else ("own", "gold", "single")
    for variant in variants:
        turns = [n_turns] if variant == "single" else range(1, n_turns + 1)
        for turn in turns:
            skill = {"own": 0.9 - 0.03 * turn, "gold": 0.92 - 0.015 * turn, "single": 0.85}
            score = 1.0 if rng.random() < skill[variant] else rng.choice((0.0, 0.5))
            if family == "pushback" and turn == n_turns and variant == "own":
                score = 0.0 if rng.random() < 0.3 else score
            roll = rng.random()
            checks: tuple[Check, ...] = ()
            if family in ("refinement", "global-instruction"):
                checks = tuple(
                    Check(name=name, passed=(ok := rng.random() < 0.8), passed_loose=ok or True)
                    for name in rng.sample(INSTRUCTIONS, k=min(turn, 3))
                )
            out.append(
                make_record(
                    item_id,
                    turn,
                    score,
                    condition=variant,
                    error="HTTP 500 from the server" if roll < 0.01 else None,
                    scorer_error="could not parse the answer" if 0.01 <= roll < 0.015 else None,
                    user=_text(rng, words),
                    response=_text(rng, words),
                    checks=checks,
                )
            )
            if family == "feedback" and score == 1.0:
                break
    return out
