"""Building a PlayContext by hand, for tests that drive a protocol without the engine."""

from __future__ import annotations

from collections.abc import Mapping

from turnscope.core import TARGET_ROLE, GenerationParams, ModelIdentity, TurnRecord
from turnscope.protocols import Complete, PlayContext, RoleCaller, get_protocol


def play_context(
    condition: str,
    identity: ModelIdentity,
    complete: Complete,
    *,
    params: GenerationParams | None = None,
    finished: Mapping[int, TurnRecord] | None = None,
    roles: Mapping[str, RoleCaller] | None = None,
    protocol: str = "scripted",
) -> PlayContext:
    """A context whose target answers with `complete`; `finished` holds the target's answered
    turns from an earlier attempt; `roles` adds serving roles."""
    target = RoleCaller(
        role=TARGET_ROLE,
        identity=identity,
        params=params or GenerationParams(max_tokens=8),
        complete=complete,
    )
    return PlayContext(
        condition=condition,
        sample=0,
        run_seed=0,
        roles={TARGET_ROLE: target, **(roles or {})},
        finished={TARGET_ROLE: dict(finished or {})},
        history_answers=get_protocol(protocol).history_answers(condition),
    )
