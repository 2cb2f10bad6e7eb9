"""An inspect_ai `.eval` log of a run, written by inspect_ai's own log API, so `inspect view`
opens a turnscope run.

One inspect sample per played conversation: its id is `<item>|<condition>`, its epoch the
turnscope sample + 1 (inspect counts epochs from 1), its messages the target's whole
transcript. Scores: `conversation` (the protocol's conversation score) and `turns` (turn ->
score, scored turns only); a conversation with a failed record carries the first failure as
the sample's error, never as a score. Per-turn scorer results, judgments, flags, family and
item metadata are in the sample's metadata. inspect_ai's public API writes a whole log at
once, so this export holds the run's samples in memory while it writes (the flat and EEE
exports stream)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from turnscope import __version__
from turnscope.analysis import analyse
from turnscope.core import TARGET_ROLE, Message, ToolCall, TurnRecord, content_text
from turnscope.export.optional import need
from turnscope.export.rows import ConversationExport, iter_conversations, judgment_json
from turnscope.store import RunStore

_STATUS = {"finished": "success", "incomplete": "success", "stopped": "cancelled"}
"""Run status -> inspect log status (anything else: "started")."""


class _Inspect:
    """The inspect_ai classes an export builds, imported once."""

    def __init__(self) -> None:
        log = need("inspect_ai.log", "--format inspect")
        model = need("inspect_ai.model", "--format inspect")
        self.log = log
        self.model = model
        self.scorer = need("inspect_ai.scorer", "--format inspect")
        self.tool = need("inspect_ai.tool", "--format inspect")

    def tool_calls(self, calls: tuple[ToolCall, ...] | None) -> list[Any] | None:
        if not calls:
            return None
        made = []
        for call in calls:
            try:
                arguments = json.loads(call.function.arguments)
                error = None
            except (ValueError, RecursionError) as exc:  # model output: anything goes
                arguments, error = {}, f"arguments are not JSON: {str(exc)[:200]}"
            if not isinstance(arguments, dict):
                arguments, error = {}, "arguments are not a JSON object"
            made.append(
                self.tool.ToolCall(
                    id=call.id, function=call.function.name, arguments=arguments, parse_error=error
                )
            )
        return made

    def message(self, m: Message) -> Any:
        text = content_text(m.content)
        if m.role == "system":
            return self.model.ChatMessageSystem(content=text)
        if m.role == "assistant":
            return self.model.ChatMessageAssistant(
                content=text, tool_calls=self.tool_calls(m.tool_calls)
            )
        if m.role == "tool":
            return self.model.ChatMessageTool(
                content=text, tool_call_id=m.tool_call_id, function=m.name
            )
        return self.model.ChatMessageUser(content=text)

    def answer(self, record: TurnRecord) -> Any:
        return self.model.ChatMessageAssistant(
            content=record.response or "",
            tool_calls=self.tool_calls(record.tool_calls),
            model=record.model.model,
        )


def _turn_metadata(conversation: ConversationExport) -> list[dict[str, Any]]:
    return [
        {
            "turn": t.record.turn,
            "role": t.record.role,
            "score": t.record.score,
            "key_turn": t.key_turn,
            "error": t.record.error,
            "scores": [s.model_dump(mode="json") for s in t.record.scores],
            "judgments": [
                {k: v for k, v in judgment_json(spec, j).items() if k != "judgment"}
                for spec, j in t.judgments
            ],
            "flags": list(t.record.flags),
        }
        for t in conversation.turns
    ]


def _sample(api: _Inspect, conversation: ConversationExport) -> Any:
    item = conversation.item
    messages: list[Any] = []
    if item.system:
        messages.append(api.model.ChatMessageSystem(content=item.system))
    for turn in conversation.turns:
        if turn.record.role != TARGET_ROLE:
            continue
        messages.extend(api.message(m) for m in turn.record.new_messages)
        if turn.record.response is not None or turn.record.tool_calls:
            messages.append(api.answer(turn.record))
    targets = conversation.targets
    # The input is what the model was first asked: everything before its first answer.
    first_answer = next((i for i, m in enumerate(messages) if m.role == "assistant"), None)
    first_input = messages[:first_answer] or [
        api.model.ChatMessageUser(content=content_text(item.turns[0].user))
    ]
    scores = {}
    if conversation.score is not None:
        scores["conversation"] = api.scorer.Score(
            value=conversation.score,
            metadata={"key_turns": list(conversation.key_turns or ()) or "scored"},
        )
    turn_values = {str(r.turn): r.score for r in targets if r.score is not None}
    if turn_values:
        scores["turns"] = api.scorer.Score(value=turn_values)
    failed = next((t.record for t in conversation.turns if t.record.error is not None), None)
    error = None
    if failed is not None:
        message = f"turn {failed.turn} ({failed.role}): {failed.error}"
        error = api.log.EvalError(message=message, traceback="", traceback_ansi="")
    last = next((r for r in reversed(targets) if r.response is not None), None)
    output = (
        api.model.ModelOutput.from_content(last.model.model, last.response or "")
        if last is not None
        else api.model.ModelOutput()
    )
    prompt = sum(r.prompt_tokens or 0 for r in targets)
    completion = sum(r.completion_tokens or 0 for r in targets)
    model = f"{targets[0].model.backend}/{targets[0].model.model}" if targets else "unknown"
    return api.log.EvalSample(
        id=f"{item.id}|{conversation.condition}",
        epoch=conversation.sample + 1,
        input=first_input,
        target=[t.reference for t in item.turns if t.reference is not None],
        messages=messages,
        output=output,
        scores=scores or None,
        error=error,
        model_usage={
            model: api.model.ModelUsage(
                input_tokens=prompt, output_tokens=completion, total_tokens=prompt + completion
            )
        },
        metadata={
            "condition": conversation.condition,
            "sample": conversation.sample,
            "family": item.family,
            "category": item.category,
            "protocol": item.protocol,
            "item_metadata": item.metadata,
            "flags": list(conversation.flags),
            "spoilt": conversation.spoilt,
            "turns": _turn_metadata(conversation),
        },
    )


def write_inspect(store: RunStore, path: Path) -> int:
    """Write the run as an inspect `.eval` log at `path`; returns the samples written."""
    api = _Inspect()
    config = store.config()
    samples = []
    finished = config.created_at
    for conversation in iter_conversations(store):
        samples.append(_sample(api, conversation))
        finished = max([finished, *(t.record.finished_at for t in conversation.turns)])
    analysis = analyse(store.turn_scores(), store.items(), serving=store.serving_scores())
    metrics = {}
    for condition, estimate in analysis.overall.items():
        for name, value in (
            (f"mean {condition}", estimate.mean),
            (f"ci95 low {condition}", estimate.low),
            (f"ci95 high {condition}", estimate.high),
        ):
            if value is not None:
                metrics[name] = api.log.EvalMetric(name=name, value=value)
    scored = sum("conversation" in (s.scores or {}) for s in samples)
    model = next(iter(samples[0].model_usage), "unknown") if samples else "unknown"
    log = api.log.EvalLog(
        status=_STATUS.get(store.status(), "started"),
        eval=api.log.EvalSpec(
            created=config.created_at.isoformat(),
            task=f"turnscope/{config.suite}",
            task_id=f"turnscope/{config.suite}",
            run_id=store.run_dir.name,
            dataset=api.log.EvalDataset(name=config.suite, samples=len(samples)),
            model=model,
            config=api.log.EvalConfig(epochs=config.samples),
            packages={"turnscope": __version__},
            metadata={
                "run": store.run_dir.name,
                "conditions": list(config.conditions),
                "seed": config.seed,
            },
        ),
        results=api.log.EvalResults(
            total_samples=len(samples),
            completed_samples=scored,
            scores=[
                api.log.EvalScore(
                    name="conversation",
                    scorer="turnscope",
                    scored_samples=scored,
                    unscored_samples=len(samples) - scored,
                    metrics=metrics,
                )
            ],
        ),
        stats=api.log.EvalStats(
            started_at=config.created_at.isoformat(), completed_at=finished.isoformat()
        ),
        samples=samples,
    )
    api.log.write_eval_log(log, str(path), format="eval")
    return len(samples)
