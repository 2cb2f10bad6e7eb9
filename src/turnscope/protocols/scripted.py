"""The scripted protocol: fixed user turns, each answered by the model under one of five
history conditions.

- `own` (default): the model sees its own earlier answers.
- `gold`: earlier assistant turns are the references (error propagation vs per-turn skill).
- `single`: the single-turn twin: every user turn merged into one prompt, answered once and
  scored on the last turn's scorers (multi-turn degradation).
- `user-only`: earlier assistant turns are dropped; the model sees only the user's turns
  ("do models benefit from their own words?").
- `restated`: as `own`, but the instructions in force are restated at the end of every user
  turn (how much of instruction forgetting a reminder repairs).

A turn with a fixed `assistant` answer (a benchmark's setup answer) is never asked: under
every condition but `user-only` (which drops earlier answers) its fixed answer follows its
user turn in the history, and it leaves no record. `single` cannot merge such an item.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping

from turnscope.core import (
    Condition,
    Content,
    ContentPart,
    Item,
    Message,
    TextPart,
    TurnRecord,
    content_text,
)
from turnscope.protocols.base import (
    ConditionGap,
    HistoryAnswers,
    PlayContext,
    ProtocolBase,
    make_record,
    register_protocol,
    system_messages,
)
from turnscope.scorers.instructions import gives_instructions, restated_instructions

OWN = "own"
GOLD = "gold"
SINGLE = "single"
USER_ONLY = "user-only"
RESTATED = "restated"

SINGLE_TURN_PREAMBLE = (
    "You are given {n} messages that a user sent one after another. Read all of them, "
    "then reply only to the last one, keeping everything said in the earlier ones in mind."
)
SINGLE_TURN_HEADER = "Message {i}:"
RESTATEMENT = "\n\n(Reminder of every instruction still in force: {instructions})"


def merge_turns(item: Item) -> Content:
    """The single-turn twin's prompt: every user turn, numbered, under one preamble.

    Template (documented in docs/suite-format.md):
        <preamble naming n>\n\nMessage 1:\n<turn 1>\n\nMessage 2:\n<turn 2> ...
    Image parts are kept in place, so a multimodal item stays multimodal."""
    n = len(item.turns)
    if n == 1:
        return item.turns[0].user
    parts: list[ContentPart] = [TextPart(text=SINGLE_TURN_PREAMBLE.format(n=n))]
    for i, turn in enumerate(item.turns, start=1):
        header = f"\n\n{SINGLE_TURN_HEADER.format(i=i)}\n"
        if isinstance(turn.user, str):
            parts.append(TextPart(text=header + turn.user))
        else:
            parts.append(TextPart(text=header))
            parts.extend(turn.user)
    if all(isinstance(p, TextPart) for p in parts):
        return "".join(p.text for p in parts if isinstance(p, TextPart))
    return tuple(parts)


ECHO_WORDS = 5
"""A run of this many words copied from the merged prompt is an echo, not an answer."""
_WORD = re.compile(r"\S+")


def _key(word: str) -> str:
    return word.strip(".,;:!?\"'()[]{}*_`").casefold()


def without_echo(answer: str, prompt: str) -> tuple[str, int]:
    """`answer` without the runs of ECHO_WORDS or more words it copies from `prompt`, and how
    many words were removed.

    The single-turn twin's prompt holds every user turn, the planted facts included: an answer
    that repeats the prompt ("Message 1: My dog is called Biscuit ...") would pass a recall
    check without recalling anything, which no multi-turn answer can do. So the twin is scored
    on what it wrote itself. Short overlaps ("is called Biscuit") are answers, not echoes."""
    prompt_words = [_key(w) for w in _WORD.findall(prompt)]
    copied = {
        tuple(prompt_words[i : i + ECHO_WORDS]) for i in range(len(prompt_words) - ECHO_WORDS + 1)
    }
    spans = list(_WORD.finditer(answer))
    words = [_key(m.group(0)) for m in spans]
    echoed = [False] * len(spans)
    for i in range(len(spans) - ECHO_WORDS + 1):
        if tuple(words[i : i + ECHO_WORDS]) in copied:
            echoed[i : i + ECHO_WORDS] = [True] * ECHO_WORDS
    removed = sum(echoed)
    if not removed:
        return answer, 0
    kept = " ".join(m.group(0) for m, gone in zip(spans, echoed, strict=True) if not gone)
    return kept, removed


def restate(item: Item, turn: int) -> Content:
    """User turn `turn` with the instructions in force after it restated at its end (the
    turn unchanged when none is in force)."""
    user = item.turns[turn - 1].user
    reminder = restated_instructions(item, turn)
    if not reminder:
        return user
    text = RESTATEMENT.format(instructions=reminder)
    if isinstance(user, str):
        return user + text
    return (*user, TextPart(text=text))


class ScriptedProtocol(ProtocolBase):
    """User turns are fixed; the condition decides what the history holds."""

    name = "scripted"
    conditions: tuple[Condition, ...] = (OWN, GOLD, SINGLE, USER_ONLY, RESTATED)
    gaps: tuple[ConditionGap, ...] = (
        ConditionGap(
            name="multi − single",
            first=OWN,
            second=SINGLE,
            first_at_last_turn=True,
            meaning="negative: the model does worse when the task is spread over turns",
        ),
        ConditionGap(
            name="own − gold",
            first=OWN,
            second=GOLD,
            meaning="negative: the model's own earlier answers hurt it (error propagation)",
        ),
        ConditionGap(
            name="own − user-only",
            first=OWN,
            second=USER_ONLY,
            meaning="negative: seeing its own earlier answers hurts the model",
        ),
        ConditionGap(
            name="restated − own",
            first=RESTATED,
            second=OWN,
            meaning="positive: restating the instructions in force helps the model",
        ),
    )

    def skip_reason(self, item: Item, condition: Condition) -> str | None:
        if condition == GOLD and not item.has_references:
            return "a turn has no reference answer (gold history needs one on every turn)"
        if condition == RESTATED and not gives_instructions(item):
            return "no verifiable instruction to restate (restated would equal own)"
        if condition == SINGLE and any(turn.fixed for turn in item.turns):
            return "fixed assistant turns cannot be merged into one user prompt"
        return None

    def max_turns(self, item: Item, condition: Condition) -> int:
        # Fixed turns are never asked, so they leave no record.
        return 1 if condition == SINGLE else sum(not turn.fixed for turn in item.turns)

    def scored_turn(self, item: Item, condition: Condition, turn: int) -> int:
        # The twin is one request, recorded at (and scored as) the item's last turn.
        return len(item.turns) if condition == SINGLE else turn

    def key_turns(self, item: Item, condition: Condition) -> tuple[int, ...] | None:
        if condition == SINGLE:
            return (len(item.turns),)
        return super().key_turns(item, condition)

    def history_answers(self, condition: Condition) -> HistoryAnswers:
        if condition == GOLD:
            return "reference"
        if condition in (SINGLE, USER_ONLY):
            return "none"
        return "own"

    def _answer_at(self, item: Item, condition: Condition, record: TurnRecord) -> Message | None:
        """What the history holds after earlier turn `record.turn` under `condition`."""
        answers = self.history_answers(condition)
        if answers == "none":
            return None
        if answers == "reference":
            return Message(role="assistant", content=item.turns[record.turn - 1].reference or "")
        return record.answer or Message(role="assistant", content="")

    def _fixed_turn(self, item: Item, condition: Condition, turn: int) -> tuple[Message, ...]:
        """Fixed turn `turn` as the history holds it: its user message as sent (the system
        prompt first at turn 1) and its fixed answer (none under user-only)."""
        user = self.user_message(item, condition, turn)
        sent = (*system_messages(item), user) if turn == 1 else (user,)
        fixed = item.turns[turn - 1].assistant
        if fixed is None or self.history_answers(condition) == "none":
            return sent
        return (*sent, Message(role="assistant", content=fixed))

    def history(
        self, item: Item, condition: Condition, records: Mapping[int, TurnRecord], turn: int
    ) -> tuple[Message, ...]:
        if condition == SINGLE:
            return records[turn].new_messages
        messages: list[Message] = []
        for earlier in range(1, turn):
            if item.turns[earlier - 1].fixed:
                messages.extend(self._fixed_turn(item, condition, earlier))
                continue
            record = records[earlier]
            messages.extend(record.new_messages)
            answer = self._answer_at(item, condition, record)
            if answer is not None:
                messages.append(answer)
        messages.extend(records[turn].new_messages)
        return tuple(messages)

    def shared_history(
        self, item: Item, condition: Condition, records: Mapping[int, TurnRecord], turn: int
    ) -> tuple[Message, ...]:
        # Each run's own earlier answers differ; showing either would favour it. Both runs
        # share the user turns (as sent) and the references, where the item has them.
        if condition == SINGLE:
            return records[turn].new_messages
        messages: list[Message] = []
        for earlier in range(1, turn):
            if item.turns[earlier - 1].fixed:
                messages.extend(self._fixed_turn(item, condition, earlier))
                continue
            messages.extend(records[earlier].new_messages)
            reference = item.turns[earlier - 1].reference
            if reference is not None and self.history_answers(condition) != "none":
                messages.append(Message(role="assistant", content=reference))
        messages.extend(records[turn].new_messages)
        return tuple(messages)

    def user_message(self, item: Item, condition: Condition, turn: int) -> Message:
        """User turn `turn` as sent under `condition`."""
        if condition == RESTATED:
            return Message(role="user", content=restate(item, turn))
        return Message(role="user", content=item.turns[turn - 1].user)

    async def play(self, item: Item, ctx: PlayContext) -> AsyncIterator[TurnRecord]:
        system = system_messages(item)
        if ctx.condition == SINGLE:
            last = len(item.turns)
            if ctx.done(last) is not None:
                return
            prompt = merge_turns(item)
            merged = (*system, Message(role="user", content=prompt))
            outcome = await ctx.ask(item, last, merged)
            text = outcome.completion.text if outcome.completion else ""
            scored, removed = without_echo(text, content_text(prompt))
            yield await make_record(
                item,
                last,
                ctx,
                merged,
                merged,
                outcome,
                scored_turn=last,
                scored_text=scored if removed else None,
                flags=(f"echo-removed:{removed}",) if removed else (),
            )
            return
        history: tuple[Message, ...] = system
        for index in range(1, len(item.turns) + 1):
            if item.turns[index - 1].fixed:
                fixed = self._fixed_turn(item, ctx.condition, index)
                history = (*history, *(fixed[len(system) :] if index == 1 else fixed))
                continue
            user = self.user_message(item, ctx.condition, index)
            request = (*history, user)
            record = ctx.done(index)
            if record is None:
                new = (*system, user) if index == 1 else (user,)
                outcome = await ctx.ask(item, index, request)
                record = await make_record(
                    item, index, ctx, new, request, outcome, scored_turn=index
                )
                yield record
                if record.response is None:
                    return  # the rest of this conversation cannot be played without an answer
            answer = self._answer_at(item, ctx.condition, record)
            history = (*request, answer) if answer is not None else request


register_protocol(ScriptedProtocol())
