"""The three insights pages in a real browser: Debian's Chromium driven by Playwright.

Checks that every chart drew (a ``<canvas>`` with a Chart.js instance, marked
``data-chart-state="drawn"`` by ``insights.js``), that no script error or
Content-Security-Policy violation was reported, and saves full-page screenshots
under ``test-artifacts/insights/`` (git-ignored). Skipped, with the reason, when
``/usr/bin/chromium`` or the ``playwright`` package is missing.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "insights"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
RANGE = "from=2026-01-01&to=2026-06-15"
# The live server reads committed rows; tests/conftest.py puts back the seeded
# factor taxonomy that the flush after each transactional test removes.
pytestmark = pytest.mark.django_db(transaction=True)

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
)
if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


@pytest.fixture
def browser_page(live_server, client, org):
    """A Chromium page signed in as alice (the session cookie of a logged-in test client)."""
    client.force_login(org.alice)
    cookie = client.cookies["sessionid"]
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, reduced_motion="reduce")
        context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])
        page = context.new_page()
        page.problems = []
        page.on("pageerror", lambda error: page.problems.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: page.problems.append(f"console {message.type}: {message.text}")
            if message.type == "error"
            else None,
        )
        try:
            yield page
        finally:
            browser.close()


def _charts(page) -> list[dict]:
    return page.eval_on_selector_all(
        "canvas[data-insights-chart]",
        """canvases => canvases.map(c => ({
            id: c.id,
            state: c.getAttribute("data-chart-state"),
            chart: !!(window.Chart && window.Chart.getChart(c)),
            width: c.width,
            height: c.height,
        }))""",
    )


@pytest.mark.parametrize(
    ("path", "name", "expected"),
    [
        ("/insights/", "organisation", 6),
        ("/insights/teams/payments/", "team-payments", 5),
        ("/insights/me/", "my-work", 2),
    ],
)
def test_insights_pages_draw_their_charts(browser_page, live_server, path, name, expected):
    page = browser_page
    response = page.goto(f"{live_server.url}{path}?{RANGE}")
    assert response.status == 200
    page.wait_for_function(
        "() => [...document.querySelectorAll('canvas[data-insights-chart]')]"
        ".every(c => c.hasAttribute('data-chart-state'))",
        timeout=10_000,
    )

    charts = _charts(page)

    assert len(charts) == expected, charts
    for chart in charts:
        assert chart["state"] == "drawn", chart
        assert chart["chart"], chart
        assert chart["width"] > 100 and chart["height"] > 100, chart
    assert page.problems == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_the_heatmap_is_a_matrix_chart_and_the_table_opens(browser_page, live_server):
    page = browser_page
    page.goto(f"{live_server.url}/insights/?{RANGE}")
    page.wait_for_selector('#chart-factors-by-quarter[data-chart-state="drawn"]')

    kind = page.evaluate(
        "() => Chart.getChart(document.getElementById('chart-factors-by-quarter')).config.type"
    )
    page.click("#factors-by-quarter summary")

    assert kind == "matrix"
    assert page.is_visible("#factors-by-quarter table")
    assert page.inner_text("#factors-by-quarter tbody tr:first-child th") == "Configuration change"
