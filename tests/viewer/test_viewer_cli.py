"""`turnscope view` as a command: bad input is one error line and exit 2, it says where it
listens, and it follows a run that `turnscope run` is writing in another process."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from helpers.cli import assert_one_error_line, turnscope
from helpers.servers import FakeOpenAIServer
from helpers.suites import write_suite
from helpers.viewer_runs import rich_run, start_viewer
from turnscope.store import STORE_FILE, RunStore

pytestmark = pytest.mark.timeout(300)


def test_a_path_that_is_not_a_run(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    done = turnscope("view", str(tmp_path), runs=tmp_path)
    assert_one_error_line(done, "not a run directory")
    done = turnscope("view", str(tmp_path / "missing"), runs=tmp_path)
    assert_one_error_line(done, "no such run or runs directory")


def test_a_corrupt_store(tmp_path: Path) -> None:
    run_dir = rich_run(tmp_path / "run")
    store = run_dir / STORE_FILE
    data = bytearray(store.read_bytes())
    data[:16] = b"not a database!!"
    store.write_bytes(bytes(data))
    done = turnscope("view", str(run_dir), runs=tmp_path)
    assert_one_error_line(done, "cannot read the run store")


def test_a_busy_port(tmp_path: Path) -> None:
    run_dir = rich_run(tmp_path / "run")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = turnscope("view", str(run_dir), "--port", str(port), runs=tmp_path)
    assert_one_error_line(done, f"port {port} on 127.0.0.1 is busy")


def test_it_binds_loopback_and_says_so(tmp_path: Path) -> None:
    run_dir = rich_run(tmp_path / "run")
    with start_viewer(run_dir) as viewer:
        assert httpx.get(viewer.base_url + "/runs/run/conversations").status_code == 200
        # A page reached under another host name (DNS rebinding) is refused.
        assert httpx.get(viewer.base_url + "/", headers={"Host": "evil.example"}).status_code == 400
        viewer.process.terminate()
        out, _ = viewer.process.communicate(timeout=10)
    assert re.search(r"http://127\.0\.0\.1:\d+/", out)
    assert "listening on 127.0.0.1 only" in out


def _runs_page(base_url: str) -> tuple[list[str] | None, str]:
    """The runs list's row of the one run as words (None before the run exists), and the
    page."""
    page = httpx.get(base_url + "/", timeout=10).text
    if 'class="run"' not in page:
        return None, page
    row = page.split('class="run">', 1)[1].split("</tr>", 1)[0]
    return re.sub(r"<[^>]+>", " ", row).split(), page


def test_the_viewer_follows_a_run_being_written(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    items = [
        {"id": f"item-{i}", "category": "live", "turns": [{"user": f"Q{i}.{t}"} for t in range(3)]}
        for i in range(4)
    ]
    suite = write_suite(tmp_path / "live.yaml", items)
    answer = "one two three four five six seven eight"
    with (
        FakeOpenAIServer(chunk_delay_s=0.06, reply=lambda messages, attempt: answer) as server,
        start_viewer(runs) as viewer,
    ):
        writer = subprocess.Popen(
            [
                *(sys.executable, "-m", "turnscope.cli", "run", "-s", str(suite)),
                *("-m", f"openai:fake@{server.base_url}", "-v", "own", "-c", "1"),
                *("--no-cache", "--runs-dir", str(runs)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            seen: list[int] = []
            deadline = time.monotonic() + 120
            while writer.poll() is None and time.monotonic() < deadline:
                row, page = _runs_page(viewer.base_url)
                if row is not None and "running" in row:
                    turns = int(row[row.index("running") + 1])
                    seen.append(turns)
                    if 0 < turns < 12:
                        assert 'http-equiv="refresh"' in page  # a live run's page reloads
                        run_key = row[0]
                        table = httpx.get(
                            f"{viewer.base_url}/runs/{run_key}/conversations", timeout=10
                        )
                        assert table.status_code == 200, (row, table.text[-600:])
                time.sleep(0.3)
            assert writer.wait(timeout=60) == 0, writer.stderr.read()  # type: ignore[union-attr]
        finally:
            if writer.poll() is None:
                writer.kill()
                writer.wait()
        (run_dir,) = [p for p in runs.iterdir() if (p / STORE_FILE).is_file()]
        store = RunStore.open(run_dir)
        try:
            total = store.turn_count()
        finally:
            store.close()
        assert total == 12
        # The viewer saw the run part-written and growing, then finished with every turn.
        partial = [n for n in seen if 0 < n < total]
        assert len(set(partial)) >= 2, seen
        assert partial == sorted(partial)
        row, page = _runs_page(viewer.base_url)
        assert row is not None and "finished" in row
        assert 'http-equiv="refresh"' not in page
        assert int(row[row.index("finished") + 1]) == total
        # A page asked for while the run's first summary is built says so and reloads.
        deadline = time.monotonic() + 60
        while True:
            table = httpx.get(f"{viewer.base_url}/runs/{row[0]}/conversations", timeout=10).text
            if 'id="summarising"' not in table or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert "4 conversations" in table


def _renderers(run_dir: Path) -> list[int]:
    """Pids of the processes drawing this run's figures for a viewer."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"turnscope.viewer.dashboard" in argv and str(run_dir).encode() in argv:
            found.append(int(proc.name))
    return found


def _gone(pids: list[int], timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{pid}").exists() for pid in pids):
            return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize("stop", ["terminate", "kill"])
def test_stopping_the_viewer_ends_its_renderer(tmp_path: Path, stop: str) -> None:
    """SIGTERM stops the viewer cleanly (exit 0), and its figures' renderer with it; a viewer
    killed outright leaves no renderer behind either (the renderer watches its parent)."""
    run_dir = rich_run(tmp_path / "run")
    with start_viewer(run_dir) as viewer:
        assert httpx.get(viewer.base_url + "/runs/run", timeout=30).status_code == 200
        renderers = _renderers(run_dir)
        assert renderers  # it imports matplotlib and reads the run: seconds, not less
        getattr(viewer.process, stop)()
        code = viewer.process.wait(timeout=30)
    assert code == (0 if stop == "terminate" else -9)
    assert _gone(renderers), renderers


def test_without_the_view_extra(tmp_path: Path) -> None:
    """Without uvicorn installed (here: its import refused) the command names the extra."""
    run_dir = rich_run(tmp_path / "run")
    code = (
        "import sys; sys.modules['uvicorn'] = None; "
        "from turnscope.cli import main; sys.argv = ['turnscope', 'view', sys.argv[1]]; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(run_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert_one_error_line(done, "pip install 'turnscope[view]'")
