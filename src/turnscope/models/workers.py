"""The embedded model in several processes: `--workers N` plays N conversations at once.

One llama.cpp context answers one request at a time and keeps the KV state of one sequence, so
the in-process client plays one conversation at a time on a fraction of the cores. A worker pool
starts N child processes, each loading the GGUF into a llama.cpp context of its own, and sends
each request to the worker that holds its conversation: the worker whose last request, followed
by its answer, begins the new request. That worker's KV cache holds the whole history, so the
turn prefills only its new messages. A request that continues no worker's conversation (a new
conversation, or one whose worker died) goes to the least busy worker.

The endpoint pool (models/pool.py) places a conversation by hashing its opening messages, which
suits servers that each keep many prefixes cached. A worker keeps one: two conversations that
open alike (an item's samples, its own and gold histories) must not queue on one worker while
another idles, and they do not here since placement follows each worker's actual last request.

Workers only answer; the parent process plays the conversations and is the only writer of the
run store. Requests and answers are JSON lines (pydantic models) on the child's stdin and
stdout. A child exits when its stdin closes, and a watchdog thread ends it as soon as the parent
is gone (kill -9 included), even in the middle of a generation. A worker that dies is started
again; the request it was answering fails as transient, so the engine's retry re-sends it with
its whole history (counted in `moved`).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from pydantic import BaseModel, ConfigDict

from turnscope.core import Completion, GenerationParams, Message, ModelIdentity, OutputConstraint
from turnscope.models.constraints import to_gbnf
from turnscope.models.errors import ModelConfigError, PermanentModelError, TransientModelError

ANSWER_LIMIT_BYTES = 64 << 20
"""The longest answer line a worker may send: a bound on what the parent buffers."""
STOP_WAIT_S = 5.0
"""How long a worker may take to exit once told to, before it is killed."""
PARENT_POLL_S = 0.2
"""How often a worker checks that its parent is still alive."""


class WorkerSettings(BaseModel):
    """How a worker process loads its model (its only command-line argument, as JSON)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    """The GGUF file."""
    n_ctx: int
    """Context size, tokens."""
    n_threads: int
    """Threads that decode."""
    n_threads_batch: int
    """Threads that prefill."""
    parent_pid: int
    """The process that started the worker: the worker ends when it is gone."""


class WorkerRequest(BaseModel):
    """One request, parent to worker."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int
    """Numbers the request, so an answer to one the parent gave up on (timeout) is skipped."""
    messages: tuple[Message, ...]
    """The whole conversation so far."""
    params: GenerationParams
    """Sampling settings."""
    seed: int
    """The request's seed."""


