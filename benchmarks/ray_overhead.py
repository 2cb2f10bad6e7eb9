"""What Ray execution adds: `turnscope run --ray` against `turnscope run` on one machine.

Both play the same 2,000 conversations x 10 turns (`--no-cache`, `-c 32`) against the instant
OpenAI-compatible server of benchmarks/harness.py (a process of its own, not counted). The Ray
run joins a local Ray started beforehand with `ray start --head` (as a cluster is, before
runs are sent to it), lean as docs/ray.md shows (no dashboard, log monitor, autoscaler
monitor or metrics). CPU is that of the whole process tree below this script (the server
excepted), sampled from /proc: the `turnscope` process, and for the Ray run its actors and
every Ray daemon (GCS, raylet, agents), each by name, while the run lasts.

Prints the wall time and CPU of both runs and their ratios (target: Ray adds at most 15 %),
and, for reference, the wall time of a run that starts Ray itself (`--ray` alone) and of
`ray start` (what a run pays when no cluster is running).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from _workload import conversations
from harness import CONCURRENCY, TURNS, start_server

from turnscope.store import RunStore
from turnscope.suites.builtin import write_jsonl

PR_SET_CHILD_SUBREAPER = 36
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
RAY_PORT = 6391
SAMPLE_S = 0.2


@dataclass(frozen=True)
class Measured:
    label: str
    wall_s: float
    cpu_s: float
    turns: int
    breakdown: dict[str, float]
    daemons: dict[str, float]
    """Ray's own processes by name (ray::IDLE are workers not holding an actor)."""


def _kind(pid: int) -> tuple[str, str] | None:
    """What a process is, for the breakdown: the turnscope process, an actor, or Ray's own,
    and for Ray's own which one (None: it is gone)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    if not command[0]:
        return None  # exiting: its name is gone with its memory
    if b"turnscope.cli" in command:
        return "turnscope", "turnscope"
    if command[0].startswith(b"ray::ConversationPlayer"):
        return "actors", "actors"
    # Ray's Python daemons are scripts (monitor.py, log_monitor.py ...) or name themselves
    # (ray::IDLE, ray::DashboardAgent); its native ones are executables (raylet, gcs_server).
    script = [a for a in command[:3] if a.endswith(b".py")]
    name = command[0] if command[0].startswith(b"ray::") or not script else script[0]
    return "ray daemons", Path(name.decode(errors="replace").split()[0]).name


def _tree() -> dict[int, float]:
    """Every live process below this one (by parent links in /proc) -> its own CPU seconds."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            # After the name: state, ppid, ..., utime and stime are the 12th and 13th.
            stats[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS)
    mine: set[int] = set()
    frontier = {os.getpid()}
    while frontier:
        frontier = {pid for pid, (parent, _) in stats.items() if parent in frontier} - mine
        mine |= frontier
    return {pid: stats[pid][1] for pid in mine}


