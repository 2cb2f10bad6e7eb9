"""MT-Bench (Zheng et al., 2023): 80 two-turn questions in eight categories, judged by an LLM.

Layouts read (see docs/benchmarks.md):
- FastChat's `data/mt_bench/question.jsonl`: rows {question_id, category, turns: [str, str]},
  math / reasoning / coding rows (and a few others) with a short `reference: [str, str]`;
  its `reference_answer/gpt-4.jsonl` beside it: rows {question_id, answer_id, model_id,
  choices: [{index, turns: [...]}]} — the reference answers FastChat's judge is shown.
- The hub copy HuggingFaceH4/mt_bench_prompts, `raw/question.jsonl`: the same rows with
  `prompt` in place of `turns` (and `reference` present, possibly empty, on every row).

Every turn is graded 1-10 by a judge. With FastChat's `judge_prompts.jsonl` in the data
folder (or the folder above it, where FastChat keeps it) the grade is asked with FastChat's own
prompts (`fastchat` spec: single-v1 for turn 1, single-v1-multi-turn for turn 2, their "math"
variants with the reference answers of both turns for math, reasoning and coding), as the
published scores were; otherwise with turnscope's `judge` grade, shown the turn's reference for
those categories. Items are also marked pairwise-eligible: the judging helper compares two
runs' answers turn by turn, with FastChat's pairwise prompts (pair-v2, pair-math-v1 and their
multi-turn forms, picked the same way) when the file has them. A file that is not MT-Bench (a
category MT-Bench does not have, a question without exactly two turns: FastChat's
vicuna_bench) is refused row by row.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from turnscope.core import JUDGE_PROMPTS_KEY
from turnscope.scorers.judges._fastchat import JUDGE_PROMPTS_FILE, read_judge_prompts
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
Prompts = Mapping[str, tuple[str, str]]
"""FastChat's judge prompts: name -> (system prompt, template)."""
TURNS = 2
"""Every MT-Bench question has two turns."""


def _fastchat_spec(
    prompts: Prompts, turn: int, refs: tuple[str | None, ...], guided: bool
) -> dict[str, Any]:
    """The `fastchat` spec of turn `turn` (1 or 2): the prompts FastChat's gen_judgment.py picks
    for it (single-answer, and pairwise when the file has those), with the references they
    show (every turn's, up to this one)."""
    shown = refs[:turn]
    math = guided and len(shown) == turn and all(r is not None for r in shown)
    suffix = "-multi-turn" if turn > 1 else ""
    name = ("single-math-v1" if math else "single-v1") + suffix
    system, template = prompts[name]
    spec: dict[str, Any] = {
        "type": "fastchat",
        "template": name,
        "system_prompt": system,
        "prompt_template": template,
    }
    if math:
        spec["references"] = list(shown)
    pair = ("pair-math-v1" if math else "pair-v2") + suffix
    if pair in prompts:
        pair_system, pair_template = prompts[pair]
        spec["pairwise"] = {
            "name": pair,
            "system_prompt": pair_system,
            "prompt_template": pair_template,
        }
    return spec


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
    row: Mapping[str, Any],
    where: str,
    references: References | None = None,
    prompts: Prompts | None = None,
) -> dict[str, Any]:
    """One MT-Bench question as an item dict; `references` (FastChat's reference-answer file)
    take precedence over the row's own `reference` list; with FastChat's judge `prompts` the
    turns are graded with them."""
    question_id = row.get("question_id", row.get("prompt_id"))
    if question_id is None or question_id == "":
        raise SuiteError(f"{where}: no 'question_id' field: not a row in {MT_BENCH_LAYOUT}")
    field = "turns" if "turns" in row else "prompt"
    questions = _turn_texts(row.get(field), where, field, MT_BENCH_LAYOUT)
    if any(p is None for p in questions):
        raise SuiteError(f"{where}: {field!r} has an empty turn")
    category = row.get("category")
    if not isinstance(category, str) or not category.strip():
        raise SuiteError(f"{where}: no 'category' field: not a row in {MT_BENCH_LAYOUT}")
    category = category.strip().lower()
    if category not in CATEGORIES:
        raise SuiteError(
            f"{where}: category {category!r} is not one of MT-Bench's ({', '.join(CATEGORIES)}): "
            "not an MT-Bench file (FastChat's vicuna_bench?)"
        )
    if len(questions) != TURNS:
        raise SuiteError(
            f"{where}: {len(questions)} turn(s), where every MT-Bench question has {TURNS}: "
            "not an MT-Bench file"
        )

    source = "reference_answer"
    refs = (references or {}).get(str(question_id))
    if refs is None:
        source = "question"
        own = row.get("reference")
        refs = tuple(_turn_texts(own, where, "reference", MT_BENCH_LAYOUT)) if own else ()
    if refs and len(refs) != len(questions):
        raise SuiteError(
            f"{where}: {len(refs)} reference answers for {len(questions)} turns "
            f"(question {question_id})"
        )
    guided = category in REFERENCE_CATEGORIES
    turns = [
        {
            "user": question,
            "reference": refs[k] if refs else None,
            "scorers": [
                _fastchat_spec(prompts, k + 1, tuple(refs), guided)
                if prompts is not None
                else judge_spec("grade", use_reference=guided)
            ],
        }
        for k, question in enumerate(questions)
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
            JUDGE_PROMPTS_KEY: "fastchat" if prompts is not None else "turnscope",
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
    prompts = _judge_prompts(files[0])
    return raw_items(files, lambda row, where: mt_bench_item(row, where, references, prompts))


def _judge_prompts(question_file: Path) -> Prompts | None:
    """FastChat's judge prompts from judge_prompts.jsonl beside question.jsonl or one folder up
    (FastChat's data/ folder), or None when there is none."""
    for folder in (question_file.parent, question_file.parent.parent):
        path = folder / JUDGE_PROMPTS_FILE
        if path.is_file():
            try:
                return read_judge_prompts(path)
            except ValueError as exc:
                raise SuiteError(str(exc)) from None
    return None


SYSTEM_SUFFIX = "@system="
FASTCHAT_OPENAI_SYSTEM = "You are a helpful assistant."
"""The system prompt of FastChat's conversation template for OpenAI-style models, which its
gen_model_answer / gen_api_answer send with every MT-Bench question (other models' templates
send their own); turnscope sends none unless `@system=TEXT` is given."""


def load_mt_bench(source: str | None, skip_invalid: bool) -> LoadedSuite:
    """MT-Bench from a local question.jsonl / FastChat directory, or the hub (default
    HuggingFaceH4/mt_bench_prompts); `SOURCE@system=TEXT` sends TEXT as the system prompt of
    every question, as FastChat's conversation templates do."""
    location, found, system = (source or "").partition(SYSTEM_SUFFIX)
    if found and not system.strip():
        raise SuiteError(
            f"mt-bench:{source}: @system= needs the prompt text, e.g. "
            f"@system={FASTCHAT_OPENAI_SYSTEM}"
        )
    raws = read_mt_bench(location or None)
    if found:
        for raw in raws:
            if isinstance(raw.data, dict):
                raw.data["system"] = system
    name = f"mt-bench:{source or MT_BENCH_HUB}"
    return build_suite(name, raws, skip_invalid=skip_invalid)
