"""Issue 9 in the patterns app: restricted post-mortems never leak, deleted ones vanish.

Payments has three incidents with one factor inside the window, one of them a
restricted security incident. Detection counts all three (the pattern is real);
an outsider sees the two organisation documents and only the anonymous count
"1 restricted post-mortem" — never the restricted one's key, title, date or
"why" excerpt — in every page and API body. A soft-deleted post-mortem is
neither detected nor shown.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from patterns import services
from patterns.detection import detect_patterns, scan_rows
from patterns.models import DoDProposal
from postmortems.models import ActionItem, PostMortem, TeamMembership
from postmortems.services import postmortem_delete
from tests.factories import ActionItemFactory, TeamMembershipFactory, UserFactory
from tests.patterns.conftest import day, pm_at

SECRET_TITLE = "Vault token exfiltrated via debug endpoint"
SECRET_WHY = "The debug endpoint zq7secretwhy returned the vault token."
SECRET_ACTION = "Rotate the zq7secretaction signing keys"


def _mentions(body: str, pm: PostMortem) -> bool:
    """Does ``body`` name ``pm`` by key, title or "why" text?"""
    return bool(
        re.search(rf"{pm.key}(?!\d)", body)
        or pm.title in body
        or "zq7secret" in body
        or pm.started_at.strftime("%-d %b %Y") in body
    )


@pytest.fixture
def incidents(team, author):
    """Two organisation post-mortems and one restricted one, same factor, 10 days apart."""
    public = [
        pm_at(team, day(0), "config-change", title="Checkout errors after config push"),
        pm_at(team, day(10), "config-change", title="Checkout errors again after config push"),
    ]
    secret = pm_at(
        team,
        day(13),
        "config-change",
        title=SECRET_TITLE,
        why_it_happened=SECRET_WHY,
        visibility=PostMortem.Visibility.RESTRICTED,
    )
    ActionItemFactory(postmortem=secret, owner=author, text=SECRET_ACTION, kind=ActionItem.Kind.TEST)
    return {"public": public, "secret": secret}


@pytest.fixture
def proposal(incidents, team):
    detect_patterns(team=team)
    return DoDProposal.objects.get(team=team)


@pytest.fixture
def outsider_web(outsider):
    client = Client()  # not the ``client`` fixture: ``web`` signs that one in as the author
    client.force_login(outsider)
    return client


@pytest.fixture
def outsider_api(outsider):
    client = APIClient()
    client.force_authenticate(outsider)
    return client


# --- detection ----------------------------------------------------------------------------------


def test_detection_counts_restricted_evidence(proposal, incidents):
    assert proposal.evidence.count() == 3
    assert incidents["secret"].pk in set(proposal.evidence.values_list("postmortem_id", flat=True))


def test_the_suggested_text_never_quotes_a_restricted_documents_action_item(proposal):
    assert "zq7secretaction" not in proposal.suggested_text.lower()


def test_detection_skips_soft_deleted_post_mortems(incidents, team, lead):
    postmortem_delete(user=lead, postmortem=incidents["public"][0])
    pm_ids = {row[3] for row in scan_rows()}
    assert incidents["public"][0].pk not in pm_ids and incidents["secret"].pk in pm_ids
    report = detect_patterns(team=team)
    assert report.count("opened") == 0  # two live incidents: below the rule of three
    assert not DoDProposal.objects.exists()


# --- the inbox and one proposal -------------------------------------------------------------------


def test_outsider_sees_only_a_count_of_restricted_evidence_in_the_inbox(proposal, incidents, outsider_web):
    body = outsider_web.get(reverse("patterns:inbox") + "?all=1").content.decode()
    assert incidents["public"][1].title in body
    assert not _mentions(body, incidents["secret"])
    assert "1 restricted post-mortem not shown" in body


def test_outsider_sees_only_a_count_of_restricted_evidence_on_the_proposal_page(
    proposal, incidents, outsider_web
):
    response = outsider_web.get(proposal.get_absolute_url() + "?all=1")
    body = response.content.decode()
    assert response.status_code == 200
    assert all(pm.title in body for pm in incidents["public"])
    assert not _mentions(body, incidents["secret"])
    assert "And 1 restricted post-mortem you cannot open" in body


def test_a_team_member_sees_the_restricted_evidence(proposal, incidents, web):
    body = web.get(proposal.get_absolute_url()).content.decode()
    assert SECRET_TITLE in body and incidents["secret"].key in body
    assert "restricted post-mortem" not in body


def test_proposal_api_shows_outsiders_only_a_count(proposal, incidents, outsider_api):
    listed = outsider_api.get("/api/v1/dod-proposals/")
    assert listed.status_code == 200
    row = listed.json()["results"][0] if "results" in listed.json() else listed.json()[0]
    assert (row["evidence_count"], row["restricted_evidence_count"]) == (3, 1)
    detail = outsider_api.get(f"/api/v1/dod-proposals/{proposal.pk}/")
    assert detail.status_code == 200
    keys = [row["postmortem"] for row in detail.json()["evidence"]]
    assert keys == [pm.key for pm in reversed(incidents["public"])]
    assert not _mentions(detail.content.decode(), incidents["secret"])
    assert not _mentions(listed.content.decode(), incidents["secret"])


def test_proposal_api_shows_readers_everything(proposal, incidents, api):
    detail = api.get(f"/api/v1/dod-proposals/{proposal.pk}/").json()
    assert detail["restricted_evidence_count"] == 0
    assert incidents["secret"].key in [row["postmortem"] for row in detail["evidence"]]


def test_deleted_evidence_vanishes_from_pages_and_counts(proposal, incidents, lead, web, api):
    gone = incidents["public"][0]
    postmortem_delete(user=lead, postmortem=gone)
    body = web.get(proposal.get_absolute_url()).content.decode()
    assert gone.title not in body and not re.search(rf"{gone.key}(?!\d)", body)
    detail = api.get(f"/api/v1/dod-proposals/{proposal.pk}/").json()
    assert detail["evidence_count"] == 2 and gone.key not in [row["postmortem"] for row in detail["evidence"]]
    inbox = web.get(reverse("patterns:inbox") + "?all=1").content.decode()
    assert gone.title not in inbox


# --- the Definition of Done: item links, reason, write API ------------------------------------------


@pytest.fixture
def accepted(proposal, lead):
    return services.proposal_accept(proposal=proposal, user=lead, text="Config changes ship with a test.")


def test_dod_item_links_name_only_readable_post_mortems(
    accepted, incidents, team, outsider_web, outsider_api
):
    body = outsider_web.get(reverse("patterns:team_dod", kwargs={"slug": team.slug})).content.decode()
    assert incidents["public"][0].key in body
    assert not _mentions(body, incidents["secret"])
    assert "1 restricted post-mortem" in body
    item = outsider_api.get(f"/api/v1/teams/{team.slug}/dod/").json()["items"][0]
    assert item["postmortems"] == sorted((pm.key for pm in incidents["public"]), key=lambda k: int(k[3:]))
    assert item["restricted_postmortems"] == 1
    version = outsider_api.get(f"/api/v1/teams/{team.slug}/dod/versions/1/")
    assert version.json()["items"][0]["restricted_postmortems"] == 1
    assert not _mentions(version.content.decode(), incidents["secret"])
    markdown = outsider_api.get(f"/api/v1/teams/{team.slug}/dod.md").content.decode()
    assert not _mentions(markdown, incidents["secret"])


def test_the_acceptance_reason_counts_restricted_evidence_without_naming_it(accepted, incidents):
    reason = accepted.dod_version.reason
    assert "1 restricted" in reason and "3 post-mortem(s)" in reason
    assert not re.search(rf"{incidents['secret'].key}(?!\d)", reason)


def test_dod_item_links_show_everything_to_a_reader(accepted, incidents, team, api):
    item = api.get(f"/api/v1/teams/{team.slug}/dod/").json()["items"][0]
    assert incidents["secret"].key in item["postmortems"] and item["restricted_postmortems"] == 0


def test_a_dod_change_cannot_name_a_post_mortem_the_writer_cannot_read(incidents, outsider, db):
    search = TeamMembershipFactory(user=outsider, role=TeamMembership.Role.LEAD).team  # curates the org DoD
    assert search is not None
    client = APIClient()
    client.force_authenticate(outsider)
    body = {"reason": "Add a check", "items": [{"text": "Configs are tested.", "postmortems": []}]}
    for key, missing in (
        (incidents["secret"].key, True),
        ("PM-999999", True),
        (incidents["public"][0].key, False),
    ):
        body["items"][0]["postmortems"] = [key]
        response = client.post("/api/v1/org/dod/", body, format="json")
        if missing:
            assert response.status_code == 400
            assert "No such post-mortem" in response.content.decode()
        else:
            assert response.status_code == 201


def test_facilitating_one_public_incident_gives_no_say_over_links_to_restricted_ones(
    accepted, incidents, team, lead
):
    # Otto facilitated one public Payments incident but is not in the team: he
    # may not rewrite the DoD item (and so cannot drop its restricted evidence link).
    other = UserFactory(username="otto")
    incidents["public"][0].facilitator = other
    incidents["public"][0].save(update_fields=["facilitator"])
    client = APIClient()
    client.force_authenticate(other)
    item = client.get(f"/api/v1/teams/{team.slug}/dod/").json()["items"][0]
    assert item["restricted_postmortems"] == 1
    body = {
        "reason": "Only the first incident, please",
        "items": [{"uid": item["uid"], "text": item["text"], "postmortems": [incidents["public"][0].key]}],
    }
    response = client.post(f"/api/v1/teams/{team.slug}/dod/", body, format="json")
    assert response.status_code == 403, response.content
    stored = accepted.dod_version.dod.versions.order_by("-number").first().items.get()
    assert incidents["secret"].pk in set(stored.postmortems.values_list("pk", flat=True))


# --- the post-mortem page panels ----------------------------------------------------------------------


def test_history_and_similar_panels_leave_out_what_the_reader_cannot_open(incidents, team, outsider_web, web):
    later = pm_at(team, day(20), "config-change", title="Vault token config push errors")
    body = outsider_web.get(later.get_absolute_url()).content.decode()
    assert "This factor has happened before" in body
    assert incidents["public"][1].title in body
    assert not _mentions(body, incidents["secret"])
    assert "2 earlier in Payments" in body  # the restricted one is not counted either
    member_body = web.get(later.get_absolute_url()).content.decode()
    assert SECRET_TITLE in member_body and "3 earlier in Payments" in member_body


def test_history_panel_leaves_out_deleted_post_mortems(incidents, team, lead, web):
    later = pm_at(team, day(20), "config-change", title="A later config push")
    postmortem_delete(user=lead, postmortem=incidents["public"][0])
    body = web.get(later.get_absolute_url()).content.decode()
    assert incidents["public"][0].title not in body and "2 earlier in Payments" in body


# --- the quarterly retro --------------------------------------------------------------------------------


def test_the_retro_shows_outsiders_only_organisation_documents(incidents, team, author, outsider_web, web):
    overdue = ActionItem.objects.get(postmortem=incidents["secret"])
    overdue.due_date = day(-30).date()
    overdue.save(update_fields=["due_date"])
    url = reverse("patterns:retro", kwargs={"slug": team.slug}) + "?quarter=2024-Q1"
    md_url = reverse("patterns:retro_md", kwargs={"slug": team.slug}) + "?quarter=2024-Q1"
    for response in (outsider_web.get(url), outsider_web.get(md_url)):
        body = response.content.decode()
        assert response.status_code == 200
        assert not _mentions(body, incidents["secret"]) and "zq7secretaction" not in body.lower()
    assert "2 incident(s) this quarter" in outsider_web.get(md_url).content.decode()
    member_md = web.get(md_url).content.decode()
    assert "3 incident(s) this quarter" in member_md and "zq7secretaction" in member_md.lower()
