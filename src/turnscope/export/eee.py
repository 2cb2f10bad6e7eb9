"""Every Eval Ever (EEE) records of a run: one aggregate file and its per-sample companion,
built with turnscope's models of the published EEE schema (eee_schema.py), which the tests
check with the `every-eval-ever` package's own validator.

Mapping (docs/export.md says the same for users):
- aggregate results: per condition, the conversation score over items (`<condition>`), the
  turn score at each turn (`<condition>/turn-<k>`) and the score per family
  (`<condition>/family-<name>`), each with the analysis's 95 % bootstrap interval over items;
- sample rows, `multi_turn`: one per played conversation with a known conversation score
  (joined to `<condition>`, the whole target transcript in `messages`), and one per scored
  key turn (joined to `<condition>/turn-<k>`, which averages key turns; that turn's
  messages at their place in the conversation; the other turns' scores are in the
  conversation row's `turn_scores`). A conversation or turn without a score (a failure)
  has no sample row: EEE requires a score, and a failure is never turned into one. They
  are counted in the aggregate's details, as are spoilt conversations, which the analyses leave out.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from turnscope import __version__
from turnscope.analysis import Estimate, MultiTurnAnalysis, analyse
from turnscope.core import Message, ModelIdentity, RunConfig, ToolCall, TurnRecord, content_text
from turnscope.export import eee_schema as eee
from turnscope.export.optional import ExportError
from turnscope.export.rows import (
    ConversationExport,
    TurnExport,
    iter_conversations,
    judgment_json,
    protocol_of,
)
from turnscope.store import RunStore

INTERVAL_METHOD = "percentile bootstrap over items"
LOCAL_BACKENDS = ("llamacpp",)
"""Backends that run open weights on the user's own machine."""


@dataclass(frozen=True)
class EeeFiles:
    """What an EEE export wrote."""

    aggregate: Path
    """The aggregate file, `data/<collection>/<developer>/<model>/<uuid>.json`."""
    samples: Path
    """Its companion, `<uuid>_samples.jsonl`."""
    rows: int
    """Sample rows written."""


def _label(suite: str) -> str:
    """A portable collection name from the run's suite reference."""
    name = suite.partition("@")[0].partition(":")[0] if ":" in suite else suite
    name = Path(name).stem if Path(name).suffix else Path(name).name or name
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "suite"


def model_id(identity: ModelIdentity) -> str:
    """A Hugging Face style id: the served name when it already has an owner ("Qwen/..."),
    else backend/name (a GGUF file's name without its extension)."""
    name = identity.model
    if identity.backend == "llamacpp" and name.endswith(".gguf"):
        name = name[: -len(".gguf")]
    return (
        name if name.count("/") == 1 and not name.startswith("/") else f"{identity.backend}/{name}"
    )


def _target_identity(store: RunStore) -> ModelIdentity:
    for record in store.records():
        return record.model
    raise ExportError(f"{store.run_dir}: the run has no target turn to export")


def _arguments(call: ToolCall) -> dict[str, Any]:
    """A tool call's arguments as EEE wants them: an object of strings."""
    try:
        parsed = json.loads(call.function.arguments)
    except (ValueError, RecursionError):  # model output: malformed, or nested past any limit
        parsed = None
    if not isinstance(parsed, dict):
        return {"raw": call.function.arguments}
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in parsed.items()}


class _Transcript:
    """A conversation's target messages, numbered in order, as EEE messages."""

    def __init__(self) -> None:
        self.messages: list[eee.Message] = []

    def message(
        self, role: str, text: str | None, calls: tuple[ToolCall, ...] | None, call_id: str | None
    ) -> eee.Message:
        tool_calls = [
            eee.ToolCall(id=c.id, name=c.function.name, arguments=_arguments(c))
            for c in calls or ()
        ]
        made = eee.Message(
            turn_idx=len(self.messages),
            role=role,
            content=text,
            tool_calls=tool_calls or None,
            tool_call_id=[call_id] if call_id else None,
        )
        self.messages.append(made)
        return made

    def add(self, record: TurnRecord) -> tuple[list[eee.Message], int | None]:
        """Append a target record's messages and answer; returns them and the answer's index."""
        start = len(self.messages)
        for m in record.new_messages:
            self._add_message(m)
        answer = None
        if record.response is not None or record.tool_calls:
            answer = len(self.messages)
            self.message("assistant", record.response, record.tool_calls, None)
        return self.messages[start:], answer

    def _add_message(self, m: Message) -> None:
        self.message(m.role, content_text(m.content), m.tool_calls, m.tool_call_id)


