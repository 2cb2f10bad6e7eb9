"""Adapters for the verifiable instruction-following benchmarks: IFEval and Multi-IF.

Both are read in their publishers' layouts and turned into items whose turns carry an
`instructions` scorer spec, so every public instruction id and keyword argument loads
unchanged and is validated like any suite file.

- IFEval (single turn): JSON Lines rows {key, prompt, instruction_id_list, kwargs}.
- Multi-IF (three turns, eight languages): CSV (or JSON Lines) rows with key, language and,
  for k = 1..3, turn_k_prompt (a JSON {"role", "content"} string), turn_k_instruction_id_list
  and turn_k_kwargs (JSON strings; kwargs is a list of JSON strings). Each turn's list holds
  every instruction in force at that turn; we turn consecutive lists into what a turn adds
  and removes, which is what the `instructions` scorer accumulates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from turnscope.suites.adapters.hub import locate
from turnscope.suites.adapters.rows import read_rows
from turnscope.suites.limits import LimitError, parse_json
from turnscope.suites.loader import LoadedSuite, RawItem, SuiteError, build_suite

IFEVAL_HUB = "google/IFEval"
MULTI_IF_HUB = "facebook/Multi-IF"
MULTI_IF_TURNS = 3
IFEVAL_LAYOUT = "IFEval's layout (key, prompt, instruction_id_list, kwargs)"
MULTI_IF_LAYOUT = (
    "Multi-IF's layout (key, language, turn_k_prompt, turn_k_instruction_id_list, turn_k_kwargs)"
)


def _json_field(value: Any, where: str, name: str) -> Any:
    """A field that publishers store either decoded or as a JSON string."""
    if not isinstance(value, str):
        return value
    if not value.strip():
        return None  # an absent third turn is an empty cell in the CSV
    try:
        return parse_json(value)
    except LimitError as exc:
        raise SuiteError(f"{where}: field {name!r}: {exc}") from None


def _clean_kwargs(raw: Any) -> dict[str, Any]:
    """Keyword arguments without the None placeholders that public IFEval files carry."""
    if isinstance(raw, str):
        raw = parse_json(raw) if raw.strip() else {}  # LimitError is a ValueError
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError(f"kwargs must be an object, got {type(raw).__name__}")
    return {k: v for k, v in raw.items() if v is not None}


Instruction = tuple[str, dict[str, Any]]
"""An instruction id and its keyword arguments."""


def _instructions(ids: Sequence[Any], kwargs: Sequence[Any]) -> list[Instruction]:
    """The row's instructions in order: an id may come twice with different arguments (IFEval
    key 19: "at least 600" and "less than 701" words), and each one is checked."""
    if not isinstance(ids, list) or not isinstance(kwargs, list):
        raise ValueError("the instruction ids and their kwargs must be two lists")
    if len(ids) != len(kwargs):
        raise ValueError(f"{len(ids)} instruction ids but {len(kwargs)} kwargs entries")
    return [(str(i), _clean_kwargs(k)) for i, k in zip(ids, kwargs, strict=True)]


def _by_id(instructions: list[Instruction]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for instruction_id, kwargs in instructions:
        grouped.setdefault(instruction_id, []).append(kwargs)
    return grouped


def _raw(data: Any, path: Path, line: int, error: str | None = None) -> RawItem:
    return RawItem(data, path, line, parse_error=error)


def _key(row: Mapping[str, Any], where: str, layout: str) -> Any:
    """The row's `key`, which item ids are made from; a row without one is not in `layout`."""
    key = row.get("key")
    if key is None or key == "":
        raise SuiteError(f"{where}: no 'key' field: not a row in {layout}")
    return key


