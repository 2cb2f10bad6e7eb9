"""The judge-kind contract: what a judge sees, what it returns, and the registry of kinds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from turnscope.core import Message, OutputConstraint, Verdict
from turnscope.scorers.base import ScorerParams


class JudgeInput(BaseModel):
    """Everything a judge is shown about one answer (or one pair of answers)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    history: tuple[Message, ...]
    """The conversation up to and including the user turn the judged answer replies to."""
    answer: str
    """The judged answer (answer A in pairwise)."""
    answer_b: str | None = None
    """Pairwise only: the other answer (answer B)."""
    own_histories: tuple[tuple[Message, ...], tuple[Message, ...]] | None = None
    """Pairwise only: the conversation as answer A's run and as answer B's run played it (each
    with its own earlier answers), for kinds that show each run its own, as FastChat's
    pairwise prompts do; `history` is the one that favours neither. None: `history` for both."""
    reference: str | None = None
    """A reference answer shown to the judge, if any."""
    guidance: str | None = None
    """Task-specific judging criteria."""

    @field_validator("history")
    @classmethod
    def _has_user_turn(cls, history: tuple[Message, ...]) -> tuple[Message, ...]:
        if not any(m.role == "user" for m in history):
            raise ValueError("the judged history has no user message for the answer to reply to")
        return history


class VerdictParseError(ValueError):
    """A judge's text holds no usable verdict. The message says what was wrong with it;
    `raw` keeps the text itself so the error can be recorded with it."""

    def __init__(self, message: str, raw: str = "") -> None:
        super().__init__(message)
        self.raw = raw


class JudgeKind(Protocol):
    """Turns a JudgeInput into judge messages and the judge's text into a Verdict."""

    @property
    def name(self) -> str:
        """The kind's registered name, recorded with every verdict."""
        ...

    def messages(self, inp: JudgeInput) -> list[Message]:
        """The chat messages sent to the judge model."""
        ...

    def parse(self, text: str) -> Verdict:
        """The verdict in the judge's text; raises VerdictParseError when there is none."""
        ...

    def constraint(self) -> OutputConstraint | None:
        """The verdict's form, for backends that hold the judge's text to it while decoding:
        free reasoning, then the verdict (every text it allows must `parse`); None leaves the
        text free."""
        ...


class JudgeParams(ScorerParams):
    """Parameters of the `judge` turn scorer spec."""

    kind: str = "grade"
    """Which judge kind scores the turn: "grade", "checklist", "rubric" or a plugin kind."""
    guidance: str | None = None
    """Task-specific judging criteria shown to the judge."""
    use_reference: bool = True
    """Show the turn's reference answer to the judge when it has one."""
    items: tuple[str, ...] = Field(default=(), validate_default=True)
    """Checklist: the yes/no questions the answer is checked against."""
    rubric: str | None = Field(default=None, validate_default=True)
    """Rubric: the yes/no question the answer must satisfy."""

    def pairwise_kind(self) -> str:
        """The judge kind that compares two runs' answers at a turn judged with these
        parameters: turnscope's `pairwise`, unless the spec brings a pairwise prompt of its
        own."""
        return "pairwise"

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        _load_kinds()
        info = _KINDS.get(kind)
        if info is None:
            raise ValueError(
                f"unknown judge kind {kind!r} (known: {', '.join(single_answer_kinds())})"
            )
        if info.pairwise:
            raise ValueError(
                f"judge kind {kind!r} compares two answers, so it cannot score one turn "
                "(it is used when two runs are compared)"
            )
        if info.params is not None and not issubclass(cls, info.params):
            raise ValueError(f"judge kind {kind!r} is given by a spec of its own type: {kind}")
        return kind

    @field_validator("guidance")
    @classmethod
    def _guidance_not_blank(cls, guidance: str | None) -> str | None:
        if guidance is not None and not guidance.strip():
            raise ValueError("guidance is blank: leave it out or write the criteria")
        return guidance

    @field_validator("items")
    @classmethod
    def _items_fit_kind(cls, items: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        kind = info.data.get("kind")
        if kind == "checklist" and not items:
            raise ValueError("kind 'checklist' needs `items`: a non-empty list of yes/no questions")
        if kind is not None and kind != "checklist" and items:
            raise ValueError(f"`items` is for kind 'checklist', not {kind!r}")
        for number, item in enumerate(items, 1):
            if not item.strip():
                raise ValueError(f"checklist item {number} is blank")
        return items

    @field_validator("rubric")
    @classmethod
    def _rubric_fits_kind(cls, rubric: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("kind")
        if kind == "rubric" and (rubric is None or not rubric.strip()):
            raise ValueError("kind 'rubric' needs `rubric`: the yes/no question to answer")
        if kind is not None and kind != "rubric" and rubric is not None:
            raise ValueError(f"`rubric` is for kind 'rubric', not {kind!r}")
        return rubric


JudgeKindFactory = Callable[[JudgeParams], JudgeKind]


@dataclass(frozen=True)
class _KindInfo:
    factory: JudgeKindFactory
    pairwise: bool
    params: type[JudgeParams] | None


_KINDS: dict[str, _KindInfo] = {}
_ENTRY_POINT_GROUP = "turnscope.judge_kinds"
_plugins_loaded = False


def register_judge_kind(
    name: str, *, pairwise: bool = False, params: type[JudgeParams] | None = None
) -> Callable[[JudgeKindFactory], JudgeKindFactory]:
    """Decorator: a factory `(params) -> JudgeKind` becomes the judge kind `name`.

    `pairwise` kinds compare two answers and are not usable as a turn scorer's kind; a kind
    with its own `params` model is named only by specs of that model (its own spec type)."""

    def decorate(factory: JudgeKindFactory) -> JudgeKindFactory:
        _KINDS[name] = _KindInfo(factory, pairwise, params)
        return factory

    return decorate


def _load_kinds() -> None:
    global _plugins_loaded
    # Importing the modules runs their @register_judge_kind decorators.
    import turnscope.scorers.judges._fastchat
    import turnscope.scorers.judges._kinds
    import turnscope.scorers.judges._persona  # noqa: F401

    if not _plugins_loaded:
        _plugins_loaded = True
        for ep in entry_points(group=_ENTRY_POINT_GROUP):
            ep.load()


def judge_kind_names() -> list[str]:
    """Every registered judge kind, pairwise ones included."""
    _load_kinds()
    return sorted(_KINDS)


def single_answer_kinds() -> list[str]:
    """The kinds a `judge` turn scorer may use (those that judge one answer)."""
    _load_kinds()
    return sorted(name for name, info in _KINDS.items() if not info.pairwise and not info.params)


def judge_kind(name: str, params: JudgeParams) -> JudgeKind:
    """The judge kind `name`, configured by a judge spec's params (guidance, reference use,
    checklist items, rubric). `name` decides the kind, so a pairwise comparison can reuse a
    turn's grading params."""
    _load_kinds()
    info = _KINDS.get(name)
    if info is None:
        raise ValueError(f"unknown judge kind {name!r} (known: {', '.join(sorted(_KINDS))})")
    return info.factory(params)
