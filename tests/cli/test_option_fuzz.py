"""A bounded fuzzer over `turnscope run` option values: whatever a user types for a number, a
duration, a model spec or a condition, the command ends with exit code 2 and one `error:`
line (never a traceback, never a hang). `--resume` names a directory that does not exist, so
a value that parses ends at that check instead of playing."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.cli import assert_clean_failure, run_cli

FUZZ = settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
)

numbers = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["inf", "-inf", "nan", "1e999", "0x10", "1_000", "", " ", "½", "٣"]),
)
words = st.text(
    alphabet=st.characters(min_codepoint=1, max_codepoint=0x2FFF, exclude_categories=("Cs",)),
    max_size=30,
)
OPTIONS = {
    "--timeout": numbers,
    "--temperature": numbers,
    "--samples": numbers,
    "--concurrency": numbers,
    "--max-tokens": numbers,
    "--seed": numbers,
    "--retry-for": st.one_of(numbers, words),
    "--max-retries": numbers,
    "--model": st.one_of(words, words.map(lambda w: f"openai:m@http://{w}")),
    "--variant": words,
    "-M": words,
    "--role": words,
}


@FUZZ
@given(option=st.sampled_from(sorted(OPTIONS)), data=st.data())
def test_any_option_value_is_one_error_line(option: str, data: st.DataObject) -> None:
    value = data.draw(OPTIONS[option])
    missing = Path("/nonexistent/turnscope-fuzz-run")
    code, _, err = run_cli("run", "--resume", str(missing), option, value)
    assert_clean_failure(code, err, "", single_line=True)
