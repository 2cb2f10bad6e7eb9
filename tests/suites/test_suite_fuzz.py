"""A bounded fuzzer over suite files: whatever a JSON Lines, YAML or IFEval file holds, loading
it gives items or a SuiteError whose message is one line naming the file, never another
exception, and never takes long. Each test is capped in examples so CI spends seconds here."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from turnscope.suites import SuiteError, load_suite_file, resolve_suite

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,  # the same examples on every run: CI stays reproducible
)
PER_LOAD_S = 10.0
_SURROGATE = re.compile("[\ud800-\udfff]")

# Text with what parsers and the data model trip on: surrogates, NUL, BOM, markup, dollars.
hostile_text = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0, max_codepoint=0x10FFFF),
        st.sampled_from(["\ud800", "\x00", "\ufeff", "$", "\\", "<", "[", "]", "\n", "{"]),
    ),
    max_size=40,
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**120), max_value=10**120),
    st.floats(allow_nan=True, allow_infinity=True),
    hostile_text,
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(hostile_text, inner, max_size=4)
    ),
    max_leaves=20,
)
scorer = st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(["regex", "exact", "contains", "judge"])}),
    st.fixed_dictionaries(
        {
            "type": st.just("regex"),
            "pattern": st.one_of(
                hostile_text,
                st.sampled_from(["a{99999999999}", "(a|aa)+$", "(?:x{65535}){100}", "(", "\\"]),
            ),
        }
    ),
    st.dictionaries(hostile_text, values, max_size=3),
)
turn = st.fixed_dictionaries(
    {"user": st.one_of(hostile_text, values)},
    optional={
        "reference": st.one_of(hostile_text, values),
        "scorers": st.lists(scorer, max_size=3),
    },
)
item = st.fixed_dictionaries(
    {"id": st.one_of(hostile_text, values), "turns": st.one_of(st.lists(turn, max_size=3), values)},
    optional={"category": st.one_of(hostile_text, values), "metadata": values},
)


def assert_loads_or_one_line(path: Path, load: Any = None) -> None:
    started = time.monotonic()
    try:
        (load or load_suite_file)(path)
    except SuiteError as exc:
        message = str(exc)
        assert message and "\n" not in message, message
        assert str(path) in message or path.name in message, message
    assert time.monotonic() - started < PER_LOAD_S


def write_items(path: Path, items: list[Any]) -> None:
    # json.dumps writes NaN/Infinity and escapes lone surrogates: both reach the parser. Every
    # other line is written unescaped (raw U+2028, U+0085 ... inside strings), where encodable.
    lines = []
    for number, value in enumerate(items):
        raw = json.dumps(value, ensure_ascii=number % 2 == 0)
        lines.append(raw if not _SURROGATE.search(raw) else json.dumps(value))
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


@FUZZ
@given(items=st.lists(st.one_of(item, values), min_size=1, max_size=3))
def test_jsonl_items(tmp_path: Path, items: list[Any]) -> None:
    path = tmp_path / "fuzz.jsonl"
    write_items(path, items)
    assert_loads_or_one_line(path)


# Fragments of YAML syntax, joined at random: anchors, aliases, merges, flow and block nesting,
# tags, quoted escapes and numbers.
YAML_PIECES = [
    "- ",
    "id: ",
    "turns: ",
    "user: ",
    "metadata: ",
    "scorers: ",
    "type: regex",
    "pattern: ",
    "&a ",
    "*a",
    "&b ",
    "*b",
    "<<: ",
    "[",
    "]",
    "{",
    "}",
    ", ",
    ": ",
    "\n",
    "\n  ",
    "\n    ",
    "'",
    '"',
    '"\\ud800"',
    "!!str ",
    "!!int ",
    "!!python/object ",
    "? ",
    "|",
    ">",
    "#",
    "9" * 120,
    ".nan",
    ".inf",
    "~",
    "x",
    "hi",
    "a{99999999999}",
    "\ufeff",
    "---\n",
    "...\n",
    "%YAML 1.1\n",
]


@FUZZ
@given(pieces=st.lists(st.sampled_from(YAML_PIECES), max_size=40))
def test_yaml_text(tmp_path: Path, pieces: list[str]) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text("".join(pieces), encoding="utf-8")
    assert_loads_or_one_line(path)


@FUZZ
@given(items=st.lists(item, min_size=1, max_size=3))
def test_yaml_items(tmp_path: Path, items: list[Any]) -> None:
    path = tmp_path / "fuzz.yaml"
    # JSON is YAML: the same hostile items, through the YAML loader.
    path.write_text(json.dumps(items), encoding="utf-8")
    assert_loads_or_one_line(path)


ifeval_row = st.fixed_dictionaries(
    {
        "key": st.one_of(st.integers(), hostile_text, values),
        "prompt": st.one_of(hostile_text, values),
        "instruction_id_list": st.one_of(
            st.lists(st.sampled_from(["keywords:existence", "keywords:letter_frequency"])),
            values,
        ),
        "kwargs": st.one_of(
            st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "keywords": st.lists(hostile_text, max_size=2),
                        "letter": hostile_text,
                        "let_frequency": values,
                        "let_relation": st.sampled_from(["less than", "at least", "x"]),
                    },
                )
            ),
            values,
        ),
    }
)


@FUZZ
@given(rows=st.lists(ifeval_row, min_size=1, max_size=3))
def test_ifeval_rows(tmp_path: Path, rows: list[Any]) -> None:
    path = tmp_path / "ifeval.jsonl"
    write_items(path, rows)
    assert_loads_or_one_line(path, lambda p: resolve_suite(f"ifeval:{p}"))
