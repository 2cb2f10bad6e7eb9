"""The viewer's pages, requested in process through Starlette's test client: what each shows,
every filter and sort of the conversations table, server-side pages, compare, and that a run
written to after the first visit is shown as it is now."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from helpers.synthetic_runs import make_record
from helpers.viewer_runs import rich_run
from turnscope.store import STORE_FILE, RunStore
from turnscope.viewer.app import CSP, Viewer, make_app


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    rich_run(root / "run-a", model="model-a")
    rich_run(root / "run-b", model="model-b", shift=0.5)
    return root


@pytest.fixture(scope="module")
def client(runs: Path) -> Iterator[TestClient]:
    viewer = Viewer([runs])
    viewer.warm()
    try:
        yield TestClient(make_app(viewer))
    finally:
        viewer.close()


def text(html: str) -> str:
    """The page's visible text, whitespace folded."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def rows(html: str, table: str) -> list[str]:
    """The text of each body row of the table with this id."""
    body = html.split(f'id="{table}"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [text(r).strip() for r in re.split(r"<tr[^>]*>", body)[1:]]


def conversations(client: TestClient, query: str = "") -> list[tuple[str, str]]:
    """(item, condition) of each row of the run-a conversations page for this query."""
    page = client.get(f"/runs/run-a/conversations?{query}")
    assert page.status_code == 200, page.text
    out = []
    for row in rows(page.text, "conversations"):
        if row == "no conversation matches":
            continue
        item, _family, condition = row.split()[:3]
        out.append((item, condition))
    return out


def test_runs_list_shows_each_run(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    listed = rows(page.text, "runs")
    assert len(listed) == 2
    # model, suite, conditions, date, status, turns, errors, judge errors, mean score
    assert listed[0].split() == [
        *("run-a", "model-a", "viewer-fixture", "own,", "gold,", "tools"),
        *("2026-11-28", "09:30", "finished", "14", "2", "0", "0.740"),
    ]
    assert listed[1].startswith("run-b model-b")


def test_every_page_forbids_scripts_and_carries_none(client: TestClient) -> None:
    for url in (
        "/",
        "/runs/run-a",
        "/runs/run-a/conversations",
        "/runs/run-a/conversation?item=calc-1&condition=tools",
        "/compare?run=run-a&run=run-b",
        "/compare?run=run-a&run=run-b&item=recall-1&condition=own",
        "/runs/nope",
    ):
        page = client.get(url)
        assert page.headers["content-security-policy"] == CSP, url
        assert "script-src" not in CSP and "default-src 'none'" in CSP
        assert "<script" not in page.text.lower(), url


def test_dashboard_shows_conditions(client: TestClient) -> None:
    page = client.get("/runs/run-a")
    assert page.status_code == 200
    assert rows(page.text, "by-condition") == [
        "gold 2 0.917 1",
        "own 3 0.757 1",
        "tools 1 0.500 0",
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["recall-1 gold", "recall-1 own", "recall-2 gold", "recall-2 own", "rules-1 own"]),
        ("family=tools", ["calc-1 tools"]),
        ("condition=gold", ["recall-1 gold", "recall-2 gold"]),
        ("errors=yes", ["recall-2 gold", "recall-2 own"]),
        ("errors=no&condition=own", ["recall-1 own", "rules-1 own"]),
        ("min=0.9", ["recall-2 gold", "recall-2 own"]),
        ("max=0.5", ["rules-1 own", "calc-1 tools"]),
        ("disagreement=yes", ["recall-1 own"]),
        ("flag=leak", ["rules-1 own"]),
        ("q=recall-2", ["recall-2 gold", "recall-2 own"]),
        ("sample=1", []),
        ("sort=-score&condition=own", ["recall-2 own", "recall-1 own", "rules-1 own"]),
    ],
)
def test_conversations_filter_and_sort(client: TestClient, query: str, expected: list[str]) -> None:
    found = [f"{item} {condition}" for item, condition in conversations(client, query)]
    if query == "":
        assert found[:5] == expected and len(found) == 6
    else:
        assert found == expected


def test_conversations_are_paged_on_the_server(client: TestClient) -> None:
    first = client.get("/runs/run-a/conversations?size=4")
    second = client.get("/runs/run-a/conversations?size=4&page=2")
    assert "6 conversations · page 1 of 2" in text(first.text)
    assert len(rows(first.text, "conversations")) == 4
    assert len(rows(second.text, "conversations")) == 2
    assert 'id="next"' in first.text and 'id="next"' not in second.text


