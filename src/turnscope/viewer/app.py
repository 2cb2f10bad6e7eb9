"""The viewer's web application: server-rendered pages over the run stores (Starlette, Jinja).

Pages are plain HTML with no script at all; the Content-Security-Policy header forbids any
(model output is hostile input, and autoescaping is the first defence, the policy the second).
Requests are answered from the stores with indexed queries and from the in-memory conversation
index (index.py); nothing reads a whole run. A request whose Host header is not the address the
viewer serves on is refused, so a web page elsewhere cannot reach it through DNS rebinding."""

from __future__ import annotations

import sqlite3
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from turnscope import __version__
from turnscope.core import TARGET_ROLE, Item, TurnRecord, content_text
from turnscope.protocols import get_protocol
from turnscope.store import STORE_FILE, RunStore, StoredJudgment, StoreError
from turnscope.viewer.dashboard import Dashboards
from turnscope.viewer.index import SORTS, Filters, Summarising, ViewerIndex
from turnscope.viewer.text import shown

PAGE_SIZE = 25
MAX_PAGE_SIZE = 200
COMPARE_TEXT_CHARS = 20_000
"""Characters of an answer shown in a side-by-side column."""
LIVE_REFRESH_S = 5
"""Pages of a run that is still being written reload this often."""
SUMMARISING_REFRESH_S = 2
"""A page waiting for a run's first summary reloads this often."""
STATIC = Path(__file__).parent / "static"
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'self'"
)
"""The rendered report keeps its inline stylesheet; it has no script either."""
DAMAGE = (sqlite3.DatabaseError, ValidationError, UnicodeDecodeError)
LIVE_STATUSES = ("running", "created")

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("turnscope.viewer", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["shown"] = shown


def _number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.3f}"


_env.filters["num"] = _number
_env.filters["signed"] = _signed


class ViewerError(Exception):
    """A request the viewer cannot answer: shown as a page with this status and one line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# --- the runs the viewer shows ------------------------------------------------------------------


class Catalogue:
    """The runs named on the command line: run directories, and directories of runs (looked
    at again on every runs list, so runs started meanwhile appear)."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._paths = [p.resolve() for p in paths]
        self._lock = threading.Lock()
        self._keys: dict[str, Path] = {}

    def runs(self) -> list[tuple[str, Path]]:
        """(key, run directory) of every run, in name order; keys stay the same for a run."""
        found: list[Path] = []
        for path in self._paths:
            if (path / STORE_FILE).is_file():
                found.append(path)
            elif path.is_dir():
                found.extend(sorted(p for p in path.iterdir() if (p / STORE_FILE).is_file()))
        with self._lock:
            known = {p: k for k, p in self._keys.items()}
            out = []
            for run_dir in dict.fromkeys(found):
                key = known.get(run_dir)
                if key is None:
                    key, counter = run_dir.name, 1
                    while key in self._keys:
                        counter += 1
                        key = f"{run_dir.name}-{counter}"
                    self._keys[key] = run_dir
                out.append((key, run_dir))
        return out

    def path(self, key: str) -> Path:
        with self._lock:
            path = self._keys.get(key)
        if path is None:
            self.runs()
            with self._lock:
                path = self._keys.get(key)
        if path is None:
            raise ViewerError(404, f"no run {key!r} here")
        return path


# --- figures the pages show ---------------------------------------------------------------------


@dataclass(frozen=True)
class RunFigures:
    """One row of the runs list."""

    key: str
    model: str
    suite: str
    conditions: str
    created: str
    status: str
    turns: int
    errors: int
    judge_errors: int
    mean: float | None
    unreadable: str | None = None


class _FigureCache:
    """The runs list's counts per run, computed again only when the run's store changed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[Path, tuple[tuple[int, int], tuple[int, int, int, float | None]]] = {}

    def figures(self, key: str, run_dir: Path) -> RunFigures:
        try:
            store = RunStore.open(run_dir)
        except StoreError as exc:
            return _unreadable(key, str(exc))
        except DAMAGE as exc:
            return _unreadable(key, f"the run store is damaged ({str(exc)[:200]})")
        try:
            config = store.config()
            top = store.high_water()
            with self._lock:
                cached = self._cache.get(run_dir)
            if cached is None or cached[0] != top:
                counts = (
                    store.turn_count(),
                    store.failed_count(),
                    store.judge_error_count(),
                    store.mean_score(),
                )
                with self._lock:
                    self._cache[run_dir] = (top, counts)
            else:
                counts = cached[1]
            return RunFigures(
                key=key,
                model=config.model,
                suite=config.suite,
                conditions=", ".join(config.conditions),
                created=f"{config.created_at:%Y-%m-%d %H:%M}",
                status=store.status(),
                turns=counts[0],
                errors=counts[1],
                judge_errors=counts[2],
                mean=counts[3],
            )
        except StoreError as exc:
            return _unreadable(key, str(exc))
        except DAMAGE as exc:
            return _unreadable(key, f"the run store is damaged ({str(exc)[:200]})")
        finally:
            store.close()


def _unreadable(key: str, message: str) -> RunFigures:
    return RunFigures(key, "", "", "", "", "unreadable", 0, 0, 0, None, unreadable=message)


@dataclass(frozen=True)
class Judged:
    """One judge's judgment of one scorer spec of a turn, for the transcript."""

    spec: int
    judge: str
    kind: str
    verdict: str | None
    value: float | None
    error: str | None
    attempts: list[tuple[str | None, str | None, bool]]
    """(raw text, error, cached) of every attempt."""


