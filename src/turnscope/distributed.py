"""Ray execution: a run's conversations sharded over Ray actors that play them with the ordinary
engine and stream the finished records back; the driver commits them to the run store.

The driver stays the run store's only writer, so resume, the cache, judging and everything
downstream see a Ray run exactly as a one-process one. Ray is imported only here, and only when
a run asks for it (`pip install 'turnscope[ray]'`). docs/ray.md is the user's guide;
docs/design/ray-execution.md says how records flow back and how a lost actor is replaced."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from turnscope.core import TARGET_ROLE, Item, RunConfig, TurnRecord
from turnscope.engine import (
    Conversation,
    EngineResult,
    ModelCaller,
    ResponseCache,
    RunPlan,
    needs_judging,
    play_conversations,
)
from turnscope.run import client_for, make_callers, role_clients_for
from turnscope.store import ConversationKey, RunStore, TurnRow, turn_row

PROBE_TIMEOUT_S = 5.0
"""How long the driver waits for a TCP connection to the cluster's head before it gives up."""
MAX_ADDRESS_CHARS = 200


class RayUnavailable(Exception):
    """Ray is not installed, its cluster cannot be reached or cannot hold the actors asked
    for, or every actor was lost: one line that says what to do."""


@dataclass(frozen=True)
class RayOptions:
    """Where and how a run is spread over Ray."""

    address: str | None = None
    """HOST:PORT of the cluster's head (or "auto", or a ray:// client address); None starts
    Ray on this machine for the run and stops it afterwards."""
    actors: int | None = None
    """Actors that play conversations; None: as many as the cluster's resources hold."""
    resources: Mapping[str, float] = field(default_factory=lambda: {"CPU": 1.0})
    """What each actor asks Ray for: CPU, GPU, memory or a custom resource its nodes declare
    (so that one actor lands beside each local model server, say)."""
    judge_actors: int | None = None
    """Actors that serve the run's judge requests (distributed_judging.py); None: one per node,
    or as many as `judge_resources` hold beside the play actors; 0: the driver judges."""
    judge_resources: Mapping[str, float] = field(default_factory=dict)
    """What each judge actor asks Ray for (e.g. GPU=1 for a judge model on each GPU); nothing
    by default, as an HTTP judge's actor only waits on its server."""
    linger_s: float = 0.25
    """How long an actor lets finished records gather before it sends them back together
    (fewer, larger messages: the driver's CPU per record falls)."""


@dataclass(frozen=True)
class Batch:
    """Conversations the driver gives an actor to play, as text: Ray would pickle models
    object by object, at a measured quarter of the driver's CPU."""

    items: dict[str, str]
    """Item id -> the item's JSON, once however many of its conversations the batch holds."""
    conversations: list[ConversationKey]
    """The conversations to play."""
    prior: dict[ConversationKey, list[str]]
    """The records committed for a conversation already (a resumed run, or a lost actor's),
    as JSON."""


def _batch(
    conversations: Sequence[Conversation], prior: Mapping[ConversationKey, list[TurnRecord]]
) -> Batch:
    items: dict[str, str] = {}
    keys: list[ConversationKey] = []
    for c in conversations:
        if c.item.id not in items:
            items[c.item.id] = c.item.model_dump_json()
        keys.append((c.item.id, c.condition, c.sample))
    texts = {key: [r.model_dump_json() for r in records] for key, records in prior.items()}
    return Batch(items, keys, texts)


@dataclass(frozen=True)
class Delivery:
    """What an actor sends back at a time: its records already encoded as the run store's
    rows, which the driver inserts as they are (it decodes only those it must hand on)."""

    rows: list[TurnRow]
    """Finished records as `turn_row` encodes them, in the order they were played (served_by
    set)."""
    judge: list[int]
    """Positions in `rows` of the records a judge still has to score (a run with judges)."""
    served_by: str
    """The actor that played them (what their served_by says)."""
    finished: list[tuple[ConversationKey, int]]
    """Conversations played to their end, each with the planned target turns it did not
    record (it ended early: solved, stopped by its user, or by an error)."""
    requests: dict[str, tuple[int, int]]
    """Per role, (requests sent, cache hits) by this actor so far."""


