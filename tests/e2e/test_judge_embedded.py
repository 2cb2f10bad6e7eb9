"""The judge role through the `turnscope` command with the real embedded model as judge.

SmolLM2-135M is a weak judge: these tests check the plumbing (what the judge was asked, that
every verdict or error is stored with its raw text, that no unparsed text becomes a score,
order swapping, the cache, error accounting in every summary), not the quality of verdicts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from helpers.cli import run_cli
from helpers.suites import write_suite
from turnscope.core import derive_seed, request_key
from turnscope.engine.judging import judge_specs, request_history
from turnscope.scorers.judges import JudgeInput, judge_kind
from turnscope.store import PAIRWISE_FILE, PairwiseStore, RunStore

pytestmark = pytest.mark.timeout(600)

JUDGE_ARGS = ("--judge", "llamacpp", "--judge-max-tokens", "24", "--judge-attempts", "2")


def turnscope(*args: str, runs: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TURNSCOPE_RUNS_DIR": str(runs)}
    return subprocess.run(
        [sys.executable, "-m", "turnscope.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def run_dirs(runs: Path) -> list[Path]:
    return sorted(p for p in runs.iterdir() if p.is_dir() and not p.name.startswith("."))


def judged_suite(path: Path) -> Path:
    items: list[dict[str, Any]] = [
        {
            "id": "judge-capital",
            "system": "Answer in a few words.",
            "turns": [
                {
                    "user": "What is the capital of France?",
                    "reference": "Paris",
                    "scorers": [{"type": "contains"}, {"type": "judge"}],
                },
                {
                    "user": "And the capital of Italy?",
                    "reference": "Rome",
                    "scorers": [{"type": "judge", "guidance": "Only the city name matters."}],
                },
            ],
        },
        {
            "id": "judge-sum",
            "turns": [
                {
                    "user": "What is 3 plus 4?",
                    "reference": "7",
                    "scorers": [{"type": "judge", "use_reference": False}],
                }
            ],
        },
    ]
    return write_suite(path, items)


def test_embedded_judge_scores_audits_and_caches(tmp_path: Path, gguf_path: Path) -> None:
    runs = tmp_path / "runs"
    suite = judged_suite(tmp_path / "judged.yaml")
    first = turnscope("run", "-s", str(suite), "--max-tokens", "8", *JUDGE_ARGS, runs=runs)
    assert first.returncode == 0, first.stderr
    assert "judges" in first.stdout and "judge errors" in first.stdout
    (run_dir,) = run_dirs(runs)

    store = RunStore.open(run_dir)
    try:
        config = store.config()
        assert config.judging.judges == ("llamacpp",)
        assert config.judging.max_attempts == 2
        items = {item.id: item for item in store.items()}
        records = list(store.records())
        judgments = {(j.item_id, j.turn): j for j in store.all_judgments()}
        errors = store.judge_error_count()
        conversations = {
            r.item_id: store.finished_turns(r.item_id, r.condition, r.sample) for r in records
        }
    finally:
        store.close()
    assert len(records) == 3 and len(judgments) == 3

    for record in records:
        item = items[record.item_id]
        stored = judgments[(record.item_id, record.turn)]
        judgment = stored.judgment
        judge_scores = [s for s in record.scores if s.scorer == "judge:grade"]
        assert len(judge_scores) == 1
        (score,) = judge_scores
        # A score exists exactly when the judge's text parsed; otherwise an error, no value.
        assert (score.value is not None) == (judgment.verdict is not None)
        assert (score.error is not None) == (judgment.verdict is None)
        # The embedded judge is held to the verdict's grammar: its first text always parses.
        assert len(judgment.attempts) == 1 and judgment.verdict is not None
        assert all(a.text is not None for a in judgment.attempts)
        # What the judge was asked: the kind's prompt over the conversation as the model saw
        # it (its own earlier answers), the turn's reference unless use_reference is off.
        ((_, params),) = judge_specs(item, record.turn)
        history = request_history(
            item, record.condition, conversations[record.item_id], record.turn
        )
        reference = item.turns[record.turn - 1].reference if params.use_reference else None
        assert record.response is not None
        inp = JudgeInput(
            history=history, answer=record.response, reference=reference, guidance=params.guidance
        )
        kind = judge_kind("grade", params)
        expected = request_key(
            judgment.identity,
            kind.messages(inp),
            config.judging.params.model_copy(update={"constraint": kind.constraint()}),
            derive_seed(config.judging.seed, "judge", 0),
            0,
        )
        assert judgment.attempts[0].request_hash == expected
    assert errors == sum(j.judgment.verdict is None for j in judgments.values())

    # Reading the run back needs no model: in-process, sparing two Python start-ups.
    code, shown, err = run_cli("show", str(run_dir), "--item", "judge-capital")
    assert code == 0, err
    assert "judge llamacpp (grade)" in shown and "attempt 1" in shown
    first_text = judgments[("judge-capital", 1)].judgment.attempts[0].text
    assert first_text is not None and first_text.split()[0] in shown
    code, listed, err = run_cli("runs", "--runs-dir", str(runs))
    assert code == 0 and "judge errors" in listed, err

    # The same run again: every judge request is answered by the shared cache.
    second = turnscope("run", "-s", str(suite), "--max-tokens", "8", *JUDGE_ARGS, runs=runs)
    assert second.returncode == 0, second.stderr
    assert "judge requests: 0 sent" in second.stderr
    again = RunStore.open(run_dirs(runs)[1])
    try:
        for stored in again.all_judgments():
            before = judgments[(stored.item_id, stored.turn)].judgment
            assert all(a.cached for a in stored.judgment.attempts)
            assert [a.text for a in stored.judgment.attempts] == [a.text for a in before.attempts]
            assert (stored.judgment.verdict, stored.judgment.error) == (
                before.verdict,
                before.error,
            )
    finally:
        again.close()


def test_embedded_pairwise_swaps_orders_and_leaderboard_reuses_verdicts(
    tmp_path: Path, gguf_path: Path
) -> None:
    runs = tmp_path / "runs"
    suite = write_suite(
        tmp_path / "pair.yaml",
        [
            {"id": "pair-colour", "turns": [{"user": "Name a colour.", "reference": "blue"}]},
            {"id": "pair-animal", "turns": [{"user": "Name an animal.", "reference": "cat"}]},
        ],
    )
    for seed in ("1", "2"):
        done = turnscope(
            "run", "-s", str(suite), "--max-tokens", "8", "--temperature", "1.0",
            "--seed", seed, "--no-cache", runs=runs,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    run_a, run_b = run_dirs(runs)
    judge_args = ("--judge", "llamacpp", "--judge-max-tokens", "16", "--judge-attempts", "1")

    compared = turnscope("pairwise", str(run_a), str(run_b), *judge_args, runs=runs)
    assert compared.returncode == 0, compared.stderr
    assert "pairwise comparisons" in compared.stdout
    assert "judge requests: 4 sent, 0 answered from the cache" in compared.stderr
    pairs = PairwiseStore(runs / PAIRWISE_FILE)
    try:
        records = list(pairs.records())
    finally:
        pairs.close()
    assert {r.item_id for r in records} == {"pair-colour", "pair-animal"}
    for record in records:
        ab, ba = record.judgment.ab, record.judgment.ba
        # Both orders asked, as different requests: the answers swap places.
        assert ab.attempts[0].request_hash != ba.attempts[0].request_hash
        decided = ab.verdict is not None and ba.verdict is not None
        assert (record.judgment.outcome is not None) == decided
        assert (record.judgment.consistent is not None) == decided

    # Stored comparisons are reused: the leaderboard makes no judge call, so it runs
    # in-process (no model is loaded) instead of paying two Python start-ups.
    leaderboard = ("leaderboard", str(run_a), str(run_b), *judge_args, "--runs-dir", str(runs))
    code, board, board_err = run_cli(*leaderboard)
    assert "judge requests: 0 sent" in board_err
    json_code, as_json, json_err = run_cli(*leaderboard, "--json")
    if any(r.judgment.outcome is not None for r in records):
        assert code == 0, board_err
        assert "leaderboard" in board
        assert json_code == 0, json_err
        data = json.loads(as_json)  # the JSON alone: no table on stdout
        assert [r["rank"] for r in data["ratings"]] == [1, 2]
        assert {r["run"] for r in data["ratings"]} == {run_a.name, run_b.name}
        (pair,) = data["pairs"]
        assert pair["a_wins"] + pair["b_wins"] + pair["ties"] + pair["judge_errors"] == len(records)
    else:  # the weak judge decided nothing: no ratings, one clear error line
        assert code == 2 and "no ratings" in board_err
        assert json_code == 2 and "no ratings" in json_err
