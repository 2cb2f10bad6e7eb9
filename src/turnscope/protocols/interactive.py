"""What the interactive protocols (tools, environment) share: a turn budget k, a model that acts
at every turn (runs code, calls a tool, or proposes a solution), observations, feedback and a
sandbox per conversation.

Turns are numbered by target model call: turn t is the t-th answer, and `max_turns` is the
budget k. What the model's turn t did comes back at turn t + 1: the observation (tool output,
a verdict on a wrong solution, the turns left, feedback) is stored in record t + 1's
`new_messages`, as `tool` messages answering its tool calls and a user message for the rest,
and the flags that describe it ("tool:error", "sandbox:timeout" ...) are record t + 1's too.
Record t is committed as soon as the model answered, before its code runs, so a run killed
while code runs never asks the model again: resume re-executes the conversation's earlier
code on a fresh sandbox (flag "sandbox:replayed") and carries on.

Every turn is scored: a proposed solution by the protocol's check, any other turn 0.0 under
the scorer name "solution" (not solved at that turn), so the success-at-k curve sees every
turn. The conversation stops at the first solved turn or after k turns.

A feedback condition adds the `feedback` role: after every turn that did not end the
conversation, a feedback model that does not know the answer writes a few sentences for the
model, and a check in code flags feedback that gives the reference answer away
("feedback:leak", counted and shown). Without it, a wrong solution is answered only with
"not correct" (unary feedback)."""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from turnscope.core import (
    Condition,
    GenerationParams,
    Item,
    Message,
    Score,
    ToolCall,
    ToolSpec,
    TurnRecord,
    content_text,
    stable_hash,
)
from turnscope.protocols.base import (
    CallOutcome,
    PlayContext,
    ProtocolBase,
    make_record,
)
from turnscope.sandbox import (
    DEFAULT_SANDBOX,
    ExecutionResult,
    Sandbox,
    SandboxError,
    SandboxLimits,
    SandboxProvider,
    SandboxUnavailable,
    sandbox_provider,
)

FEEDBACK_ROLE = "feedback"

PYTHON = "python"
"""The name of the code tool, in the tools API and in records."""
EXECUTE_TAG = "execute"
SOLUTION_TAG = "solution"

MAX_ACTIONS_PER_TURN = 8
"""Tool calls one answer may make; the rest are answered as skipped (flag "tool:over-limit")."""
MAX_SHOWN_CHARS = 2000
"""Characters of one tool result shown to the model; the rest is cut, and it is told so."""
MAX_ARGUMENT_CHARS = 20_000
"""Characters of one tool call's arguments parsed; longer ones are refused."""
MAX_TRAJECTORY_CHARS = 8000
"""Characters of the conversation a feedback model is shown (the latest ones)."""

SANDBOX_LIMITS = SandboxLimits(cpu_time_s=5, wall_time_s=10.0, memory_mb=1024)
"""Limits of the conversation sandboxes: small, since the code solves one short task."""

LIMIT_FLAGS = {
    "cpu_time": "sandbox:timeout",
    "wall_time": "sandbox:timeout",
    "memory": "sandbox:memory",
    "output": "sandbox:output",
    "processes": "sandbox:processes",
    "disk": "sandbox:disk",
}

Interface = Literal["tags", "api"]


class InteractiveSetup(BaseModel):
    """What every interactive item's `setup` holds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    budget: int = Field(default=5, ge=1, le=30)
    """The turn budget k: model answers allowed before the conversation ends unsolved."""
    interface: Interface = "tags"
    """How tools are offered: "tags" (described in the prompt, called with tags such as
    <execute>...</execute>; any model can) or "api" (the OpenAI tools API; the model calls
    them as tool calls). Tool calls are handled in either case when the model makes them."""


@dataclass(frozen=True)
class ToolDef:
    """A tool the model may call: its API schema and, in text, its tag."""

    spec: ToolSpec
    """The tools-API entry (name, description, argument schema)."""
    tag: str
    """The tag that calls it in text: <tag>...</tag>."""


@dataclass(frozen=True)
class Action:
    """One tool call found in an answer."""

    kind: Literal["call", "invalid", "skipped"]
    """A call to run, a call that cannot run (and why), or one over the per-turn limit."""
    name: str = ""
    """The tool's name as the model wrote it (cut to 64 characters)."""
    arguments: Mapping[str, Any] = field(default_factory=dict)
    """The parsed arguments (python: {"code": ...}; a tag's text: {"text": ...})."""
    call_id: str | None = None
    """The tools-API call id (None for a tag)."""
    problem: str = ""
    """Why an invalid call cannot run."""
    flag: str = ""
    """The flag an invalid call adds ("tool:unknown", "tool:bad-arguments")."""


