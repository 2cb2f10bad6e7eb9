"""Throughput of the IFEval checkers on one core: instruction checks per second.

Responses are fresh chat-shaped answers of 80-400 words (paragraphs, markdown bullets and
emphasis, titles, numbers, abbreviations, contractions); every instruction type has an equal
share. Everything is generated first; only the checking is timed, with every cache emptied
before each timed pass. Two workloads:

- scoring (the headline, RESULT checks_per_second): how a run scores answers. Each answer
  carries the 1-4 instructions in force at its turn and gets a strict and a loose verdict
  for each, through check_both() as the `instructions` scorer calls it; one verdict is one
  check. Measurements of the answer (sentences, language) are shared by its instructions.
- isolated (RESULT checks_per_second_isolated): the worst case, every check() call on an
  answer no other check has seen, a strict pass and then a loose pass.

The three types that detect the language (response_language, english_capital,
english_lowercase) are slower than the rest; their isolated rate is reported on its own.

    python benchmarks/checkers.py [--cases-per-type N] [--answers N] [--seed S]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from turnscope.scorers.ifeval import INSTRUCTION_IDS, _langdetect, check, check_both
from turnscope.scorers.ifeval._api import _BUILT
from turnscope.scorers.ifeval._punkt import _context_breaks, sentence_spans
from turnscope.scorers.ifeval._text import (
    _capitals_in_sentence,
    _nltk_word_tokenizer,
    detect_language,
)

LANGUAGE_IDS = frozenset(
    {"language:response_language", "change_case:english_capital", "change_case:english_lowercase"}
)

_VOCABULARY = (
    "the of and to in is that for it as with was on be by this are or from at an which "
    "but not have has had can will would more about their there been if they one all also "
    "system model answer question result data value method process example approach team "
    "project time people work user design report review change plan issue point reason "
    "important simple clear useful different common specific possible general recent key "
    "improve consider provide support include create explain describe compare measure use "
    "river garden market window village winter summer morning evening library museum city"
)
WORDS = tuple(_VOCABULARY.split())
FLAVOUR = (
    "Dr.",
    "e.g.",
    "i.e.",
    "U.S.",
    "3.5",
    "2024",
    "10%",
    "don't",
    "it's",
    "I'm",
    "AI",
    "NASA",
    "API",
    "well-known",
    "(see below)",
    "[1]",
    "etc.",
    "vs.",
    "OK",
    "JSON",
)


def sentence(rng: random.Random) -> str:
    words = [
        rng.choice(FLAVOUR) if rng.random() < 0.06 else rng.choice(WORDS)
        for _ in range(rng.randint(6, 22))
    ]
    text = " ".join(words)
    if rng.random() < 0.2:
        text = text.replace(" ", ", ", 1)
    return text[0].upper() + text[1:] + rng.choice((".", ".", ".", "!", "?"))


def paragraph(rng: random.Random) -> str:
    return " ".join(sentence(rng) for _ in range(rng.randint(2, 6)))


def chat_answer(rng: random.Random) -> str:
    """A response of roughly 80-400 words with typical chat formatting."""
    blocks = []
    if rng.random() < 0.3:
        blocks.append(f"<<{sentence(rng)[:-1]}>>")
    for _ in range(rng.randint(1, 4)):
        roll = rng.random()
        if roll < 0.6:
            blocks.append(paragraph(rng))
        elif roll < 0.8:
            blocks.append("\n".join(f"* {sentence(rng)}" for _ in range(rng.randint(2, 5))))
        else:
            blocks.append(f"**{sentence(rng)[:-1]}** {paragraph(rng)} *{rng.choice(WORDS)}*")
    separator = "\n\n***\n\n" if rng.random() < 0.2 else "\n\n"
    answer = separator.join(blocks)
    if rng.random() < 0.2:
        answer += "\n\nP.S. " + sentence(rng)
    return answer


def kwargs_for(instruction_id: str, rng: random.Random) -> dict[str, Any]:
    relation = rng.choice(("less than", "at least"))
    choices: dict[str, Callable[[], dict[str, Any]]] = {
        "keywords:existence": lambda: {"keywords": rng.sample(WORDS, 2)},
        "keywords:frequency": lambda: {
            "keyword": rng.choice(WORDS),
            "frequency": rng.randint(1, 4),
            "relation": relation,
        },
        "keywords:forbidden_words": lambda: {"forbidden_words": rng.sample(WORDS, 3)},
        "keywords:letter_frequency": lambda: {
            "letter": rng.choice("abcdefghijklmnopqrstuvwxyz"),
            "let_frequency": rng.randint(5, 40),
            "let_relation": relation,
        },
        "language:response_language": lambda: {"language": rng.choice(("en", "fr", "de"))},
        "length_constraints:number_sentences": lambda: {
            "num_sentences": rng.randint(3, 20),
            "relation": relation,
        },
        "length_constraints:number_paragraphs": lambda: {"num_paragraphs": rng.randint(1, 4)},
        "length_constraints:number_words": lambda: {
            "num_words": rng.randint(100, 400),
            "relation": relation,
        },
        "length_constraints:nth_paragraph_first_word": lambda: {
            "num_paragraphs": 3,
            "nth_paragraph": rng.randint(1, 3),
            "first_word": "the",
        },
        "detectable_content:number_placeholders": lambda: {"num_placeholders": rng.randint(1, 3)},
        "detectable_content:postscript": lambda: {
            "postscript_marker": rng.choice(("P.S.", "P.P.S"))
        },
        "detectable_format:number_bullet_lists": lambda: {"num_bullets": rng.randint(2, 5)},
        "detectable_format:constrained_response": dict,
        "detectable_format:number_highlighted_sections": lambda: {
            "num_highlights": rng.randint(1, 3)
        },
        "detectable_format:multiple_sections": lambda: {
            "section_spliter": rng.choice(("Section", "SECTION")),
            "num_sections": 2,
        },
        "detectable_format:json_format": dict,
        "detectable_format:title": dict,
        "combination:two_responses": dict,
        "combination:repeat_prompt": lambda: {"prompt_to_repeat": sentence(rng)},
        "startend:end_checker": lambda: {"end_phrase": "Any other questions?"},
        "change_case:capital_word_frequency": lambda: {
            "capital_frequency": rng.randint(1, 5),
            "capital_relation": relation,
        },
        "change_case:english_capital": dict,
        "change_case:english_lowercase": dict,
        "punctuation:no_comma": dict,
        "startend:quotation": dict,
    }
    return choices[instruction_id]()


@dataclass(frozen=True)
class Case:
    instruction_id: str
    kwargs: dict[str, Any]
    response: str


def workload(cases_per_type: int, seed: int) -> list[Case]:
    rng = random.Random(seed)
    cases = []
    for instruction_id in INSTRUCTION_IDS:
        for _ in range(cases_per_type):
            response = chat_answer(rng)
            if instruction_id == "change_case:english_capital" and rng.random() < 0.5:
                response = response.upper()
            elif instruction_id == "change_case:english_lowercase" and rng.random() < 0.5:
                response = response.lower()
            cases.append(Case(instruction_id, kwargs_for(instruction_id, rng), response))
    rng.shuffle(cases)
    return cases


@dataclass(frozen=True)
class ScoredAnswer:
    response: str
    instructions: list[tuple[str, dict[str, Any]]]


def scoring_workload(answers: int, seed: int) -> list[ScoredAnswer]:
    """Answers with 1-4 instructions in force; over all answers each type has an equal share."""
    rng = random.Random(seed)
    pool: list[str] = []
    result = []
    for _ in range(answers):
        wanted = rng.randint(1, 4)
        chosen: list[str] = []
        while len(chosen) < wanted:
            if not pool:
                pool = list(INSTRUCTION_IDS)
                rng.shuffle(pool)
            candidate = pool.pop()
            if candidate not in chosen:
                chosen.append(candidate)
        response = chat_answer(rng)
        if "change_case:english_capital" in chosen and rng.random() < 0.5:
            response = response.upper()
        elif "change_case:english_lowercase" in chosen and rng.random() < 0.5:
            response = response.lower()
        result.append(ScoredAnswer(response, [(i, kwargs_for(i, rng)) for i in chosen]))
    return result


def timed_scoring(answers: list[ScoredAnswer]) -> tuple[int, float]:
    """(verdicts, seconds) for strict and loose verdicts of every instruction of every answer."""
    empty_caches()
    verdicts = 0
    started = time.perf_counter()
    for answer in answers:
        for instruction_id, kwargs in answer.instructions:
            check_both(instruction_id, kwargs, answer.response)
            verdicts += 2
    return verdicts, time.perf_counter() - started


def empty_caches() -> None:
    _BUILT.clear()
    _context_breaks.cache_clear()
    sentence_spans.cache_clear()
    _capitals_in_sentence.cache_clear()
    detect_language.cache_clear()
    _langdetect.verdict.cache_clear()


def timed(cases: list[Case], loose: bool) -> dict[bool, tuple[int, float]]:
    """Seconds spent per group (True = langdetect types), and the number of checks."""
    spent = {True: 0.0, False: 0.0}
    counts = {True: 0, False: 0}
    clock = time.perf_counter
    empty_caches()
    for case in cases:
        start = clock()
        check(case.instruction_id, case.kwargs, case.response, loose=loose)
        elapsed = clock() - start
        group = case.instruction_id in LANGUAGE_IDS
        spent[group] += elapsed
        counts[group] += 1
    return {g: (counts[g], spent[g]) for g in (True, False)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases-per-type", type=int, default=400)
    parser.add_argument("--answers", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    cases = workload(args.cases_per_type, args.seed)
    words = sum(len(c.response.split()) for c in cases) / len(cases)
    print(f"{len(cases)} cases, {len(INSTRUCTION_IDS)} instruction types, {words:.0f} words each")
    # Warm-up, untimed: language profiles, compiled patterns, and the import of nltk for
    # the rare sentence only NLTK's word tokenizer can split (half a second, once).
    _nltk_word_tokenizer()
    for case in cases[:50]:
        check(case.instruction_id, case.kwargs, case.response, loose=True)

    totals = {True: [0, 0.0], False: [0, 0.0]}
    for mode, loose in (("strict", False), ("loose", True)):
        result = timed(cases, loose)
        n = sum(c for c, _ in result.values())
        seconds = sum(s for _, s in result.values())
        plain_n, plain_s = result[False]
        lang_n, lang_s = result[True]
        print(
            f"{mode:6s}: {n / seconds:10.0f} checks/s all types, "
            f"{plain_n / plain_s:10.0f} without langdetect types, "
            f"{lang_n / lang_s:8.0f} langdetect types only"
        )
        for group in (True, False):
            totals[group][0] += result[group][0]
            totals[group][1] += result[group][1]

    all_n = totals[True][0] + totals[False][0]
    all_s = totals[True][1] + totals[False][1]

    scored = scoring_workload(args.answers, args.seed)
    instructions = sum(len(a.instructions) for a in scored)
    verdicts, seconds = timed_scoring(scored)
    print(
        f"scoring: {len(scored)} answers, {instructions} instructions, "
        f"{verdicts} strict+loose verdicts in {seconds:.2f}s"
    )
    print(f"RESULT checks_per_second={verdicts / seconds:.0f}")
    print(f"RESULT checks_per_second_isolated={all_n / all_s:.0f}")
    print(
        f"RESULT checks_per_second_isolated_no_language={totals[False][0] / totals[False][1]:.0f}"
    )
    print(
        f"RESULT checks_per_second_isolated_language_only={totals[True][0] / totals[True][1]:.0f}"
    )


if __name__ == "__main__":
    main()
