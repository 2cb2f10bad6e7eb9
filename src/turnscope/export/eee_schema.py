"""The part of the Every Eval Ever (EEE) schema, version 0.3.0, that turnscope writes.

EEE publishes its schema as JSON Schema files and as the `every-eval-ever` package, whose
releases need Python 3.12 or newer. turnscope writes the records with these models instead,
so `export -f eee` works on every Python turnscope supports and needs no extra package. The
field names, enum values and constraints are the published schema's; only the fields turnscope
fills are declared, and the two top-level records forbid unknown fields, as the schema does.
The tests check the files with the package's own validator where it is installed.

The datastore path rules (`datastore_dir`, `datastore_file_path`) follow the package's: the
developer folder is the model id's owner prefix, the other parts of the id are joined with `_`,
and a path component must be a safe, known, portable file name.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION = "0.3.0"
"""The EEE schema version these models follow."""


class _Record(BaseModel):
    """A part of an EEE record; unknown fields are a bug here, not a user's input."""

    model_config = ConfigDict(extra="forbid")


# --- instance level (the `<uuid>_samples.jsonl` rows) ---


class InteractionType(StrEnum):
    """How the model was engaged on a sample."""

    single_turn = "single_turn"
    multi_turn = "multi_turn"
    agentic = "agentic"


class Input(_Record):
    """What a sample asked."""

    raw: str
    """The sample's input text as the evaluation defines it."""
    reference: list[str]
    """Reference answers the score compares against (may be empty)."""


class ToolCall(_Record):
    """One tool invocation in a message."""

    id: str
    """The call's id."""
    name: str
    """The tool's name."""
    arguments: dict[str, Any] | None = None
    """The call's arguments, every value a string."""


class Message(_Record):
    """One message of a transcript."""

    turn_idx: int = Field(ge=0)
    """Position in the transcript, from 0."""
    role: str
    """Who speaks: system, user, assistant or tool."""
    content: str | None = None
    """The message text (null when there is none)."""
    tool_calls: list[ToolCall] | None = None
    """Tool invocations the message makes."""
    tool_call_id: list[str] | None = None
    """The tool call(s) whose result this message carries."""


class AnswerAttributionItem(_Record):
    """Where a scored answer was taken from."""

    turn_idx: int = Field(ge=0)
    """The answer's message index."""
    source: str
    """The answer's place, e.g. `messages[3].content`."""
    extracted_value: str
    """The value that was scored."""
    extraction_method: str
    """How it was scored."""
    is_terminal: bool
    """Whether it is the final answer."""


class Evaluation(_Record):
    """A sample's score."""

    score: float
    """The sample's score."""
    is_correct: bool
    """Whether the answer counts as correct."""
    num_turns: int | None = Field(default=None, ge=1)
    """Turns of the interaction."""
    tool_calls_count: int | None = Field(default=None, ge=0)
    """Tool calls over the interaction."""


class TokenUsage(_Record):
    """Tokens a sample used."""

    input_tokens: int = Field(ge=0)
    """Prompt tokens."""
    output_tokens: int = Field(ge=0)
    """Completion tokens."""
    total_tokens: int = Field(ge=0)
    """Both together."""


class Performance(_Record):
    """How long a sample took."""

    latency_ms: float | None = Field(default=None, ge=0.0)
    """Total latency."""
    time_to_first_token_ms: float | None = Field(default=None, ge=0.0)
    """Time to the first token."""


class InstanceLevelEvaluationLog(_Record):
    """One row of the samples file."""

    schema_version: str
    """EEE schema version."""
    evaluation_id: str
    """The aggregate file's evaluation_id."""
    model_id: str
    """The model, in Hugging Face `owner/name` form."""
    evaluation_name: str
    """The evaluation's name."""
    evaluation_result_id: str | None = None
    """The aggregate result this row belongs to."""
    sample_id: str
    """The sample's id."""
    sample_hash: str | None = None
    """SHA-256 of the input's raw text and references, to match samples across models."""
    interaction_type: InteractionType
    """single_turn, multi_turn or agentic."""
    input: Input
    """What the sample asked."""
    messages: list[Message] | None = None
    """The transcript (multi_turn and agentic rows)."""
    answer_attribution: list[AnswerAttributionItem]
    """Where the scored answers are."""
    evaluation: Evaluation
    """The score."""
    token_usage: TokenUsage | None = None
    """Tokens used."""
    performance: Performance | None = None
    """Latency."""
    metadata: dict[str, Any] | None = None
    """Anything else about the sample."""

    @model_validator(mode="after")
    def _transcript_matches_interaction(self) -> InstanceLevelEvaluationLog:
        # The schema's rule: a conversation row carries its transcript. turnscope writes no
        # single_turn rows (they would need the schema's `output` instead).
        if self.interaction_type is InteractionType.single_turn or self.messages is None:
            raise ValueError("turnscope writes multi-turn and agentic rows, with messages")
        return self


