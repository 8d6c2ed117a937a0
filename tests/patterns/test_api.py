"""The patterns API: Definitions of Done (JSON, Markdown, versions, diff,
changes), pattern settings, DoD proposals (list, detail, accept, reject) and
"run detection" — for curators, for others, for anonymous requests, and with
bad input (400, nothing saved)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from patterns import services
from patterns.detection import detect_patterns
from patterns.models import DoDProposal, DoDVersion, PatternSettings
from patterns.services import ItemData
from postmortems.models import TeamMembership
from tests.factories import ActionItemFactory, TeamFactory, TeamMembershipFactory, factor
from tests.patterns.conftest import day, pm_at

pytestmark = pytest.mark.django_db

DOD = "/api/v1/teams/payments/dod/"
PROPOSALS = "/api/v1/dod-proposals/"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def lead_api(lead):
    return client_for(lead)


@pytest.fixture
def outsider_api(outsider):
    return client_for(outsider)


@pytest.fixture
def proposal(team):
    pms = [
        pm_at(team, day(d), "config-change", why_it_happened=f"Config push {d} removed a default.")
        for d in (0, 30, 60)
    ]
    ActionItemFactory(postmortem=pms[1], text="Validate payment config in CI", kind="check")
    detect_patterns()
    return DoDProposal.objects.get(status="open")


@pytest.fixture
def two_versions(team, lead):
    dod = services.dod_get_or_create(team=team)
    pm = pm_at(team, day(0), "config-change")
    services.dod_change(dod=dod, user=lead, items=[ItemData(text="Tests pass")], reason="First list.")
    uid = services.dod_current(dod=dod).items[0].uid
    services.dod_change(
        dod=dod,
        user=lead,
        items=[
            ItemData(text="Tests pass", uid=uid),
            ItemData(text="Config is validated", factor=factor("config-change"), postmortems=[pm]),
        ],
        reason="After PM-1.",
    )
    return dod, pm


# --- Definition of Done ------------------------------------------------------------------------


def test_team_dod_before_any_version_is_version_0_with_no_items(api, team):
    response = api.get(DOD)
    assert response.status_code == 200
    assert response.json() == {
        "scope": "team",
        "team": "payments",
        "version": 0,
        "created_at": None,
        "created_by": None,
        "reason": "",
        "items": [],
    }


def test_team_dod_json_has_the_version_and_ordered_items(api, two_versions):
    _, pm = two_versions
    body = api.get(DOD).json()
    assert (body["version"], body["created_by"], body["reason"]) == (2, "lena", "After PM-1.")
    assert [(i["position"], i["text"], i["factor"], i["postmortems"]) for i in body["items"]] == [
        (1, "Tests pass", None, []),
        (2, "Config is validated", "config-change", [pm.key]),
    ]


def test_dod_markdown_is_a_checklist_for_a_pull_request_template(api, two_versions):
    response = api.get("/api/v1/teams/payments/dod.md")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    text = response.content.decode()
    assert text.startswith(
        "<!-- Definition of Done: Payments, version 2 (http://testserver/patterns/teams/payments/dod/) -->"
    )
    assert text.endswith("## Definition of Done\n\n- [ ] Tests pass\n- [ ] Config is validated\n")


def test_org_dod_endpoints_mirror_the_team_ones(api, lead, team):
    services.dod_change(
        dod=services.dod_get_or_create(team=None),
        user=lead,
        items=[ItemData(text="Runbooks exist")],
        reason="Org.",
    )
    assert api.get("/api/v1/org/dod/").json()["items"][0]["text"] == "Runbooks exist"
    assert api.get("/api/v1/org/dod/").json()["scope"] == "org"
    assert api.get("/api/v1/org/dod.md").content.decode().endswith("- [ ] Runbooks exist\n")
    assert [v["number"] for v in api.get("/api/v1/org/dod/versions/").json()] == [1]
    assert api.get("/api/v1/org/dod/diff/").json()["changes"][0]["op"] == "added"


def test_unknown_team_is_404(api, team):
    assert api.get("/api/v1/teams/nope/dod/").status_code == 404
    assert api.get("/api/v1/teams/nope/dod.md").status_code == 404


def test_versions_list_and_one_version(api, two_versions):
    listed = api.get(f"{DOD}versions/").json()
    assert [(v["number"], v["created_by"], v["reason"], v["item_count"]) for v in listed] == [
        (2, "lena", "After PM-1.", 2),
        (1, "lena", "First list.", 1),
    ]
    one = api.get(f"{DOD}versions/1/").json()
    assert [i["text"] for i in one["items"]] == ["Tests pass"]
    assert api.get(f"{DOD}versions/9/").status_code == 404


def test_diff_between_any_two_versions(api, two_versions):
    default = api.get(f"{DOD}diff/").json()
    assert (default["old_version"], default["new_version"]) == (1, 2)
    assert [(c["op"], c["new_text"]) for c in default["changes"]] == [
        ("same", "Tests pass"),
        ("added", "Config is validated"),
    ]
    assert "+- [ ] Config is validated" in default["unified"]
    backwards = api.get(f"{DOD}diff/", {"from": 2, "to": 0}).json()
    assert [c["op"] for c in backwards["changes"]] == ["removed", "removed"]


@pytest.mark.parametrize(("params", "status"), [({"from": "x"}, 400), ({"to": "-1"}, 400), ({"to": 7}, 404)])
def test_diff_rejects_bad_version_numbers(api, two_versions, params, status):
    assert api.get(f"{DOD}diff/", params).status_code == status


def test_a_lead_changes_the_dod_and_a_new_version_is_made(lead_api, two_versions):
    dod, pm = two_versions
    items = lead_api.get(DOD).json()["items"]
    body = {
        "reason": "Reorder: config first.",
        "base_version": 2,
        "items": [
            {"uid": items[1]["uid"], "text": items[1]["text"]},
            {"uid": items[0]["uid"], "text": "All tests pass in CI"},
            {"text": "Dashboards updated", "factor": "monitoring-gap", "postmortems": [pm.key]},
        ],
    }
    response = lead_api.post(DOD, body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["version"] == 3
    assert [(i["text"], i["factor"], i["postmortems"]) for i in response.json()["items"]] == [
        ("Config is validated", "config-change", [pm.key]),  # links and factor kept
        ("All tests pass in CI", None, []),
        ("Dashboards updated", "monitoring-gap", [pm.key]),
    ]
    assert DoDVersion.objects.filter(dod=dod).count() == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": [{"text": "x"}]}, "reason"),
        ({"reason": " ", "items": [{"text": "x"}]}, "reason"),
        ({"reason": "r", "items": [{"text": ""}]}, "items"),
        ({"reason": "r", "items": [{"text": "x" * 501}]}, "items"),
        ({"reason": "r", "items": [{"text": "x", "factor": "human-error"}]}, "items"),
        ({"reason": "r", "items": [{"text": "x", "postmortems": ["PM-999999"]}]}, "items"),
        ({"reason": "r", "items": [{"text": "x", "postmortems": ["12"]}]}, "items"),
        ({"reason": "r", "items": [{"text": "x", "uid": "8c1f4c1e-0000-4000-8000-000000000000"}]}, "items"),
        ({"reason": "r", "items": "nope"}, "items"),
    ],
)
def test_bad_dod_changes_are_400_and_save_nothing(lead_api, two_versions, body, field):
    response = lead_api.post(DOD, body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert DoDVersion.objects.count() == 2


def test_a_change_from_an_old_version_is_409(lead_api, two_versions):
    response = lead_api.post(DOD, {"reason": "r", "base_version": 1, "items": [{"text": "x"}]}, format="json")
    assert response.status_code == 409
    assert "version 2" in response.json()["detail"]
    assert DoDVersion.objects.count() == 2


def test_members_and_outsiders_cannot_change_a_teams_dod(api, outsider_api, two_versions):
    for client in (api, outsider_api):
        response = client.post(DOD, {"reason": "r", "items": [{"text": "x"}]}, format="json")
        assert response.status_code == 403
    assert DoDVersion.objects.count() == 2


def test_the_teams_facilitator_role_may_change_its_dod(outsider, outsider_api, team):
    TeamMembershipFactory(team=team, user=outsider, role=TeamMembership.Role.FACILITATOR)
    response = outsider_api.post(DOD, {"reason": "Facilitator.", "items": [{"text": "x"}]}, format="json")
    assert response.status_code == 201


def test_naming_oneself_facilitator_of_a_postmortem_grants_no_curation(outsider, outsider_api, team):
    # Anyone may create a post-mortem in any team and name themselves its
    # facilitator; that must not make them a curator of the team's DoD.
    pm_at(team, day(0), "config-change", facilitator=outsider)
    response = outsider_api.post(DOD, {"reason": "Mine now.", "items": [{"text": "x"}]}, format="json")
    assert response.status_code == 403
    assert DoDVersion.objects.count() == 0


def test_detection_for_everyone_is_for_staff_and_a_team_lead_runs_it_for_their_team(lead_api, team):
    assert lead_api.post("/api/v1/patterns/detect/", {"dry_run": True}, format="json").status_code == 403
    ok = lead_api.post("/api/v1/patterns/detect/", {"team": team.slug, "dry_run": True}, format="json")
    assert ok.status_code == 200


def test_a_team_lead_may_change_the_org_dod_but_a_member_may_not(lead_api, api):
    body = {"reason": "Org", "items": [{"text": "Runbooks exist"}]}
    assert api.post("/api/v1/org/dod/", body, format="json").status_code == 403
    assert lead_api.post("/api/v1/org/dod/", body, format="json").status_code == 201


@pytest.mark.parametrize(
    "url",
    [
        DOD,
        "/api/v1/teams/payments/dod.md",
        f"{DOD}versions/",
        f"{DOD}versions/1/",
        f"{DOD}diff/",
        "/api/v1/org/dod/",
        "/api/v1/teams/payments/pattern-settings/",
        PROPOSALS,
        f"{PROPOSALS}1/",
    ],
)
def test_anonymous_requests_are_refused(anon_api, team, url):
    assert anon_api.get(url).status_code == 401


def test_anonymous_writes_are_refused(anon_api, proposal):
    assert anon_api.post(DOD, {"reason": "r", "items": []}, format="json").status_code == 401
    assert anon_api.post(f"{PROPOSALS}{proposal.pk}/accept/", {}, format="json").status_code == 401
    assert (
        anon_api.post(f"{PROPOSALS}{proposal.pk}/reject/", {"reason": "r"}, format="json").status_code == 401
    )
    assert anon_api.post("/api/v1/patterns/detect/", {}, format="json").status_code == 401
    assert anon_api.patch("/api/v1/teams/payments/pattern-settings/", {}, format="json").status_code == 401
    proposal.refresh_from_db()
    assert proposal.status == "open"


# --- pattern settings -------------------------------------------------------------------------


def test_pattern_settings_read_defaults_and_a_lead_changes_them(api, lead_api, team):
    url = "/api/v1/teams/payments/pattern-settings/"
    assert api.get(url).json() == {
        "min_incidents": 3,
        "window_days": 90,
        "updated_by": None,
        "updated_at": None,
    }
    response = lead_api.patch(url, {"window_days": 30}, format="json")
    assert response.status_code == 200
    assert (
        response.json()["min_incidents"],
        response.json()["window_days"],
        response.json()["updated_by"],
    ) == (
        3,
        30,
        "lena",
    )
    assert PatternSettings.objects.get(team=team).window_days == 30


@pytest.mark.parametrize(
    "body", [{"min_incidents": 1}, {"window_days": 0}, {"window_days": 4000}, {"min_incidents": "x"}]
)
def test_bad_pattern_settings_are_400(lead_api, team, body):
    response = lead_api.patch("/api/v1/teams/payments/pattern-settings/", body, format="json")
    assert response.status_code == 400 and set(body) <= set(response.json())
    assert not PatternSettings.objects.exists()


def test_members_cannot_change_pattern_settings(api, team):
    assert (
        api.patch("/api/v1/teams/payments/pattern-settings/", {"window_days": 5}, format="json").status_code
        == 403
    )
    assert not PatternSettings.objects.exists()


# --- proposals ----------------------------------------------------------------------------------


def test_proposal_list_shows_the_pattern_and_evidence_count(api, proposal):
    response = api.get(PROPOSALS)
    assert response.status_code == 200
    row = response.json()["results"][0]
    assert (row["id"], row["scope"], row["team"], row["factor"], row["kind"], row["status"]) == (
        proposal.pk,
        "team",
        "payments",
        "config-change",
        "new_item",
        "open",
    )
    assert (row["evidence_count"], row["min_incidents"], row["window_days"]) == (3, 3, 90)
    assert row["window_start"].startswith("2024-01-01") and row["window_end"].startswith("2024-03-01")


def test_proposal_list_filters(api, proposal, author):
    other = TeamFactory(slug="search")
    for d in (0, 1, 2):
        pm_at(other, day(d), "capacity")
    detect_patterns()
    services.proposal_reject(proposal=proposal, user=author, reason="No.")

    def ids(**params):
        return sorted(row["factor"] for row in api.get(PROPOSALS, params).json()["results"])

    assert ids(team="search") == ["capacity"]
    assert ids(status="rejected") == ["config-change"]
    assert ids(status="open", scope="team") == ["capacity"]
    assert ids(factor="config-change") == ["config-change"]
    assert ids(kind="item_not_working") == []
    assert api.get(PROPOSALS, {"status": "maybe"}).status_code == 400
    assert api.get(PROPOSALS, {"team": "nope"}).status_code == 400


def test_proposal_list_query_count_does_not_grow(api, team, django_assert_max_num_queries):
    def make(slug):
        other = TeamFactory(slug=slug)
        for d in (0, 1, 2):
            pm_at(other, day(d), "capacity")

    make("t1")
    detect_patterns()
    with django_assert_max_num_queries(3):
        assert len(api.get(PROPOSALS).json()["results"]) == 1
    for n in range(2, 8):
        make(f"t{n}")
    detect_patterns()
    with django_assert_max_num_queries(3):
        assert len(api.get(PROPOSALS).json()["results"]) == 8  # 7 teams and the organisation


def test_proposal_detail_has_evidence_with_why_excerpts_and_candidate_wordings(api, proposal):
    body = api.get(f"{PROPOSALS}{proposal.pk}/").json()
    assert [(e["started_at"][:10], e["excerpt"], e["excerpt_section"]) for e in body["evidence"]] == [
        ("2024-03-01", "Config push 60 removed a default.", "why"),
        ("2024-01-31", "Config push 30 removed a default.", "why"),
        ("2024-01-01", "Config push 0 removed a default.", "why"),
    ]
    assert body["evidence"][0]["url"].startswith("http://testserver/postmortems/PM-")
    sources = [(w["source"], w["text"]) for w in body["candidate_wordings"]]
    assert sources[0] == ("factor", factor("config-change").suggested_dod_item)
    assert ("action_item", "Validate payment config in CI") in sources
    assert body["suggested_text"].endswith("For example: validate payment config in CI.")
    assert body["dod_item"] is None


def test_a_lead_accepts_with_edited_text(lead_api, proposal, team):
    response = lead_api.post(
        f"{PROPOSALS}{proposal.pk}/accept/", {"text": "Payment config is schema-checked."}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["accepted_text"], body["decided_by"], body["dod_version"]) == (
        "accepted",
        "Payment config is schema-checked.",
        "lena",
        1,
    )
    dod = lead_api.get(DOD).json()
    assert dod["version"] == 1
    assert dod["items"][0]["text"] == "Payment config is schema-checked."
    assert sorted(dod["items"][0]["postmortems"]) == sorted(e["postmortem"] for e in body["evidence"])


def test_accept_without_text_takes_the_suggestion(lead_api, proposal):
    response = lead_api.post(f"{PROPOSALS}{proposal.pk}/accept/", {}, format="json")
    assert response.status_code == 200
    assert response.json()["accepted_text"] == proposal.suggested_text


@pytest.mark.parametrize("body", [{"text": ""}, {"text": "   "}, {"text": "x" * 501}, {"reason": "r" * 2001}])
def test_bad_accept_is_400_and_decides_nothing(lead_api, proposal, body):
    response = lead_api.post(f"{PROPOSALS}{proposal.pk}/accept/", body, format="json")
    assert response.status_code == 400
    assert set(response.json()) <= {"text", "reason"} and response.json()
    proposal.refresh_from_db()
    assert proposal.status == "open" and not DoDVersion.objects.exists()


def test_a_lead_rejects_with_a_reason(lead_api, proposal):
    response = lead_api.post(
        f"{PROPOSALS}{proposal.pk}/reject/", {"reason": "Unrelated causes."}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["reason"]) == ("rejected", "Unrelated causes.")
    proposal.refresh_from_db()
    assert (proposal.status, proposal.reason) == ("rejected", "Unrelated causes.")


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": "r" * 2001}])
def test_reject_without_a_reason_is_400(lead_api, proposal, body):
    response = lead_api.post(f"{PROPOSALS}{proposal.pk}/reject/", body, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    proposal.refresh_from_db()
    assert proposal.status == "open"


def test_deciding_a_decided_proposal_is_409(lead_api, proposal):
    assert (
        lead_api.post(f"{PROPOSALS}{proposal.pk}/reject/", {"reason": "No."}, format="json").status_code
        == 200
    )
    again = lead_api.post(f"{PROPOSALS}{proposal.pk}/accept/", {"text": "x"}, format="json")
    assert again.status_code == 409 and "already rejected" in again.json()["detail"]
    assert not DoDVersion.objects.exists()


def test_members_and_outsiders_cannot_decide(api, outsider_api, proposal):
    for client in (api, outsider_api):
        assert client.post(f"{PROPOSALS}{proposal.pk}/accept/", {}, format="json").status_code == 403
        assert (
            client.post(f"{PROPOSALS}{proposal.pk}/reject/", {"reason": "r"}, format="json").status_code
            == 403
        )
    proposal.refresh_from_db()
    assert proposal.status == "open"


def test_unknown_proposal_is_404(lead_api, team):
    assert lead_api.get(f"{PROPOSALS}999/").status_code == 404
    assert lead_api.post(f"{PROPOSALS}999/accept/", {}, format="json").status_code == 404


# --- run detection ------------------------------------------------------------------------------


def test_a_lead_runs_detection_for_the_team(lead_api, team):
    for d in (0, 30, 60):
        pm_at(team, day(d), "config-change")
    response = lead_api.post("/api/v1/patterns/detect/", {"team": "payments"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert [(f["team"], f["factor"], f["outcome"], f["incidents"]) for f in body["findings"]] == [
        ("payments", "config-change", "opened", 3)
    ]
    assert body["dry_run"] is False and "1 recurring pattern" in body["summary"]
    assert DoDProposal.objects.count() == 1


def test_dry_run_detection_writes_nothing(lead_api, team):
    for d in (0, 30, 60):
        pm_at(team, day(d), "config-change")
    body = lead_api.post(
        "/api/v1/patterns/detect/", {"team": team.slug, "dry_run": True}, format="json"
    ).json()
    assert body["dry_run"] is True and body["findings"][0]["outcome"] == "opened"
    assert not DoDProposal.objects.exists()


def test_detection_permissions_and_bad_input(api, lead_api, outsider_api, team):
    other = TeamFactory(slug="search")
    assert api.post("/api/v1/patterns/detect/", {"team": "payments"}, format="json").status_code == 403
    assert outsider_api.post("/api/v1/patterns/detect/", {}, format="json").status_code == 403
    assert lead_api.post("/api/v1/patterns/detect/", {"team": other.slug}, format="json").status_code == 403
    assert lead_api.post("/api/v1/patterns/detect/", {"team": "nope"}, format="json").status_code == 400
    assert lead_api.post("/api/v1/patterns/detect/", {"dry_run": "maybe"}, format="json").status_code == 400
    # The organisation-wide run (without a team) spans every team's documents: staff only.
    assert lead_api.post("/api/v1/patterns/detect/", {}, format="json").status_code == 403