@dataclass(frozen=True)
class Move:
    """What one answer does: tool calls, or a solution, or neither."""

    actions: tuple[Action, ...]
    solution: str | None


@dataclass
class Observation:
    """What the model is told at the next turn about what its turn did, and its flags."""

    tool_replies: list[tuple[Action, str]] = field(default_factory=list)
    """Each tool call answered through the tools API, with its result text."""
    parts: list[str] = field(default_factory=list)
    """Everything else, in order: tag results, verdicts, notes."""
    flags: list[str] = field(default_factory=list)

    def messages(self) -> tuple[Message, ...]:
        """The messages that start the next turn."""
        out = [
            Message(role="tool", content=text, tool_call_id=action.call_id, name=action.name)
            for action, text in self.tool_replies
        ]
        if self.parts or not out:
            out.append(Message(role="user", content="\n\n".join(self.parts)))
        return tuple(out)


def cut(text: str, limit: int = MAX_SHOWN_CHARS) -> str:
    """`text` bounded to `limit` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n[... {len(text) - limit} more characters cut]"


def shown_name(name: str) -> str:
    """A model-written tool name as it may be echoed back: bounded and quoted."""
    return repr(name[:64])


def _tag_pattern(tag: str) -> re.Pattern[str]:
    # An unclosed tag at the very end counts: the closing tag is a stop string, so a request
    # that stopped on it returns the text without it.
    return re.compile(rf"<{tag}>(.*?)(?:</{tag}>|\Z)", re.DOTALL)


def close_open_tag(text: str, tags: Sequence[str]) -> str:
    """The answer as the conversation keeps it: a tag left open at the end (the request
    stopped on its closing tag) is closed, so the model sees well-formed turns."""
    for tag in tags:
        if text.rfind(f"<{tag}>") > text.rfind(f"</{tag}>"):
            return f"{text}</{tag}>"
    return text


def _parse_arguments(raw: str) -> dict[str, Any] | str:
    """A tool call's arguments object, or why it is unusable."""
    if len(raw) > MAX_ARGUMENT_CHARS:
        return f"the arguments are longer than {MAX_ARGUMENT_CHARS} characters"
    try:
        value = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError as exc:
        return f"the arguments are not valid JSON ({exc.msg} at character {exc.pos})"
    except RecursionError:
        return "the arguments are nested too deeply"
    if not isinstance(value, dict):
        return "the arguments must be a JSON object"
    return value


