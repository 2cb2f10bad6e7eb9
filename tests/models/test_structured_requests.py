"""Output constraints over HTTP: the fields each kind of server is sent (a fake server records
the bodies), auto-detection of a llama.cpp server, the fallback where a server has no field for
a constraint, and the real llama_cpp.server holding an answer to a grammar."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from helpers.cli import assert_one_error_line, turnscope
from helpers.servers import FakeOpenAIServer, LlamaServer
from turnscope.core import GenerationParams, Message, OutputConstraint
from turnscope.models import BackendOptions, ModelConfigError, create_client
from turnscope.models.constraints import to_gbnf, to_regex
from turnscope.models.openai_compat import OpenAICompatClient
from turnscope.scorers.judges import JudgeParams, judge_kind

pytestmark = pytest.mark.timeout(240)

GRADE = judge_kind("grade", JudgeParams()).constraint()
CHECKLIST = judge_kind("checklist", JudgeParams(kind="checklist", items=("a?", "b?"))).constraint()
YES_NO = OutputConstraint(choices=("yes", "no"))
SCHEMA: dict[str, Any] = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
JSON = OutputConstraint(json_schema=SCHEMA)
MESSAGES = [Message(role="user", content="Is the sky blue?")]


def client(fake: FakeOpenAIServer, structured: str | None) -> OpenAICompatClient:
    extra = {} if structured is None else {"structured": structured}
    made = create_client(f"openai:judge@{fake.base_url}", BackendOptions(extra=extra))
    assert isinstance(made, OpenAICompatClient)
    return made


async def sent_fields(fake: FakeOpenAIServer, structured: str | None) -> list[dict[str, Any]]:
    """What each constraint added to the request body, in the order GRADE, CHECKLIST, YES_NO,
    JSON, no constraint."""
    model = client(fake, structured)
    try:
        await model.preflight()
        for constraint in (GRADE, CHECKLIST, YES_NO, JSON, None):
            params = GenerationParams(max_tokens=8, constraint=constraint)
            await model.generate(MESSAGES, params, seed=1)
    finally:
        await model.aclose()
    plain = set(fake.bodies[-1])
    return [{k: v for k, v in body.items() if k not in plain} for body in fake.bodies[-5:]]


async def test_llamacpp_mode_sends_a_gbnf_grammar() -> None:
    with FakeOpenAIServer() as fake:
        fields = await sent_fields(fake, "llamacpp")
    assert [list(f) for f in fields] == [["grammar"]] * 4 + [[]]
    assert fields[0]["grammar"] == to_gbnf(GRADE)
    assert 'body ::= "yes" | "no"' in fields[2]["grammar"]


async def test_auto_is_llamacpp_only_for_a_server_that_answers_props() -> None:
    with FakeOpenAIServer(slots=2) as fake:
        fields = await sent_fields(fake, None)
    assert fields[0] == {"grammar": to_gbnf(GRADE)}
    with FakeOpenAIServer() as fake:
        model = client(fake, None)
        fields = await sent_fields(fake, None)
        await model.preflight()
        assert not model.enforces(GRADE)
        await model.aclose()
    assert fields == [{}] * 5


async def test_vllm_mode_sends_structured_outputs() -> None:
    with FakeOpenAIServer() as fake:
        fields = await sent_fields(fake, "vllm")
    assert fields[0] == {"structured_outputs": {"regex": to_regex(GRADE)}}
    assert fields[1] == {"structured_outputs": {"regex": to_regex(CHECKLIST)}}
    assert fields[2] == {"structured_outputs": {"choice": ["yes", "no"]}}
    assert fields[3] == {"structured_outputs": {"json": SCHEMA}}
    # The regex sent for a grade verdict allows reasoning and then exactly one verdict line.
    pattern = fields[0]["structured_outputs"]["regex"]
    assert re.fullmatch(pattern, "Short reason.\nRating: [[7]]")
    assert not re.fullmatch(pattern, "Rating: [[7]] and more")


async def test_sglang_mode_sends_regex_and_json_schema() -> None:
    with FakeOpenAIServer() as fake:
        fields = await sent_fields(fake, "sglang")
    assert fields[0] == {"regex": to_regex(GRADE)}
    assert fields[2] == {"regex": "(yes|no)"}
    assert fields[3] == {
        "json_schema": '{"type": "object", "properties": {"ok": {"type": "boolean"}}}'
    }


async def test_openai_mode_carries_json_schemas_only_and_says_so() -> None:
    with FakeOpenAIServer() as fake:
        model = client(fake, "openai")
        assert model.enforces(JSON) and not model.enforces(GRADE)
        await model.aclose()
        fields = await sent_fields(fake, "openai")
    assert fields[:3] == [{}] * 3
    assert fields[3] == {
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": SCHEMA, "strict": True},
        }
    }


def test_unknown_structured_mode_is_one_clear_error() -> None:
    with pytest.raises(ModelConfigError, match="-M structured=xgrammar: expected one of auto"):
        create_client(
            "openai:judge@http://127.0.0.1:9/v1", BackendOptions(extra={"structured": "xgrammar"})
        )


async def test_real_llama_cpp_server_holds_the_answer_to_the_grammar(
    llama_server: LlamaServer,
) -> None:
    model = create_client(llama_server.spec(), BackendOptions(extra={"structured": "llamacpp"}))
    try:
        await model.preflight()
        assert model.enforces(YES_NO)
        for seed in (1, 2):
            params = GenerationParams(max_tokens=8, temperature=0.9, constraint=YES_NO)
            completion = await model.generate(MESSAGES, params, seed=seed)
            assert completion.text in ("yes", "no")
    finally:
        await model.aclose()


def test_unknown_structured_mode_on_the_command_line(tmp_path: Path) -> None:
    done = turnscope(
        "run",
        "-s",
        "starter",
        "--limit",
        "1",
        "-m",
        "openai:x@http://127.0.0.1:9/v1",
        "-M",
        "structured=bogus",
        runs=tmp_path,
    )
    assert_one_error_line(done, "-M structured=bogus: expected one of auto, llamacpp")
