"""Showing hostile text on a terminal.

Model answers, server error messages, suite text, item ids and paths reach the terminal. Any of
them may hold control characters (ANSI colour codes, OSC sequences that retitle the window or
write to the clipboard, a carriage return that overwrites a line, bidi overrides that reorder
what is read), a lone surrogate that cannot be encoded, or text that Rich would take for its
own markup (`[/bold]`). `visible` keeps the text readable and makes each of those visible as an
escape (`\\x1b`, `\\u202e`); `markup` also escapes it for use inside a Rich markup string."""

from __future__ import annotations

import io
import re
from typing import TextIO

from rich.markup import escape
from rich.text import Text

# C0 controls but tab and newline, DEL and C1, bidi embeddings/overrides/isolates, and
# surrogates (only lone ones can reach a str here; they cannot be written out as UTF-8).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: object) -> str:
    """`text` as a string whose every character is safe to print, control ones escaped."""
    return _UNSAFE.sub(_escaped, str(text))


def markup(text: object) -> str:
    """`text` made visible and escaped for Rich markup: safe inside "[bold]...[/bold]"."""
    return escape(visible(text))


def cell(text: object) -> Text:
    """`text` as a table cell that Rich prints literally (no markup), control ones escaped."""
    return Text(visible(text))


class TerminalWriter(io.TextIOBase):
    """A text stream that ends at a terminal: what is written is made `visible` (CSV's "\r\n"
    line ends kept), so an export printed to the screen cannot drive it."""

    def __init__(self, out: TextIO) -> None:
        self._out = out

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._out.write("\r\n".join(visible(part) for part in text.split("\r\n")))
        return len(text)

    def flush(self) -> None:
        self._out.flush()
