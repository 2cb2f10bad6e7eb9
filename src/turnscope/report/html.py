"""The self-contained HTML report of a run (report.html) and of a two-run comparison.

One file, no scripts, no external CSS, fonts or images: charts are inline SVG, so the report
opens from disk with no network. Every piece of model or suite text goes through Jinja's
autoescaping.
"""

from __future__ import annotations

import os
import tempfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import jinja2

from turnscope import __version__
from turnscope.analysis import (
    MIN_TEST_PAIRS,
    SMALL_SAMPLE,
    ChangedItem,
    Comparison,
    Estimate,
    FlagReport,
    JudgeReport,
    MultiTurnAnalysis,
    analyse,
    error_message_counts,
    flag_report,
    instruction_report,
    item_families,
    judge_report,
    ordered_conditions,
    played_conversations,
)
from turnscope.analysis.rows import ScoredTurn, ServingTurn
from turnscope.core import (
    TARGET_ROLE,
    Condition,
    Item,
    Message,
    RunConfig,
    TurnRecord,
    content_text,
)
from turnscope.protocols import SPOILT, get_protocol
from turnscope.report.charts import Chart, Series, bar_chart, hbar_chart, line_chart
from turnscope.store import RunStore, gc_paused

REPORT_FILE = "report.html"
WORST_CONVERSATIONS = 20
INSTRUCTION_TYPES_SHOWN = 30
OWN = "own"
POINT_NOTE = (
    "n: the items behind a point, written where it changes along a line; hollow points, with "
    f"no band, rest on fewer than {SMALL_SAMPLE}."
)
BAR_NOTE = f"n above each bar: the items behind it; hatched bars rest on fewer than {SMALL_SAMPLE}."

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("turnscope.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def fmt_estimate(e: Estimate | None, digits: int = 3) -> str:
    """ "0.612 [0.551, 0.668]" (or "-" when there is no value)."""
    if e is None or e.mean is None:
        return "-"
    if e.low is None or e.high is None:
        return f"{e.mean:.{digits}f}"
    return f"{e.mean:.{digits}f} [{e.low:.{digits}f}, {e.high:.{digits}f}]"


def _signed(e: Estimate | None) -> str:
    if e is None or e.mean is None or e.low is None or e.high is None:
        return "-"
    return f"{e.mean:+.3f} [{e.low:+.3f}, {e.high:+.3f}]"


_env.filters["est"] = fmt_estimate
_env.filters["signed"] = _signed


@dataclass(frozen=True)
class Headline:
    """One headline figure: a label, its value text and what it means."""

    label: str
    value: str
    note: str
    n: int | None = None


@dataclass(frozen=True)
class ScoreLine:
    """One scorer's verdict on a transcript turn."""

    scorer: str
    value: float | None
    error: str | None
    detail: str | None


@dataclass(frozen=True)
class TranscriptTurn:
    """One record of a transcript: what the user side sent, the answer, its tool calls, the
    scores and flags; a serving role's record (feedback) shows only what it wrote."""

    key: bool
    """Whether the turn's score counts toward the conversation's score (a key turn)."""
    turn: int
    role: str
    messages: list[tuple[str, str]]
    response: str | None
    error: str | None
    score: float | None
    scores: list[ScoreLine]
    tool_calls: list[tuple[str, str]] = field(default_factory=list)
    """(tool name, arguments as written) of each tool call the answer made."""
    flags: list[str] = field(default_factory=list)


@dataclass
class Conversation:
    """One played conversation (item, condition, sample) of the worst-conversations table."""

    item_id: str
    family: str
    condition: str
    sample: int
    mean: float | None
    """The conversation's score (its protocol's, over the key turns); None when unscored."""
    errors: int
    turns: list[TranscriptTurn] = field(default_factory=list)


def _label(message: Message) -> str:
    """How a transcript labels a message: a tool result names its tool."""
    if message.role == "tool":
        return f"tool result · {message.name or message.tool_call_id or '?'}"
    return message.role


@dataclass(frozen=True)
class Ranked:
    """What ranks a conversation among the worst: its score, its failed turns, its key turns
    (None: every scored turn counts)."""

    score: float | None
    errors: int
    keys: tuple[int, ...] | None


def _transcript_turn(record: TurnRecord, keys: tuple[int, ...] | None) -> TranscriptTurn:
    counts = record.role == TARGET_ROLE and (
        record.turn in keys if keys is not None else record.score is not None
    )
    return TranscriptTurn(
        key=counts,
        turn=record.turn,
        role=record.role,
        messages=[(_label(m), content_text(m.content)) for m in record.new_messages],
        response=record.response,
        error=record.error,
        score=record.score,
        scores=[ScoreLine(s.scorer, s.value, s.error, s.detail) for s in record.scores],
        tool_calls=[
            (call.function.name, call.function.arguments) for call in record.tool_calls or ()
        ],
        flags=list(record.flags),
    )


Transcripts = Callable[[str, Condition, int], Sequence[TurnRecord]]
"""(item id, condition, sample) -> the conversation's records (every role), in turn order."""


def _reached(values: dict[int, float | None], keys: tuple[int, ...] | None) -> int:
    """How far a conversation got: the turn of its first key turn that failed or scored
    below 1.0 (its last recorded turn when none did)."""
    turns = sorted(values) if keys is None else sorted(k for k in keys if k <= max(values))
    for turn in turns:
        value = values.get(turn)
        if value is None or value < 1.0:
            return turn
    return max(values)


def worst_conversations(
    rows: Sequence[ScoredTurn],
    items: Sequence[Item],
    transcripts: Transcripts,
    limit: int = WORST_CONVERSATIONS,
    spoilt: frozenset[tuple[str, Condition, int]] = frozenset(),
) -> list[Conversation]:
    """The `limit` worst conversations: those left unscored by an error first, then by
    conversation score (its protocol's, over the key turns), then by how far they got before
    a key turn went wrong (earliest first); ties are spread over the families (each family's
    worst before any family's second worst) rather than listed in alphabetical order. A
    conversation unscored by design (no score and no error, e.g. a follow-up's single-turn
    twin) has nothing to show and is left out, and so is one a simulated user spoilt
    (`spoilt`: its failure is not the target's).

    Ranking reads only scores; transcripts are fetched for the conversations shown."""
    by_id = {item.id: item for item in items}
    families = item_families(items)
    grouped: dict[tuple[str, Condition, int], list[ScoredTurn]] = defaultdict(list)
    for row in rows:
        key = (row.item_id, row.condition, row.sample)
        if key not in spoilt and row.item_id in by_id:
            grouped[key].append(row)

    ranked: list[tuple[tuple[float, int, str, str], tuple[str, Condition, int], Ranked]] = []
    for key, turns in grouped.items():
        item_id, condition, _ = key
        failed = {r.turn for r in turns if r.error is not None or any(s.error for s in r.scores)}
        values = {r.turn: None if r.turn in failed else r.score for r in turns}
        item = by_id[item_id]
        protocol = get_protocol(item.protocol)
        score = protocol.conversation_score(item, condition, values)
        if score is None and not failed:
            continue
        keys = protocol.key_turns(item, condition)
        reached = _reached(values, keys)
        order = (-1.0 if score is None else score, reached, item_id, condition)
        ranked.append((order, key, Ranked(score, len(failed), keys)))
    ranked.sort(key=lambda entry: entry[0])
    # Within a run of equal (score, reached), take each family's first before any second.
    seen: dict[tuple[float, int, str], int] = defaultdict(int)
    spread = []
    for order, key, info in ranked:
        family = families.get(key[0], "?")
        tie = (order[0], order[1], family)
        spread.append(((order[0], order[1], seen[tie], family, *order[2:]), key, info))
        seen[tie] += 1
    spread.sort(key=lambda entry: entry[0])
    return [
        Conversation(
            item_id=item_id,
            family=families.get(item_id, "?"),
            condition=condition,
            sample=sample,
            mean=info.score,
            errors=info.errors,
            turns=[_transcript_turn(r, info.keys) for r in transcripts(item_id, condition, sample)],
        )
        for _, (item_id, condition, sample), info in spread[:limit]
    ]


def _model_name(rows: Sequence[ScoredTurn], transcripts: Transcripts) -> str | None:
    """The answering model's name as its records give it (for the embedded backend, the
    model file), read from one conversation's records."""
    if not rows:
        return None
    first = rows[0]
    for record in transcripts(first.item_id, first.condition, first.sample):
        if record.role == TARGET_ROLE:
            return record.model.model
    return None


def _headlines(analysis: MultiTurnAnalysis) -> list[Headline]:
    lines = [
        Headline(
            f"score ({condition})",
            fmt_estimate(e),
            "per conversation (key turns), mean over items",
            e.n,
        )
        for condition, e in analysis.overall.items()
    ]
    for name, gap in analysis.gaps.items():
        difference = gap.overall.difference
        lines.append(Headline(name, _signed(difference), gap.spec.meaning, difference.n))
    flips = analysis.flip_rate.get(OWN) or next(iter(analysis.flip_rate.values()), None)
    lines.append(
        Headline(
            "flip rate (pushback)",
            fmt_estimate(flips.rate) if flips else "no data",
            "share of correct answers abandoned after the user disputes them",
            flips.conversations if flips else None,
        )
    )
    curve = analysis.success_at_k.get(OWN) or next(iter(analysis.success_at_k.values()), None)
    if curve is not None and curve.by_k:
        k = max(curve.by_k)
        lines.append(
            Headline(
                f"success at {k} (feedback)",
                fmt_estimate(curve.by_k[k]),
                f"share of feedback conversations solved within {k} attempts",
                curve.conversations,
            )
        )
    else:
        lines.append(Headline("success at k (feedback)", "no data", "no feedback items"))
    for condition, aptitude in analysis.aptitude.items():
        spread = analysis.unreliability.get(condition)
        lines.append(
            Headline(
                f"aptitude ({condition})",
                fmt_estimate(aptitude),
                "90th percentile of an item's scores over samples, mean over items",
                aptitude.n,
            )
        )
        lines.append(
            Headline(
                f"unreliability ({condition})",
                fmt_estimate(spread),
                "90th minus 10th percentile over samples: lower is steadier",
                spread.n if spread else None,
            )
        )
    return lines


def _main_condition(analysis: MultiTurnAnalysis) -> str | None:
    if OWN in analysis.by_family:
        return OWN
    return next(iter(analysis.by_family), None)


def run_charts(analysis: MultiTurnAnalysis, rows: Sequence[ScoredTurn]) -> list[Chart]:
    """Every chart of the run report, in order (a chart without data has svg None: the report
    leaves it out and names it in one line)."""
    main = _main_condition(analysis)
    charts = [
        line_chart(
            "by-turn",
            "Score by turn index",
            [Series(v, sorted(cells.items())) for v, cells in analysis.by_turn.items()],
            xlabel="turn",
            caption="Per turn: mean turn score at each turn over the items for which it is a "
            f"key turn, 95 % bootstrap band. {POINT_NOTE}",
        ),
        line_chart(
            "by-distance",
            "Score by distance",
            [
                Series(family, sorted(cells.items()))
                for family, cells in analysis.by_distance.get(main or "", {}).items()
            ],
            xlabel="distance (turns between a fact and the question about it)",
            caption=f"Score per conversation (key turns) by the item's distance knob "
            f"({main or '-'} history). {POINT_NOTE}",
        ),
    ]
    for name, gap in analysis.gaps.items():
        spec = gap.spec
        first = f"{spec.first} (last turn)" if spec.first_at_last_turn else spec.first
        charts.append(
            bar_chart(
                f"gap-{spec.first}-{spec.second}",
                f"{spec.first} vs {spec.second}",
                [
                    Series(first, [(f, g.first) for f, g in gap.by_family.items()]),
                    Series(spec.second, [(f, g.second) for f, g in gap.by_family.items()]),
                ],
                caption=f"Per family, over items played both ways ({name}). {BAR_NOTE}",
            )
        )
    charts.append(
        bar_chart(
            "by-family",
            "Score per family",
            [Series(v, list(cells.items())) for v, cells in analysis.by_family.items()],
            caption="Score per conversation (key turns), mean over each family's items, one "
            f"bar per condition. {BAR_NOTE}",
        )
    )
    curves = analysis.success_at_k
    charts.append(
        line_chart(
            "success-at-k",
            "Success at k (feedback)",
            [Series(v, sorted(c.by_k.items())) for v, c in curves.items()],
            xlabel="attempts k",
            ylabel="share solved",
            caption=f"Share of feedback conversations solved within k attempts. {POINT_NOTE}",
        )
    )
    instructions = instruction_report(rows)
    types = (
        [(r.instruction, r.strict, r.checks) for r in instructions.by_type][
            :INSTRUCTION_TYPES_SHOWN
        ]
        if instructions
        else []
    )
    charts.append(
        hbar_chart(
            "by-instruction",
            "Instruction following per instruction type",
            types,
            xlabel="share of checks followed (strict)",
            caption="Most often failed first"
            + (
                f" (the {INSTRUCTION_TYPES_SHOWN} worst shown)."
                if len(types) >= INSTRUCTION_TYPES_SHOWN
                else "."
            ),
        )
    )
    return charts


def render_run_report(
    config: RunConfig,
    items: Sequence[Item],
    rows: Sequence[ScoredTurn],
    transcripts: Transcripts,
    *,
    run_dir: Path | None = None,
    status: str = "",
    resamples: int = 1000,
    seed: int = 0,
    judges: JudgeReport | None = None,
    analysis: MultiTurnAnalysis | None = None,
    serving: Sequence[ServingTurn] = (),
    flags: FlagReport | None = None,
) -> str:
    """The run's report as one HTML document; `transcripts` fetches the worst conversations;
    `judges` is the judge section (None: the run had no judges); `analysis` is the rows'
    analysis with these resamples and seed when the caller has made it already; `serving`
    are the serving roles' records (a simulated user's errors and audit findings, shown
    apart); `flags` the tally of tool, sandbox and feedback flags (None: no record has one)."""
    if analysis is None:
        analysis = analyse(rows, items, serving=serving, resamples=resamples, seed=seed)
    spoilt = frozenset(
        (r.item_id, r.condition, r.sample) for r in rows if SPOILT in r.flags
    ) | frozenset((r.item_id, r.condition, r.sample) for r in serving if SPOILT in r.flags)
    charts = run_charts(analysis, rows)
    conditions = list(analysis.by_family)
    family_names = sorted({f for cells in analysis.by_family.values() for f in cells})
    template = _env.get_template("run.html.j2")
    return template.render(
        version=__version__,
        config=config,
        run_dir=str(run_dir) if run_dir else "",
        status=status,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        analysis=analysis,
        answered=sum(r.error is None for r in rows),
        cached=sum(r.cached for r in rows),
        headlines=_headlines(analysis),
        charts=[c for c in charts if c.svg is not None],
        empty_charts=[c.title for c in charts if c.svg is None],
        conditions=conditions,
        family_names=family_names,
        worst=worst_conversations(rows, items, transcripts, spoilt=spoilt),
        model_name=_model_name(rows, transcripts),
        worst_limit=WORST_CONVERSATIONS,
        errors=error_message_counts(rows).most_common(10),
        judges=judges,
        flags=flags,
        flag_conditions=ordered_conditions(flags.by_condition) if flags else [],
        small_sample=SMALL_SAMPLE,
    )


@dataclass(frozen=True)
class RunTallies:
    """A run's judge and flag tallies, from its store: the terminal summary shows them and
    hands them on, so the report does not read every record's flags a second time."""

    judges: JudgeReport | None
    """`judge_report` of the run's judgments (None: no judgments)."""
    flags: FlagReport | None
    """`flag_report` of the run's flagged records (None: no flags)."""


def write_run_report(
    store: RunStore,
    path: Path | None = None,
    *,
    rows: Sequence[ScoredTurn] | None = None,
    analysis: MultiTurnAnalysis | None = None,
    items: Sequence[Item] | None = None,
    tallies: RunTallies | None = None,
) -> Path:
    """Write the report of the run in `store` (default: RUN_DIR/report.html); returns the path.

    Reads every turn's scores once (no transcripts; `rows` when the caller has read them
    already, `analysis` when it has analysed them with the default resamples and seed,
    `items` when it holds the run's items, and `tallies` when it has tallied the run's
    judgments and flags from the same store), then the transcripts of the conversations the
    report shows."""
    with gc_paused():
        rows = store.turn_scores() if rows is None else rows
        if tallies is None:
            tallies = RunTallies(
                judges=judge_report(store.all_judgments()),
                flags=flag_report(store.turn_flags(), played_conversations(rows)),
            )
        html = render_run_report(
            store.config(),
            store.items() if items is None else items,
            rows,
            store.conversation_records,
            run_dir=store.run_dir,
            status=store.status(),
            judges=tallies.judges,
            analysis=analysis,
            serving=store.serving_scores(),
            flags=tallies.flags,
        )
    target = path or store.run_dir / REPORT_FILE
    write_atomically(target, html)
    return target


def write_atomically(target: Path, text: str) -> None:
    """Write `text` to `target` so that a reader (or a kill mid-write) sees the old file or
    the new one, never half of one: write a temporary file beside it, then rename it over."""
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class ChangedConversation:
    """A conversation whose score moved between two runs, with both transcripts."""

    change: ChangedItem
    turns_a: list[TranscriptTurn]
    """Run A's transcript (its first sample)."""
    turns_b: list[TranscriptTurn]
    """Run B's transcript of the same item, condition and sample."""


def changed_conversations(
    comparison: Comparison,
    items: Sequence[Item],
    transcripts_a: Transcripts,
    transcripts_b: Transcripts,
) -> list[ChangedConversation]:
    """The comparison's most changed items with both runs' transcripts of their first
    sample, key turns marked; only these transcripts are read."""
    by_id = {item.id: item for item in items}
    out = []
    for change in comparison.changed:
        item = by_id.get(change.item_id)
        keys = (
            get_protocol(item.protocol).key_turns(item, change.condition)
            if item is not None
            else None
        )
        pair = [
            [_transcript_turn(r, keys) for r in transcripts(change.item_id, change.condition, 0)]
            for transcripts in (transcripts_a, transcripts_b)
        ]
        out.append(ChangedConversation(change, pair[0], pair[1]))
    return out


def render_comparison_report(
    comparison: Comparison,
    analysis_a: MultiTurnAnalysis,
    analysis_b: MultiTurnAnalysis,
    *,
    config_a: RunConfig,
    config_b: RunConfig,
    changed: Sequence[ChangedConversation] = (),
) -> str:
    """The two-run report: paired differences per family and overall, scores by turn, and
    the conversations that changed most (`changed`, from `changed_conversations`), side by
    side."""
    charts: list[Chart] = []
    for condition in dict.fromkeys(r.condition for r in comparison.rows):
        rows = [r for r in comparison.rows if r.condition == condition]
        charts.append(
            bar_chart(
                f"difference-{condition}",
                f"{comparison.label_b} minus {comparison.label_a} ({condition})",
                [Series("B - A", [(r.family, r.difference) for r in rows])],
                ylabel="mean difference",
                caption="Mean paired difference of scores per conversation (key turns), 95 % "
                f"paired bootstrap interval. {BAR_NOTE}",
                centered=True,
            )
        )
    main = OWN if OWN in analysis_a.by_turn and OWN in analysis_b.by_turn else None
    main = main or next((v for v in analysis_a.by_turn if v in analysis_b.by_turn), None)
    charts.append(
        line_chart(
            "by-turn",
            f"Score by turn index ({main or '-'})",
            [
                Series(comparison.label_a, sorted(analysis_a.by_turn.get(main or "", {}).items())),
                Series(comparison.label_b, sorted(analysis_b.by_turn.get(main or "", {}).items())),
            ],
            xlabel="turn",
            caption="Per turn, key turns only: each run's mean turn score over all its items "
            f"(not only the paired ones). {POINT_NOTE}",
        )
    )
    template = _env.get_template("compare.html.j2")
    return template.render(
        version=__version__,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        comparison=comparison,
        config_a=config_a,
        config_b=config_b,
        charts=charts,
        small_sample=SMALL_SAMPLE,
        min_test_pairs=MIN_TEST_PAIRS,
        changed=changed,
    )
