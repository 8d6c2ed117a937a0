"""No stored XSS in a real browser (RELIABILITY.md T10): the corpus of
tests/reliability/xss.py, stored in every Markdown section and every plain text
field, is opened in Debian's Chromium (Playwright) on a live server.

Every payload calls ``__xss(n)`` (a recorder defined before any page script
runs, reporting through the console) and ``alert(n)`` (a dialog). Each page is
loaded, then every element gets mouse, pointer and focus events and every
``<details>`` opens. Pass: 0 recorder calls, 0 dialogs, 0 links with a script
scheme, 0 requests the page did not mean to make (htmx attributes).

Two browser contexts: one with the Content-Security-Policy (as users get it),
one with ``bypass_csp`` (the full run), so the sanitiser is shown to hold on its
own. Two control pages, served beside the app with the same policy, hold the
same corpus rendered by Python-Markdown *without* the sanitiser: without the
policy they must run script (so the recorder works), with it they must not (so
the policy is a real second layer).
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass, field

import markdown as python_markdown
import pytest

from tests.factories import UserFactory
from tests.reliability import report, xss
from tests.reliability.test_xss_html import _pages

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]  # fmt: skip
PASSWORD = "pw-for-tests-123"  # tests.factories.UserFactory

pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"
    ),
    pytest.mark.django_db(transaction=True),
]

RECORDER = """
window.__xssHits = [];
window.__xss = function (n) { window.__xssHits.push(String(n)); console.log("__XSS__" + n); };
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""

# Mouse, pointer and focus events on every element, every <details> opened; then
# the links whose scheme is not http(s)/mailto (what a click would run).
SWEEP = """
() => {
  const events = ["mouseover", "mouseenter", "mousemove", "mousedown", "mouseup", "pointerover",
                  "pointerenter", "pointerdown", "focus", "focusin", "blur", "animationstart",
                  "transitionend", "toggle", "input", "change"];
  for (const element of document.querySelectorAll("body *")) {
    for (const type of events) {
      try { element.dispatchEvent(new Event(type, {bubbles: true})); } catch (e) {}
    }
    if (typeof element.focus === "function") { try { element.focus(); } catch (e) {} }
  }
  for (const details of document.querySelectorAll("details")) { details.open = true; }
  const unsafe = [];
  for (const link of document.querySelectorAll("a[href], area[href]")) {
    if (!["http:", "https:", "mailto:"].includes(link.protocol)) { unsafe.push(link.href); }
  }
  return unsafe;
}
"""


@dataclass
class Tally:
    """What one browser context saw."""

    pages: int = 0
    executions: set = field(default_factory=set)
    dialogs: list = field(default_factory=list)
    unsafe_links: list = field(default_factory=list)
    unexpected_requests: list = field(default_factory=list)
    navigations: list = field(default_factory=list)
    csp_violations: int = 0
    errors: list = field(default_factory=list)

    @property
    def failures(self) -> int:
        return (
            len(self.executions)
            + len(self.dialogs)
            + len(self.unsafe_links)
            + len(self.unexpected_requests)
            + len(self.navigations)
        )


def _payload(index: int) -> str:
    return f"__xss({index}),alert({index})"


def _control_page(vectors: list[str]) -> str:
    """The corpus through Python-Markdown alone (no sanitiser), as a page."""
    parts = []
    for index, template in enumerate(vectors):
        vector = xss.fill(template, _payload(index))
        source = "\n\n".join(xss.markdown_sections(vector, _payload(index)))
        parts.append(python_markdown.markdown(source, extensions=["extra"]))
        parts.append(vector)
    return (
        "<!doctype html><html><head><title>control</title></head><body>" + "\n".join(parts) + "</body></html>"
    )


def _visit(page, url: str, tally: Tally, *, base: str, sweep: bool) -> None:
    seen_console: list[str] = []
    handler = lambda message: seen_console.append(message.text)  # noqa: E731
    page.on("console", handler)
    try:
        response = page.goto(url, wait_until="load")
        if response is None or response.status != 200:
            tally.errors.append(f"{url}: {response.status if response else 'no response'}")
        page.wait_for_timeout(150)  # onerror of broken images, autofocus
        if sweep:
            tally.unsafe_links += [f"{url}: {href}" for href in page.evaluate(SWEEP)]
            page.wait_for_timeout(100)
        if page.url.split("#")[0] != url.split("#")[0]:
            tally.navigations.append(f"{url} → {page.url}")
        hits = page.evaluate("window.__xssHits || []")
        tally.csp_violations += page.evaluate("(window.__cspViolations || []).length")
    finally:
        page.remove_listener("console", handler)
    tally.executions |= {f"{url}: vector {hit}" for hit in hits}
    tally.executions |= {f"{url}: {text}" for text in seen_console if text.startswith("__XSS__")}
    tally.pages += 1


