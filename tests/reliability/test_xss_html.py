"""No stored XSS in the HTML (RELIABILITY.md T9): every vector in every Markdown
context renders to allow-listed HTML, and every page that shows user text —
with the vectors in every Markdown section and every plain text field — holds
no element, attribute or URL that could run script.

The browser half (the same pages executed in Chromium) is test_xss_browser.py.
"""

from __future__ import annotations

import contextlib
import re

import pytest
from django.urls import NoReverseMatch, reverse

from postmortems.markdown import render_markdown
from tests.factories import UserFactory
from tests.reliability import report, xss

pytestmark = pytest.mark.django_db
ALERT = "alert(1)"


def test_every_vector_in_every_markdown_context_renders_safe():
    renders = 0
    problems = []
    for template in xss.VECTORS:
        vector = xss.fill(template, ALERT)
        sources = [ctx.replace("{v}", vector) for ctx in xss.MARKDOWN_CONTEXTS.values()]
        sources += [
            ctx.replace("{u}", xss.fill(payload, ALERT))
            for ctx in xss.URL_CONTEXTS.values()
            for payload in xss.URL_PAYLOADS
        ]
        for source in sources:
            html = render_markdown(source)
            renders += 1
            page = xss.audit(f'<div class="prose">{html}</div>')
            problems += [f"{source!r}: {p}" for p in page.problems]
        # Fenced code shows the vector as text, character for character.
        fenced = xss.audit(render_markdown(f"```\n{vector}\n```"))
        assert vector.expandtabs(4) in fenced.text  # Markdown expands tabs
    assert len(xss.VECTORS) >= 26
    assert renders >= len(xss.VECTORS) * len(xss.MARKDOWN_CONTEXTS)
    assert problems == []


@pytest.fixture
def seeded(db):
    viewer = UserFactory(username="viewer", is_staff=True, is_superuser=True)
    return xss.seed(viewer=viewer, js_for=lambda index: ALERT)


@pytest.fixture
def seeded_few(db):
    viewer = UserFactory(username="viewer")
    return xss.seed(viewer=viewer, js_for=lambda index: ALERT, count=8)


def _pages(seeded: xss.Seeded, *, per_team_limit: int | None = None) -> list[tuple[str, str, int | None]]:
    """(label, url, vector index or None) of every page that shows corpus text.

    A short run (``make test``) opens the pages of 3 teams and documents where
    there is one page per team or document; a full run opens all of them, or
    ``per_team_limit`` of them.
    """
    limit = (per_team_limit or len(seeded.teams)) if report.full_run() else 3
    pages: list[tuple[str, str, int | None]] = [
        ("list page 1", "/postmortems/", None),
        ("list page 2", "/postmortems/?page=2", None),
        ("search", "/postmortems/?q=xsscanary", None),
        ("my action items", reverse("postmortems:my_action_items"), None),
        ("reminders", reverse("followthrough:preferences"), None),
    ]
    for index, pm in enumerate(seeded.postmortems):
        pages.append(("detail", pm.get_absolute_url(), index))
        if report.full_run() or index < 5:
            pages.append(("edit form", reverse("postmortems:edit", kwargs={"key": pm.key}), index))
    teams = seeded.teams[:limit]
    team_pages = [
        "followthrough:team_policy",
        "patterns:team_dod",
        "patterns:retro",
        "insights:team",
        "reviews:team",
    ]
    for name in team_pages:
        for team in teams:
            try:
                pages.append((name, reverse(name, kwargs={"slug": team.slug}), None))
            except NoReverseMatch:  # an app that is not installed in this build
                break
    for name in ("insights:organisation", "insights:action_items", "insights:me", "patterns:inbox",
                 "patterns:dod_index"):  # fmt: skip
        with contextlib.suppress(NoReverseMatch):
            pages.append((name, reverse(name), None))
    admin = ["postmortem", "actionitem", "timelineentry", "declinedchange", "fixpullrequest", "team",
             "service", "contributingfactor"]  # fmt: skip
    for model in admin:
        pages.append((f"admin {model} list", reverse(f"admin:postmortems_{model}_changelist"), None))
    documents = seeded.postmortems[:limit]
    for pm in documents:
        pages.append(("admin change", reverse("admin:postmortems_postmortem_change", args=[pm.pk]), None))
    return pages


def test_no_page_showing_the_corpus_can_run_script(client, seeded):
    client.force_login(seeded.viewer)
    problems: list[str] = []
    checked = 0
    for label, url, index in _pages(seeded):
        response = client.get(url)
        assert response.status_code == 200, f"{label} {url}: {response.status_code}"
        page = xss.audit(response.content.decode())
        problems += [f"{label} {url}: {p}" for p in page.problems]
        checked += 1
        if index is not None and label == "detail":
            # Every field was shown, as text: the vector follows its marker.
            for marker, field_name in xss.PLAIN_FIELDS.items():
                assert f"{marker}{index}" in page.text, f"{field_name} of vector {index} not on {url}"
            assert seeded.vectors[index].split("\n")[0] in page.text
    assert problems == [], "\n".join(problems[:50])
    assert checked >= len(seeded.postmortems) + 10
    report.record(
        f"Stored XSS in the HTML (T9, {report.engine()})",
        report.table(
            ["figure", "value"],
            [
                ["vectors", len(xss.VECTORS)],
                ["Markdown contexts per vector", len(xss.MARKDOWN_CONTEXTS) + len(xss.URL_CONTEXTS)],
                ["plain text fields per document", len(xss.PLAIN_FIELDS)],
                ["Markdown sections per document", 4],
                ["pages checked", checked],
                ["unsafe elements, attributes or URLs found", len(problems)],
            ],
        )
        + "\n\nPages: post-mortem detail and edit form per vector, list, search results, "
        "my action items, reminders, team pages of every app, insights, admin lists and change forms. "
        "Command: `KB_VERIFY=1 pytest tests/reliability/test_xss_html.py`.",
    )


def test_search_snippets_in_the_api_carry_only_mark_tags(seeded_few):
    seeded = seeded_few
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(seeded.viewer)
    response = api.get("/api/v1/postmortems/", {"q": "xsscanary", "page_size": 100})
    assert response.status_code == 200
    results = response.json()["results"]
    assert results
    for row in results:
        tags = set(re.findall(r"</?\s*([a-zA-Z][\w:-]*)", row.get("snippet") or ""))
        assert tags <= {"mark"}, row["snippet"]


def test_markdown_export_is_a_download_not_a_page(client, seeded_few):
    seeded = seeded_few
    client.force_login(seeded.viewer)
    pm = seeded.postmortems[0]
    response = client.get(reverse("postmortems:export", kwargs={"key": pm.key}))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/markdown")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "attachment" in response["Content-Disposition"]
