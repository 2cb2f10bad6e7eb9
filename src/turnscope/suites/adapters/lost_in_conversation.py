""" "LLMs Get Lost in Multi-Turn Conversation" (Laban et al., 2025, microsoft/lost_in_conversation):
fully specified tasks split into shards that a simulated user releases one per turn.

Layout read (see docs/benchmarks.md): the authors' `data/sharded_instructions_600.json`, one
JSON array of samples {task_id, task, shards: [{shard_id, shard}], <task-specific keys>}
(their README calls the shard's text `shard_text`; their code reads `shard`: both are
accepted). `lic:PATH` takes that file or the folder holding it.

Each playable sample becomes a `simulated` item: its one turn is the fully specified task
with the reference and a scorer, its setup the shards in `shard_id` order. The protocol plays
the paper's three settings: `sharded` (one shard per user turn), `full` (the whole task in one
turn) and `concat` (every shard as one bulleted message). Only the math task (GSM8K) is checked
by code; the other tasks need what turnscope does not run (unit-test harnesses, databases,
function-call checkers, BLEU, an LLM judge of citations) and are left out, counted with the
reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from turnscope.protocols.simulated import CONCAT, FULL, SHARDED
from turnscope.suites.limits import LimitError, parse_json
from turnscope.suites.loader import LoadedSuite, RawItem, SuiteError, build_suite, check_file_size

DATA_FILE = "sharded_instructions_600.json"
LAYOUT = "the Lost-in-Conversation layout (task_id, task, shards: [{shard_id, shard}])"
MATH_SYSTEM = "You are an expert problem solver. Solve the user's math problem step by step."
"""Our wording of the authors' math system prompt (theirs lives in their prompts/ folder)."""
PERSONA = (
    "A person with a math word problem who, like most people chatting with an assistant, "
    "does not say everything at once."
)
GOAL = "Get the correct final number for the problem they have in mind."
NOT_PLAYABLE = {
    "code": "its answers are checked by running the task's unit tests (HumanEval, "
    "LiveCodeBench) with the authors' harness, which this adapter does not set up",
    "database": "it needs the Spider databases and SQL execution",
    "actions": "it needs the BFCL function-call checker",
    "data2text": "it is scored by BLEU against ToTTo references (no such scorer here)",
    "summary": "it is scored by an LLM judge of citation coverage (Summary of a Haystack)",
    "translation": "it is scored by BLEU (no such scorer here)",
}
_GOLD_NOISE = re.compile(r",|\$|\.$")
"""What the authors strip from the gold answer before comparing (commas, dollars, a final
full stop)."""


