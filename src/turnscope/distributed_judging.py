"""Judging on Ray: a run's judge requests answered by a pool of Ray actors that hold the judge
models, while the driver keeps the judge pass itself.

The driver's `JudgePass` is unchanged: it looks each request up in the response cache, retries,
parses verdicts, forms the jury's score and commits every judgment (the run store keeps one
writer). Only the judge *clients* it is given differ: each forwards `generate` to the actor
with the fewest requests in flight, and a request whose actor is lost is sent again to a live
one. docs/design/ray-execution.md says why the pool serves requests rather than whole turns."""

from __future__ import annotations

import asyncio
import contextlib
import math
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from turnscope.core import (
    Completion,
    GenerationParams,
    JudgeSettings,
    Message,
    ModelIdentity,
    OutputConstraint,
    RunConfig,
)
from turnscope.distributed import (
    RayOptions,
    RayUnavailable,
    _actor_options,
    _ray,
    connect,
    disconnect,
)
from turnscope.models import (
    ModelClient,
    ModelConfigError,
    PermanentModelError,
    TransientModelError,
)
from turnscope.run import judge_clients_for

CLOSE_TIMEOUT_S = 10.0
"""How long the judge actors may take to release their clients at the end of a run."""


@dataclass(frozen=True)
class Answer:
    """What a judge actor sends back for one request: a completion or the backend's failure,
    named, so that the driver's retry policy tells a transient failure from a permanent one."""

    completion: Completion | None = None
    """The judge's answer, when it gave one."""
    transient: str | None = None
    """A failure worth retrying (timeout, 429, 5xx), as the backend described it."""
    retry_after_s: float | None = None
    """How long the judge's server asked to wait, with a transient failure."""
    permanent: str | None = None
    """A failure that retrying will not fix (400, context overflow ...)."""

    def unwrap(self) -> Completion:
        """The completion, or the failure raised as the backend would have raised it here."""
        if self.completion is not None:
            return self.completion
        if self.transient is not None:
            raise TransientModelError(self.transient, retry_after_s=self.retry_after_s)
        raise PermanentModelError(self.permanent or "the judge actor sent no answer")


class JudgeServer:
    """The body of one Ray judge actor: builds the run's judge clients from its judge settings
    (nothing of the driver's is pickled) and answers the requests forwarded to it."""

    def __init__(self, settings: JudgeSettings, timeout_s: float, index: int) -> None:
        ray = _ray()
        self.label = f"ray-judge:{index}@{ray.get_runtime_context().get_node_id()[:8]}"
        """The actor and its node, as the driver counts the requests it served."""
        self.clients: list[ModelClient] = []
        self.refused: str | None = None
        """Why the judge clients could not be built here (a GGUF missing on this node ...)."""
        try:
            self.clients = judge_clients_for(settings, timeout_s)
        except ModelConfigError as exc:
            self.refused = str(exc)

    async def preflight(self) -> tuple[str, str | None]:
        """(label, None) once every judge model answers here; (label, the one-line reason)
        when one does not."""
        if self.refused is not None:
            return self.label, self.refused
        try:
            for client in self.clients:
                await client.preflight()
        except ModelConfigError as exc:
            return self.label, str(exc)
        return self.label, None

    async def generate(
        self, judge: int, messages: list[Message], params: GenerationParams, seed: int
    ) -> Answer:
        """One request to judge number `judge` of the run's jury."""
        try:
            completion = await self.clients[judge].generate(messages, params, seed=seed)
        except TransientModelError as exc:
            return Answer(transient=str(exc), retry_after_s=exc.retry_after_s)
        except PermanentModelError as exc:
            return Answer(permanent=str(exc))
        return Answer(completion=completion)

    async def close(self) -> None:
        """Release the judge clients' connections, threads and weights."""
        for client in self.clients:
            await client.aclose()


@dataclass
class JudgeActorCounts:
    """What the judge actors did in one pass, counted by the driver."""

    served_by: Counter[str] = field(default_factory=Counter)
    """Judge requests answered (or failed by the judge's backend), by the actor that sent them."""
    actors: int = 0
    """Judge actors started."""
    lost: int = 0
    """Of those, actors lost mid-run (killed, crashed, or their node gone)."""
    resent: int = 0
    """Requests sent again to a live actor because the one holding them was lost."""


@dataclass
class _Actor:
    """The driver's view of one judge actor."""

    handle: Any
    """Its Ray actor handle."""
    label: str = ""
    """Its `ray-judge:INDEX@NODE` label, once its check answered."""
    in_flight: int = 0
    """Requests sent to it and not answered yet."""
    sent: int = 0
    """Requests sent to it so far: of two actors equally busy, the one that served fewer."""
    alive: bool = True
    """False once it is lost (and killed): nothing is sent to it any more."""