def _usage(records: list[TurnRecord]) -> eee.TokenUsage | None:
    prompt = [r.prompt_tokens for r in records]
    completion = [r.completion_tokens for r in records]
    if any(v is None for v in prompt + completion):
        return None
    total_in = sum(v for v in prompt if v is not None)
    total_out = sum(v for v in completion if v is not None)
    return eee.TokenUsage(
        input_tokens=total_in, output_tokens=total_out, total_tokens=total_in + total_out
    )


def _performance(records: list[TurnRecord]) -> eee.Performance:
    first = records[0].ttft_s if len(records) == 1 else None
    return eee.Performance(
        latency_ms=sum(r.latency_s for r in records) * 1000.0,
        time_to_first_token_ms=first * 1000.0 if first is not None else None,
    )


def _input(item_turns: list[tuple[str, str | None]]) -> eee.Input:
    return eee.Input(
        raw="\n\n".join(user for user, _ in item_turns),
        reference=[ref for _, ref in item_turns if ref is not None],
    )


def _sample_hash(sample_input: eee.Input) -> str:
    text = sample_input.raw + "".join(sample_input.reference)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _sample_rows(
    conversation: ConversationExport, head: dict[str, Any]
) -> Iterator[eee.InstanceLevelEvaluationLog]:
    """The sample rows of one conversation: the conversation's, then each scored turn's."""
    item, condition = conversation.item, conversation.condition
    protocol = protocol_of(item)
    transcript = _Transcript()
    if item.system:
        transcript.message("system", item.system, None, None)
    base = {
        "condition": condition,
        "sample": str(conversation.sample),
        "family": item.family,
        "category": item.category,
        "protocol": item.protocol,
        "item_metadata": item.metadata,
    }
    per_turn: list[tuple[TurnExport, list[eee.Message], int | None]] = []
    for turn in conversation.turns:
        if turn.record.role == "target":
            added, answer = transcript.add(turn.record)
            per_turn.append((turn, added, answer))
    targets = conversation.targets
    whole = _input([(content_text(t.user), t.reference) for t in item.turns])
    if conversation.score is not None and not conversation.spoilt and targets:
        yield eee.InstanceLevelEvaluationLog(
            **head,
            evaluation_result_id=condition,
            sample_id=item.id,
            sample_hash=_sample_hash(whole),
            interaction_type=eee.InteractionType.multi_turn,
            input=whole,
            messages=transcript.messages,
            answer_attribution=[],
            evaluation=eee.Evaluation(
                score=conversation.score,
                is_correct=conversation.score >= 1.0,
                num_turns=len(targets),
                tool_calls_count=sum(len(r.tool_calls or ()) for r in targets),
            ),
            token_usage=_usage(targets),
            performance=_performance(targets),
            metadata={
                **base,
                "key_turns": list(conversation.key_turns or ()) or "scored",
                "turn_scores": {str(r.turn): r.score for r in targets},
                "flags": list(conversation.flags),
                # Replicas that answered its turns: one, unless the conversation moved.
                "served_by": list(dict.fromkeys(r.served_by for r in targets if r.served_by)),
            },
        )
    if conversation.spoilt:
        return
    for turn, added, answer in per_turn:
        record = turn.record
        score = record.score
        if score is None or not added:
            continue
        # The per-turn aggregate counts key turns only (one definition per figure); the other
        # turns' scores stay in the conversation row's `turn_scores`.
        if conversation.key_turns and record.turn not in conversation.key_turns:
            continue
        asked = item.turns[protocol.scored_turn(item, condition, record.turn) - 1]
        turn_input = _input([(turn.user_text or "", asked.reference)])
        attribution = []
        if answer is not None and record.response is not None:
            attribution.append(
                eee.AnswerAttributionItem(
                    turn_idx=answer,
                    source=f"messages[{answer}].content",
                    extracted_value=record.response,
                    extraction_method=", ".join(s.scorer for s in record.scores) or "none",
                    is_terminal=True,
                )
            )
        yield eee.InstanceLevelEvaluationLog(
            **head,
            evaluation_result_id=f"{condition}/turn-{record.turn}",
            sample_id=f"{item.id}#turn-{record.turn}",
            sample_hash=_sample_hash(turn_input),
            interaction_type=eee.InteractionType.multi_turn,
            input=turn_input,
            messages=added,
            answer_attribution=attribution,
            evaluation=eee.Evaluation(
                score=score,
                is_correct=score >= 1.0,
                num_turns=1,
                tool_calls_count=len(record.tool_calls or ()),
            ),
            token_usage=_usage([record]),
            performance=_performance([record]),
            metadata={
                **base,
                "turn": record.turn,
                "key_turn": turn.key_turn,
                "scores": [s.model_dump(mode="json", exclude={"checks"}) for s in record.scores],
                "judgments": [
                    {k: v for k, v in judgment_json(spec, j).items() if k != "judgment"}
                    for spec, j in turn.judgments
                ],
                "flags": list(record.flags),
                "served_by": record.served_by,
            },
        )


