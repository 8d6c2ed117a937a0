"""End to end in a real browser: Playwright (PyPI) driving Debian's Chromium
against pytest-django's live server.

1. A facilitator schedules a review, runs every agenda step, adds three action
   items with owners and dates, resolves a blame finding, ends the review, and
   the post-mortem shows as reviewed.
2. A second browser editing the same section gets the conflict, with both texts.

Screenshots of the review page go to ``test-artifacts/reviews/`` (gitignored).
Skipped with a message when ``/usr/bin/chromium`` or Playwright is missing;
``.ci/run`` installs Chromium and requirements.txt pins Playwright. Never run
``playwright install``: it downloads a browser.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.db import connections
from django.utils import timezone

from postmortems.models import ActionItem, PostMortem, TeamMembership
from reviews import scheduling, services
from reviews.models import Review
from tests.factories import TeamMembershipFactory, UserFactory
from tests.reviews.conftest import make_ready_postmortem, soon

CHROMIUM = Path("/usr/bin/chromium")
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install -r requirements.txt)"
)
pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's chromium is missing: apt-get install chromium"
    ),
    # The live server reads committed rows; "taxonomy" puts back the factors a flush removed.
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("taxonomy"),
]

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts" / "reviews"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PASSWORD = "pw-for-tests-123"  # tests.factories.UserFactory
PROJECTOR = {"width": 1920, "height": 1080}


@pytest.fixture
def browser(monkeypatch):
    # Playwright's sync API keeps an event loop in this thread; the ORM calls the
    # test makes between browser steps are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
        # ORM calls made while Playwright runs use their own connection (its greenlet
        # has its own context); close it, or PostgreSQL cannot drop the test database.
        connections.close_all()


def signed_in_page(browser, live_server, username):
    context = browser.new_context(viewport=PROJECTOR, accept_downloads=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda msg: problems.append(f"console: {msg.text}") if _unexpected(msg) else None)
    page.problems = problems
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("form [type=submit]")
    assert "/accounts/login/" not in page.url, f"{username} could not sign in"
    return page


def _unexpected(message) -> bool:
    """Console errors other than the 400 / 409 answers the tests provoke on purpose
    (a refused end, a conflicting edit): Chromium logs every non-2xx page load."""
    if message.type != "error":
        return False
    return not re.search(r"Failed to load resource: .*status of (400|409)\b", message.text)


def shot(page, name):
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def click_and_wait(page, selector):
    with page.expect_navigation():
        page.click(selector)


@pytest.fixture
def people(team, author, teammate):
    """The facilitator leads the team (so may schedule) and wrote nothing; Nina takes notes."""
    fran = UserFactory(username="fran", first_name="Fran", last_name="Ojo")
    TeamMembershipFactory(team=team, user=fran, role=TeamMembership.Role.LEAD)
    nina = UserFactory(username="nina", first_name="Nina", last_name="Berg")
    TeamMembershipFactory(team=team, user=nina)
    return {"fran": fran, "nina": nina, "alice": author, "bob": teammate}


def test_facilitator_runs_a_whole_review(browser, live_server, people, team, author, teammate):
    pm = make_ready_postmortem(team=team, authors=[author], owners=[teammate, teammate, author])
    fran, nina = people["fran"], people["nina"]
    page = signed_in_page(browser, live_server, "fran")

    # Schedule from the post-mortem page.
    page.goto(f"{live_server.url}{pm.get_absolute_url()}")
    click_and_wait(page, "#reviews a:has-text('Schedule the review')")
    page.select_option("select[name=facilitator]", str(fran.pk))
    page.select_option("select[name=note_taker]", str(nina.pk))
    page.fill("input[name=location]", "Room 4")
    assert page.is_checked(f"input[name=invitees][value='{author.pk}']")  # suggested: the author
    click_and_wait(page, "form.rv-schedule-form button[type=submit]")
    review = Review.objects.get(postmortem=pm)
    assert page.url.endswith(review.get_absolute_url())
    assert PostMortem.objects.get(pk=pm.pk).status == "in_review"
    with page.expect_download() as download:
        page.click("a:has-text('Invite (.ics)')")
    assert Path(download.value.path()).read_bytes().startswith(b"BEGIN:VCALENDAR\r\n")
    shot(page, "01-scheduled")

    # Frame.
    click_and_wait(page, "[data-action=start]")
    page.wait_for_function("document.querySelector('[data-clock=step]').textContent.match(/^2:5\\d$|^3:00$/)")
    shot(page, "02-frame")

    # Timeline: a sentence that blames someone is flagged while it is typed, and after saving.
    click_and_wait(page, "[data-action=next]")
    page.click("summary:has-text('Edit “What happened”')")
    editor = page.locator("textarea[name='what_happened-text']")
    editor.fill(editor.input_value() + "\n\nBob forgot to run the migration before the deploy.")
    page.wait_for_selector("#section-what_happened .lint-findings .lint-rule-blame")
    shot(page, "03-timeline-live-finding")
    click_and_wait(page, "button:has-text('Save “What happened”')")
    assert page.locator("#findings .lint-rule-blame").count() == 1

    # Contributing factors: tag one more.
    click_and_wait(page, "[data-action=next]")
    click_and_wait(page, "button.rv-chip:has-text('Monitoring gap')")
    assert page.get_attribute("button.rv-chip:has-text('Monitoring gap')", "aria-pressed") == "true"
    shot(page, "04-factors")

    # Actions and owners: three new items with owners and dates.
    click_and_wait(page, "[data-action=next]")
    new_items = [
        ("Stage config rollouts through a canary", teammate, 10, "process"),
        ("Annotate config changes on the checkout dashboard", nina, 14, "check"),
        ("Document the rollback of a config change in the runbook", author, 21, "documentation"),
    ]
    for text, owner, days, kind in new_items:
        page.fill("#id_item-text", text)
        page.select_option("#id_item-owner", str(owner.pk))
        page.fill("#id_item-due_date", (timezone.localdate() + dt.timedelta(days=days)).isoformat())
        page.select_option("#id_item-kind", kind)
        click_and_wait(page, "#quick-add button[type=submit]")
        assert page.locator(f"table.rv-items td:has-text('{text}')").count() == 1
    # Six items is more than the readiness check allows: the room declines one, on record.
    page.click("tr:has-text('Add a schema check') details.rv-decline summary")
    page.fill(
        "tr:has-text('Add a schema check') input[name=rationale]", "The canary catches bad values first."
    )
    click_and_wait(page, "tr:has-text('Add a schema check') button:has-text('Move to declined')")
    page.fill("#id_decision-text", "Config changes go through the canary like code.")
    click_and_wait(page, "#decisions button[type=submit]")
    page.fill("#id_parking-text", "A bot that diffs config against the schema")
    click_and_wait(page, "#parking-lot button[type=submit]")
    shot(page, "05-actions")

    # Wrap-up: ending is refused while the blame finding is open.
    click_and_wait(page, "[data-action=next]")
    for person in (author, teammate, fran, nina):
        page.check(f"#attendance input[value='{person.pk}']")
    click_and_wait(page, "#attendance button[type=submit]")
    page.fill("textarea[name=outcome]", "Config is checked like code; three new action items.")
    click_and_wait(page, "[data-action=end]")
    assert "blame" in page.inner_text(".rv-end .form-errors")
    assert Review.objects.get(pk=review.pk).status == "running"
    shot(page, "06-end-refused")

    # Resolve the finding by rewriting the sentence about the system.
    page.goto(f"{live_server.url}{review.get_absolute_url()}?view=timeline")
    page.click("summary:has-text('Edit “What happened”')")
    editor = page.locator("textarea[name='what_happened-text']")
    editor.fill(
        editor.input_value().replace(
            "Bob forgot to run the migration before the deploy.",
            "The deploy pipeline did not run the migration step.",
        )
    )
    page.wait_for_selector("#section-what_happened .lint-findings .lint-ok")
    click_and_wait(page, "button:has-text('Save “What happened”')")
    assert page.locator("#findings .lint-rule-blame").count() == 0

    # End.
    page.goto(f"{live_server.url}{review.get_absolute_url()}?view=wrapup")
    page.fill("textarea[name=outcome]", "Config is checked like code; three new action items.")
    shot(page, "07-wrapup")
    click_and_wait(page, "[data-action=end]")
    assert "Config is checked like code" in page.inner_text("main")
    shot(page, "08-summary")
    page.goto(f"{live_server.url}{pm.get_absolute_url()}")
    assert page.inner_text(".doc-head .pill.status-reviewed") == "Reviewed"

    review.refresh_from_db()
    pm.refresh_from_db()
    assert (review.status, pm.status) == ("ended", "reviewed")
    assert review.actual_seconds is not None and review.actual_seconds < 600
    assert review.step_times.count() == 5 and review.attendees.count() == 4
    texts = set(ActionItem.objects.filter(postmortem=pm).values_list("text", flat=True))
    assert {text for text, *_ in new_items} <= texts and len(texts) == 5
    summaries = [m for m in mail.outbox if "Your action items from the review" in m.subject]
    assert sorted(m.to[0] for m in summaries) == ["alice@example.com", "bob@example.com", "nina@example.com"]
    assert page.problems == []


def test_second_browser_editing_the_same_section_gets_the_conflict(
    browser, live_server, people, team, author, teammate
):
    pm = make_ready_postmortem(team=team, authors=[author], owners=[teammate, teammate, author])
    fran, nina = people["fran"], people["nina"]
    review = scheduling.review_schedule(
        user=fran, postmortem=pm, scheduled_at=soon(), facilitator=fran, note_taker=nina, invitees=[author]
    )
    services.review_start(review=review, user=fran)
    services.review_next_step(review=review, user=fran, from_step=0)
    services.review_next_step(
        review=review, user=fran, from_step=1
    )  # contributing factors: "Why it happened"

    facilitator_page = signed_in_page(browser, live_server, "fran")
    note_taker_page = signed_in_page(browser, live_server, "nina")
    for page in (facilitator_page, note_taker_page):
        page.goto(f"{live_server.url}{review.get_absolute_url()}")
        page.click("summary:has-text('Edit “Why it happened”')")
    # Both screens show the same clock: it comes from the stored step start.
    clocks = [p.inner_text("[data-clock=step]") for p in (facilitator_page, note_taker_page)]
    assert all(re.fullmatch(r"6:[0-5]\d|7:00", c) for c in clocks), clocks

    facilitator_page.fill(
        "textarea[name='why_it_happened-text']", "The parser fell back to zero on unknown units."
    )
    click_and_wait(facilitator_page, "button:has-text('Save “Why it happened”')")
    note_taker_page.fill(
        "textarea[name='why_it_happened-text']", "Nothing checked config values before rollout."
    )
    click_and_wait(note_taker_page, "button:has-text('Save “Why it happened”')")

    conflict = note_taker_page.locator("[data-conflict]")
    assert conflict.is_visible()
    assert (
        note_taker_page.input_value("[data-conflict-yours]")
        == "Nothing checked config values before rollout."
    )
    assert (
        note_taker_page.inner_text("[data-conflict-theirs]")
        == "The parser fell back to zero on unknown units."
    )
    shot(note_taker_page, "09-conflict")
    assert (
        PostMortem.objects.get(pk=pm.pk).why_it_happened == "The parser fell back to zero on unknown units."
    )

    # Keeping "mine" is an explicit choice, made against the stored version.
    click_and_wait(note_taker_page, "button:has-text('Save my text over theirs')")
    assert PostMortem.objects.get(pk=pm.pk).why_it_happened == "Nothing checked config values before rollout."
    # The facilitator's screen notices the change and shows it without a click.
    facilitator_page.wait_for_selector(
        "#section-why_it_happened .rv-prose:has-text('Nothing checked config values')"
    )
    shot(facilitator_page, "10-second-screen-updated")
    assert facilitator_page.problems == [] and note_taker_page.problems == []


@pytest.mark.skipif(os.environ.get("CI_SKIP_PROJECTOR_SHOT") == "1", reason="asked to skip")
def test_review_page_fits_a_projector(browser, live_server, people, team, author, teammate):
    """The running review at 1920×1080: the clocks, the next-step button and the
    document are on the first screen, and nothing overflows sideways."""
    pm = make_ready_postmortem(team=team, authors=[author], owners=[teammate, teammate, author])
    fran = people["fran"]
    review = scheduling.review_schedule(user=fran, postmortem=pm, scheduled_at=soon(), facilitator=fran)
    services.review_start(review=review, user=fran)
    page = signed_in_page(browser, live_server, "fran")
    for step in ("frame", "timeline", "factors", "actions", "wrapup"):
        page.goto(f"{live_server.url}{review.get_absolute_url()}?view={step}")
        page.screenshot(path=str(ARTIFACTS / f"projector-{step}.png"))
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PROJECTOR["width"], f"{step}: page is {width}px wide"
        for selector in (
            "[data-clock=step]",
            "[data-clock=meeting]",
            "[data-action=next]",
            ".rv-doc .rv-card",
        ):
            box = page.locator(selector).first.bounding_box()
            assert box and box["y"] + min(box["height"], 60) <= PROJECTOR["height"], (
                f"{step}: {selector} below the fold"
            )
