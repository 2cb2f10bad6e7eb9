"""MultiChallenge (Sirdeshmukh et al., 2025, Scale AI): 273 conversations whose final user turn
the model answers; a judge checks the answer against the item's own yes/no question.

Layout read (see docs/benchmarks.md): the authors' `data/benchmark_questions.jsonl`, rows
{QUESTION_ID, AXIS, CONVERSATION: [{role, content}], TARGET_QUESTION, PASS_CRITERIA}. The
conversation alternates user and assistant and ends with the user turn to answer; the
assistant turns are the authors' and reach the model word for word (the `replay` protocol),
and the model is asked once per conversation. The final turn is scored by the `judge` scorer,
kind `rubric`, with TARGET_QUESTION as the rubric: it passes when the judge answers YES, which
is every published row's PASS_CRITERIA.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from turnscope.protocols.replay import REPLAY
from turnscope.suites.adapters.rows import judge_spec, raw_items
from turnscope.suites.loader import LoadedSuite, SuiteError, build_suite

DATA_FILE = "benchmark_questions.jsonl"
LAYOUT = (
    "MultiChallenge's layout (QUESTION_ID, AXIS, CONVERSATION: [{role, content}], "
    "TARGET_QUESTION, PASS_CRITERIA)"
)
ROLES = ("user", "assistant")


def _text(row: Mapping[str, Any], key: str, where: str) -> str:
    value = row.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        raise SuiteError(f"{where}: field {key!r} must be non-empty text: not a row in {LAYOUT}")
    return value


def _conversation(row: Mapping[str, Any], where: str) -> tuple[str | None, list[dict[str, str]]]:
    """The system prompt (if the conversation opens with one) and the user/assistant messages."""
    messages = row.get("CONVERSATION")
    if not isinstance(messages, list) or not messages:
        raise SuiteError(f"{where}: 'CONVERSATION' is not a non-empty list: not a row in {LAYOUT}")
    system = None
    turns: list[dict[str, str]] = []
    for number, message in enumerate(messages, start=1):
        role = message.get("role") if isinstance(message, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, str) or not content.strip():
            raise SuiteError(f"{where}: CONVERSATION message {number} has no text")
        if role == "system" and number == 1:
            system = content
            continue
        expected = ROLES[len(turns) % 2]
        if role != expected:
            raise SuiteError(
                f"{where}: CONVERSATION message {number} is from {role!r}, expected {expected!r} "
                "(user and assistant in turn, starting with the user)"
            )
        turns.append({"role": role, "content": content})
    if not turns or turns[-1]["role"] != "user":
        raise SuiteError(f"{where}: CONVERSATION must end with the user turn to answer")
    return system, turns


def multichallenge_item(row: Mapping[str, Any], where: str) -> dict[str, Any]:
    """One MultiChallenge row as a replay item dict (validated later by the suite loader)."""
    question_id = _text(row, "QUESTION_ID", where)
    axis = _text(row, "AXIS", where)
    rubric = _text(row, "TARGET_QUESTION", where)
    criteria = _text(row, "PASS_CRITERIA", where).strip().upper()
    if criteria != "YES":
        raise SuiteError(
            f"{where}: PASS_CRITERIA {criteria[:10]!r}: only YES is supported (the rubric judge "
            "passes an answer the question is answered YES for; every published row says YES)"
        )
    system, messages = _conversation(row, where)
    item: dict[str, Any] = {
        "id": f"multichallenge-{question_id}",
        "category": axis.strip().lower().replace("_", "-"),
        "protocol": REPLAY,
        "turns": [
            {
                "user": messages[-1]["content"],
                "scorers": [judge_spec("rubric", rubric=rubric, use_reference=False)],
            }
        ],
        "setup": {"messages": messages[:-1]},
        "metadata": {"source": "MultiChallenge", "question_id": question_id, "axis": axis},
    }
    if system is not None:
        item["system"] = system
    return item


def load_multichallenge(argument: str | None, skip_invalid: bool) -> LoadedSuite:
    """The `multichallenge:PATH` suite."""
    if not argument:
        raise SuiteError(
            f"multichallenge needs a path: multichallenge:PATH, the authors' data/{DATA_FILE} "
            "or the folder holding it"
        )
    path = Path(argument).expanduser()
    if path.is_dir():
        found = sorted(path.rglob(DATA_FILE))
        if not found:
            raise SuiteError(f"multichallenge:{argument}: no {DATA_FILE} in this folder")
        path = found[0]
    elif not path.is_file():
        raise SuiteError(f"multichallenge:{argument}: no such file or directory")
    raws = raw_items([path], multichallenge_item)
    loaded = build_suite(f"multichallenge:{argument}", raws, skip_invalid=skip_invalid)
    return LoadedSuite(loaded.suite, loaded.skipped, conditions=(REPLAY,), origins=loaded.origins)
