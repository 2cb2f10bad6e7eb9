"""The run store: one SQLite file (WAL) per run directory holding config, items and turns."""

from __future__ import annotations

import fcntl
import json
import os
import re
import socket
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from turnscope.core import (
    TARGET_ROLE,
    Condition,
    Item,
    Judgment,
    RunConfig,
    Score,
    TurnRecord,
    gc_paused,
    turn_score,
)

STORE_FILE = "run.sqlite"
LOCK_FILE = "run.lock"
"""Held (flock) by the one process playing the run."""
SCHEMA_VERSION = 2
"""1: turns keyed by (item, variant, sample, turn), the target only. 2: keyed by (item,
condition, sample, turn, role); version-1 stores are migrated when opened."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    position INTEGER NOT NULL, id TEXT PRIMARY KEY, category TEXT NOT NULL, data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    item_id TEXT NOT NULL, condition TEXT NOT NULL, sample INTEGER NOT NULL,
    turn INTEGER NOT NULL, role TEXT NOT NULL DEFAULT 'target',
    error TEXT, score REAL, record TEXT NOT NULL,
    PRIMARY KEY (item_id, condition, sample, turn, role)
);
CREATE TABLE IF NOT EXISTS judgments (
    item_id TEXT NOT NULL, condition TEXT NOT NULL, sample INTEGER NOT NULL,
    turn INTEGER NOT NULL, spec INTEGER NOT NULL, judge TEXT NOT NULL, error TEXT,
    data TEXT NOT NULL,
    PRIMARY KEY (item_id, condition, sample, turn, spec, judge)
);
"""
_INDEXES = {
    # Counts and means over the target's turns (`turnscope runs`, the viewer's runs list) read
    # this narrow index instead of every record.
    "turns_by_role": "CREATE INDEX IF NOT EXISTS turns_by_role ON turns (role, error, score)",
    # Failed judgments are few: counting them must not read every judgment.
    "judgments_failed": (
        "CREATE INDEX IF NOT EXISTS judgments_failed ON judgments (error) WHERE error IS NOT NULL"
    ),
}
"""Secondary indexes by name; a store made before one existed gets it when opened."""
# Version 1 named the condition "variant" and had no role; runs made before the judge role
# have no judgments table at all. Records keep their JSON as written (TurnRecord reads the
# old field name), only the key columns move.
_MIGRATE_1_TO_2 = """
ALTER TABLE turns RENAME TO turns_v1;
CREATE TABLE turns (
    item_id TEXT NOT NULL, condition TEXT NOT NULL, sample INTEGER NOT NULL,
    turn INTEGER NOT NULL, role TEXT NOT NULL DEFAULT 'target',
    error TEXT, score REAL, record TEXT NOT NULL,
    PRIMARY KEY (item_id, condition, sample, turn, role)
);
INSERT INTO turns (item_id, condition, sample, turn, role, error, score, record)
    SELECT item_id, variant, sample, turn, 'target', error, score, record FROM turns_v1;
DROP TABLE turns_v1;
CREATE TABLE IF NOT EXISTS judgments (
    item_id TEXT NOT NULL, variant TEXT NOT NULL, sample INTEGER NOT NULL, turn INTEGER NOT NULL,
    spec INTEGER NOT NULL, judge TEXT NOT NULL, error TEXT, data TEXT NOT NULL,
    PRIMARY KEY (item_id, variant, sample, turn, spec, judge)
);
ALTER TABLE judgments RENAME COLUMN variant TO condition;
UPDATE meta SET value = '2' WHERE key = 'schema_version';
"""


