"""The patterns pages: Definitions of Done (history, diff, editor, settings),
the proposals inbox and one proposal (accept, reject), "run detection", the
panels on a post-mortem's page, and the quarterly quality retro."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from patterns import services
from patterns.detection import detect_patterns
from patterns.models import DoDProposal, DoDVersion, PatternSettings
from patterns.retro import Quarter
from patterns.services import ItemData
from tests.factories import ActionItemFactory, TeamFactory, factor
from tests.patterns.conftest import day, pm_at

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead_web(lead):
    """A separate test client logged in as the team lead (``web`` is the author's)."""
    from django.test import Client

    client = Client()
    client.force_login(lead)
    return client


@pytest.fixture
def proposal(team):
    for d in (0, 30, 60):
        pm_at(team, day(d), "config-change", why_it_happened=f"Push {d} dropped the timeout default.")
    detect_patterns()
    return DoDProposal.objects.get(status="open", team=team)


@pytest.fixture
def dod(team, lead):
    dod = services.dod_get_or_create(team=team)
    services.dod_change(dod=dod, user=lead, items=[ItemData(text="Tests pass")], reason="Start.")
    uid = services.dod_current(dod=dod).items[0].uid
    services.dod_change(
        dod=dod,
        user=lead,
        items=[ItemData(text="All tests pass", uid=uid), ItemData(text="Config is validated")],
        reason="Retro outcome.",
    )
    return dod


def test_pages_need_a_login(client, team, proposal):
    for url in (
        reverse("patterns:dod_index"),
        reverse("patterns:team_dod", kwargs={"slug": "payments"}),
        reverse("patterns:inbox"),
        reverse("patterns:proposal", kwargs={"pk": proposal.pk}),
        reverse("patterns:retro", kwargs={"slug": "payments"}),
    ):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_dod_index_lists_teams_and_the_organisation(web, dod, proposal):
    page = web.get(reverse("patterns:dod_index")).content.decode()
    assert "Organisation" in page and "Payments" in page and "v2" in page


def test_team_dod_page_shows_items_history_and_the_latest_diff(web, dod):
    response = web.get(reverse("patterns:team_dod", kwargs={"slug": "payments"}))
    page = response.content.decode()
    assert response.status_code == 200
    assert "All tests pass" in page and "Config is validated" in page
    assert "Retro outcome." in page and "Version 1" in page
    assert "What changed: version 1 → 2" in page
    assert "<del>Tests</del>" in page and "<ins>All tests</ins>" in page
    assert "<ins>Config is validated</ins>" in page
    assert "/api/v1/teams/payments/dod.md" in page
    assert "Save settings" not in page  # the author is a member, not a curator


def test_any_two_versions_can_be_compared_and_unknown_ones_are_404(web, dod):
    url = reverse("patterns:team_dod", kwargs={"slug": "payments"})
    page = web.get(url, {"from": 0, "to": 2}).content.decode()
    assert "What changed: version 0 → 2" in page
    assert web.get(url, {"to": 5}).status_code == 404
    assert web.get(reverse("patterns:team_dod", kwargs={"slug": "nope"})).status_code == 404


def test_org_dod_page_without_versions(web):
    page = web.get(reverse("patterns:org_dod")).content.decode()
    assert "Definition of Done: Organisation" in page and "No items yet." in page


def test_a_lead_edits_the_dod_reorders_removes_and_adds(lead_web, dod):
    url = reverse("patterns:team_dod_edit", kwargs={"slug": "payments"})
    assert lead_web.get(url).status_code == 200
    items = services.dod_current(dod=dod).items
    data = {
        "items-TOTAL_FORMS": "4",
        "items-INITIAL_FORMS": "2",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "100",
        "items-0-uid": str(items[0].uid),
        "items-0-text": "All tests pass",
        "items-0-order": "2",
        "items-1-uid": str(items[1].uid),
        "items-1-text": "Config is validated",
        "items-1-remove": "on",
        "items-2-text": "Dashboards show the change",
        "items-2-factor": "monitoring-gap",
        "items-2-order": "1",
        "items-3-text": "",
        "reason": "Monitoring first.",
        "base_version": "2",
    }
    response = lead_web.post(url, data)
    assert response.status_code == 302
    current = services.dod_current(dod=dod)
    assert current.number == 3 and current.version.reason == "Monitoring first."
    assert [(i.text, i.factor.slug if i.factor else None) for i in current.items] == [
        ("Dashboards show the change", "monitoring-gap"),
        ("All tests pass", None),
    ]


def test_the_editor_refuses_a_missing_reason_and_a_stale_version(lead_web, dod):
    url = reverse("patterns:team_dod_edit", kwargs={"slug": "payments"})
    base = {
        "items-TOTAL_FORMS": "1",
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "100",
        "items-0-text": "Only item",
    }
    missing = lead_web.post(url, {**base, "reason": "", "base_version": "2"})
    assert missing.status_code == 200 and "nothing was saved" in missing.content.decode()
    stale = lead_web.post(url, {**base, "reason": "Why", "base_version": "1"})
    assert "changed while you were editing it" in stale.content.decode()
    assert DoDVersion.objects.filter(dod=dod).count() == 2


def test_members_cannot_open_the_editor(web, dod):
    assert web.get(reverse("patterns:team_dod_edit", kwargs={"slug": "payments"})).status_code == 403
    assert web.post(reverse("patterns:org_dod_edit"), {"reason": "x"}).status_code == 403


def test_a_lead_changes_the_pattern_settings(lead_web, web, team):
    url = reverse("patterns:pattern_settings", kwargs={"slug": "payments"})
    assert web.post(url, {"min_incidents": 2, "window_days": 30}).status_code == 403
    assert not PatternSettings.objects.exists()
    bad = lead_web.post(url, {"min_incidents": 1, "window_days": 30})
    assert bad.status_code == 302 and not PatternSettings.objects.exists()
    good = lead_web.post(url, {"min_incidents": 2, "window_days": 30})
    assert good.status_code == 302
    assert PatternSettings.objects.filter(team=team, min_incidents=2, window_days=30).exists()


# --- inbox and one proposal ------------------------------------------------------------------


def test_the_inbox_shows_a_leads_teams_with_evidence_side_by_side(lead_web, proposal):
    other = TeamFactory(slug="search", name="Search")
    for d in (0, 1, 2):
        pm_at(other, day(d), "capacity")
    detect_patterns()

    mine = lead_web.get(reverse("patterns:inbox")).content.decode()
    capacity = DoDProposal.objects.get(team__slug="search", factor__slug="capacity")
    assert f"#{proposal.pk} Configuration change" in mine
    assert f"#{capacity.pk} Capacity" not in mine
    assert "Push 60 dropped the timeout default." in mine  # an evidence card
    everyone = lead_web.get(reverse("patterns:inbox"), {"all": "1"}).content.decode()
    assert f"#{capacity.pk} Capacity" in everyone


def test_the_inbox_query_count_does_not_grow(web, team, django_assert_max_num_queries):
    def make(slug):
        other = TeamFactory(slug=slug)
        for d in (0, 1, 2):
            pm_at(other, day(d), "capacity")

    make("t1")
    detect_patterns()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        web.get(reverse("patterns:inbox"))
    for n in range(2, 9):
        make(f"t{n}")
    detect_patterns()
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = web.get(reverse("patterns:inbox"))
    assert response.content.decode().count('class="proposal-card"') == 9


def test_the_proposal_page_shows_evidence_wordings_and_forms_for_curators(lead_web, web, proposal, team):
    pm = proposal.evidence.order_by("started_at").first().postmortem
    ActionItemFactory(postmortem=pm, text="Schema-check the timeout setting", kind="check")
    url = reverse("patterns:proposal", kwargs={"pk": proposal.pk})
    page = lead_web.get(url).content.decode()
    assert "Push 0 dropped the timeout default." in page
    assert "Schema-check the timeout setting" in page
    assert factor("config-change").suggested_dod_item in page
    assert "Accept: add to the Definition of Done" in page
    assert "Accept: add to the Definition of Done" not in web.get(url).content.decode()


def test_a_lead_accepts_on_the_page(lead_web, proposal, team):
    url = reverse("patterns:proposal_accept", kwargs={"pk": proposal.pk})
    response = lead_web.post(url, {"accept-text": "Timeouts have a schema check.", "accept-reason": ""})
    assert response.status_code == 302
    proposal.refresh_from_db()
    assert proposal.status == "accepted" and proposal.dod_version.number == 1
    assert services.dod_current(dod=proposal.dod_version.dod).items[0].text == "Timeouts have a schema check."


def test_reject_on_the_page_needs_a_reason(lead_web, proposal):
    url = reverse("patterns:proposal_reject", kwargs={"pk": proposal.pk})
    missing = lead_web.post(url, {"reject-reason": "  "})
    assert missing.status_code == 400
    proposal.refresh_from_db()
    assert proposal.status == "open"
    assert lead_web.post(url, {"reject-reason": "Unrelated."}).status_code == 302
    proposal.refresh_from_db()
    assert (proposal.status, proposal.reason) == ("rejected", "Unrelated.")


def test_members_cannot_decide_on_the_page(web, proposal):
    assert (
        web.post(
            reverse("patterns:proposal_accept", kwargs={"pk": proposal.pk}), {"accept-text": "x"}
        ).status_code
        == 403
    )
    assert (
        web.post(
            reverse("patterns:proposal_reject", kwargs={"pk": proposal.pk}), {"reject-reason": "x"}
        ).status_code
        == 403
    )
    proposal.refresh_from_db()
    assert proposal.status == "open"


def test_run_detection_from_the_inbox(lead_web, web, team):
    for d in (0, 30, 60):
        pm_at(team, day(d), "config-change")
    assert web.post(reverse("patterns:detect"), {"team": "payments"}).status_code == 403
    assert not DoDProposal.objects.exists()
    response = lead_web.post(reverse("patterns:detect"), {"team": "payments"})
    assert response.status_code == 302
    assert DoDProposal.objects.filter(team=team, factor__slug="config-change").exists()


# --- the panels on a post-mortem's page -------------------------------------------------------


def test_a_postmortem_shows_earlier_ones_with_the_same_factor_and_similar_ones(web, team):
    older = pm_at(team, day(0), "config-change", title="Checkout timeout after a config push")
    other_team = pm_at(TeamFactory(slug="search"), day(5), "config-change", title="Search config rollout")
    newer = pm_at(team, day(40), "config-change", title="Refunds failed after a config push")
    page = web.get(newer.get_absolute_url()).content.decode()
    assert "This factor has happened before" in page
    assert older.key in page and other_team.key in page
    assert "1 earlier in Payments · 2 across the organisation" in page
    assert "Most similar post-mortems" in page
    # The earliest one has no earlier post-mortem with the factor.
    first = web.get(older.get_absolute_url()).content.decode()
    assert "earlier in Payments" not in first


def test_a_rejected_proposal_shows_on_its_evidence_as_what_we_dont_change(web, proposal, lead):
    services.proposal_reject(
        proposal=proposal, user=lead, reason="Three different config systems; no shared cause."
    )
    pm = proposal.evidence.first().postmortem
    page = web.get(pm.get_absolute_url()).content.decode()
    section = page.split('id="what-we-dont-change"')[1]
    assert "Definition-of-Done changes we don't make" in section
    assert "Three different config systems; no shared cause." in section


# --- the quarterly quality retro ----------------------------------------------------------------


def test_quarters():
    q = Quarter.parse("2026-Q1")
    assert (q.previous(), q.next(), Quarter.parse("2026q4").next()) == (
        Quarter(2025, 4),
        Quarter(2026, 2),
        Quarter(2027, 1),
    )
    assert (q.first_day, q.last_day) == (dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    for bad in ("2026", "2026-Q5", "Q1-2026", "1800-Q1"):
        with pytest.raises(ValueError):
            Quarter.parse(bad)


def test_retro_report_counts_trends_proposals_changes_and_overdue_items(web, team, lead):
    q1 = dt.datetime(2024, 1, 10, tzinfo=dt.UTC)
    q2 = dt.datetime(2024, 4, 10, tzinfo=dt.UTC)
    pm_at(team, q1, "capacity")
    pm_at(team, q1, "capacity", "time-handling")
    pm_at(team, q2, "config-change")
    pm_at(team, q2 + dt.timedelta(days=1), "config-change", source_url="https://x.example/a")
    pm_at(
        team, q2 + dt.timedelta(days=1, hours=3), "config-change", source_url="http://www.x.example/a/"
    )  # copy
    late = pm_at(team, q2, "capacity")
    ActionItemFactory(
        postmortem=late, text="Load-test the new path", due_date=timezone.localdate() - dt.timedelta(days=3)
    )

    response = web.get(reverse("patterns:retro", kwargs={"slug": "payments"}), {"quarter": "2024-Q2"})
    page = response.content.decode()
    assert response.status_code == 200
    report = response.context["report"]
    assert (report.incidents, report.previous_incidents) == (3, 2)
    assert [(r.factor.slug, r.count, r.previous) for r in report.top_factors] == [
        ("config-change", 2, 0),
        ("capacity", 1, 2),
    ]
    assert [r.factor.slug for r in report.trending_up] == ["config-change"]
    assert [r.factor.slug for r in report.trending_down] == ["capacity", "time-handling"]
    assert [item.text for item in report.overdue_items] == ["Load-test the new path"]
    assert "Load-test the new path" in page

    markdown = web.get(reverse("patterns:retro_md", kwargs={"slug": "payments"}), {"quarter": "2024-Q2"})
    assert markdown["Content-Type"] == "text/markdown; charset=utf-8"
    assert 'filename="retro-payments-2024-Q2.md"' in markdown["Content-Disposition"]
    text = markdown.content.decode()
    assert text.startswith("# Quality retro: Payments, Q2 2024")
    assert "| Configuration change | 2 | 0 | +2 |" in text
    assert "- Capacity: 2 → 1 (-1)" in text


def test_retro_lists_decisions_and_dod_changes_of_the_quarter(web, proposal, lead):
    services.proposal_accept(proposal=proposal, user=lead, text="Timeouts are schema-checked.")
    now = Quarter.containing(timezone.now())
    report = web.get(reverse("patterns:retro", kwargs={"slug": "payments"})).context["report"]
    assert report.quarter == now
    assert [p.pk for p in report.decided_proposals] == [proposal.pk]
    assert [v.number for v in report.dod_changes] == [1]


def test_retro_rejects_a_malformed_quarter(web, team):
    assert (
        web.get(reverse("patterns:retro", kwargs={"slug": "payments"}), {"quarter": "soon"}).status_code
        == 404
    )
    assert web.get(reverse("patterns:retro_md", kwargs={"slug": "nope"})).status_code == 404


def test_the_panels_query_count_does_not_grow_with_factors(web, team, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    slugs = ["config-change", "capacity", "retry-storm", "missing-test"]
    for d in (0, 1, 2):
        pm_at(team, day(d), *slugs)
    one = pm_at(team, day(10), "config-change")
    four = pm_at(team, day(11), *slugs)
    with CaptureQueriesContext(connection) as few:
        page = web.get(one.get_absolute_url()).content.decode()
    assert "3 earlier in Payments" in page
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = web.get(four.get_absolute_url()).content.decode()
    assert page.count("earlier in Payments") == 4


def test_a_dod_item_not_working_proposal_names_the_item(web, proposal, lead, team):
    accepted = services.proposal_accept(proposal=proposal, user=lead, text="Timeouts are schema-checked.")
    adopted = accepted.dod_version.items.get().adopted_at
    for d in (1, 2, 3):
        pm_at(team, adopted + dt.timedelta(days=d), "config-change")
    detect_patterns()
    not_working = DoDProposal.objects.get(status="open", team=team)

    page = web.get(reverse("patterns:proposal", kwargs={"pk": not_working.pk})).content.decode()

    assert "A DoD item is not working: Configuration change" in page
    assert "“Timeouts are schema-checked.”" in page
    link = f'<a href="/patterns/proposals/{proposal.pk}/">#{proposal.pk}</a>'
    assert f"Follows proposal {link}, accepted" in page
