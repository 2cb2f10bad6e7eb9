"""The HTML report's content: sections, escaping, no-data notes, self-containment."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpers.synthetic_runs import make_item, make_record, synthetic_suite_run, write_run
from turnscope.core import Item, Score
from turnscope.report import REPORT_FILE, write_run_report
from turnscope.report.html import WORST_CONVERSATIONS
from turnscope.store import RunStore

CHART_KEYS = (
    "by-turn",
    "by-distance",
    "gap-own-single",
    "gap-own-gold",
    "by-family",
    "success-at-k",
    "by-instruction",
)
GAP_CHARTS = ("gap-own-single", "gap-own-gold")
"""One chart per gap the run's protocols declare, drawn only when both conditions were played."""


def _build(run_dir: Path) -> str:
    store = RunStore.open(run_dir)
    try:
        path = write_run_report(store)
    finally:
        store.close()
    assert path == run_dir / REPORT_FILE
    return path.read_text(encoding="utf-8")


def _chart(html: str, key: str) -> str:
    match = re.search(rf'<figure class="chart" id="chart-{key}".*?</figure>', html, re.S)
    assert match, key
    return match.group(0)


@pytest.fixture(scope="module")
def suite_report(tmp_path_factory: pytest.TempPathFactory) -> str:
    items, records = synthetic_suite_run(5, seed=3)
    run_dir = write_run(tmp_path_factory.mktemp("r") / "run", items, records)
    return _build(run_dir)


def test_every_plot_has_a_figure(suite_report: str) -> None:
    for key in CHART_KEYS:
        figure = _chart(suite_report, key)
        assert "<svg" in figure and "<path" in figure, key
        assert "No data for this plot" not in figure


def test_self_contained(suite_report: str) -> None:
    assert "<script" not in suite_report
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", suite_report)
    assert "@import" not in suite_report
    # url() only for in-document references (SVG clip paths).
    assert not re.search(r"url\((?!#)", suite_report)


def test_headline_and_error_counts(suite_report: str) -> None:
    assert "multi − single" in suite_report and "own − gold" in suite_report
    assert "flip rate (pushback)" in suite_report
    assert re.search(r"\d+ turn · \d+ scorer", suite_report)
    assert "HTTP 500 from the server" in suite_report  # the errors table


def test_worst_conversations_are_capped(suite_report: str) -> None:
    assert suite_report.count('<details class="conversation">') == WORST_CONVERSATIONS


def test_model_text_is_escaped(tmp_path: Path) -> None:
    evil = "<script>alert('x')</script><img src=x onerror=alert(1)>"
    # The family name reaches the chart labels (matplotlib's SVG) and the tables.
    items = [make_item("evil", "<b>family</b>", 1)]
    records = [make_record("evil", 1, 0.0, user=evil, response=evil)]
    html = _build(write_run(tmp_path / "run", items, records))
    assert "<script>" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "&lt;b&gt;family&lt;/b&gt;" in _chart(html, "by-family")


@pytest.mark.parametrize("family", ["$\\frac{1}{$", "$x$ and $y$", "cost: $5 or $6", "a_b^c"])
def test_labels_are_never_read_as_mathtext(tmp_path: Path, family: str) -> None:
    items = [make_item("m", family, 1)]
    html = _build(write_run(tmp_path / "run", items, [make_record("m", 1, 1.0)]))
    chart = _chart(html, "by-family")
    assert "<svg" in chart
    # Shown as written (XML-escaped), not typeset and not a parse error.
    assert family.replace("&", "&amp;") in chart


def test_a_run_not_from_the_builtin_suite_says_what_has_no_data(tmp_path: Path) -> None:
    # A starter-like run: plain categories, no suite metadata, only the own variant.
    items = [
        Item.model_validate({"id": f"q{i}", "category": "knowledge", "turns": [{"user": "?"}] * 2})
        for i in range(3)
    ]
    records = [make_record(f"q{i}", t, float(i % 2)) for i in range(3) for t in (1, 2)]
    html = _build(write_run(tmp_path / "run", items, records, suite="starter"))
    assert "<svg" in _chart(html, "by-turn") and "<svg" in _chart(html, "by-family")
    # Plots without data are left out, and named in one line.
    for key in ("by-distance", "success-at-k", "by-instruction"):
        assert f'id="chart-{key}"' not in html, key
    assert "No data for this plot" not in html
    assert (
        "Not drawn, no data in this run: Score by distance; Success at k (feedback); "
        "Instruction following per instruction type." in html
    )
    for key in GAP_CHARTS:
        assert f'id="chart-{key}"' not in html
    assert "No pushback items in this run." in html
    assert "No feedback items in this run." in html


