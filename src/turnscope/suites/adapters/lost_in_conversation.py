""" "LLMs Get Lost in Multi-Turn Conversation" (Laban et al., 2025, microsoft/lost_in_conversation):
fully specified tasks split into shards that a simulated user releases one per turn.

Layout read (see docs/benchmarks.md): the authors' `data/sharded_instructions_600.json` and
`data/sharded_translation.json`, each one JSON array of samples {task_id, task, shards:
[{shard_id, shard}], <task-specific keys>} (their README calls the shard's text `shard_text`;
their code reads `shard`: both are accepted, and `shards` may also be text holding a Python list
literal of them). `lic:PATH` takes one of those files or a folder holding them.

Each playable sample becomes a `simulated` item: its one turn is the fully specified task
with the reference and a scorer, its setup the shards in `shard_id` order. The protocol plays
the paper's three settings: `sharded` (one shard per user turn), `full` (the whole task in one
turn) and `concat` (every shard in one message). Three tasks are checked by code as the authors
check them: math (GSM8K, the final number), data2text (ToTTo) and translation (WMT news, German
to English), both by BLEU. The others need what turnscope does not run (unit-test harnesses,
databases, function-call checkers, an LLM judge of citations) and are left out, counted with
the reason.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from turnscope.protocols.simulated import CONCAT, DEFAULT_CLARIFY, FULL, SHARDED
from turnscope.scorers.bleu import MAX_REFERENCES
from turnscope.suites.limits import LimitError, parse_json
from turnscope.suites.loader import LoadedSuite, RawItem, SuiteError, build_suite, check_file_size

DATA_FILE = "sharded_instructions_600.json"
TRANSLATION_FILE = "sharded_translation.json"
DATA_FILES = (DATA_FILE, TRANSLATION_FILE)
LAYOUT = "the Lost-in-Conversation layout (task_id, task, shards: [{shard_id, shard}])"
MAX_TOKENS = 1000
"""The answer budget the authors give a model that is not a reasoning model (their
simulator_*.py): a whole translated document must fit in it."""
MAX_SHARDS_LITERAL_CHARS = 200_000
"""The longest `shards` text parsed as a Python list literal (a published translation
sample's shards take 3,000 characters; parsing costs memory in proportion)."""
MATH_SYSTEM = "You are an expert problem solver. Solve the user's math problem step by step."
"""Our wording of the authors' math system prompt (theirs lives in their prompts/ folder)."""
PERSONA = (
    "A person with a math word problem who, like most people chatting with an assistant, "
    "does not say everything at once."
)
GOAL = "Get the correct final number for the problem they have in mind."
DATA2TEXT_SYSTEM = "You are a meticulous analyst who does every task carefully and thoroughly."
"""Our wording of the authors' data2text system prompt."""
DATA2TEXT_TASK = (
    "Write a one-sentence description of a table. If some of its cells are highlighted, "
    "focus on those."
)
DATA2TEXT_FULL = """\
{task}

Table:
{table}

Context:
{context}
Descriptions written for other tables, as examples of what a description looks like:
{examples}

Answer with one clear, natural sentence."""
DATA2TEXT_CONCAT = """\
{task} Everything you need to know is in these hints.

{hints}

Answer with one clear, natural sentence."""
DATA2TEXT_PERSONA = (
    "Someone who needs a table summed up in one sentence and hands the assistant the table, "
    "its context and some examples a piece at a time."
)
DATA2TEXT_GOAL = "Get one clear sentence that describes the table's highlighted cells."
TRANSLATION_SYSTEM = (
    "You translate German into English professionally: render the text in natural, fluent "
    "English that keeps its meaning and style."
)
"""Our wording of the authors' translation system prompt."""
TRANSLATION_FULL = "Translate this German text into English:\n\n{text}"
TRANSLATION_CONCAT = (
    "The German document below comes in chunks. Translate all of it into English as one "
    "document, without the chunk labels.\n\n{chunks}"
)
TRANSLATION_FIRST = """\
I am translating a German document into English while it is being transcribed, so I will send \
it to you chunk by chunk. Each time, reply with the English translation of the WHOLE document \
received so far, not only of the newest chunk: translate the chunks together, and correct \
earlier parts of your translation if you think they were wrong.

Chunk {number}:

{chunk}"""
TRANSLATION_NEXT = """\
Here is the next chunk of the document. Translate the whole document received so far.

Chunk {number}:

{chunk}"""
TRANSLATION_PERSONA = (
    "Someone translating a German news article that reaches them a chunk at a time."
)
TRANSLATION_GOAL = "Get a faithful English translation of the whole German document."
NOT_PLAYABLE = {
    "code": "its answers are checked by running the task's unit tests (HumanEval, "
    "LiveCodeBench) with the authors' harness, which this adapter does not set up",
    "database": "it needs the Spider databases and SQL execution",
    "actions": "it needs the BFCL function-call checker",
    "summary": "it is scored by an LLM judge of citation coverage (Summary of a Haystack)",
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


Frame = Callable[[int, str], str]
"""How a task's user says shard `number` (1-based) holding `text`."""


def _shard_list(sample: Mapping[str, Any], where: str) -> Any:
    """The sample's `shards`: a JSON array, or text holding a Python list literal of them
    (parsed as a literal, never run, then held to the suite limits like JSON)."""
    shards = sample.get("shards")
    if not isinstance(shards, str):
        return shards
    problem = "is text that is not a Python list literal of shards"
    if len(shards) > MAX_SHARDS_LITERAL_CHARS:
        raise SuiteError(f"{where}: 'shards' is text of {len(shards):,} characters: too long")
    try:
        value = ast.literal_eval(shards)
        # Through JSON, so that what the literal holds meets the limits JSON input meets
        # (depth, surrogates, huge numbers); sets, bytes and the like do not pass.
        return parse_json(json.dumps(value))
    except LimitError as exc:
        raise SuiteError(f"{where}: 'shards' {problem}: {exc}") from None
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise SuiteError(f"{where}: 'shards' {problem}: not {LAYOUT}") from None


def _shard_texts(sample: Mapping[str, Any], where: str, *, blank: bool = False) -> list[str]:
    """The shards' texts in `shard_id` order; `blank` lets a text be empty (a task whose user
    frames every shard in words of its own still says something: two of the 30 published
    translation samples end with an empty chunk, which the authors send too)."""
    shards = _shard_list(sample, where)
    if not isinstance(shards, list) or not shards:
        raise SuiteError(f"{where}: 'shards' is not a non-empty list: not {LAYOUT}")
    ordered: list[tuple[int, str]] = []
    for number, shard in enumerate(shards, start=1):
        text = shard.get("shard", shard.get("shard_text")) if isinstance(shard, dict) else None
        shard_id = shard.get("shard_id", number) if isinstance(shard, dict) else None
        if not isinstance(text, str) or not (blank or text.strip()):
            raise SuiteError(f"{where}: shard {number} has no text ('shard' or 'shard_text')")
        if isinstance(shard_id, bool) or not isinstance(shard_id, int):
            raise SuiteError(f"{where}: shard {number}: 'shard_id' must be a whole number")
        ordered.append((shard_id, text))
    ids = [shard_id for shard_id, _ in ordered]
    if len(set(ids)) != len(ids):
        raise SuiteError(f"{where}: two shards share a shard_id")
    return [text for _, text in sorted(ordered)]


def _shards(
    sample: Mapping[str, Any], where: str, frame: Frame | None = None
) -> list[dict[str, Any]]:
    """The shards in `shard_id` order, as the user says them (`frame` puts a task's own words
    around each), with the markers of each shard's own text."""
    texts = _shard_texts(sample, where, blank=frame is not None)
    numbers = range(1, len(texts) + 1)
    said = [frame(n, t) for n, t in zip(numbers, texts, strict=True)] if frame else texts
    # Words the user says around the shards (the task's framing, the scripted user's reply to a
    # question) are in other messages too: a marker among them would show a shard revealed
    # where it was not.
    around = DEFAULT_CLARIFY
    if frame is not None:
        around = " ".join([around, *(frame(n, "") for n in numbers)])
    return [
        {"text": text, "markers": markers}
        for text, markers in zip(said, _markers(texts, around), strict=True)
    ]


_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]{4,}")
MARKERS_PER_SHARD = 2


def _markers(texts: list[str], around: str) -> list[list[str]]:
    """For each shard, up to two of its numbers or words (of four letters or more) that no
    other shard says, nor the words `around` the shards, numbers first, then the longest words:
    the audit's evidence that a user message revealed it. The authors tell revealed shards
    apart with an LLM; turnscope's audit needs markers, which their data does not have."""
    tokens = [list(dict.fromkeys(_TOKEN.findall(text))) for text in texts]
    folded = [{t.casefold() for t in found} for found in tokens]
    common = {t.casefold() for t in _TOKEN.findall(around)}
    chosen = []
    for index, found in enumerate(tokens):
        others = common.union(*(f for i, f in enumerate(folded) if i != index))
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


def _task_id(sample: Mapping[str, Any], where: str) -> str:
    task_id = sample.get("task_id")
    if not isinstance(task_id, str) or not task_id.strip():
        raise SuiteError(f"{where}: no 'task_id' field: not {LAYOUT}")
    return task_id


def _text(sample: Mapping[str, Any], key: str, where: str, *, blank: bool = False) -> str:
    value = sample.get(key)
    if not isinstance(value, str) or (not blank and not value.strip()):
        kind = "text" if blank else "non-empty text"
        raise SuiteError(f"{where}: {sample.get('task')} sample: {key!r} must be {kind}")
    return value


def _simulated(
    sample: Mapping[str, Any],
    task_id: str,
    *,
    system: str,
    task: str,
    reference: str,
    scorer: dict[str, Any],
    setup: dict[str, Any],
) -> dict[str, Any]:
    return {
        "id": f"lic-{task_id}",
        "category": f"lic/{sample.get('task')}",
        "protocol": "simulated",
        "system": system,
        "turns": [{"user": task, "reference": reference, "scorers": [scorer]}],
        "setup": setup,
        "metadata": {
            "source": "Lost in Conversation",
            "task": sample.get("task"),
            "task_id": task_id,
        },
    }


def math_item(sample: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A GSM8K sample: the question, checked by the number after "####"."""
    task_id = _task_id(sample, where)
    question = _text(sample, "question", where)
    gold, value = _gold(sample.get("answer"), where)
    return _simulated(
        sample,
        task_id,
        system=MATH_SYSTEM,
        task=question,
        reference=gold,
        scorer={"type": "numeric", "expected": value},
        setup={"persona": PERSONA, "goal": GOAL, "shards": _shards(sample, where)},
    )


def data2text_item(sample: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A ToTTo sample: describe the highlighted table in one sentence, scored by BLEU against
    every reference."""
    task_id = _task_id(sample, where)
    table = _text(sample, "table_highlighted_html", where)
    examples = _text(sample, "fewshot_descriptions", where, blank=True)
    metadata = sample.get("metadata")
    if not isinstance(metadata, dict):
        raise SuiteError(f"{where}: data2text sample: 'metadata' must be an object")
    context = "".join(f"{key}: {value}\n" for key, value in metadata.items())
    references = sample.get("references")
    if (
        not isinstance(references, list)
        or not references
        or not all(isinstance(r, str) for r in references)
        or not any(r.strip() for r in references)
    ):
        raise SuiteError(f"{where}: data2text sample: 'references' must be a list of texts")
    if len(references) > MAX_REFERENCES:
        raise SuiteError(
            f"{where}: data2text sample: {len(references)} references (at most {MAX_REFERENCES})"
        )
    shards = _shards(sample, where)
    hints = "\n\n".join(
        f"Hint {number}:\n{shard['text']}" for number, shard in enumerate(shards, start=1)
    )
    full = DATA2TEXT_FULL.format(
        task=DATA2TEXT_TASK, table=table, context=context, examples=examples
    )
    return _simulated(
        sample,
        task_id,
        system=DATA2TEXT_SYSTEM,
        task=full,
        reference=next(r for r in references if r.strip()),
        scorer={"type": "bleu", "references": references},
        setup={
            "persona": DATA2TEXT_PERSONA,
            "goal": DATA2TEXT_GOAL,
            "shards": shards,
            "concat": DATA2TEXT_CONCAT.format(task=DATA2TEXT_TASK, hints=hints),
        },
    )


def _chunk(number: int, text: str) -> str:
    """Shard `number` as the translation user sends it: the first explains the task."""
    return (TRANSLATION_FIRST if number == 1 else TRANSLATION_NEXT).format(
        number=number, chunk=text
    )


def translation_item(sample: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A WMT news document, German to English, sent a chunk per turn; scored by BLEU against
    the reference translation."""
    task_id = _task_id(sample, where)
    german = _text(sample, "document_de", where)
    english = _text(sample, "document_en", where)
    shards = _shards(sample, where, frame=_chunk)
    chunks = "\n\n".join(
        f"Chunk {number}:\n{text}"
        for number, text in enumerate(_shard_texts(sample, where, blank=True), start=1)
    )
    return _simulated(
        sample,
        task_id,
        system=TRANSLATION_SYSTEM,
        task=TRANSLATION_FULL.format(text=german),
        reference=english,
        scorer={"type": "bleu", "references": [english]},
        setup={
            "persona": TRANSLATION_PERSONA,
            "goal": TRANSLATION_GOAL,
            "shards": shards,
            "concat": TRANSLATION_FULL.format(text=TRANSLATION_CONCAT.format(chunks=chunks)),
        },
    )


TASKS: dict[str, Callable[[Mapping[str, Any], str], dict[str, Any]]] = {
    "math": math_item,
    "data2text": data2text_item,
    "translation": translation_item,
}
"""The tasks played, by the name in a sample's `task`, with what builds their items."""


def lic_item(sample: Mapping[str, Any], where: str) -> dict[str, Any]:
    """One playable sample as a simulated item dict (validated later by the suite loader)."""
    build = TASKS.get(str(sample.get("task")))
    if build is None:
        raise SuiteError(f"{where}: task {str(sample.get('task'))[:40]!r} is not played")
    return build(sample, where)


def _data_files(argument: str) -> list[Path]:
    path = Path(argument).expanduser()
    if path.is_dir():
        found = [next(iter(sorted(path.rglob(name))), None) for name in DATA_FILES]
        files = [f for f in found if f is not None]
        if not files:
            raise SuiteError(f"lic:{argument}: no {' or '.join(DATA_FILES)} in this folder")
        return files
    if not path.is_file():
        raise SuiteError(f"lic:{argument}: no such file or directory")
    return [path]


def load_lic(argument: str | None, skip_invalid: bool) -> LoadedSuite:
    """The `lic:PATH` suite: the math, data2text and translation samples, played sharded,
    full and concat."""
    if not argument:
        raise SuiteError(
            f"lic needs a path: lic:PATH, the authors' data/{DATA_FILE} or "
            f"data/{TRANSLATION_FILE} (microsoft/lost_in_conversation) or the folder holding them"
        )
    raws: list[RawItem] = []
    left_out: dict[str, int] = {}
    for path in _data_files(argument):
        for line, sample, error in _samples(path):
            where = f"{path}:{line}"
            if sample is None or not isinstance(sample, dict):
                problem = error or f"expected a sample object, got {type(sample).__name__}"
                raws.append(RawItem(None, path, line, parse_error=problem))
                continue
            task = str(sample.get("task"))
            if task not in TASKS:
                reason = NOT_PLAYABLE.get(task, "not a task of the paper turnscope knows")
                key = f"Lost-in-Conversation task {task[:40]}: {reason}"
                left_out[key] = left_out.get(key, 0) + 1
                continue
            try:
                raws.append(RawItem(lic_item(sample, where), path, line))
            except SuiteError as exc:
                problem = str(exc).removeprefix(f"{where}: ")
                raws.append(RawItem(None, path, line, parse_error=problem))
    if not raws:
        raise SuiteError(
            f"lic:{argument}: no sample here can be played (only {', '.join(TASKS)} are)"
        )
    loaded = build_suite(f"lic:{argument}", raws, skip_invalid=skip_invalid)
    return LoadedSuite(
        loaded.suite,
        loaded.skipped,
        conditions=(SHARDED, FULL, CONCAT),
        max_tokens=MAX_TOKENS,
        left_out=left_out,
        origins=loaded.origins,
    )