class WorkerAnswer(BaseModel):
    """One answer, worker to parent: a completion or why there is none."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int
    """The request answered; 0 for the line that says the model is loaded (or not)."""
    completion: Completion | None = None
    """The answer; None on failure."""
    error: str | None = None
    """Why there is no answer (asking again would not help: the worker itself is fine)."""


def worker_threads(workers: int) -> int:
    """Threads per worker when the user names none: the cores this process may use, shared
    among the workers so that N of them do not oversubscribe the machine."""
    return max(1, len(os.sched_getaffinity(0)) // workers)


def _continues(messages: Sequence[Message], tip: Sequence[Message]) -> bool:
    """Whether `messages` begin with `tip` (a worker's last request and its answer)."""
    return 0 < len(tip) <= len(messages) and all(
        a == b for a, b in zip(messages, tip, strict=False)
    )


def _answered_prefixes(messages: Sequence[Message]) -> Iterator[bytes]:
    """A digest of every prefix of `messages` that ends with an answer, shortest first."""
    digest = hashlib.blake2b(digest_size=16)
    for message in messages:
        digest.update(message.model_dump_json().encode())
        digest.update(b"\x00")
        if message.role == "assistant":
            yield digest.copy().digest()


@dataclass
class _Worker:
    """One worker process and what the parent knows of it."""

    label: str
    process: asyncio.subprocess.Process | None = None
    ready: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    tip: tuple[Message, ...] = ()
    """The worker's last request followed by its answer: what its KV cache holds."""
    waiting: int = 0
    """Requests sent to it or queued for it."""
    last_used: float = 0.0
    """When it last answered (time.monotonic)."""
    requests: int = 0
    errors: int = 0
    restarts: int = 0


class WorkerPool:
    """A ModelClient over N embedded llama.cpp processes: each conversation on one of them."""

    def __init__(
        self,
        model_path: Path,
        identity: ModelIdentity,
        *,
        workers: int,
        n_ctx: int,
        n_threads: int | None = None,
        n_threads_batch: int | None = None,
    ) -> None:
        if workers < 1:
            raise ModelConfigError(f"--workers {workers}: expected 1 or more worker processes")
        if not model_path.is_file():
            raise ModelConfigError(f"GGUF file not found: {model_path}")
        threads = worker_threads(workers)
        self._settings = WorkerSettings(
            path=str(model_path),
            n_ctx=n_ctx,
            n_threads=n_threads or threads,
            n_threads_batch=n_threads_batch or threads,
            parent_pid=os.getpid(),
        )
        self._identity = identity
        self._workers = [_Worker(f"worker-{i + 1}") for i in range(workers)]
        self._next_id = 0
        self._answered: set[bytes] = set()
        self.moved = 0
        """Requests that continued a conversation a worker answered before but none holds
        now (its worker died, or played another conversation in between): each prefilled
        its whole history again."""

    @property
    def identity(self) -> ModelIdentity:
        return self._identity

    @property
    def max_concurrency(self) -> int | None:
        return len(self._workers)

    @property
    def threads(self) -> tuple[int, int]:
        """Decode and prefill threads of each worker."""
        return self._settings.n_threads, self._settings.n_threads_batch

    def enforces(self, constraint: OutputConstraint) -> bool:
        return to_gbnf(constraint) is not None

    def counts(self) -> list[tuple[str, int, int]]:
        """(worker, requests sent, failed requests) for each worker."""
        return [(w.label, w.requests, w.errors) for w in self._workers]

    @property
    def restarts(self) -> int:
        """Workers started again after they died."""
        return sum(w.restarts for w in self._workers)

    def pids(self) -> list[int]:
        """The process ids of the running workers (for tests and diagnostics)."""
        return [w.process.pid for w in self._workers if w.process is not None]

    async def preflight(self) -> None:
        """Start every worker; each must load the model."""
        results = await asyncio.gather(
            *(self._start(worker) for worker in self._workers), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _start(self, worker: _Worker) -> None:
        """Start the worker's process and wait until its model is loaded."""
        await self._stop(worker)
        worker.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "from turnscope.models.workers import serve; serve()",
            self._settings.model_dump_json(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=ANSWER_LIMIT_BYTES,
        )
        assert worker.process.stdout is not None
        line = await worker.process.stdout.readline()
        if not line:
            code = await worker.process.wait()
            raise ModelConfigError(
                f"embedded worker process exited with code {code} before loading the model"
            )
        hello = WorkerAnswer.model_validate_json(line)
        if hello.error is not None:
            raise ModelConfigError(hello.error)
        worker.ready = True

    def _choose(self, messages: Sequence[Message]) -> _Worker:
        """The worker holding this conversation (of several holding it, as when samples gave
        the same answer, the least busy); else the least busy one, and of those equally busy
        the one idle longest: a worker that has just answered is more likely to be between
        two turns of its conversation than one whose conversation has ended."""
        holding = [w for w in self._workers if _continues(messages, w.tip)]
        if holding:
            return max(holding, key=lambda w: (len(w.tip), -w.waiting))
        if any(prefix in self._answered for prefix in _answered_prefixes(messages)):
            self.moved += 1
        return min(self._workers, key=lambda w: (w.waiting, w.last_used))

    async def generate(
        self, messages: Sequence[Message], params: GenerationParams, *, seed: int
    ) -> Completion:
        worker = self._choose(messages)
        worker.waiting += 1
        try:
            async with worker.lock:
                worker.requests += 1
                try:
                    completion = await self._ask(worker, messages, params, seed)
                except (TransientModelError, PermanentModelError):
                    worker.errors += 1
                    raise
        finally:
            worker.waiting -= 1
        worker.tip = (*messages, Message(role="assistant", content=completion.text))
        worker.last_used = time.monotonic()
        *_, answered = _answered_prefixes(worker.tip)
        self._answered.add(answered)
        return completion.model_copy(update={"served_by": worker.label})

    async def _ask(
        self, worker: _Worker, messages: Sequence[Message], params: GenerationParams, seed: int
    ) -> Completion:
        """Send one request to the worker and read its answer (under the worker's lock)."""
        if not worker.ready or worker.process is None or worker.process.returncode is not None:
            await self._restart(worker, "was not running")
        process = worker.process
        assert process is not None and process.stdin is not None and process.stdout is not None
        self._next_id += 1
        request = WorkerRequest(
            id=self._next_id, messages=tuple(messages), params=params, seed=seed
        )
        try:
            process.stdin.write(request.model_dump_json().encode() + b"\n")
            await process.stdin.drain()
            while True:
                line = await process.stdout.readline()
                if not line:
                    break
                answer = WorkerAnswer.model_validate_json(line)
                if answer.id == request.id:
                    break
        except (ConnectionError, BrokenPipeError):
            line = b""
        except asyncio.CancelledError:
            # The request timed out: its answer comes later, and the next request skips it.
            # The worker's KV cache now holds something else than its tip.
            worker.tip = ()
            raise
        if not line:
            code = await process.wait()
            await self._restart(worker, f"died (exit code {code})")
            raise TransientModelError(
                f"embedded {worker.label} died (exit code {code}) while answering; restarted"
            )
        if answer.completion is None:
            worker.tip = ()
            raise PermanentModelError(answer.error or "the embedded worker gave no answer")
        return answer.completion

    async def _restart(self, worker: _Worker, why: str) -> None:
        worker.tip = ()
        worker.ready = False
        worker.restarts += 1
        try:
            await self._start(worker)
        except ModelConfigError as exc:
            raise TransientModelError(
                f"embedded {worker.label} {why} and could not be started again: {exc}"
            ) from exc

    async def _stop(self, worker: _Worker) -> None:
        """End the worker's process (closing its stdin, then by force); nothing if none."""
        process, worker.process, worker.ready = worker.process, None, False
        if process is None or process.returncode is not None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), STOP_WAIT_S)
        except TimeoutError:
            process.kill()
            await process.wait()

    async def aclose(self) -> None:
        await asyncio.gather(*(self._stop(worker) for worker in self._workers))


