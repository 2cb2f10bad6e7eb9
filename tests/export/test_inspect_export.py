"""inspect_ai export: the `.eval` log reads back with inspect_ai's own `read_eval_log`, one
sample per conversation, with the conversation scores, failures as errors and every
judgment."""

from __future__ import annotations

from pathlib import Path

import pytest
from inspect_ai.log import read_eval_log

from helpers.cli import assert_clean_failure, run_cli
from helpers.export_runs import CONVERSATIONS, JUDGE_A, JUDGE_B
from turnscope.export import conversation_json, iter_conversations, write_inspect
from turnscope.store import RunStore


def test_inspect_log_reads_back_with_read_eval_log(store: RunStore, tmp_path: Path) -> None:
    path = tmp_path / "run.eval"
    assert write_inspect(store, path) == CONVERSATIONS
    log = read_eval_log(str(path))
    assert log.status == "success" and log.samples is not None
    assert log.eval.run_id == store.run_dir.name and log.eval.task == "turnscope/core"
    assert len(log.samples) == CONVERSATIONS
    expected = {
        (f"{c['item_id']}|{c['condition']}", c["sample"] + 1): c
        for c in map(conversation_json, iter_conversations(store))
    }
    assert {(s.id, s.epoch) for s in log.samples} == set(expected)
    for sample in log.samples:
        want = expected[(str(sample.id), sample.epoch)]
        assert sample.scores is not None
        assert sample.scores["conversation"].value == pytest.approx(want["score"])
        assert sample.metadata["family"] == want["family"]
    samples = {(s.id, s.epoch): s for s in log.samples}
    recall = samples[("recall|own", 1)]
    assert [m.role for m in recall.messages] == ["user", "assistant"] * 3
    assert recall.scores is not None and recall.scores["turns"].value == {
        "1": 1.0,
        "2": 0.0,
        "3": pytest.approx(1.7 / 3),
    }
    third = recall.metadata["turns"][2]
    assert [j["judge"] for j in third["judgments"]] == [JUDGE_A, JUDGE_B]
    assert third["key_turn"] is True
    evil = samples[("=evil|own", 1)].messages[-1]
    assert evil.tool_calls is not None
    assert evil.tool_calls[0].parse_error and evil.tool_calls[0].arguments == {}
    assert evil.tool_calls[1].arguments == {"n": [1, 2], "s": "x"}
    plain = samples[("plain|own", 1)]
    assert plain.error is not None and "HTTP 500" in plain.error.message
    assert plain.scores is not None and plain.scores["turns"].value == {"1": 0.5}
    assert log.results is not None
    assert log.results.scores[0].metrics["mean own"].value == pytest.approx(
        sum(c["score"] for c in expected.values() if c["item_id"] != "recall") / 3
        + sum(c["score"] for c in expected.values() if c["item_id"] == "recall") / 2 / 3
    )


def test_inspect_from_the_cli(run_dir: Path, tmp_path: Path) -> None:
    code, _, err = run_cli("export", str(run_dir), "-f", "inspect", "-o", str(tmp_path / "r.eval"))
    assert code == 0, err
    assert f"wrote {CONVERSATIONS} conversations" in err
    code, _, err = run_cli("export", str(run_dir), "-f", "inspect")
    assert_clean_failure(
        code, err, "--format inspect cannot go to standard output", single_line=True
    )
