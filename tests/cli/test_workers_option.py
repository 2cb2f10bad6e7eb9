"""--workers reaches every role the embedded model plays, and no other; without one, it says
it is ignored. Not given, it defaults to machine.py's count, said in the run's header; a count
given (--workers, TURNSCOPE_WORKERS, -M workers) wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.cli import run_cli
from helpers.servers import FakeOpenAIServer
from turnscope.cli import run as run_module
from turnscope.cli.run import WORKERS_ENV, embedded_workers
from turnscope.core import JudgeSettings, RoleSettings
from turnscope.models.machine import WorkerCount
from turnscope.store import RunStore


def test_workers_go_to_embedded_judges_and_roles_only() -> None:
    judging = JudgeSettings(judges=("llamacpp", "openai:j@http://127.0.0.1:9/v1"))
    roles = {
        "user": RoleSettings(model="llamacpp", options={"n_ctx": 2048}),
        "feedback": RoleSettings(model="openai:f@http://127.0.0.1:9/v1"),
    }
    judging, roles = embedded_workers(3, judging, roles)
    assert judging.options["workers"] == 3
    assert roles["user"].options == {"workers": 3, "n_ctx": 2048}
    assert "workers" not in roles["feedback"].options


def test_a_roles_own_workers_option_stays() -> None:
    judging = JudgeSettings(judges=("openai:j@http://127.0.0.1:9/v1",))
    roles = {"user": RoleSettings(model="llamacpp", options={"workers": 1})}
    judging, roles = embedded_workers(4, judging, roles)
    assert "workers" not in judging.options
    assert roles["user"].options == {"workers": 1}


def test_workers_without_the_embedded_model_says_it_is_ignored(tmp_path: Path) -> None:
    with FakeOpenAIServer() as server:
        code, _, err = run_cli(
            "run", "-s", "starter", "--limit", "1", "--workers", "2", "--max-tokens", "8",
            "-m", f"openai:fake@{server.base_url}", "--runs-dir", str(tmp_path / "runs"),
        )  # fmt: skip
    assert code == 0, err
    assert "--workers is ignored" in " ".join(err.split())


def played_options(runs: Path) -> dict[str, object]:
    (run_dir,) = [p for p in runs.iterdir() if p.is_dir()]
    store = RunStore.open(run_dir)
    try:
        return dict(store.config().model_options)
    finally:
        store.close()


def small_run(runs: Path, *extra: str) -> tuple[int, str]:
    """A run of one single-turn conversation, as short as a run can be."""
    suite = runs.parent / "one.yaml"
    suite.write_text('- id: one\n  turns: [{user: "Say hi."}]\n')
    code, _, err = run_cli(
        "run", "-s", str(suite), "--max-tokens", "4", "--no-cache", "--runs-dir", str(runs),
        *extra,
    )  # fmt: skip
    return code, " ".join(err.split())


def test_the_default_count_is_said_and_played(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(WORKERS_ENV)
    # This machine's own count would make the test depend on it: the choice is machine.py's
    # (tested there); here, that the run plays with it and says what it was given.
    monkeypatch.setattr(run_module, "default_workers", lambda _: WorkerCount(2, "because"))
    code, err = small_run(tmp_path / "runs")
    assert code == 0, err
    assert "embedded model: 2 worker processes (because; --workers N to choose)" in err
    assert "workers: worker-1" in err
    assert played_options(tmp_path / "runs")["workers"] == 2


def test_the_variable_pins_the_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WORKERS_ENV, "1")
    monkeypatch.setattr(run_module, "default_workers", lambda _: WorkerCount(2, "because"))
    code, err = small_run(tmp_path / "runs")
    assert code == 0, err
    assert "embedded model:" not in err and "workers:" not in err
    assert "workers" not in played_options(tmp_path / "runs")


def default_for(
    capsys: pytest.CaptureFixture[str],
    models: list[str],
    options: dict[str, dict[str, object]] | None = None,
    *,
    judges: tuple[str, ...] = (),
    roles: dict[str, RoleSettings] | None = None,
    ray: bool = False,
) -> tuple[int, str]:
    """_default_workers for these roles, and what it printed."""
    judging = JudgeSettings(judges=judges)
    count = run_module._default_workers(models, judging, roles or {}, options or {}, 4096, ray=ray)
    return count, " ".join(capsys.readouterr().err.split())


def test_the_default_counts_the_roles_left_to_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    needs: list[list[int]] = []

    def choose(role_needs: list[int]) -> WorkerCount:
        needs.append(list(role_needs))
        return WorkerCount(1, "1 physical core")

    monkeypatch.setattr(run_module, "default_workers", choose)
    count, said = default_for(capsys, ["llamacpp"])
    assert count == 1
    assert said == "embedded model: in this process (1 physical core; --workers N to choose)"
    # The model under test, an embedded judge and an embedded simulated user: three needs.
    user = {"user": RoleSettings(model="llamacpp", options={"n_ctx": 1024})}
    default_for(capsys, ["llamacpp"], judges=("llamacpp",), roles=user)
    assert len(needs[-1]) == 3 and needs[-1][2] < needs[-1][0]  # a smaller context
    # -M workers=N for the target, and no other embedded role: nothing is left to choose.
    assert default_for(capsys, ["llamacpp"], {"target": {"workers": "1"}}) == (1, "")
    assert default_for(capsys, ["openai:m@http://127.0.0.1:9/v1"]) == (1, "")
    assert len(needs) == 2
    # Under Ray the actors play side by side: one process each.
    count, said = default_for(capsys, ["llamacpp"], ray=True)
    assert count == 1 and "in each Ray actor's process" in said and len(needs) == 2


def test_a_bad_workers_variable_is_one_error_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WORKERS_ENV, "many")
    code, _, err = run_cli("run", "-s", "starter", "--limit", "1")
    assert code == 2
    assert "Traceback" not in err and "--workers" in err
