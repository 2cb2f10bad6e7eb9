"""The event loop a run plays on: uvloop where it is installed, asyncio's own with
TURNSCOPE_EVENT_LOOP=asyncio, and one error line for a value it does not know."""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path

import pytest

from helpers.cli import assert_clean_failure, run_cli
from helpers.suites import write_suite
from turnscope.engine import EventLoopError, run_loop
from turnscope.engine.loop import LOOP_ENV


async def _loop_kind() -> type[asyncio.AbstractEventLoop]:
    return type(asyncio.get_running_loop())


def test_uvloop_is_the_default_where_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    uvloop = pytest.importorskip("uvloop")
    monkeypatch.delenv(LOOP_ENV, raising=False)
    assert run_loop(_loop_kind()) is uvloop.Loop
    monkeypatch.setenv(LOOP_ENV, "uvloop")
    assert run_loop(_loop_kind()) is uvloop.Loop


def test_asyncio_loop_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOOP_ENV, "asyncio")
    kind = run_loop(_loop_kind())
    assert kind.__module__.startswith("asyncio")


def test_an_unknown_loop_is_refused_and_the_coroutine_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(LOOP_ENV, "trio")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine ... was never awaited" would be a warning
        with pytest.raises(EventLoopError, match="expected one of auto, uvloop, asyncio"):
            run_loop(_loop_kind())


def test_run_with_an_unknown_loop_is_one_error_line_and_no_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    suite = write_suite(tmp_path / "one.yaml", [{"id": "one", "turns": [{"user": "hi"}]}])
    runs = tmp_path / "runs"
    monkeypatch.setenv(LOOP_ENV, "fast-please")
    code, _, stderr = run_cli(
        "run", "-m", "openai:m@http://127.0.0.1:9/v1", "-s", str(suite), "--runs-dir", str(runs)
    )
    assert_clean_failure(code, stderr, f"{LOOP_ENV}='fast-please'")
    assert not runs.exists() or not any(runs.iterdir())
