"""The bubblewrap provider: one sandboxed Python interpreter per conversation.

Each sandbox is one `bwrap` process holding fresh namespaces (mount, pid, network, ipc, uts,
cgroup), in which the venv's own Python runs `_runner.py`: the system and the Python install
are mounted read-only, a fresh tmpfs is the work directory, and there is no network but an
empty loopback. The interpreter keeps its state from one execution to the next; when it dies
or overruns its wall time, bwrap's pid namespace is killed as a whole and a new interpreter
takes its place, and the result says the state was lost.

RLIMIT_NPROC, the only process limit that needs no cgroup delegation, is not enforced for
uid 0. As root, bwrap therefore runs privileged without a user namespace and `setpriv` drops
the interpreter to an unprivileged uid drawn at random for each interpreter (so sandboxes
practically never share a process count); as any other user, bwrap runs unprivileged in a
user namespace and the interpreter keeps that user's non-zero uid. docs/sandbox.md has the
measurements.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from turnscope.sandbox.base import (
    ExecutionResult,
    LimitName,
    ReplayResult,
    SandboxLimits,
    register_sandbox,
)
from turnscope.sandbox.errors import SandboxError, SandboxUnavailable

INSTALL_HINT = "install it with `apt-get install bubblewrap`"
WORK_DIR = "/sandbox"
"""The work directory inside the sandbox: cwd and HOME; /tmp points to it."""
RUNNER_PATH = "/opt/turnscope/runner.py"
"""Where the runner script is mounted inside the sandbox."""
START_TIMEOUT_S = 60.0
"""How long bwrap and the interpreter may take to come up (generous: loaded machines)."""
EXIT_WAIT_S = 10.0
"""How long a dying or killed interpreter may take to be gone."""

_RUNNER_SOURCE = Path(__file__).with_name("_runner.py")
_HEADER_BYTES = 4
# Replies are a status and an exception line; anything bigger is the code writing on the
# reply pipe, which ends the interpreter rather than the parent's memory.
_MAX_REPLY_BYTES = 16 * 1024
_READ_CHUNK = 64 * 1024
# How much a drain after a reply reads at most: more than any pipe holds (1 MiB at most
# unprivileged), fewer than a writer that never stops could send.
_DRAIN_CHUNKS = 256
# What bwrap may print about itself while starting: enough for its one-line complaints.
_STARTUP_OUTPUT_BYTES = 4096
# Unprivileged uids for root mode, far above any real user's and below the 2^31 boundary
# that some tools treat as negative.
_UID_BASE = 0x7000_0000
_UID_SPAN = 1 << 24
_SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime")
_LOST = (
    "it was restarted, so everything earlier executions built (variables, imports, files) is gone"
)


class _Reply(BaseModel):
    """One message from the runner (untrusted: the executed code can write on its pipe)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: Literal["ready", "done"]
    """"ready" once after start-up, then "done" after each execution."""
    error: str | None = Field(default=None, max_length=4000)
    """The uncaught exception's last traceback line, if the snippet raised."""
    limit: LimitName | None = None
    """The limit the runner saw the snippet run into."""


class _BrokenProtocol(Exception):
    """The reply pipe carried something that is not a well-formed reply."""


@dataclass(frozen=True)
class _Failure:
    """Why an interpreter stopped in the middle of an execution."""

    limit: LimitName | None
    reason: str


class _Capture:
    """The first `limit` bytes of an execution's output, and how many bytes came in all."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.limit - len(self.data)
        if room > 0:
            self.data += chunk[:room]

    @property
    def truncated(self) -> bool:
        return self.total > self.limit

    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


@dataclass(frozen=True)
class _Outcome:
    """What one execution gave: its output, the runner's reply or why it never came."""

    capture: _Capture
    reply: _Reply | None
    failure: _Failure | None
    duration_s: float


