"""A per-conversation summary of every run the viewer shows, kept in an in-memory SQLite
database and brought up to date from the run stores incrementally.

The conversations table of a run (filter, sort, page) needs per-conversation figures: mean
turn score, errors, simulator flags, judge disagreement. Computing them from a 1,000,000-turn
store on every request would read every record, and holding the records in Python would not
fit. So SQLite computes each conversation's figures once (RunStore.conversation_summaries),
they are kept here as one row, and later only the conversations with records or judgments
written since are computed again (RunStore.high_water, changed_conversations)."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from turnscope.store import ConversationKey, RunStore

DISAGREEMENT = 0.3
"""Judges disagree on an answer when their verdict values (in [0, 1]) span at least this much:
three grade points on a 1..10 scale, or a yes against a no."""
FULL_REBUILD = 2000
"""Past this many changed conversations a refresh recomputes the whole run in one pass,
cheaper than that many keyed lookups."""
BATCH = 1000
"""Conversations added to the index per transaction (and per hold of its lock) by a build."""
KEPT_COUNTS = 256
"""Filters whose match counts a run keeps at most."""
FLAG_SEPARATOR = "\n"
SORTS = {
    "item": "position, condition, sample",
    "score": "mean, position, condition, sample",
    "-score": "mean DESC, position DESC, condition DESC, sample DESC",
    "errors": "errors DESC, position, condition, sample",
    "disagreement": "disagreement DESC, position, condition, sample",
}
"""The orders the conversations table offers, by name (only these texts reach SQL). SQLite
puts NULL first: the lowest scores start with the conversations an error left unscored, as
the report's worst conversations do. The indexes below serve each order, with or without a
condition filter, so a deep page steps through an index instead of sorting."""
_COLUMNS = (
    "item_id, condition, sample, family, turns, scored, mean, low, errors, last_turn, flags, "
    "disagreement"
)
_SCHEMA = """
CREATE TABLE items (
    run INTEGER NOT NULL, id TEXT NOT NULL, position INTEGER NOT NULL, family TEXT NOT NULL,
    PRIMARY KEY (run, id)
);
CREATE TABLE convs (
    run INTEGER NOT NULL, item_id TEXT NOT NULL, condition TEXT NOT NULL,
    sample INTEGER NOT NULL, position INTEGER NOT NULL, family TEXT NOT NULL,
    turns INTEGER NOT NULL, scored INTEGER NOT NULL, mean REAL, low REAL,
    errors INTEGER NOT NULL, last_turn INTEGER NOT NULL, flags TEXT NOT NULL,
    disagreement REAL,
    PRIMARY KEY (run, item_id, condition, sample)
);
CREATE INDEX convs_by_position ON convs (run, position, condition, sample);
CREATE INDEX convs_by_mean ON convs (run, mean, position, condition, sample);
CREATE INDEX convs_by_condition ON convs (run, condition, position, sample);
CREATE INDEX convs_by_condition_mean ON convs (run, condition, mean, position, sample);
"""


@dataclass(frozen=True)
class Filters:
    """What the conversations table is narrowed to; empty or None: no constraint."""

    family: str = ""
    condition: str = ""
    sample: int | None = None
    min_score: float | None = None
    max_score: float | None = None
    errors: str = ""
    """ "yes": only conversations with an error; "no": only those without."""
    disagreement: bool = False
    """Only conversations where judges disagree on some answer."""
    flag: str = ""
    """Only conversations with a record carrying this flag."""
    item: str = ""
    """Only items whose id contains this text."""

    def sql(self) -> tuple[str, list[Any]]:
        """The WHERE conditions to add after `run = ?`, and their arguments."""
        parts: list[str] = []
        args: list[Any] = []
        for column, value in (("family", self.family), ("condition", self.condition)):
            if value:
                parts.append(f"{column} = ?")
                args.append(value)
        for test, number in (
            ("sample = ?", self.sample),
            ("mean >= ?", self.min_score),
            ("mean <= ?", self.max_score),
        ):
            if number is not None:
                parts.append(test)
                args.append(number)
        if self.errors == "yes":
            parts.append("errors > 0")
        elif self.errors == "no":
            parts.append("errors = 0")
        if self.disagreement:
            parts.append("disagreement >= ?")
            args.append(DISAGREEMENT)
        if self.flag:
            parts.append("instr(flags, ?) > 0")
            args.append(f"{FLAG_SEPARATOR}{self.flag}{FLAG_SEPARATOR}")
        if self.item:
            parts.append("instr(item_id, ?) > 0")
            args.append(self.item)
        return "".join(f" AND {p}" for p in parts), args


@dataclass(frozen=True)
class ConversationRow:
    """One played conversation's figures, as the conversations table shows them."""

    item_id: str
    condition: str
    sample: int
    family: str
    turns: int
    scored: int
    mean: float | None
    low: float | None
    """Its lowest turn score."""
    errors: int
    last_turn: int
    flags: tuple[str, ...]
    disagreement: float | None
    """The largest spread of judges' verdict values on one of its answers."""


