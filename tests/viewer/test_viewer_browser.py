"""The viewer in headless Debian Chromium, served by the real `turnscope view` command: open
the runs list, a run's dashboard, filter its conversations, open transcripts with judge and
tool turns, compare two runs; then the pages of a run whose every text is hostile.

Any console error, page error, dialog or request to anywhere but the viewer fails the test.
Playwright drives /usr/bin/chromium (it never downloads a browser); screenshots go to
$TURNSCOPE_TEST_ARTIFACTS/viewer, or the test's tmp directory, and their paths are printed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from helpers.viewer_runs import RunningViewer, hostile_run, rich_run, start_viewer

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DASHBOARD_WAIT_MS = 90_000
"""The dashboard's figures are drawn by a child process; the page reloads until they are."""

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.is_file(), reason=f"{CHROMIUM} is missing (apt-get install chromium)"
    ),
    pytest.mark.timeout(300),
]


@pytest.fixture(scope="module")
def viewer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningViewer]:
    runs = tmp_path_factory.mktemp("runs")
    rich_run(runs / "run-a", model="model-a")
    rich_run(runs / "run-b", model="model-b", shift=0.5)
    hostile_run(runs / "hostile")
    with start_viewer(runs) as running:
        yield running


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = os.environ.get("TURNSCOPE_TEST_ARTIFACTS")
    directory = Path(root) / "viewer" if root else tmp_path_factory.mktemp("screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def watched(browser: Browser, viewer: RunningViewer) -> Iterator[tuple[Page, list[str]]]:
    """A fresh page and the problems seen on it; the test ends by asserting there are none."""
    problems: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    context.on(
        "response",
        lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None,
    )
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    # Every request (frames included) must go to the viewer itself.
    context.on(
        "request",
        lambda r: (
            problems.append(f"request: {r.url}")
            if not r.url.startswith(viewer.base_url + "/")
            else None
        ),
    )
    try:
        yield page, problems
    finally:
        context.close()


def shot(page: Page, artifacts: Path, name: str) -> None:
    path = artifacts / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    assert path.stat().st_size > 5_000


def test_runs_dashboard_filter_transcript_and_compare(
    watched: tuple[Page, list[str]], viewer: RunningViewer, artifacts: Path
) -> None:
    page, problems = watched
    page.goto(viewer.base_url + "/")
    assert page.locator("#runs tr.run").count() == 3
    shot(page, artifacts, "runs")

    page.get_by_role("link", name="run-a", exact=True).click()
    page.wait_for_selector("#report", timeout=DASHBOARD_WAIT_MS)
    report = page.frame_locator("#report")
    report.locator("svg").first.wait_for()
    assert page.locator("#by-condition tbody tr").count() == 3
    shot(page, artifacts, "dashboard")

    page.get_by_role("link", name="conversations").click()
    page.select_option("select[name=condition]", "own")
    page.select_option("select[name=errors]", "no")
    page.click("#filters button[type=submit]")
    assert page.locator("#total").inner_text().startswith("2 conversations")
    assert "condition=own" in page.url and "errors=no" in page.url
    shot(page, artifacts, "conversations-filtered")

    page.get_by_role("link", name="recall-1").click()
    judges = page.locator(".judge")
    assert judges.count() == 2
    judges.first.locator("details summary").click()
    assert "VERDICT: yes" in judges.first.inner_text()
    shot(page, artifacts, "transcript-judges")

    page.goto(viewer.base_url + "/runs/run-a/conversation?item=calc-1&condition=tools")
    assert page.locator(".tool-call").count() == 1
    assert "observation: 42" in page.locator(".tool-result").inner_text()
    shot(page, artifacts, "transcript-tools")

    page.goto(viewer.base_url + "/")
    page.check("input[value=run-a]")
    page.check("input[value=run-b]")
    page.click("#compare")
    assert page.locator("#paired tbody tr").count() >= 2
    shot(page, artifacts, "compare-summary")
    page.locator("#paired-items a").first.click()
    assert page.locator("section.record").count() >= 1
    assert page.locator(".difference").count() >= 1
    shot(page, artifacts, "compare-item")
    assert problems == []


def test_hostile_run_renders_and_nothing_executes(
    watched: tuple[Page, list[str]], viewer: RunningViewer, artifacts: Path
) -> None:
    page, problems = watched
    page.goto(viewer.base_url + "/")
    page.goto(viewer.base_url + "/runs/hostile/conversations")
    links = page.locator("#conversations a")
    assert links.count() == 2
    links.first.click()
    body = page.locator("main").inner_text()
    assert "<script>window.pwned = 1" in body  # shown as text
    assert "\u241b[31mred" in body  # ESC shown as its control picture
    assert "nul\u2400byte" in body
    assert page.evaluate("typeof window.pwned") == "undefined"
    shot(page, artifacts, "hostile-transcript")

    page.goto(viewer.base_url + "/runs/hostile/conversation?item=big&condition=own")
    answer = page.locator(".answer pre").inner_text()
    assert answer.startswith("<script>AAAA")
    assert "more characters not shown" in answer
    assert page.evaluate("typeof window.pwned") == "undefined"
    for url in ("/", "/runs/hostile", "/compare?run=hostile&run=run-a"):
        page.goto(viewer.base_url + url)
        assert page.evaluate("typeof window.pwned") == "undefined", url
        assert page.title() != "pwned"
    assert page.evaluate("document.querySelectorAll('script, img').length") == 0
    assert problems == []
