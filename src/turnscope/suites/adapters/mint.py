"""MINT (Wang et al., 2024, xingyaoww/mint-bench): tasks solved in up to k = 5 turns with a
Python interpreter, with or without natural-language feedback.

Layout read (see docs/benchmarks.md): the authors' processed data, one folder per task, each
with a `test_prompts.json` in JSON Lines, one row per task instance:
  gsm8k, math, mmlu, hotpotqa: {id, prompt, reference}
  theoremqa: {id, prompt, reference (number, list, bool or option), answer_type}
  humaneval: {id, prompt, reference (test code ending in check(...)), task_id, ...}
  mbpp: {id, prompt (in triple quotes), reference (assert lines), task_id, ...}
  alfworld: no test_prompts.json (game files for the ALFWorld environment)
`mint:PATH` takes the processed directory, one task folder, or one test_prompts.json.

Every playable row becomes a `tools` item (budget 5): reasoning tasks are scored by the `mint`
scorer on the proposed solution, code tasks by running the row's tests after the solution in
a fresh sandbox. hotpotqa (MINT gives it a Wikipedia search tool, which needs the network) and
alfworld (an external text-game environment) are left out, counted with the reason."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

from turnscope.protocols.tools import TOOLS, ToolsSetup
from turnscope.suites.adapters.rows import raw_items
from turnscope.suites.loader import LoadedSuite, SuiteError, build_suite

PROMPTS_FILE = "test_prompts.json"
BUDGET = 5
"""MINT's largest turn budget; success at k = 1..5 is read off one run."""
MAX_TOKENS = 512
"""MINT's answer budget for the evaluated models."""

REASONING = {"gsm8k": "reasoning", "math": "reasoning", "mmlu": "choice", "theoremqa": "theoremqa"}
CODE = ("humaneval", "mbpp")
NOT_PLAYABLE = {
    "hotpotqa": "MINT gives it a Wikipedia search tool, which needs the network (the sandbox "
    "has none)",
    "alfworld": "it needs the ALFWorld text-game environment, which turnscope does not run",
}
KNOWN = (*REASONING, *CODE, *NOT_PLAYABLE)
THEOREMQA_PREAMBLE = (
    "Answer the following question with a number, a list of numbers or True or False. "
)
ANSWER_TYPES = ("integer", "float", "bool", "option", "list of integer", "list of float")


def _options(prompt: str) -> dict[str, str]:
    """An MMLU prompt's options ("Options: A ) 6 , B ) 121 , ...") as letter -> text."""
    options: dict[str, str] = {}
    for part in prompt.split("Options: ")[-1].split(" , "):
        letter, _, text = part.strip("[]' ").partition(")")
        if letter.strip() and text:
            options[letter.strip().lower()] = text.strip().strip(".").lower()
    return options


def _text(row: Mapping[str, Any], key: str, where: str, task: str) -> str:
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        raise SuiteError(f"{where}: MINT task {task}: field {key!r} must be non-empty text")
    return value