# --- the worker process ------------------------------------------------------------------------


def _watch_parent(parent_pid: int) -> None:
    """End this process once its parent is gone (its parent id changes when it dies)."""
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_S)
    os._exit(1)


def _reply(out: BinaryIO, answer: WorkerAnswer) -> None:
    out.write(answer.model_dump_json().encode() + b"\n")
    out.flush()


def serve() -> None:
    """A worker process's main loop: load the model, then answer requests from stdin until it
    closes (run by WorkerPool as `python -c`, with WorkerSettings as its argument)."""
    from turnscope.models.llamacpp import LlamaCppClient

    settings = WorkerSettings.model_validate_json(sys.argv[1])
    threading.Thread(target=_watch_parent, args=(settings.parent_pid,), daemon=True).start()
    # Ctrl-C reaches the whole process group: the parent decides when its workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Only answers go to the parent's pipe: whatever else writes to stdout (a library's print)
    # goes to stderr instead.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    try:
        client = LlamaCppClient(
            Path(settings.path),
            n_ctx=settings.n_ctx,
            n_threads=settings.n_threads,
            n_threads_batch=settings.n_threads_batch,
        )
        client.load()
    except ModelConfigError as exc:
        _reply(out, WorkerAnswer(id=0, error=str(exc)))
        return
    _reply(out, WorkerAnswer(id=0))
    for line in sys.stdin.buffer:
        request = WorkerRequest.model_validate_json(line)
        try:
            completion = client.generate_blocking(
                request.messages, request.params, seed=request.seed
            )
        except PermanentModelError as exc:
            _reply(out, WorkerAnswer(id=request.id, error=str(exc)))
            continue
        except Exception as exc:  # a failure of this request, as in one process: not the worker's
            _reply(out, WorkerAnswer(id=request.id, error=f"{type(exc).__name__}: {exc}"))
            continue
        _reply(out, WorkerAnswer(id=request.id, completion=completion))
    client.close()
