"""Small suite files written by tests, and how to tell which turn a logged request was for."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml


def write_suite(path: Path, items: Sequence[Mapping[str, Any]]) -> Path:
    """Write `items` as a YAML suite file (the format of suites/data/starter.yaml)."""
    path.write_text(
        yaml.safe_dump(
            {"name": path.stem, "items": [dict(item) for item in items]}, sort_keys=False
        ),
        encoding="utf-8",
    )
    return path


def request_turn(messages: Sequence[Mapping[str, Any]]) -> tuple[str, int]:
    """(first user message, number of user messages) of a chat request.

    In a suite whose items all open with a different user message, this names the item and
    the 1-based turn a scripted-protocol request was made for."""
    users = [str(m["content"]) for m in messages if m["role"] == "user"]
    return users[0], len(users)
