"""How a pydantic validation error reads in turnscope's one-line error messages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def error_text(error: Mapping[str, Any]) -> str:
    """The message of one pydantic error without the "Value error, " prefix pydantic puts
    before what a validator raised: the validator's own sentence is the message."""
    return str(error["msg"]).removeprefix("Value error, ")
