"""Aptitude, unreliability and spoilt conversations on hand-made simulated records whose
figures are worked out by hand."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from helpers.synthetic_runs import make_record
from turnscope.analysis import analyse, item_scores
from turnscope.core import Item, TurnRecord
from turnscope.protocols import SPOILT
from turnscope.report.terminal import render_multiturn


def item(item_id: str) -> Item:
    return Item.model_validate(
        {
            "id": item_id,
            "protocol": "simulated",
            "category": "sharded",
            "turns": [{"user": "task", "reference": "1", "scorers": [{"type": "exact"}]}],
            "setup": {"persona": "p", "goal": "g", "shards": [{"text": "a"}, {"text": "b"}]},
        }
    )


def user(item_id: str, turn: int, sample: int, *flags: str, error: str | None = None) -> TurnRecord:
    record = make_record(item_id, turn, None, condition="sharded", sample=sample, error=error)
    return record.model_copy(update={"role": "user", "flags": flags})


def conversation(item_id: str, sample: int, last: float) -> list[TurnRecord]:
    """Two attempts; the second (last) decides the conversation."""
    return [
        make_record(item_id, 1, 0.0, condition="sharded", sample=sample),
        make_record(item_id, 2, last, condition="sharded", sample=sample),
    ]


ITEMS = [item("a"), item("b"), item("c")]
# Item a: last attempts 1, 1, 0, 0, 1 over five samples; item b: always 0; item c: one sample.
RECORDS = [
    *(r for s, v in enumerate((1.0, 1.0, 0.0, 0.0, 1.0)) for r in conversation("a", s, v)),
    *(r for s in range(5) for r in conversation("b", s, 0.0)),
    *conversation("c", 0, 1.0),
]


def test_aptitude_and_unreliability_are_percentiles_over_samples() -> None:
    result = analyse(RECORDS, ITEMS, resamples=200)
    # a: p90 of (0,0,1,1,1) = 1, p10 = 0; b: 0 and 0; c has one sample and is left out.
    aptitude, unreliability = result.aptitude["sharded"], result.unreliability["sharded"]
    assert aptitude.n == unreliability.n == 2
    assert aptitude.mean == pytest.approx(0.5) and unreliability.mean == pytest.approx(0.5)
    # The score itself is the mean over items of the mean last attempt.
    assert result.overall["sharded"].mean == pytest.approx((0.6 + 0.0 + 1.0) / 3)


def test_a_single_sample_gives_no_aptitude() -> None:
    result = analyse(conversation("c", 0, 1.0), ITEMS, resamples=50)
    assert result.aptitude == {} and result.unreliability == {}


def test_a_conversation_the_simulator_spoilt_is_left_out_and_counted_apart() -> None:
    serving = [
        user("a", 1, 0),
        user("a", 2, 2, "sim:leak", SPOILT),  # a, sample 2 (scored 0.0) is spoilt
        user("b", 1, 0, "sim:repeat"),  # counted, spoils nothing
        user("b", 2, 4, "sim:error", SPOILT, error="HTTP 500"),
    ]
    result = analyse(RECORDS, ITEMS, serving=serving, resamples=200)
    assert result.spoilt == {"sharded": 2}
    assert result.findings == {"sim:leak": 1, "sim:repeat": 1, "sim:error": 1}
    stats = result.serving["user"]
    assert (stats.records, stats.errors, stats.flagged) == (4, 1, 3)
    # a without sample 2: (1 + 1 + 0 + 1) / 4; b: 0 over four samples; c: 1.
    assert result.overall["sharded"].mean == pytest.approx((0.75 + 0.0 + 1.0) / 3)
    assert item_scores(RECORDS, ITEMS, serving)["sharded"]["a"] == pytest.approx(0.75)
    # A spoilt flag on a target record spoils its conversation too.
    cut = [r.model_copy(update={"flags": (SPOILT,)}) if r.item_id == "c" else r for r in RECORDS]
    assert "c" not in item_scores(cut, ITEMS)["sharded"]
    # The turns stay counted; the target's own errors too.
    assert result.turns == len(RECORDS)

    out = io.StringIO()
    render_multiturn(result, Console(file=out, width=200))
    text = out.getvalue()
    assert "simulator errors (not the target's failures)" in text
    assert "user: 4 messages, 1 errors, 3 flagged" in text
    assert "spoilt conversations, left out of the scores: sharded 2" in text
    assert "aptitude (sharded" in text and "unreliability (sharded" in text
