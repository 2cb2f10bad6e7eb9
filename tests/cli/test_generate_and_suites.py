"""`turnscope generate` and `turnscope suites`: the built-in suites as files, and bad inputs."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers.cli import assert_clean_failure, run_cli
from turnscope.cli import app
from turnscope.suites import load_suite_file
from turnscope.suites.builtin import CORE, FULL, build, to_jsonl


def test_generate_writes_the_suite_the_loader_reads(tmp_path: Path) -> None:
    path = tmp_path / "core.jsonl"
    code, _, err = run_cli("generate", "core", "--seed", "4", "-o", str(path))
    assert code == 0, err
    assert f"wrote {CORE.size} items" in err
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == CORE.size and all(json.loads(line)["id"] for line in lines)
    assert load_suite_file(path).suite.items == build(CORE, 4).items
    # core:4 names the same seed.
    again = tmp_path / "again.jsonl"
    assert run_cli("generate", "core:4", "-o", str(again))[0] == 0
    assert again.read_bytes() == path.read_bytes()


def test_same_seed_same_bytes_across_processes(tmp_path: Path) -> None:
    """Two processes with different string-hash seeds write the very same file."""
    digests = []
    for hash_seed in ("1", "2"):
        out = tmp_path / f"full-{hash_seed}.jsonl"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "turnscope.cli",
                "generate",
                "full",
                "--seed",
                "11",
                "-o",
                str(out),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        digests.append(hashlib.sha256(out.read_bytes()).hexdigest())
    assert digests[0] == digests[1]
    assert digests[0] == hashlib.sha256(to_jsonl(build(FULL, 11).items).encode()).hexdigest()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (
            ("generate", "starter"),
            "starter: not a generated suite (generated: core, full, persona)",
        ),
        (("generate", "nope"), "nope: not a generated suite"),
        (("generate", "core:x"), "core:x: the seed must be a whole number >= 0"),
        (("generate", "core:3", "--seed", "4"), "name two different seeds"),
    ],
)
def test_generate_bad_inputs(tmp_path: Path, args: tuple[str, ...], fragment: str) -> None:
    out = tmp_path / "out.jsonl"
    code, _, err = run_cli(*args, "-o", str(out))
    assert_clean_failure(code, err, fragment, single_line=True)
    assert not out.exists()


def test_generate_unwritable_path(tmp_path: Path) -> None:
    code, _, err = run_cli("generate", "core", "-o", str(tmp_path / "no" / "such" / "dir.jsonl"))
    assert_clean_failure(code, err, "cannot write", single_line=True)
    code, _, err = run_cli("generate", "core", "-o", str(tmp_path))
    assert_clean_failure(code, err, "cannot write", single_line=True)


def test_generate_rejects_a_negative_seed(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["generate", "core", "--seed", "-1", "-o", str(tmp_path / "x")]
    )
    assert result.exit_code == 2 and "--seed" in result.stderr


def test_suites_lists_core_as_default_and_full() -> None:
    code, out, _ = run_cli("suites")
    assert code == 0
    assert "core[:SEED] (default)" in out and "full[:SEED]" in out and "starter" in out


def test_run_with_a_bad_builtin_seed_or_unknown_protocol(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    code, _, err = run_cli("run", "-s", "core:seven", "--runs-dir", str(runs))
    assert_clean_failure(code, err, "core:seven: the seed must be a whole number", single_line=True)
    suite = tmp_path / "s.jsonl"
    item = {"id": "a", "protocol": "telepathy", "turns": [{"user": "hi"}]}
    suite.write_text(json.dumps(item) + "\n", encoding="utf-8")
    code, _, err = run_cli("run", "-s", str(suite), "--runs-dir", str(runs))
    assert_clean_failure(code, err, "item 'a': unknown protocol 'telepathy'", single_line=True)
    assert "feedback" in err and "scripted" in err
    assert not runs.exists() or not any(runs.iterdir())