@dataclass(frozen=True)
class TranscriptRecord:
    """One record of a conversation as the transcript shows it."""

    record: TurnRecord
    key_turn: bool
    judgments: list[Judged]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [
            {
                "role": m.role,
                "text": content_text(m.content),
                "name": m.name,
                "tool_call_id": m.tool_call_id,
                "tool_calls": m.tool_calls or (),
            }
            for m in self.record.new_messages
        ]


def _judged(stored: StoredJudgment) -> Judged:
    j = stored.judgment
    return Judged(
        spec=stored.spec,
        judge=j.judge,
        kind=j.kind,
        verdict=j.verdict.label if j.verdict else None,
        value=j.verdict.value if j.verdict else None,
        error=j.error,
        attempts=[(a.text, a.error, a.cached) for a in j.attempts],
    )


# --- the application ----------------------------------------------------------------------------


class Viewer:
    """Everything the pages share: the runs, the conversation index, the dashboards."""

    def __init__(self, paths: Sequence[Path], cache_dir: Path | None = None) -> None:
        self.catalogue = Catalogue(paths)
        self.index = ViewerIndex()
        self._own_cache: tempfile.TemporaryDirectory[str] | None = None
        if cache_dir is None:
            self._own_cache = tempfile.TemporaryDirectory(prefix="turnscope-view-")
            cache_dir = Path(self._own_cache.name)
        self.dashboards = Dashboards(cache_dir)
        self.figures = _FigureCache()

    def close(self) -> None:
        self.dashboards.close()
        self.index.close()
        if self._own_cache is not None:
            self._own_cache.cleanup()

    def warm(self) -> None:
        """Summarise every run, so that first visits find their index ready; returns when
        all are."""
        for _, run_dir in self.catalogue.runs():
            try:
                self.index.summarise(run_dir)
            except (StoreError, *DAMAGE):
                continue

    def run(self, key: str) -> tuple[Path, RunStore]:
        """The run's directory and store (use the store under `index.lock`)."""
        run_dir = self.catalogue.path(key)
        try:
            return run_dir, self.index.store(run_dir)
        except StoreError as exc:
            raise ViewerError(404, str(exc)) from None
        except DAMAGE as exc:
            self.index.forget(run_dir)
            raise ViewerError(500, f"{key}: the run store is damaged ({str(exc)[:200]})") from None


def _render(name: str, code: int = 200, /, **context: Any) -> HTMLResponse:
    html = _env.get_template(name).render(version=__version__, **context)
    return HTMLResponse(html, status_code=code)


def _link(path: str, /, **params: Any) -> str:
    """A same-site link with its query; values are URL-encoded (item ids are any text)."""
    query = {k: v for k, v in params.items() if v is not None and v != ""}
    return path + ("?" + urlencode(query, doseq=True) if query else "")


def run_path(key: str, page: str = "") -> str:
    return f"/runs/{quote(key, safe='')}" + (f"/{page}" if page else "")


_env.globals["link"] = _link
_env.globals["run_path"] = run_path


def _int(request: Request, name: str, default: int, low: int = 0, high: int = 10**9) -> int:
    raw = request.query_params.get(name, "")
    if not raw:
        return default
    try:
        return min(max(int(raw), low), high)
    except ValueError:
        raise ViewerError(400, f"{name} must be a whole number, not {raw[:40]!r}") from None


def _float(request: Request, name: str) -> float | None:
    raw = request.query_params.get(name, "")
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise ViewerError(400, f"{name} must be a number, not {raw[:40]!r}") from None


def _conversation_key(request: Request) -> tuple[str, str, int]:
    item = request.query_params.get("item", "")
    condition = request.query_params.get("condition", "")
    if not item or not condition:
        raise ViewerError(400, "a conversation needs item and condition")
    return item, condition, _int(request, "sample", 0)


