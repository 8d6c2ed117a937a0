"""The blameless writing aids in the API: ``POST /api/v1/lint/``, the ``lint`` block
of a post-mortem, ``/readiness/``, ``/waivers/`` and the readiness gate on ``status``."""

from __future__ import annotations

import json
import random

import pytest
from rest_framework.test import APIClient

from blameless import SECTIONS
from postmortems.models import FindingWaiver, PostMortem, ReadinessOverride
from tests.factories import PostMortemFactory, UserFactory
from tests.postmortems.documents import blaming_draft, ready_draft

LINT = "/api/v1/lint/"
LIST = "/api/v1/postmortems/"


def detail_url(pm) -> str:
    return f"{LIST}{pm.pk}/"


def lint(api, body):
    # json.dumps escapes lone surrogates ("\\ud800"), which DRF's test renderer cannot encode.
    return api.post(LINT, json.dumps(body), content_type="application/json")


# --- POST /api/v1/lint/ ---------------------------------------------------------------


def test_lint_returns_findings_with_offsets_into_the_text(api):
    text = "Ünïcödé 🎉 first. At 10:42 the on-call forgot to renew the certificate."
    response = lint(api, {"text": text})
    assert response.status_code == 200
    body = response.json()
    assert body["truncated"] is False and body["checked_chars"] == len(text)
    [finding] = body["findings"]
    assert set(finding) == {"rule", "message", "start", "end", "excerpt", "suggestion"}
    assert finding["rule"] == "blame"
    assert finding["excerpt"] == "on-call forgot"
    # Offsets count Unicode code points (the emoji is one), so text[start:end] is the excerpt.
    assert text[finding["start"] : finding["end"]] == finding["excerpt"]
    assert finding["message"] and finding["suggestion"]


def test_lint_reports_several_rules_in_text_order(api):
    text = "The root cause was human error. The on-call should have checked the dashboard."
    findings = lint(api, {"text": text}).json()["findings"]
    assert [(f["rule"], f["excerpt"]) for f in findings] == [
        ("human-error", "human error"),
        ("counterfactual", "should have"),
    ]
    assert all(text[f["start"] : f["end"]] == f["excerpt"] for f in findings)


def test_the_section_selects_the_rules(api):
    text = "Be more careful when deploying."
    in_changes = lint(api, {"text": text, "section": "what_we_change"}).json()["findings"]
    assert [(f["rule"], f["start"], f["end"]) for f in in_changes] == [("vague-action", 0, 15)]
    assert lint(api, {"text": text, "section": "action_item"}).json()["findings"][0]["rule"] == "vague-action"
    # vague-action is for actions only: the same words in "what happened" are narration.
    assert lint(api, {"text": text, "section": "what_happened"}).json()["findings"] == []
    # No section (or null) runs every rule.
    assert [f["rule"] for f in lint(api, {"text": text}).json()["findings"]] == ["vague-action"]
    assert [f["rule"] for f in lint(api, {"text": text, "section": None}).json()["findings"]] == [
        "vague-action"
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Bob rolled back the change at 10:42.",
        "The health check failed to detect the stale replica.",
        "The deploy pipeline applied the config to every region at once.",
        "We chose a 30-second timeout because the gateway retries after 20 seconds.",
    ],
)
def test_neutral_sentences_have_no_findings(api, text):
    response = lint(api, {"text": text})
    assert response.status_code == 200
    assert response.json()["findings"] == []


def test_markdown_code_is_not_checked(api):
    text = (
        "The deploy pipeline applied the change.\n\n"
        "```\n$ echo 'the engineer forgot the flag'\n```\n\n"
        "    the operator ignored it (indented code)\n\n"
        "Logs said `user error` for every request."
    )
    response = lint(api, {"text": text})
    assert response.status_code == 200
    assert response.json()["findings"] == []
    # The same words as prose are found, so the code masking is what kept them out.
    assert lint(api, {"text": "The engineer forgot the flag."}).json()["findings"]


def test_empty_and_blank_text_have_no_findings(api):
    for text in ("", "   \n\t  "):
        response = lint(api, {"text": text, "section": "what_we_change"})
        assert response.status_code == 200
        assert response.json() == {"findings": [], "truncated": False, "checked_chars": len(text)}


def test_one_megabyte_of_text_is_checked_up_to_the_cap(api):
    sentence = "The on-call forgot to renew the certificate. "
    text = sentence * (1_000_000 // len(sentence) + 1)
    assert len(text) > 1_000_000
    response = lint(api, {"text": text})
    assert response.status_code == 200
    body = response.json()
    assert body["truncated"] is True
    assert 0 < body["checked_chars"] <= 200_000
    assert body["findings"] and all(f["end"] <= body["checked_chars"] for f in body["findings"])
    first = body["findings"][0]
    assert text[first["start"] : first["end"]] == first["excerpt"]


def test_a_body_over_the_upload_limit_is_refused_with_413(api, settings):
    text = "a " * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 2 + 10)
    response = lint(api, {"text": text})
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]