@dataclass
class RayOutcome:
    """What a Ray pass did, counted by the driver from what it committed."""

    engine: EngineResult
    requests: dict[str, tuple[int, int]]
    """Per role, (requests sent, cache hits) summed over the actors, as each last reported
    (a lost actor's requests after its last delivery are not counted)."""
    served_by: Counter[str] = field(default_factory=Counter)
    """Target turns committed in this pass, by the actor that played them."""
    actors: int = 0
    """Actors started."""
    lost: int = 0
    """Of those, actors lost mid-run (killed, crashed, or their node gone)."""


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RayUnavailable("--ray needs Ray: pip install 'turnscope[ray]'") from None
    return ray


def _probe(address: str) -> None:
    """A clear error within PROBE_TIMEOUT_S for a head that does not answer, instead of Ray's
    own retries (a minute or more) and its multi-line log."""
    shown = repr(address[:MAX_ADDRESS_CHARS])
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise RayUnavailable(
            f"--ray {shown}: expected HOST:PORT of the cluster's head (e.g. 10.0.0.5:6379), "
            "auto, or nothing to start Ray on this machine"
        )
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_TIMEOUT_S):
            pass
    except OSError as exc:
        raise RayUnavailable(
            f"cannot reach the Ray cluster at {shown}: {exc.strerror or exc}; is `ray start "
            "--head` running there, and is the port open?"
        ) from None


def connect(address: str | None) -> bool:
    """Connect this process to the Ray cluster at `address`, or start Ray here when None;
    RayUnavailable when it cannot. False when the process was connected already (a notebook, a
    test): that connection is used as it is and left open."""
    ray = _ray()
    if address is not None and address != "auto" and not address.startswith("ray://"):
        _probe(address)
    if ray.is_initialized():
        return False
    # Ray's usage statistics report to the internet; a run sends nothing anywhere unasked.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # A Ray started for one run is seen by nobody else: no dashboard, and no metrics, which
    # every Ray process would otherwise record and export for a scraper that is not there.
    lean = {"include_dashboard": False, "_system_config": {"enable_metrics_collection": False}}
    local: dict[str, Any] = {} if address else lean
    try:
        # "local": a Ray of the run's own, even where RAY_ADDRESS or a `ray start` on this
        # machine would otherwise be joined (and refuse the lean settings); `--ray auto` joins.
        ray.init(
            address=address or "local",
            logging_level=logging.ERROR,
            log_to_driver=False,
            **local,
        )
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError ... here
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        where = f"at {address[:MAX_ADDRESS_CHARS]!r}" if address else "on this machine"
        raise RayUnavailable(f"cannot start or join Ray {where}: {first}") from None
    return True


def disconnect() -> None:
    """Leave Ray (and stop it, if this process started it)."""
    _ray().shutdown()


@contextmanager
def ray_session(address: str | None) -> Iterator[None]:
    """Ray connected for the block; left afterwards if the block's connect made it."""
    made = connect(address)
    try:
        yield
    finally:
        if made:
            disconnect()


