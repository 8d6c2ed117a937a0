"""The reminder preferences page and the team follow-up policy page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from followthrough.models import NudgeOptOut, TeamFollowUpPolicy
from tests.factories import TeamFactory

PREFS = reverse("followthrough:preferences")
LOGIN = "/accounts/login/"


def policy_url(team) -> str:
    return reverse("followthrough:team_policy", kwargs={"slug": team.slug})


VALID = {
    "window_days_sev1": "21",
    "window_days_sev2": "28",
    "window_days_sev3": "42",
    "window_days_sev4": "56",
    "window_days_unrated": "56",
    "nudges_enabled": "on",
    "due_soon_days": "5",
    "escalation_enabled": "on",
    "escalate_after_days": "10",
    "slack_webhook_url": "https://hooks.slack.com/services/T1/B2/abc",
}


# --- anonymous ----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_people_are_sent_to_login_and_nothing_changes(client, team, method):
    for url in (PREFS, policy_url(team)):
        response = getattr(client, method)(url, VALID if method == "post" else None)
        assert response.status_code == 302 and response["Location"].startswith(f"{LOGIN}?next=")
    assert not TeamFollowUpPolicy.objects.exists() and not NudgeOptOut.objects.exists()


# --- preferences ------------------------------------------------------------------------------


def test_preferences_show_the_switch_and_the_teams_policies(web, team):
    response = web.get(PREFS)

    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="send_me_nudges"' in html and "checked" in html
    assert "<strong>on</strong>" in html
    assert policy_url(team) in html and "28 / 28 days" in html
    assert 'href="/followthrough/preferences/" aria-current="page">Reminders</a>' in html


def test_turning_reminders_off_and_on(web, author):
    off = web.post(PREFS, {})
    assert off.status_code == 302 and off["Location"] == PREFS
    assert NudgeOptOut.objects.filter(user=author).exists()
    assert "<strong>off</strong>" in web.get(PREFS).content.decode()

    on = web.post(PREFS, {"send_me_nudges": "on"})
    assert on.status_code == 302
    assert not NudgeOptOut.objects.filter(user=author).exists()


def test_turning_off_twice_keeps_one_row(web, author):
    web.post(PREFS, {})
    web.post(PREFS, {"send_me_nudges": "nonsense-is-false"})  # any value ticks a checkbox: on
    web.post(PREFS, {})
    web.post(PREFS, {})

    assert NudgeOptOut.objects.filter(user=author).count() == 1


def test_a_person_without_an_address_is_told(web, author):
    author.email = ""
    author.save()

    assert "no e-mail address" in web.get(PREFS).content.decode()


# --- team policy ---------------------------------------------------------------------------------


def test_any_member_can_read_the_policy_but_not_change_it(web, team):
    response = web.get(policy_url(team))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'value="28"' in html and "disabled" in html and "Save policy" not in html
    assert not TeamFollowUpPolicy.objects.exists()  # reading creates nothing

    refused = web.post(policy_url(team), VALID)
    assert refused.status_code == 403
    assert not TeamFollowUpPolicy.objects.exists()


def test_an_outsider_cannot_change_another_teams_policy(client, team, outsider):
    client.force_login(outsider)

    assert client.post(policy_url(team), VALID).status_code == 403
    assert not TeamFollowUpPolicy.objects.exists()


def test_a_team_lead_changes_the_policy(client, team, lead):
    client.force_login(lead)

    response = client.post(policy_url(team), VALID)

    assert response.status_code == 302 and response["Location"] == policy_url(team)
    policy = TeamFollowUpPolicy.objects.get(team=team)
    assert (policy.window_days_sev1, policy.due_soon_days, policy.escalate_after_days) == (21, 5, 10)
    assert policy.slack_webhook_url == VALID["slack_webhook_url"]
    assert "Save policy" in client.get(policy_url(team)).content.decode()


def test_staff_may_change_any_teams_policy(client, team, outsider):
    outsider.is_staff = True
    outsider.save()
    client.force_login(outsider)

    assert client.post(policy_url(team), {**VALID, "nudges_enabled": ""}).status_code == 302
    assert TeamFollowUpPolicy.objects.get(team=team).nudges_enabled is False


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("window_days_sev1", "0", "greater than or equal to 1"),
        ("window_days_sev2", "366", "less than or equal to 365"),
        ("window_days_sev3", "", "required"),
        ("due_soon_days", "-1", "greater than or equal to 0"),
        ("escalate_after_days", "abc", "whole number"),
        ("slack_webhook_url", "https://evil.example/hook", "host must be one of"),
        ("slack_webhook_url", "not a url", "valid URL"),
    ],
)
def test_bad_input_is_a_400_and_saves_nothing(client, team, lead, field, value, message):
    client.force_login(lead)
    client.post(policy_url(team), VALID)
    before = TeamFollowUpPolicy.objects.values().get(team=team)

    response = client.post(policy_url(team), {**VALID, field: value})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert "nothing was saved" in response.content.decode()
    assert TeamFollowUpPolicy.objects.values().get(team=team) == before


def test_an_unknown_team_is_404(web):
    assert web.get("/followthrough/teams/no-such-team/").status_code == 404


def test_a_lead_of_another_team_cannot_change_this_one(client, team, lead):
    other = TeamFactory(slug="search")
    client.force_login(lead)

    assert client.post(policy_url(other), VALID).status_code == 403
    assert not TeamFollowUpPolicy.objects.filter(team=other).exists()
