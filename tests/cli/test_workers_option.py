"""--workers reaches every role the embedded model plays, and no other."""

from __future__ import annotations

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
