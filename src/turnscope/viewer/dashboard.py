"""A run's dashboard: the HTML report's figures and charts, rendered in a child process.

The report reads every turn's scores and bootstraps over items; on a 1,000,000-turn run that
takes a minute and more memory than the viewer may hold. So a child process renders it with the
report's own code (report.html.write_run_report) into the viewer's cache directory, the viewer
serves the last rendering, and renders again when the run has changed since (a live run: at
most every RERENDER_AFTER_S seconds).

    python -m turnscope.viewer.dashboard RUN_DIR OUT.html
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

RERENDER_AFTER_S = 30.0
"""A changed run's figures are rendered again at most this often."""
STDERR_CHARS = 2000
PARENT_CHECK_S = 0.5
"""How often a rendering child checks that the viewer that started it is still there."""


@dataclass
class _Rendering:
    """What the viewer knows about one run's dashboard."""

    path: Path
    """Where the rendered report is (or will be) written."""
    rendered_at: tuple[int, int] | None = None
    """The run's high water the rendered file shows (None: none rendered yet)."""
    process: subprocess.Popen[bytes] | None = None
    """The child rendering it now, if any."""
    started: float = 0.0
    """When the current or last child started (time.monotonic)."""
    target: tuple[int, int] = (0, 0)
    """The high water the current child renders."""
    error: str | None = None
    """Why the last rendering failed."""
    stderr: list[bytes] = field(default_factory=list)


@dataclass(frozen=True)
class DashboardState:
    """The dashboard as a page shows it."""

    ready: bool
    """A rendering exists and can be shown."""
    rendering: bool
    """A child is rendering a newer one now."""
    stale: bool
    """The run has changed since the rendering shown."""
    error: str | None


class Dashboards:
    """Renders and caches the dashboards of the runs the viewer shows."""

    def __init__(self, cache_dir: Path) -> None:
        self._cache = cache_dir
        self._lock = threading.Lock()
        self._runs: dict[Path, _Rendering] = {}

    def path(self, run_dir: Path) -> Path | None:
        """The rendered report of the run, if there is one."""
        with self._lock:
            entry = self._runs.get(run_dir)
            return entry.path if entry and entry.rendered_at is not None else None

    def state(self, run_dir: Path, high_water: tuple[int, int], live: bool) -> DashboardState:
        """Where the run's dashboard stands; starts a rendering when none exists or the run has
        changed since (a live run: not more often than RERENDER_AFTER_S)."""
        with self._lock:
            entry = self._runs.get(run_dir)
            if entry is None:
                name = hashlib.sha256(str(run_dir).encode()).hexdigest()[:16]
                entry = self._runs[run_dir] = _Rendering(self._cache / f"{name}.html")
            self._collect(entry)
            changed = entry.rendered_at != high_water
            due = entry.rendered_at is None or not live
            due = due or time.monotonic() - entry.started >= RERENDER_AFTER_S
            if entry.process is None and changed and due and entry.error is None:
                self._start(entry, run_dir, high_water)
            elif entry.process is None and changed and entry.error and entry.target != high_water:
                entry.error = None  # the run moved on: try again
                self._start(entry, run_dir, high_water)
            return DashboardState(
                ready=entry.rendered_at is not None,
                rendering=entry.process is not None,
                stale=changed,
                error=entry.error,
            )

    def close(self) -> None:
        with self._lock:
            for entry in self._runs.values():
                if entry.process is not None:
                    entry.process.kill()
                    entry.process.wait()

    def _start(self, entry: _Rendering, run_dir: Path, high_water: tuple[int, int]) -> None:
        entry.process = subprocess.Popen(
            [sys.executable, "-m", "turnscope.viewer.dashboard", str(run_dir), str(entry.path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        entry.started = time.monotonic()
        entry.target = high_water
        entry.stderr = []
        # Drain stderr as it comes so that a chatty child never blocks on a full pipe.
        threading.Thread(target=_drain, args=(entry.process, entry.stderr), daemon=True).start()

    @staticmethod
    def _collect(entry: _Rendering) -> None:
        """Take the result of a finished child."""
        if entry.process is None or entry.process.poll() is None:
            return
        code = entry.process.wait()
        entry.process = None
        if code == 0:
            entry.rendered_at = entry.target
            entry.error = None
            return
        text = b"".join(entry.stderr).decode("utf-8", "replace").strip().splitlines()
        entry.error = (text[-1] if text else f"the renderer exited with code {code}")[:STDERR_CHARS]


def _drain(process: subprocess.Popen[bytes], sink: list[bytes]) -> None:
    assert process.stderr is not None
    for line in process.stderr:
        sink.append(line)
        del sink[:-20]


def _exit_with_parent() -> None:
    """End this child when the viewer is gone. The viewer kills it when it stops, but a viewer
    killed outright, or stopped by SIGTERM (uvicorn raises the signal again once it has shut
    down, which ends the process before its clean-up), leaves it behind, reading a whole run
    for no one."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def main() -> None:
    """Render RUN_DIR's report into OUT (the child's entry point); one error line on failure."""
    _exit_with_parent()
    from turnscope.report.html import write_run_report
    from turnscope.store import RunStore, StoreError

    run_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
    try:
        store = RunStore.open(run_dir)
        try:
            write_run_report(store, out)
        finally:
            store.close()
    except StoreError as exc:
        sys.exit(f"error: {exc}")
    except (sqlite3.DatabaseError, ValidationError, UnicodeDecodeError) as exc:
        sys.exit(f"error: {run_dir}: the run store is damaged ({str(exc)[:200]})")


if __name__ == "__main__":
    main()
