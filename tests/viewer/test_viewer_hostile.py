"""A run whose item ids, prompts, answers, errors, judge texts, tool calls, flags, model and
suite names are hostile: every page answers, escapes all of it, carries no control character
and stays bounded with a 1 MB answer (the browser test checks that nothing executes)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from starlette.testclient import TestClient

from helpers.viewer_runs import BIG_ANSWER_CHARS, hostile_run, rich_run
from turnscope.viewer.app import Viewer, make_app
from turnscope.viewer.text import SHOWN_CHARS

HOSTILE_ITEM = "<script>alert(1)</script>\x00item"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("runs")
    hostile_run(root / "hostile")
    rich_run(root / "plain")
    viewer = Viewer([root])
    viewer.warm()
    try:
        yield TestClient(make_app(viewer))
    finally:
        viewer.close()


def pages() -> list[str]:
    one = urlencode({"item": HOSTILE_ITEM, "condition": "own"})
    return [
        "/",
        "/runs/hostile",
        "/runs/hostile/conversations",
        "/runs/hostile/conversations?" + urlencode({"family": "<b>family</b>", "q": "<script>"}),
        "/runs/hostile/conversation?" + one,
        "/runs/hostile/conversation?item=big&condition=own",
        "/compare?run=hostile&run=plain",
        "/compare?run=hostile&run=plain&" + one,
        "/runs/%3Cscript%3E",
        "/runs/hostile/conversation?" + urlencode({"item": "<img onerror=x>", "condition": "<b>"}),
    ]


@pytest.mark.parametrize("url", pages())
def test_every_page_escapes_hostile_text(client: TestClient, url: str) -> None:
    page = client.get(url)
    assert page.status_code in (200, 404), page.text[:500]
    html = page.text
    lowered = html.lower()
    assert "<script" not in lowered and "<img" not in lowered
    for markup in ("<b>loud", "<b>family</b>", "<b>judge</b>", "<i>flag"):
        assert markup not in lowered, (url, markup)
    assert "</textarea>" not in lowered
    for control in ("\x00", "\x1b", "\x07", "\u202e"):
        assert control not in html, (url, repr(control))
    assert len(html) < SHOWN_CHARS * 3


def test_hostile_text_is_shown_not_lost(client: TestClient) -> None:
    html = client.get(
        "/runs/hostile/conversation?" + urlencode({"item": HOSTILE_ITEM, "condition": "own"})
    ).text
    assert "&lt;script&gt;window.pwned = 1" in html
    assert "\u241b[31mred" in html and "nul\u2400byte" in html and "\\u202eevil" in html
    big = client.get("/runs/hostile/conversation?item=big&condition=own").text
    assert f"{BIG_ANSWER_CHARS + 8 - SHOWN_CHARS:,} more characters not shown" in big
