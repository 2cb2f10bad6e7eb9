from __future__ import annotations

import pytest
from pydantic import ValidationError

from turnscope.core import (
    GenerationParams,
    ImagePart,
    ImageURL,
    Item,
    Message,
    ModelIdentity,
    ScorerSpec,
    Suite,
    TextPart,
    ToolCall,
    ToolFunctionCall,
    ToolSpec,
    Turn,
    content_text,
    derive_seed,
    has_images,
    request_key,
    stable_hash,
)
from turnscope.core.messages import identity_cache


def test_message_accepts_text_and_image_parts() -> None:
    message = Message.model_validate(
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this picture?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            ],
        }
    )
    assert isinstance(message.content, tuple)
    assert isinstance(message.content[0], TextPart)
    assert isinstance(message.content[1], ImagePart)
    assert has_images(message.content)
    assert content_text(message.content) == "What is in this picture?"
    assert not has_images("plain")


def test_message_rejects_unknown_part_and_role() -> None:
    with pytest.raises(ValidationError):
        Message.model_validate({"role": "user", "content": [{"type": "audio", "data": "x"}]})
    with pytest.raises(ValidationError):
        Message.model_validate({"role": "robot", "content": "hi"})


def test_item_needs_turns_and_clean_id() -> None:
    with pytest.raises(ValidationError):
        Item(id="a", turns=())
    with pytest.raises(ValidationError):
        Item(id=" padded ", turns=(Turn(user="hi"),))
    item = Item(id="a", turns=(Turn(user="hi", reference="x"), Turn(user="again")))
    assert not item.has_references
    assert item.category == "general"


def test_scorer_spec_keeps_parameters() -> None:
    spec = ScorerSpec.model_validate({"type": "contains", "value": ["a", "b"], "mode": "any"})
    assert spec.type == "contains"
    assert spec.params == {"value": ["a", "b"], "mode": "any"}


def test_suite_rejects_duplicate_ids() -> None:
    item = Item(id="same", turns=(Turn(user="hi"),))
    with pytest.raises(ValidationError, match="duplicate item id 'same'"):
        Suite(name="s", items=(item, item))


def test_hashes_are_stable_and_sensitive() -> None:
    a = [Message(role="user", content="hi")]
    b = [Message(role="user", content="hi!")]
    assert stable_hash(a) == stable_hash([Message(role="user", content="hi")])
    assert stable_hash(a) != stable_hash(b)
    assert derive_seed(0, "item", "own", 0, 1) == derive_seed(0, "item", "own", 0, 1)
    assert derive_seed(0, "item", "own", 0, 1) != derive_seed(1, "item", "own", 0, 1)
    assert 0 <= derive_seed(7, "x") < 2**31


@pytest.mark.parametrize("namespace", ["", "user"])
def test_request_key_is_the_hash_of_the_whole_request(namespace: str) -> None:
    """request_key writes the request's canonical JSON part by part (each message's part is
    cached); it must equal hashing the request object whole, as it always has: stored runs and
    cached answers are keyed by it."""
    call = ToolCall(id="c1", function=ToolFunctionCall(name="f", arguments='{"x": "ü"}'))
    messages = [
        Message(role="system", content='Be brief, naïve \u2603 "quoted".'),
        Message(
            role="user",
            content=(
                TextPart(text="Look:"),
                ImagePart(image_url=ImageURL(url="data:image/png;base64,AAAA", detail="low")),
            ),
        ),
        Message(role="assistant", content="", tool_calls=(call,)),
        Message(role="tool", content="42", tool_call_id="c1", name="f"),
    ]
    model = ModelIdentity(backend="openai", model="m", revision="http://h/v1")
    params = GenerationParams(stop=("END",), tools=(ToolSpec(name="f"),))
    whole: dict[str, object] = {
        "model": model,
        "messages": messages,
        "params": params,
        "seed": 123456,
        "sample": 3,
    }
    if namespace:
        whole["namespace"] = namespace
    for _ in range(2):  # the second time, every message's part comes from the cache
        assert request_key(model, messages, params, 123456, 3, namespace) == stable_hash(whole)
    assert request_key(model, messages[:1], params, 123456, 3, namespace) != stable_hash(whole)


def test_identity_cache_keeps_the_newest_entries_within_its_size() -> None:
    """Entries are found by the object itself; past `maxsize` the older half goes, and an
    evicted object is computed again (never answered with another object's value)."""
    calls: list[int] = []

    @identity_cache(maxsize=8)
    def length(message: Message) -> int:
        calls.append(id(message))
        return len(str(message.content))

    messages = [Message(role="user", content="x" * n) for n in range(20)]
    assert [length(m) for m in messages] == list(range(20))
    assert [length(m) for m in messages[-4:]] == [16, 17, 18, 19]
    assert len(calls) == 20  # the newest four were still held
    assert length(messages[0]) == 0 and len(calls) == 21  # the first was evicted
    twin = Message(role="user", content="x" * 19)  # equal to a held message, another object
    assert length(twin) == 19 and len(calls) == 22