def _result(
    *,
    result_id: str,
    name: str,
    description: str,
    metric: str,
    estimate: Estimate,
    resamples: int,
    source: eee.SourceDataPrivate,
    generation: eee.GenerationConfig,
    timestamp: str,
    details: dict[str, str],
) -> eee.EvaluationResult:
    assert estimate.mean is not None
    interval = None
    if estimate.low is not None and estimate.high is not None:
        interval = eee.ConfidenceInterval(
            lower=estimate.low, upper=estimate.high, confidence_level=0.95, method=INTERVAL_METHOD
        )
    return eee.EvaluationResult(
        evaluation_result_id=result_id,
        evaluation_name=name,
        source_data=source,
        evaluation_timestamp=timestamp,
        metric_config=eee.MetricConfig(
            evaluation_description=description,
            metric_id=f"turnscope.{metric}",
            metric_name=metric.replace("_", " "),
            metric_kind="score",
            metric_unit="proportion",
            lower_is_better=False,
            score_type=eee.ScoreType.continuous,
            min_score=0.0,
            max_score=1.0,
        ),
        score_details=eee.ScoreDetails(
            score=estimate.mean,
            details={**details, "turn_errors": str(estimate.errors)},
            uncertainty=eee.Uncertainty(
                confidence_interval=interval,
                num_samples=estimate.n,
                num_bootstrap_samples=resamples,
            ),
        ),
        generation_config=generation,
    )


def _results(
    analysis: MultiTurnAnalysis,
    config: RunConfig,
    collection: str,
    unscored: dict[str, int],
) -> list[eee.EvaluationResult]:
    source = eee.SourceDataPrivate(
        dataset_name=collection, additional_details={"suite": config.suite}
    )
    generation = eee.GenerationConfig(
        generation_args=eee.GenerationArgs(
            temperature=config.params.temperature,
            top_p=config.params.top_p,
            max_tokens=config.params.max_tokens,
        ),
        additional_details={"samples": str(config.samples), "seed": str(config.seed)},
    )
    timestamp = config.created_at.isoformat()
    common: dict[str, Any] = {
        "resamples": analysis.resamples,
        "source": source,
        "generation": generation,
        "timestamp": timestamp,
    }
    results = []
    for condition, overall in analysis.overall.items():
        if overall.mean is not None:
            results.append(
                _result(
                    result_id=condition,
                    name=f"{collection} ({condition})",
                    description=(
                        f"Mean over items of the conversation score under {condition!r} "
                        "(the protocol's score of its key turns)"
                    ),
                    metric="conversation_score",
                    estimate=overall,
                    details={
                        "condition": condition,
                        "conversations_without_score": str(unscored.get(condition, 0)),
                        "spoilt_conversations": str(analysis.spoilt.get(condition, 0)),
                    },
                    **common,
                )
            )
        for turn, estimate in analysis.by_turn.get(condition, {}).items():
            if estimate.mean is not None:
                results.append(
                    _result(
                        result_id=f"{condition}/turn-{turn}",
                        name=f"{collection} ({condition}, turn {turn})",
                        description=f"Mean over items of the turn-{turn} score under {condition!r}",
                        metric="turn_score",
                        estimate=estimate,
                        details={"condition": condition, "turn": str(turn)},
                        **common,
                    )
                )
        for family, estimate in analysis.by_family.get(condition, {}).items():
            if estimate.mean is not None:
                results.append(
                    _result(
                        result_id=f"{condition}/family-{family}",
                        name=f"{collection} ({condition}, {family})",
                        description=(
                            f"Mean over the {family!r} items of the conversation score under "
                            f"{condition!r}"
                        ),
                        metric="conversation_score",
                        estimate=estimate,
                        details={"condition": condition, "family": family},
                        **common,
                    )
                )
    return results


