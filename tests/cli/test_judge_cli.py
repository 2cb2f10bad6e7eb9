"""Bad inputs of the judge role: one clear line on stderr, exit code 2, no run left behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers.cli import assert_clean_failure, run_cli
from helpers.suites import write_suite
from turnscope.cli import app


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    return tmp_path / "runs"


@pytest.fixture
def judged_suite(tmp_path: Path) -> Path:
    return write_suite(
        tmp_path / "judged.yaml",
        [{"id": "j", "turns": [{"user": "Hi.", "scorers": [{"type": "judge"}]}]}],
    )


def test_a_judged_suite_without_a_judge_is_refused(judged_suite: Path, runs: Path) -> None:
    code, _, err = run_cli("run", "-s", str(judged_suite), "--runs-dir", str(runs))
    assert_clean_failure(code, err, "1 turns of suite")
    assert "--judge" in err
    assert not runs.exists()


def test_a_bad_judge_spec_is_refused_before_any_run(judged_suite: Path, runs: Path) -> None:
    code, _, err = run_cli(
        "run", "-s", str(judged_suite), "--runs-dir", str(runs), "--judge", "nope:model"
    )
    assert_clean_failure(code, err, "unknown model spec 'nope:model'")
    assert not runs.exists()


def test_bad_judge_params_name_the_file_and_field(tmp_path: Path, runs: Path) -> None:
    suite = write_suite(
        tmp_path / "bad.yaml",
        [{"id": "j", "turns": [{"user": "Hi.", "scorers": [{"type": "judge", "bogus": 1}]}]}],
    )
    code, _, err = run_cli("run", "-s", str(suite), "--runs-dir", str(runs), "--judge", "llamacpp")
    assert_clean_failure(code, err, "scorer 'judge', field 'bogus'")
    assert "bad.yaml" in err


def test_pairwise_and_leaderboard_bad_inputs(tmp_path: Path) -> None:
    not_a_run = tmp_path / "nothing"
    not_a_run.mkdir()
    code, _, err = run_cli("pairwise", str(not_a_run), str(not_a_run))
    assert_clean_failure(code, err, "--judge SPEC")
    code, _, err = run_cli("pairwise", str(not_a_run), str(tmp_path), "--judge", "llamacpp")
    assert_clean_failure(code, err, "not a turnscope run directory")
    code, _, err = run_cli("leaderboard", str(not_a_run), "--judge", "llamacpp")
    assert_clean_failure(code, err, "two or more runs")


@pytest.mark.parametrize("command", ["pairwise", "leaderboard"])
def test_judge_commands_have_help_with_an_example(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.stdout and "--judge" in result.stdout


def test_a_judge_for_a_suite_without_judged_turns_is_ignored_with_a_warning(
    tmp_path: Path, runs: Path
) -> None:
    suite = write_suite(
        tmp_path / "plain.yaml",
        [{"id": "p", "turns": [{"user": "Hi.", "scorers": [{"type": "contains", "value": "x"}]}]}],
    )
    # The judge spec is never built: an unknown backend does not matter here. The model is
    # unreachable, so the run stops at its preflight after the warning.
    result = CliRunner().invoke(
        app,
        ["run", "-s", str(suite), "--runs-dir", str(runs), "--judge", "nope:x",
         "-m", "openai:m@http://127.0.0.1:9/v1", "--timeout", "1"],
    )  # fmt: skip
    assert "--judge is ignored" in result.stderr
    assert result.exit_code == 2 and "unknown model spec" not in result.stderr
