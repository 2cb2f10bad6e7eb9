"""What a suite is made of: items (conversations to play), their turns and scoring specs."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from turnscope.core.messages import Content


class ScorerSpec(BaseModel):
    """Which scorer judges a turn, and its parameters (validated by the scorer's own model)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    type: str = Field(min_length=1)
    """Registered scorer name, e.g. "exact", "contains", "numeric"."""

    @property
    def params(self) -> dict[str, Any]:
        """Every field but `type`: what the scorer is configured with."""
        return dict(self.model_extra or {})


class Turn(BaseModel):
    """One user turn of a scripted conversation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user: Content
    """What the user says at this turn: text, or text and image parts."""
    reference: str | None = None
    """A reference (gold) answer: the default target of reference scorers and the
    assistant message used in place of the model's own in the gold-history variant."""
    scorers: tuple[ScorerSpec, ...] = ()
    """How this turn's answer is scored; a turn without scorers is played but not scored."""
    assistant: str | None = None
    """A fixed assistant answer: put into the history after this user turn instead of one the
    model writes (the turn is never requested, never recorded, never scored), e.g. a
    benchmark's setup answer. None: the model answers the turn."""

    @model_validator(mode="after")
    def _fixed_turn_is_not_scored(self) -> Turn:
        if self.assistant is not None and self.scorers:
            raise ValueError(
                "a turn with a fixed `assistant` answer is never answered by the model, so it "
                "cannot have scorers"
            )
        return self

    @property
    def fixed(self) -> bool:
        """Whether the turn's answer is fixed (not asked of the model)."""
        return self.assistant is not None


class Item(BaseModel):
    """One conversation to play: an id, an optional system prompt and its user turns."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    """Unique id within the suite."""
    system: str | None = None
    """Optional system prompt sent before the first turn."""
    turns: tuple[Turn, ...] = Field(min_length=1)
    """The user turns, in order."""
    category: str = "general"
    """A label to group results by (a task family, a skill, a source benchmark)."""
    metadata: dict[str, Any] = Field(default_factory=dict)
    """Free-form data carried along into the run store (source, difficulty knobs ...)."""
    protocol: str = Field(default="scripted", min_length=1)
    """The protocol that plays this item: "scripted" (fixed user turns, the default),
    "feedback" (attempts at one task until it is solved or the budget runs out), or any
    registered protocol; it validates the item when the suite loads."""
    setup: dict[str, Any] = Field(default_factory=dict)
    """What the item's protocol needs beyond the turns (a feedback budget and messages, a
    simulated user's persona and goal ...), validated by that protocol's own model."""
    conditions: tuple[str, ...] | None = None
    """The conditions this item may be played under (default: every condition of its
    protocol); a run's other conditions leave it out."""

    @model_validator(mode="before")
    @classmethod
    def _feedback_is_setup(cls, data: Any) -> Any:
        # Suites and runs written before `setup` carried a feedback item's budget and
        # messages in a field of their own, `feedback`.
        if isinstance(data, dict) and "feedback" in data:
            data = dict(data)
            legacy = data.pop("feedback")
            if legacy is not None and "setup" not in data:
                data["setup"] = legacy
        return data

    @field_validator("turns")
    @classmethod
    def _some_turn_is_answered(cls, turns: tuple[Turn, ...]) -> tuple[Turn, ...]:
        if turns and all(turn.fixed for turn in turns):
            raise ValueError("every turn has a fixed `assistant` answer: nothing to answer")
        return turns

    @field_validator("id")
    @classmethod
    def _id_is_one_line(cls, value: str) -> str:
        if value != value.strip() or "\n" in value:
            raise ValueError("item id must be one line without surrounding spaces")
        return value

    @property
    def family(self) -> str:
        """The family results are grouped by: metadata["family"] when it is a string, else
        the category."""
        family = self.metadata.get("family")
        return family if isinstance(family, str) else self.category

    @property
    def has_references(self) -> bool:
        """Whether every turn the model answers has a reference answer (needed by the
        gold-history variant; a fixed turn's history is its fixed answer)."""
        return all(turn.reference is not None for turn in self.turns if not turn.fixed)


class Suite(BaseModel):
    """A named, ordered collection of items with unique ids."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    """Display name: a built-in suite name or the file it was read from."""
    items: tuple[Item, ...]
    """The items, in file order."""

    @model_validator(mode="after")
    def _unique_ids(self) -> Suite:
        seen: set[str] = set()
        for item in self.items:
            if item.id in seen:
                raise ValueError(f"duplicate item id {item.id!r}")
            seen.add(item.id)
        return self
