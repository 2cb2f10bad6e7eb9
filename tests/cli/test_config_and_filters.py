"""Project defaults (turnscope.toml, [tool.turnscope]), .env keys, item filters and the
generation settings of `turnscope run`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers.cli import assert_clean_failure, run_cli
from helpers.servers import FakeOpenAIServer
from helpers.suites import write_suite
from turnscope.store import RunStore

ITEMS = [
    {"id": f"{family}-{i}", "category": family, "turns": [{"user": f"{family} {i}?"}]}
    for family in ("maths", "recall")
    for i in range(2)
]


def only_run(runs: Path) -> RunStore:
    (run_dir,) = [p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return RunStore.open(run_dir)


def test_turnscope_toml_gives_defaults_and_the_command_line_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = write_suite(tmp_path / "s.yaml", ITEMS)
    monkeypatch.chdir(tmp_path)
    with FakeOpenAIServer() as server:
        (tmp_path / "turnscope.toml").write_text(
            f'[run]\nsuite = "{suite}"\nmodel = "openai:fake@{server.base_url}"\n'
            'runs-dir = "from-config"\nmax-tokens = 7\nconditions = ["own"]\n'
            'top-p = 0.5\nstop = ["END"]\n',
            encoding="utf-8",
        )
        code, _, err = run_cli("run", "--max-tokens", "9")
        assert code == 0, err
    store = only_run(tmp_path / "from-config")
    config = store.config()
    store.close()
    assert config.params.max_tokens == 9  # the command line wins
    assert config.params.top_p == 0.5 and config.params.stop == ("END",)
    assert config.model.startswith("openai:fake@") and config.conditions == ("own",)


def test_pyproject_tool_table_and_a_typo_in_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text(
        "[tool.turnscope.run]\nconcurency = 3\n", encoding="utf-8"
    )
    code, _, err = run_cli("runs")
    assert_clean_failure(code, err, "'concurency' is not an option of `turnscope run`")
    (tmp_path / "pyproject.toml").write_text("[tool.turnscope.nope]\nx = 1\n", encoding="utf-8")
    code, _, err = run_cli("runs")
    assert_clean_failure(code, err, "[nope] is not a turnscope command")
    code, _, err = run_cli("--config", str(tmp_path / "absent.toml"), "runs")
    assert_clean_failure(code, err, "absent.toml: no such config file")


def test_dot_env_sets_keys_the_environment_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TURNSCOPE_TEST_KEY", raising=False)
    monkeypatch.setenv("TURNSCOPE_TEST_SET", "from-environment")
    (tmp_path / ".env").write_text(
        "TURNSCOPE_TEST_KEY=from-dotenv\nTURNSCOPE_TEST_SET=from-dotenv\n", encoding="utf-8"
    )
    assert run_cli("runs")[0] == 0
    assert os.environ["TURNSCOPE_TEST_KEY"] == "from-dotenv"
    assert os.environ["TURNSCOPE_TEST_SET"] == "from-environment"
    monkeypatch.delenv("TURNSCOPE_TEST_KEY")


def test_item_and_family_filters(tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "s.yaml", ITEMS)
    runs = tmp_path / "runs"
    with FakeOpenAIServer() as server:
        model = f"openai:fake@{server.base_url}"
        code, _, err = run_cli(
            "run", "-s", str(suite), "-m", model, "--runs-dir", str(runs), "--family", "recall"
        )
        assert code == 0, err
        store = only_run(runs)
        assert [i.id for i in store.items()] == ["recall-0", "recall-1"]
        store.close()
        for args, fragment in (
            (("--item", "nope"), "no item 'nope'"),
            (("--family", "poetry"), "no family 'poetry' (families: maths, recall)"),
        ):
            code, _, err = run_cli(
                "run", "-s", str(suite), "-m", model, "--runs-dir", str(runs), *args
            )
            assert_clean_failure(code, err, fragment)


def test_several_models_play_one_suite_each_and_are_compared(tmp_path: Path) -> None:
    items = [
        {
            "id": f"q{i}",
            "turns": [
                {"user": f"Say Reply {i}.", "reference": "Reply", "scorers": [{"type": "contains"}]}
            ],
        }
        for i in range(3)
    ]
    suite = write_suite(tmp_path / "s.yaml", items)
    runs = tmp_path / "runs"
    with (
        FakeOpenAIServer() as first,
        FakeOpenAIServer(reply=lambda messages, attempt: "Something else.") as second,
    ):
        code, out, err = run_cli(
            "run",
            "-s",
            str(suite),
            "--runs-dir",
            str(runs),
            "-m",
            f"openai:first@{first.base_url}",
            "-m",
            f"openai:second@{second.base_url}",
        )
    assert code == 0, err
    run_dirs = [p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(run_dirs) == 2
    assert "models on one suite" in out and "minus openai:first@" in out
    # Three items: marked as a small sample, and no Wilcoxon p-value (it needs 6 pairs).
    assert "1.000 [1.000, 1.000] (n=3, small sample)" in out  # the first answers "Reply N"
    assert "-1.000 [-1.000, -1.000] (n=3, small sample)" in out  # the second never does
    assert "p=" not in out
