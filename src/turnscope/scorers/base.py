"""The Scorer protocol, the view of a turn it scores, and the scorer registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from turnscope.core import Condition, Item, Message, Score, ScorerSpec, error_text


@dataclass(frozen=True)
class TurnView:
    """What a scorer sees: the item, which turn, the answer and the conversation so far."""

    item: Item
    turn: int
    """1-based index of the item turn whose scorers judge the answer (the last turn for the
    single-turn twin, the task turn for every feedback attempt)."""
    response: str
    """The model's answer to this turn."""
    history: tuple[Message, ...]
    """The request messages the answer was given to (system, earlier turns, this turn)."""
    condition: Condition
    """The condition the conversation was played under ("own", "gold", "single" ...)."""
    shows_answers: bool = True
    """Whether the history shows answers to earlier turns (False for the single-turn twin
    and the user-only condition, where a question about an earlier answer has nothing to
    refer to)."""

    @property
    def reference(self) -> str | None:
        """The turn's reference answer, if it has one."""
        return self.item.turns[self.turn - 1].reference


class Scorer(Protocol):
    """Turns one answer into a Score. Raising is allowed: the engine records an error."""

    @property
    def name(self) -> str:
        """The scorer's name, recorded on every Score it gives."""
        ...

    def score(self, view: TurnView) -> Score: ...


class ScorerParams(BaseModel):
    """Base of every scorer's parameter model: unknown parameters are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ScorerConfigError(ValueError):
    """A scorer spec names an unknown scorer or has bad parameters."""


P = TypeVar("P", bound=ScorerParams)
ScorerFactory = Callable[[P, str | None], Scorer]


@dataclass(frozen=True)
class ScorerInfo:
    name: str
    params: type[BaseModel]
    factory: Callable[[ScorerParams, str | None], Scorer] | None
    """None for a deferred scorer: one that needs a model call (an LLM judge), which the
    sync per-turn scoring cannot make; the run's judge pass scores those specs."""
    summary: str

    @property
    def deferred(self) -> bool:
        return self.factory is None


_SCORERS: dict[str, ScorerInfo] = {}
_ENTRY_POINT_GROUP = "turnscope.scorers"
_plugins_loaded = False


def register_scorer(
    name: str, params: type[P], *, summary: str
) -> Callable[[Callable[[P, str | None], Scorer]], Callable[[P, str | None], Scorer]]:
    """Decorator: a factory `(params, reference) -> Scorer` becomes available as `type: name`."""

    def decorate(factory: Callable[[P, str | None], Scorer]) -> Callable[[P, str | None], Scorer]:
        _SCORERS[name] = ScorerInfo(name, params, factory, summary)  # type: ignore[arg-type]
        return factory

    return decorate


def register_deferred_scorer(name: str, params: type[BaseModel], *, summary: str) -> None:
    """Make `type: name` a valid spec whose params are checked at load time but which
    `score_turn` leaves alone: the run's judge pass scores it (see turnscope.engine.judging)."""
    _SCORERS[name] = ScorerInfo(name, params, None, summary)


def _load_plugins() -> None:
    global _plugins_loaded
    # Once per process: every spec looks its scorer up, and entry_points() reads every
    # installed package's metadata.
    if _plugins_loaded:
        return
    # Importing the modules runs their @register_scorer decorators.
    import turnscope.scorers.bleu
    import turnscope.scorers.fastchat
    import turnscope.scorers.instructions
    import turnscope.scorers.judged
    import turnscope.scorers.mint
    import turnscope.scorers.own_answer
    import turnscope.scorers.persona
    import turnscope.scorers.reference  # noqa: F401

    _plugins_loaded = True
    for ep in entry_points(group=_ENTRY_POINT_GROUP):
        ep.load()


def scorer_names() -> list[str]:
    """Registered scorer names."""
    _load_plugins()
    return sorted(_SCORERS)


def _info(spec: ScorerSpec) -> ScorerInfo:
    _load_plugins()
    info = _SCORERS.get(spec.type)
    if info is None:
        raise ScorerConfigError(
            f"unknown scorer type {spec.type!r} (known: {', '.join(sorted(_SCORERS))})"
        )
    return info


# Validated parameters by spec: a spec is validated when its suite loads and then read again
# for every answer it scores. Keyed by id() with the spec kept alive beside its parameters,
# so an id is never reused while its entry exists (specs are frozen: the parameters cannot
# change under the entry).
_PARAMS: dict[int, tuple[ScorerSpec, BaseModel]] = {}
_PARAMS_LIMIT = 65536


def scorer_params(spec: ScorerSpec) -> BaseModel:
    """The spec's parameters, validated against its scorer's parameter model."""
    cached = _PARAMS.get(id(spec))
    if cached is not None and cached[0] is spec:
        return cached[1]
    info = _info(spec)
    try:
        params = info.params.model_validate(spec.params)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or spec.type
        raise ScorerConfigError(
            f"scorer {spec.type!r}, field {where!r}: {error_text(first)}"
        ) from exc
    if len(_PARAMS) >= _PARAMS_LIMIT:
        _PARAMS.clear()
    _PARAMS[id(spec)] = (spec, params)
    return params


def is_deferred(spec: ScorerSpec) -> bool:
    """Whether the spec is scored by the judge pass rather than by `score_turn`."""
    return _info(spec).deferred


def check_scorer_spec(spec: ScorerSpec, reference: str | None) -> None:
    """Raise ScorerConfigError if the spec cannot be scored (unknown type, bad parameters)."""
    if not is_deferred(spec):
        build_scorer(spec, reference)
    else:
        scorer_params(spec)


def build_scorer(spec: ScorerSpec, reference: str | None) -> Scorer:
    """Validate a spec against its scorer's parameter model and build the scorer.

    `reference` is the turn's reference answer, the default target of reference scorers."""
    info = _info(spec)
    params = scorer_params(spec)
    if info.factory is None:
        raise ScorerConfigError(
            f"scorer {spec.type!r} needs a model call: the run's judge pass scores it"
        )
    assert isinstance(params, ScorerParams)
    return info.factory(params, reference)


def score_turn(view: TurnView, specs: tuple[ScorerSpec, ...]) -> tuple[Score, ...]:
    """Run every scorer of a turn, in spec order, except deferred ones (LLM judges), which
    the run's judge pass adds later. A scorer that fails yields an error Score, never a value."""
    scores = []
    for spec in specs:
        try:
            if is_deferred(spec):
                continue
            scores.append(build_scorer(spec, view.reference).score(view))
        except Exception as exc:  # a broken scorer must not end the run or invent a score
            scores.append(Score(scorer=spec.type, error=f"{type(exc).__name__}: {exc}"))
    return tuple(scores)
