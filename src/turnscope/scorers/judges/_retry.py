"""The retry policy for unparseable verdicts, and the judge error recorded when it runs out."""

from __future__ import annotations

from collections.abc import Sequence

from turnscope.scorers.judges._base import VerdictParseError

JUDGE_MAX_PARSE_ATTEMPTS = 3
"""Requests per judgment (the first and two retries) before the judgment is an error."""

RAW_EXCERPT_CHARS = 300
"""How much of each unparseable text an error keeps: the verdict is usually at the end, so a
long text keeps its start and its end."""


def excerpt(raw: str, limit: int = RAW_EXCERPT_CHARS) -> str:
    """`raw` quoted on one line, shortened to about `limit` characters by cutting the middle."""
    text = raw.strip()
    if len(text) > limit:
        head = limit // 3
        tail = limit - head
        text = f"{text[:head]} [... {len(text) - limit} characters cut ...] {text[-tail:]}"
    return repr(text)


def parse_failure_text(failures: Sequence[VerdictParseError]) -> str:
    """The judge error recorded when no attempt gave a parseable verdict: for each attempt,
    what was wrong and the raw text (shortened)."""
    if not failures:
        raise ValueError("no failed attempts to describe")
    parts = [
        f"attempt {number}: {failure} — text: {excerpt(failure.raw)}"
        for number, failure in enumerate(failures, 1)
    ]
    return f"no parseable verdict in {len(failures)} attempt(s); " + "; ".join(parts)