def judge_actor_count(options: RayOptions, cluster: Mapping[str, float], nodes: int) -> int:
    """How many judge actors to start: as asked; else one per node when they ask for nothing
    (an HTTP judge), or as many as the cluster holds beside the play actors. RayUnavailable
    when there is no room: an actor waiting for room would hold its requests forever."""
    asked = {k: v for k, v in options.judge_resources.items() if v > 0}
    if not asked:
        return options.judge_actors or nodes
    shared = sorted(k for k in asked if options.resources.get(k, 0.0) > 0)
    if shared and options.actors is None:
        raise RayUnavailable(
            f"--ray-judge-resource asks for {', '.join(shared)}, which the play actors fill "
            "(as many as the cluster holds): give --ray-actors N to leave room for the judge "
            "actors"
        )
    players = options.actors or 0
    room = min(
        math.floor((cluster.get(k, 0.0) - players * options.resources.get(k, 0.0)) / v)
        for k, v in asked.items()
    )
    wanted = options.judge_actors or max(room, 1)
    if room < wanted:
        each = ", ".join(f"{k}={v:g}" for k, v in asked.items())
        beside = f" beside {players} play actors" if shared else ""
        raise RayUnavailable(
            f"the Ray cluster has room for {max(room, 0)} judge actors asking for {each} "
            f"each{beside}, not {wanted}: add nodes, or ask for fewer actors or resources"
        )
    return wanted


def check_judge_room(options: RayOptions) -> None:
    """RayUnavailable now, before anything is played, if the connected cluster cannot hold
    the judge actors `options` ask for."""
    if options.judge_actors != 0:
        ray = _ray()
        nodes = sum(1 for n in ray.nodes() if n.get("Alive"))
        judge_actor_count(options, ray.cluster_resources(), nodes)


class RayJudgeClient:
    """A ModelClient in the driver that stands for one judge of the jury: it says what the
    driver's own client for that spec says (identity, so the cache keys are a one-process
    run's; enforced constraints) and forwards every request to the judge actors."""

    def __init__(self, pool: JudgeActors, judge: int, local: ModelClient) -> None:
        self._pool = pool
        self._judge = judge
        self._local = local

    @property
    def identity(self) -> ModelIdentity:
        return self._local.identity

    @property
    def max_concurrency(self) -> int | None:
        # --judge-concurrency is the total in flight over every actor, as --concurrency is.
        return None

    def enforces(self, constraint: OutputConstraint) -> bool:
        return self._local.enforces(constraint)

    async def preflight(self) -> None:
        """The actors check their own clients when the pool starts."""

    async def generate(
        self, messages: Sequence[Message], params: GenerationParams, *, seed: int
    ) -> Completion:
        return await self._pool.forward(self._judge, messages, params, seed)

    async def aclose(self) -> None:
        """The pool's actors are released by `JudgeActors.stop`."""


