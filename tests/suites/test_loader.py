from __future__ import annotations

import json
from pathlib import Path

import pytest

from turnscope.suites import SuiteError, load_suite_file, resolve_suite


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(path: Path, *rows: object) -> Path:
    return write(path, "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))


GOOD = {
    "id": "a",
    "turns": [{"user": "hi", "reference": "hello", "scorers": [{"type": "contains"}]}],
}


def test_starter_suite_is_complete() -> None:
    loaded = resolve_suite("starter")
    items = loaded.suite.items
    assert len(items) == 20
    assert all(3 <= len(item.turns) <= 6 for item in items)
    assert all(turn.reference is not None and turn.scorers for i in items for turn in i.turns)
    assert loaded.skipped == []


def test_reads_jsonl_and_yaml(tmp_path: Path, mini_suite: Path) -> None:
    suite = load_suite_file(jsonl(tmp_path / "s.jsonl", GOOD, {**GOOD, "id": "b"})).suite
    assert [i.id for i in suite.items] == ["a", "b"]
    assert [i.id for i in load_suite_file(mini_suite).suite.items] == [
        "mini-recall",
        "mini-math",
        "mini-capital",
    ]
    mapping = write(
        tmp_path / "m.yaml", "name: x\nitems:\n  - id: q\n    turns:\n      - user: hi\n"
    )
    assert load_suite_file(mapping).suite.items[0].id == "q"


def test_malformed_jsonl_line_names_file_and_line(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "s.jsonl", GOOD, '{"id": "b", "turns": [')
    with pytest.raises(SuiteError, match=r"s\.jsonl:2: invalid JSON"):
        load_suite_file(path)


def test_wrong_field_type_names_line_and_field(tmp_path: Path) -> None:
    bad = {"id": "b", "turns": [{"user": "hi", "reference": 5}]}
    path = jsonl(tmp_path / "s.jsonl", GOOD, bad)
    with pytest.raises(SuiteError, match=r"s\.jsonl:2: item 'b', field 'turns\.0\.reference'"):
        load_suite_file(path)


def test_yaml_error_points_at_the_nested_line(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.yaml",
        ("- id: a\n  turns:\n    - user: hi\n    - user: there\n      scorers: 7\n"),
    )
    with pytest.raises(SuiteError, match=r"s\.yaml:5: item 'a', field 'turns\.1\.scorers'"):
        load_suite_file(path)


def test_invalid_yaml_syntax(tmp_path: Path) -> None:
    path = write(tmp_path / "s.yaml", "- id: a\n  turns: [\n")
    with pytest.raises(SuiteError, match=r"s\.yaml:\d+: invalid YAML"):
        load_suite_file(path)


def test_duplicate_ids_are_an_error(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "s.jsonl", GOOD, GOOD)
    with pytest.raises(SuiteError, match=r"s\.jsonl:2: duplicate item id 'a' \(first at line 1\)"):
        load_suite_file(path)


@pytest.mark.parametrize(
    ("scorer", "message"),
    [
        ({"type": "nope"}, "unknown scorer type 'nope'"),
        ({"type": "contains", "colour": "red"}, "field 'colour'"),
        ({"type": "regex", "pattern": "("}, "invalid regular expression"),
        ({"type": "numeric", "abs_tol": -1}, "field 'abs_tol'"),
    ],
)
def test_bad_scorer_specs_fail_at_load(
    tmp_path: Path, scorer: dict[str, object], message: str
) -> None:
    row = {"id": "a", "turns": [{"user": "hi", "reference": "3", "scorers": [scorer]}]}
    with pytest.raises(SuiteError, match=message):
        load_suite_file(jsonl(tmp_path / "s.jsonl", row))


def test_reference_scorer_without_target_fails_at_load(tmp_path: Path) -> None:
    row = {"id": "a", "turns": [{"user": "hi", "scorers": [{"type": "exact"}]}]}
    with pytest.raises(SuiteError, match="needs `expected` or a turn reference"):
        load_suite_file(jsonl(tmp_path / "s.jsonl", row))


def test_skip_invalid_keeps_the_rest_and_counts(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "s.jsonl", GOOD, {"id": "b"}, "not json", {**GOOD, "id": "c"})
    loaded = load_suite_file(path, skip_invalid=True)
    assert [i.id for i in loaded.suite.items] == ["a", "c"]
    assert len(loaded.skipped) == 2


def test_file_problems(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="no such file"):
        load_suite_file(tmp_path / "missing.jsonl")
    with pytest.raises(SuiteError, match=r"unknown suite format '\.txt'"):
        load_suite_file(write(tmp_path / "s.txt", "x"))
    with pytest.raises(SuiteError, match="no valid items"):
        load_suite_file(write(tmp_path / "e.jsonl", "\n"))
    with pytest.raises(SuiteError, match="no built-in suite of that name"):
        resolve_suite("no-such-suite")
