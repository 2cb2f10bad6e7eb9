"""The flag tally counts a flag that carries a measure (echo-removed:N) under its kind, so a
run's table has one row per kind, not one per measured value."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from turnscope.analysis.flags import flag_kind, flag_report


@dataclass(frozen=True)
class Row:
    item_id: str
    condition: str
    sample: int
    flags: tuple[str, ...]


@pytest.mark.parametrize(
    ("flag", "kind"),
    [
        ("echo-removed:37", "echo-removed"),
        ("tool:invalid", "tool:invalid"),
        ("tool:python", "tool:python"),
        ("sanitised", "sanitised"),
        ("odd:", "odd:"),
        ("a:b:12", "a:b"),
    ],
)
def test_a_measured_flag_counts_as_its_kind(flag: str, kind: str) -> None:
    assert flag_kind(flag) == kind


def test_measured_flags_share_one_row_per_condition() -> None:
    rows = [
        Row("a", "single", 0, ("echo-removed:14",)),
        Row("b", "single", 0, ("echo-removed:31", "tool:invalid")),
        Row("b", "single", 0, ("echo-removed:5",)),
    ]
    report = flag_report(rows, {"single": 4})
    assert report is not None
    assert report.flags == ["echo-removed", "tool:invalid"]
    echo = report.by_condition["single"]["echo-removed"]
    assert (echo.occurrences, echo.conversations, echo.per_conversation) == (3, 2, 0.75)
