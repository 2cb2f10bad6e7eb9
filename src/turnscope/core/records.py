"""What a run produces and is configured with: scores, completions, turn records, run config."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from turnscope.core.items import Item
from turnscope.core.messages import Message, ToolCall, ToolSpec
from turnscope.core.text import has_lone_surrogates, without_lone_surrogates

Condition = str
"""How a conversation is played: a name its protocol registers ("own", "gold", "single",
"user-only", "restated" for the scripted protocol; "sharded", "full", "concat" for simulated
users ...). Records, the store and every analysis key on it."""

TARGET_ROLE = "target"
"""The role of the model under test; the other roles (user simulator, feedback, judge) serve it."""


def renamed_field(data: Any, old: str, new: str) -> Any:
    """Accept data written before a field was renamed (runs stored by older versions)."""
    if isinstance(data, dict) and old in data and new not in data:
        data = dict(data)
        data[new] = data.pop(old)
    return data


class OutputConstraint(BaseModel):
    """What an answer must look like, for backends that can enforce it while decoding (a
    grammar, a regex, a JSON schema); the others ignore it and the caller parses as usual.
    Exactly one of `choices`, `regex` and `json_schema` is given."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    choices: tuple[str, ...] | None = None
    """The answer (after the preamble) is exactly one of these texts."""
    regex: str | None = None
    """The answer (after the preamble) matches this regular expression as a whole; use the
    syntax grammar converters share (no lookarounds, no `(?:`, no lazy quantifiers)."""
    json_schema: dict[str, Any] | None = None
    """The answer is a JSON value valid under this schema (no preamble is possible)."""
    preamble: bool = False
    """Free text without square brackets, ended by a newline, may come first: room for a
    judge's reasoning before its verdict line."""

    @model_validator(mode="after")
    def _one_form(self) -> OutputConstraint:
        given = [self.choices is not None, self.regex is not None, self.json_schema is not None]
        if sum(given) != 1:
            raise ValueError("give exactly one of choices, regex and json_schema")
        if self.choices is not None and not all(self.choices):
            raise ValueError("choices must be a non-empty list of non-empty texts")
        if self.json_schema is not None and self.preamble:
            raise ValueError("a JSON answer has no preamble")
        return self


class GenerationParams(BaseModel):
    """Sampling settings sent with every request of a role."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_tokens: int = Field(default=192, ge=1)
    """Upper bound on generated tokens per answer."""
    temperature: float = Field(default=0.0, ge=0.0)
    """Sampling temperature; 0 means greedy decoding."""
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    """Nucleus sampling mass."""
    stop: tuple[str, ...] = ()
    """Extra stop strings, on top of the model's end-of-turn token."""
    tools: tuple[ToolSpec, ...] | None = None
    """Tools offered to the model (OpenAI tools API); None offers none. New optional fields
    default to None so that the request hashes of older runs stay the same."""
    constraint: OutputConstraint | None = None
    """The form the answer must take (a judge's verdict line), enforced while decoding by
    backends that can; None leaves the answer free. Part of the request's cache key."""


class ModelIdentity(BaseModel):
    """What identifies a model for caching and reporting (never holds secrets)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    backend: str
    """Backend name, e.g. "llamacpp" or "openai"."""
    model: str
    """Model name or file name."""
    revision: str = ""
    """A fingerprint of the exact weights or endpoint (file digest, base URL)."""


class Completion(BaseModel):
    """A model's answer to one request, with what it cost."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    """The generated text."""
    tool_calls: tuple[ToolCall, ...] | None = None
    """Tools the model called in this answer, if any."""
    prompt_tokens: int | None = None
    """Tokens in the prompt, if the backend reports them."""
    completion_tokens: int | None = None
    """Tokens generated."""
    prefilled_tokens: int | None = None
    """Prompt tokens actually evaluated (the rest were reused from a warm cache)."""
    finish_reason: str | None = None
    """Why generation stopped: "stop", "length", ..."""
    latency_s: float = 0.0
    """Wall time of the request, seconds."""
    ttft_s: float | None = None
    """Time to the first generated token, seconds."""
    sanitised: bool = False
    """Whether the answer held text that cannot be stored as UTF-8 (a lone surrogate from a
    JSON escape), replaced by U+FFFD; the record is flagged "sanitised"."""
    served_by: str | None = None
    """Which replica answered when the model is several (a worker process, a pool's server,
    a Ray actor); None for a single one."""

    def storable(self) -> Completion:
        """This completion with every lone surrogate replaced (and `sanitised` set) if it has
        any; itself otherwise, so a normal answer is stored exactly as it came."""
        texts = [self.text, *(c.function.arguments for c in self.tool_calls or ())]
        texts += [c.function.name for c in self.tool_calls or ()]
        if not any(has_lone_surrogates(t) for t in texts):
            return self
        calls = tuple(
            c.model_copy(
                update={
                    "function": c.function.model_copy(
                        update={
                            "name": without_lone_surrogates(c.function.name),
                            "arguments": without_lone_surrogates(c.function.arguments),
                        }
                    )
                }
            )
            for c in self.tool_calls or ()
        )
        return self.model_copy(
            update={
                "text": without_lone_surrogates(self.text),
                "tool_calls": calls or self.tool_calls,
                "sanitised": True,
            }
        )

    @property
    def message(self) -> Message:
        """The answer as the assistant message it adds to the conversation."""
        return Message(role="assistant", content=self.text, tool_calls=self.tool_calls)