def parse_move(
    text: str,
    tool_calls: Sequence[ToolCall] | None,
    tools: Mapping[str, ToolDef],
    argument_problem: Callable[[str, Mapping[str, Any]], str | None],
) -> Move:
    """What an answer does. Tools-API calls come first, then tags in text order; calls past
    MAX_ACTIONS_PER_TURN are skipped. `argument_problem(name, arguments)` says why a call's
    arguments are unusable, or None."""
    actions: list[Action] = []
    for call in tool_calls or ():
        name = call.function.name
        tool = tools.get(name)
        if tool is None:
            known = ", ".join(tools) or "none"
            problem = f"there is no tool named {shown_name(name)} (tools: {known})"
            actions.append(
                Action("invalid", name[:64], call_id=call.id, problem=problem, flag="tool:unknown")
            )
            continue
        parsed = _parse_arguments(call.function.arguments)
        if isinstance(parsed, str):
            actions.append(
                Action("invalid", name, call_id=call.id, problem=parsed, flag="tool:bad-arguments")
            )
            continue
        why = argument_problem(name, parsed)
        if why is not None:
            actions.append(
                Action("invalid", name, call_id=call.id, problem=why, flag="tool:bad-arguments")
            )
            continue
        actions.append(Action("call", name, parsed, call_id=call.id))
    found: list[tuple[int, Action]] = []
    for tool in tools.values():
        for match in _tag_pattern(tool.tag).finditer(text):
            arguments = {"text": match.group(1)}
            why = argument_problem(tool.spec.name, arguments)
            action = (
                Action("call", tool.spec.name, arguments)
                if why is None
                else Action("invalid", tool.spec.name, problem=why, flag="tool:bad-arguments")
            )
            found.append((match.start(), action))
    actions.extend(action for _, action in sorted(found, key=lambda pair: pair[0]))
    actions = [
        Action("skipped", a.name, a.arguments, a.call_id) if i >= MAX_ACTIONS_PER_TURN else a
        for i, a in enumerate(actions)
    ]
    solutions = [m.group(1).strip() for m in _tag_pattern(SOLUTION_TAG).finditer(text)]
    solution = "\n".join(s for s in solutions if s) or None
    return Move(tuple(actions), solution)


def describe_execution(result: ExecutionResult) -> tuple[str, list[str]]:
    """What the model is shown of one execution, and the flags it adds."""
    flags = ["tool:python"]
    lines = [cut(result.output.rstrip("\n"))] if result.output.strip() else []
    if result.error is not None:
        flags.append("tool:error")
        if not result.output.strip() or result.error not in result.output:
            lines.append(cut(result.error, 500))
    if result.limit is not None:
        flags.append(LIMIT_FLAGS[result.limit])
    if result.restarted:
        flags.append("sandbox:restarted")
        lines.append(
            "(The Python interpreter was restarted: every variable, import and file from "
            "earlier turns is gone.)"
        )
    return ("\n".join(lines) or "(no output)"), flags


@lru_cache(maxsize=4)
def provider(name: str) -> SandboxProvider:
    """The process's sandbox provider: built once, so it checks the machine once."""
    return sandbox_provider(name)


@lru_cache(maxsize=4)
def _unavailable(name: str) -> str | None:
    try:
        provider(name).check_available()
    except SandboxUnavailable as exc:
        return str(exc)
    return None


def check_sandbox(name: str = DEFAULT_SANDBOX) -> None:
    """SandboxUnavailable (a ValueError, one line) if the sandbox cannot run here; the answer
    is remembered for the process, so a run checks once."""
    problem = _unavailable(name)
    if problem is not None:
        raise SandboxUnavailable(problem)


class Episode:
    """The per-conversation state of an interactive protocol: the sandbox, opened on first use
    and closed when the conversation ends (also when it is cancelled), and what the tools
    have been asked so far."""

    def __init__(self) -> None:
        self._sandbox: Sandbox | None = None
        self.asked: set[str] = set()
        """Canonical forms of the tool calls answered so far (repeated calls are flagged)."""

    async def sandbox(self) -> Sandbox:
        """The conversation's sandbox (SandboxError if it cannot be started)."""
        if self._sandbox is None:
            self._sandbox = await provider(DEFAULT_SANDBOX).open(SANDBOX_LIMITS)
        return self._sandbox

    async def close(self) -> None:
        if self._sandbox is not None:
            sandbox, self._sandbox = self._sandbox, None
            await sandbox.close()


async def run_tests(code: str) -> ExecutionResult:
    """Run `code` (a solution followed by its tests) in a fresh sandbox of its own, as a test
    harness would; SandboxError if the sandbox fails."""
    sandbox = await provider(DEFAULT_SANDBOX).open(SANDBOX_LIMITS)
    try:
        return await sandbox.run(code)
    finally:
        await sandbox.close()


# --- feedback ------------------------------------------------------------------------------

FEEDBACK_SYSTEM = (
    "You coach an assistant that is working on a task in several turns. Read the task and what "
    "the assistant did so far, then write two to four sentences that help it progress: point "
    "at a mistake in its reasoning or code, or say what it should check or try next. Do not "
    "give the answer: no final value, no finished solution, no code that solves the task. "
    "The assistant has to find the answer itself."
)