class _Interpreter:
    """One sandboxed interpreter: the bwrap process, its three pipes, its pid namespace."""

    def __init__(
        self, process: asyncio.subprocess.Process, output_fd: int, limits: SandboxLimits
    ) -> None:
        self._process = process
        self._output_fd = output_fd
        self._limits = limits
        self._capture: _Capture | None = None
        self._pidfd: int | None = None
        self._abandoned = False
        self._closed = False

    @classmethod
    async def start(cls, argv: list[str], info_fd: int, limits: SandboxLimits) -> _Interpreter:
        """Start bwrap with `argv` (which names `info_fd` for bwrap's --info-fd) and wait
        until the runner inside says it is ready."""
        output_r, output_w = os.pipe()
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=output_w,
                pass_fds=(info_fd,),
                start_new_session=True,
            )
        except OSError as exc:
            os.close(output_r)
            raise SandboxError(f"cannot start bwrap: {exc}") from exc
        finally:
            os.close(output_w)
        os.set_blocking(output_r, False)
        interpreter = cls(process, output_r, limits)
        capture = interpreter._begin(_STARTUP_OUTPUT_BYTES)
        try:
            reply = await asyncio.wait_for(interpreter._read_reply(), START_TIMEOUT_S)
            if reply.status != "ready":
                raise _BrokenProtocol("no ready message")
        except (TimeoutError, asyncio.IncompleteReadError, _BrokenProtocol) as exc:
            interpreter._end()
            status = await interpreter.close()
            said = _first_line(capture.text())
            detail = said or (f"exit status {status}" if status is not None else repr(exc))
            raise SandboxError(f"the sandboxed interpreter did not start: {detail}") from exc
        except asyncio.CancelledError:
            # Cancelled while it starts (a conversation cancelled, Ctrl-C): nobody will ever
            # close it, so it must not outlive this call.
            interpreter._end()
            await interpreter.close()
            raise
        interpreter._end()
        return interpreter

    def adopt_namespace(self, info_r: int) -> None:
        """Remember bwrap's pid-1 process (from its --info-fd report) by a pidfd, so that
        killing it ends the whole pid namespace, however many processes the code left."""
        try:
            report = _read_available(info_r, 4096)
            init_pid = json.loads(report)["child-pid"]
            if isinstance(init_pid, int) and self.alive:
                self._pidfd = os.pidfd_open(init_pid)
        except (OSError, ValueError, KeyError, TypeError):
            self._pidfd = None

    @property
    def alive(self) -> bool:
        return self._process.returncode is None and not self._abandoned

    @property
    def abandoned(self) -> bool:
        """Whether an execution was cancelled mid-way, which killed the interpreter."""
        return self._abandoned

    async def execute(self, code: str) -> _Outcome:
        capture = self._begin(self._limits.max_output_bytes)
        body = json.dumps({"code": code}).encode()
        started = time.perf_counter()
        reply: _Reply | None = None
        failure: _Failure | None = None
        try:
            reply = await asyncio.wait_for(self._exchange(body), self._limits.wall_time_s)
        except TimeoutError:
            failure = _Failure(
                "wall_time", f"wall time limit of {self._limits.wall_time_s:g} s exceeded"
            )
            self._kill()
        except (asyncio.IncompleteReadError, ConnectionError):
            failure = _exit_failure(await self._wait_exit(), self._limits)
        except _BrokenProtocol as exc:
            failure = _Failure(
                None, f"the interpreter broke the sandbox's message protocol ({exc})"
            )
            self._kill()
        except BaseException:
            # Cancelled mid-execution: its reply would answer the next request, so the
            # interpreter cannot be used again.
            self._abandoned = True
            self._kill()
            self._end()
            raise
        duration = time.perf_counter() - started
        self._end()
        return _Outcome(capture, reply, failure, duration)

    async def exit_status(self) -> int | None:
        """The exit status of an interpreter that is no longer alive (None if it hangs)."""
        return await self._wait_exit()

    async def close(self) -> int | None:
        """Kill the pid namespace, wait for bwrap to be gone and release the pipes; returns
        bwrap's exit status."""
        self._kill()
        status = await self._wait_exit()
        if not self._closed:
            self._closed = True
            self._end()
            os.close(self._output_fd)
            if self._pidfd is not None:
                os.close(self._pidfd)
            if self._process.stdin is not None:
                self._process.stdin.close()
        return status

    async def _exchange(self, body: bytes) -> _Reply:
        stdin = self._process.stdin
        assert stdin is not None
        stdin.write(len(body).to_bytes(_HEADER_BYTES, "big") + body)
        await stdin.drain()
        reply = await self._read_reply()
        if reply.status != "done":
            raise _BrokenProtocol("a second ready message")
        return reply

    async def _read_reply(self) -> _Reply:
        stdout = self._process.stdout
        assert stdout is not None
        size = int.from_bytes(await stdout.readexactly(_HEADER_BYTES), "big")
        if size > _MAX_REPLY_BYTES:
            raise _BrokenProtocol(f"a reply of {size} bytes")
        body = await stdout.readexactly(size)
        try:
            return _Reply.model_validate_json(body)
        except ValidationError as exc:
            raise _BrokenProtocol("a malformed reply") from exc

    def _begin(self, limit: int) -> _Capture:
        """Start collecting output. Between executions nobody reads the pipe, so a process
        the code left behind blocks once the pipe is full instead of filling memory."""
        self._capture = _Capture(limit)
        asyncio.get_running_loop().add_reader(self._output_fd, self._read_output)
        return self._capture

    def _end(self) -> None:
        """Take what the interpreter wrote before its reply (the reply follows its writes,
        so it is in the pipe now), bounded against a writer that never stops, and stop."""
        if self._capture is None:
            return
        for _ in range(_DRAIN_CHUNKS):
            if not self._read_output():
                break
        asyncio.get_running_loop().remove_reader(self._output_fd)
        self._capture = None

    def _read_output(self) -> bool:
        """Read one chunk into the capture (dropping what is over its limit); False when
        the pipe is empty or closed."""
        try:
            chunk = os.read(self._output_fd, _READ_CHUNK)
        except BlockingIOError:
            return False
        if not chunk:
            asyncio.get_running_loop().remove_reader(self._output_fd)
            return False
        if self._capture is not None:
            self._capture.feed(chunk)
        return True

    def _kill(self) -> None:
        if self._process.returncode is not None:
            return
        if self._pidfd is not None:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
        # Without bwrap, the namespace's pid 1 gets SIGKILL too (--die-with-parent).
        with contextlib.suppress(ProcessLookupError):
            self._process.kill()

    async def _wait_exit(self) -> int | None:
        try:
            return await asyncio.wait_for(self._process.wait(), EXIT_WAIT_S)
        except TimeoutError:
            self._kill()
            try:
                return await asyncio.wait_for(self._process.wait(), EXIT_WAIT_S)
            except TimeoutError:
                return None