# --- aggregate (the `<uuid>.json` file) ---


class SourceType(StrEnum):
    """What the record was made from."""

    documentation = "documentation"
    evaluation_run = "evaluation_run"


class EvaluatorRelationship(StrEnum):
    """Who ran the evaluation, relative to the model's developer."""

    first_party = "first_party"
    third_party = "third_party"
    collaborative = "collaborative"
    other = "other"


class SourceMetadata(_Record):
    """Where the record comes from."""

    source_name: str | None = None
    """The source's name."""
    source_type: SourceType
    """What kind of artefact was converted."""
    source_organization_name: str
    """Who publishes it."""
    evaluator_relationship: EvaluatorRelationship
    """Who ran it."""


class EvalLibrary(_Record):
    """The evaluation library that produced the record."""

    name: str
    """Its name."""
    version: str
    """Its version."""
    additional_details: dict[str, str] | None = None
    """More about the run, values as strings."""


class InferenceEngine(_Record):
    """What served the model."""

    name: str | None = None
    """The engine or backend."""


DEPLOYMENT_TYPES = frozenset({"self_deployed", "externally_managed", "unknown"})
MODEL_AVAILABILITIES = frozenset({"open_weights", "closed_weights", "unknown"})


class ModelInfo(_Record):
    """The evaluated model."""

    name: str
    """The model's name as served."""
    id: str
    """The model in Hugging Face `owner/name` form."""
    developer: str | None = None
    """Who provides it."""
    inference_engine: InferenceEngine | None = None
    """What served it."""
    additional_details: dict[str, str] | None = None
    """`deployment_type` and `model_availability` (the schema's fixed vocabularies), and more."""

    @model_validator(mode="after")
    def _known_vocabulary(self) -> ModelInfo:
        details = self.additional_details or {}
        for key, allowed in (
            ("deployment_type", DEPLOYMENT_TYPES),
            ("model_availability", MODEL_AVAILABILITIES),
        ):
            if details.get(key, "unknown") not in allowed:
                raise ValueError(f"{key} must be one of {sorted(allowed)}")
        return self


class SourceDataPrivate(_Record):
    """A dataset that is not published at a URL or on the Hugging Face Hub."""

    dataset_name: str
    """Its name."""
    source_type: Literal["other"] = "other"
    """Always `other` for such a dataset."""
    additional_details: dict[str, str] | None = None
    """More about it, values as strings."""


class ScoreType(StrEnum):
    """What kind of values a metric takes."""

    binary = "binary"
    continuous = "continuous"
    levels = "levels"


class MetricConfig(_Record):
    """What a result measures."""

    evaluation_description: str | None = None
    """What the metric is, in words."""
    metric_id: str | None = None
    """A stable id."""
    metric_name: str | None = None
    """A display name."""
    metric_kind: str | None = None
    """The metric's family."""
    metric_unit: str | None = None
    """The unit of its values."""
    lower_is_better: bool
    """Whether a lower value is better."""
    score_type: ScoreType | None = None
    """What kind of values it takes."""
    min_score: float | None = None
    """The lowest possible value."""
    max_score: float | None = None
    """The highest possible value."""


class ConfidenceInterval(_Record):
    """An interval around a score."""

    lower: float
    """Lower bound."""
    upper: float
    """Upper bound."""
    confidence_level: float | None = Field(default=None, ge=0.0, le=1.0)
    """Its confidence level."""
    method: str | None = None
    """How it was computed."""


class Uncertainty(_Record):
    """How sure a score is."""

    confidence_interval: ConfidenceInterval | None = None
    """The interval, when there is one."""
    num_samples: int | None = None
    """Samples behind the estimate."""
    num_bootstrap_samples: int | None = None
    """Bootstrap resamples used."""


class ScoreDetails(_Record):
    """A result's value."""

    score: float
    """The value."""
    details: dict[str, str] | None = None
    """More about it, values as strings."""
    uncertainty: Uncertainty | None = None
    """How sure it is."""


class GenerationArgs(_Record):
    """The sampling settings."""

    temperature: float | None = None
    """Sampling temperature."""
    top_p: float | None = None
    """Nucleus sampling bound."""
    max_tokens: int | None = Field(default=None, ge=1)
    """Tokens per answer at most."""


