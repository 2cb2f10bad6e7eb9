"""Hostile runs, played through the `turnscope` command in a subprocess: answers and server
messages that are not storable or that try to act on the terminal, file systems that fail,
two processes on one run, damaged stores, outages, option values at the edge.

Every case asserts the exit code, one `error:` line and no traceback where it is an error, no
hang (each subprocess has a timeout), and that nothing committed is lost. The model and the
judge are the fault-injection fake from helpers.servers: the point is the exact hostile text
or fault, which a real model would not produce on demand."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from helpers.cli import assert_clean_failure, assert_one_error_line, run_cli, turnscope
from helpers.servers import FakeOpenAIServer
from helpers.suites import write_suite
from turnscope.report.html import write_atomically
from turnscope.store import STORE_FILE, RunStore

pytestmark = pytest.mark.timeout(600)

OSC_AND_ANSI = "\x1b]0;pwned\x07 \x1b[31mred\x1b[0m \x1b]52;c;ZXZpbA==\x07 \u202eevil"
MARKUP = "[/bold] [bold red]not mine[/bold red] [link=x]"
DEAD = "http://127.0.0.1:9/v1"


def items(n: int = 2, category: str = "general") -> list[dict[str, Any]]:
    return [
        {
            "id": f"item-{i}",
            "category": category,
            "turns": [
                {"user": f"Question {i}.", "reference": "x", "scorers": [{"type": "contains"}]},
                {"user": f"Another question {i}."},
            ],
        }
        for i in range(n)
    ]


def spec(server: FakeOpenAIServer) -> str:
    return f"openai:fake@{server.base_url}"


def the_run(runs: Path) -> Path:
    (run_dir,) = [p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return run_dir


def no_terminal_controls(done: subprocess.CompletedProcess[str]) -> None:
    """Nothing but text reached the terminal (Rich adds no styles when output is a pipe)."""
    for stream in (done.stdout, done.stderr):
        assert "\x1b" not in stream and "\x07" not in stream and "\u202e" not in stream


# --- 1. text that cannot be stored as it is ------------------------------------------------


def test_a_lone_surrogate_in_an_answer_is_stored_sanitised_and_flagged(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    suite = write_suite(tmp_path / "s.yaml", items(1))
    with FakeOpenAIServer(reply=lambda messages, attempt: "half \ud800 answer") as server:
        done = turnscope("run", "-s", str(suite), "-m", spec(server), runs=runs)
        assert done.returncode == 0, done.stderr
        run_dir = the_run(runs)
        store = RunStore.open(run_dir)
        records = list(store.records())
        store.close()
        assert [r.response for r in records] == ["half \ufffd answer"] * 2
        assert all("sanitised" in r.flags for r in records)
        # Resuming and replaying without the cache meet the same text again, and survive it.
        assert turnscope("run", "--resume", str(run_dir), runs=runs).returncode == 0
        again = turnscope("run", "-s", str(suite), "-m", spec(server), "--no-cache", runs=runs)
        assert again.returncode == 0, again.stderr
    shown = turnscope("show", str(run_dir), "--item", "item-0", runs=runs)
    assert shown.returncode == 0 and "half \ufffd answer" in shown.stdout
    assert "flags: sanitised" in shown.stdout


# --- 2, 3. Rich markup and terminal controls in what is printed ---------------------------------


def test_markup_and_escape_sequences_from_a_server_are_shown_as_text(tmp_path: Path) -> None:
    runs = tmp_path / f"runs {MARKUP}"
    suite = write_suite(tmp_path / "s.yaml", items(1, category=f"cat {MARKUP} {OSC_AND_ANSI}"))
    hostile = f"{MARKUP} {OSC_AND_ANSI}"
    with FakeOpenAIServer(refuse=lambda messages: (400, hostile)) as server:
        done = turnscope("run", "-s", str(suite), "-m", spec(server), runs=runs)
        assert done.returncode == 1, done.stderr  # every turn failed: exit 1, not a crash
        assert "Traceback" not in done.stderr
        no_terminal_controls(done)
        assert "[/bold]" in done.stdout and "\\x1b" in done.stdout  # shown, visibly escaped
        assert "incomplete:" in done.stderr and "turnscope run --resume" in done.stderr
        run_dir = the_run(runs)
        assert (run_dir / "report.html").is_file()
        resumed = turnscope("run", "--resume", str(run_dir), runs=runs)
        assert resumed.returncode == 1 and "Traceback" not in resumed.stderr
        no_terminal_controls(resumed)
    listed = turnscope("runs", runs=runs)
    assert listed.returncode == 0 and "incomplete" in listed.stdout


def test_escape_sequences_in_answers_do_not_reach_the_terminal(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    suite = write_suite(tmp_path / "s.yaml", items(1))
    with FakeOpenAIServer(reply=lambda messages, attempt: f"ok {OSC_AND_ANSI} {MARKUP}") as server:
        assert turnscope("run", "-s", str(suite), "-m", spec(server), runs=runs).returncode == 0
    shown = turnscope("show", str(the_run(runs)), "--item", "item-0", runs=runs)
    assert shown.returncode == 0, shown.stderr
    no_terminal_controls(shown)
    assert "\\x1b]0;pwned\\x07" in shown.stdout and MARKUP in shown.stdout


# --- 6. file systems that fail -------------------------------------------------------------------


def test_a_runs_dir_that_is_a_file_is_one_error_line(tmp_path: Path) -> None:
    runs = tmp_path / "not-a-dir"
    runs.write_text("keep me", encoding="utf-8")
    suite = write_suite(tmp_path / "s.yaml", items(1))
    with FakeOpenAIServer() as server:
        done = turnscope(
            "run", "-s", str(suite), "-m", spec(server), "--runs-dir", str(runs), runs=runs
        )
    assert_one_error_line(done, "cannot create a run directory under")
    assert runs.read_text(encoding="utf-8") == "keep me"


BWRAP = shutil.which("bwrap")
needs_bwrap = pytest.mark.skipif(BWRAP is None, reason="bubblewrap (bwrap) is not installed")


def in_bwrap(*mount: str, script: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`sh -c script` with the host's file system as is, except for `mount` (bwrap options)."""
    assert BWRAP is not None
    return subprocess.run(
        [BWRAP, "--dev-bind", "/", "/", *mount, "--", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


@needs_bwrap
def test_a_read_only_runs_dir_is_one_error_line(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    suite = write_suite(tmp_path / "s.yaml", items(1))
    with FakeOpenAIServer() as server:
        done = in_bwrap(
            "--ro-bind",
            str(runs),
            str(runs),
            script=f"{sys.executable} -m turnscope.cli run -s {suite} -m {spec(server)} "
            f"--runs-dir {runs}",
        )
    assert_one_error_line(done, "cannot create a run directory under")
    assert "Read-only file system" in done.stderr
    assert list(runs.iterdir()) == []


@needs_bwrap
def test_a_full_disk_mid_run_is_one_error_line_and_keeps_every_committed_turn(
    tmp_path: Path,
) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    suite = write_suite(tmp_path / "s.yaml", items(40))
    python = f"{sys.executable} -m turnscope.cli"
    # Long answers fill a 400 kB file system after a few turns; the same shell then lists the
    # runs and shows one (the tmpfs is gone when bwrap exits). The answers stream without a
    # pause between their 3000 pieces: the point is their size, not how long they take.
    with FakeOpenAIServer(
        reply=lambda messages, attempt: "word " * 3000, chunk_delay_s=0.0
    ) as server:
        done = in_bwrap(
            "--size",
            str(400 * 1024),
            "--tmpfs",
            str(runs),
            script=(
                f"{python} run -s {suite} -m {spec(server)} --runs-dir {runs} -c 1; "
                f"echo EXIT=$?; {python} runs --runs-dir {runs}"
            ),
        )
    _, _, after = done.stdout.partition("EXIT=")
    assert after.startswith("2"), done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "cannot write the run store" in errors[0], done.stderr
    assert "resume with: turnscope run --resume" in errors[0]
    assert "Traceback" not in done.stderr
    assert "unreadable" not in after  # the store itself is intact: `runs` reads it


# --- 8. two processes on one run ---------------------------------------------------------------


def test_resume_is_refused_while_the_run_is_still_being_played(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    suite = write_suite(tmp_path / "s.yaml", items(10))
    # About 5 s per answer, two conversations at a time: the first run plays for ~50 s.
    with FakeOpenAIServer(chunk_delay_s=1.0) as server:
        env = {**os.environ, "TURNSCOPE_RUNS_DIR": str(runs)}
        player = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "turnscope.cli",
                "run",
                *("-s", str(suite)),
                "-m",
                spec(server),
                "-c",
                "2",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if runs.is_dir() and any(
                    p.is_dir() and not p.name.startswith(".") for p in runs.iterdir()
                ):
                    run_dir = the_run(runs)
                    if (run_dir / STORE_FILE).is_file():
                        break
                time.sleep(0.2)
            else:
                pytest.fail("the first run never created its run directory")
            time.sleep(1.0)
            second = turnscope("run", "--resume", str(run_dir), runs=runs)
            assert_one_error_line(second, "is playing this run right now")
            assert str(player.pid) in second.stderr
        finally:
            player.send_signal(signal.SIGKILL)
            player.wait()
        # Once the player is gone (even by kill -9) the run resumes; the answers need no longer
        # be slow, as nothing is racing them now.
        server.chunk_delay_s = 0.005
        resumed = turnscope("run", "--resume", str(run_dir), runs=runs)
        assert resumed.returncode == 0, resumed.stderr
    store = RunStore.open(run_dir)
    assert store.answered_count() == 20 and store.status() == "finished"
    store.close()


# --- 10. option values at the edge ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--timeout", "inf"), "'--timeout'"),
        (("--temperature", "inf"), "'--temperature'"),
        (("--samples", "1000000000"), "'--samples'"),
        (("--concurrency", "0"), "'--concurrency'"),
        (("--retry-for", "soon"), "--retry-for 'soon'"),
        (("-m", "openai:m@http://[::1"), "invalid base URL"),
        (("-v", "sideways"), "unknown condition 'sideways'"),
        (("--no-such-option",), "No such option"),
    ],
)
def test_bad_option_values_are_one_error_line(
    tmp_path: Path, args: tuple[str, ...], fragment: str
) -> None:
    done = turnscope("run", *args, runs=tmp_path / "runs", timeout=60)
    assert_one_error_line(done, fragment)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        # backend options that said only "invalid literal for int()", or nothing at all
        (("-M", "n_ctx=abc"), "-M n_ctx=abc: expected a whole number of context tokens"),
        (("-m", f"openai:m@{DEAD}", "-M", "max_concurrency=abc"), "-M max_concurrency=abc"),
        (("-m", f"openai:m@{DEAD}", "-M", "max_concurrency=-3"), "-M max_concurrency=-3"),
    ],
)
def test_bad_backend_options_are_one_error_line(
    tmp_path: Path, args: tuple[str, ...], fragment: str
) -> None:
    code, _, stderr = run_cli("run", "--runs-dir", str(tmp_path / "runs"), *args)
    assert_clean_failure(code, stderr, fragment, single_line=True)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "command",
    [
        ("show", "{long}"),
        ("report", "{long}"),
        ("export", "{long}"),
        ("compare", "{long}", "{long}"),
        ("runs", "--runs-dir", "{long}"),
        ("run", "--resume", "{long}"),
        ("validate", "{long}.jsonl"),
    ],
)
def test_a_path_longer_than_the_file_system_allows_is_one_error_line(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    # every command raised OSError (ENAMETOOLONG) with a traceback
    long = str(tmp_path / ("x" * 300))
    code, _, stderr = run_cli(*(part.format(long=long) for part in command))
    assert_clean_failure(code, stderr, "File name too long", single_line=True)


def test_an_api_key_with_a_line_break_is_one_error_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSTILE_KEY", "sk-secret\nX-Injected: 1")
    code, _, stderr = run_cli("run", "-m", f"openai:m@{DEAD}", "--api-key-env", "HOSTILE_KEY")
    assert_clean_failure(code, stderr, "HOSTILE_KEY does not hold an API key", single_line=True)
    assert "sk-secret" not in stderr


def test_a_built_in_suite_with_a_very_long_argument_is_not_taken_for_a_path() -> None:
    code, _, stderr = run_cli("validate", "core:" + "x" * 300)
    assert_clean_failure(code, stderr, "the seed must be a whole number", single_line=True)


# --- 11. judgments lost to an outage are asked again --------------------------------------------


def test_judgments_lost_to_a_judge_outage_are_asked_again_on_resume(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    judged = [
        {"id": "j", "turns": [{"user": "Say hi.", "scorers": [{"type": "judge"}]}]},
    ]
    suite = write_suite(tmp_path / "judged.yaml", judged)
    outage = {"down": True}
    with (
        FakeOpenAIServer() as model,
        FakeOpenAIServer(
            reply=lambda messages, attempt: "Fine.\nRating: [[7]]",
            refuse=lambda messages: (503, "judge restarting") if outage["down"] else None,
        ) as judge,
    ):
        args = ("-s", str(suite), "-m", spec(model), "--judge", f"openai:judge@{judge.base_url}")
        first = turnscope("run", *args, "--retry-for", "1s", runs=runs)
        assert first.returncode == 1, first.stderr  # nothing to score yet: resume would
        assert "1 judgments were lost to a judge outage" in first.stderr
        run_dir = the_run(runs)
        outage["down"] = False
        asked_before = len([x for x in judge.exchanges if x.outcome == "ok"])
        resumed = turnscope("run", "--resume", str(run_dir), runs=runs)
        assert resumed.returncode == 0, resumed.stderr
        assert len([x for x in judge.exchanges if x.outcome == "ok"]) == asked_before + 1
    store = RunStore.open(run_dir)
    (record,) = store.records()
    assert record.score == pytest.approx(0.7) and store.status() == "finished"
    store.close()


# --- 12. damaged and other-version stores -----------------------------------------------------


def test_damaged_stores_are_one_error_line_and_runs_lists_the_rest(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    suite = write_suite(tmp_path / "s.yaml", items(3))
    with FakeOpenAIServer() as server:
        assert turnscope("run", "-s", str(suite), "-m", spec(server), runs=runs).returncode == 0
    good = the_run(runs)
    damaged = {name: runs / f"zz-{name}" for name in ("flipped", "newer", "version")}
    for copy in damaged.values():
        shutil.copytree(good, copy)
    store_file = damaged["flipped"] / STORE_FILE
    data = bytearray(store_file.read_bytes())
    half = len(data) // 2
    data[half:] = bytes((b ^ 0x5A) for b in data[half:])
    store_file.write_bytes(bytes(data))
    with sqlite3.connect(damaged["newer"] / STORE_FILE) as db:
        (config,) = db.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()
        newer = {**json.loads(config), "a_field_from_the_future": 1}
        db.execute("UPDATE meta SET value = ? WHERE key = 'config'", (json.dumps(newer),))
    with sqlite3.connect(damaged["version"] / STORE_FILE) as db:
        db.execute("UPDATE meta SET value = 'two' WHERE key = 'schema_version'")

    for name, run_dir in damaged.items():
        # Resuming runs in a process of its own; the read-only commands go through the same
        # command in-process, which spares a Python start-up each and checks the same line.
        resumed = turnscope("run", "--resume", str(run_dir), runs=runs, timeout=120)
        assert_one_error_line(resumed, str(run_dir))
        messages = [resumed.stderr]
        for command in (
            ("show", str(run_dir)),
            ("show", str(run_dir), "--item", "item-0"),
            ("export", str(run_dir)),
            ("report", str(run_dir)),
        ):
            code, _, stderr = run_cli(*command)
            assert_clean_failure(code, stderr, str(run_dir), single_line=True)
            messages.append(stderr)
        if name == "newer":
            assert all("does not know ('a_field_from_the_future')" in m for m in messages)
    listed = turnscope("runs", runs=runs)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count("unreadable") == 3 and good.name in listed.stdout


def test_records_edited_apart_from_their_rows_are_one_error_line(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    suite = write_suite(tmp_path / "s.yaml", items(2))
    with FakeOpenAIServer() as server:
        assert turnscope("run", "-s", str(suite), "-m", spec(server), runs=runs).returncode == 0
    good = the_run(runs)
    edited = {name: runs / f"zz-{name}" for name in ("other-item", "far-turn")}
    for copy in edited.values():
        shutil.copytree(good, copy)
    # a record that names another item than its row: export crashed on an assert
    with sqlite3.connect(edited["other-item"] / STORE_FILE) as db:
        db.execute("UPDATE turns SET record = json_set(record, '$.item_id', 'x') WHERE rowid = 1")
    # a turn the item does not have, row and record agreeing: show --item raised IndexError
    with sqlite3.connect(edited["far-turn"] / STORE_FILE) as db:
        db.execute(
            "UPDATE turns SET turn = 99, record = json_set(record, '$.turn', 99) WHERE rowid = 1"
        )
    run_dir = edited["other-item"]
    for command in (("export", str(run_dir)), ("export", "-f", "csv", str(run_dir))):
        code, _, stderr = run_cli(*command)
        assert_clean_failure(code, stderr, "the run store is damaged", single_line=True)
        assert "says it is of item 'x'" in stderr
    code, stdout, stderr = run_cli("show", str(edited["far-turn"]), "--item", "item-0")
    assert code == 0, stderr
    assert "turn 99" in stdout


# --- 13. honest status, and a retry budget that outlasts a restart --------------------------------


def test_a_server_restart_shorter_than_the_retry_budget_loses_no_turn(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    suite = write_suite(tmp_path / "s.yaml", items(2))
    back_at = time.monotonic() + 4.0
    with FakeOpenAIServer(
        refuse=lambda messages: (503, "restarting") if time.monotonic() < back_at else None
    ) as server:
        done = turnscope("run", "-s", str(suite), "-m", spec(server), runs=runs)
    assert done.returncode == 0, done.stderr
    store = RunStore.open(the_run(runs))
    assert store.answered_count() == 4 and store.failed_count() == 0
    assert store.status() == "finished"
    store.close()


# --- 14. files written whole, and private ---------------------------------------------------------


def test_stores_and_the_cache_are_private_to_their_owner(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    suite = write_suite(tmp_path / "s.yaml", items(1))
    with FakeOpenAIServer() as server:
        assert turnscope("run", "-s", str(suite), "-m", spec(server), runs=runs).returncode == 0
    run_dir = the_run(runs)

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(run_dir) == 0o700 and mode(run_dir / STORE_FILE) == 0o600
    assert mode(runs / ".cache") == 0o700
    assert mode(runs / ".cache" / "responses.sqlite") == 0o600


def test_a_report_is_replaced_whole_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.html"
    target.write_text("the old report", encoding="utf-8")

    def interrupted(source: str, destination: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, "<html>the new one</html>")
    assert target.read_text(encoding="utf-8") == "the old report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no partial file left
