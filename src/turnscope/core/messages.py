"""Chat messages as sent to a model: text or a list of parts (text, images), and the OpenAI
tool-call fields (an assistant message that calls tools, a `tool` message with a result)."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant", "tool"]


class TextPart(BaseModel):
    """A piece of text inside a multi-part message."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["text"] = "text"
    """Discriminator: always "text"."""
    text: str
    """The text itself."""


class ImageURL(BaseModel):
    """Where an image lives: an http(s) URL or a data: URL with base64 content."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    """The image address, as the OpenAI chat format expects it."""
    detail: Literal["auto", "low", "high"] | None = None
    """Optional resolution hint passed through to multimodal endpoints."""


class ImagePart(BaseModel):
    """An image inside a multi-part message, for multimodal endpoints."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["image_url"] = "image_url"
    """Discriminator: always "image_url"."""
    image_url: ImageURL
    """The image reference."""


ContentPart = Annotated[TextPart | ImagePart, Field(discriminator="type")]
Content = str | tuple[ContentPart, ...]


class ToolFunctionCall(BaseModel):
    """Which function a tool call invokes, with its arguments as the model wrote them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    """The tool's name."""
    arguments: str = ""
    """The arguments: a JSON object as text, kept verbatim (it may be malformed)."""


class ToolCall(BaseModel):
    """One tool call in an assistant message (the OpenAI chat format)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    """The call's id; the `tool` message answering it repeats it as `tool_call_id`."""
    type: Literal["function"] = "function"
    """Always "function" (the only kind of tool the chat format has)."""
    function: ToolFunctionCall
    """The function called and its arguments."""


class ToolSpec(BaseModel):
    """A tool offered to the model in a request (the OpenAI `tools` entry)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    """The function name the model calls it by."""
    description: str = ""
    """What the tool does, for the model."""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    """JSON Schema of the arguments object."""

    def openai(self) -> dict[str, Any]:
        """The `tools` entry of an OpenAI chat request."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


class Message(BaseModel):
    """One chat message."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Role
    """Who speaks: system, user, assistant or tool."""
    content: Content
    """Plain text, or a sequence of text and image parts ("" for an assistant message that
    only calls tools)."""
    tool_calls: tuple[ToolCall, ...] | None = None
    """The tools an assistant message calls (None: it calls none)."""
    tool_call_id: str | None = None
    """For a `tool` message: the id of the call it answers."""
    name: str | None = None
    """For a `tool` message: the name of the tool that answered."""


T = TypeVar("T")
K = TypeVar("K")


def identity_cache(maxsize: int) -> Callable[[Callable[[K], T]], Callable[[K], T]]:
    """Memoise a function of one immutable object (a message, a frozen model) by the object
    itself, not its value.

    Conversations hand the same Message objects on from turn to turn, and a role sends the
    same identity and parameters with every request; looking them up by identity costs a dict
    lookup, where functools.lru_cache would hash and compare the whole object (a measurable
    share of a turn). A cached entry keeps its object alive, so its id cannot be reused
    meanwhile; once more than `maxsize` are held, the older half goes."""

    def decorate(function: Callable[[K], T]) -> Callable[[K], T]:
        memo: dict[int, tuple[K, T]] = {}

        @functools.wraps(function)
        def cached(key: K) -> T:
            nonlocal memo
            entry = memo.get(id(key))
            if entry is not None and entry[0] is key:
                return entry[1]
            value = function(key)
            memo[id(key)] = (key, value)
            if len(memo) > maxsize:
                # The older half goes at once, into a new compact dict. Deleting the oldest
                # entry at every insertion made each eviction step over all the slots deleted
                # before it: about 28 us an insertion at 8,192 entries, four a turn.
                memo = dict(itertools.islice(memo.items(), len(memo) - maxsize // 2, None))
            return value

        return cached

    return decorate


@identity_cache(maxsize=8192)
def wire_message(message: Message) -> dict[str, Any]:
    """The message in the OpenAI chat format (fields that are None left out), as requests send
    it and request hashes read it. Cached: a conversation sends its whole history again every
    turn, and each message is converted once instead of once a turn. The dict is shared: read
    it, never change it."""
    return message.model_dump(mode="json", exclude_none=True)


def content_text(content: Content) -> str:
    """The text of a message's content, with image parts left out."""
    if isinstance(content, str):
        return content
    return "\n".join(part.text for part in content if isinstance(part, TextPart))


def has_images(content: Content) -> bool:
    """Whether the content carries at least one image part."""
    return not isinstance(content, str) and any(isinstance(p, ImagePart) for p in content)