def test_control_characters_and_binary_noise_are_checked_not_refused(api):
    noise = bytes(random.Random(3).randrange(256) for _ in range(4096))
    texts = [
        "\x00\x01\x02 the engineer forgot\x07 the flag \x1b[31m\x7f",
        noise.decode("latin-1"),
        noise.decode("utf-8", errors="surrogateescape"),  # lone surrogates
        "\ud800 then the operator ignored the page \udfff",
    ]
    for text in texts:
        response = lint(api, {"text": text})
        assert response.status_code == 200, (response.status_code, response.content[:200])
        body = json.loads(response.content)  # valid UTF-8 JSON, even for lone surrogates
        assert body["checked_chars"] == len(text)
        for finding in body["findings"]:
            assert finding["end"] - finding["start"] == len(finding["excerpt"])
    assert [f["rule"] for f in lint(api, {"text": texts[0]}).json()["findings"]] == ["blame"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"section": "what_happened"},
        {"text": None},
        {"text": 5},
        {"text": True},
        {"text": ["a"]},
        {"text": {"a": 1}},
    ],
)
def test_text_must_be_a_string(api, body):
    response = lint(api, body)
    assert response.status_code == 400
    assert list(response.json()) == ["text"]


@pytest.mark.parametrize("section", ["why", "WHAT_HAPPENED", "", 5, ["what_happened"]])
def test_an_unknown_section_is_a_400_naming_the_valid_ones(api, section):
    response = lint(api, {"text": "The on-call forgot.", "section": section})
    assert response.status_code == 400
    [message] = response.json()["section"]
    assert all(name in message for name in SECTIONS)


def test_a_body_that_is_not_a_json_object_is_a_400(api):
    assert api.post(LINT, b"\xff\xfe\x00garbage{", content_type="application/json").status_code == 400
    assert api.post(LINT, "not json", content_type="application/json").status_code == 400
    response = api.post(LINT, ["text"], format="json")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()


def test_lint_also_takes_a_form_body(api):
    response = api.post(LINT, {"text": "They simply ignored the alert.", "section": "what_happened"})
    assert response.status_code == 200
    assert {f["rule"] for f in response.json()["findings"]} >= {"blame"}


def test_lint_is_post_only(api):
    assert api.get(LINT).status_code == 405


def test_anonymous_lint_is_refused(anon_api, db):
    response = anon_api.post(LINT, {"text": "The on-call forgot."}, format="json")
    assert response.status_code in (401, 403)
    assert "findings" not in response.json()


def test_lint_takes_a_token(db, author):
    from rest_framework.authtoken.models import Token

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=author).key}")
    assert client.post(LINT, {"text": "x"}, format="json").status_code == 200


# --- the lint block of a post-mortem ---------------------------------------------------


def test_detail_has_a_lint_block_with_findings_per_section_and_item(api, team, author):
    pm = blaming_draft(team=team, authors=[author])
    item = pm.action_items.get()
    lint_block = api.get(detail_url(pm)).json()["lint"]
    assert lint_block["open"] == 2 and lint_block["waived"] == 0
    assert lint_block["by_rule"] == {"blame": 1, "vague-action": 1}
    assert lint_block["findings"] == [
        {
            "section": "why_it_happened",
            "item": None,
            "rule": "blame",
            "message": lint_block["findings"][0]["message"],
            "start": 4,
            "end": 18,
            "excerpt": "on-call forgot",
            "suggestion": lint_block["findings"][0]["suggestion"],
            "waived": False,
            "waiver_reason": None,
        },
        {
            "section": "action_item",
            "item": item.key,
            "rule": "vague-action",
            "message": lint_block["findings"][1]["message"],
            "start": 0,
            "end": 15,
            "excerpt": "Be more careful",
            "suggestion": lint_block["findings"][1]["suggestion"],
            "waived": False,
            "waiver_reason": None,
        },
    ]


def test_a_clean_document_has_an_empty_lint_block(api, team):
    pm = ready_draft(team=team)
    assert api.get(detail_url(pm)).json()["lint"] == {"open": 0, "waived": 0, "by_rule": {}, "findings": []}


# --- GET /readiness/ -------------------------------------------------------------------