class Check(BaseModel):
    """One sub-check inside a score, e.g. one instruction of an instruction-following scorer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    """What was checked (for instructions: the instruction id, e.g. "punctuation:no_comma")."""
    passed: bool
    """Strict verdict."""
    passed_loose: bool | None = None
    """Loose verdict, where the check has a loose mode."""
    since_turn: int | None = None
    """The turn at which the checked instruction was given."""


class Score(BaseModel):
    """One scorer's verdict on one turn: a value in [0, 1], or an error, never both."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scorer: str
    """Name of the scorer that produced it."""
    value: float | None = None
    """1.0 is fully correct, 0.0 fully wrong; None when the scorer failed."""
    error: str | None = None
    """Why the scorer could not score (a failure is never turned into a score)."""
    detail: str | None = None
    """A short human-readable explanation (what was expected, what was found)."""
    checks: tuple[Check, ...] = ()
    """The sub-checks behind the value, for analyses finer than the score (per instruction)."""


class TurnRecord(BaseModel):
    """Everything known about one played turn; committed to the run store when it finishes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    item_id: str
    """The item this turn belongs to."""
    turn: int = Field(ge=1)
    """1-based turn index within the conversation, as its protocol numbers turns (the
    single-turn twin is recorded at the item's last turn, a feedback attempt t at turn t)."""
    condition: Condition
    """The condition the conversation was played under ("own", "gold", "single" ...)."""
    role: str = TARGET_ROLE
    """Which model role answered: "target" (the model under test) or a serving role such as
    "user" (a simulated user's message)."""
    sample: int = Field(default=0, ge=0)
    """Sample index when each conversation is played several times."""
    request_hash: str
    """Content hash of the full request (messages, params, model, seed, sample)."""
    new_messages: tuple[Message, ...]
    """Messages added to the history for this turn (the rest is implied by earlier turns)."""
    response: str | None = None
    """The model's answer, None if the turn failed."""
    tool_calls: tuple[ToolCall, ...] | None = None
    """Tools the answer called, if any."""
    prompt_tokens: int | None = None
    """Prompt tokens of the request."""
    completion_tokens: int | None = None
    """Generated tokens."""
    prefilled_tokens: int | None = None
    """Prompt tokens the backend actually evaluated."""
    finish_reason: str | None = None
    """Why generation stopped."""
    latency_s: float = 0.0
    """Wall time of the successful request (0 when served from the cache)."""
    ttft_s: float | None = None
    """Time to first token of the successful request."""
    retries: int = 0
    """Attempts beyond the first."""
    cached: bool = False
    """Whether the answer came from the response cache instead of the model."""
    served_by: str | None = None
    """Which replica answered when the model is several (an embedded worker, a pool's
    server; None for a single one or an answer from the cache); under `--ray`, the Ray actor
    that played the turn and its node, e.g. "ray:1@3f2a9c01"."""
    error: str | None = None
    """Why the turn has no answer (a permanent failure, or retries exhausted)."""
    model: ModelIdentity
    """The model that answered."""
    params: GenerationParams
    """Generation parameters of the request."""
    seed: int
    """The per-request seed."""
    scores: tuple[Score, ...] = ()
    """Scores of the answer, one per scorer spec of the turn."""
    flags: tuple[str, ...] = ()
    """Observations about the record that do not change its answer, e.g. "sanitised" (the
    answer held text that could not be stored as is) or a simulator audit finding."""
    finished_at: datetime
    """When the record was committed."""

    @model_validator(mode="before")
    @classmethod
    def _older_field_names(cls, data: Any) -> Any:
        return renamed_field(data, "variant", "condition")

    @property
    def score(self) -> float | None:
        """Mean of the scores' values; None when nothing scored, or when any scorer failed
        (a failed judgment or check must not let the turn's score rise on the others)."""
        return turn_score(self.scores)

    @property
    def answer(self) -> Message | None:
        """The assistant message this record adds to the conversation (None if it failed)."""
        if self.response is None:
            return None
        return Message(role="assistant", content=self.response, tool_calls=self.tool_calls)


def turn_score(scores: tuple[Score, ...]) -> float | None:
    """A turn's score: the mean of its scores' values; None when none has a value, or when
    any of them failed (the turn is then counted as an error, never as a score)."""
    if any(s.error is not None for s in scores):
        return None
    values = [s.value for s in scores if s.value is not None]
    return sum(values) / len(values) if values else None


JuryMethod = Literal["mean", "median", "majority"]


class JudgeSettings(BaseModel):
    """The judge role of a run: which models judge, and how (never holds secrets)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    judges: tuple[str, ...] = ()
    """Model specs of the judges ("llamacpp", "openai:NAME@URL" ...); several make a jury."""
    api_key_env: str | None = None
    """Environment variable holding the judges' API key (the key itself is never stored)."""
    params: GenerationParams = GenerationParams(max_tokens=512)
    """Generation parameters of judge requests."""
    concurrency: int = Field(default=4, ge=1)
    """Judge requests in flight at once, apart from the model under test's limit."""
    jury: JuryMethod = "mean"
    """How a jury's verdicts on one answer become one score."""
    max_attempts: int = Field(default=3, ge=1)
    """Judge requests per judgment before an unparseable verdict is recorded as an error."""
    seed: int = 0
    """Seed of judge requests; it does not depend on the run seed, so every run judged by
    the same judge shares its cached verdicts."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Backend-specific options of the judges (context size ...)."""


class RoleSettings(BaseModel):
    """A serving model role of a run (a user simulator, a feedback writer): which model plays
    it and how it is asked (never holds secrets)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    """Model spec, same syntax as the model under test's ("llamacpp", "openai:NAME@URL")."""
    api_key_env: str | None = None
    """Environment variable holding its API key (the key itself is never stored)."""
    params: GenerationParams = GenerationParams()
    """Generation parameters of its requests."""
    concurrency: int = Field(default=8, ge=1)
    """Its requests in flight at once, apart from every other role's."""
    seed: int = 0
    """Seed its per-request seeds derive from."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Backend-specific options (context size, threads ...)."""


class RunConfig(BaseModel):
    """Everything needed to play (and resume) a run, stored in the run directory."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    """Model spec of the model under test, e.g. "llamacpp" or "openai:NAME@URL"."""
    api_key_env: str | None = None
    """Name of the environment variable holding the API key (the key itself is never stored)."""
    suite: str
    """Suite name or path it was loaded from."""
    conditions: tuple[Condition, ...] = ("own",)
    """Conditions to play every item under (each item plays those its protocol knows)."""
    samples: int = Field(default=1, ge=1)
    """How many times each conversation is played."""
    params: GenerationParams = GenerationParams()
    """Generation parameters."""
    seed: int = 0
    """Run seed; each request's seed derives from it deterministically."""
    concurrency: int = Field(default=8, ge=1)
    """Conversations in flight at once (a backend may allow fewer)."""
    max_retries: int | None = Field(default=None, ge=0)
    """Retries of a transient failure at most before the turn is recorded as an error (None:
    as many as `retry_for_s` allows)."""
    retry_for_s: float = Field(default=120.0, gt=0)
    """How long a transient failure is retried (from the request's first attempt) before the
    turn is recorded as an error."""
    timeout_s: float = Field(default=120.0, gt=0)
    """Per-request timeout, seconds."""
    use_cache: bool = True
    """Whether identical requests reuse answers from the response cache."""
    cache_path: str | None = None
    """Where the response cache lives (None: no cache)."""
    model_options: dict[str, Any] = Field(default_factory=dict)
    """Backend-specific options (context size, threads ...)."""
    created_at: datetime
    """When the run was started."""
    judging: JudgeSettings = JudgeSettings()
    """Judges of the turns whose scorer spec is `type: judge` (none by default)."""
    roles: dict[str, RoleSettings] = Field(default_factory=dict)
    """Serving roles beside the model under test and the judges, by name ("user",
    "feedback"); a protocol that needs one that is missing refuses the item before the run."""
    judge_prompts: str | None = None
    """Whose wording the suite's judge prompts are in, as its items say (see
    `judge_prompts_of`): "fastchat" (FastChat's judge_prompts.jsonl, as MT-Bench's published
    scores were judged) or "turnscope" (turnscope's own), several joined by ", "; None when
    the items do not say, and in runs stored before this was recorded."""

    @model_validator(mode="before")
    @classmethod
    def _older_field_names(cls, data: Any) -> Any:
        return renamed_field(data, "variants", "conditions")


JUDGE_PROMPTS_KEY = "judge_prompts"
"""Item metadata naming whose wording the item's judge prompts are in ("fastchat",
"turnscope"); an adapter that can judge with a publisher's own prompts sets it."""


def judge_prompts_of(items: Iterable[Item]) -> str | None:
    """What RunConfig.judge_prompts records for a run of `items`: the distinct values of their
    JUDGE_PROMPTS_KEY metadata, sorted and joined by ", " (None when no item says)."""
    found = {
        value for item in items if isinstance(value := item.metadata.get(JUDGE_PROMPTS_KEY), str)
    }
    return ", ".join(sorted(found)) or None
