"""Simulated users: who writes the user's next message in a `protocol: simulated` conversation,
and the code audit of every message they write.

A simulator is given what the user knows (persona, goal, the information shards and which of
them the conversation has revealed so far) and the conversation as the target saw it; it gives
back the request it made (if it asked a model) and the outcome. Two are built in:

- `scripted-user` (deterministic, no model): shard k is message k; a clarifying question from
  the target is answered with a fixed template before the next shard; once every shard has
  been given and answered, it stops.
- `llm-user`: a model in the `user` role, prompted in turnscope's own words. Its prompt grows
  by appending only (the target's answers become its user messages, its own messages its
  assistant messages), so a backend that keeps a warm prefix prefills only what is new.

Simulators are registered by `register_simulator`; an item picks one by name in its setup.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from turnscope.core import (
    Completion,
    GenerationParams,
    Item,
    Message,
    ModelIdentity,
    content_text,
    request_key,
)
from turnscope.protocols.base import CallOutcome, PlayContext, RoleCaller
from turnscope.scorers.reference import extract_numbers, normalise

if TYPE_CHECKING:
    from turnscope.protocols.simulated import SimulatedSpec

USER_ROLE = "user"
SPOILT = "spoilt"
"""Flag of a record that spoils its conversation: what followed is not the target's doing, so
the conversation is left out of the target's scores and counted apart."""

FINDING_PREFIX = "sim:"
"""The audit findings' flags start with it (the analysis counts them apart)."""
# Audit findings, recorded in the user record's flags.
EMPTY = "sim:empty"
ROLE_CONFUSION = "sim:role-confusion"
LEAK = "sim:leak"
EARLY_SHARD = "sim:early-shard"
REPEAT = "sim:repeat"
IGNORED_STOP = "sim:ignored-stop"
EARLY_STOP = "sim:early-stop"
UNREVEALED = "sim:unrevealed"
SIM_ERROR = "sim:error"
SPOILING = frozenset(
    {EMPTY, ROLE_CONFUSION, LEAK, EARLY_SHARD, IGNORED_STOP, EARLY_STOP, UNREVEALED, SIM_ERROR}
)
"""Findings after which the conversation no longer measures the target: it was given nothing,
the answer, information out of order, a message from the wrong side, was cut short or drawn
out against the stop rule, reached max_turns with shards never given, or the simulator failed.
A repeated shard is counted but spoils nothing: the target still gets every piece, later."""

MAX_REPLY_CHARS = 4000
"""How much of one target answer the llm-user is shown (answers are bounded by max_tokens
anyway; this bounds what a hostile answer can push into the simulator's prompt)."""