class ConversationPlayer:
    """The body of one Ray actor: builds the run's model clients from its config (nothing of
    the driver's is pickled) and plays the conversations it is given."""

    def __init__(self, config: RunConfig, index: int, driver_ip: str, share: int) -> None:
        ray = _ray()
        self.label = f"ray:{index}@{ray.get_runtime_context().get_node_id()[:8]}"
        """What its records say in `served_by`: the actor and its node."""
        self.config = config
        # The response cache is a SQLite file on the driver's machine: an actor there uses it
        # as any process would (WAL, one writer at a time); an actor on another machine plays
        # without it rather than keep a second, diverging cache on a disk of its own.
        here = ray.util.get_node_ip_address() == driver_ip
        self.cache = (
            ResponseCache(Path(config.cache_path))
            if here and config.use_cache and config.cache_path
            else None
        )
        self.callers: dict[str, ModelCaller] = make_callers(
            config, client_for(config), role_clients_for(config), self.cache
        )
        backend = self.callers[TARGET_ROLE].client.max_concurrency
        self.gate = asyncio.Semaphore(min(share, backend) if backend else share)
        """Its share of the run's conversations in flight, across every batch it plays."""

    def counts(self) -> dict[str, tuple[int, int]]:
        return {name: (c.requests_sent, c.cache_hits) for name, c in self.callers.items()}

    async def play(self, batch: Batch, linger_s: float) -> AsyncIterator[Delivery]:
        """Play the batch's conversations (from their prior records, as a resumed run does)
        and yield what finishes, a few records at a time, until every one has ended."""
        items = {key: Item.model_validate_json(text) for key, text in batch.items.items()}
        conversations = [Conversation(items[i], c, s) for i, c, s in batch.conversations]
        prior = {
            key: [TurnRecord.model_validate_json(text) for text in texts]
            for key, texts in batch.prior.items()
        }
        finished: list[tuple[ConversationKey, int]] = []
        ready = asyncio.Event()
        judged = items if self.config.judging.judges else None
        sink = _Forwarder(prior, ready, self.label, judged)

        async def one(conversation: Conversation) -> None:
            try:
                async with self.gate:
                    result = await play_conversations(
                        RunPlan([conversation]), self.config, self.callers, sink
                    )
                left = conversation.turn_count - result.turns_already_done - result.turns_recorded
                key = (conversation.item.id, conversation.condition, conversation.sample)
                finished.append((key, max(left, 0)))
            finally:
                ready.set()

        tasks = [asyncio.create_task(one(c)) for c in conversations]
        try:
            while True:
                await ready.wait()
                await asyncio.sleep(linger_s)
                ready.clear()
                for task in tasks:
                    if task.done() and task.exception() is not None:
                        raise task.exception()  # type: ignore[misc]
                delivery = Delivery(
                    sink.rows, sink.judge, self.label, list(finished), self.counts()
                )
                sink.rows, sink.judge = [], []
                finished.clear()
                yield delivery
                if all(task.done() for task in tasks) and not sink.rows and not finished:
                    return
        finally:
            for task in tasks:
                task.cancel()

    async def close(self) -> None:
        """Release the clients' connections and the cache."""
        for caller in self.callers.values():
            await caller.client.aclose()
        if self.cache is not None:
            self.cache.close()


class _Forwarder:
    """The RecordSink inside an actor: earlier records come from the driver, finished ones
    are encoded as store rows into the outbox the actor streams back."""

    def __init__(
        self,
        prior: dict[ConversationKey, list[TurnRecord]],
        ready: asyncio.Event,
        label: str,
        judged: Mapping[str, Item] | None,
    ) -> None:
        self.prior = prior
        self.ready = ready
        self.label = label
        self.judged = judged
        """The batch's items by id when the run has judges (None: nothing is judged)."""
        self.rows: list[TurnRow] = []
        """The outbox: rows not sent yet."""
        self.judge: list[int] = []
        """Positions in `rows` of the records that need judging."""

    def conversation_records(self, item_id: str, condition: str, sample: int) -> list[TurnRecord]:
        return self.prior.pop((item_id, condition, sample), [])

    def commit(self, record: TurnRecord) -> None:
        self.commit_many((record,))

    def commit_many(self, records: Sequence[TurnRecord]) -> None:
        for record in records:
            stamped = record.model_copy(update={"served_by": self.label})
            if self.judged is not None and needs_judging(self.judged[record.item_id], stamped):
                self.judge.append(len(self.rows))
            self.rows.append(turn_row(stamped))
        self.ready.set()