def test_bad_query_values_are_one_line_errors(client: TestClient) -> None:
    page = client.get("/runs/run-a/conversations?page=two")
    assert page.status_code == 400
    assert "page must be a whole number" in text(page.text)
    assert client.get("/runs/run-a/conversation?item=recall-1").status_code == 400
    assert client.get("/runs/run-a/conversation?item=nope&condition=own").status_code == 404
    assert client.get("/runs/nope/conversations").status_code == 404
    assert client.get("/compare?run=run-a").status_code == 400


def test_transcript_shows_tools_checks_judges_and_request_metadata(client: TestClient) -> None:
    tools = text(client.get("/runs/run-a/conversation?item=calc-1&condition=tools").text)
    assert "tool call python (id call-1)" in tools
    assert "tool result python (call call-1) observation: 42 assistant It is 42." in tools
    assert "tokens 31 in / 9 out" in tools and "TTFT 0.05 s" in tools
    assert "cached · retries 1" in tools

    rules = client.get("/runs/run-a/conversation?item=rules-1&condition=own").text
    assert "punctuation:no_comma fail pass" in text(rules)
    assert 'id="turn-2-user"' in rules and "leak" in text(rules)

    recall = client.get("/runs/run-a/conversation?item=recall-1&condition=own").text
    shown = text(recall)
    assert "judge-a (rubric, spec 0): verdict yes = 1.00" in shown
    assert "judge-b (rubric, spec 0): verdict no = 0.00" in shown
    assert "VERDICT: no, it forgot" in shown
    assert 'class="record key"' in recall  # turn 3 is the probe turn
    # The same item under its other condition is one link away.
    assert "item=recall-1&amp;condition=gold&amp;sample=0" in recall


def test_compare_summary_and_one_item_side_by_side(client: TestClient) -> None:
    summary = client.get("/compare?run=run-a&run=run-b")
    assert summary.status_code == 200
    paired = rows(summary.text, "paired")
    assert paired[0].split()[:2] == ["gold", "2"]
    assert rows(summary.text, "paired-items")[0].split()[:3] == ["recall-1", "recollection", "gold"]

    item = client.get("/compare?run=run-a&run=run-b&item=recall-1&condition=own")
    assert item.status_code == 200
    turn3 = text(item.text.split('id="turn-3"', 1)[1].split("</section>", 1)[0])
    assert "score 1.000" in turn3 and "score 0.500 · -0.500" in turn3


def test_a_run_written_after_the_first_visit_is_shown_as_it_is_now(tmp_path: Path) -> None:
    run_dir = rich_run(tmp_path / "live")
    viewer = Viewer([run_dir])
    try:
        client = TestClient(make_app(viewer))
        # The first visit starts the run's summary and says so; the page reloads until done.
        assert 'id="summarising"' in client.get("/runs/live/conversations").text
        viewer.warm()
        assert "6 conversations" in text(client.get("/runs/live/conversations").text)
        assert len(rows(client.get("/runs/live").text, "by-condition")) == 3
        before = client.get("/runs/live/conversations?q=recall-1").text
        assert "2 conversations" in text(before)
        store = RunStore.open(run_dir)
        try:
            store.commit(make_record("recall-1", 1, 0.0, condition="single"))
            store.commit(make_record("recall-1", 1, 0.0, condition="own"))  # replaces a turn
        finally:
            store.close()
        page = client.get("/runs/live/conversations?q=recall-1")
        assert "3 conversations" in text(page.text)
        assert '<option value="single"' in page.text  # the filter values follow the run
        by_condition = rows(client.get("/runs/live").text, "by-condition")
        assert by_condition[2] == "single 1 0.000 0"
        own = [r for r in rows(page.text, "conversations") if " own " in r]
        assert own[0].split()[5] == "0.500"  # (0.0 + 0.5 + 1.0) / 3
    finally:
        viewer.close()


def test_an_existing_store_gets_the_viewer_indexes_when_opened(tmp_path: Path) -> None:
    run_dir = rich_run(tmp_path / "old")
    with sqlite3.connect(run_dir / STORE_FILE) as db:
        db.execute("DROP INDEX turns_by_role")
        db.execute("DROP INDEX judgments_failed")
    RunStore.open(run_dir).close()
    with sqlite3.connect(run_dir / STORE_FILE) as db:
        names = {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"turns_by_role", "judgments_failed"} <= names