def make_app(viewer: Viewer) -> Starlette:
    """The web application over `viewer`; `trusted` restricts the host names it answers."""

    def runs_page(request: Request) -> Response:
        rows = [viewer.figures.figures(key, path) for key, path in viewer.catalogue.runs()]
        live = any(r.status in LIVE_STATUSES for r in rows)
        return _render("runs.html.j2", runs=rows, refresh=LIVE_REFRESH_S if live else None)

    def dashboard_page(request: Request) -> Response:
        key = request.path_params["run"]
        run_dir, store = viewer.run(key)
        with viewer.index.lock:
            config, status, top = store.config(), store.status(), store.high_water()
        live = status in LIVE_STATUSES
        state = viewer.dashboards.state(run_dir, top, live)
        return _render(
            "dashboard.html.j2",
            key=key,
            config=config,
            status=status,
            figures=viewer.index.by_condition(run_dir),
            facets=viewer.index.facets(run_dir),
            dashboard=state,
            refresh=LIVE_REFRESH_S if live or state.rendering else None,
        )

    def report_file(request: Request) -> Response:
        run_dir = viewer.catalogue.path(request.path_params["run"])
        path = viewer.dashboards.path(run_dir)
        if path is None or not path.is_file():
            raise ViewerError(404, "the figures are not rendered yet")
        return FileResponse(
            path, media_type="text/html", headers={"Content-Security-Policy": REPORT_CSP}
        )

    def conversations_page(request: Request) -> Response:
        key = request.path_params["run"]
        run_dir, store = viewer.run(key)
        with viewer.index.lock:
            status = store.status()
        filters = Filters(
            family=request.query_params.get("family", ""),
            condition=request.query_params.get("condition", ""),
            sample=_int(request, "sample", -1) if request.query_params.get("sample") else None,
            min_score=_float(request, "min"),
            max_score=_float(request, "max"),
            errors=request.query_params.get("errors", ""),
            disagreement=request.query_params.get("disagreement") == "yes",
            flag=request.query_params.get("flag", ""),
            item=request.query_params.get("q", ""),
        )
        sort = request.query_params.get("sort", "item")
        size = _int(request, "size", PAGE_SIZE, 1, MAX_PAGE_SIZE)
        page = _int(request, "page", 1, 1)
        rows, total = viewer.index.conversations(run_dir, filters, sort, (page - 1) * size, size)
        pages = max(1, -(-total // size))
        params = {k: v for k, v in request.query_params.items() if k != "page"}
        return _render(
            "conversations.html.j2",
            key=key,
            rows=rows,
            total=total,
            page=page,
            pages=pages,
            params=params,
            filters=filters,
            sort=sort,
            sorts=list(SORTS),
            facets=viewer.index.facets(run_dir),
            refresh=LIVE_REFRESH_S if status in LIVE_STATUSES else None,
        )

    def conversation_page(request: Request) -> Response:
        key = request.path_params["run"]
        item_id, condition, sample = _conversation_key(request)
        run_dir, store = viewer.run(key)
        with viewer.index.lock:
            item = store.item(item_id)
            if item is None:
                raise ViewerError(404, f"{key}: no item {item_id!r} in this run")
            records = store.conversation_records(item_id, condition, sample)
            judgments = store.conversation_judgments(item_id, condition, sample)
            status = store.status()
        by_turn: dict[int, list[Judged]] = {}
        for stored in judgments:
            by_turn.setdefault(stored.turn, []).append(_judged(stored))
        transcript, score = _transcript(item, condition, records, by_turn)
        try:
            played = viewer.index.item_conversations(run_dir, item_id)
        except Summarising:
            played = []  # the links to other conditions come once the run is summarised
        others = [c for c in played if (c.condition, c.sample) != (condition, sample)]
        return _render(
            "conversation.html.j2",
            key=key,
            item=item,
            family=viewer.index.family(run_dir, item_id) or item.category,
            condition=condition,
            sample=sample,
            transcript=transcript,
            score=score,
            others=others,
            runs=[k for k, _ in viewer.catalogue.runs() if k != key],
            refresh=LIVE_REFRESH_S if status in LIVE_STATUSES else None,
        )

    def compare_page(request: Request) -> Response:
        keys = list(dict.fromkeys(k for k in request.query_params.getlist("run") if k))
        if len(keys) < 2:
            raise ViewerError(400, "choose two or more runs to compare")
        runs = [(k, *viewer.run(k)) for k in keys]
        if request.query_params.get("item"):
            return _compare_item(request, runs)
        run_dirs = [d for _, d, _ in runs]
        condition = request.query_params.get("condition", "")
        size = _int(request, "size", PAGE_SIZE, 1, MAX_PAGE_SIZE)
        page = _int(request, "page", 1, 1)
        items, total = viewer.index.paired_items(run_dirs, condition, (page - 1) * size, size)
        with viewer.index.lock:
            configs = [s.config() for _, _, s in runs]
        return _render(
            "compare.html.j2",
            keys=keys,
            configs=configs,
            by_run=[viewer.index.by_condition(d) for d in run_dirs],
            paired=viewer.index.paired(run_dirs),
            items=items,
            total=total,
            page=page,
            pages=max(1, -(-total // size)),
            condition=condition,
            params={k: v for k, v in request.query_params.multi_items() if k != "page"},
        )

    def _compare_item(request: Request, runs: list[tuple[str, Path, RunStore]]) -> Response:
        item_id, condition, sample = _conversation_key(request)
        columns: list[dict[int, TurnRecord]] = []
        item: Item | None = None
        with viewer.index.lock:
            for _, _, store in runs:
                item = item or store.item(item_id)
                columns.append({r.turn: r for r in store.conversation(item_id, condition, sample)})
        if item is None:
            raise ViewerError(404, f"no run here has an item {item_id!r}")
        turns = sorted({t for column in columns for t in column})
        rows = []
        for turn in turns:
            cells = [column.get(turn) for column in columns]
            first = next((c for c in cells if c is not None), None)
            base = cells[0].score if cells[0] is not None else None
            messages = first.new_messages if first else ()
            rows.append(
                {
                    "turn": turn,
                    "user": [(m.role, content_text(m.content)) for m in messages],
                    "cells": cells,
                    "differences": [
                        None if c is None or c.score is None or base is None else c.score - base
                        for c in cells
                    ],
                }
            )
        return _render(
            "compare_item.html.j2",
            keys=[k for k, _, _ in runs],
            item=item,
            condition=condition,
            sample=sample,
            rows=rows,
            text_chars=COMPARE_TEXT_CHARS,
        )

    routes = [
        Route("/", runs_page),
        Route("/runs/{run}", dashboard_page),
        Route("/runs/{run}/report", report_file),
        Route("/runs/{run}/conversations", conversations_page),
        Route("/runs/{run}/conversation", conversation_page),
        Route("/compare", compare_page),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(_SecurityHeaders), Middleware(_Errors)],
        exception_handlers={404: _not_found, 405: _not_found},
    )


def _not_found(request: Request, exc: Exception) -> Response:
    return _render("error.html.j2", 404, message="no such page")


def _transcript(
    item: Item, condition: str, records: Sequence[TurnRecord], judged: dict[int, list[Judged]]
) -> tuple[list[TranscriptRecord], float | None]:
    """The conversation's records with their key-turn marks and judgments, and its score as
    its protocol computes it."""
    try:
        protocol = get_protocol(item.protocol)
    except ValueError:
        protocol = None
    keys = set(protocol.key_turns(item, condition) or ()) if protocol else set()
    targets = {r.turn: r.score for r in records if r.role == TARGET_ROLE}
    score = protocol.conversation_score(item, condition, targets) if protocol else None
    out = [
        TranscriptRecord(
            record=r,
            key_turn=r.role == TARGET_ROLE and r.turn in keys,
            judgments=judged.get(r.turn, []) if r.role == TARGET_ROLE else [],
        )
        for r in records
    ]
    return out, score


class _Errors:
    """A ViewerError, or a store that turns out damaged mid-request, becomes an error page with
    one line; nothing else about the server leaks into a page."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        except ViewerError as exc:
            await _render("error.html.j2", exc.status, message=str(exc))(scope, receive, send)
        except Summarising as exc:
            page = _render("summarising.html.j2", done=exc.done, refresh=SUMMARISING_REFRESH_S)
            await page(scope, receive, send)
        except StoreError as exc:
            await _render("error.html.j2", 404, message=str(exc))(scope, receive, send)
        except DAMAGE as exc:
            message = f"the run store is damaged ({str(exc)[:200]})"
            await _render("error.html.j2", 500, message=message)(scope, receive, send)


class _SecurityHeaders:
    """Every response forbids scripts, framing by other sites, type sniffing and referrers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() != b"content-security-policy"
                ]
                policy = next(
                    (
                        v
                        for k, v in message.get("headers", [])
                        if k.lower() == b"content-security-policy"
                    ),
                    CSP.encode(),
                )
                headers += [
                    (b"content-security-policy", policy),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cache-control", b"no-store"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def trusted(app: Starlette, hosts: Sequence[str]) -> ASGIApp:
    """`app` answering only requests addressed to one of `hosts` (DNS rebinding)."""
    return TrustedHostMiddleware(app, allowed_hosts=list(hosts))