def feedback_request(task: str, trajectory: Sequence[tuple[str, str]]) -> tuple[Message, ...]:
    """The feedback model's request: the task and the conversation so far as plain text (the
    latest MAX_TRAJECTORY_CHARS characters), so it reads the work instead of continuing it."""
    lines = []
    for number, (answer, observation) in enumerate(trajectory, start=1):
        lines.append(f"--- assistant, turn {number} ---\n{answer}")
        lines.append(f"--- what it got back ---\n{observation}")
    shown = "\n\n".join(lines)
    if len(shown) > MAX_TRAJECTORY_CHARS:
        shown = "[... earlier turns cut]\n" + shown[-MAX_TRAJECTORY_CHARS:]
    user = f"Task:\n{task}\n\nThe assistant's work so far:\n{shown}\n\nYour feedback:"
    return (Message(role="system", content=FEEDBACK_SYSTEM), Message(role="user", content=user))


_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_CHOICE = re.compile(r"^\(?([a-z])\)?$")


def _numbers(text: str) -> list[float]:
    out = []
    for token in _NUMBER.findall(text):
        try:
            out.append(float(token.replace(",", "")))
        except ValueError:
            continue
    return out


def leaks_reference(feedback: str, reference: str | None) -> bool:
    """Whether feedback gives the reference answer away: a numeric reference appears as a
    number in it; a one-letter choice is named as the answer or option; any other reference
    (3 characters or more) appears in it, case and spacing ignored."""
    if reference is None or not reference.strip():
        return False
    ref = " ".join(reference.lower().split())
    text = " ".join(feedback.lower().split())
    choice = _CHOICE.match(ref)
    if choice:
        letter = re.escape(choice.group(1))
        return bool(
            re.search(
                rf"(answer|option|choice|choose|pick|select)\w*\W+(is\W+)?\(?{letter}\b", text
            )
            or re.search(rf"\({letter}\)", text)
        )
    numbers = _numbers(ref)
    if len(numbers) == 1 and _NUMBER.fullmatch(ref.replace(" ", "")):
        target = numbers[0]
        return any(abs(n - target) <= 1e-9 * max(1.0, abs(target)) for n in _numbers(text))
    if len(ref) < 3:
        return False
    return re.search(rf"(?<!\w){re.escape(ref)}(?!\w)", text) is not None


# --- the protocol --------------------------------------------------------------------------


def solved(record: TurnRecord) -> bool:
    """Whether a turn ended the conversation with a correct solution."""
    return record.score == 1.0


def not_solved(detail: str) -> tuple[Score, ...]:
    """The score of a turn that proposed no solution that could be checked."""
    return (Score(scorer="solution", value=0.0, detail=detail),)


