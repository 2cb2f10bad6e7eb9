"""The `persona` turn scorer spec: the judge pass scores whether the answer kept the persona
the model was assigned (judge kind `persona`)."""

from __future__ import annotations

from turnscope.scorers.base import register_deferred_scorer
from turnscope.scorers.judges._persona import PersonaParams

PERSONA_SCORER = "persona"

register_deferred_scorer(
    PERSONA_SCORER,
    PersonaParams,
    summary="an LLM judge (--judge SPEC) rates 1-5 whether the answer stays in the assigned "
    "persona (default: the system prompt)",
)
