"""Hostile suite files: every limit of docs/suite-format.md gives one line naming file, line and
field, quickly, for JSON Lines, YAML and the benchmark adapters alike."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from turnscope.suites import SuiteError, load_suite_file, resolve_suite
from turnscope.suites.limits import (
    MAX_DEPTH,
    MAX_INT_DIGITS,
    MAX_LINE_CHARS,
    MAX_STRING_CHARS,
    check_value,
)

ITEM = '{"id": "a", "turns": [{"user": "hi"}], "metadata": {"x": %s}}'
YAML_ITEM = "- id: a\n  turns: [{user: hi}]\n  metadata:\n    x: %s\n"


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def billion_laughs(levels: int = 10) -> str:
    lines = ["- id: laughs", "  turns: [{user: hi}]", "  metadata:"]
    lines.append('    l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]')
    for level in range(1, levels):
        lines.append(f"    l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def load_error(path: Path, text: str, encoding: str = "utf-8") -> str:
    path.write_text(text, encoding=encoding)
    started = time.monotonic()
    with pytest.raises(SuiteError) as raised:
        load_suite_file(path)
    assert time.monotonic() - started < 10
    message = str(raised.value)
    assert "\n" not in message and message.startswith(f"{path}:")
    return message


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("deep.jsonl", ITEM % nested(2000), ":1: invalid JSON: nested more than 64 levels deep"),
        ("deeper.jsonl", ITEM % nested(500), "field 'metadata.x.0.0.0"),
        ("deep.yaml", YAML_ITEM % nested(2000), ":4: invalid YAML: nested more than 64 levels"),
        ("big.jsonl", ITEM % ("9" * 5000), ":1: an integer of 5,000 digits (at most 100)"),
        ("big.yaml", YAML_ITEM % ("9" * 5000), ":4: invalid YAML: an integer of 5,000 digits"),
        ("inf.jsonl", ITEM % "1e999", "too large to be finite"),
        ("nan.jsonl", ITEM % "NaN", "NaN is not a JSON number"),
        ("nan.yaml", YAML_ITEM % ".nan", "field 'metadata.x': the number nan is not finite"),
        (
            "surrogate.jsonl",
            '{"id": "a", "turns": [{"user": "hi \\ud800"}]}',
            ":1: item 'a', field 'turns.0.user': a lone surrogate U+D800",
        ),
        (
            "surrogate.yaml",
            '- id: a\n  turns:\n    - user: "hi \\udc80"\n',
            ":3: item 'a', field 'turns.0.user': a lone surrogate U+DC80",
        ),
        (
            "key.yaml",
            '- id: a\n  turns: [{user: hi}]\n  metadata: {"\\ud800": 1}\n',
            "field 'metadata': key: a lone surrogate",
        ),
        ("recursive.yaml", "- &a\n  id: a\n  turns: [{user: hi}]\n  metadata: {x: *a}\n", ":1: "),
        ("laughs.yaml", billion_laughs(), "aliases expand the document beyond 1,000,000 values"),
        (
            "regex.jsonl",
            json.dumps(
                {
                    "id": "a",
                    "turns": [
                        {"user": "hi", "scorers": [{"type": "regex", "pattern": "a{99999999999}"}]}
                    ],
                }
            ),
            ":1: item 'a', field 'turns.0.scorers.0': scorer 'regex', field 'pattern'",
        ),
        (
            "dup.jsonl",
            '{"id": "a", "id": "b", "turns": [{"user": "hi"}]}',
            ":1: duplicate key 'id'",
        ),
        (
            "dup.yaml",
            "- id: a\n  turns: [{user: hi}]\n  id: b\n",
            ":3: invalid YAML: duplicate key 'id' (first at line 1)",
        ),
        (
            "tag.yaml",
            "- id: a\n  turns: [{user: hi}]\n  metadata: {x: !!int ''}\n",
            ":3: invalid YAML: cannot read this value",
        ),
        ("long.jsonl", ITEM % json.dumps("x" * (MAX_STRING_CHARS + 1)), "(at most 1,000,000)"),
        ("line.jsonl", " " * (MAX_LINE_CHARS + 1) + "{}", ":1: a line of"),
    ],
)
def test_a_hostile_file_is_one_line_naming_file_and_line(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    assert expected in load_error(tmp_path / name, text)


def test_a_recursive_alias_is_named_as_such(tmp_path: Path) -> None:
    text = "- &a\n  id: a\n  turns: [{user: hi}]\n  metadata: {x: *a}\n"
    assert "a recursive alias" in load_error(tmp_path / "recursive.yaml", text)


def test_aliases_within_the_limits_still_load(tmp_path: Path) -> None:
    path = tmp_path / "anchors.yaml"
    path.write_text(
        "- id: a\n  turns:\n    - &turn {user: hi, scorers: [{type: exact, expected: hi}]}\n"
        "    - *turn\n- id: b\n  <<: {category: shared}\n  turns: [*turn]\n",
        encoding="utf-8",
    )
    items = load_suite_file(path).suite.items
    assert [len(i.turns) for i in items] == [2, 1] and items[1].category == "shared"
    # The laughs stop at three levels (729 strings): far within the limit.
    path.write_text(billion_laughs(3), encoding="utf-8")
    (item,) = load_suite_file(path).suite.items
    assert len(item.metadata["l2"]) == 9


def test_limits_at_their_edge_are_accepted(tmp_path: Path) -> None:
    # The item itself takes a level and metadata another: x's value may nest MAX_DEPTH - 2.
    path = tmp_path / "edge.jsonl"
    deepest = ITEM % nested(MAX_DEPTH - 2)
    biggest = ITEM % ("9" * MAX_INT_DIGITS)
    path.write_text(deepest + "\n" + biggest.replace('"a"', '"b"') + "\n", encoding="utf-8")
    items = load_suite_file(path).suite.items
    assert items[1].metadata["x"] == int("9" * MAX_INT_DIGITS)
    path.write_text(ITEM % nested(MAX_DEPTH - 1) + "\n", encoding="utf-8")
    with pytest.raises(SuiteError, match="nested more than 64 levels deep"):
        load_suite_file(path)


def test_a_byte_order_mark_is_accepted_in_every_format(tmp_path: Path) -> None:
    for name, text in [
        ("bom.jsonl", '{"id": "a", "turns": [{"user": "hi"}]}\n'),
        ("bom.yaml", "- id: a\n  turns: [{user: hi}]\n"),
    ]:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8-sig")
        assert [i.id for i in load_suite_file(path).suite.items] == ["a"]
    rows = tmp_path / "ifeval.jsonl"
    row = {"key": 1, "prompt": "Hi.", "instruction_id_list": [], "kwargs": []}
    rows.write_text(json.dumps(row) + "\n", encoding="utf-8-sig")
    assert [i.id for i in resolve_suite(f"ifeval:{rows}").suite.items] == ["ifeval-1"]
    csv_file = tmp_path / "multi.csv"
    csv_file.write_text(
        "key,language,turn_1_prompt,turn_1_instruction_id_list,turn_1_kwargs\n"
        'k,English,"{""role"": ""user"", ""content"": ""Hi.""}",[],[]\n',
        encoding="utf-8-sig",
    )
    assert [i.id for i in resolve_suite(f"multi-if:{csv_file}").suite.items] == ["multi-if-k"]


def test_benchmark_rows_keep_to_the_same_limits(tmp_path: Path) -> None:
    rows = tmp_path / "ifeval.jsonl"
    good = {"key": 1, "prompt": "Hi.", "instruction_id_list": [], "kwargs": []}
    rows.write_text(
        json.dumps(good)
        + "\n"
        + '{"key": 2, "key": 3, "prompt": "x", "instruction_id_list": [], "kwargs": []}\n'
        + '{"key": 4, "prompt": "\\ud800", "instruction_id_list": [], "kwargs": []}\n',
        encoding="utf-8",
    )
    shapeless = tmp_path / "shapeless.jsonl"
    shapeless.write_text(json.dumps({**good, "kwargs": 1}) + "\n", encoding="utf-8")
    with pytest.raises(SuiteError, match="kwargs must be two lists"):
        resolve_suite(f"ifeval:{shapeless}")
    with pytest.raises(SuiteError, match=r"ifeval.jsonl:2: duplicate key 'key'"):
        resolve_suite(f"ifeval:{rows}")
    loaded = resolve_suite(f"ifeval:{rows}", skip_invalid=True)
    assert [i.id for i in loaded.suite.items] == ["ifeval-1"]
    assert "a lone surrogate" in loaded.skipped[1]


def test_check_value_names_the_path() -> None:
    with pytest.raises(ValueError, match="lone surrogate") as raised:
        check_value({"a": [1, {"b": "x\udfff"}]})
    assert raised.value.loc == ("a", 1, "b")  # type: ignore[attr-defined]


def test_check_value_finds_what_its_quick_pass_would_let_through() -> None:
    deepest_allowed: object = "leaf"
    for _ in range(MAX_DEPTH - 1):
        deepest_allowed = [deepest_allowed]
    check_value(deepest_allowed)  # the leaf is the 64th level: allowed
    with pytest.raises(ValueError, match="nested more than"):
        check_value([deepest_allowed])
    check_value({"empty": [[]] * 3, "ascii": "x" * 100, "wide": "\u00e9\u4e2d"})
    with pytest.raises(ValueError, match="lone surrogate"):
        check_value({"key\ud800": 1})
    with pytest.raises(ValueError, match="not finite"):
        check_value([1.0, float("inf")])


def test_only_newline_ends_a_json_line(tmp_path: Path) -> None:
    path = tmp_path / "separators.jsonl"
    text = "x\u2028y\x85z\x1cw\r"
    item = {"id": "a", "turns": [{"user": text}]}
    path.write_text(json.dumps(item, ensure_ascii=False) + "\r\n", encoding="utf-8")
    (loaded,) = load_suite_file(path).suite.items
    assert loaded.turns[0].user == text


def test_aliases_cannot_nest_deeper_than_the_limit(tmp_path: Path) -> None:
    # Each part nests 40 levels, within the limit; the alias puts one inside the other.
    text = (
        f"- id: a\n  turns: [{{user: hi}}]\n  metadata:\n    inner: &deep {nested(40)}\n"
        f"    outer: {'[' * 40}*deep{']' * 40}\n"
    )
    assert "nested more than 64 levels deep (through aliases)" in load_error(
        tmp_path / "aliases.yaml", text
    )


def test_a_file_over_the_size_limit_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import turnscope.suites.loader as loader

    monkeypatch.setattr(loader, "MAX_FILE_BYTES", 100)
    message = load_error(tmp_path / "big.jsonl", ITEM % json.dumps("x" * 200))
    assert "the file has 261 bytes (a suite file may have at most 100)" in message


def test_a_value_an_adapter_validates_itself_is_one_line_too(tmp_path: Path) -> None:
    # MINT puts a code task's tests in the tools setup, whose own model refused a lone
    # surrogate with a pydantic traceback
    folder = tmp_path / "mint" / "humaneval"
    folder.mkdir(parents=True)
    row = {"id": 1, "prompt": "def f():", "reference": "assert f() == \udc80"}
    text = json.dumps(row) + "\n"
    (folder / "test_prompts.json").write_text(text, encoding="utf-8")
    with pytest.raises(SuiteError) as raised:
        resolve_suite(f"mint:{tmp_path / 'mint'}")
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"{folder / 'test_prompts.json'}:1: ")
    assert "field 'tests'" in message and "unicode" in message