class InteractiveProtocol(ProtocolBase, ABC):
    """The loop of an interactive protocol; a subclass says which tools a condition offers,
    how a tool call is answered, how a solution is checked and what the model is told (the
    abstract methods: a subclass that leaves one out cannot be made)."""

    feedback_conditions: tuple[Condition, ...] = ()
    """Conditions with a feedback model (the `feedback` role)."""

    # --- what a subclass provides ---

    def budget(self, item: Item) -> int:
        setup = self.setup(item)
        assert isinstance(setup, InteractiveSetup)
        return setup.budget

    def interface(self, item: Item) -> Interface:
        setup = self.setup(item)
        assert isinstance(setup, InteractiveSetup)
        return setup.interface

    @abstractmethod
    def tools(self, item: Item, condition: Condition) -> tuple[ToolDef, ...]:
        """The tools the model may call under `condition`."""

    @abstractmethod
    def instructions(self, item: Item, condition: Condition) -> str:
        """The system prompt: how to act and how to answer."""

    def task_text(self, item: Item, condition: Condition) -> str:
        """The task as the first user message gives it."""
        return content_text(item.turns[0].user)

    def argument_problem(self, name: str, arguments: Mapping[str, Any]) -> str | None:
        """Why the arguments of a call to tool `name` are unusable (None: they are fine)."""
        if name == PYTHON:
            code = arguments.get("code", arguments.get("text"))
            return None if isinstance(code, str) else 'python needs a "code" string'
        return None

    async def answer_call(
        self, item: Item, action: Action, episode: Episode
    ) -> tuple[str, list[str]]:
        """Run one valid tool call: the text the model is shown and the flags it adds."""
        if action.name == PYTHON:
            result = await (await episode.sandbox()).run(python_code(action))
            return describe_execution(result)
        # Only offered tools reach here (the loop answers unknown names itself): a subclass
        # that offers another tool answers it by overriding this method.
        raise NotImplementedError(
            f"{type(self).__name__} offers tool {action.name!r} but does not answer it"
        )

    @abstractmethod
    async def check_solution(
        self, item: Item, solution: str, ctx: PlayContext, request: tuple[Message, ...]
    ) -> tuple[Score, ...]:
        """The scores of a proposed solution; 1.0 (every score) solves the task."""

    def reference(self, item: Item) -> str | None:
        """What feedback must not give away (None: nothing to check)."""
        return item.turns[0].reference

    # --- the shape of its conversations ---

    def max_turns(self, item: Item, condition: Condition) -> int:
        return self.budget(item)

    def scored_turn(self, item: Item, condition: Condition, turn: int) -> int:
        return 1

    def attempt_budget(self, item: Item) -> int | None:
        return self.budget(item)

    def condition_roles(self, item: Item, condition: Condition) -> tuple[str, ...]:
        return (FEEDBACK_ROLE,) if condition in self.feedback_conditions else ()

    def conversation_score(
        self, item: Item, condition: Condition, values: Mapping[int, float | None]
    ) -> float | None:
        # Solved within the budget; every turn is scored, so a gap means it is not known.
        for turn in range(1, self.budget(item) + 1):
            value = values.get(turn)
            if value is None:
                return None
            if value == 1.0:
                return 1.0
        return 0.0

    def tags(self, item: Item, condition: Condition) -> tuple[str, ...]:
        """Every tag an answer may use, closing tags being stop strings."""
        return (*(t.tag for t in self.tools(item, condition)), SOLUTION_TAG)

    def assistant_message(self, item: Item, condition: Condition, record: TurnRecord) -> Message:
        """A recorded answer as the conversation keeps it."""
        text = close_open_tag(record.response or "", self.tags(item, condition))
        return Message(role="assistant", content=text, tool_calls=record.tool_calls)

    def history(
        self, item: Item, condition: Condition, records: Mapping[int, TurnRecord], turn: int
    ) -> tuple[Message, ...]:
        messages: list[Message] = []
        for earlier in range(1, turn):
            messages.extend(records[earlier].new_messages)
            messages.append(self.assistant_message(item, condition, records[earlier]))
        messages.extend(records[turn].new_messages)
        return tuple(messages)

    def opening(self, item: Item, condition: Condition) -> tuple[Message, ...]:
        """Turn 1's messages: the instructions (after the item's own system prompt) and the
        task."""
        system = self.instructions(item, condition)
        if item.system:
            system = f"{item.system}\n\n{system}"
        return (
            Message(role="system", content=system),
            Message(role="user", content=f"Task:\n{self.task_text(item, condition)}"),
        )

    def params(self, item: Item, ctx: PlayContext) -> GenerationParams:
        """The target's parameters with the closing tags as stop strings and, through the
        tools API, the tools."""
        base = ctx.target.params
        tools = self.tools(item, ctx.condition)
        update: dict[str, Any] = {
            "stop": tuple(
                dict.fromkeys((*base.stop, *(f"</{t}>" for t in self.tags(item, ctx.condition))))
            )
        }
        if self.interface(item) == "api" and tools:
            update["tools"] = tuple(t.spec for t in tools)
        return base.model_copy(update=update)

    def move(self, item: Item, condition: Condition, record: TurnRecord) -> Move:
        """What a recorded answer does (the same every time it is read)."""
        return self._parse(item, condition, record.response or "", record.tool_calls)

    # --- playing ---

    async def score_move(
        self, item: Item, move: Move, ctx: PlayContext, request: tuple[Message, ...]
    ) -> tuple[Score, ...]:
        if move.actions:
            if move.solution is not None:
                return not_solved("the turn also called a tool, so its solution was not checked")
            return not_solved("no solution proposed at this turn")
        if move.solution is None:
            return not_solved("neither a tool call nor a solution")
        return await self.check_solution(item, move.solution, ctx, request)

    async def observe(
        self,
        item: Item,
        condition: Condition,
        record: TurnRecord,
        episode: Episode,
        turns_left: int,
    ) -> Observation:
        """Carry out what turn `record` asked for and say what came of it (SandboxError if the
        sandbox fails)."""
        move = self.move(item, condition, record)
        seen = Observation()
        for action in move.actions:
            if action.kind == "skipped":
                text = f"Not run: at most {MAX_ACTIONS_PER_TURN} tool calls are run per turn."
                flags = ["tool:over-limit"]
            elif action.kind == "invalid":
                text = f"Error: {action.problem}."
                flags = [action.flag]
            else:
                text, flags = await self.answer_call(item, action, episode)
            seen.flags.extend(flags)
            if action.call_id is not None:
                seen.tool_replies.append((action, text))
            else:
                seen.parts.append(f"Observation:\n{text}")
        if move.actions and move.solution is not None:
            seen.parts.append(
                "Your turn also called a tool, so the solution in it was not checked. Give your "
                "solution in a turn of its own."
            )
        elif not move.actions and move.solution is not None:
            seen.parts.append("Your solution is not correct.")
        elif not move.actions:
            seen.flags.append("tool:invalid")
            seen.parts.append(self.nothing_found(item, condition))
        left = "turn" if turns_left == 1 else "turns"
        note = f"You have {turns_left} {left} left."
        if turns_left == 1:
            note += " Use it to give your solution."
        seen.parts.append(note)
        return seen

    def nothing_found(self, item: Item, condition: Condition) -> str:
        """What the model is told when its answer neither called a tool nor gave a solution."""
        tags = [f"<{t.tag}>...</{t.tag}>" for t in self.tools(item, condition)]
        options = " or ".join([*tags, f"<{SOLUTION_TAG}>...</{SOLUTION_TAG}>"])
        return f"I found nothing to do in your answer. Use {options}."

    async def replay(
        self, item: Item, condition: Condition, records: Sequence[TurnRecord], episode: Episode
    ) -> list[str]:
        """Rebuild what earlier turns left behind on resume: their code, run again in order on
        the fresh sandbox, and their other tool calls (no model is asked). The flags of the
        next record: "sandbox:replayed", and "sandbox:replay-incomplete" if the interpreter
        restarted during the replay."""
        codes: list[str] = []
        for record in records:
            for action in self.move(item, condition, record).actions:
                if action.kind != "call":
                    continue
                if action.name == PYTHON:
                    codes.append(python_code(action))
                else:
                    await self.answer_call(item, action, episode)
        if not codes:
            return []
        result = await (await episode.sandbox()).replay(codes)
        return ["sandbox:replayed", *(["sandbox:replay-incomplete"] if result.state_lost else [])]

    async def write_feedback(
        self, item: Item, ctx: PlayContext, turn: int, trajectory: Sequence[tuple[str, str]]
    ) -> TurnRecord:
        """Ask the feedback model about the conversation so far; recorded at `turn`, the turn
        whose request shows it, and flagged "feedback:leak" if it gives the reference away."""
        request = feedback_request(self.task_text(item, ctx.condition), trajectory)
        outcome = await ctx.ask(item, turn, request, role=FEEDBACK_ROLE)
        text = outcome.completion.text if outcome.completion is not None else ""
        leak = outcome.completion is not None and leaks_reference(text, self.reference(item))
        return await make_record(
            item,
            turn,
            ctx,
            request,
            request,
            outcome,
            scored_turn=None,
            role=FEEDBACK_ROLE,
            flags=("feedback:leak",) if leak else (),
        )

    async def failure(
        self,
        item: Item,
        ctx: PlayContext,
        turn: int,
        history: tuple[Message, ...],
        exc: SandboxError,
    ) -> TurnRecord:
        """The error record of a turn that could not be asked because the sandbox failed."""
        outcome = CallOutcome(
            request_hash=stable_hash([item.id, ctx.condition, ctx.sample, turn, "sandbox"]),
            seed=ctx.seed(item, turn),
            error=f"sandbox failed: {exc}",
        )
        return await make_record(item, turn, ctx, (), history, outcome, scored_turn=None)

    async def play(self, item: Item, ctx: PlayContext) -> AsyncIterator[TurnRecord]:
        episode = Episode()
        try:
            async for record in self._play(item, ctx, episode):
                yield record
        finally:
            await episode.close()

    async def _play(
        self, item: Item, ctx: PlayContext, episode: Episode
    ) -> AsyncIterator[TurnRecord]:
        condition = ctx.condition
        budget = self.budget(item)
        params = self.params(item, ctx)
        done: list[TurnRecord] = []
        while len(done) < budget and (found := ctx.done(len(done) + 1)) is not None:
            done.append(found)
        history: tuple[Message, ...] = ()
        trajectory: list[tuple[str, str]] = []
        # The next record's flags: what carrying out the previous turn ran into.
        carried: list[str] = []
        new = self.opening(item, condition)
        record: TurnRecord | None = None
        turn = 0
        if done:
            # Resume: the conversation is rebuilt from its records and the sandbox by running
            # the code of every turn but the last again; the last turn's calls are carried out
            # below as if it had just been answered (the kill may have come while they ran).
            for earlier in done:
                history = (*history, *earlier.new_messages)
                history = (*history, self.assistant_message(item, condition, earlier))
            trajectory = [
                (r.response or "", _text(done[i + 1].new_messages)) for i, r in enumerate(done[:-1])
            ]
            record, turn = done[-1], len(done)
            if solved(record) or turn == budget:
                return
            try:
                carried = await self.replay(item, condition, done[:-1], episode)
            except SandboxError as exc:
                yield await self.failure(item, ctx, turn + 1, history, exc)
                return
        while True:
            if record is not None:
                try:
                    seen = await self.observe(item, condition, record, episode, budget - turn)
                except SandboxError as exc:
                    yield await self.failure(item, ctx, turn + 1, history, exc)
                    return
                carried.extend(seen.flags)
                trajectory.append((record.response or "", _text(seen.messages())))
                if condition in self.feedback_conditions:
                    written = ctx.done(turn + 1, role=FEEDBACK_ROLE)
                    if written is None:
                        written = await self.write_feedback(item, ctx, turn + 1, trajectory)
                        yield written
                    if written.response is None:
                        return  # the feedback failed: recorded as an error, asked again on resume
                    seen.parts.append(f"Feedback:\n{cut(written.response)}")
                new = seen.messages()
            turn += 1
            request = (*history, *new)
            outcome = await ctx.ask(item, turn, request, params=params)
            scores = None
            if outcome.completion is not None:
                move = self.parse(item, condition, outcome.completion.text, outcome)
                scores = await self.score_move(item, move, ctx, request)
            record = await make_record(
                item,
                turn,
                ctx,
                new,
                request,
                outcome,
                scored_turn=None,
                flags=tuple(carried),
                scores=scores,
            )
            carried = []
            yield record
            if record.response is None or solved(record) or turn == budget:
                return
            history = (*request, self.assistant_message(item, condition, record))

    def parse(self, item: Item, condition: Condition, text: str, outcome: CallOutcome) -> Move:
        """What a fresh answer does."""
        completion = outcome.completion
        calls = completion.tool_calls if completion is not None else None
        return self._parse(item, condition, text, calls)

    def _parse(
        self, item: Item, condition: Condition, text: str, calls: Sequence[ToolCall] | None
    ) -> Move:
        tools = {t.spec.name: t for t in self.tools(item, condition)}
        return parse_move(text, calls, tools, self.argument_problem)


def python_code(action: Action) -> str:
    """The code of a python call (from the tools API's "code" or an <execute> tag's text)."""
    code = action.arguments.get("code", action.arguments.get("text", ""))
    return code if isinstance(code, str) else ""


def _text(messages: Sequence[Message]) -> str:
    return "\n\n".join(content_text(m.content) for m in messages)