def write_eee(store: RunStore, out_dir: Path) -> EeeFiles:
    """Write the run's EEE aggregate and samples files under `out_dir`/data/...; the rows
    stream, the aggregate comes from the analysis (light rows, as the report reads)."""
    config = store.config()
    identity = _target_identity(store)
    the_id = model_id(identity)
    collection = f"turnscope-{_label(config.suite)}"
    developer = the_id.split("/")[0]
    try:
        folder = eee.datastore_dir(out_dir / "data", collection, the_id, developer)
    except ValueError as exc:
        raise ExportError(f"cannot name the EEE files after model {the_id!r}: {exc}") from None
    file_uuid = str(uuid.uuid4())
    retrieved = f"{time.time():.3f}"
    evaluation_id = f"{collection}/{the_id.replace('/', '_')}/{retrieved}"
    folder.mkdir(parents=True, exist_ok=True)
    samples = folder / f"{file_uuid}_samples.jsonl"
    head = {
        "schema_version": eee.SCHEMA_VERSION,
        "evaluation_id": evaluation_id,
        "model_id": the_id,
        "evaluation_name": collection,
    }
    rows = 0
    unscored: dict[str, int] = {}
    digest = hashlib.sha256()
    try:
        with samples.open("w", encoding="utf-8") as handle:
            for conversation in iter_conversations(store):
                if conversation.score is None and not conversation.spoilt:
                    unscored[conversation.condition] = unscored.get(conversation.condition, 0) + 1
                for row in _sample_rows(conversation, head):
                    line = row.model_dump_json(exclude_none=True) + "\n"
                    handle.write(line)
                    digest.update(line.encode("utf-8"))
                    rows += 1
    except BaseException:
        samples.unlink(missing_ok=True)  # half a samples file with no aggregate is no record
        raise
    if rows == 0:
        samples.unlink()
        raise ExportError(f"{store.run_dir}: no scored turn to export as EEE samples")
    analysis = analyse(store.turn_scores(), store.items(), serving=store.serving_scores())
    local = identity.backend in LOCAL_BACKENDS
    log = eee.EvaluationLog(
        schema_version=eee.SCHEMA_VERSION,
        evaluation_id=evaluation_id,
        evaluation_timestamp=config.created_at.isoformat(),
        retrieved_timestamp=retrieved,
        source_metadata=eee.SourceMetadata(
            source_name="turnscope",
            source_type=eee.SourceType.evaluation_run,
            source_organization_name="turnscope",
            evaluator_relationship=eee.EvaluatorRelationship.other,
        ),
        eval_library=eee.EvalLibrary(
            name="turnscope",
            version=__version__,
            additional_details={
                "run": store.run_dir.name,
                "conditions": ",".join(config.conditions),
            },
        ),
        model_info=eee.ModelInfo(
            name=identity.model,
            id=the_id,
            developer=developer,
            inference_engine=eee.InferenceEngine(name=identity.backend),
            additional_details={
                "deployment_type": "self_deployed" if local else "unknown",
                "model_availability": "open_weights" if local else "unknown",
            },
        ),
        evaluation_results=_results(analysis, config, collection, unscored),
        detailed_evaluation_results=eee.DetailedEvaluationResults(
            file_path=eee.datastore_file_path(collection, the_id, developer, samples.name),
            hash_algorithm="sha256",
            checksum=digest.hexdigest(),
            total_rows=rows,
        ),
    )
    aggregate = folder / f"{file_uuid}.json"
    aggregate.write_text(log.model_dump_json(exclude_none=True, indent=2), encoding="utf-8")
    return EeeFiles(aggregate=aggregate, samples=samples, rows=rows)