def ifeval_item(row: Mapping[str, Any], where: str) -> dict[str, Any]:
    """One IFEval row as an item dict (validated later by the suite loader)."""
    key = _key(row, where, IFEVAL_LAYOUT)
    if not row.get("prompt"):
        raise SuiteError(f"{where}: no 'prompt' field: not a row in {IFEVAL_LAYOUT}")
    ids = _json_field(row.get("instruction_id_list"), where, "instruction_id_list") or []
    kwargs = _json_field(row.get("kwargs"), where, "kwargs") or []
    try:
        instructions = _instructions(ids, kwargs)
    except ValueError as exc:
        raise SuiteError(f"{where}: {exc}") from None
    return {
        "id": f"ifeval-{key}",
        "category": "ifeval",
        "turns": [
            {
                "user": row.get("prompt"),
                "scorers": [
                    {
                        "type": "instructions",
                        "add": [{"id": i, "kwargs": k} for i, k in instructions],
                    }
                ],
            }
        ],
        "metadata": {"source": "IFEval", "key": key},
    }


def multi_if_item(row: Mapping[str, Any], where: str) -> dict[str, Any]:
    """One Multi-IF row as an item dict with add/remove deltas between turns."""
    key = _key(row, where, MULTI_IF_LAYOUT)
    turns = []
    previous: dict[str, list[dict[str, Any]]] = {}
    for k in range(1, MULTI_IF_TURNS + 1):
        prompt = _json_field(row.get(f"turn_{k}_prompt"), where, f"turn_{k}_prompt")
        if not prompt:
            break
        content = prompt.get("content") if isinstance(prompt, dict) else prompt
        ids = (
            _json_field(
                row.get(f"turn_{k}_instruction_id_list"), where, f"turn_{k}_instruction_id_list"
            )
            or []
        )
        kwargs = _json_field(row.get(f"turn_{k}_kwargs"), where, f"turn_{k}_kwargs") or []
        try:
            current = _by_id(_instructions(ids, kwargs))
        except ValueError as exc:
            raise SuiteError(f"{where}: turn {k}: {exc}") from None
        spec: dict[str, Any] = {"type": "instructions"}
        # An id whose arguments changed is given again with all of them: what a turn adds
        # replaces the earlier turns' instructions of that id.
        added = [
            {"id": i, "kwargs": kw}
            for i, group in current.items()
            if previous.get(i) != group
            for kw in group
        ]
        removed = [i for i in previous if i not in current]
        if added:
            spec["add"] = added
        if removed:
            spec["remove"] = removed
        turns.append({"user": content, "scorers": [spec]})
        previous = current
    if not turns:
        raise SuiteError(f"{where}: no turn_1_prompt: not a row in {MULTI_IF_LAYOUT}")
    language = row.get("language")
    return {
        "id": f"multi-if-{key}",
        "category": f"multi-if/{language}" if language else "multi-if",
        "turns": turns,
        "metadata": {"source": "Multi-IF", "key": key, "language": language},
    }


def _load(
    files: list[Path], convert: Any, name: str, skip_invalid: bool, language: str | None = None
) -> LoadedSuite:
    raws: list[RawItem] = []
    for path in files:
        for line, row, error in read_rows(path):
            if error is not None or row is None:
                raws.append(_raw(None, path, line, error or "empty row"))
                continue
            if language and str(row.get("language", "")).lower() != language.lower():
                continue
            where = f"{path}:{line}"
            try:
                raws.append(_raw(convert(row, where), path, line))
            except SuiteError as exc:
                raws.append(_raw(None, path, line, str(exc).removeprefix(f"{where}: ")))
    return build_suite(name, raws, skip_invalid=skip_invalid)


def load_ifeval(source: str | None, skip_invalid: bool) -> LoadedSuite:
    """IFEval from a local .jsonl / directory, or the hub (default google/IFEval)."""
    files = locate(source or IFEVAL_HUB, ("*.jsonl",))
    return _load(files, ifeval_item, f"ifeval:{source or IFEVAL_HUB}", skip_invalid)


def load_multi_if(source: str | None, skip_invalid: bool) -> LoadedSuite:
    """Multi-IF from a local .csv/.jsonl / directory, or the hub (default facebook/Multi-IF).

    `source` may end in "@LANGUAGE" (e.g. "facebook/Multi-IF@Chinese") to keep one language."""
    location, _, language = (source or MULTI_IF_HUB).partition("@")
    files = locate(location or MULTI_IF_HUB, ("*.csv", "*.jsonl"))
    return _load(
        files, multi_if_item, f"multi-if:{source or MULTI_IF_HUB}", skip_invalid, language or None
    )