def mint_item(row: Mapping[str, Any], where: str, *, task: str) -> dict[str, Any]:
    """One row of a task's test_prompts.json as a tools item (SuiteError naming the file,
    line, task and field when the row does not fit the layout)."""
    row_id = row.get("id")
    if isinstance(row_id, bool) or not isinstance(row_id, int | str) or str(row_id).strip() == "":
        raise SuiteError(f"{where}: MINT task {task}: field 'id' must be a number or text")
    prompt = _text(row, "prompt", where, task)
    setup: dict[str, Any] = {"budget": BUDGET}
    turn: dict[str, Any]
    if task in CODE:
        tests = _text(row, "reference", where, task)
        setup["tests"] = tests
        user = (
            f"Complete the following code:\n\n{prompt}"
            if task == "humaneval"
            else prompt.replace('"""', "").strip()
        )
        turn = {"user": user}
    else:
        kind = REASONING[task]
        reference = row.get("reference")
        spec: dict[str, Any] = {"type": "mint", "kind": kind, "expected": reference}
        if task == "theoremqa":
            answer_type = row.get("answer_type")
            if answer_type not in ANSWER_TYPES:
                raise SuiteError(
                    f"{where}: MINT task {task}: field 'answer_type' must be one of "
                    f"{', '.join(ANSWER_TYPES)}"
                )
            spec["answer_type"] = answer_type
            user = THEOREMQA_PREAMBLE + prompt.strip()
        else:
            reference = _text(row, "reference", where, task)
            user = prompt.strip()
            if kind == "choice":
                options = _options(prompt)
                if reference.strip().lower() not in options:
                    raise SuiteError(
                        f"{where}: MINT task {task}: the reference {reference[:20]!r} is not one "
                        "of the options the prompt lists"
                    )
                spec["options"] = options
        if reference is None or isinstance(reference, dict):
            raise SuiteError(f"{where}: MINT task {task}: field 'reference' is missing or a map")
        turn = {"user": user, "reference": str(reference), "scorers": [spec]}
    return {
        "id": f"mint-{task}-{row_id}",
        "category": task,
        "protocol": "tools",
        "setup": ToolsSetup.model_validate(setup).model_dump(mode="json", exclude_defaults=True),
        "metadata": {"source": "mint", "family": task, "task": task, "row": row_id},
        "turns": [turn],
    }


def _task_files(root: Path) -> dict[str, Path | None]:
    """Task name -> its test_prompts.json (None for a task folder without one), for PATH
    given as the processed directory, a task folder or a task's file."""
    if root.is_file():
        return {root.parent.name: root}
    if (root / PROMPTS_FILE).is_file() or root.name in KNOWN:
        path = root / PROMPTS_FILE
        return {root.name: path if path.is_file() else None}
    found: dict[str, Path | None] = {}
    for child in sorted(p for p in root.iterdir() if p.is_dir()):
        path = child / PROMPTS_FILE
        if path.is_file() or child.name in KNOWN:
            found[child.name] = path if path.is_file() else None
    return found


def _count_rows(path: Path | None, folder: Path) -> int:
    """Instances of a task that is left out: its rows, or ALFWorld's listed games."""
    try:
        if path is not None:
            return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
        games = folder / "gamefile_id.txt"
        if games.is_file():
            return sum(1 for line in games.read_text(encoding="utf-8").splitlines() if line)
    except (OSError, UnicodeDecodeError):
        return 0
    return 0


def load_mint(argument: str | None, skip_invalid: bool) -> LoadedSuite:
    """The `mint:PATH` suite."""
    if not argument:
        raise SuiteError(
            "mint needs a path: mint:PATH, the processed data of xingyaoww/mint-bench "
            "(data/processed), one task folder or one test_prompts.json"
        )
    root = Path(argument).expanduser()
    if not root.exists():
        raise SuiteError(f"mint:{argument}: no such file or directory")
    files = _task_files(root)
    if not files:
        raise SuiteError(
            f"mint:{argument}: no MINT task folder here (expected folders such as gsm8k/ "
            f"holding {PROMPTS_FILE})"
        )
    raws = []
    left_out: dict[str, int] = {}
    for task, path in files.items():
        folder = path.parent if path is not None else (root if root.name == task else root / task)
        if task in NOT_PLAYABLE or task not in KNOWN:
            reason = NOT_PLAYABLE.get(task, "not a MINT task turnscope knows")
            left_out[f"MINT task {task}: {reason}"] = _count_rows(path, folder)
            continue
        if path is None:
            raise SuiteError(f"{folder}: MINT task {task} has no {PROMPTS_FILE}")
        raws.extend(raw_items([path], partial(mint_item, task=task)))
    if not raws:
        raise SuiteError(f"mint:{argument}: no MINT task here can be played")
    loaded = build_suite(f"mint:{argument}", raws, skip_invalid=skip_invalid)
    return LoadedSuite(
        loaded.suite,
        loaded.skipped,
        conditions=(TOOLS,),
        max_tokens=MAX_TOKENS,
        left_out=left_out,
    )
