"""`turnscope export`: formats, --per, and one clear line for every bad input."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from helpers.cli import assert_clean_failure, assert_one_error_line, run_cli, turnscope
from helpers.export_runs import CONVERSATIONS, RECORDS
from helpers.synthetic_runs import make_record, write_run
from turnscope.core import Item
from turnscope.export import ROW_FORMATS

FILE_FORMATS = ("parquet", "eee", "inspect")


def test_jsonl_to_stdout_and_conversations_to_a_file(run_dir: Path, tmp_path: Path) -> None:
    code, out, err = run_cli("export", str(run_dir))
    assert code == 0, err
    assert len(out.splitlines()) == len(RECORDS)
    target = tmp_path / "conversations.parquet"
    code, _, err = run_cli("export", str(run_dir), "-f", "parquet", "--per", "conversation",
                           "-o", str(target))  # fmt: skip
    assert code == 0, err
    assert f"wrote {CONVERSATIONS} conversations" in err
    assert pq.read_table(target).num_rows == CONVERSATIONS
    code, out, err = run_cli("export", str(run_dir), "--per", "conversation", "-f", "csv")
    assert code == 0, err
    assert len(out.splitlines()) == CONVERSATIONS + 1
    first = json.loads(run_cli("export", str(run_dir), "--per", "conversation")[1].splitlines()[0])
    assert first["family"] == "recollection"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("-f", "xml"), "unknown format 'xml'"),
        (("--per", "item"), "unknown --per 'item'"),
        (("-f", "parquet"), "--format parquet cannot go to standard output"),
        (("-f", "eee", "--per", "conversation", "-o", "x"), "--per is for jsonl, csv, parquet"),
    ],
)
def test_bad_options_give_one_line(run_dir: Path, args: tuple[str, ...], fragment: str) -> None:
    code, _, err = run_cli("export", str(run_dir), *args)
    assert_clean_failure(code, err, fragment, single_line=True)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", *FILE_FORMATS])
def test_not_a_run_and_a_corrupt_store_give_one_line(tmp_path: Path, fmt: str) -> None:
    out = ("-o", str(tmp_path / f"out.{fmt}"))
    code, _, err = run_cli("export", str(tmp_path), "-f", fmt, *out)
    assert_clean_failure(code, err, "not a turnscope run directory", single_line=True)
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "run.sqlite").write_bytes(b"this is not sqlite" * 64)
    code, _, err = run_cli("export", str(corrupt), "-f", fmt, *out)
    assert_clean_failure(code, err, "cannot read the run store", single_line=True)


def test_an_unwritable_output_gives_one_line(run_dir: Path, tmp_path: Path) -> None:
    code, _, err = run_cli("export", str(run_dir), "-f", "parquet", "-o", str(tmp_path / "no/x"))
    assert_clean_failure(code, err, "cannot write", single_line=True)


@pytest.mark.parametrize(
    ("fmt", "package"),
    [("parquet", "pyarrow"), ("inspect", "inspect_ai")],
)
def test_a_missing_optional_package_names_the_extra(
    run_dir: Path, tmp_path: Path, fmt: str, package: str
) -> None:
    # A package directory that shadows the real one and fails to import, as a missing one does.
    shadow = tmp_path / "shadow" / package
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(f"raise ImportError('no {package} here')\n")
    path = os.pathsep.join([str(shadow.parent), *sys.path])
    done = turnscope("export", str(run_dir), "-f", fmt, "-o", str(tmp_path / "out"),
                     runs=tmp_path, env={"PYTHONPATH": path})  # fmt: skip
    assert_one_error_line(done, "pip install 'turnscope[export]'")
    assert package in done.stderr and not (tmp_path / "out").exists()


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet", "eee", "inspect"])
def test_an_item_of_a_protocol_not_installed_gives_one_line(tmp_path: Path, fmt: str) -> None:
    item = Item.model_validate(
        {"id": "plug", "protocol": "not-installed", "turns": [{"user": "x"}]}
    )
    run = write_run(tmp_path / "run", [item], [make_record("plug", 1, 1.0)])
    code, _, err = run_cli("export", str(run), "-f", fmt, "-o", str(tmp_path / "out"))
    assert_clean_failure(code, err, "install the plugin that plays it", single_line=True)
    assert not any(p.is_file() for p in (tmp_path / "out").rglob("*")) or fmt in ROW_FORMATS


def _stdout_on_a_terminal(*args: str) -> bytes:
    """`turnscope ARGS...` in a subprocess whose standard output is a pseudo-terminal: the
    bytes the terminal received."""
    import pty
    import subprocess

    main, side = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "turnscope.cli", *args], stdout=side, stderr=subprocess.DEVNULL
    )
    os.close(side)
    received = bytearray()
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the terminal's other end closed (Linux raises EIO)
            break
        if not chunk:
            break
        received += chunk
    os.close(main)
    assert process.wait(timeout=60) == 0
    return bytes(received)


def test_an_export_printed_on_a_terminal_cannot_drive_it(tmp_path: Path) -> None:
    item = Item.model_validate({"id": "esc", "turns": [{"user": "x"}]})
    answer = "red \x1b[31m title \x1b]0;pwned\x07 bidi \u202e \x9b2J done"
    run = write_run(tmp_path / "run", [item], [make_record("esc", 1, 1.0, response=answer)])
    for fmt in ("csv", "jsonl"):
        shown = _stdout_on_a_terminal("export", str(run), "-f", fmt)
        assert b"esc" in shown
        for raw in (b"\x1b", b"\x07", "\u202e".encode(), "\x9b".encode()):
            assert raw not in shown, (fmt, raw)
        assert b"\\x1b" in shown or b"\\u001b" in shown
    # A pipe still gets the answer as it is.
    code, out, _ = run_cli("export", str(run), "-f", "csv")
    assert code == 0 and answer in out