class BubblewrapSandbox:
    """One conversation's sandbox: an interpreter, replaced by a fresh one when it dies."""

    def __init__(self, provider: BubblewrapProvider, limits: SandboxLimits) -> None:
        self._provider = provider
        self._limits = limits
        self._interpreter: _Interpreter | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    @property
    def limits(self) -> SandboxLimits:
        return self._limits

    async def start(self) -> None:
        """Start the first interpreter."""
        self._interpreter = await self._new_interpreter()

    async def run(self, code: str) -> ExecutionResult:
        async with self._lock:
            return await self._run(code)

    async def replay(self, codes: Sequence[str]) -> ReplayResult:
        results = [await self.run(code) for code in codes]
        return ReplayResult(results=tuple(results))

    async def close(self) -> None:
        self._closed = True
        if self._interpreter is not None:
            await self._interpreter.close()

    async def _run(self, code: str) -> ExecutionResult:
        if self._closed or self._interpreter is None:
            raise SandboxError("the sandbox is closed")
        restart_reason: str | None = None
        if not self._interpreter.alive:
            if self._interpreter.abandoned:
                why = "the previous execution was cancelled"
            else:
                status = await self._interpreter.exit_status()
                why = _exit_failure(status, self._limits).reason + " after the previous execution"
            restart_reason = f"{why}: {_LOST}"
            await self._replace_interpreter()
        outcome = await self._interpreter.execute(code)
        output = outcome.capture.text()
        if outcome.failure is not None:
            if self._closed:
                return ExecutionResult(
                    output=output,
                    error="the sandbox was closed during the execution",
                    duration_s=outcome.duration_s,
                )
            reason = f"{outcome.failure.reason}: {_LOST}"
            await self._replace_interpreter()
            return ExecutionResult(
                output=output,
                error=reason,
                limit=outcome.failure.limit,
                restarted=True,
                restart_reason=reason,
                duration_s=outcome.duration_s,
            )
        assert outcome.reply is not None
        limit = outcome.reply.limit
        if limit is None and outcome.capture.truncated:
            limit = "output"
        return ExecutionResult(
            output=output,
            error=_error_text(outcome.reply.error, limit, self._limits),
            limit=limit,
            restarted=restart_reason is not None,
            restart_reason=restart_reason,
            duration_s=outcome.duration_s,
        )

    async def _replace_interpreter(self) -> None:
        if self._interpreter is not None:
            await self._interpreter.close()
        interpreter = await self._new_interpreter()
        if self._closed:
            await interpreter.close()
            raise SandboxError("the sandbox was closed while its interpreter restarted")
        self._interpreter = interpreter

    async def _new_interpreter(self) -> _Interpreter:
        info_r, info_w = os.pipe()
        try:
            argv = self._provider.command(self._limits, info_fd=info_w)
            interpreter = await _Interpreter.start(argv, info_w, self._limits)
            interpreter.adopt_namespace(info_r)
        finally:
            os.close(info_r)
            os.close(info_w)
        return interpreter


