"""Content addressing: stable hashes of JSON-able data and pydantic models."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from turnscope.core.messages import Message, identity_cache, wire_message


def _plain(value: Any) -> Any:
    if isinstance(value, Message):
        return wire_message(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _canonical(value: Any) -> str:
    """The canonical JSON form of `value`: sorted keys, no whitespace."""
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@identity_cache(maxsize=8192)
def message_json(message: Message) -> str:
    """The canonical JSON of a message in the OpenAI chat format (`wire_message`), as request
    hashes read it and requests send it; cached, since a conversation repeats its whole history
    in every request."""
    if (
        isinstance(message.content, str)
        and message.tool_calls is None
        and message.tool_call_id is None
        and message.name is None
    ):
        # Most messages are plain text: the same text json.dumps writes for {"content", "role"}
        # with sorted keys, without building the dict (two of these a turn are new).
        content = json.dumps(message.content, ensure_ascii=False)
        return f'{{"content":{content},"role":{json.dumps(message.role)}}}'
    return _canonical(message)


@identity_cache(maxsize=256)
def _canonical_frozen(value: BaseModel) -> str:
    return _canonical(value)


def _canonical_model(value: BaseModel) -> str:
    """`_canonical` of a model; a frozen one (a role's identity and parameters, the same
    objects for every request it makes) is written once."""
    if value.model_config.get("frozen"):
        return _canonical_frozen(value)
    return _canonical(value)


def stable_hash(value: Any) -> str:
    """SHA-256 of the canonical JSON form of `value` (sorted keys, no whitespace)."""
    return hashlib.sha256(_canonical(value).encode("utf-8")).hexdigest()


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
    # The canonical JSON of {"messages", "model", "namespace", "params", "sample", "seed"},
    # written part by part in sorted key order, exactly as json.dumps(sort_keys=True) writes
    # the whole object: each message's part is computed once and cached, instead of once for
    # every later turn whose request repeats it.
    history = ",".join(
        message_json(m) if isinstance(m, Message) else _canonical(m) for m in messages
    )
    parts = [f'"messages":[{history}]', f'"model":{_canonical_model(model)}']
    if namespace:
        parts.append(f'"namespace":{_canonical(namespace)}')
    parts += [f'"params":{_canonical_model(params)}', f'"sample":{sample:d}', f'"seed":{seed:d}']
    return hashlib.sha256(("{" + ",".join(parts) + "}").encode("utf-8")).hexdigest()
