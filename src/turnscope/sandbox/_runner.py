"""The interpreter loop that runs inside a sandbox (standard library only, run as a script).

    python -I runner.py LIMITS_JSON

The parent sends code snippets; this loop executes them one at a time in one namespace that
lives as long as the process (a notebook kernel in miniature) and answers each with a short
status. Messages are JSON objects preceded by their length as 4 big-endian bytes: requests
arrive on the pipe that was stdin, replies leave on the pipe that was stdout. Then fd 0
becomes /dev/null and fds 1 and 2 both become the output pipe (the original stderr), so
prints, tracebacks and the output of subprocesses reach the parent as one ordered stream.

turnscope never imports this module: the bubblewrap provider mounts the file read-only into
the sandbox and runs it there.
"""

from __future__ import annotations

import ast
import builtins
import errno
import io
import json
import linecache
import math
import os
import resource
import sys
import time
import traceback
from types import CodeType
from typing import Any

HEADER_BYTES = 4
# A request is a code snippet from the model; anything larger is a broken parent.
MAX_REQUEST_BYTES = 64 * 1024 * 1024
MAX_ERROR_CHARS = 2000
# How long to wait for a fork bomb's copies to exit before going on.
REAP_WAIT_S = 2.0


class OutputLimitExceeded(BaseException):
    """Raised into the snippet when it prints past the output limit.

    A BaseException, so that `except Exception` in the snippet does not swallow it and a
    runaway print loop stops at once instead of running into the time limits."""


class Output:
    """The current execution's share of the output pipe (fd 1): at most `budget` bytes."""

    def __init__(self) -> None:
        self.budget = 0
        self.exceeded = False

    def start(self, budget: int) -> None:
        self.budget = budget
        self.exceeded = False

    def write(self, data: bytes, *, strict: bool) -> None:
        """Forward what fits; past the budget drop the rest and, if `strict`, stop the snippet."""
        if len(data) > self.budget:
            data = data[: self.budget]
            self.exceeded = True
        _write_all(1, data)
        self.budget -= len(data)
        if self.exceeded and strict:
            raise OutputLimitExceeded


class OutputFile(io.RawIOBase):
    """sys.stdout/sys.stderr's bytes: bounded here, before they ever reach the pipe."""

    def __init__(self, output: Output) -> None:
        super().__init__()
        self._output = output

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return 1

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._output.write(chunk, strict=True)
        return len(chunk)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_exactly(fd: int, size: int) -> bytes | None:
    """`size` bytes from `fd`, or None at end of file."""
    parts: list[bytes] = []
    while size:
        chunk = os.read(fd, size)
        if not chunk:
            return None
        parts.append(chunk)
        size -= len(chunk)
    return b"".join(parts)


def _send(fd: int, message: dict[str, Any]) -> None:
    body = json.dumps(message).encode()
    _write_all(fd, len(body).to_bytes(HEADER_BYTES, "big") + body)


def _receive(fd: int) -> dict[str, Any] | None:
    header = _read_exactly(fd, HEADER_BYTES)
    if header is None:
        return None
    size = int.from_bytes(header, "big")
    if size > MAX_REQUEST_BYTES:
        raise SystemExit(f"request of {size} bytes is over the limit")
    body = _read_exactly(fd, size)
    if body is None:
        return None
    message = json.loads(body)
    if not isinstance(message, dict) or not isinstance(message.get("code"), str):
        raise SystemExit("malformed request")
    return message


def _compile(code: str, filename: str) -> tuple[CodeType, CodeType | None]:
    """The snippet's statements, and its last expression separately when it ends in one."""
    tree = ast.parse(code, filename, "exec")
    last: ast.expr | None = None
    final = tree.body[-1] if tree.body else None
    if isinstance(final, ast.Expr):
        tree.body.pop()
        last = final.value
    body = compile(tree, filename, "exec")
    if last is None:
        return body, None
    return body, compile(ast.Expression(last), filename, "eval")


