"""Constrained verdicts: every judge kind declares its verdict's form, every text that form
allows parses, and the real embedded model held to it always gives a verdict."""

from __future__ import annotations

import logging
import re

import pytest

from helpers.scripted import ScriptedModel
from turnscope.core import GenerationParams, Message, OutputConstraint, request_key
from turnscope.engine import RetryPolicy
from turnscope.engine.calls import ModelCaller
from turnscope.engine.judging import Judge
from turnscope.models import PermanentModelError
from turnscope.models.constraints import to_gbnf, to_regex
from turnscope.models.llamacpp import LlamaCppClient
from turnscope.scorers.judges import JudgeInput, JudgeParams, judge_kind
from turnscope.scorers.judges._persona import PersonaParams

KINDS = {
    "grade": JudgeParams(),
    "pairwise": JudgeParams(),
    "rubric": JudgeParams(kind="rubric", rubric="Does the reply name a city?"),
    "checklist": JudgeParams(kind="checklist", items=("Is it short?", "Is it polite?", "True?")),
    "persona": PersonaParams(persona="A pirate captain."),
}

INPUT = JudgeInput(
    history=(
        Message(role="user", content="My name is Ada."),
        Message(role="assistant", content="Nice to meet you, Ada."),
        Message(role="user", content="What is the capital of France?"),
    ),
    answer="The capital of France is Paris.",
    answer_b="Lyon.",
    reference="Paris.",
)


def allowed_texts(constraint: OutputConstraint) -> list[str]:
    """Texts the constraint allows, with and without a reasoning preamble."""
    if constraint.choices is not None:
        bodies = list(constraint.choices)
    else:
        assert constraint.regex is not None
        # The checklist's form: numbered yes/no lines; all yes, all no, alternating.
        count = constraint.regex.count("\n") + 1
        bodies = [
            "\n".join(f"{n}. {answer(n)}" for n in range(1, count + 1))
            for answer in (lambda n: "yes", lambda n: "no", lambda n: "yes" if n % 2 else "no")
        ]
    return bodies + [f"Some reasoning, with (brackets) of another kind.\n{b}" for b in bodies]


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_text_a_kind_allows_parses(name: str) -> None:
    kind = judge_kind(name, KINDS[name])
    constraint = kind.constraint()
    assert constraint is not None and constraint.preamble
    pattern = to_regex(constraint)
    assert pattern is not None
    for text in allowed_texts(constraint):
        assert re.fullmatch(pattern, text), text
        verdict = kind.parse(text)
        assert verdict.kind == name


def test_grammar_of_choices_escapes_quotes_backslashes_and_newlines() -> None:
    grammar = to_gbnf(OutputConstraint(choices=('say "hi"', "a\\b", "two\nlines")))
    assert grammar is not None
    assert 'body ::= "say \\"hi\\"" | "a\\\\b" | "two\\nlines"' in grammar
    assert grammar.startswith("root ::= body\n")
    with_preamble = to_gbnf(OutputConstraint(choices=("x",), preamble=True))
    assert with_preamble is not None and with_preamble.startswith("root ::= preamble? body\n")


def test_constraint_takes_exactly_one_form() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        OutputConstraint()
    with pytest.raises(ValueError, match="exactly one"):
        OutputConstraint(choices=("a",), regex="a")
    with pytest.raises(ValueError, match="no preamble"):
        OutputConstraint(json_schema={"type": "object"}, preamble=True)


def test_constraint_is_part_of_the_cache_key_and_absent_keeps_old_keys() -> None:
    identity = ScriptedModel({}).identity
    messages = [Message(role="user", content="hi")]
    plain = GenerationParams(max_tokens=8)
    constrained = plain.model_copy(update={"constraint": OutputConstraint(choices=("a", "b"))})
    other = plain.model_copy(update={"constraint": OutputConstraint(choices=("a", "c"))})
    keys = {request_key(identity, messages, p, 1, 0) for p in (plain, constrained, other)}
    assert len(keys) == 3
    # A request without a constraint hashes as it did before the field existed.
    assert "constraint" not in plain.model_dump(mode="json", exclude_none=True)


@pytest.mark.parametrize(
    ("name", "max_tokens"),
    [(name, 16) for name in sorted(KINDS)] + [("grade", 48), ("checklist", 48)],
)
async def test_embedded_judge_held_to_the_grammar_always_gives_a_verdict(
    embedded: LlamaCppClient, name: str, max_tokens: int
) -> None:
    # 16 tokens leave no room for reasoning (the verdict alone is asked); 48 leave some, and
    # the answer goes on with the verdict once the reasoning has used its share.
    kind = judge_kind(name, KINDS[name])
    constraint = kind.constraint()
    assert constraint is not None and embedded.enforces(constraint)
    params = GenerationParams(max_tokens=max_tokens, constraint=constraint)
    completion = await embedded.generate(kind.messages(INPUT), params, seed=3)
    assert completion.completion_tokens is not None
    assert completion.completion_tokens <= max_tokens
    pattern = to_regex(constraint)
    assert pattern is not None and re.fullmatch(pattern, completion.text), completion.text
    assert kind.parse(completion.text).kind == name


async def test_embedded_json_schema_and_a_refused_grammar(embedded: LlamaCppClient) -> None:
    schema = {
        "type": "object",
        "properties": {"rating": {"type": "integer"}},
        "required": ["rating"],
    }
    params = GenerationParams(max_tokens=24, constraint=OutputConstraint(json_schema=schema))
    completion = await embedded.generate(
        [Message(role="user", content="Rate 2+2=4.")], params, seed=1
    )
    assert completion.text.lstrip().startswith("{") and '"rating"' in completion.text
    # `\.` passes llama-cpp-python's converter but not llama.cpp's parser: a clear permanent
    # error instead of a crashed sampler.
    bad = GenerationParams(max_tokens=8, constraint=OutputConstraint(regex=r"1\. (yes|no)"))
    with pytest.raises(PermanentModelError, match="refuses the grammar"):
        await embedded.generate([Message(role="user", content="Say yes.")], bad, seed=1)
    # A regex the converter cannot read at all is not enforced (free text, parsed as usual).
    assert not embedded.enforces(OutputConstraint(regex=r"(?=a)a"))


async def test_judge_on_a_backend_without_constraints_says_so_once_and_parses(
    caplog: pytest.LogCaptureFixture,
) -> None:
    model = ScriptedModel({"capital": ["Fine.\nRating: [[8]]"]})
    judge = Judge(
        "scripted", ModelCaller(model, GenerationParams(max_tokens=32), RetryPolicy(), None), 2
    )
    kind = judge_kind("grade", JudgeParams())
    with caplog.at_level(logging.WARNING, logger="turnscope"):
        first = await judge.judge(kind, INPUT, max_attempts=2, seed=0)
        second = await judge.judge(kind, INPUT, max_attempts=2, seed=0)
    assert first.verdict is not None and first.verdict.grade == 8
    assert second.verdict == first.verdict
    said = [r.getMessage() for r in caplog.records if "cannot hold" in r.getMessage()]
    assert said == [
        "judge scripted cannot hold its grade verdicts to their format while decoding; "
        "unparseable ones are asked again (see `turnscope models`)"
    ]
    # The constraint still travels with the request (and its cache key).
    assert all(params.constraint == kind.constraint() for _, params in model.requests)
