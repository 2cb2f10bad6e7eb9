"""The data model: messages, items, suites, records and run configuration."""

from turnscope.core.hashing import derive_seed, request_key, stable_hash
from turnscope.core.items import FeedbackSpec, Item, ScorerSpec, Suite, Turn
from turnscope.core.messages import (
    Content,
    ContentPart,
    ImagePart,
    ImageURL,
    Message,
    Role,
    TextPart,
    content_text,
    has_images,
)
from turnscope.core.records import (
    Check,
    Completion,
    GenerationParams,
    JudgeSettings,
    JuryMethod,
    ModelIdentity,
    RunConfig,
    Score,
    TurnRecord,
    Variant,
)
from turnscope.core.validation import error_text

__all__ = [
    "Check",
    "Completion",
    "Content",
    "ContentPart",
    "FeedbackSpec",
    "GenerationParams",
    "ImagePart",
    "ImageURL",
    "Item",
    "JudgeSettings",
    "JuryMethod",
    "Message",
    "ModelIdentity",
    "Role",
    "RunConfig",
    "Score",
    "ScorerSpec",
    "Suite",
    "TextPart",
    "Turn",
    "TurnRecord",
    "Variant",
    "content_text",
    "derive_seed",
    "error_text",
    "has_images",
    "request_key",
    "stable_hash",
]