@dataclass(frozen=True)
class Facets:
    """The values a run's conversations can be filtered by."""

    families: list[str]
    conditions: list[str]
    samples: list[int]
    flags: list[str]


@dataclass(frozen=True)
class ConditionFigures:
    """One condition of a run: its conversations, their mean score, those with errors."""

    condition: str
    conversations: int
    mean: float | None
    with_errors: int


@dataclass(frozen=True)
class PairedFigures:
    """Compared runs on the conversations of one condition that every one of them scored."""

    condition: str
    n: int
    means: list[float | None]
    """Each run's mean conversation score over those conversations."""


@dataclass(frozen=True)
class PairedItem:
    """One conversation scored by every compared run, with its score in each."""

    item_id: str
    condition: str
    sample: int
    family: str
    means: list[float | None]
    spread: float | None
    """Highest minus lowest score among the runs."""


def _flags(concatenated: str | None) -> str:
    """A conversation's distinct flags as stored here: each between separators."""
    if not concatenated:
        return ""
    names: set[str] = set()
    for chunk in concatenated.split("\x01"):
        try:
            parsed = json.loads(chunk)
        except ValueError:
            continue
        if isinstance(parsed, list):
            names.update(f for f in parsed if isinstance(f, str))
    if not names:
        return ""
    return FLAG_SEPARATOR + FLAG_SEPARATOR.join(sorted(names)) + FLAG_SEPARATOR


def _row(r: Sequence[Any]) -> ConversationRow:
    return ConversationRow(
        item_id=r[0],
        condition=r[1],
        sample=r[2],
        family=r[3],
        turns=r[4],
        scored=r[5],
        mean=r[6],
        low=r[7],
        errors=r[8],
        last_turn=r[9],
        flags=tuple(f for f in r[10].split(FLAG_SEPARATOR) if f),
        disagreement=r[11],
    )


class Summarising(Exception):
    """A run's conversations are being summarised for the first time; pages that need them
    say so and reload instead of waiting (a 1,000,000-turn run takes a minute)."""

    def __init__(self, run_dir: Path, done: int) -> None:
        super().__init__(f"{run_dir}: {done:,} conversations summarised so far")
        self.done = done