ConversationKey = tuple[str, Condition, int]
"""A played conversation: (item id, condition, sample)."""
_ONE_CONVERSATION = "WHERE item_id = ? AND condition = ? AND sample = ?"
# One row per conversation. A target turn without a score whose JSON has an error key set to a
# string has a failed scorer: inside a JSON string a quote is escaped, so the text "error":"
# can only be a real key. A record without flags is written with "flags":[] and is not parsed.
_SUMMARIES = """
SELECT item_id, condition, sample,
    SUM(role = 'target'),
    COUNT(CASE WHEN role = 'target' THEN score END),
    AVG(CASE WHEN role = 'target' THEN score END),
    MIN(CASE WHEN role = 'target' THEN score END),
    SUM(error IS NOT NULL
        OR (role = 'target' AND score IS NULL AND instr(record, '"error":"') > 0)),
    MAX(turn),
    group_concat(CASE WHEN instr(record, '"flags":[]') = 0
        THEN json_extract(record, '$.flags') END, char(1))
FROM turns {where} GROUP BY item_id, condition, sample
"""
_SPREADS = """
SELECT item_id, condition, sample, MAX(spread) FROM (
    SELECT item_id, condition, sample, MAX(v) - MIN(v) AS spread FROM (
        SELECT item_id, condition, sample, turn, spec,
            json_extract(data, '$.verdict.value') AS v
        FROM judgments {where}
    ) GROUP BY item_id, condition, sample, turn, spec HAVING COUNT(v) > 1
) GROUP BY item_id, condition, sample
"""


class ConversationSummary(NamedTuple):
    """One played conversation's figures, computed by SQLite from its records."""

    item_id: str
    condition: Condition
    sample: int
    turns: int
    """Target turns recorded."""
    scored: int
    """Target turns with a score."""
    mean: float | None
    """Mean target turn score."""
    low: float | None
    """Lowest target turn score."""
    errors: int
    """Records of any role that failed, plus target turns with a failed scorer."""
    last_turn: int
    """Highest turn recorded."""
    flags: str | None
    """The JSON flag lists of its flagged records, joined by U+0001 (None: no flags)."""


class StoredJudgment(NamedTuple):
    """A judgment with the turn and scorer spec it belongs to."""

    item_id: str
    condition: Condition
    sample: int
    turn: int
    spec: int
    """Position of the judged deferred spec among the turn's scorer specs."""
    judgment: Judgment

    @property
    def subject(self) -> str:
        """What was judged; judgments of one answer by different judges share it."""
        return f"{self.item_id}|{self.condition}|{self.sample}|{self.turn}|{self.spec}"


class TurnScores(BaseModel):
    """A turn record without its transcript: what metrics need, ~4x cheaper to read."""

    model_config = ConfigDict(frozen=True)

    item_id: str
    """The item this turn belongs to."""
    turn: int
    """1-based turn index."""
    condition: Condition
    """The condition the conversation was played under."""
    sample: int
    """Sample index."""
    error: str | None
    """Why the turn has no answer, if it failed."""
    cached: bool
    """Whether the answer came from the response cache."""
    scores: tuple[Score, ...]
    """The turn's scores."""
    role: str = TARGET_ROLE
    """Which model role wrote the record ("target", or a serving role such as "user")."""
    flags: tuple[str, ...] = ()
    """The record's flags (a simulator audit's findings, "spoilt" ...)."""

    @property
    def score(self) -> float | None:
        """The turn's score, as TurnRecord.score defines it."""
        return turn_score(self.scores)


_SCORES = TypeAdapter(tuple[Score, ...])
_FLAGS = TypeAdapter(tuple[str, ...])
_TURN_SCORE_FIELDS = set(TurnScores.model_fields)


class TurnTotals(NamedTuple):
    """Counts over every target turn that need a field of the transcript, summed by SQLite."""

    answered: int
    """Turns that have an answer."""
    prompt_tokens: int | None
    """Prompt tokens over the turns; None when no turn reported any."""
    completion_tokens: int | None
    """Generated tokens; None when no turn reported any."""


class TurnFlags(BaseModel):
    """A record's flags and the conversation they belong to, without the rest of it."""

    model_config = ConfigDict(frozen=True)

    item_id: str
    """The item."""
    condition: Condition
    """The condition the conversation was played under."""
    sample: int
    """Sample index."""
    role: str
    """The role whose record it is (target, feedback ...)."""
    flags: tuple[str, ...]
    """The record's flags."""