@register_sandbox("bubblewrap")
class BubblewrapProvider:
    """Sandboxes made with bubblewrap (`bwrap`), the namespace tool Flatpak uses."""

    name = "bubblewrap"

    def __init__(self, *, search_path: str | None = None) -> None:
        self._search_path = search_path
        """Where to look for bwrap and setpriv (os.pathsep-separated); None for $PATH."""
        self._checked = False

    def check_available(self) -> None:
        if self._checked:
            return
        bwrap, setpriv = self._tools()
        probe = [*self._bwrap_argv(bwrap, setpriv, SandboxLimits(), info_fd=None)]
        probe += [_inside_view(sys.executable), "-I", "-c", "pass"]
        try:
            done = subprocess.run(
                probe, stdin=subprocess.DEVNULL, capture_output=True, timeout=START_TIMEOUT_S
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SandboxUnavailable(f"bubblewrap cannot start a sandbox here: {exc}") from exc
        if done.returncode != 0:
            said = _first_line(done.stderr.decode("utf-8", "replace"))
            detail = said or f"exit status {done.returncode}"
            raise SandboxUnavailable(f"bubblewrap cannot start a sandbox here: {detail}")
        self._checked = True

    async def open(self, limits: SandboxLimits) -> BubblewrapSandbox:
        if not self._checked:
            await asyncio.to_thread(self.check_available)
        sandbox = BubblewrapSandbox(self, limits)
        await sandbox.start()
        return sandbox

    def command(self, limits: SandboxLimits, *, info_fd: int) -> list[str]:
        """The full command line of one sandboxed interpreter."""
        bwrap, setpriv = self._tools()
        runner_limits = {
            "cpu_time_s": limits.cpu_time_s,
            "memory_mb": limits.memory_mb,
            "max_processes": limits.max_processes,
            "max_output_bytes": limits.max_output_bytes,
        }
        return [
            *self._bwrap_argv(bwrap, setpriv, limits, info_fd=info_fd),
            _inside_view(sys.executable),
            "-I",
            RUNNER_PATH,
            json.dumps(runner_limits),
        ]

    def _tools(self) -> tuple[str, str | None]:
        """bwrap, and setpriv when running as root (None otherwise)."""
        path = self._search_path if self._search_path is not None else os.environ.get("PATH")
        bwrap = shutil.which("bwrap", path=path)
        if bwrap is None:
            raise SandboxUnavailable(
                f"bubblewrap is not installed (no `bwrap` on PATH): {INSTALL_HINT}"
            )
        if os.geteuid() != 0:
            return bwrap, None
        setpriv = shutil.which("setpriv", path=path)
        if setpriv is None:
            raise SandboxUnavailable(
                "running as root, the sandbox needs `setpriv` to drop to an unprivileged "
                "user and it is not on PATH: install it with `apt-get install util-linux`"
            )
        return bwrap, setpriv

    def _bwrap_argv(
        self, bwrap: str, setpriv: str | None, limits: SandboxLimits, *, info_fd: int | None
    ) -> list[str]:
        argv = [bwrap, "--die-with-parent", "--new-session"]
        if info_fd is not None:
            argv += ["--info-fd", str(info_fd)]
        if setpriv is None:
            argv += ["--unshare-all", "--unshare-user", "--disable-userns", "--cap-drop", "ALL"]
        else:
            # Privileged bwrap keeps only what setpriv needs to switch to the sandbox's uid.
            argv += [
                "--unshare-ipc",
                "--unshare-pid",
                "--unshare-net",
                "--unshare-uts",
                "--unshare-cgroup-try",
                "--cap-drop",
                "ALL",
                "--cap-add",
                "CAP_SETUID",
                "--cap-add",
                "CAP_SETGID",
                "--cap-add",
                "CAP_SETPCAP",
            ]
        argv += _filesystem_args(limits)
        argv += _environment_args()
        if setpriv is not None:
            uid = _UID_BASE + secrets.randbelow(_UID_SPAN)
            argv += [
                setpriv,
                f"--reuid={uid}",
                f"--regid={uid}",
                "--clear-groups",
                "--no-new-privs",
                "--inh-caps=-all",
                "--bounding-set=-all",
                "--",
            ]
        return argv


def _filesystem_args(limits: SandboxLimits) -> list[str]:
    """Read-only /usr and Python install, the runner, /proc, /dev, and the tmpfs work dir."""
    args = ["--ro-bind", "/usr", "/usr"]
    for path in _SYSTEM_LINKS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    args += ["--dir", "/etc"]
    for path in _ETC_FILES:
        args += ["--ro-bind-try", path, path]
    roots = {root: _inside_view(root) for root in _python_roots()}
    # bwrap would create missing parents of a mount point mode 0700, out of the uid's reach.
    for directory in _ancestors([*roots.values(), RUNNER_PATH]):
        args += ["--dir", directory]
    for root, seen_at in roots.items():
        args += ["--ro-bind", root, seen_at]
    args += ["--ro-bind", str(_RUNNER_SOURCE), RUNNER_PATH]
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--perms", "1777", "--size", str(limits.work_dir_mb * 1024 * 1024)]
    args += ["--tmpfs", WORK_DIR, "--symlink", WORK_DIR, "/tmp", "--chdir", WORK_DIR]
    # The root is a tmpfs of its own, without a size limit: nothing may be written there.
    args += ["--remount-ro", "/"]
    return args


def _environment_args() -> list[str]:
    path = ":".join(
        [os.path.join(_inside_view(sys.prefix), "bin"), "/usr/local/bin", "/usr/bin", "/bin"]
    )
    return [
        "--clearenv",
        "--setenv",
        "HOME",
        WORK_DIR,
        "--setenv",
        "PATH",
        path,
        "--setenv",
        "LANG",
        "C.UTF-8",
    ]


_HOST_TMP_VIEW = "/opt/turnscope/host-tmp"
"""Where a Python install that lives under the host's /tmp is seen inside the sandbox."""


def _inside_view(path: str) -> str:
    """The path a host file of the Python install has inside the sandbox: the same, except
    under /tmp (a venv made with mktemp -d, as CI does). The sandbox's /tmp is its own empty
    work dir, so that install is mounted elsewhere and the interpreter started from there (a
    venv finds its packages from where its interpreter is, not from where it was made)."""
    if _within(path, "/tmp"):
        return _HOST_TMP_VIEW + path[len("/tmp") :]
    return path


def _python_roots() -> list[str]:
    """The directories the interpreter needs outside /usr: the venv and the base install,
    at the paths Python knows them by and at their real paths."""
    candidates = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    candidates |= {os.path.realpath(path) for path in candidates}
    candidates.add(os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))))
    roots: list[str] = []
    for path in sorted(os.path.abspath(path) for path in candidates):
        if path == "/" or _within(path, "/usr") or any(_within(path, root) for root in roots):
            continue
        roots.append(path)
    return roots