class GenerationConfig(_Record):
    """How answers were generated."""

    generation_args: GenerationArgs | None = None
    """The sampling settings."""
    additional_details: dict[str, str] | None = None
    """More settings, values as strings."""


class EvaluationResult(_Record):
    """One aggregate figure."""

    evaluation_result_id: str | None = None
    """Its id, which sample rows point to."""
    evaluation_name: str
    """Its name."""
    source_data: SourceDataPrivate
    """The dataset."""
    evaluation_timestamp: str | None = None
    """When the evaluation ran."""
    metric_config: MetricConfig
    """What it measures."""
    score_details: ScoreDetails
    """Its value."""
    generation_config: GenerationConfig | None = None
    """How answers were generated."""


class DetailedEvaluationResults(_Record):
    """The link to the samples file."""

    format: Literal["jsonl"] = "jsonl"
    """The samples file's format."""
    file_path: str = Field(
        pattern=(
            r"^data/[^/]+/[^/]+/[^/]+/[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-4[0-9A-Fa-f]{3}-"
            r"[89ABab][0-9A-Fa-f]{3}-[0-9A-Fa-f]{12}_samples\.jsonl$"
        )
    )
    """Its path in the datastore, from `data/`."""
    hash_algorithm: Literal["sha256", "md5"] | None = None
    """The checksum's algorithm (also the one of the rows' sample_hash)."""
    checksum: str | None = None
    """The file's checksum."""
    total_rows: int | None = None
    """Rows in the file."""


class EvaluationLog(_Record):
    """The aggregate file."""

    schema_version: str
    """EEE schema version."""
    evaluation_id: str
    """This evaluation's id."""
    evaluation_timestamp: str | None = None
    """When it ran."""
    retrieved_timestamp: str
    """When this record was made, as Unix time."""
    source_metadata: SourceMetadata
    """Where it comes from."""
    eval_library: EvalLibrary
    """What produced it."""
    model_info: ModelInfo
    """The model."""
    evaluation_results: list[EvaluationResult]
    """The figures."""
    detailed_evaluation_results: DetailedEvaluationResults | None = None
    """The link to the samples file."""


# --- datastore paths ---

_UNSAFE_CHARACTERS = re.compile(r'[<>:"\\|?*\x00-\x1f]')
_RESERVED_NAMES = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{i}" for i in range(1, 10)}
    | {f"LPT{i}" for i in range(1, 10)}
)
"""Names Windows keeps for devices; the datastore must stay checkable out on any system."""


def _component(value: str, what: str) -> str:
    """One datastore folder name from an identity, or ValueError saying why it cannot be."""
    value = value.strip()
    if not value or value.lower() == "unknown":
        raise ValueError(f"{what} must be known")
    value = value.replace(":", "_")  # model tags (name:version): portable, the JSON keeps ':'
    unsafe = (
        value in {".", ".."}
        or "/" in value
        or _UNSAFE_CHARACTERS.search(value) is not None
        or value.endswith((".", " "))
        or value.split(".", 1)[0].upper() in _RESERVED_NAMES
    )
    if unsafe:
        raise ValueError(f"{what} {value!r} is not a safe folder name")
    if value == "data":
        raise ValueError(f"{what} cannot be 'data', the datastore's root")
    return value


def _joined(value: str, what: str) -> str:
    """A slash-separated identity as one folder name, its parts joined with `_`."""
    parts = value.strip().split("/")
    if any(not part for part in parts):
        raise ValueError(f"{what} {value!r} has an empty part")
    return "_".join(_component(part, what) for part in parts)


def datastore_parts(collection: str, model_id: str, developer: str | None) -> tuple[str, ...]:
    """The collection, developer and model folders of a record: the developer is the model
    id's owner prefix, or `developer` when the id has none."""
    owner, slash, rest = model_id.strip().partition("/")
    if slash:
        return (
            _joined(collection, "collection"),
            _component(owner, "model owner"),
            _joined(rest, "model name"),
        )
    return (
        _joined(collection, "collection"),
        _component(developer or "", "model developer"),
        _component(owner, "model name"),
    )


def datastore_dir(root: Path, collection: str, model_id: str, developer: str | None) -> Path:
    """The one folder under `root` (the datastore's `data/`) where a record's files go."""
    return root.joinpath(*datastore_parts(collection, model_id, developer))


def datastore_file_path(
    collection: str, model_id: str, developer: str | None, filename: str
) -> str:
    """A record file's datastore path, from `data/`, as the aggregate links it."""
    parts = datastore_parts(collection, model_id, developer)
    return PurePosixPath("data", *parts, _component(filename, "file name")).as_posix()
