"""--workers reaches every role the embedded model plays, and no other; without one, it says
it is ignored."""

from __future__ import annotations

from pathlib import Path

from helpers.cli import run_cli
from helpers.servers import FakeOpenAIServer
from turnscope.cli.run import embedded_workers
from turnscope.core import JudgeSettings, RoleSettings


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
