"""The Python API: `turnscope.evaluate` plays a suite against the real embedded model like
`turnscope run` does, and a suite declared in Python with `@turnscope.suite` plays from the
command line."""

from __future__ import annotations

from pathlib import Path

import pytest

import turnscope
from helpers.cli import run_cli
from turnscope.store import RunStore
from turnscope.suites import SuiteError, resolve_suite

CAPITALS = """
import turnscope

@turnscope.suite(conditions=("own", "gold"), max_tokens=8)
def capitals():
    for country, capital in [("France", "Paris"), ("Peru", "Lima")]:
        yield {
            "id": f"capital-{country}",
            "turns": [
                {"user": "Answer in one word.", "reference": "OK"},
                {"user": f"What is the capital of {country}?", "reference": capital,
                 "scorers": [{"type": "contains"}]},
            ],
        }

@turnscope.suite()
def broken():
    yield {"id": "x", "turns": "not a list"}
"""


def test_evaluate_plays_items_and_returns_the_analysis(tmp_path: Path, gguf_path: Path) -> None:
    items = [
        turnscope.Item.model_validate(
            {
                "id": f"echo-{word}",
                "turns": [
                    {
                        "user": f"Repeat the word {word}.",
                        "reference": word,
                        "scorers": [{"type": "contains"}],
                    },
                    {
                        "user": "Now say it again.",
                        "reference": word,
                        "scorers": [{"type": "contains"}],
                    },
                ],
            }
        )
        for word in ("apple", "river")
    ]
    result = turnscope.evaluate(
        items,
        model="llamacpp",
        conditions=["own", "gold"],
        max_tokens=8,
        runs_dir=tmp_path / "runs",
        model_options={"n_ctx": 1024},
    )
    assert result.failed == 0 and result.outcome.engine.turns_recorded == 8
    assert set(result.scores) == {"own", "gold"} and result.scores["own"].n == 2
    assert result.analysis.gap("own − gold") is not None
    store = RunStore.open(result.run_dir)  # an ordinary run directory
    assert store.answered_count() == 8 and store.status() == "finished"
    store.close()


def test_a_bad_condition_is_refused_before_anything_is_played(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown condition 'sideways'"):
        turnscope.evaluate("starter", conditions=["sideways"], runs_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_a_python_suite_loads_plays_and_reports_its_errors(tmp_path: Path) -> None:
    path = tmp_path / "my_suites.py"
    path.write_text(CAPITALS, encoding="utf-8")
    loaded = resolve_suite(f"{path}:capitals")
    assert [item.id for item in loaded.suite.items] == ["capital-France", "capital-Peru"]
    assert loaded.conditions == ("own", "gold") and loaded.max_tokens == 8
    with pytest.raises(SuiteError, match="declares several suites"):
        resolve_suite(str(path))
    with pytest.raises(SuiteError, match=r"my_suites.py:broken:1: item 'x', field 'turns'"):
        resolve_suite(f"{path}:broken")
    code, _, err = run_cli("run", "-s", f"{path}:nope", "--runs-dir", str(tmp_path / "runs"))
    assert code == 2 and "no suite 'nope' (declared: broken, capitals)" in err
