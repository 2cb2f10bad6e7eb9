"""MT-Eval (Kwan et al., 2024): recollection, expansion, refinement and follow-up dialogues,
each with a single-turn version.

Layout read (see docs/benchmarks.md): the hub dataset wckwan/MT-Eval holds one JSON Lines
file per config, `<config>.jsonl`:
  refinement_multi, expansion_multi, follow-up_multi, recollection_multi_cls,
  recollection_multi_global-inst, and the same five with `single` in place of `multi`.
Each row is {id, conv: [{user, sys, id, inst, do_inference}, ...]}; the global-instruction
files add {inst_name, inst_args} (one instruction that must hold in every answer). `sys` is the
gold answer; `do_inference` says whether the model answers that turn; `inst` is the request the
turn adds. A `do_inference: false` turn is a fixed assistant turn holding its gold answer: it
is never asked, so the `own` condition plays the publisher's main setting (gold answers for
those turns, the model's own for the answered ones).

How each config is scored, following the publisher's evaluation code:
- refinement: judged 1-10 against every constraint added since the task of the dialogue
  last changed (the turn ids carry the task: "<doc>_<task>_<n>");
- expansion: judged 1-10 against the turn's own request;
- follow-up: judged 1-10 as a follow-up answer (MT-Bench style);
- recollection, classification: by code, the gold label must appear in the answer
  (after lowercasing and dropping punctuation);
- recollection, global instruction: by code through the IFEval checkers where the
  instruction has an IFEval twin, a regular expression for "start with letter X", a judge
  rubric otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

from turnscope.suites.adapters.hub import locate
from turnscope.suites.adapters.rows import judge_spec, raw_items, text_field
from turnscope.suites.loader import LoadedSuite, RawItem, SuiteError, build_suite

MT_EVAL_HUB = "wckwan/MT-Eval"
MT_EVAL_LAYOUT = "MT-Eval's layout (id, conv: [{user, sys, id, inst, do_inference}])"
MULTI_CONFIGS = (
    "refinement_multi",
    "expansion_multi",
    "follow-up_multi",
    "recollection_multi_cls",
    "recollection_multi_global-inst",
)
SINGLE_CONFIGS = tuple(c.replace("_multi", "_single") for c in MULTI_CONFIGS)

REFINEMENT_GUIDANCE = (
    "The user keeps refining one request about a document given earlier in the conversation. "
    "Judge how well the answer satisfies every constraint listed below, all at once, while "
    "staying faithful to the document. Each violated constraint is a serious fault; an answer "
    "that meets only the newest constraint is not a good answer."
)
EXPANSION_GUIDANCE = (
    "The user asks a new question about a document given earlier in the conversation. Judge "
    "whether the answer addresses the request below accurately and completely, using the "
    "document where the request depends on it."
)
FOLLOW_UP_GUIDANCE = (
    "The user's message follows up on the previous answer. Judge whether the answer builds on "
    "that earlier exchange correctly and answers the follow-up helpfully, accurately and at a "
    "suitable level of detail."
)

LANGUAGE_CODES = {
    "Arabic": "ar",
    "Bengali": "bn",
    "Bulgarian": "bg",
    "English": "en",
    "Finnish": "fi",
    "French": "fr",
    "German": "de",
    "Gujarati": "gu",
    "Hebrew": "he",
    "Hindi": "hi",
    "Italian": "it",
    "Japanese": "ja",
    "Kannada": "kn",
    "Korean": "ko",
    "Malayalam": "ml",
    "Marathi": "mr",
    "Nepali": "ne",
    "Persian": "fa",
    "Polish": "pl",
    "Portuguese": "pt",
    "Punjabi": "pa",
    "Russian": "ru",
    "Spanish": "es",
    "Swahili": "sw",
    "Tamil": "ta",
    "Telugu": "te",
    "Thai": "th",
    "Ukrainian": "uk",
    "Urdu": "ur",
    "Vietnamese": "vi",
}
"""Language names in MT-Eval's global instructions -> the codes the IFEval checker takes."""
IFEVAL_YES_NO_MAYBE = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