_NUMBER_ONLY = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
_ROLE_MARKERS = re.compile(
    r"^\s*(assistant|ai|system|bot)\s*:|<\|im_start\|>|<\|im_end\|>|<\|eot_id\|>|\[/?INST\]"
    r"|\bhow (?:can|may) i (?:help|assist) you\b|\bas an ai\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class SimulatorView:
    """What a simulator is given to write user message `turn`."""

    item: Item
    spec: SimulatedSpec
    turn: int
    """The number of the user message to write (1: the opening)."""
    transcript: tuple[Message, ...]
    """The conversation as the target saw it, without the system prompt: user messages and
    the target's answers, ending with the target's latest answer (empty at turn 1)."""
    revealed_before: tuple[frozenset[int], ...]
    """For user messages 1..turn: the indices (0-based) of the shards revealed before it."""

    @property
    def revealed(self) -> frozenset[int]:
        """The shards earlier user messages revealed."""
        return self.revealed_before[-1]

    @property
    def asked_question(self) -> bool:
        """Whether the target's latest answer ends in a question (a clarifying question)."""
        if not self.transcript or self.transcript[-1].role != "assistant":
            return False
        return content_text(self.transcript[-1].content).rstrip().endswith("?")

    @property
    def next_shard(self) -> int | None:
        """The shard the release rule lets this message reveal: the first one not revealed."""
        return due_shard(self.spec, self.revealed)


def due_shard(spec: SimulatedSpec, revealed: frozenset[int]) -> int | None:
    """The first shard not yet revealed (None: every shard is out)."""
    return next((i for i in range(len(spec.shards)) if i not in revealed), None)


class UserSimulator(Protocol):
    """Writes the user's next message of a simulated conversation."""

    name: str
    """What items write in `setup.simulator`."""

    def required_roles(self) -> tuple[str, ...]:
        """Model roles it needs ("user" for a model-played user)."""
        ...

    def caller(self, ctx: PlayContext) -> RoleCaller:
        """Who its records name as the author (a model role, or the simulator itself)."""
        ...

    def reveals(self, view: SimulatorView) -> int | None:
        """The shard its message `view.turn` reveals by construction (0-based), or None when
        only the markers can tell (a model wrote it). Optional: a simulator without it is
        audited by the markers alone."""
        ...

    async def write(
        self, view: SimulatorView, ctx: PlayContext
    ) -> tuple[tuple[Message, ...], tuple[Message, ...], CallOutcome]:
        """User message `view.turn`: (the request it made, what that request added to its
        previous one, the outcome whose completion text is the message)."""
        ...


_SIMULATORS: dict[str, UserSimulator] = {}


def register_simulator(simulator: UserSimulator) -> UserSimulator:
    """Make a simulator available by name (items select it with `setup.simulator`)."""
    _SIMULATORS[simulator.name] = simulator
    return simulator


def simulator_names() -> list[str]:
    """Every registered simulator, in registration order."""
    return list(_SIMULATORS)


def get_simulator(name: str) -> UserSimulator:
    """A registered simulator; ValueError naming the known ones otherwise."""
    try:
        return _SIMULATORS[name]
    except KeyError:
        known = ", ".join(_SIMULATORS)
        raise ValueError(f"unknown simulator {name!r} (known: {known})") from None


# --- scripted-user --------------------------------------------------------------------------


class ScriptedUser:
    """Deterministic: shard k is message k, questions get a fixed answer, then it stops."""

    name = "scripted-user"
    identity = ModelIdentity(backend="builtin", model="scripted-user")

    def required_roles(self) -> tuple[str, ...]:
        return ()

    def caller(self, ctx: PlayContext) -> RoleCaller:
        return RoleCaller(
            role=USER_ROLE,
            identity=self.identity,
            params=GenerationParams(),
            complete=_never_called,
        )

    def reveals(self, view: SimulatorView) -> int | None:
        # Its message is the due shard (so a shard without markers is still given once).
        return view.next_shard

    def message(self, view: SimulatorView) -> str:
        """The message itself: the next shard (after the clarification template if the target
        asked a question), the goal when the item has no shards, else the stop token."""
        spec = view.spec
        index = view.next_shard
        if index is None:
            if view.turn == 1:
                return spec.goal
            return spec.stop
        text = spec.shards[index].text
        if view.asked_question:
            return f"{spec.clarify} {text}"
        return text

    async def write(
        self, view: SimulatorView, ctx: PlayContext
    ) -> tuple[tuple[Message, ...], tuple[Message, ...], CallOutcome]:
        request = view.transcript
        new = request[-1:] if request else ()
        seed = ctx.seed(view.item, view.turn, USER_ROLE)
        key = request_key(self.identity, request, GenerationParams(), seed, ctx.sample, USER_ROLE)
        completion = Completion(text=self.message(view), finish_reason="stop")
        return request, new, CallOutcome(request_hash=key, seed=seed, completion=completion)


async def _never_called(
    messages: Sequence[Message], seed: int, sample: int, *, params: GenerationParams | None = None
) -> CallOutcome:
    raise RuntimeError("the scripted user asks no model")


# --- llm-user -------------------------------------------------------------------------------

LLM_USER_SYSTEM = """\
You play the part of a person who is chatting with an AI assistant. You are the user, never \
the assistant: do not answer your own request, do not solve the task, and do not write the \
assistant's replies.

Who you are: {persona}
What you want from the assistant: {goal}

You know the following pieces of information. The assistant does not know them. You share \
them one piece per message, in this order, and only when a note tells you which piece is due:
{shards}
Rules:
- Write only your next message to the assistant, in your own words, short and natural.
- Share exactly one new piece per message: the one the note names. Never share a piece \
before it is due, and do not repeat pieces you already shared.
- If the assistant asks you something, answer with the piece that is due; never reveal \
anything else.
- Never state or guess the final answer yourself.
- When every piece has been shared and the assistant has replied, or when your goal is met \
or you give up, reply with {stop} and nothing else. That ends the conversation."""

LLM_USER_OPENING = (
    "(The conversation has not started yet. Write your first message to the assistant.)"
)
LLM_USER_NOTE_NEXT = "(Note for you, not from the assistant: the piece due now is number {n}.)"
LLM_USER_NOTE_DONE = (
    "(Note for you, not from the assistant: you have shared every piece. Reply with {stop} "
    "and nothing else.)"
)
LLM_USER_REPLY = "The assistant replied:\n<assistant_reply>\n{reply}\n</assistant_reply>"
_ECHOES = (
    "The conversation has not started yet",
    "Note for you, not from the assistant",
    "<assistant_reply>",
)
"""Pieces of the llm-user's own prompt: a message that repeats them speaks as the harness,
not as the user (counted as role confusion)."""


def _fenced(text: str) -> str:
    """A target answer as the llm-user is shown it: bounded, and unable to close its fence."""
    bounded = text[:MAX_REPLY_CHARS]
    return bounded.replace("</assistant_reply>", "</assistant_reply >")


def _note(spec: SimulatedSpec, revealed: frozenset[int]) -> str:
    """The note appended to a message to the simulator: which piece is due, or that it is
    time to stop (nothing for an item without shards: its user just pursues the goal)."""
    if not spec.shards:
        return ""
    index = due_shard(spec, revealed)
    if index is None:
        return "\n" + LLM_USER_NOTE_DONE.format(stop=spec.stop)
    return "\n" + LLM_USER_NOTE_NEXT.format(n=index + 1)


class LlmUser:
    """A model in the `user` role, its prompt appended to turn by turn (roles flipped)."""

    name = "llm-user"

    def required_roles(self) -> tuple[str, ...]:
        return (USER_ROLE,)

    def caller(self, ctx: PlayContext) -> RoleCaller:
        return ctx.roles[USER_ROLE]

    def reveals(self, view: SimulatorView) -> int | None:
        return None

    def system_prompt(self, spec: SimulatedSpec) -> str:
        """The simulator's instructions: persona, goal, the shards in order, the stop rule."""
        shards = "".join(f"{i}. {s.text}\n" for i, s in enumerate(spec.shards, 1)) or "(none)\n"
        return LLM_USER_SYSTEM.format(
            persona=spec.persona, goal=spec.goal, shards=shards, stop=spec.stop
        )

    def request(self, view: SimulatorView) -> tuple[tuple[Message, ...], tuple[Message, ...]]:
        """The whole request for message `view.turn` and what it adds to the previous one.

        Turn t's request is turn t-1's, then the simulator's own message t-1 (as assistant),
        then the target's answer to it (as user, with the note of the piece due): earlier
        messages never change, so the prompt's prefix stays warm."""
        transcript = view.transcript
        spec = view.spec
        first = (
            Message(role="system", content=self.system_prompt(spec)),
            Message(role="user", content=LLM_USER_OPENING + _note(spec, view.revealed_before[0])),
        )
        messages = list(first)
        added: tuple[Message, ...] = first
        for k in range(0, len(transcript) - 1, 2):
            own = Message(role="assistant", content=content_text(transcript[k].content))
            reply = LLM_USER_REPLY.format(reply=_fenced(content_text(transcript[k + 1].content)))
            note = _note(spec, view.revealed_before[k // 2 + 1])
            flipped = Message(role="user", content=reply + note)
            messages.extend((own, flipped))
            added = (own, flipped)
        return tuple(messages), added

    async def write(
        self, view: SimulatorView, ctx: PlayContext
    ) -> tuple[tuple[Message, ...], tuple[Message, ...], CallOutcome]:
        request, new = self.request(view)
        outcome = await ctx.ask(view.item, view.turn, request, role=USER_ROLE)
        if outcome.completion is not None:
            text = outcome.completion.text.strip()
            outcome = replace(
                outcome, completion=outcome.completion.model_copy(update={"text": text})
            )
        return request, new, outcome


register_simulator(ScriptedUser())
register_simulator(LlmUser())


# --- the audit ------------------------------------------------------------------------------


def has_marker(text: str, marker: str) -> bool:
    """Whether `marker` appears in `text` as a whole word or number, in any case."""
    return re.search(rf"(?<!\w){re.escape(marker)}(?!\w)", text, re.IGNORECASE) is not None


def shards_in(text: str, spec: SimulatedSpec) -> frozenset[int]:
    """Indices of the shards a message reveals: those with markers, all of them present
    (whole words, any case). A shard without markers is never detected."""
    return frozenset(
        i
        for i, shard in enumerate(spec.shards)
        if shard.markers and all(has_marker(text, m) for m in shard.markers)
    )


def _states(text: str, answer: str) -> bool:
    """Whether `text` states `answer`: the same number for a numeric answer, else the
    answer's words as a whole phrase (after normalisation)."""
    if _NUMBER_ONLY.fullmatch(answer.strip()):
        wanted = extract_numbers(answer)[0]
        return any(math.isclose(x, wanted, abs_tol=1e-9) for x in extract_numbers(text))
    target = normalise(answer)
    return len(target) >= 3 and f" {target} " in f" {normalise(text)} "


def leaks_answer(text: str, answer: str | None, spec: SimulatedSpec) -> bool:
    """Whether a user message states the answer, when no shard states it too (a shard that
    names the number is information, not a leak)."""
    if answer is None or not answer.strip():
        return False
    if any(_states(shard.text, answer) for shard in spec.shards):
        return False
    return _states(text, answer)


@dataclass(frozen=True)
class Audit:
    """What the code audit found in one user message."""

    findings: tuple[str, ...]
    """sim:* flags, in a fixed order."""
    revealed: frozenset[int]
    """The shards revealed once this message is counted."""
    stop: bool
    """Whether the message ends the conversation (it holds the stop token)."""

    @property
    def spoils(self) -> bool:
        """Whether a finding spoils the conversation."""
        return any(f in SPOILING for f in self.findings)

    @property
    def flags(self) -> tuple[str, ...]:
        """The record's flags: the findings, and `spoilt` when one of them spoils."""
        return (*self.findings, SPOILT) if self.spoils else self.findings


def audit_message(
    text: str, view: SimulatorView, answer: str | None, *, stop: bool | None = None
) -> Audit:
    """Audit user message `view.turn` by code: empty, written as the assistant, leaking the
    answer, revealing a shard early (out of order, or two at once) or again, going on after
    the stop rule said stop, or stopping with shards left. `stop` overrides stop detection
    (the simulator said so some other way)."""
    spec = view.spec
    ends = (spec.stop in text) if stop is None else stop
    found: list[str] = []
    everything_shared = len(view.revealed) == len(spec.shards)
    if ends:
        if view.turn == 1 or not everything_shared:
            found.append(EARLY_STOP)
        return Audit(tuple(found), view.revealed, True)
    if not text.strip():
        found.append(EMPTY)
    if _ROLE_MARKERS.search(text) or any(echo in text for echo in _ECHOES):
        found.append(ROLE_CONFUSION)
    if leaks_answer(text, answer, spec):
        found.append(LEAK)
    present = shards_in(text, spec)
    new = present - view.revealed
    due = view.next_shard
    if len(new) > 1 or (new and due is not None and min(new) != due):
        found.append(EARLY_SHARD)
    if present & view.revealed:
        found.append(REPEAT)
    if everything_shared and view.turn > 1 and spec.shards:
        found.append(IGNORED_STOP)
    return Audit(tuple(found), view.revealed | new, False)