def test_readiness_of_a_ready_draft(api, team):
    pm = ready_draft(team=team)
    response = api.get(f"{detail_url(pm)}readiness/")
    assert response.status_code == 200
    body = response.json()
    assert body["ready"] is True
    assert [c["id"] for c in body["checks"]] == [
        "sections",
        "timeline",
        "factors",
        "broad-factor",
        "action-count",
        "action-items",
        "declined-changes",
        "language",
    ]
    assert all(c["passed"] for c in body["checks"])
    assert set(body["checks"][0]) == {"id", "label", "passed", "blocking", "detail"}
    assert [c["id"] for c in body["checks"] if not c["blocking"]] == ["broad-factor"]


def test_readiness_of_a_draft_that_is_not_ready(api, team):
    pm = blaming_draft(team=team)
    body = api.get(f"{detail_url(pm)}readiness/").json()
    assert body["ready"] is False
    failing = {c["id"]: c["detail"] for c in body["checks"] if c["blocking"] and not c["passed"]}
    assert set(failing) == {"timeline", "factors", "action-count", "language"}
    assert "on-call forgot" in failing["language"] and "Be more careful" in failing["language"]
    assert failing["action-count"] == "There are 1."


def test_readiness_is_404_for_an_unknown_post_mortem_and_refused_to_anonymous(api, anon_api, team):
    assert api.get(f"{LIST}999999/readiness/").status_code == 404
    pm = ready_draft(team=team)
    response = anon_api.get(f"{detail_url(pm)}readiness/")
    assert response.status_code in (401, 403)
    assert "checks" not in response.json()
    assert api.post(f"{detail_url(pm)}readiness/", {}, format="json").status_code == 405


# --- POST /waivers/ --------------------------------------------------------------------


def waive(client, pm, **overrides):
    body = {
        "section": "why_it_happened",
        "rule": "blame",
        "excerpt": "on-call forgot",
        "reason": "Quoted from the on-call's own chat message.",
    }
    body.update(overrides)
    return client.post(f"{detail_url(pm)}waivers/", body, format="json")


def test_an_author_waives_a_finding_and_it_stops_counting(api, team, author):
    pm = blaming_draft(team=team, authors=[author])
    response = waive(api, pm)
    assert response.status_code == 201
    body = response.json()
    waiver = FindingWaiver.objects.get(postmortem=pm)
    assert body == {
        "id": waiver.pk,
        "section": "why_it_happened",
        "rule": "blame",
        "excerpt": "on-call forgot",
        "reason": "Quoted from the on-call's own chat message.",
        "created_by": "alice",
        "created_at": body["created_at"],
    }
    lint_block = api.get(detail_url(pm)).json()["lint"]
    assert lint_block["open"] == 1 and lint_block["waived"] == 1
    assert lint_block["by_rule"] == {"vague-action": 1}
    assert lint_block["findings"][0]["waived"] is True
    assert lint_block["findings"][0]["waiver_reason"] == "Quoted from the on-call's own chat message."
    language = {c["id"]: c for c in api.get(f"{detail_url(pm)}readiness/").json()["checks"]}["language"]
    assert "on-call forgot" not in language["detail"]


def test_waiving_again_replaces_the_reason(api, team, author):
    pm = blaming_draft(team=team, authors=[author])
    assert waive(api, pm).status_code == 201
    assert waive(api, pm, reason="A quote from the incident channel.").status_code == 201
    assert list(FindingWaiver.objects.values_list("reason", flat=True)) == [
        "A quote from the incident channel."
    ]


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"reason": ""}, "reason"),
        ({"reason": "   "}, "reason"),
        ({"reason": None}, "reason"),
        ({"section": "timeline"}, "section"),
        ({"section": ""}, "section"),
        ({"rule": "rudeness"}, "rule"),
        ({"excerpt": ""}, "excerpt"),
        ({"reason": "x" * 501}, "reason"),
    ],
)
def test_bad_waivers_are_400_and_save_nothing(api, team, author, overrides, field):
    pm = blaming_draft(team=team, authors=[author])
    response = waive(api, pm, **overrides)
    assert response.status_code == 400
    assert field in response.json()
    assert not FindingWaiver.objects.exists()


def test_unknown_section_message_names_the_valid_ones(api, team, author):
    pm = blaming_draft(team=team, authors=[author])
    [message] = waive(api, pm, section="timeline").json()["section"]
    assert "what_happened" in message and "action_item" in message


def test_facilitator_and_staff_may_waive_but_others_may_not(team, author, teammate, outsider):
    pm = blaming_draft(team=team, authors=[author], facilitator=teammate)
    staff = UserFactory(username="admin", is_staff=True)
    for user, expected in ((outsider, 403), (teammate, 201), (staff, 201)):
        client = APIClient()
        client.force_authenticate(user)
        assert waive(client, pm, reason=f"by {user.username}").status_code == expected
    assert FindingWaiver.objects.get().reason == "by admin"


