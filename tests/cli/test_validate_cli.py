"""`turnscope validate`: exit codes, one line per finding with file:line, hostile text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.cli import assert_clean_failure, run_cli

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "validate"


def test_a_clean_suite_exits_0() -> None:
    code, out, err = run_cli("validate", "starter")
    assert code == 0, err
    assert out.strip() == "starter: 20 items, no findings"


def test_findings_exit_1_one_line_each() -> None:
    path = FIXTURES / "reference_fails.yaml"
    code, out, _ = run_cli("validate", str(path))
    assert code == 1
    lines = out.strip().splitlines()
    assert lines[0].startswith(f"{path}:3: item 'wrong-gold', turn 1: reference-fails: ")
    assert lines[1].startswith(f"{path}:8: item 'gold-breaks-instruction', turn 1: ")
    assert lines[-1] == f"{path}: 2 findings in 2 of 3 items (reference-fails 2)"


def test_an_item_that_does_not_load_is_a_finding_not_an_error() -> None:
    code, out, err = run_cli("validate", str(FIXTURES / "invalid.jsonl"))
    assert code == 1, err
    assert "invalid: " in out and "invalid.jsonl:2" in out
    assert out.strip().endswith("1 finding in 1 of 2 items (invalid 1)")


@pytest.mark.parametrize(
    ("ref", "fragment"),
    [
        ("no-such-file.yaml", "no such file"),
        ("no-such-suite", "no built-in suite of that name"),
        ("core:x", "the seed must be a whole number"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(ref: str, fragment: str) -> None:
    code, _, err = run_cli("validate", ref)
    assert_clean_failure(code, err, fragment, single_line=True)


def test_a_suite_with_no_valid_item_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text('{"id": "x"}\n', encoding="utf-8")
    code, _, err = run_cli("validate", str(path))
    assert_clean_failure(code, err, "no valid items", single_line=True)


def test_hostile_ids_and_text_are_shown_escaped(tmp_path: Path) -> None:
    path = tmp_path / "hostile.jsonl"
    hostile_id = "\x1b]0;pwned\x07[bold]x[/bold]"
    row = {
        "id": hostile_id,
        "turns": [
            {
                "user": "\x1b[31mhow many?",
                "reference": "4 \u202e[red]",
                "scorers": [{"type": "numeric", "expected": 5}],
            }
        ],
    }
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    code, out, _ = run_cli("validate", str(path))
    assert code == 1
    assert "\x1b" not in out and "\u202e" not in out
    assert "\\x1b]0;pwned\\x07[bold]x[/bold]" in out  # shown literally, not as markup
    assert "reference-fails" in out
