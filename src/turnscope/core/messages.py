"""Chat messages as sent to a model: text or a list of parts (text, images)."""

from __future__ import annotations

from typing import Annotated, Literal

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


class Message(BaseModel):
    """One chat message."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Role
    """Who speaks: system, user, assistant or tool."""
    content: Content
    """Plain text, or a sequence of text and image parts."""


def content_text(content: Content) -> str:
    """The text of a message's content, with image parts left out."""
    if isinstance(content, str):
        return content
    return "\n".join(part.text for part in content if isinstance(part, TextPart))


def has_images(content: Content) -> bool:
    """Whether the content carries at least one image part."""
    return not isinstance(content, str) and any(isinstance(p, ImagePart) for p in content)