def _answered_turns(records: Sequence[TurnRecord]) -> int:
    return len({r.turn for r in records if r.role == TARGET_ROLE and r.response is not None})


def actor_count(options: RayOptions, cluster: Mapping[str, float]) -> int:
    """How many actors to start: as asked, or as many as the cluster's resources hold;
    RayUnavailable when it holds fewer than asked (they would wait for room forever)."""
    wanted = {k: v for k, v in options.resources.items() if v > 0}
    room = min((math.floor(cluster.get(k, 0.0) / v) for k, v in wanted.items()), default=None)
    asked = ", ".join(f"{k}={v:g}" for k, v in options.resources.items()) or "nothing"
    if room is not None and room < (options.actors or 1):
        raise RayUnavailable(
            f"the Ray cluster has room for {room} actors asking for {asked} each, not "
            f"{options.actors or 1}: add nodes, or ask for fewer actors or resources"
        )
    if options.actors is not None:
        return options.actors
    return room if room is not None else os.cpu_count() or 1


def check_room(options: RayOptions) -> None:
    """RayUnavailable now, before anything is played, if the connected cluster cannot hold
    the actors `options` ask for."""
    actor_count(options, _ray().cluster_resources())


def _actor_options(resources: Mapping[str, float]) -> dict[str, Any]:
    custom = {k: v for k, v in resources.items() if k not in ("CPU", "GPU", "memory")}
    return {
        "num_cpus": resources.get("CPU", 0.0),
        "num_gpus": resources.get("GPU", 0.0),
        **({"memory": resources["memory"]} if "memory" in resources else {}),
        **({"resources": custom} if custom else {}),
    }


