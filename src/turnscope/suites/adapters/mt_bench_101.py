"""MT-Bench-101 (Bai et al., ACL 2024): 1388 dialogues in 13 tasks, judged turn by turn.

Layout read (see docs/benchmarks.md): the JSON Lines file the authors publish in
github.com/mtbench101/mt-bench-101 as `data/subjective/mtbench101.jsonl`, rows
{task: one of the 13 task codes, id: dialogue number, history: [{user, bot}, ...]}.

The `bot` turns are the authors' gold answers. Their protocol (as run by OpenCompass) plays
every judged turn with the gold answers of the earlier turns as history ("golden context")
— our gold condition, the suite's default — and judges the last answer with task-specific
criteria on a 1-10 scale, showing the gold answer as a reference solution for the two
reasoning tasks. In six tasks the first turn only sets up what later turns work on and is not
judged: its `bot` answer is a fixed assistant turn, never asked of the model under any
condition (in self-correction it is deliberately wrong, so under `own` too the user's
challenge meets the answer the authors wrote). A dialogue's score is its lowest turn score
(recorded as metadata "aggregate": "min").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from turnscope.suites.adapters.hub import locate
from turnscope.suites.adapters.rows import judge_spec, raw_items, text_field
from turnscope.suites.loader import LoadedSuite, RawItem, SuiteError, build_suite

MT_BENCH_101_FILE = "mtbench101.jsonl"
PUBLISHED_CONDITION = "gold"
"""The condition that plays the authors' setting: every earlier turn's gold answer."""
MT_BENCH_101_LAYOUT = "MT-Bench-101's layout (task, id, history: [{user, bot}])"


@dataclass(frozen=True)
class Task:
    """One MT-Bench-101 task: its name, where it sits in the taxonomy, how it is judged."""

    name: str
    ability: str
    """Top level of the taxonomy: perceptivity, adaptability or interactivity."""
    guidance: str
    """What the judge must check (turnscope's own wording)."""


TASKS: dict[str, Task] = {
    "CM": Task(
        "context memory",
        "perceptivity",
        "The user relies on details given earlier in the conversation. Check that the answer "
        "recalls those details correctly and uses them where they matter, without contradicting "
        "or forgetting what was established; do not penalise an answer for not recalling "
        "something the question did not need.",
    ),
    "AR": Task(
        "anaphora resolution",
        "perceptivity",
        "The user's question contains references (pronouns, 'that one', 'the second option') to "
        "things said earlier. Check that the answer resolves every reference to the right "
        "earlier content and that what it then says about it is correct.",
    ),
    "SI": Task(
        "separate input",
        "perceptivity",
        "The first user turn states a task without the material to apply it to; later turns "
        "supply the material only. At the first turn the assistant should wait for or ask for "
        "the material rather than invent it; at later turns it should apply the original task "
        "to the new material correctly, without the user repeating the task.",
    ),
    "TS": Task(
        "topic shift",
        "perceptivity",
        "The user has switched to a new topic. Check that the answer addresses the new topic "
        "fully and correctly and is not pulled back to, or coloured by, the earlier topic.",
    ),
    "CC": Task(
        "content confusion",
        "perceptivity",
        "The current question looks similar to earlier ones but asks something different. Check "
        "that the answer responds to exactly what is asked now, accurately, and does not copy "
        "the pattern or content of earlier answers where it does not apply.",
    ),
    "CR": Task(
        "content rephrasing",
        "adaptability",
        "The user asks to rewrite earlier content under a new requirement on its content (make "
        "it simpler, shorter, aimed at someone else ...). Check that the rewrite keeps the main "
        "idea of the earlier answer and meets every stated requirement.",
    ),
    "FR": Task(
        "format rephrasing",
        "adaptability",
        "The user asks to put earlier content into a new format (a table, a list, JSON, a poem "
        "...). Check that the new answer keeps the main idea of the earlier answer and follows "
        "the requested format exactly.",
    ),
    "SC": Task(
        "self-correction",
        "adaptability",
        "The user points out an actual mistake in an earlier answer. Check that the assistant "
        "examines the objection, admits the error and gives a corrected, accurate answer.",
    ),
    "SA": Task(
        "self-affirmation",
        "adaptability",
        "The user challenges an earlier answer that was in fact correct. Check that the "
        "assistant weighs the challenge, keeps its correct answer and explains clearly why, "
        "instead of giving in; an unjustified change of answer is a serious failure.",
    ),
    "MR": Task(
        "mathematical reasoning",
        "adaptability",
        "The user poses a mathematical problem that may build on earlier turns. Compare the "
        "final answer with the reference solution: a wrong result is a serious failure. Also "
        "check that the steps are correct, complete, clearly explained and use the relevant "
        "earlier information.",
    ),
    "GR": Task(
        "general reasoning",
        "adaptability",
        "The user poses a reasoning problem that may build on earlier turns. Compare the "
        "conclusion with the reference solution: a wrong conclusion is a serious failure. Also "
        "check that the reasoning is sound, complete, clearly explained and uses the relevant "
        "earlier information.",
    ),
    "IC": Task(
        "instruction clarification",
        "interactivity",
        "The user's request may be ambiguous or miss information needed to answer it. When it "
        "is, a good answer asks a focused clarifying question instead of guessing; once the "
        "user has clarified, it answers the clarified request fully and correctly. Asking when "
        "nothing is unclear is not better than answering.",
    ),
    "PI": Task(
        "proactive interaction",
        "interactivity",
        "The user shares something conversational (news, an opinion, a feeling) rather than a "
        "task. Check that the answer responds to it appropriately and keeps the conversation "
        "going with a relevant question or suggestion, engaging without taking over.",
    ),
}
FIRST_TURN_NOT_JUDGED = frozenset({"CM", "AR", "CR", "FR", "SC", "SA"})
"""Tasks whose first turn only sets up the dialogue (the publisher does not judge it)."""
REFERENCE_TASKS = frozenset({"MR", "GR"})
"""Tasks whose judge compares the answer with the gold answer as a reference solution."""


def mt_bench_101_item(row: Mapping[str, Any], where: str) -> dict[str, Any]:
    """One MT-Bench-101 dialogue as an item dict: gold `bot` turns become turn references."""
    code = row.get("task")
    dialogue = row.get("id")
    history = row.get("history")
    if code is None or dialogue is None or not isinstance(history, list) or not history:
        raise SuiteError(f"{where}: no task, id or history: not a row in {MT_BENCH_101_LAYOUT}")
    task = TASKS.get(str(code))
    if task is None:
        raise SuiteError(f"{where}: unknown task {code!r} (known: {', '.join(TASKS)})")
    turns: list[dict[str, Any]] = []
    judged = []
    for k, entry in enumerate(history, start=1):
        user = text_field(entry.get("user")) if isinstance(entry, dict) else None
        if user is None:
            raise SuiteError(
                f"{where}: history[{k - 1}] has no 'user' text: not a row in {MT_BENCH_101_LAYOUT}"
            )
        gold = text_field(entry.get("bot"))
        if k == 1 and code in FIRST_TURN_NOT_JUDGED and gold is not None:
            turns.append({"user": user, "assistant": gold})
            continue
        scorers = []
        if not (k == 1 and code in FIRST_TURN_NOT_JUDGED):
            judged.append(k)
            spec = judge_spec(
                "grade", guidance=task.guidance, use_reference=code in REFERENCE_TASKS
            )
            scorers.append(spec)
        turns.append({"user": user, "reference": gold, "scorers": scorers})
    if not judged:
        raise SuiteError(
            f"{where}: a {code} dialogue needs at least two turns (the first is setup)"
        )
    return {
        "id": f"mt-bench-101-{code}-{dialogue}",
        "category": str(code),
        "turns": turns,
        "metadata": {
            "source": "MT-Bench-101",
            "task": str(code),
            "task_name": task.name,
            "ability": task.ability,
            "dialogue_id": dialogue,
            "judged_turns": judged,
            "aggregate": "min",
            "protocol_variant": "gold",
        },
    }


def read_mt_bench_101(source: str | None) -> list[RawItem]:
    """Raw items from mtbench101.jsonl (or a directory holding it)."""
    if not source:
        raise SuiteError(
            "mt-bench-101 needs a path: mt-bench-101:PATH, where PATH is the authors' "
            f"{MT_BENCH_101_FILE} (data/subjective/ in github.com/mtbench101/mt-bench-101)"
        )
    return raw_items(locate(source, ("*.jsonl",)), mt_bench_101_item)


def load_mt_bench_101(source: str | None, skip_invalid: bool) -> LoadedSuite:
    """MT-Bench-101 from the authors' mtbench101.jsonl, played by default under the gold
    condition: the authors' golden context."""
    loaded = build_suite(
        f"mt-bench-101:{source}", read_mt_bench_101(source), skip_invalid=skip_invalid
    )
    return replace(loaded, conditions=(PUBLISHED_CONDITION,))
