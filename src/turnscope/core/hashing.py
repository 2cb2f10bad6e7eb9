"""Content addressing: stable hashes of JSON-able data and pydantic models."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def stable_hash(value: Any) -> str:
    """SHA-256 of the canonical JSON form of `value` (sorted keys, no whitespace)."""
    canonical = json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def derive_seed(run_seed: int, *parts: str | int) -> int:
    """A 31-bit seed derived from the run seed and a path (item, variant, sample, turn)."""
    digest = hashlib.sha256(repr((run_seed, *parts)).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def request_key(
    model: BaseModel,
    messages: Sequence[BaseModel],
    params: BaseModel,
    seed: int,
    sample: int,
    namespace: str = "",
) -> str:
    """Content address of one request: what the response cache and the run store key on.

    `namespace` keeps the requests of different model roles apart (a user simulator and the
    model under test may be the same model asked the same messages); the model under test's
    namespace is empty, so its keys are those of runs made before roles existed."""
    request: dict[str, Any] = {
        "model": model,
        "messages": list(messages),
        "params": params,
        "seed": seed,
        "sample": sample,
    }
    if namespace:
        request["namespace"] = namespace
    return stable_hash(request)