def _ifeval_twin(name: str, args: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The IFEval instruction (id, kwargs) that checks the same thing, if there is one."""
    plain = {
        "format:json_format": "detectable_format:json_format",
        "punctuation:no_comma": "punctuation:no_comma",
        "combination:two_responses": "combination:two_responses",
    }
    if name in plain:
        return plain[name], {}
    if name == "language:response_language" and args.get("lang") in LANGUAGE_CODES:
        return "language:response_language", {"language": LANGUAGE_CODES[args["lang"]]}
    if name == "length_constraints:number_sentences" and args.get("num_sentences"):
        relation = args.get("relation") or "less than"
        return name, {"num_sentences": args["num_sentences"], "relation": relation}
    if name == "keywords:existence" and args.get("keywords"):
        return name, {"keywords": list(args["keywords"])}
    if name == "format:bullet_list" and args.get("num_bullets"):
        return "detectable_format:number_bullet_lists", {"num_bullets": args["num_bullets"]}
    if name == "content:placeholder" and args.get("num_placeholder"):
        return "detectable_content:number_placeholders", {
            "num_placeholders": args["num_placeholder"]
        }
    options = tuple(args.get("response_options") or IFEVAL_YES_NO_MAYBE)
    if name == "format:constrained_response" and options == IFEVAL_YES_NO_MAYBE:
        return "detectable_format:constrained_response", {}
    return None


def _rubric(name: str, args: Mapping[str, Any]) -> str:
    """A yes/no question for a global instruction no code check covers."""
    if name == "startend:start_emoji":
        return "Does the answer begin with an emoji?"
    if name == "format:bullet_list":
        return "Is the answer written entirely as bullet points?"
    if name == "format:constrained_response":
        listed = "; ".join(str(o) for o in args.get("response_options") or ())
        return f"Is the answer one of these options: {listed}?"
    shown = ", ".join(f"{k}={v!r}" for k, v in args.items())
    return f"Does the answer follow the standing instruction {name} ({shown}) given earlier?"


def global_instruction_specs(
    name: str, args: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Scorer specs for the first judged turn and for every later one."""
    args = {k: v for k, v in args.items() if v not in (None, "", [])}
    twin = _ifeval_twin(name, args)
    if twin is not None:
        instruction = {"id": twin[0], "kwargs": twin[1]}
        return {"type": "instructions", "add": [instruction]}, {"type": "instructions"}
    # MT-Eval's own checks where they differ from IFEval's: the case checks ask for no
    # language, and the end phrase ignores closing single quotes where IFEval ignores double.
    if name in ("change_case:capital_letter", "change_case:lowercase"):
        case = {"type": "case", "letters": "upper" if "capital" in name else "lower"}
        return case, case
    if name == "startend:end_phrase" and isinstance(args.get("end_phrase"), str):
        phrase = args["end_phrase"].strip()
        ending = {"type": "regex", "pattern": rf"{re.escape(phrase)}'*\s*\Z", "ignore_case": True}
        return ending, ending
    if name == "startend:start_char" and isinstance(args.get("letter"), str):
        regex = {
            "type": "regex",
            "pattern": rf"^\s*{re.escape(args['letter'])}",
            "ignore_case": True,
        }
        return regex, regex
    rubric = judge_spec("rubric", rubric=_rubric(name, args), use_reference=False)
    return rubric, rubric


def _task(config: str) -> str:
    """The scoring task of a config: "refinement", ..., "recollection_cls"."""
    family, _, rest = config.partition("_")
    kind = rest.partition("_")[2]
    return f"{family}_{kind}" if kind else family


def _turn_fields(entry: Any, where: str) -> tuple[str, bool, str | None]:
    """(user text, whether the model answers, gold answer) of one `conv` entry."""
    user = text_field(entry.get("user")) if isinstance(entry, dict) else None
    if user is None:
        raise SuiteError(f"{where} has no 'user' text: not a row in {MT_EVAL_LAYOUT}")
    answer = entry.get("do_inference")
    if not isinstance(answer, bool):
        raise SuiteError(f"{where}.do_inference must be true or false")
    return user, answer, text_field(entry.get("sys"))


def _refinement_task(turn_id: Any) -> str | None:
    """The task a refinement turn belongs to, from its id "<doc>_<task>_<n>"."""
    parts = str(turn_id or "").split("_")
    return parts[1] if len(parts) > 2 else None


def _answered_turn_scorer(
    task: str, request: str, constraints: list[str], gold: str | None, where: str
) -> dict[str, Any]:
    """The scorer of an answered turn of every task but the global-instruction one."""
    if task == "refinement":
        listed = "\n".join(f"{i}. {c}" for i, c in enumerate(constraints, start=1))
        guidance = f"{REFINEMENT_GUIDANCE}\n\nConstraints:\n{listed}"
        return judge_spec("grade", guidance=guidance, use_reference=False)
    if task == "expansion":
        guidance = f"{EXPANSION_GUIDANCE}\n\nRequest: {request}"
        return judge_spec("grade", guidance=guidance, use_reference=False)
    if task == "follow-up":
        return judge_spec("grade", guidance=FOLLOW_UP_GUIDANCE, use_reference=False)
    if gold is None:
        raise SuiteError(f"{where} is answered but has no gold label")
    return {"type": "contains", "normalise": True}


def mt_eval_item(row: Mapping[str, Any], where: str, config: str) -> dict[str, Any]:
    """One MT-Eval dialogue of `config` (e.g. "refinement_multi") as an item dict."""
    dialogue = row.get("id")
    conv = row.get("conv")
    if dialogue is None or not isinstance(conv, list) or not conv:
        raise SuiteError(f"{where}: no id or conv: not a row in {MT_EVAL_LAYOUT}")
    task = _task(config)
    family = task.partition("_")[0]
    global_specs = None
    if task == "recollection_global-inst":
        name, args = row.get("inst_name"), row.get("inst_args") or {}
        if not isinstance(name, str) or not isinstance(args, dict):
            raise SuiteError(f"{where}: a global-instruction row needs inst_name and inst_args")
        global_specs = global_instruction_specs(name, args)

    turns: list[dict[str, Any]] = []
    judged: list[int] = []
    constraints: list[str] = []
    topic: str | None = None
    for k, entry in enumerate(conv, start=1):
        place = f"{where}: conv[{k - 1}]"
        user, answer, gold = _turn_fields(entry, place)
        if not answer and gold is not None:
            turns.append({"user": user, "assistant": gold})
            continue
        scorers: list[dict[str, Any]] = []
        if answer:
            judged.append(k)
            request = text_field(entry.get("inst")) or user
            if task == "refinement":
                # Constraints accumulate within one task of the dialogue; a new task restarts them.
                current = _refinement_task(entry.get("id"))
                if current != topic:
                    constraints, topic = [], current
                constraints.append(request)
            if global_specs is not None:
                scorers.append(global_specs[0] if len(judged) == 1 else global_specs[1])
            else:
                scorers.append(_answered_turn_scorer(task, request, constraints, gold, place))
        turns.append({"user": user, "reference": gold, "scorers": scorers})
    if not judged:
        raise SuiteError(f"{where}: no turn has do_inference true: nothing to answer")
    return {
        "id": f"mt-eval-{config}-{dialogue}",
        "category": family,
        "turns": turns,
        "metadata": {
            "source": "MT-Eval",
            "config": config,
            "dialogue_id": dialogue,
            "family": family,
            "probe_turns": judged,
            "context_turns": [k for k in range(1, len(turns) + 1) if k not in judged],
            "publisher_variant": "single" if "_single" in config else "multi",
        },
    }


def _config_of(path: Path) -> str:
    config = path.name.removesuffix(".jsonl")
    if config not in MULTI_CONFIGS + SINGLE_CONFIGS:
        expected = ", ".join(f"{c}.jsonl" for c in MULTI_CONFIGS + SINGLE_CONFIGS)
        raise SuiteError(f"{path}: not an MT-Eval config file; expected one of {expected}")
    return config


def read_mt_eval(source: str | None, configs: tuple[str, ...]) -> list[RawItem]:
    """Raw items from one config file, or the `configs` files of a directory or the hub."""
    files = locate(source or MT_EVAL_HUB, tuple(f"{c}.jsonl" for c in configs))
    raws: list[RawItem] = []
    for path in files:
        config = _config_of(path)
        raws += raw_items([path], partial(mt_eval_item, config=config))
    return raws


def load_mt_eval(source: str | None, skip_invalid: bool) -> LoadedSuite:
    """MT-Eval's multi-turn dialogues (or any one config file given by path)."""
    raws = read_mt_eval(source, MULTI_CONFIGS)
    return build_suite(f"mt-eval:{source or MT_EVAL_HUB}", raws, skip_invalid=skip_invalid)


def load_mt_eval_single(source: str | None, skip_invalid: bool) -> LoadedSuite:
    """MT-Eval's own single-turn versions (the *_single configs)."""
    raws = read_mt_eval(source, SINGLE_CONFIGS)
    return build_suite(f"mt-eval-single:{source or MT_EVAL_HUB}", raws, skip_invalid=skip_invalid)
