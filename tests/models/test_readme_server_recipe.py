"""The README's server recipe works after the quick-start install: `pip install -e ".[local]"`
brings llama.cpp's server, and the command the README prints starts it."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx

from helpers.servers import free_port

ROOT = Path(__file__).parents[2]


def test_the_local_extra_brings_the_server() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    local = project["project"]["optional-dependencies"]["local"]
    assert any(re.match(r"llama-cpp-python\[server\]", requirement) for requirement in local)


def test_the_readme_server_recipe_starts_a_server(gguf_path: Path, tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (recipe,) = re.findall(r"^python -m llama_cpp\.server .*$", readme, re.M)
    port = free_port()
    words = shlex.split(recipe.rstrip("& "))
    words = [
        str(gguf_path) if w == "model.gguf" else str(port) if w == "8080" else w for w in words
    ]
    assert words[:3] == ["python", "-m", "llama_cpp.server"]
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        server = subprocess.Popen([sys.executable, *words[1:]], stdout=sink, stderr=sink)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert server.poll() is None, log.read_text(errors="replace")[-2000:]
            try:
                models = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2, trust_env=False)
                if models.status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        else:
            raise AssertionError("the README's server did not answer within 60 s")
        assert models.json()["data"]
    finally:
        server.terminate()
        server.wait(timeout=30)