def _samples(path: Path) -> Iterator[tuple[int, Any, str | None]]:
    """(line, sample, parse error) for every element of the file's top-level JSON array; each
    element is parsed within the suite limits on its own, so one bad sample is one error."""
    check_file_size(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"{path}: cannot read: {exc}") from None
    decoder = json.JSONDecoder()
    position = _skip_space(text, 0)
    if not text.startswith("[", position):
        raise SuiteError(f"{path}:1: expected a JSON array of samples: not {LAYOUT}")
    position = _skip_space(text, position + 1)
    while position < len(text) and text[position] != "]":
        line = text.count("\n", 0, position) + 1
        try:
            _, end = decoder.raw_decode(text, position)
        except (json.JSONDecodeError, RecursionError) as exc:
            detail = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
            raise SuiteError(f"{path}:{line}: invalid JSON: {detail}") from None
        try:
            yield line, parse_json(text[position:end]), None
        except LimitError as exc:
            yield line, None, str(exc)
        position = _skip_space(text, end)
        if text.startswith(",", position):
            position = _skip_space(text, position + 1)
        elif not text.startswith("]", position):
            line = text.count("\n", 0, position) + 1
            raise SuiteError(f"{path}:{line}: invalid JSON: expected ',' or ']'")


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _shards(sample: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    shards = sample.get("shards")
    if not isinstance(shards, list) or not shards:
        raise SuiteError(f"{where}: 'shards' is not a non-empty list: not {LAYOUT}")
    ordered: list[tuple[int, str]] = []
    for number, shard in enumerate(shards, start=1):
        text = shard.get("shard", shard.get("shard_text")) if isinstance(shard, dict) else None
        shard_id = shard.get("shard_id", number) if isinstance(shard, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise SuiteError(f"{where}: shard {number} has no text ('shard' or 'shard_text')")
        if isinstance(shard_id, bool) or not isinstance(shard_id, int):
            raise SuiteError(f"{where}: shard {number}: 'shard_id' must be a whole number")
        ordered.append((shard_id, text))
    ids = [shard_id for shard_id, _ in ordered]
    if len(set(ids)) != len(ids):
        raise SuiteError(f"{where}: two shards share a shard_id")
    texts = [text for _, text in sorted(ordered)]
    return [
        {"text": text, "markers": markers}
        for text, markers in zip(texts, _markers(texts), strict=True)
    ]


_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]{4,}")
MARKERS_PER_SHARD = 2


def _markers(texts: list[str]) -> list[list[str]]:
    """For each shard, up to two of its numbers or words (of four letters or more) that no
    other shard says, numbers first, then the longest words: the audit's evidence that a user
    message revealed it. The authors tell revealed shards apart with an LLM; turnscope's
    simulators need markers, which their data does not have."""
    tokens = [list(dict.fromkeys(_TOKEN.findall(text))) for text in texts]
    folded = [{t.casefold() for t in found} for found in tokens]
    chosen = []
    for index, found in enumerate(tokens):
        others = set().union(*(f for i, f in enumerate(folded) if i != index))
        own = [t for t in found if t.casefold() not in others]
        own.sort(key=lambda t: (not t[0].isdigit(), -len(t)))
        chosen.append(own[:MARKERS_PER_SHARD])
    return chosen


def _gold(answer: Any, where: str) -> tuple[str, float]:
    """The final answer after GSM8K's "####", as text and as a number."""
    if not isinstance(answer, str) or "####" not in answer:
        raise SuiteError(f"{where}: math sample: 'answer' must hold the final answer after '####'")
    gold = _GOLD_NOISE.sub("", answer.split("####")[1].strip())
    try:
        return gold, float(gold)
    except ValueError:
        raise SuiteError(
            f"{where}: math sample: the final answer {gold[:30]!r} is not a number"
        ) from None


def lic_item(sample: Mapping[str, Any], where: str) -> dict[str, Any]:
    """One math sample as a simulated item dict (validated later by the suite loader)."""
    task_id = sample.get("task_id")
    if not isinstance(task_id, str) or not task_id.strip():
        raise SuiteError(f"{where}: no 'task_id' field: not {LAYOUT}")
    question = sample.get("question")
    if not isinstance(question, str) or not question.strip():
        raise SuiteError(f"{where}: math sample: 'question' must be non-empty text")
    gold, value = _gold(sample.get("answer"), where)
    return {
        "id": f"lic-{task_id}",
        "category": "lic/math",
        "protocol": "simulated",
        "system": MATH_SYSTEM,
        "turns": [
            {
                "user": question,
                "reference": gold,
                "scorers": [{"type": "numeric", "expected": value}],
            }
        ],
        "setup": {"persona": PERSONA, "goal": GOAL, "shards": _shards(sample, where)},
        "metadata": {"source": "Lost in Conversation", "task": "math", "task_id": task_id},
    }


def _data_file(argument: str) -> Path:
    path = Path(argument).expanduser()
    if path.is_dir():
        found = sorted(path.rglob(DATA_FILE))
        if not found:
            raise SuiteError(f"lic:{argument}: no {DATA_FILE} in this folder")
        return found[0]
    if not path.is_file():
        raise SuiteError(f"lic:{argument}: no such file or directory")
    return path


def load_lic(argument: str | None, skip_invalid: bool) -> LoadedSuite:
    """The `lic:PATH` suite: the math samples, played sharded, full and concat."""
    if not argument:
        raise SuiteError(
            f"lic needs a path: lic:PATH, the authors' data/{DATA_FILE} (microsoft/"
            "lost_in_conversation) or the folder holding it"
        )
    path = _data_file(argument)
    raws: list[RawItem] = []
    left_out: dict[str, int] = {}
    for line, sample, error in _samples(path):
        where = f"{path}:{line}"
        if sample is None or not isinstance(sample, dict):
            problem = error or f"expected a sample object, got {type(sample).__name__}"
            raws.append(RawItem(None, path, line, parse_error=problem))
            continue
        task = sample.get("task")
        if task != "math":
            reason = NOT_PLAYABLE.get(str(task), "not a task of the paper turnscope knows")
            key = f"Lost-in-Conversation task {str(task)[:40]}: {reason}"
            left_out[key] = left_out.get(key, 0) + 1
            continue
        try:
            raws.append(RawItem(lic_item(sample, where), path, line))
        except SuiteError as exc:
            raws.append(RawItem(None, path, line, parse_error=str(exc).removeprefix(f"{where}: ")))
    if not raws:
        raise SuiteError(f"lic:{argument}: no sample here can be played (only math is)")
    loaded = build_suite(f"lic:{argument}", raws, skip_invalid=skip_invalid)
    return LoadedSuite(
        loaded.suite,
        loaded.skipped,
        conditions=(SHARDED, FULL, CONCAT),
        left_out=left_out,
        origins=loaded.origins,
    )