async def play_on_ray(
    plan: RunPlan,
    config: RunConfig,
    sink: RunStore,
    options: RayOptions,
    *,
    name: str,
    on_turn: Callable[[str, bool], None] | None = None,
    on_judge: Callable[[TurnRecord], None] | None = None,
    on_record: Callable[[TurnRecord], None] | None = None,
    on_turns_left_out: Callable[[int], None] | None = None,
) -> RayOutcome:
    """Play the plan's unfinished conversations on Ray actors (Ray connected already) and
    commit every record they send back to `sink`, the only writer. A lost actor's unfinished
    conversations are played again by the live ones from their committed records, so no
    committed turn is asked again. `name` (the run directory's) names the actors.

    Once committed, each record's role and failure go to `on_turn`; the records that need
    judging are decoded for `on_judge`, and every record is decoded for `on_record` (given
    only when a caller needs them all: the driver's CPU per record is its decoding)."""
    ray = _ray()
    from ray.exceptions import RayActorError

    outcome = RayOutcome(EngineResult(), {})
    todo: list[tuple[Conversation, list[TurnRecord]]] = []
    for conversation in plan.conversations:
        c = conversation
        prior = sink.conversation_records(c.item.id, c.condition, c.sample)
        done = _answered_turns(prior)
        outcome.engine.turns_already_done += done
        if done < c.turn_count:
            todo.append((c, prior))
    if not todo:
        return outcome
    count = min(actor_count(options, ray.cluster_resources()), len(todo))
    share = max(1, math.ceil(config.concurrency / count))
    remote = ray.remote(ConversationPlayer)
    placement = _actor_options(options.resources)
    driver_ip = ray.util.get_node_ip_address()
    # Named, so that `ray list actors` tells whose they are; the pass's own token keeps the
    # names unique while the actors of an earlier pass of the same run are still going away.
    prefix = f"turnscope/{name}/{uuid.uuid4().hex[:8]}"
    actors = [
        remote.options(name=f"{prefix}/{index}", **placement).remote(
            config, index, driver_ip, share
        )
        for index in range(count)
    ]
    outcome.actors = count
    owned: list[dict[ConversationKey, Conversation]] = [{} for _ in actors]
    reported: list[dict[str, tuple[int, int]]] = [{} for _ in actors]
    lost: set[int] = set()
    streams: set[asyncio.Task[None]] = set()
    result = outcome.engine

    def take(index: int, delivery: Delivery) -> None:
        mine = owned[index]
        # Records played by an actor that has since been written off for their conversation
        # are dropped: another actor plays it. The rest are committed in one transaction
        # before any of them is counted or shown.
        judge = set(delivery.judge)
        accepted = [
            (position, row)
            for position, row in enumerate(delivery.rows)
            if (row[0], row[1], row[2]) in mine
        ]
        if accepted:
            sink.commit_rows([row for _, row in accepted])
        for position, row in accepted:
            role, failed = row[4], row[5] is not None
            if role == TARGET_ROLE:
                result.turns_recorded += 1
                result.turn_errors += failed
                outcome.served_by[delivery.served_by] += 1
            else:
                result.role_records[role] += 1
                result.role_errors[role] += failed
            if on_turn is not None:
                on_turn(role, failed)
            judged = on_judge is not None and position in judge
            if judged or on_record is not None:
                record = TurnRecord.model_validate_json(row[7])
                if judged and on_judge is not None:
                    on_judge(record)
                if on_record is not None:
                    on_record(record)
        for key, left in delivery.finished:
            if mine.pop(key, None) is not None and left and on_turns_left_out is not None:
                on_turns_left_out(left)
        reported[index] = delivery.requests

    def dispatch(index: int, batch: Sequence[tuple[Conversation, list[TurnRecord]]]) -> None:
        prior: dict[ConversationKey, list[TurnRecord]] = {}
        for c, records in batch:
            key = (c.item.id, c.condition, c.sample)
            owned[index][key] = c
            if records:
                prior[key] = records
        batched = _batch([c for c, _ in batch], prior)
        deliveries = actors[index].play.remote(batched, options.linger_s)
        streams.add(asyncio.create_task(stream(index, deliveries)))

    async def stream(index: int, deliveries: Any) -> None:
        try:
            async for ref in deliveries:
                take(index, await ref)
        except RayActorError:
            replace(index)

    def replace(index: int) -> None:
        if index not in lost:
            lost.add(index)
            outcome.lost += 1
            # An actor that is only unreachable may still be playing: stop it, so that no
            # turn is asked by two actors at once.
            ray.kill(actors[index], no_restart=True)
        orphans = list(owned[index].values())
        owned[index].clear()
        if not orphans:
            return
        live = [i for i in range(count) if i not in lost]
        if not live:
            raise RayUnavailable(
                f"every Ray actor was lost; {len(orphans)} conversations are unfinished (every "
                "finished turn is saved): resume the run"
            )
        for slot, index_ in enumerate(live):
            part = orphans[slot :: len(live)]
            if part:
                # From what is committed now: their turns are not asked again.
                dispatch(
                    index_,
                    [
                        (c, sink.conversation_records(c.item.id, c.condition, c.sample))
                        for c in part
                    ],
                )

    for index in range(count):
        dispatch(index, todo[index::count])
    try:
        while streams:
            ended, _ = await asyncio.wait(streams, return_when=asyncio.FIRST_COMPLETED)
            for task in ended:
                streams.discard(task)
                task.result()
    finally:
        for task in streams:
            task.cancel()
        await asyncio.gather(*streams, return_exceptions=True)
        closing = [actors[i].close.remote() for i in range(count) if i not in lost]
        await asyncio.gather(*closing, return_exceptions=True)
        for actor in actors:
            ray.kill(actor)
    totals: dict[str, tuple[int, int]] = {}
    for counts in reported:
        for role, (sent, hits) in counts.items():
            before = totals.get(role, (0, 0))
            totals[role] = (before[0] + sent, before[1] + hits)
    outcome.requests = totals
    return outcome
