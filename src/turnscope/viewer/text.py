"""Hostile text made fit for a page: every character visible, and a bound on length.

Jinja's autoescaping keeps model output from becoming markup; this keeps it from hiding or
breaking what is around it. NUL and the other control characters (an ANSI colour sequence, a
carriage return) become their visible Unicode "control picture" symbols, bidi overrides that
would reorder the text read are shown as escapes, a lone surrogate (which UTF-8 cannot carry)
becomes U+FFFD, and a 1 MB answer is cut with a note saying so."""

from __future__ import annotations

import re

SHOWN_CHARS = 100_000
"""Characters of one text shown on a page; the export holds the rest."""
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_INVISIBLE = re.compile("[\x80-\x9f\u202a-\u202e\u2066-\u2069]")
_SURROGATES = re.compile("[\ud800-\udfff]")


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return "\u2421" if code == 0x7F else chr(0x2400 + code)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: object) -> str:
    """`text` with every control character shown as a symbol or an escape."""
    out = _CONTROLS.sub(_picture, str(text))
    out = _INVISIBLE.sub(_escape, out)
    return _SURROGATES.sub("\ufffd", out)


def shown(text: object, limit: int = SHOWN_CHARS) -> str:
    """`visible(text)`, cut to `limit` characters with a note of how many were left out."""
    value = str(text)
    if len(value) <= limit:
        return visible(value)
    return visible(value[:limit]) + f"\n… [{len(value) - limit:,} more characters not shown]"
