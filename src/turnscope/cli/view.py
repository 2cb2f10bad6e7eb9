"""The web viewer: `turnscope view`."""

from __future__ import annotations

import errno
import ipaddress
import signal
import socket
import threading
from pathlib import Path
from typing import Annotated

import typer

from turnscope.cli._app import DAMAGE, Command, app, console, damaged, fail, runs_root
from turnscope.report.safe import markup
from turnscope.store import STORE_FILE, RunStore, StoreError

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def _check_paths(paths: list[Path]) -> None:
    """Each path is a readable run, or a directory of runs (maybe none yet); else one error
    line."""
    for path in paths:
        if (path / STORE_FILE).is_file():
            try:
                RunStore.open(path).close()
            except StoreError as exc:
                fail(str(exc))
            except DAMAGE as exc:
                fail(damaged(path, exc))
        elif not path.is_dir():
            fail(f"{path}: no such run or runs directory")
        elif not any((p / STORE_FILE).is_file() for p in path.iterdir()) and any(path.iterdir()):
            # An empty directory is a runs directory before its first run: runs started later
            # appear in the list. One holding other things is a mistyped path.
            fail(f"{path}: not a run directory (no {STORE_FILE}), and it holds no runs")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: any free one); one error line if it is busy."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        fail(f"cannot listen on {host}: {exc.strerror}")
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            fail(f"port {port} on {host} is busy; choose another with --port")
        fail(f"cannot listen on {host}:{port}: {exc.strerror}")
    return sock


@app.command(
    cls=Command,
    epilog=(
        "Examples:\n\n"
        "  turnscope view\n\n"
        "  turnscope view turnscope-runs/20261122-101500-llamacpp-starter --port 9000\n\n"
        "  turnscope view /data/runs-a /data/runs-b"
    ),
)
def view(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Run directories, or directories of runs (default: the runs directory).",
            metavar="[RUNS_DIR|RUN ...]",
            show_default=False,
        ),
    ] = None,
    host: Annotated[
        str,
        typer.Option(help="Address to listen on (only this machine by default).", metavar="HOST"),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port (0: any free one).", metavar="PORT")
    ] = 8765,
) -> None:
    """Browse runs in a local web page: runs, figures, conversations turn by turn, comparisons."""
    try:
        import uvicorn

        from turnscope.viewer.app import Viewer, make_app, trusted
    except ImportError as exc:
        fail(f"turnscope view needs {exc.name or 'its web server'}: pip install 'turnscope[view]'")
    targets = paths or [runs_root(None)]
    _check_paths(targets)
    sock = _listen(host, port)

    viewer = Viewer(targets)
    if _loopback(host):
        hosts = ["127.0.0.1", "localhost", "[::1]", "::1"]
    else:
        hosts = ["*"] if host in ("0.0.0.0", "::") else [host]
    bound = sock.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host
    console.print(f"turnscope view: [bold]http://{markup(shown_host)}:{bound}/[/bold]")
    if _loopback(host):
        console.print(
            f"listening on {markup(host)} only: no other machine can connect. Ctrl+C stops."
        )
    else:
        console.print(
            f"[yellow]warning:[/yellow] listening on {markup(host)}: other machines that reach "
            "it can read every prompt and answer of these runs. Ctrl+C stops."
        )
    threading.Thread(target=viewer.warm, daemon=True).start()
    server = uvicorn.Server(
        uvicorn.Config(trusted(make_app(viewer), hosts), log_level="warning", access_log=False)
    )
    # uvicorn shuts down on SIGTERM, then raises the signal again with the handler found
    # before it started: this one, so that the clean-up below runs (the figures' renderer is
    # stopped, the cache removed) and the exit is a normal one.
    signal.signal(signal.SIGTERM, _stop)
    try:
        server.run(sockets=[sock])
    finally:
        viewer.close()
        sock.close()


def _stop(signum: int, frame: object) -> None:
    raise typer.Exit(0)