def _limit_of(exc: BaseException) -> str | None:
    """Which sandbox limit an uncaught exception (or one it was raised from) stands for."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, MemoryError):
            return "memory"
        # RLIMIT_NPROC makes fork/clone fail with EAGAIN (BlockingIOError) and thread starts
        # fail with this RuntimeError.
        if isinstance(current, OSError) and current.errno == errno.EAGAIN:
            return "processes"
        if isinstance(current, RuntimeError) and "can't start new thread" in str(current):
            return "processes"
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return "disk"
        current = current.__cause__ or current.__context__
    return None


def _bounded(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."


class Runner:
    """One interpreter's state: the namespace, the cell counter and the output budget."""

    def __init__(self, limits: dict[str, int]) -> None:
        self.limits = limits
        self.pid = os.getpid()
        self.namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
        self.cells = 0
        self.output = Output()

    def execute(self, code: str) -> dict[str, Any]:
        self.cells += 1
        filename = f"<cell {self.cells}>"
        # Tracebacks, and later cells calling functions defined here, show the source lines.
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        # A fresh stream each time: the snippet may have closed or replaced the last one. One
        # unbuffered stream for both, so prints and tracebacks keep their order.
        sys.stdout = sys.stderr = io.TextIOWrapper(
            OutputFile(self.output), encoding="utf-8", errors="backslashreplace", write_through=True
        )
        self.output.start(self.limits["max_output_bytes"])
        used = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
        _, cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)
        # The kernel counts CPU limits in whole seconds of the whole process; SIGXCPU's default
        # action ends the interpreter, and the parent reports that as the CPU time limit.
        resource.setrlimit(
            resource.RLIMIT_CPU, (math.ceil(used + self.limits["cpu_time_s"]), cpu_hard)
        )
        try:
            body, last = _compile(code, filename)
        except (SyntaxError, ValueError) as exc:
            return self._failed(exc, with_frames=False)
        try:
            exec(body, self.namespace)
            if last is not None:
                value = eval(last, self.namespace)
                if value is not None:
                    print(repr(value))
        except OutputLimitExceeded:
            self._leave_if_forked()
            return self._reply(None, None)
        except BaseException as exc:
            self._leave_if_forked()
            return self._failed(exc, with_frames=True)
        self._leave_if_forked()
        return self._reply(None, None)

    def _leave_if_forked(self) -> None:
        # A process the snippet forked runs the rest of the snippet too; it must not come
        # back here and answer the parent in the interpreter's place.
        if os.getpid() != self.pid:
            os._exit(0)

    def _failed(self, exc: BaseException, *, with_frames: bool) -> dict[str, Any]:
        try:
            if with_frames and exc.__traceback__ is not None:
                # The first frame is execute() itself; the snippet's frames follow it.
                lines = traceback.format_exception(type(exc), exc, exc.__traceback__.tb_next)
            else:
                lines = traceback.format_exception_only(type(exc), exc)
            self.output.write("".join(lines).encode("utf-8", "backslashreplace"), strict=False)
            error = _bounded("".join(traceback.format_exception_only(type(exc), exc)))
        except MemoryError:
            error = type(exc).__name__
        return self._reply(error, _limit_of(exc))

    def _reply(self, error: str | None, limit: str | None) -> dict[str, Any]:
        if self.output.exceeded and limit is None:
            limit = "output"
        if limit == "processes":
            _reap_children()
        return {"status": "done", "error": error, "limit": limit}


def _reap_children() -> None:
    """Reap the interpreter's exited children, waiting a little for those still exiting.

    Zombies count against the process limit until their parent reaps them, and the copies
    a fork bomb made of the interpreter are its children: left alone they would hold the
    limit for the rest of the conversation. Done only once the limit was hit, because it
    takes the exit status away from a subprocess the code has not waited for."""
    deadline = time.monotonic() + REAP_WAIT_S
    while time.monotonic() < deadline:
        try:
            while os.waitpid(-1, os.WNOHANG)[0] != 0:
                pass
        except ChildProcessError:
            return
        time.sleep(0.01)


def _set_limits(limits: dict[str, int]) -> None:
    memory = limits["memory_mb"] * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    processes = limits["max_processes"]
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main() -> None:
    limits = json.loads(sys.argv[1])
    request_fd = os.dup(0)
    reply_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    _set_limits(limits)
    runner = Runner(limits)
    _send(reply_fd, {"status": "ready"})
    while True:
        request = _receive(request_fd)
        if request is None:
            return
        _send(reply_fd, runner.execute(request["code"]))


if __name__ == "__main__":
    main()