class TreeCpu:
    """CPU of this process's descendants over a stretch of time, sampled from /proc.

    Reaped children's times cannot be used: Ray's raylet ignores SIGCHLD, so an actor's CPU
    never reaches any parent's counters. Each process's own time is sampled every SAMPLE_S
    instead; a process that ends loses at most its last SAMPLE_S."""

    def __init__(self, exclude: set[int]) -> None:
        self.exclude = exclude
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.kinds: dict[int, tuple[str, str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        for pid, cpu in _tree().items():
            if pid not in self.exclude:
                self.first.setdefault(pid, cpu if not self.last else 0.0)
                self.last[pid] = cpu
                # Last seen wins: a Ray worker takes its actor's name once it holds one. A
                # process never seen alive (it started and ended between two samples of a busy
                # machine, and waits unreaped for this subreaper) stays unnamed.
                self.kinds[pid] = _kind(pid) or self.kinds.get(pid, ("ray daemons", "unnamed"))

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self._sample()

    def __enter__(self) -> TreeCpu:
        self._sample()  # what the processes alive now had spent before
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def seconds(self) -> float:
        return sum(cpu - self.first[pid] for pid, cpu in self.last.items())

    def by_kind(self, detail: bool = False) -> dict[str, float]:
        """CPU seconds by kind of process, or with `detail` by process name."""
        kinds: dict[str, float] = {}
        for pid, cpu in self.last.items():
            kind = self.kinds[pid][detail]
            kinds[kind] = kinds.get(kind, 0.0) + cpu - self.first[pid]
        return kinds


def play(label: str, suite: Path, port: int, runs: Path, extra: list[str], server: int) -> Measured:
    command = [
        sys.executable, "-m", "turnscope.cli", "run",
        "-m", f"openai:instant@http://127.0.0.1:{port}/v1", "-s", str(suite),
        "-c", str(CONCURRENCY), "--no-cache", "--max-tokens", "64", "--runs-dir", str(runs),
        *extra,
    ]  # fmt: skip
    with TreeCpu({server}) as tree:
        started = time.perf_counter()
        done = subprocess.run(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
        )
        wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{label} failed ({done.returncode}):\n{done.stderr.decode()[-3000:]}")
    (run_dir,) = [p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".")]
    store = RunStore.open(run_dir)
    turns = store.answered_count()
    store.close()
    by_name = tree.by_kind(detail=True)
    daemons = {name: cpu for name, cpu in by_name.items() if name not in ("turnscope", "actors")}
    return Measured(label, wall, tree.seconds, turns, tree.by_kind(), daemons)


def ray_command(*args: str) -> float:
    ray = Path(sys.executable).with_name("ray")
    started = time.perf_counter()
    subprocess.run(
        [str(ray), *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return time.perf_counter() - started


def _running(pids: list[int]) -> bool:
    for pid in pids:
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                return True
    return False


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def stop_head(server: int) -> None:
    """Stop the Ray processes `ray start` left below this process, by their ids: `ray stop`
    would stop every Ray on the machine, another user's too."""
    ours = [pid for pid in _tree() if pid != server]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in ours:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 10
        while _running(ours) and time.monotonic() < deadline:
            _reap()  # as the subreaper, this process inherits them
            time.sleep(0.1)
    _reap()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--skip-local-start", action="store_true")
    args = parser.parse_args()
    # `ray start` leaves its daemons behind when it exits: as this process's subreaper they
    # stay in its tree, where the samples find them.
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    os.environ["RAY_enable_metrics_collection"] = "0"  # noqa: SIM112 (Ray spells it so)
    # `ray start --head` turns token authentication on by default; a driver given an explicit
    # address sends the token only when told to.
    os.environ["RAY_AUTH_MODE"] = "token"
    server, port = start_server()
    measured: list[Measured] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            suite = Path(tmp) / "ray-overhead.jsonl"
            write_jsonl(conversations(args.conversations, TURNS), suite)
            measured.append(play("one process", suite, port, Path(tmp) / "one", [], server.pid))
            # A lean head, as docs/ray.md shows: no dashboard, log monitor, autoscaler monitor
            # or metrics (RAY_enable_metrics_collection=0 above).
            head = ray_command(
                "start", "--head", f"--port={RAY_PORT}", "--include-dashboard=false",
                "--include-log-monitor=false", "--no-monitor",
                f"--num-cpus={os.cpu_count()}", "--disable-usage-stats",
            )  # fmt: skip
            try:
                address = f"127.0.0.1:{RAY_PORT}"
                extra = ["--ray", address]
                measured.append(play("ray", suite, port, Path(tmp) / "ray", extra, server.pid))
            finally:
                stop_head(server.pid)
            if not args.skip_local_start:
                runs = Path(tmp) / "local"
                measured.append(
                    play("ray, started by the run", suite, port, runs, ["--ray"], server.pid)
                )
    finally:
        server.terminate()
        server.wait(timeout=10)
    expected = args.conversations * TURNS
    for m in measured:
        assert m.turns == expected, f"{m.label}: {m.turns} turns answered, expected {expected}"
        print(
            f"{m.label}: {args.conversations} conversations x {TURNS} turns, -c {CONCURRENCY}: "
            f"{m.wall_s:.1f} s wall, {m.cpu_s:.1f} s CPU (whole process tree: "
            + ", ".join(f"{kind} {cpu:.1f} s" for kind, cpu in sorted(m.breakdown.items()))
            + ")"
        )
        if m.daemons:
            busiest = sorted(m.daemons.items(), key=lambda kv: -kv[1])
            print("  ray daemons: " + ", ".join(f"{name} {cpu:.1f} s" for name, cpu in busiest))
    print(f"ray start --head: {head:.1f} s wall")
    alone, ray = measured[0], measured[1]
    print(f"RESULT ray_wall_ratio={ray.wall_s / alone.wall_s:.3f}")
    print(f"RESULT ray_cpu_ratio={ray.cpu_s / alone.cpu_s:.3f}")
    if len(measured) > 2:
        print(f"RESULT ray_local_start_wall_ratio={measured[2].wall_s / alone.wall_s:.3f}")
        print(f"RESULT ray_local_start_cpu_ratio={measured[2].cpu_s / alone.cpu_s:.3f}")


if __name__ == "__main__":
    main()
