"""The server-rendered pages: list and search, the one-page view, the Markdown
download and "My action items". Create/edit forms are in test_views_edit.py."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from postmortems.models import ActionItem, PostMortem
from tests.factories import (
    ActionItemFactory,
    DeclinedChangeFactory,
    FixPullRequestFactory,
    PostMortemFactory,
    ServiceFactory,
    TeamFactory,
    TimelineEntryFactory,
    UserFactory,
    factor,
)

LOGIN = "/accounts/login/"


def rows(response) -> int:
    return response.content.decode().count('class="pm-row"')


# --- who may see the pages ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("list", {}),
        ("create", {}),
        ("my_action_items", {}),
        ("detail", {"key": "PM-1"}),
        ("edit", {"key": "PM-1"}),
        ("export", {"key": "PM-1"}),
    ],
)
def test_every_page_sends_anonymous_users_to_login(client, db, name, kwargs):
    PostMortemFactory()
    url = reverse(f"postmortems:{name}", kwargs=kwargs)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(f"{LOGIN}?next=")


def test_anonymous_status_change_is_refused_and_changes_nothing(client, db):
    item = ActionItemFactory()
    response = client.post(
        reverse("postmortems:action_item_status", kwargs={"pk": item.pk}),
        {f"ai{item.pk}-status": "done"},
    )
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
    item.refresh_from_db()
    assert item.status == ActionItem.Status.OPEN


def test_login_page_renders_a_form_and_logs_in(client, author):
    page = client.get(LOGIN)
    assert page.status_code == 200
    assert b'name="username"' in page.content and b'name="password"' in page.content
    response = client.post(LOGIN, {"username": "alice", "password": "pw-for-tests-123"})
    assert response.status_code == 302
    assert response["Location"] == reverse("postmortems:list")


def test_logout_is_a_post_button_in_the_nav(web):
    page = web.get(reverse("postmortems:list"))
    html = page.content.decode()
    assert re.search(r'<form method="post" action="/accounts/logout/"', html)
    response = web.post("/accounts/logout/")
    assert response.status_code == 302
    assert web.get(reverse("postmortems:list")).status_code == 302


def test_nav_shows_admin_only_to_staff(web, author):
    assert b'href="/admin/"' not in web.get(reverse("postmortems:list")).content
    author.is_staff = True
    author.save()
    page = web.get(reverse("postmortems:list"))
    assert b'href="/admin/"' in page.content
    assert b'href="/api/v1/docs/"' in page.content


# --- list, filters, search ----------------------------------------------------------


def test_list_shows_each_post_mortem_with_key_team_severity_status_and_factors(web, team):
    pm = PostMortemFactory(
        title="Checkout outage",
        team=team,
        severity="SEV1",
        status="published",
        factors=[factor("config-change")],
    )
    response = web.get(reverse("postmortems:list"))
    html = response.content.decode()
    assert response.status_code == 200
    assert pm.key in html and "Checkout outage" in html and "Payments" in html
    assert 'class="badge sev sev-sev1"' in html
    assert "status-published" in html
    assert factor("config-change").name in html
    assert f'href="/postmortems/{pm.key}/"' in html


def test_list_empty_state_invites_the_first_post_mortem(web):
    response = web.get(reverse("postmortems:list"))
    assert response.status_code == 200
    assert "No post-mortems yet — write the first one" in response.content.decode()
    assert PostMortem.objects.count() == 0


def test_list_filters_by_team_severity_status_and_factor(web, team):
    other = TeamFactory(slug="search", name="Search")
    mine = PostMortemFactory(
        title="Payments one", team=team, severity="SEV1", factors=[factor("config-change")]
    )
    theirs = PostMortemFactory(title="Search one", team=other, severity="SEV3", status="published")

    by_team = web.get(reverse("postmortems:list"), {"team": "payments"}).content.decode()
    assert mine.title in by_team and theirs.title not in by_team

    by_severity = web.get(reverse("postmortems:list"), {"severity": "SEV3"}).content.decode()
    assert theirs.title in by_severity and mine.title not in by_severity

    by_status = web.get(reverse("postmortems:list"), {"status": "published"}).content.decode()
    assert theirs.title in by_status and mine.title not in by_status

    by_factor = web.get(reverse("postmortems:list"), {"factor": "config-change"}).content.decode()
    assert mine.title in by_factor and theirs.title not in by_factor


def test_list_filters_by_service_and_start_date_range(web, team):
    checkout = ServiceFactory(slug="checkout", name="Checkout", team=team)
    old = PostMortemFactory(
        title="Old incident", team=team, started_at=timezone.make_aware(dt.datetime(2023, 1, 10, 12))
    )
    new = PostMortemFactory(
        title="New incident",
        team=team,
        services=[checkout],
        started_at=timezone.make_aware(dt.datetime(2024, 6, 1, 12)),
    )

    html = web.get(reverse("postmortems:list"), {"service": "checkout"}).content.decode()
    assert new.title in html and old.title not in html

    html = web.get(
        reverse("postmortems:list"), {"started_from": "2023-01-01", "started_to": "2023-12-31"}
    ).content.decode()
    assert old.title in html and new.title not in html


def test_list_with_filters_that_match_nothing_says_so(web, team):
    PostMortemFactory(team=team, severity="SEV2")
    response = web.get(reverse("postmortems:list"), {"severity": "SEV4"})
    assert rows(response) == 0
    assert "No post-mortems match these filters" in response.content.decode()


def test_list_ignores_an_invalid_filter_value_and_shows_the_error(web, team):
    PostMortemFactory(team=team)
    response = web.get(reverse("postmortems:list"), {"severity": "SEV9"})
    assert response.status_code == 200
    assert rows(response) == 1
    assert "SEV9 is not one of the available choices" in response.content.decode()


def test_search_finds_words_in_sections_and_highlights_them(web, team):
    hit = PostMortemFactory(
        title="Clock trouble", team=team, what_happened="A leap second made the scheduler spin."
    )
    miss = PostMortemFactory(title="Disk full", team=team, what_happened="The log volume filled up.")
    response = web.get(reverse("postmortems:list"), {"q": "leap second"})
    html = response.content.decode()
    assert response.status_code == 200
    assert hit.title in html and miss.title not in html
    assert re.search(r"<mark>leap</mark>", html, re.IGNORECASE)


def test_search_snippet_is_escaped(web, team):
    PostMortemFactory(
        title="Escaping",
        team=team,
        what_happened="The banner showed <script>alert(1)</script> during the leap second.",
    )
    response = web.get(reverse("postmortems:list"), {"q": "leap"})
    html = response.content.decode()
    assert rows(response) == 1
    assert "<mark>" in html
    assert "<script>alert(1)" not in html


def test_search_without_results_suggests_fewer_words(web, team):
    PostMortemFactory(team=team)
    response = web.get(reverse("postmortems:list"), {"q": "zeppelin"})
    html = response.content.decode()
    assert rows(response) == 0
    assert "No results for “zeppelin” — try fewer words" in html


def test_search_combines_with_filters(web, team):
    other = TeamFactory(slug="search", name="Search")
    mine = PostMortemFactory(title="Payments DNS", team=team, what_happened="DNS failed.")
    theirs = PostMortemFactory(title="Search DNS", team=other, what_happened="DNS failed.")
    html = web.get(reverse("postmortems:list"), {"q": "dns", "team": "payments"}).content.decode()
    assert mine.title in html and theirs.title not in html


def test_list_pages_by_25_and_page_links_keep_the_filters(web, team):
    for _ in range(30):
        PostMortemFactory(team=team, severity="SEV2")
    PostMortemFactory(team=team, severity="SEV1")

    first = web.get(reverse("postmortems:list"), {"severity": "SEV2"})
    assert rows(first) == 25
    html = first.content.decode()
    link = re.search(r'href="([^"]*page=2[^"]*)" rel="next"', html)
    assert link, "no next-page link"
    assert "severity=SEV2" in link.group(1)

    second = web.get(reverse("postmortems:list"), {"severity": "SEV2", "page": "2"})
    assert rows(second) == 5
    assert "Page 2 of 2" in second.content.decode()


def test_list_query_count_does_not_grow_with_rows(web, team, django_assert_max_num_queries):
    def make(n):
        for _ in range(n):
            PostMortemFactory(
                team=team,
                factors=[factor("config-change"), factor("retry-storm")],
                services=[ServiceFactory(team=team)],
            )

    make(2)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        web.get(reverse("postmortems:list"))
    make(20)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = web.get(reverse("postmortems:list"))
    assert rows(response) == 22


# --- one-page view --------------------------------------------------------------------


def _full_postmortem(team, author, teammate):
    pm = PostMortemFactory(
        title="Checkout errors after release",
        team=team,
        severity="SEV2",
        status="reviewed",
        authors=[author],
        facilitator=teammate,
        services=[ServiceFactory(slug="checkout", name="Checkout", team=team)],
        factors=[factor("config-change")],
        what_happened="**Symptom:** checkout returned HTTP 500.",
        why_it_happened="A default was removed by a config push.",
        what_we_change="Add a schema check.",
        what_we_dont_change="We keep the deploy cadence.",
    )
    TimelineEntryFactory(
        postmortem=pm, text="Error-rate alert fired", evidence_url="https://grafana.example.com/d/1"
    )
    item = ActionItemFactory(
        postmortem=pm,
        owner=author,
        text="Add a contract test",
        ticket_url="https://jira.example.com/browse/PAY-1",
    )
    late = ActionItemFactory(
        postmortem=pm,
        owner=teammate,
        text="Alert on timeouts",
        due_date=timezone.localdate() - dt.timedelta(days=2),
    )
    FixPullRequestFactory(
        postmortem=pm, action_item=item, state="merged", title="Restore payment timeout default"
    )
    DeclinedChangeFactory(postmortem=pm, text="Freeze Friday deploys")
    return pm, item, late


def test_detail_shows_header_sections_timeline_items_prs_and_declined(web, team, author, teammate):
    pm, item, late = _full_postmortem(team, author, teammate)
    response = web.get(reverse("postmortems:detail", kwargs={"key": pm.key}))
    html = response.content.decode()
    assert response.status_code == 200
    # header
    for text in (
        pm.key,
        pm.title,
        "Payments",
        "Checkout",
        "SEV2",
        "Reviewed",
        author.get_full_name(),
        teammate.get_full_name(),
        "Time to detect",
        "7 min",
        "40 min",
        "2 h 0 min",
    ):
        assert text in html, text
    # the four sections, in order
    headings = ["What happened", "Why it happened", "What we change", "What we don't change, and why"]
    positions = [html.index(h) for h in headings]
    assert positions == sorted(positions)
    assert "<strong>Symptom:</strong>" in html  # Markdown rendered
    assert "Error-rate alert fired" in html and 'href="https://grafana.example.com/d/1"' in html
    assert factor("config-change").name in html
    # action items with anchors, owner, overdue flag, ticket link
    assert f'id="{item.key}"' in html and f'id="{late.key}"' in html
    assert "Add a contract test" in html and 'href="https://jira.example.com/browse/PAY-1"' in html
    assert html.count("Overdue") == 1
    # fix PRs with state badge and their action item
    assert "Restore payment timeout default" in html and "pr-merged" in html
    assert f'href="#{item.key}"' in html
    assert "Freeze Friday deploys" in html
    assert f'href="/postmortems/{pm.key}/export.md"' in html


def test_detail_query_count_is_fixed(web, team, author, teammate):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    pm, _, _ = _full_postmortem(team, author, teammate)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert web.get(pm.get_absolute_url()).status_code == 200
        return len(ctx.captured_queries)

    small = count()
    # Many more rows of every kind must not add a single query (no N+1). The
    # fixed cost covers the document, its rows, and the panels other
    # capabilities add (writing aids, patterns, reviews, follow-up windows).
    for n in range(8):
        TimelineEntryFactory(postmortem=pm, text=f"Step {n}")
        ActionItemFactory(postmortem=pm, owner=teammate, text=f"Add regression test {n}")
        FixPullRequestFactory(postmortem=pm)
    assert count() == small
    assert small <= 22


@pytest.mark.parametrize(
    "key", ["PM-999999", "XYZ", "PM-0", "PM-abc", "pm-1x", "PM-99999999999999999999999999"]
)
def test_detail_is_404_for_unknown_or_malformed_keys(web, key):
    assert web.get(f"/postmortems/{key}/").status_code == 404
    assert web.get(f"/postmortems/{key}/edit/").status_code == 404
    assert web.get(f"/postmortems/{key}/export.md").status_code == 404


def test_detail_escapes_script_and_drops_javascript_links(web, team):
    pm = PostMortemFactory(
        team=team,
        title="<img src=x onerror=alert(2)>",
        what_happened="<script>alert(1)</script>\n\n[x](javascript:alert(1))",
        why_it_happened='<a href="javascript:alert(3)" onclick="alert(4)">y</a>',
    )
    TimelineEntryFactory(postmortem=pm, text="<script>alert(5)</script>")
    html = web.get(pm.get_absolute_url()).content.decode()
    assert "<script>alert" not in html
    assert "javascript:" not in html
    assert "onclick" not in html
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    # only our own static script tags, never inline ones
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)


def test_detail_has_print_stylesheet_and_hides_buttons_in_print(web, team):
    pm = PostMortemFactory(team=team)
    html = web.get(pm.get_absolute_url()).content.decode()
    assert 'href="/static/css/app.css"' in html
    from pathlib import Path

    from django.conf import settings

    css = (Path(settings.BASE_DIR) / "static/css/app.css").read_text()
    assert "@media print" in css and ".no-print" in css


def test_export_downloads_markdown_named_after_the_key(web, team):
    pm = PostMortemFactory(team=team, title="Leap second scheduler spin")
    response = web.get(reverse("postmortems:export", kwargs={"key": pm.key}))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{pm.key}.md"'
    body = response.content.decode()
    assert "Leap second scheduler spin" in body
    assert "## What happened" in body


# --- my action items -------------------------------------------------------------------


def test_my_action_items_lists_only_my_items_overdue_first(web, author, teammate, team):
    pm = PostMortemFactory(team=team)
    mine_late = ActionItemFactory(
        postmortem=pm, owner=author, text="Mine overdue", due_date=timezone.localdate() - dt.timedelta(days=3)
    )
    mine_open = ActionItemFactory(postmortem=pm, owner=author, text="Mine open")
    mine_done = ActionItemFactory(postmortem=pm, owner=author, text="Mine done", status="done")
    theirs = ActionItemFactory(postmortem=pm, owner=teammate, text="Bob's item")

    response = web.get(reverse("postmortems:my_action_items"))
    html = response.content.decode()
    assert response.status_code == 200
    assert theirs.text not in html
    assert html.index(mine_late.text) < html.index(mine_open.text) < html.index(mine_done.text)
    assert "Overdue" in html and f'href="/postmortems/{pm.key}/#{mine_open.key}"' in html
    assert mine_late.due_date.strftime("%Y-%m-%d") in html


def test_my_action_items_empty_state(web):
    response = web.get(reverse("postmortems:my_action_items"))
    assert response.status_code == 200
    assert "You have no action items" in response.content.decode()


def test_owner_marks_an_item_done(web, author):
    item = ActionItemFactory(owner=author)
    response = web.post(
        reverse("postmortems:action_item_status", kwargs={"pk": item.pk}),
        {f"ai{item.pk}-status": "done", f"ai{item.pk}-not_doing_reason": ""},
        follow=True,
    )
    assert response.status_code == 200
    assert f"{item.key} is now “Done”" in response.content.decode()
    item.refresh_from_db()
    assert item.status == ActionItem.Status.DONE and item.completed_at is not None


def test_not_doing_needs_a_reason_and_nothing_changes_without_one(web, author):
    item = ActionItemFactory(owner=author)
    response = web.post(
        reverse("postmortems:action_item_status", kwargs={"pk": item.pk}),
        {f"ai{item.pk}-status": "not_doing", f"ai{item.pk}-not_doing_reason": "  "},
    )
    assert response.status_code == 200
    assert "Say why this will not be done" in response.content.decode()
    item.refresh_from_db()
    assert item.status == ActionItem.Status.OPEN


def test_not_doing_with_a_reason_is_saved(web, author):
    item = ActionItemFactory(owner=author)
    web.post(
        reverse("postmortems:action_item_status", kwargs={"pk": item.pk}),
        {f"ai{item.pk}-status": "not_doing", f"ai{item.pk}-not_doing_reason": "Service retired"},
    )
    item.refresh_from_db()
    assert item.status == ActionItem.Status.NOT_DOING
    assert item.not_doing_reason == "Service retired"


def test_nobody_changes_someone_elses_item_of_a_document_they_may_not_edit(web, teammate):
    # Issue 9: the item's document (another team's) is readable, so a reader who
    # neither owns the item nor may edit the document gets the 403 page, no longer 404.
    item = ActionItemFactory(owner=teammate)
    response = web.post(
        reverse("postmortems:action_item_status", kwargs={"pk": item.pk}),
        {f"ai{item.pk}-status": "done"},
    )
    assert response.status_code == 403
    assert "not change it" in response.content.decode()
    item.refresh_from_db()
    assert item.status == ActionItem.Status.OPEN


def test_an_item_of_a_restricted_document_is_404_for_outsiders(web, teammate):
    pm = PostMortemFactory(visibility=PostMortem.Visibility.RESTRICTED, title="Secret breach")
    item = ActionItemFactory(postmortem=pm, owner=teammate)
    response = web.post(
        reverse("postmortems:action_item_status", kwargs={"pk": item.pk}),
        {f"ai{item.pk}-status": "done"},
    )
    assert response.status_code == 404
    assert "Secret breach" not in response.content.decode()
    item.refresh_from_db()
    assert item.status == ActionItem.Status.OPEN


def test_status_change_rejects_unknown_status_and_get(web, author):
    item = ActionItemFactory(owner=author)
    url = reverse("postmortems:action_item_status", kwargs={"pk": item.pk})
    assert web.get(url).status_code == 405
    response = web.post(url, {f"ai{item.pk}-status": "exploded"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    item.refresh_from_db()
    assert item.status == ActionItem.Status.OPEN


def test_pages_render_for_a_user_without_a_name(client, db):
    user = UserFactory(username="noname", first_name="", last_name="")
    client.force_login(user)
    assert b"noname" in client.get(reverse("postmortems:list")).content