def test_an_empty_run_still_gets_a_report(tmp_path: Path) -> None:
    html = _build(write_run(tmp_path / "run", [make_item("a", "recollection", 1)], []))
    assert 'class="chart"' not in html and "No plot has data in this run." in html
    assert "No conversations recorded." in html


def test_a_score_without_value_or_error_reads_not_scored(tmp_path: Path) -> None:
    # The instructions scorer gives such a score on a turn with no instruction in force.
    items = [make_item("plain", "refinement", 2), make_item("design", "follow-up", 1)]
    unscored = Score(scorer="instructions", detail="no instruction in force at this turn")
    records = [
        make_record("plain", 1, 0.0).model_copy(update={"scores": (unscored,)}),
        make_record("plain", 2, 0.0),
        # No score and no error anywhere: nothing to show among the worst conversations.
        make_record("design", 1, None),
    ]
    html = _build(write_run(tmp_path / "run", items, records))
    worst = html.split("<h2>Worst conversations</h2>", 1)[1]
    assert "instructions: not scored (no instruction in force at this turn)" in worst
    assert "<strong>plain</strong>" in worst and "<strong>design</strong>" not in worst


def _worst_ids(html: str) -> list[str]:
    worst = html.split("<h2>Worst conversations</h2>", 1)[1]
    return re.findall(r"<summary><strong>([^<]+)</strong>", worst)


def test_worst_conversations_rank_by_key_turns_then_progress_then_family(tmp_path: Path) -> None:
    items = [
        # Distractor turns fail but the key turn holds: a good conversation, not a bad one.
        make_item("a-distracted", "recollection", 3, probe_turns=[3]),
        # Fails only at its last key turn, so it got further than the next two.
        make_item("b-late", "refinement", 3, probe_turns=[1, 2, 3]),
        make_item("c-early", "refinement", 3, probe_turns=[1, 2, 3]),
        make_item("d-early", "refinement", 3, probe_turns=[1, 2, 3]),
        make_item("e-early", "expansion", 3, probe_turns=[1, 2, 3]),
        make_item("f-early", "expansion", 3, probe_turns=[1, 2, 3]),
    ]
    records = [
        *(make_record("a-distracted", t, 1.0 if t == 3 else 0.0) for t in (1, 2, 3)),
        *(make_record("b-late", t, 1.0 if t < 3 else 0.0) for t in (1, 2, 3)),
        *(
            make_record(i, t, 1.0 if t > 1 else 0.0)
            for i in ("c-early", "d-early")
            for t in (1, 2, 3)
        ),
        *(
            make_record(i, t, 1.0 if t > 1 else 0.0)
            for i in ("e-early", "f-early")
            for t in (1, 2, 3)
        ),
    ]
    html = _build(write_run(tmp_path / "run", items, records))
    # c, d, e, f tie (2/3, first wrong at turn 1): each family's first (expansion's, then
    # refinement's), then each family's second; b (2/3, wrong at turn 3) after them; a (1.0
    # on its key turn) last. By mean turn score, a (0.333) came first.
    assert _worst_ids(html) == [
        "e-early",
        "c-early",
        "f-early",
        "d-early",
        "b-late",
        "a-distracted",
    ]
    # Key turns are marked in the transcript: one for a-distracted, three each for the others.
    assert html.count('<span class="key">key turn</span>') == 1 + 1 + 3 * 5


def test_title_names_the_model_file_and_the_error_card_is_neutral_at_zero(tmp_path: Path) -> None:
    items = [make_item("q", "knowledge", 1)]
    html = _build(write_run(tmp_path / "run", items, [make_record("q", 1, 1.0)], model="llamacpp"))
    # The records name the model that answered (MODEL: test / hand-made).
    assert "<h1>llamacpp (hand-made) on core</h1>" in html
    assert "<title>turnscope: llamacpp (hand-made) on core</title>" in html
    assert 'class="card errors"' not in html and "0 turn · 0 scorer" in html
    failed = [make_record("q", 1, None, error="HTTP 500")]
    html = _build(write_run(tmp_path / "failed", items, failed))
    assert 'class="card errors"' in html
