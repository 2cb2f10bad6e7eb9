"""MT-Bench (Zheng et al., 2023): 80 two-turn questions in eight categories, judged by an LLM.

Layouts read (see docs/benchmarks.md):
- FastChat's `data/mt_bench/question.jsonl`: rows {question_id, category, turns: [str, str]},
  math / reasoning / coding rows (and a few others) with a short `reference: [str, str]`;
  its `reference_answer/gpt-4.jsonl` beside it: rows {question_id, answer_id, model_id,
  choices: [{index, turns: [...]}]} — the reference answers FastChat's judge is shown.
- The hub copy HuggingFaceH4/mt_bench_prompts, `raw/question.jsonl`: the same rows with
  `prompt` in place of `turns` (and `reference` present, possibly empty, on every row).

Every turn is scored by the `judge` scorer with a 1-10 grade; for math, reasoning and coding
the judge is shown the turn's reference answer, as FastChat does. Items are also marked
pairwise-eligible: the judging helper compares two runs' answers turn by turn.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from turnscope.suites.adapters.hub import locate
from turnscope.suites.adapters.rows import judge_spec, raw_items, read_rows, text_field
from turnscope.suites.loader import LoadedSuite, RawItem, SuiteError, build_suite

MT_BENCH_HUB = "HuggingFaceH4/mt_bench_prompts"
MT_BENCH_LAYOUT = "MT-Bench's layout (question_id, category, turns or prompt: list of str)"
REFERENCE_LAYOUT = (
    "FastChat's reference-answer layout (question_id, choices: [{turns: list of str}])"
)
CATEGORIES = (
    "writing",
    "roleplay",
    "reasoning",
    "math",
    "coding",
    "extraction",
    "stem",
    "humanities",
)
REFERENCE_CATEGORIES = frozenset({"math", "reasoning", "coding"})
"""Categories whose turns FastChat judges against a reference answer."""
REFERENCE_MODEL_FILE = "gpt-4.jsonl"
"""The reference-answer file FastChat's judge reads (keyed by the judge model's name)."""

References = Mapping[str, tuple[str | None, ...]]
"""question_id (as text) -> one reference answer (or None) per turn."""


def _turn_texts(value: Any, where: str, field: str, layout: str) -> list[str | None]:
    if not isinstance(value, list) or not value:
        raise SuiteError(f"{where}: {field!r} is not a non-empty list: not a row in {layout}")
    return [text_field(v) for v in value]


def read_reference_answers(path: Path) -> dict[str, tuple[str | None, ...]]:
    """FastChat's reference answers: question_id -> the first choice's turns."""
    answers: dict[str, tuple[str | None, ...]] = {}
    for line, row, error in read_rows(path):
        where = f"{path}:{line}"
        if row is None:
            raise SuiteError(f"{where}: {error}")
        choices = row.get("choices")
        if row.get("question_id") is None or not isinstance(choices, list) or not choices:
            raise SuiteError(f"{where}: no question_id or choices: not a row in {REFERENCE_LAYOUT}")
        first = choices[0]
        turns = first.get("turns") if isinstance(first, dict) else None
        answers[str(row["question_id"])] = tuple(
            _turn_texts(turns, where, "choices[0].turns", REFERENCE_LAYOUT)
        )
    return answers


def mt_bench_item(
    row: Mapping[str, Any], where: str, references: References | None = None
) -> dict[str, Any]:
    """One MT-Bench question as an item dict; `references` (FastChat's reference-answer file)
    take precedence over the row's own `reference` list."""
    question_id = row.get("question_id", row.get("prompt_id"))
    if question_id is None or question_id == "":
        raise SuiteError(f"{where}: no 'question_id' field: not a row in {MT_BENCH_LAYOUT}")
    field = "turns" if "turns" in row else "prompt"
    prompts = _turn_texts(row.get(field), where, field, MT_BENCH_LAYOUT)
    if any(p is None for p in prompts):
        raise SuiteError(f"{where}: {field!r} has an empty turn")
    category = row.get("category")
    if not isinstance(category, str) or not category.strip():
        raise SuiteError(f"{where}: no 'category' field: not a row in {MT_BENCH_LAYOUT}")
    category = category.strip().lower()

    source = "reference_answer"
    refs = (references or {}).get(str(question_id))
    if refs is None:
        source = "question"
        own = row.get("reference")
        refs = tuple(_turn_texts(own, where, "reference", MT_BENCH_LAYOUT)) if own else ()
    if refs and len(refs) != len(prompts):
        raise SuiteError(
            f"{where}: {len(refs)} reference answers for {len(prompts)} turns "
            f"(question {question_id})"
        )
    guided = category in REFERENCE_CATEGORIES
    turns = [
        {
            "user": prompt,
            "reference": refs[k] if refs else None,
            "scorers": [judge_spec("grade", use_reference=guided)],
        }
        for k, prompt in enumerate(prompts)
    ]
    return {
        "id": f"mt-bench-{question_id}",
        "category": category,
        "turns": turns,
        "metadata": {
            "source": "MT-Bench",
            "question_id": question_id,
            "pairwise": True,
            "reference_guided": guided,
            "reference_source": source if any(refs) else None,
        },
    }


def _reference_file(question_file: Path) -> Path | None:
    """FastChat keeps reference answers in reference_answer/ beside question.jsonl."""
    folder = question_file.parent / "reference_answer"
    if not folder.is_dir():
        return None
    preferred = folder / REFERENCE_MODEL_FILE
    if preferred.is_file():
        return preferred
    candidates = sorted(folder.glob("*.jsonl"))
    if len(candidates) > 1:
        names = ", ".join(p.name for p in candidates)
        raise SuiteError(
            f"{folder}: several reference-answer files ({names}) and no {REFERENCE_MODEL_FILE}"
        )
    return candidates[0] if candidates else None


def read_mt_bench(source: str | None) -> list[RawItem]:
    """Raw items from a question.jsonl file, a FastChat mt_bench directory, or the hub."""
    files = locate(source or MT_BENCH_HUB, ("*question.jsonl",))
    files = [f for f in files if f.name == "question.jsonl"] or files
    if len(files) > 1:
        listed = ", ".join(str(f) for f in files)
        raise SuiteError(
            f"{source}: several question.jsonl files ({listed}); name the mt_bench directory "
            "or the file"
        )
    reference_file = _reference_file(files[0])
    references = read_reference_answers(reference_file) if reference_file else None
    return raw_items(files, lambda row, where: mt_bench_item(row, where, references))


def load_mt_bench(source: str | None, skip_invalid: bool) -> LoadedSuite:
    """MT-Bench from a local question.jsonl / FastChat directory, or the hub (default
    HuggingFaceH4/mt_bench_prompts)."""
    name = f"mt-bench:{source or MT_BENCH_HUB}"
    return build_suite(name, read_mt_bench(source), skip_invalid=skip_invalid)