_TURN_FLAGS = TypeAdapter(list[TurnFlags])


class StoreError(ValueError):
    """A directory is not a run, or its store cannot be read."""


def _slug(text: str, limit: int = 40) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return cleaned[:limit] or "run"


def _suite_label(suite: str) -> str:
    """A short label for a suite reference: "starter", "my_suite" for a path, "multi-if-
    sample" for "multi-if:data/sample.csv" (adapter name plus file stem)."""
    name, colon, argument = suite.partition(":")
    if colon and "/" not in name and "\\" not in name:
        target = argument.partition("@")[0]
        return f"{name}-{Path(target).stem}" if target else name
    return Path(suite).stem if Path(suite).suffix else suite


def _process_gone(owner: Any) -> bool:
    """Whether the recorded owner {host, pid} is known to have exited (False if unknowable)."""
    if not isinstance(owner, dict) or owner.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(owner["pid"]), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, KeyError, TypeError, ValueError):
        return False
    return False


def private_file(path: Path) -> None:
    """Create `path` readable and writable by its owner only (0600), if it does not exist; a
    SQLite file made afterwards in it keeps those permissions, and so do its WAL files."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


def new_run_dir(root: Path, model_spec: str, suite: str, now: datetime) -> Path:
    """A fresh, readable directory name: <date>-<time>-<model>-<suite>[-N]."""
    suite_name = _suite_label(suite)
    base = f"{now:%Y%m%d-%H%M%S}-{_slug(model_spec.split('@')[0])}-{_slug(suite_name)}"
    candidate = root / base
    counter = 1
    while candidate.exists():
        counter += 1
        candidate = root / f"{base}-{counter}"
    return candidate


def _add_indexes(db: sqlite3.Connection) -> None:
    """Create the secondary indexes a store lacks. Only missing ones are built (CREATE INDEX
    takes the write lock, even when the index exists); a store that cannot be written (a
    read-only copy, a writer holding the lock too long) stays readable without them."""
    present = {
        name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
    }
    for name, statement in _INDEXES.items():
        if name in present:
            continue
        try:
            db.execute(statement)
        except sqlite3.OperationalError:
            return


_INSERT_TURN = (
    "INSERT OR REPLACE INTO turns (item_id, condition, sample, turn, role, error, score, record) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


TurnRow = tuple[str, Condition, int, int, str, str | None, float | None, str]
"""A record as the turns table holds it: item id, condition, sample, turn, role, error,
score, and the record's JSON."""


def turn_row(record: TurnRecord) -> TurnRow:
    """`record` as `RunStore.commit_rows` writes it; made where the record is (a Ray actor),
    so that the process writing the store neither decodes nor encodes it again."""
    return (
        record.item_id,
        record.condition,
        record.sample,
        record.turn,
        record.role,
        record.error,
        record.score,
        record.model_dump_json(),
    )


