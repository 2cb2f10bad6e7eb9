"""The real embedded model as a grade judge: the prompt goes through the model and its text
through the parser. The 135M model is a weak judge, so this checks the plumbing, not quality:
either a verdict, or a parse error that carries the model's raw text."""

from __future__ import annotations

from turnscope.core import GenerationParams, Message
from turnscope.models.llamacpp import LlamaCppClient
from turnscope.scorers.judges import (
    JudgeInput,
    JudgeParams,
    VerdictParseError,
    judge_kind,
    parse_failure_text,
)


async def test_embedded_model_grades_or_fails_with_its_raw_text(embedded: LlamaCppClient) -> None:
    kind = judge_kind("grade", JudgeParams(guidance="The capital must be named correctly."))
    inp = JudgeInput(
        history=(
            Message(role="user", content="My name is Ada."),
            Message(role="assistant", content="Nice to meet you, Ada."),
            Message(role="user", content="What is the capital of France?"),
        ),
        answer="The capital of France is Paris.",
        reference="Paris.",
    )
    completion = await embedded.generate(
        kind.messages(inp), GenerationParams(max_tokens=24), seed=0
    )
    assert completion.prompt_tokens is not None and completion.prompt_tokens > 100
    try:
        verdict = kind.parse(completion.text)
    except VerdictParseError as error:
        assert error.raw == completion.text
        assert str(error)  # says what was wrong
        assert repr(completion.text.strip())[:40] in parse_failure_text([error])
    else:
        assert verdict.kind == "grade" and verdict.grade is not None
        assert verdict.value == verdict.grade / 10
