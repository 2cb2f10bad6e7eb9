"""Every Eval Ever export: the files pass that project's own validator (schema, path rules,
the aggregate-samples link, score bounds), rows match the store, intervals are the
analysis's. turnscope writes EEE with its own models of the schema; the validator test runs
where the `every-eval-ever` package is installed (CI installs it on every Python)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from helpers.cli import assert_clean_failure, run_cli
from helpers.export_runs import JUDGE_A, JUDGE_B
from helpers.synthetic_runs import make_item, write_run
from turnscope.analysis import analyse
from turnscope.export import eee_schema, iter_conversations, write_eee
from turnscope.store import RunStore


def test_eee_files_pass_the_eee_validator(
    store: RunStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    validator = pytest.importorskip(
        "every_eval_ever.validator.validate", reason="the every-eval-ever package is not installed"
    )
    files = write_eee(store, tmp_path / "eee")
    capsys.readouterr()
    code = validator.main([str(files.aggregate), str(files.samples), "--format", "json"])
    reports = json.loads(capsys.readouterr().out)
    assert code == 0, reports  # 0: no error and no warning
    assert len(reports) == 2 and all(r["valid"] and not r["warnings"] for r in reports), reports


def test_eee_files_count_what_the_store_holds(store: RunStore, tmp_path: Path) -> None:
    files = write_eee(store, tmp_path / "eee")
    folder = files.aggregate.relative_to(tmp_path / "eee")
    assert folder.parts[0] == "data" and files.samples.parent == files.aggregate.parent
    rows = [json.loads(line) for line in files.samples.read_text(encoding="utf-8").splitlines()]
    played = list(iter_conversations(store))
    conversations = [c for c in played if c.score is not None]
    # A turn row for each scored key turn (the per-turn aggregate averages key turns).
    scored_key_turns = [
        r
        for c in played
        for r in c.targets
        if r.score is not None and (not c.key_turns or r.turn in c.key_turns)
    ]
    assert len(rows) == files.rows == len(conversations) + len(scored_key_turns)
    assert {r["interaction_type"] for r in rows} == {"multi_turn"}

    aggregate = json.loads(files.aggregate.read_text(encoding="utf-8"))
    link = aggregate["detailed_evaluation_results"]
    assert (
        link["total_rows"] == len(rows)
        and link["file_path"] == folder.with_name(files.samples.name).as_posix()
    )
    assert link["checksum"] == hashlib.sha256(files.samples.read_bytes()).hexdigest()
    results = {r["evaluation_result_id"]: r for r in aggregate["evaluation_results"]}
    analysis = analyse(store.turn_scores(), store.items(), serving=store.serving_scores())
    own = results["own"]["score_details"]
    assert own["score"] == pytest.approx(analysis.overall["own"].mean)
    interval = own["uncertainty"]["confidence_interval"]
    assert (interval["lower"], interval["upper"]) == pytest.approx(
        (analysis.overall["own"].low, analysis.overall["own"].high)
    )
    assert results["own/turn-3"]["score_details"]["score"] == pytest.approx(
        analysis.by_turn["own"][3].mean
    )
    assert "own/family-recollection" in results
    # Every sample row joins to an aggregate result.
    assert {r["evaluation_result_id"] for r in rows} <= set(results)

    whole = next(
        r for r in rows if r["evaluation_result_id"] == "own" and r["sample_id"] == "recall"
    )
    assert [m["turn_idx"] for m in whole["messages"]] == list(range(6))
    assert whole["metadata"]["key_turns"] == [3] and whole["metadata"]["family"] == "recollection"
    third = next(
        r for r in rows if r["sample_id"] == "recall#turn-3" and r["metadata"]["sample"] == "0"
    )
    assert [m["turn_idx"] for m in third["messages"]] == [4, 5]
    assert third["answer_attribution"][0]["turn_idx"] == 5
    assert [j["judge"] for j in third["metadata"]["judgments"]] == [JUDGE_A, JUDGE_B]
    assert third["metadata"]["key_turn"] is True
    # The replicas that answered (EEE has no field for it: the row's metadata).
    assert third["metadata"]["served_by"] == "worker-1"
    assert whole["metadata"]["served_by"] == ["worker-1"]
    # Tool-call arguments are model output: nested past the parser's depth they are kept raw,
    # and values that are not strings become JSON text, as EEE wants.
    evil = next(r for r in rows if r["sample_id"] == "=evil#turn-1")
    calls = evil["messages"][-1]["tool_calls"]
    assert calls[0]["arguments"] == {"raw": "[" * 100_000}
    assert calls[1]["arguments"] == {"n": "[1, 2]", "s": "x"} and calls[1]["name"] == "=calc"
    # The failed turn has no row: EEE needs a score, and a failure is never one.
    assert not any(r["sample_id"] == "plain#turn-2" for r in rows)


def test_eee_from_the_cli_and_its_bad_inputs(run_dir: Path, tmp_path: Path) -> None:
    code, _, err = run_cli("export", str(run_dir), "-f", "eee", "-o", str(tmp_path / "out"))
    assert code == 0, err
    assert "wrote 8 sample rows" in err  # 4 conversations, 4 scored key turns
    assert len(list((tmp_path / "out" / "data").rglob("*.json*"))) == 2
    code, _, err = run_cli("export", str(run_dir), "-f", "eee")
    assert_clean_failure(code, err, "--format eee cannot go to standard output", single_line=True)
    empty = write_run(tmp_path / "empty", [make_item("a", "expansion", 1)], [])
    code, _, err = run_cli("export", str(empty), "-f", "eee", "-o", str(tmp_path / "e"))
    assert_clean_failure(code, err, "no target turn to export", single_line=True)


@pytest.mark.parametrize(
    ("model", "folders"),
    [
        ("Qwen/Qwen2.5-7B-Instruct", ("Qwen", "Qwen2.5-7B-Instruct")),
        ("org/family/name:q4", ("org", "family_name_q4")),
        ("smollm2-135m", ("acme", "smollm2-135m")),
    ],
)
def test_datastore_folders_follow_the_eee_rules(model: str, folders: tuple[str, str]) -> None:
    assert eee_schema.datastore_parts("turnscope-core", model, "acme")[1:] == folders


@pytest.mark.parametrize("model", ["unknown", "a/CON", "data", "x/..", "a//b", "bad<name>"])
def test_a_model_name_that_cannot_be_a_folder_is_refused(model: str) -> None:
    with pytest.raises(ValueError):
        eee_schema.datastore_parts("turnscope-core", model, "acme")
