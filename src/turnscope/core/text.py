"""Text that must be stored: model answers and server messages as UTF-8."""

from __future__ import annotations

import re

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def without_lone_surrogates(text: str) -> str:
    """`text` with every lone surrogate (a code point UTF-8 cannot encode, which a JSON
    escape such as "\\ud800" produces) replaced by U+FFFD. Valid pairs never reach a str as
    surrogates (JSON decoding joins them), so everything else is kept as it is."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def has_lone_surrogates(text: str) -> bool:
    """Whether `text` holds a code point that cannot be stored as UTF-8."""
    return _LONE_SURROGATE.search(text) is not None