def _ancestors(paths: list[str]) -> list[str]:
    """Every proper ancestor directory of `paths` except /, parents first."""
    found: set[str] = set()
    for path in paths:
        parent = os.path.dirname(path)
        while parent != "/":
            found.add(parent)
            parent = os.path.dirname(parent)
    return sorted(found, key=lambda path: (path.count("/"), path))


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _read_available(fd: int, limit: int) -> bytes:
    """What is in a pipe bwrap has written and closed, up to `limit` bytes."""
    os.set_blocking(fd, False)
    data = bytearray()
    while len(data) < limit:
        try:
            chunk = os.read(fd, limit - len(data))
        except BlockingIOError:
            break
        if not chunk:
            break
        data += chunk
    return bytes(data)


def _exit_failure(status: int | None, limits: SandboxLimits) -> _Failure:
    """Why the interpreter ended, from bwrap's exit status (128 + N: killed by signal N)."""
    if status is None:
        return _Failure(None, "the interpreter stopped answering and could not be ended")
    signum = status - 128 if status > 128 else -status if status < 0 else 0
    if signum == signal.SIGXCPU:
        return _Failure("cpu_time", f"CPU time limit of {limits.cpu_time_s} s exceeded")
    if signum in signal.valid_signals():
        return _Failure(None, f"the interpreter was killed by {signal.Signals(signum).name}")
    return _Failure(None, f"the interpreter exited with status {status}")


def _error_text(error: str | None, limit: LimitName | None, limits: SandboxLimits) -> str | None:
    """The error shown for an execution that ended with `error` and ran into `limit`."""
    if limit == "output":
        dropped = f"output limit of {limits.max_output_bytes} bytes reached: the rest was dropped"
        return f"{error}; {dropped}" if error else dropped
    if limit == "memory":
        return f"{error or 'MemoryError'} (memory limit: {limits.memory_mb} MiB per process)"
    if limit == "processes":
        return f"{error} (process limit: {limits.max_processes} processes and threads)"
    if limit == "disk":
        return f"{error} (work directory limit: {limits.work_dir_mb} MiB)"
    return error


def _first_line(text: str) -> str:
    """The first non-empty line of `text`, bounded, for a one-line message."""
    for line in text.splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= 300 else line[:297] + "..."
    return ""
