"""Every bad input: one clear line on stderr, exit code 2, no traceback, no run left behind."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers.cli import assert_clean_failure, run_cli
from turnscope.cli import app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    return tmp_path / "runs"


def no_runs_created(runs: Path) -> bool:
    return not runs.exists() or not any(runs.iterdir())


def test_missing_suite_file(runs: Path, tmp_path: Path) -> None:
    code, _, err = run_cli("run", "-s", str(tmp_path / "nope.jsonl"), "--runs-dir", str(runs))
    assert_clean_failure(code, err, "nope.jsonl: no such file")
    assert no_runs_created(runs)


def test_malformed_jsonl_line(runs: Path, tmp_path: Path) -> None:
    suite = tmp_path / "s.jsonl"
    suite.write_text('{"id": "a", "turns": [{"user": "hi"}]}\n{"id": \n', encoding="utf-8")
    code, _, err = run_cli("run", "-s", str(suite), "--runs-dir", str(runs))
    assert_clean_failure(code, err, "s.jsonl:2: invalid JSON")
    assert no_runs_created(runs)


def test_wrong_field_type(runs: Path, tmp_path: Path) -> None:
    suite = tmp_path / "s.jsonl"
    suite.write_text(json.dumps({"id": "a", "turns": "hello"}) + "\n", encoding="utf-8")
    code, _, err = run_cli("run", "-s", str(suite), "--runs-dir", str(runs))
    assert_clean_failure(code, err, "s.jsonl:1: item 'a', field 'turns'")


def test_skip_invalid_reports_the_count(runs: Path, tmp_path: Path) -> None:
    suite = tmp_path / "s.jsonl"
    good = {
        "id": "a",
        "turns": [{"user": "Say hi.", "reference": "hi", "scorers": [{"type": "contains"}]}],
    }
    suite.write_text(json.dumps(good) + "\n" + json.dumps({"id": "b"}) + "\n", encoding="utf-8")
    code, out, err = run_cli(
        "run", "-s", str(suite), "--runs-dir", str(runs), "--skip-invalid", "--max-tokens", "4"
    )
    assert code == 0, err
    assert "skipped:" in err and "field 'turns'" in err
    assert "1 invalid items were skipped" in out


def test_unknown_model_spec(runs: Path) -> None:
    code, _, err = run_cli("run", "-m", "gpt5-turbo-ultra", "--runs-dir", str(runs))
    assert_clean_failure(code, err, "unknown model spec 'gpt5-turbo-ultra'")
    assert no_runs_created(runs)


def test_bad_thread_count(runs: Path) -> None:
    code, _, err = run_cli("run", "-M", "n_threads_batch=many", "--runs-dir", str(runs))
    assert_clean_failure(code, err, "-M n_threads_batch=many", single_line=True)
    assert no_runs_created(runs)


def test_an_option_the_backend_does_not_read_is_refused(runs: Path) -> None:
    # A typo in -M must not be ignored: the run would quietly use the default.
    code, _, err = run_cli("run", "-M", "structred=none", "--runs-dir", str(runs))
    assert_clean_failure(code, err, "-M 'structred': not an option of the llamacpp backend")
    assert "n_threads" in err and no_runs_created(runs)
    code, _, err = run_cli(
        "run", "-m", "openai:m@http://127.0.0.1:9/v1", "-M", "n_ctx=512", "--runs-dir", str(runs)
    )
    assert_clean_failure(code, err, "-M 'n_ctx': not an option of the openai backend")
    assert no_runs_created(runs)


def test_unreachable_server(runs: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    code, _, err = run_cli("run", "-m", f"openai:m@{url}", "--runs-dir", str(runs))
    assert_clean_failure(code, err, "cannot reach the model server")
    assert no_runs_created(runs)


def test_missing_api_key_variable(runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MY_KEY", raising=False)
    code, _, err = run_cli(
        "run",
        "-m",
        "openai:m@http://127.0.0.1:9/v1",
        "--api-key-env",
        "MY_KEY",
        "--runs-dir",
        str(runs),
    )
    assert_clean_failure(code, err, "MY_KEY")
    code, _, err = run_cli("run", "-m", "openai:gpt-4o-mini", "--runs-dir", str(runs))
    assert_clean_failure(code, err, "no API key: set OPENAI_API_KEY")
    assert no_runs_created(runs)


def test_resume_on_something_that_is_not_a_run(tmp_path: Path) -> None:
    code, _, err = run_cli("run", "--resume", str(tmp_path))
    assert_clean_failure(code, err, "not a turnscope run directory")
    code, _, err = run_cli("run", "--resume", str(tmp_path / "absent"))
    assert_clean_failure(code, err, "no such run directory")
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "run.sqlite").write_bytes(b"this is not sqlite" * 64)
    code, _, err = run_cli("run", "--resume", str(corrupt))
    assert_clean_failure(code, err, "cannot read the run store")


def test_show_export_on_bad_targets(tmp_path: Path) -> None:
    code, _, err = run_cli("show", str(tmp_path))
    assert_clean_failure(code, err, "not a turnscope run directory")
    code, _, err = run_cli("export", str(tmp_path), "--format", "xml")
    assert_clean_failure(code, err, "unknown format 'xml'")


def test_bad_option_values_are_rejected_by_the_parser() -> None:
    result = CliRunner().invoke(app, ["run", "--variant", "sideways"])
    assert result.exit_code == 2
    assert "sideways" in result.stderr
    result = CliRunner().invoke(app, ["run", "--concurrency", "0"])
    assert result.exit_code == 2


COMMANDS = (
    "run",
    "runs",
    "show",
    "export",
    "models",
    "suites",
    "generate",
    "report",
    "compare",
    "pairwise",
    "leaderboard",
)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "Example" in result.stdout
    # No placeholder of the CLI library leaks into the help: flags take no value, values are
    # named for what they are, required arguments are not in braces.
    for internal in ("<bool>", "<str>", "<int", "<float", "<list", "{"):
        assert internal not in result.stdout, (command, internal)


def test_top_level_help_and_version_read_cleanly() -> None:
    result = CliRunner().invoke(app, ["--help"], terminal_width=200)
    assert result.exit_code == 0 and "<bool>" not in result.stdout
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.startswith("turnscope ")