def test_outsider_waiver_saves_nothing(team, author, outsider):
    pm = blaming_draft(team=team, authors=[author])
    client = APIClient()
    client.force_authenticate(outsider)
    response = waive(client, pm)
    assert response.status_code == 403
    assert "authors" in response.json()["detail"]
    assert not FindingWaiver.objects.exists()


def test_anonymous_waiver_is_refused(anon_api, team, author):
    pm = blaming_draft(team=team, authors=[author])
    assert waive(anon_api, pm).status_code in (401, 403)
    assert not FindingWaiver.objects.exists()


def test_waiver_for_unknown_post_mortem_is_404(api, db):
    assert api.post(f"{LIST}999999/waivers/", {}, format="json").status_code == 404


# --- the readiness gate on status ----------------------------------------------------------


def test_patching_status_of_a_draft_that_is_not_ready_is_a_400_with_the_failing_checks(api, team):
    pm = blaming_draft(team=team, title="Old title")
    response = api.patch(
        detail_url(pm), {"status": "in_review", "title": "New title"}, format="json", HTTP_IF_MATCH="*"
    )
    assert response.status_code == 400
    messages = response.json()["status"]
    assert len(messages) == 4
    assert all(m.startswith("Not ready for review — ") for m in messages)
    assert any("No open blame or vague-action findings" in m and "on-call forgot" in m for m in messages)
    assert any("Between 3 and 5 action items" in m for m in messages)
    pm.refresh_from_db()
    assert (pm.status, pm.title) == ("draft", "Old title")  # nothing of the PATCH was saved
    assert not ReadinessOverride.objects.exists()


def test_a_ready_draft_moves_to_review(api, team):
    pm = ready_draft(team=team)
    response = api.patch(detail_url(pm), {"status": "in_review"}, format="json", HTTP_IF_MATCH="*")
    assert response.status_code == 200
    assert response.json()["status"] == "in_review"
    pm.refresh_from_db()
    assert pm.status == "in_review"
    assert not ReadinessOverride.objects.exists()


def test_creating_a_document_past_draft_is_gated_too(api, team):
    body = {
        "title": "Checkout errors",
        "team": team.slug,
        "severity": "SEV2",
        "status": "published",
        "what_happened": "Checkout failed.",
        "why_it_happened": "Someone forgot to renew the certificate.",
    }
    response = api.post(LIST, body, format="json")
    assert response.status_code == 400
    assert "status" in response.json()
    assert not PostMortem.objects.exists()


def test_staff_override_moves_the_draft_and_records_why(team):
    pm = blaming_draft(team=team)
    staff = UserFactory(username="admin", is_staff=True)
    client = APIClient()
    client.force_authenticate(staff)
    response = client.patch(
        detail_url(pm),
        {"status": "in_review", "readiness_override_reason": "Review meeting is today; fixing live."},
        format="json",
        HTTP_IF_MATCH="*",
    )
    assert response.status_code == 200
    assert "readiness_override_reason" not in response.json()  # write-only
    pm.refresh_from_db()
    assert pm.status == "in_review"
    override = ReadinessOverride.objects.get()
    assert (override.postmortem, override.from_status, override.to_status) == (pm, "draft", "in_review")
    assert override.reason == "Review meeting is today; fixing live."
    assert override.created_by == staff
    assert {c["id"] for c in override.failing_checks} == {"timeline", "factors", "action-count", "language"}


def test_non_staff_override_is_refused(api, team):
    pm = blaming_draft(team=team)
    response = api.patch(
        detail_url(pm),
        {"status": "in_review", "readiness_override_reason": "Trust me."},
        format="json",
        HTTP_IF_MATCH="*",
    )
    assert response.status_code == 400
    assert response.json()["status"] == ["Only an admin can override the readiness check."]
    pm.refresh_from_db()
    assert pm.status == "draft"
    assert not ReadinessOverride.objects.exists()


def test_an_override_reason_over_1000_characters_is_a_400(team):
    pm = blaming_draft(team=team)
    client = APIClient()
    client.force_authenticate(UserFactory(username="admin", is_staff=True))
    response = client.patch(
        detail_url(pm),
        {"status": "in_review", "readiness_override_reason": "x" * 1001},
        format="json",
        HTTP_IF_MATCH="*",
    )
    assert response.status_code == 400
    assert "readiness_override_reason" in response.json()
    assert PostMortem.objects.get(pk=pm.pk).status == "draft"


def test_documents_already_past_draft_are_not_gated(api, team):
    pm = PostMortemFactory(team=team, status="in_review", why_it_happened="The on-call forgot.")
    response = api.patch(detail_url(pm), {"status": "reviewed"}, format="json", HTTP_IF_MATCH="*")
    assert response.status_code == 200
    assert PostMortem.objects.get(pk=pm.pk).status == "reviewed"