class _Run:
    """One run known to the index: its store and how far it has been summarised."""

    def __init__(self, number: int, store: RunStore) -> None:
        self.number = number
        self.store = store
        self.seen = (0, 0)
        """The store's high water when it was last summarised."""
        self.items: dict[str, tuple[int, str]] = {}
        """Item id -> (position, family)."""
        self.ready = False
        """Every conversation up to `seen` is in the index."""
        self.building: threading.Thread | None = None
        """The thread summarising the whole run now, if any."""
        self.done = 0
        """Conversations the current build has put in the index so far."""
        self.error: BaseException | None = None
        """Why the last build failed (a damaged store)."""
        self.facets: Facets | None = None
        """The filter values, kept until the run changes (each is a scan of its rows)."""
        self.by_condition: list[ConditionFigures] | None = None
        """The figures per condition, kept likewise."""
        self.counts: dict[tuple[str, tuple[Any, ...]], int] = {}
        """Conversations matching a filter (its SQL and arguments), kept likewise: paging
        through a filtered table counts once."""

    def changed(self) -> None:
        """Forget the figures kept since the run was last summarised."""
        self.facets = None
        self.by_condition = None
        self.counts.clear()


class ViewerIndex:
    """Conversation summaries of every opened run. Every method takes one lock: the viewer's
    worker threads share the connections, one at a time. A whole run is summarised by a thread
    of its own with its own store connection, holding the lock only to add each batch."""

    def __init__(self) -> None:
        self._db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        self._db.executescript(_SCHEMA)
        self._lock = threading.RLock()
        self._runs: dict[Path, _Run] = {}
        self._closed = False

    @property
    def lock(self) -> threading.RLock:
        """Held while using a store returned by `store`."""
        return self._lock

    def store(self, run_dir: Path) -> RunStore:
        """The run's store, opened (StoreError if it is not a run); its summaries are brought
        up to date, or their first build is started. Use it while holding `lock`."""
        with self._lock:
            return self._run(run_dir).store

    def summarise(self, run_dir: Path) -> None:
        """Bring the run's summaries up to date and wait for it (a first build included)."""
        with self._lock:
            run = self._run(run_dir)
            building = run.building
        if building is not None:
            building.join()
        with self._lock:
            if run.error is not None:
                raise run.error
            self._refresh(run)

    def forget(self, run_dir: Path) -> None:
        """Drop a run (its store could not be read): the next request opens it again."""
        with self._lock:
            run = self._runs.pop(run_dir, None)
            if run is not None:
                run.store.close()
                self._db.execute("DELETE FROM convs WHERE run = ?", (run.number,))
                self._db.execute("DELETE FROM items WHERE run = ?", (run.number,))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for run in self._runs.values():
                run.store.close()
            self._runs.clear()
            self._db.close()

    def _run(self, run_dir: Path) -> _Run:
        run = self._runs.get(run_dir)
        if run is None:
            number = max((r.number for r in self._runs.values()), default=0) + 1
            run = _Run(number, RunStore.open(run_dir, threads=True))
            try:
                self._load_items(run)
            except BaseException:
                run.store.close()
                raise
            self._runs[run_dir] = run
        self._refresh(run)
        return run

    def _ready(self, run_dir: Path) -> _Run:
        """The run, summarised up to now; Summarising while its first build runs."""
        run = self._run(run_dir)
        if run.error is not None:
            error, run.error = run.error, None
            self.forget(run_dir)
            raise error
        if not run.ready:
            raise Summarising(run_dir, run.done)
        return run

    def _load_items(self, run: _Run) -> None:
        run.items = {i: (p, f) for i, p, f in run.store.item_positions()}
        self._db.executemany(
            "INSERT INTO items (run, id, position, family) VALUES (?, ?, ?, ?)",
            [(run.number, i, p, f) for i, (p, f) in run.items.items()],
        )

    def _refresh(self, run: _Run) -> None:
        """Recompute the conversations whose records or judgments changed since last time: a
        few at once, many (or the first time) by a build in the background."""
        if run.building is not None or run.error is not None:
            return
        top = run.store.high_water()
        if top == run.seen:
            return
        if run.ready:
            changed = run.store.changed_conversations(run.seen, top)
            if len(changed) <= FULL_REBUILD:
                self._summarise(run, sorted(changed))
                run.seen = top
                run.changed()
                return
        # The old rows stay in view until the rebuild replaces them (conversations are never
        # removed from a store, only added to).
        run.done = 0
        run.building = threading.Thread(
            target=self._build, args=(run,), name=f"summarise-{run.number}", daemon=True
        )
        run.building.start()

    def _build(self, run: _Run) -> None:
        """Summarise the whole run from a connection of this thread's own."""
        try:
            store = RunStore.open(run.store.run_dir)
            try:
                top = store.high_water()
                self._summarise(run, None, source=store)
            finally:
                store.close()
        except BaseException as exc:
            with self._lock:
                run.building = None
                run.error = exc
            return
        with self._lock:
            run.building = None
            run.seen = top
            run.ready = True
            run.changed()

    def _summarise(
        self,
        run: _Run,
        keys: Sequence[ConversationKey] | None,
        *,
        source: RunStore | None = None,
    ) -> None:
        """Compute the figures of `keys` (None: of every conversation) and store them. The
        summaries stream from the store's cursor into the index in batches: a run's
        conversations are never all held in Python at once (only the judge spreads, one per
        judged one). `source`: a store connection of the calling thread, read without the
        lock (which is then taken for each batch only)."""
        store = source or run.store
        scopes: Sequence[ConversationKey | None] = keys if keys is not None else [None]
        spreads: dict[ConversationKey, float] = {}
        for key in scopes:
            spreads.update(((i, c, s), v) for i, c, s, v in store.judge_spreads(key))
        batch: list[tuple[Any, ...]] = []
        for key in scopes:
            for s in store.conversation_summaries(key):
                batch.append(
                    (
                        run.number,
                        s.item_id,
                        s.condition,
                        s.sample,
                        *run.items.get(s.item_id, (-1, "?")),
                        s.turns,
                        s.scored,
                        s.mean,
                        s.low,
                        s.errors,
                        s.last_turn,
                        _flags(s.flags),
                        spreads.get((s.item_id, s.condition, s.sample)),
                    )
                )
                if len(batch) >= BATCH:
                    if not self._insert(run, batch):
                        return
                    batch = []
        self._insert(run, batch)

    def _insert(self, run: _Run, rows: list[tuple[Any, ...]]) -> bool:
        """Add a batch of summaries; False once the index is closed (a build stops)."""
        with self._lock:
            if self._closed:
                return False
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO convs (run, item_id, condition, sample, position, "
                    "family, turns, scored, mean, low, errors, last_turn, flags, disagreement) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            run.done += len(rows)
            return True

    # --- queries ------------------------------------------------------------------------------

    def conversations(
        self, run_dir: Path, filters: Filters, sort: str, offset: int, limit: int
    ) -> tuple[list[ConversationRow], int]:
        """One page of the run's conversations, and how many match the filters."""
        order = SORTS.get(sort, SORTS["item"])
        where, args = filters.sql()
        with self._lock:
            run = self._ready(run_dir)
            total = run.counts.get((where, tuple(args)))
            if total is None:
                if len(run.counts) >= KEPT_COUNTS:
                    run.counts.clear()
                total = run.counts[where, tuple(args)] = self._db.execute(
                    f"SELECT COUNT(*) FROM convs WHERE run = ?{where}", (run.number, *args)
                ).fetchone()[0]
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM convs WHERE run = ?{where} "
                f"ORDER BY {order} LIMIT ? OFFSET ?",
                (run.number, *args, limit, offset),
            ).fetchall()
        return [_row(r) for r in rows], int(total)

    def item_conversations(self, run_dir: Path, item_id: str) -> list[ConversationRow]:
        """Every played conversation of one item (its conditions and samples)."""
        with self._lock:
            number = self._ready(run_dir).number
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM convs WHERE run = ? AND item_id = ? "
                "ORDER BY condition, sample",
                (number, item_id),
            ).fetchall()
        return [_row(r) for r in rows]

    def family(self, run_dir: Path, item_id: str) -> str | None:
        """The item's family, None when the run has no such item."""
        with self._lock:
            entry = self._run(run_dir).items.get(item_id)
        return entry[1] if entry else None

    def facets(self, run_dir: Path) -> Facets:
        with self._lock:
            run = self._ready(run_dir)
            if run.facets is None:

                def distinct(column: str, table: str = "convs") -> list[Any]:
                    query = f"SELECT DISTINCT {column} FROM {table} WHERE run = ? ORDER BY 1"
                    return [v for (v,) in self._db.execute(query, (run.number,))]

                flag_sets = distinct("flags")
                flags = sorted({f for text in flag_sets for f in text.split(FLAG_SEPARATOR) if f})
                run.facets = Facets(
                    distinct("family", "items"), distinct("condition"), distinct("sample"), flags
                )
            return run.facets

    def by_condition(self, run_dir: Path) -> list[ConditionFigures]:
        """Per condition: conversations, mean conversation score, conversations with errors."""
        with self._lock:
            run = self._ready(run_dir)
            if run.by_condition is None:
                rows = self._db.execute(
                    "SELECT condition, COUNT(*), AVG(mean), SUM(errors > 0) FROM convs "
                    "WHERE run = ? GROUP BY condition ORDER BY condition",
                    (run.number,),
                ).fetchall()
                run.by_condition = [ConditionFigures(c, n, m, int(e)) for c, n, m, e in rows]
            return run.by_condition

    def paired(self, run_dirs: Sequence[Path]) -> list[PairedFigures]:
        """Per condition, each run's mean score over the conversations every run scored."""
        with self._lock:
            numbers = [self._ready(d).number for d in run_dirs]
            columns = ", ".join(f"AVG(c{i}.mean)" for i in range(len(numbers)))
            rows = self._db.execute(
                f"SELECT c0.condition, COUNT(*), {columns} FROM {_joined(numbers)} "
                "GROUP BY c0.condition ORDER BY c0.condition"
            ).fetchall()
        return [PairedFigures(r[0], r[1], list(r[2:])) for r in rows]

    def paired_items(
        self, run_dirs: Sequence[Path], condition: str, offset: int, limit: int
    ) -> tuple[list[PairedItem], int]:
        """Conversations every run scored, the largest score spread first."""
        with self._lock:
            numbers = [self._ready(d).number for d in run_dirs]
            means = ", ".join(f"c{i}.mean" for i in range(len(numbers)))
            spread = f"max({means}) - min({means})" if len(numbers) > 1 else "0.0"
            where = " AND c0.condition = ?" if condition else ""
            args = (condition,) if condition else ()
            joined = _joined(numbers)
            total = self._db.execute(f"SELECT COUNT(*) FROM {joined}{where}", args).fetchone()
            rows = self._db.execute(
                f"SELECT c0.item_id, c0.condition, c0.sample, c0.family, {means}, {spread} "
                f"FROM {joined}{where} ORDER BY {spread} DESC, c0.position, c0.condition, "
                "c0.sample LIMIT ? OFFSET ?",
                (*args, limit, offset),
            ).fetchall()
        n = len(numbers)
        items = [PairedItem(r[0], r[1], r[2], r[3], list(r[4 : 4 + n]), r[4 + n]) for r in rows]
        return items, int(total[0])


def _joined(numbers: Sequence[int]) -> str:
    """FROM and WHERE joining the runs' scored conversations (c0, c1 ...) on their key. Run
    numbers are integers the index assigned, never user text."""
    joins = "convs c0" + "".join(
        f" JOIN convs c{i} ON c{i}.item_id = c0.item_id AND c{i}.condition = c0.condition "
        f"AND c{i}.sample = c0.sample"
        for i in range(1, len(numbers))
    )
    where = " AND ".join(
        f"c{i}.run = {int(n)} AND c{i}.mean IS NOT NULL" for i, n in enumerate(numbers)
    )
    return f"{joins} WHERE {where}"