def _run_context(
    browser, *, base: str, urls: list[str], bypass_csp: bool, sweep: bool, control: str
) -> tuple:
    context = browser.new_context(bypass_csp=bypass_csp, viewport={"width": 1280, "height": 900})
    context.add_init_script(RECORDER)
    tally = Tally()
    control_tally = Tally()

    def route(request_route):
        url = request_route.request.url
        if url.startswith(base + "/__control__/"):
            request_route.fulfill(
                status=200,
                headers={
                    "Content-Type": "text/html; charset=utf-8",
                    "Content-Security-Policy": control_policy,
                },
                body=control,
            )
        elif url.startswith(base + "/"):
            request_route.continue_()
        else:
            request_route.abort()  # no network beyond the live server

    def on_request(request):
        path = request.url[len(base) :] if request.url.startswith(base) else request.url
        if path.startswith("/accounts/logout") or (
            request.method != "GET"
            and not path.startswith("/accounts/login")
            and not path.startswith("/postmortems/lint/")
        ):
            tally.unexpected_requests.append(f"{request.method} {path}")

    page = context.new_page()
    page.on(
        "dialog", lambda dialog: (tally.dialogs.append(f"{page.url}: {dialog.message}"), dialog.dismiss())
    )
    page.goto(base + "/accounts/login/")
    control_policy = page.evaluate(
        "async () => (await fetch('/accounts/login/')).headers.get('Content-Security-Policy')"
    )
    page.fill("#id_username", "viewer")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("load")
    assert "/accounts/login/" not in page.url, "could not log in"
    context.route("**/*", route)
    page.on("request", on_request)

    for url in urls:
        _visit(page, base + url, tally, base=base, sweep=sweep)

    # The control: unsanitised Markdown, same origin, same policy (ignored when bypassed).
    page.remove_listener("request", on_request)
    control_page = context.new_page()
    control_page.on("dialog", lambda dialog: (control_tally.dialogs.append(dialog.message), dialog.dismiss()))
    # Loaded, not swept: a sweep would answer thousands of alert() dialogs one by one.
    _visit(control_page, base + "/__control__/", control_tally, base=base, sweep=False)
    context.close()
    return tally, control_tally


def test_no_stored_payload_runs_in_chromium(live_server):
    from playwright.sync_api import sync_playwright

    full = report.full_run()
    viewer = UserFactory(username="viewer", is_staff=True, is_superuser=True)
    started = time.monotonic()
    seeded = xss.seed(viewer=viewer, js_for=_payload)
    if full:  # every kind of page; the per-team and admin pages of 5 teams and documents
        pages = _pages(seeded, per_team_limit=5)
    else:
        pages = [p for p in _pages(seeded) if p[0] in ("detail", "list page 1", "search", "my action items")]
    urls = [url for _, url, _ in pages]
    control = _control_page(xss.VECTORS)
    base = live_server.url

    # No database access from here on: Playwright's sync API runs an event loop.
    results = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            results["with CSP"] = _run_context(
                browser, base=base, urls=urls, bypass_csp=False, sweep=True, control=control
            )
            if full:
                results["CSP bypassed"] = _run_context(
                    browser, base=base, urls=urls, bypass_csp=True, sweep=True, control=control
                )
            else:  # the positive control alone, on the first pages
                results["CSP bypassed"] = _run_context(
                    browser, base=base, urls=urls[:3], bypass_csp=True, sweep=False, control=control
                )
        finally:
            browser.close()
    seconds = time.monotonic() - started

    for name, (tally, _control) in results.items():
        assert tally.errors == [], f"{name}: {tally.errors[:5]}"
        assert tally.executions == set(), f"{name}: scripts ran: {sorted(tally.executions)[:10]}"
        assert tally.dialogs == [], f"{name}: dialogs: {tally.dialogs[:10]}"
        assert tally.unsafe_links == [], f"{name}: {tally.unsafe_links[:10]}"
        assert tally.unexpected_requests == [], f"{name}: {tally.unexpected_requests[:10]}"
        assert tally.navigations == [], f"{name}: {tally.navigations[:10]}"
    with_csp, control_with_csp = results["with CSP"]
    bypassed, control_bypassed = results["CSP bypassed"]
    # The recorder works: unsanitised Markdown runs script when nothing stops it...
    assert len(control_bypassed.executions) + len(control_bypassed.dialogs) > 0
    # ...and the policy alone stops every one of them, reporting violations.
    assert control_with_csp.executions == set() and control_with_csp.dialogs == []
    assert control_with_csp.csp_violations > 0
    # Our own pages break no policy rule (no inline script or style of ours).
    assert with_csp.csp_violations == 0, f"{with_csp.csp_violations} CSP violations on app pages"

    executed_vectors = {re.sub(r".*vector ", "", hit) for hit in control_bypassed.executions}
    report.record(
        f"Stored XSS in Chromium (T10, {report.engine()})",
        report.table(
            ["figure", "with CSP", "CSP bypassed (sanitiser alone)"],
            [
                ["vectors tried", len(xss.VECTORS), len(xss.VECTORS)],
                ["pages opened (each swept with mouse/focus events)", with_csp.pages, bypassed.pages],
                ["scripts run", len(with_csp.executions), len(bypassed.executions)],
                ["dialogs", len(with_csp.dialogs), len(bypassed.dialogs)],
                ["links with a script scheme", len(with_csp.unsafe_links), len(bypassed.unsafe_links)],
                [
                    "unexpected requests (htmx)",
                    len(with_csp.unexpected_requests),
                    len(bypassed.unexpected_requests),
                ],
                ["CSP violations on app pages", with_csp.csp_violations, "—"],
                [
                    "control, unsanitised Markdown: vectors that ran",
                    len(control_with_csp.executions),
                    f"{len(executed_vectors)} (+{len(control_bypassed.dialogs)} dialogs)",
                ],
                ["control: CSP violations", control_with_csp.csp_violations, "—"],
            ],
        )
        + f"\n\nChromium `{CHROMIUM}` via Playwright, {report.engine()} live server, {seconds:.0f} s "
        "including seeding. Fields: every Markdown section (each vector in "
        f"{len(xss.MARKDOWN_CONTEXTS) + len(xss.URL_CONTEXTS)} contexts) and "
        f"{len(xss.PLAIN_FIELDS)} plain text fields per document. "
        "Command: `KB_VERIFY=1 pytest tests/reliability/test_xss_browser.py`.",
    )