class RunStore:
    """Read and write one run. Every `commit` is durable when it returns (WAL, one transaction)."""

    def __init__(self, run_dir: Path, db: sqlite3.Connection) -> None:
        self.run_dir = run_dir
        self._db = db
        self._lock: int | None = None

    @staticmethod
    def _connect(path: Path, *, threads: bool = False) -> sqlite3.Connection:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=not threads)
        db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a killed process; only an OS crash can lose the last turn.
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=5000")
        return db

    @classmethod
    def create(cls, run_dir: Path, config: RunConfig, items: Sequence[Item]) -> RunStore:
        """Make a new run directory with its config and the exact items it will play.

        The directory is private to its owner (0700) and the store file too (0600): it holds
        every prompt and answer. SQLite gives its WAL files the store's permissions."""
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        run_dir.mkdir(mode=0o700)
        private_file(run_dir / STORE_FILE)
        db = cls._connect(run_dir / STORE_FILE)
        db.executescript(_SCHEMA)
        for statement in _INDEXES.values():
            db.execute(statement)
        with db:
            db.execute("BEGIN")
            db.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [("schema_version", str(SCHEMA_VERSION)), ("config", config.model_dump_json())],
            )
            db.executemany(
                "INSERT INTO items (position, id, category, data) VALUES (?, ?, ?, ?)",
                [(i, it.id, it.category, it.model_dump_json()) for i, it in enumerate(items)],
            )
        return cls(run_dir, db)

    @classmethod
    def open(cls, run_dir: Path, *, threads: bool = False) -> RunStore:
        """Open an existing run; StoreError with one clear line if it is not one. `threads`:
        the store may be used from several threads, one at a time (the caller serialises)."""
        path = run_dir / STORE_FILE
        if not run_dir.is_dir():
            raise StoreError(f"{run_dir}: no such run directory")
        if not path.is_file():
            raise StoreError(f"{run_dir}: not a turnscope run directory (no {STORE_FILE})")
        try:
            db = cls._connect(path, threads=threads)
            row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: cannot read the run store: {exc}") from None
        if row is None:
            raise StoreError(f"{path}: not a turnscope run store (no schema version)")
        try:
            version = int(row[0])
        except ValueError:
            raise StoreError(
                f"{path}: damaged run store (schema version {str(row[0])[:40]!r})"
            ) from None
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{path}: written by a newer turnscope (schema {version}); upgrade turnscope"
            )
        if version < SCHEMA_VERSION:
            with db:
                db.execute("BEGIN IMMEDIATE")
                # Another process may have migrated it while this one waited for the lock.
                current = db.execute(
                    "SELECT value FROM meta WHERE key = 'schema_version'"
                ).fetchone()
                if int(current[0]) < SCHEMA_VERSION:
                    for statement in _MIGRATE_1_TO_2.split(";"):
                        if statement.strip():
                            db.execute(statement)
        _add_indexes(db)
        store = cls(run_dir, db)
        store.config()  # a config this version cannot read fails here, in one line
        return store

    def close(self) -> None:
        self._db.close()
        if self._lock is not None:
            os.close(self._lock)  # releases the claim
            self._lock = None

    def claim(self) -> None:
        """Become the one process that plays this run, until `close` or exit (even kill -9:
        the operating system drops the lock with the process). StoreError naming the owner if
        another live process holds it: two processes playing one run would ask turns twice and
        build later turns on answers that are not the stored ones."""
        if self._lock is not None:
            return
        handle = os.open(self.run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            owner = self.meta("owner")
            who = (
                f"process {owner.get('pid')} on {owner.get('host')}"
                if isinstance(owner, dict)
                else "another process"
            )
            raise StoreError(
                f"{self.run_dir}: {who} is playing this run right now; wait for it to finish "
                "(or stop it) before resuming"
            ) from None
        self._lock = handle

    def config(self) -> RunConfig:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()
        if row is None:
            raise StoreError(f"{self.run_dir}: damaged run store (no config)")
        try:
            return RunConfig.model_validate_json(row[0])
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            if first["type"] == "extra_forbidden":
                raise StoreError(
                    f"{self.run_dir}: the run config has a field this turnscope does not know "
                    f"({where!r}): written by a newer version? upgrade turnscope"
                ) from None
            raise StoreError(
                f"{self.run_dir}: damaged run config (field {where!r}: {first['msg']})"
            ) from None

    def set_meta(self, key: str, value: Any) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value))
        )

    def meta(self, key: str) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def status(self) -> str:
        """ "created", "running", "finished", "incomplete" (played through, but some turns
        failed: --resume asks them again), or "stopped": marked running, but the process that
        played it on this host is gone (killed or crashed); it continues with --resume."""
        status = str(self.meta("status") or "created")
        if status == "running" and _process_gone(self.meta("owner")):
            return "stopped"
        return status

    def item(self, item_id: str) -> Item | None:
        """One item of the run, None if it has no such item."""
        row = self._db.execute("SELECT data FROM items WHERE id = ?", (item_id,)).fetchone()
        return Item.model_validate_json(row[0]) if row else None

    def conversation_judgments(
        self, item_id: str, condition: Condition, sample: int
    ) -> list[StoredJudgment]:
        """Every judgment of one conversation, by turn, scorer spec and judge."""
        rows = self._db.execute(
            "SELECT turn, spec, data FROM judgments "
            "WHERE item_id = ? AND condition = ? AND sample = ? ORDER BY turn, spec, judge",
            (item_id, condition, sample),
        )
        return [
            StoredJudgment(item_id, condition, sample, turn, spec, Judgment.model_validate_json(d))
            for turn, spec, d in rows
        ]

    def items(self) -> list[Item]:
        rows = self._db.execute("SELECT data FROM items ORDER BY position").fetchall()
        return [Item.model_validate_json(r[0]) for r in rows]

    def iter_items(self) -> Iterator[Item]:
        """The run's items in order, one at a time (`items` holds them all)."""
        for (data,) in self._db.execute("SELECT data FROM items ORDER BY position"):
            yield Item.model_validate_json(data)

    def commit(self, record: TurnRecord) -> None:
        self._db.execute(_INSERT_TURN, turn_row(record))

    def commit_many(self, records: Sequence[TurnRecord]) -> None:
        """Commit `records` in one transaction: all of them are durable when it returns."""
        if len(records) == 1:
            self.commit(records[0])
            return
        self.commit_rows([turn_row(r) for r in records])

    def commit_rows(self, rows: Sequence[TurnRow]) -> None:
        """Commit records encoded by `turn_row` in one transaction: all of them are durable
        when it returns."""
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(_INSERT_TURN, rows)

    def conversation_records(
        self, item_id: str, condition: Condition, sample: int
    ) -> list[TurnRecord]:
        """Every record of one conversation (all roles), in turn order, serving roles first
        within a turn (a simulated user speaks before the model answers)."""
        rows = self._db.execute(
            "SELECT record FROM turns WHERE item_id = ? AND condition = ? AND sample = ? "
            "ORDER BY turn, role = 'target'",
            (item_id, condition, sample),
        ).fetchall()
        return [TurnRecord.model_validate_json(r[0]) for r in rows]

    def finished_turns(
        self, item_id: str, condition: Condition, sample: int
    ) -> dict[int, TurnRecord]:
        """The target's records of one conversation, by turn."""
        records = self.conversation_records(item_id, condition, sample)
        return {r.turn: r for r in records if r.role == TARGET_ROLE}

    def records(
        self, item_id: str | None = None, *, role: str | None = TARGET_ROLE
    ) -> Iterator[TurnRecord]:
        """Every record of `role` (None: of every role), in item order then condition, sample
        and turn."""
        where = [
            w
            for w in (
                "t.item_id = ?" if item_id is not None else "",
                "t.role = ?" if role is not None else "",
            )
            if w
        ]
        args = tuple(a for a in (item_id, role) if a is not None)
        query = (
            "SELECT t.record, t.item_id, t.condition, t.sample, t.turn, t.role "
            "FROM turns t JOIN items i ON i.id = t.item_id "
            + (f"WHERE {' AND '.join(where)} " if where else "")
            + "ORDER BY i.position, t.condition, t.sample, t.turn, t.role = 'target'"
        )
        for raw, *key in self._db.execute(query, args):
            record = TurnRecord.model_validate_json(raw)
            # Readers find a record's item and turn through its own fields: a record edited
            # apart from its row would name an item or turn the run does not have.
            if [record.item_id, record.condition, record.sample, record.turn, record.role] != key:
                raise StoreError(
                    f"{self.run_dir}: the run store is damaged (a record of item "
                    f"{str(key[0])[:80]!r} says it is of item {record.item_id[:80]!r}, "
                    f"turn {record.turn}); its other runs are unaffected"
                )
            yield record

    def turn_scores(self) -> list[TurnScores]:
        """Every target turn's scores and error, in the order of `records`, without decoding
        the transcripts: SQLite cuts the few fields out of each stored record.

        A run holds these for all its turns at once (50,000 turns and more), so they are kept
        small: the rows come from the store, written by TurnRecord, and are built without a
        second validation (model_construct); equal score lists, ids, conditions, errors and
        flags are decoded once and shared, as are the field names."""
        return self._light_rows("t.role = 'target'")

    def serving_scores(self) -> list[TurnScores]:
        """The same light rows for the serving roles' records (a simulated user's messages):
        their errors and audit flags, which the analysis counts apart from the target's."""
        return self._light_rows("t.role != 'target'")

    def _light_rows(self, where: str) -> list[TurnScores]:
        query = (
            "SELECT t.item_id, t.condition, t.sample, t.turn, t.error, t.role, "
            "json_extract(t.record, '$.cached'), json_extract(t.record, '$.scores'), "
            "json_extract(t.record, '$.flags') "
            f"FROM turns t JOIN items i ON i.id = t.item_id WHERE {where} "
            "ORDER BY i.position, t.condition, t.sample, t.turn, t.role = 'target'"
        )
        texts: dict[str, str] = {}
        scores: dict[str, tuple[Score, ...]] = {}
        flag_sets: dict[str | None, tuple[str, ...]] = {None: ()}
        rows = []
        with gc_paused():
            for (
                item_id,
                condition,
                sample,
                turn,
                error,
                role,
                cached,
                scored,
                flagged,
            ) in self._db.execute(query):
                parsed = scores.get(scored)
                if parsed is None:
                    parsed = scores[scored] = _SCORES.validate_json(scored)
                flags = flag_sets.get(flagged)
                if flags is None:
                    flags = flag_sets[flagged] = _FLAGS.validate_json(flagged)
                rows.append(
                    TurnScores.model_construct(
                        _TURN_SCORE_FIELDS,
                        item_id=texts.setdefault(item_id, item_id),
                        turn=turn,
                        condition=texts.setdefault(condition, condition),
                        sample=sample,
                        error=None if error is None else texts.setdefault(error, error),
                        cached=bool(cached),
                        scores=parsed,
                        role=texts.setdefault(role, role),
                        flags=flags,
                    )
                )
        return rows

    def turn_totals(self) -> TurnTotals:
        """Answered turns and token totals of the target's turns, without decoding a record
        in Python."""
        row = self._db.execute(
            "SELECT COALESCE(SUM(json_extract(record, '$.response') IS NOT NULL), 0), "
            "SUM(json_extract(record, '$.prompt_tokens')), "
            "SUM(json_extract(record, '$.completion_tokens')) "
            "FROM turns WHERE role = 'target'"
        ).fetchone()
        return TurnTotals(int(row[0]), row[1], row[2])

    def turn_flags(self) -> list[TurnFlags]:
        """The flags of every record of every role that has any (tool calls, sandbox limits,
        feedback leaks ...), cut out of the stored records by SQLite."""
        query = (
            "SELECT json_object('item_id', item_id, 'condition', condition, 'sample', sample, "
            "'role', role, 'flags', json(json_extract(record, '$.flags'))) FROM turns "
            "WHERE json_array_length(json_extract(record, '$.flags')) > 0"
        )
        rows = [row for (row,) in self._db.execute(query)]
        return _TURN_FLAGS.validate_json("[" + ",".join(rows) + "]")

    def conversation(self, item_id: str, condition: Condition, sample: int) -> list[TurnRecord]:
        """The target's records of one played conversation, in turn order."""
        return sorted(
            self.finished_turns(item_id, condition, sample).values(), key=lambda r: r.turn
        )

    def turn_count(self) -> int:
        """Target turns recorded (answered or failed)."""
        row = self._db.execute("SELECT COUNT(*) FROM turns WHERE role = 'target'").fetchone()
        return int(row[0])

    def served_counts(self) -> dict[str, int]:
        """Target turns answered by each replica (worker, pool server, Ray actor) that said
        which it was; empty for a run of one replica."""
        rows = self._db.execute(
            "SELECT json_extract(record, '$.served_by') AS replica, COUNT(*) FROM turns "
            "WHERE role = 'target' AND replica IS NOT NULL GROUP BY replica ORDER BY replica"
        ).fetchall()
        return {str(replica): int(count) for replica, count in rows}

    def answered_count(self) -> int:
        """Target turns that have an answer (what a resumed run will not ask again)."""
        row = self._db.execute(
            "SELECT COUNT(*) FROM turns WHERE error IS NULL AND role = 'target'"
        ).fetchone()
        return int(row[0])

    def failed_count(self) -> int:
        """Records of any role that ended in an error: each stopped its conversation, and a
        resumed run asks it again."""
        row = self._db.execute("SELECT COUNT(*) FROM turns WHERE error IS NOT NULL").fetchone()
        return int(row[0])

    def mean_score(self) -> float | None:
        row = self._db.execute(
            "SELECT AVG(score) FROM turns WHERE score IS NOT NULL AND role = 'target'"
        ).fetchone()
        return float(row[0]) if row[0] is not None else None

    def commit_judgment(
        self, item_id: str, condition: Condition, sample: int, turn: int, spec: int, j: Judgment
    ) -> None:
        """Store one judge's judgment of one turn's `spec`-th scorer spec, at once."""
        self._db.execute(
            "INSERT OR REPLACE INTO judgments "
            "(item_id, condition, sample, turn, spec, judge, error, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (item_id, condition, sample, turn, spec, j.judge, j.error, j.model_dump_json()),
        )

    def judgments(
        self, item_id: str, condition: Condition, sample: int, turn: int
    ) -> dict[tuple[int, str], Judgment]:
        """Judgments of one turn, by (scorer spec position, judge spec)."""
        rows = self._db.execute(
            "SELECT spec, judge, data FROM judgments "
            "WHERE item_id = ? AND condition = ? AND sample = ? AND turn = ?",
            (item_id, condition, sample, turn),
        ).fetchall()
        return {(spec, judge): Judgment.model_validate_json(data) for spec, judge, data in rows}

    def all_judgments(self, item_id: str | None = None) -> Iterator[StoredJudgment]:
        """Every judgment (of one item, if given), in item order then condition, sample, turn."""
        query = (
            "SELECT j.item_id, j.condition, j.sample, j.turn, j.spec, j.data FROM judgments j "
            "JOIN items i ON i.id = j.item_id "
            + ("WHERE j.item_id = ? " if item_id is not None else "")
            + "ORDER BY i.position, j.condition, j.sample, j.turn, j.spec, j.judge"
        )
        args = (item_id,) if item_id is not None else ()
        for item, condition, sample, turn, spec, data in self._db.execute(query, args):
            judgment = Judgment.model_validate_json(data)
            yield StoredJudgment(item, condition, sample, turn, spec, judgment)

    def score_names(self) -> list[tuple[str, int]]:
        """Every (scorer, n) that some record's scores hold, where n counts the scorer's
        scores within one turn (1 for the first, 2 when a turn has two of it ...): the
        columns a flat export needs, found by SQLite without decoding a record."""
        query = (
            "SELECT DISTINCT json_extract(s.value, '$.scorer'), "
            "(SELECT COUNT(*) FROM json_each(json_extract(t.record, '$.scores')) e "
            "WHERE json_extract(e.value, '$.scorer') = json_extract(s.value, '$.scorer') "
            "AND e.key <= s.key) "
            "FROM turns t, json_each(json_extract(t.record, '$.scores')) s ORDER BY 1, 2"
        )
        return [(str(name), int(n)) for name, n in self._db.execute(query)]

    def judge_names(self) -> list[tuple[str, int]]:
        """Every (judge, n) that has a judgment, where n counts the judge's judgments within
        one turn (2 when it judged two of the turn's scorer specs ...)."""
        query = (
            "SELECT DISTINCT judge, (SELECT COUNT(*) FROM judgments o WHERE o.item_id = "
            "j.item_id AND o.condition = j.condition AND o.sample = j.sample AND o.turn = "
            "j.turn AND o.judge = j.judge AND o.spec <= j.spec) FROM judgments j ORDER BY 1, 2"
        )
        return [(str(judge), int(n)) for judge, n in self._db.execute(query)]

    def judge_outage_count(self) -> int:
        """Judgments that ended because the judge model could not be asked (not because its
        text never parsed): a resumed run asks them again."""
        row = self._db.execute(
            "SELECT COUNT(*) FROM judgments WHERE error IS NOT NULL "
            "AND json_extract(data, '$.attempts[#-1].text') IS NULL"
        ).fetchone()
        return int(row[0])

    def unfinished_count(self) -> int:
        """What a resumed run would still do: failed records plus judgments lost to an outage."""
        return self.failed_count() + self.judge_outage_count()

    def judge_error_count(self) -> int:
        """Judgments recorded without a verdict."""
        row = self._db.execute("SELECT COUNT(*) FROM judgments WHERE error IS NOT NULL").fetchone()
        return int(row[0])

    # --- incremental summaries (the viewer) ---------------------------------------------------

    def high_water(self) -> tuple[int, int]:
        """The newest rowid of the turns and of the judgments tables. The store only appends
        (a replaced row gets a new rowid), so the rows above an earlier high water are
        exactly what changed since."""
        row = self._db.execute(
            "SELECT (SELECT COALESCE(MAX(rowid), 0) FROM turns), "
            "(SELECT COALESCE(MAX(rowid), 0) FROM judgments)"
        ).fetchone()
        return int(row[0]), int(row[1])

    def changed_conversations(
        self, since: tuple[int, int], until: tuple[int, int]
    ) -> set[ConversationKey]:
        """Conversations with a record or a judgment written between two high waters."""
        changed: set[ConversationKey] = set()
        for table, low, high in (("turns", since[0], until[0]), ("judgments", since[1], until[1])):
            if high > low:
                changed.update(
                    self._db.execute(
                        f"SELECT DISTINCT item_id, condition, sample FROM {table} "
                        "WHERE rowid > ? AND rowid <= ?",
                        (low, high),
                    )
                )
        return changed

    def item_positions(self) -> Iterator[tuple[str, int, str]]:
        """(id, position, family) of every item, without decoding the items: the family is
        metadata["family"] when it is text, else the category (as analysis.item_families)."""
        yield from self._db.execute(
            "SELECT id, position, CASE WHEN json_type(data, '$.metadata.family') = 'text' "
            "THEN json_extract(data, '$.metadata.family') ELSE category END FROM items"
        )

    def conversation_summaries(
        self, key: ConversationKey | None = None
    ) -> Iterator[ConversationSummary]:
        """Per-conversation figures computed by SQLite, grouped in primary-key order (no sort,
        no record decoded in Python), of one conversation or of all."""
        where = _ONE_CONVERSATION if key is not None else ""
        for row in self._db.execute(_SUMMARIES.format(where=where), key or ()):
            yield ConversationSummary(*row)

    def judge_spreads(self, key: ConversationKey | None = None) -> Iterator[tuple[Any, ...]]:
        """(item id, condition, sample, spread): per conversation, the largest spread between
        the verdict values of judges of one answer (conversations judged by one judge, or
        without two verdicts on one answer, are left out)."""
        where = _ONE_CONVERSATION if key is not None else ""
        yield from self._db.execute(_SPREADS.format(where=where), key or ())
