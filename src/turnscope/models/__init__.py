"""Model backends behind one protocol: the embedded llama.cpp default and OpenAI-compatible HTTP."""

from turnscope.models.base import (
    BackendInfo,
    BackendOptions,
    ModelClient,
    backends,
    create_client,
    register_backend,
)
from turnscope.models.errors import (
    ModelConfigError,
    ModelError,
    PermanentModelError,
    TransientModelError,
)

__all__ = [
    "BackendInfo",
    "BackendOptions",
    "ModelClient",
    "ModelConfigError",
    "ModelError",
    "PermanentModelError",
    "TransientModelError",
    "backends",
    "create_client",
    "register_backend",
]
