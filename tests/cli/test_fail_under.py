"""`--fail-under`: a CI gate on the headline. Exit 3 below it, 0 at or above it, and turn
failures keep their own exit code 1 (a score that is missing is not a pass)."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.cli import turnscope
from helpers.servers import FakeOpenAIServer
from helpers.suites import write_suite

pytestmark = pytest.mark.timeout(300)

SUITE_ITEMS = [
    {
        "id": f"recall-{i}",
        "turns": [
            {"user": f"Remember the word cobalt ({i})."},
            {"user": "Which word?", "reference": "cobalt", "scorers": [{"type": "contains"}]},
        ],
    }
    for i in range(2)
]


@pytest.mark.parametrize(("answer", "code", "said"), [("cobalt", 0, "passes"), ("no", 3, "below")])
def test_the_gate_exits_3_below_the_headline_and_0_at_or_above(
    tmp_path: Path, answer: str, code: int, said: str
) -> None:
    suite = write_suite(tmp_path / "s.yaml", SUITE_ITEMS)
    with FakeOpenAIServer(reply=lambda messages, attempt: answer) as server:
        done = turnscope(
            "run", "-s", str(suite), "-m", f"openai:fake@{server.base_url}",
            "--fail-under", "0.5", runs=tmp_path / "runs",
        )  # fmt: skip
    assert done.returncode == code, done.stdout + done.stderr
    gate_lines = [line for line in done.stderr.splitlines() if "--fail-under 0.5" in line]
    assert len(gate_lines) == 1 and gate_lines[0].startswith(said), done.stderr
    assert "own per conversation (key turns)" in gate_lines[0]


def test_failed_turns_keep_exit_1_under_a_gate(tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "s.yaml", SUITE_ITEMS)
    with FakeOpenAIServer(refuse=lambda messages: (400, "bad request")) as server:
        done = turnscope(
            "run", "-s", str(suite), "-m", f"openai:fake@{server.base_url}",
            "--fail-under", "0.5", runs=tmp_path / "runs",
        )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr


def test_a_gate_out_of_range_is_one_error_line(tmp_path: Path) -> None:
    done = turnscope("run", "--fail-under", "1.5", runs=tmp_path / "runs")
    assert done.returncode == 2
    assert [line for line in done.stderr.splitlines() if line.strip()] == [
        line for line in done.stderr.splitlines() if line.startswith("error:")
    ]
