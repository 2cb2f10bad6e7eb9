"""The report opened in headless Debian Chromium: no console errors, every plot drawn.

Playwright drives the system browser at /usr/bin/chromium (it never downloads one); the
screenshot goes to $TURNSCOPE_TEST_ARTIFACTS, or the test's tmp_path, and the path is printed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from helpers.synthetic_runs import synthetic_suite_run, write_run
from turnscope.analysis import analyse, compare_runs
from turnscope.report import render_comparison_report, write_run_report
from turnscope.store import RunStore

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
CHARTS = (
    "by-turn",
    "by-distance",
    "gap-own-single",
    "gap-own-gold",
    "by-family",
    "success-at-k",
    "by-instruction",
)

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(), reason=f"{CHROMIUM} is missing (apt-get install chromium)"
)

# Per figure: its SVG's drawn size and how many paths with geometry it holds.
MEASURE = """
(figure) => {
  const svg = figure.querySelector("svg");
  if (!svg) return {width: 0, height: 0, paths: 0};
  const box = svg.getBoundingClientRect();
  const paths = [...svg.querySelectorAll("path")].filter(
    (p) => (p.getAttribute("d") || "").length > 10).length;
  return {width: box.width, height: box.height, paths};
}
"""


def _artifacts(tmp_path: Path) -> Path:
    root = os.environ.get("TURNSCOPE_TEST_ARTIFACTS")
    directory = Path(root) / "report" if root else tmp_path
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _open_in_chromium(
    report: Path, charts: list[str], screenshot: Path
) -> dict[str, dict[str, float]]:
    """Load the file, measure every chart's SVG, screenshot; fail on any console error or
    any request that leaves the file."""
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on(
                "console",
                lambda m: (
                    problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
                ),
            )
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            # Any request leaving the file (a font, a script, an image) is a failure.
            page.on(
                "request",
                lambda r: (
                    problems.append(f"request: {r.url}")
                    if not r.url.startswith("file://")
                    else None
                ),
            )
            page.goto(report.as_uri(), wait_until="load")
            figures = {key: page.locator(f"#chart-{key}").evaluate(MEASURE) for key in charts}
            details = page.locator("details.conversation")
            if details.count():
                details.first.evaluate("(d) => { d.open = true; }")
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    print(f"screenshot: {screenshot}")
    assert problems == []
    assert screenshot.stat().st_size > 10_000
    return figures


def _assert_drawn(figures: dict[str, dict[str, float]]) -> None:
    for key, figure in figures.items():
        assert figure["width"] > 100 and figure["height"] > 50, (key, figure)
        assert figure["paths"] > 0, (key, figure)


def test_run_report_renders_in_chromium(tmp_path: Path) -> None:
    items, records = synthetic_suite_run(6, seed=5)
    store = RunStore.open(write_run(tmp_path / "run", items, records))
    try:
        report = write_run_report(store)
    finally:
        store.close()
    figures = _open_in_chromium(report, list(CHARTS), _artifacts(tmp_path) / "report.png")
    _assert_drawn(figures)


def test_comparison_report_renders_in_chromium(tmp_path: Path) -> None:
    items_a, records_a = synthetic_suite_run(4, seed=1)
    items_b, records_b = synthetic_suite_run(4, seed=2)
    comparison = compare_runs(records_a, items_a, records_b, items_b, label_a="a", label_b="b")
    store = RunStore.open(write_run(tmp_path / "a", items_a, records_a))
    try:
        config = store.config()
    finally:
        store.close()
    report = tmp_path / "compare.html"
    report.write_text(
        render_comparison_report(
            comparison,
            analyse(records_a, items_a),
            analyse(records_b, items_b),
            config_a=config,
            config_b=config,
        ),
        encoding="utf-8",
    )
    charts = ["difference-own", "difference-gold", "difference-single", "by-turn"]
    figures = _open_in_chromium(report, charts, _artifacts(tmp_path) / "compare.png")
    _assert_drawn(figures)