class JudgeActors:
    """The judge actors of one run pass, seen from the driver: `clients` for the judge pass,
    `start` before the first request is answered, `stop` at the end (also after a failure)."""

    def __init__(
        self, options: RayOptions, config: RunConfig, local: Sequence[ModelClient], name: str
    ) -> None:
        self.options = options
        self.settings = config.judging
        self.timeout_s = config.timeout_s
        self.name = name
        """The run directory's name: it names the actors (`ray list actors`)."""
        self.clients: list[ModelClient] = [
            RayJudgeClient(self, index, client) for index, client in enumerate(local)
        ]
        """One forwarding client per judge spec, in the order of `config.judging.judges`."""
        self.counts = JudgeActorCounts()
        self._actors: list[_Actor] = []
        self._ready = asyncio.Event()
        self._never = asyncio.Event()
        self._failure: Exception | None = None
        self._run: asyncio.Task[Any] | None = None
        self._checking: asyncio.Task[None] | None = None
        self._closed = False
        self._made = False

    async def start(self) -> None:
        """Join (or start) Ray if the run is not connected yet and start the actors;
        RayUnavailable with one line if the cluster cannot hold them. Each actor then checks
        its judge models while the run plays (loading a judge beside the play actors' own
        start): a refusal, or every actor lost, cancels the calling task (see `failure`)."""
        ray = _ray()
        self._made = connect(self.options.address)
        nodes = [n["NodeID"] for n in ray.nodes() if n.get("Alive")]
        count = judge_actor_count(self.options, ray.cluster_resources(), len(nodes))
        placement = _actor_options(self.options.judge_resources)
        remote = ray.remote(JudgeServer)
        prefix = f"turnscope-judge/{self.name}/{uuid.uuid4().hex[:8]}"
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        anywhere = not any(v > 0 for v in self.options.judge_resources.values())
        for index in range(count):
            # Asking for nothing, they would all land beside the driver (Ray's soft affinity
            # does that too): pinned, one per node. A node gone meanwhile loses its actor.
            where: Any = (
                NodeAffinitySchedulingStrategy(nodes[index % len(nodes)], soft=False)
                if anywhere
                else "SPREAD"
            )
            handle = remote.options(
                name=f"{prefix}/{index}", scheduling_strategy=where, **placement
            ).remote(self.settings, self.timeout_s, index)
            self._actors.append(_Actor(handle))
        self.counts.actors = count
        self._run = asyncio.current_task()
        self._checking = asyncio.create_task(self._check())

    async def _check(self) -> None:
        from ray.exceptions import RayActorError

        checks = await asyncio.gather(
            *(actor.handle.preflight.remote() for actor in self._actors), return_exceptions=True
        )
        for actor, check in zip(self._actors, checks, strict=True):
            if isinstance(check, RayActorError):
                self._lose(actor)
            elif isinstance(check, Exception):  # unschedulable, a crash while starting ...
                first = (str(check).strip().splitlines() or [type(check).__name__])[0][:300]
                self._fail(RayUnavailable(f"a Ray judge actor could not start: {first}"))
            elif isinstance(check, tuple):
                actor.label, refused = check
                if refused is not None:
                    self._fail(ModelConfigError(f"judge actor {actor.label}: {refused}"))
        self._ready.set()

    async def forward(
        self, judge: int, messages: Sequence[Message], params: GenerationParams, seed: int
    ) -> Completion:
        """Send one judge request to the actor with the fewest in flight; again to a live one
        while the actor holding it is lost."""
        from ray.exceptions import RayActorError, RayTaskError

        await self._ready.wait()
        first = True
        while True:
            live = [actor for actor in self._actors if actor.alive]
            if not live or self._failure is not None or self._closed:
                # The run is being cancelled or stopped: no judgment is made of this request.
                await self._never.wait()
            actor = min(live, key=lambda a: (a.in_flight, a.sent))
            self.counts.resent += not first
            first = False
            ref = actor.handle.generate.remote(judge, list(messages), params, seed)
            actor.in_flight += 1
            actor.sent += 1
            try:
                answer: Answer = await ref
            except RayActorError:
                self._lose(actor)
                continue
            except RayTaskError as exc:
                # A backend bug on the actor fails this request, as it would in one process,
                # with the bug's own line rather than Ray's remote traceback.
                cause = exc.cause if isinstance(exc.cause, BaseException) else exc
                line = (str(cause).strip().splitlines() or [""])[0][:300]
                raise PermanentModelError(f"{type(cause).__name__}: {line}") from None
            except asyncio.CancelledError:
                # A timeout or a stopped run: the actor need not go on asking the judge.
                with contextlib.suppress(Exception):
                    _ray().cancel(ref)
                raise
            finally:
                actor.in_flight -= 1
            self.counts.served_by[actor.label] += 1
            return answer.unwrap()

    def _lose(self, actor: _Actor) -> None:
        if not actor.alive or self._closed:
            return
        actor.alive = False
        self.counts.lost += 1
        # An actor that is only unreachable may still be asking: stop it for good.
        with contextlib.suppress(Exception):
            _ray().kill(actor.handle, no_restart=True)
        if not any(a.alive for a in self._actors):
            self._fail(
                RayUnavailable(
                    "every Ray judge actor was lost; the judgments not made yet are left for a "
                    "resume (every finished turn and judgment is saved): resume the run"
                )
            )

    def _fail(self, failure: Exception) -> None:
        """Stop the run (cancel the task that started the pool) for `failure`, once."""
        if self._failure is not None or self._closed:
            return
        self._failure = failure
        if self._run is not None and not self._run.done():
            self._run.cancel()

    def failure(self) -> Exception | None:
        """Why the calling task was cancelled, when the pool did it (a judge model refused on
        an actor, or its last actor was lost); the cancellation is then taken back, and the
        caller raises this instead."""
        if self._failure is not None and self._run is not None:
            self._run.uncancel()
        return self._failure

    async def stop(self) -> None:
        """Release the actors, and leave Ray if `start` joined it. Requests still waiting for
        an answer wait for the judge pass to cancel them; no failure stops the run any more."""
        self._closed = True
        if self._checking is not None:
            self._checking.cancel()
            await asyncio.gather(self._checking, return_exceptions=True)
        if not self._actors and not self._made:
            return
        ray = _ray()
        closing = [asyncio.ensure_future(a.handle.close.remote()) for a in self._actors if a.alive]
        # An actor still waiting for room (or stuck loading) would hold the run open: killed
        # below all the same.
        if closing:
            _, late = await asyncio.wait(closing, timeout=CLOSE_TIMEOUT_S)
            for future in late:
                future.cancel()
            await asyncio.gather(*closing, return_exceptions=True)
        for actor in self._actors:
            with contextlib.suppress(Exception):
                ray.kill(actor.handle)
        self._actors.clear()
        if self._made:
            self._made = False
            disconnect()
