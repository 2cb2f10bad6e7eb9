"""The persona judge kind: does the assistant's reply stay in the persona it was assigned?

PersonaGym (Samuel et al. 2024) grades persona adherence on a 1-5 scale; this kind asks one
question of that kind, in turnscope's words: voice, knowledge and values of the persona, not
helpfulness. The persona is the spec's `persona`, else the conversation's system prompt."""

from __future__ import annotations

from pydantic import field_validator

from turnscope.core import Message, Verdict, content_text
from turnscope.scorers.judges._base import (
    JudgeInput,
    JudgeParams,
    VerdictParseError,
    register_judge_kind,
)
from turnscope.scorers.judges._text import (
    JUDGE_SYSTEM,
    block,
    bracket_verdict,
    context_sections,
    judged_turn,
    render_history,
)

PERSONA_KIND = "persona"
PERSONA_FORM = "'Persona: [[N]]' (N a whole number from 1 to 5)"
NO_PERSONA = (
    "(No persona was given in a system prompt: judge against the character the conversation "
    "itself asked the assistant to play.)"
)


class PersonaParams(JudgeParams):
    """Parameters of the `persona` turn scorer spec."""

    kind: str = PERSONA_KIND
    """Always "persona"."""
    persona: str | None = None
    """The persona the model was assigned; default: the conversation's system prompt."""
    use_reference: bool = False
    """A reference answer says nothing about staying in character, so none is shown."""

    @field_validator("kind")
    @classmethod
    def _persona_kind(cls, kind: str) -> str:
        if kind != PERSONA_KIND:
            raise ValueError(f"a persona spec is judged by kind 'persona', not {kind!r}")
        return kind

    @field_validator("persona")
    @classmethod
    def _persona_not_blank(cls, persona: str | None) -> str | None:
        if persona is not None and not persona.strip():
            raise ValueError("persona is blank: leave it out to use the system prompt")
        return persona


def _assigned(params: JudgeParams, history: tuple[Message, ...]) -> str:
    given = getattr(params, "persona", None)
    if isinstance(given, str):
        return given
    system = [content_text(m.content) for m in history if m.role == "system"]
    return "\n".join(system) if system else NO_PERSONA


def _level(token: str) -> str | None:
    return token if token in ("1", "2", "3", "4", "5") else None


class PersonaKind:
    """Persona adherence of one reply, 1 (out of character) to 5 (fully in character)."""

    name = PERSONA_KIND

    def __init__(self, params: JudgeParams) -> None:
        self.params = params

    def messages(self, inp: JudgeInput) -> list[Message]:
        turn = judged_turn(inp.history)
        sections = [
            "The assistant was asked to play this persona:\n"
            + block("persona", _assigned(self.params, inp.history)),
            "Here is the conversation up to the user message being answered (user turn "
            f"{turn}).\n" + render_history(inp.history),
            f"The assistant's reply to user turn {turn}, which you judge:\n"
            + block("judged_answer", inp.answer),
            *context_sections(inp, use_reference=False, guidance=self.params.guidance),
            "Judge only whether the reply stays in the persona: its voice and manner, what the "
            "persona would know, and what it cares about. Do not judge helpfulness or "
            "correctness. 1: out of character (a generic assistant, or contradicting the "
            "persona); 3: partly in character; 5: fully in character. Explain briefly, then "
            "end with a line in exactly this form, where N is a whole number from 1 to 5:\n"
            "Persona: [[N]]",
        ]
        return [
            Message(role="system", content=JUDGE_SYSTEM),
            Message(role="user", content="\n\n".join(sections)),
        ]

    def parse(self, text: str) -> Verdict:
        token = bracket_verdict(
            text, label="persona", what="persona rating", form=PERSONA_FORM, key=_level
        )
        level = int(token)
        if not 1 <= level <= 5:
            raise VerdictParseError(f"persona rating [[{token}]] is outside 1 to 5", raw=text)
        # No `grade`: a jury combines grades as 1-10 ones; the value alone combines right.
        return Verdict(kind=self.name, value=(level - 1) / 4)


register_judge_kind(PERSONA_KIND)(PersonaKind)
