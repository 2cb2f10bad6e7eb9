"""`turnscope run` on simulated items: bad items and missing roles are one clean error line;
the embedded model plays target and user from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helpers.cli import assert_clean_failure, run_cli
from helpers.suites import write_suite
from turnscope.store import RunStore

SHARDS = [
    {"text": "I need the total of two numbers.", "markers": ["total"]},
    {"text": "The first is 12.", "markers": ["12"]},
    {"text": "The second is 30.", "markers": ["30"]},
]


def simulated(item_id: str = "sim", **overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": item_id,
        "protocol": "simulated",
        "turns": [
            {
                "user": "What is 12 plus 30? Reply with the number only.",
                "reference": "42",
                "scorers": [{"type": "numeric", "expected": 42}],
            }
        ],
        "setup": {"persona": "A pupil.", "goal": "Add two numbers.", "shards": SHARDS},
    }
    item.update(overrides)
    return item


@pytest.mark.parametrize(
    ("item", "fragment"),
    [
        (simulated(conditions=["bogus"]), "protocol 'simulated' cannot play 'bogus'"),
        (simulated(protocol="telepathy"), "unknown protocol 'telepathy'"),
        (simulated(setup={"goal": "g", "shards": SHARDS}), "setup.persona"),
        (simulated(setup={"persona": "p"}), "setup.goal"),
        (simulated(turns=[{"user": "a"}, {"user": "b"}]), "exactly one turn"),
    ],
)
def test_a_bad_simulated_item_is_one_error_line(
    item: dict[str, Any], fragment: str, tmp_path: Path
) -> None:
    suite = write_suite(tmp_path / "bad.yaml", [item])
    code, _, stderr = run_cli("run", "-s", str(suite), "--runs-dir", str(tmp_path / "runs"))
    assert_clean_failure(code, stderr, fragment)
    assert not (tmp_path / "runs").exists()


def test_an_llm_user_without_a_user_model_is_refused_before_playing(tmp_path: Path) -> None:
    item = simulated(setup={"persona": "p", "goal": "g", "shards": SHARDS, "simulator": "llm-user"})
    suite = write_suite(tmp_path / "llm.yaml", [item])
    code, _, stderr = run_cli(
        "run", "-s", str(suite), "-v", "sharded", "--runs-dir", str(tmp_path / "runs")
    )
    assert_clean_failure(code, stderr, "--role user=SPEC")
    assert not (tmp_path / "runs").exists()


def test_an_unknown_condition_for_the_suite_is_refused(tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "s.yaml", [simulated()])
    code, _, stderr = run_cli("run", "-s", str(suite), "-v", "gold", "--runs-dir", str(tmp_path))
    assert_clean_failure(code, stderr, "no item of this suite can be played under 'gold'")


def test_embedded_target_and_embedded_user_from_the_command_line(tmp_path: Path) -> None:
    setup = {"persona": "p", "goal": "g", "shards": SHARDS, "max_turns": 3}
    scripted = {**setup, "simulator": "scripted-user"}
    # "sim" names no simulator: with --role user it gets the model; "plain" keeps its script.
    items = [simulated(setup=setup), simulated("plain", setup=scripted)]
    suite = write_suite(tmp_path / "llm.yaml", items)
    runs = tmp_path / "runs"
    code, stdout, stderr = run_cli(
        "run", "-s", str(suite), "-v", "sharded", "-v", "full", "--role", "user=llamacpp",
        "--role-param", "user.max_tokens=16", "--max-tokens", "12", "--runs-dir", str(runs),
        "--no-cache",
    )  # fmt: skip
    assert code == 0, stderr
    assert "score (sharded)" in stdout and "sharded − full" in stdout
    assert "user:" in stdout and "messages" in stdout
    (run_dir,) = [p for p in runs.iterdir() if p.is_dir()]
    store = RunStore.open(run_dir)
    users = [r for r in store.records(role=None) if r.role == "user"]
    store.close()
    by_item = {r.item_id for r in users}
    assert by_item == {"sim", "plain"}
    assert {r.model.backend for r in users if r.item_id == "sim"} == {"llamacpp"}
    assert {r.model.model for r in users if r.item_id == "plain"} == {"scripted-user"}
    assert "Simulated users" in (run_dir / "report.html").read_text(encoding="utf-8")
