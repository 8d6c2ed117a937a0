"""Issue 9 in the reviews app: a review is as private as its post-mortem.

The review of a restricted post-mortem answers an outsider 404 on every page
and endpoint (the same answer as a review that does not exist), is left out of
lists, the team page and pulse figures; a soft-deleted post-mortem's review
vanishes for everyone.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from postmortems.models import PostMortem
from postmortems.services import postmortem_delete
from reviews import selectors, services
from tests.factories import UserFactory
from tests.reviews.conftest import api_client, soon


def _restrict(pm: PostMortem) -> None:
    pm.visibility = PostMortem.Visibility.RESTRICTED
    pm.save(update_fields=["visibility"])


@pytest.fixture
def outsider_web(outsider):
    client = Client()
    client.force_login(outsider)
    return client


@pytest.fixture
def restricted_review(ended_review, author, teammate):
    services.pulse_submit(
        review=ended_review, user=teammate, learned=4, come_again=True, what_should_change="zq7secretpulse"
    )
    _restrict(ended_review.postmortem)
    return ended_review


def _review_urls(review) -> list[str]:
    return [
        reverse("reviews:review", kwargs={"pk": review.pk}),
        reverse("reviews:invite", kwargs={"pk": review.pk}),
        reverse("reviews:pulse", kwargs={"pk": review.pk}),
        reverse("reviews:edit", kwargs={"pk": review.pk}),
    ]


def test_outsider_gets_404_on_every_page_of_a_restricted_review(restricted_review, outsider_web):
    missing = outsider_web.get(reverse("reviews:review", kwargs={"pk": 999_999}))
    for url in _review_urls(restricted_review):
        response = outsider_web.get(url)
        assert response.status_code == 404, url
        assert restricted_review.postmortem.title not in response.content.decode()
    assert missing.status_code == 404
    start = outsider_web.post(reverse("reviews:start", kwargs={"pk": restricted_review.pk}))
    assert start.status_code == 404


def test_outsider_gets_404_on_every_endpoint_of_a_restricted_review(restricted_review, outsider_api):
    base = f"/api/v1/reviews/{restricted_review.pk}/"
    for url in (base, base + "state/", base + "ics/"):
        assert outsider_api.get(url).status_code == 404, url
    assert outsider_api.post(base + "notes/", {"text": "hi"}, format="json").status_code == 404
    pm = restricted_review.postmortem
    assert outsider_api.get(f"/api/v1/reviews/plan/?postmortem={pm.pk}").status_code == 404
    assert outsider_api.get(f"/api/v1/reviews/pulse-summary/?postmortem={pm.pk}").status_code == 404


def test_readers_still_see_a_restricted_review(restricted_review, author, facilitator):
    for user in (author, facilitator):  # a team member; the review's facilitator reads it too
        if user == facilitator:
            restricted_review.postmortem.restricted_to.add(facilitator)
        client = Client()
        client.force_login(user)
        assert client.get(reverse("reviews:review", kwargs={"pk": restricted_review.pk})).status_code == 200
        assert api_client(user).get(f"/api/v1/reviews/{restricted_review.pk}/").status_code == 200


def test_lists_team_page_and_pulse_figures_leave_out_a_restricted_review(
    restricted_review, outsider, outsider_api, outsider_web, team, author
):
    listed = outsider_api.get("/api/v1/reviews/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert restricted_review.pk not in [row["id"] for row in rows]
    pulse = outsider_api.get(f"/api/v1/reviews/pulse-summary/?team={team.slug}").json()
    assert pulse["responses"] == 0 and "zq7secretpulse" not in str(pulse)
    body = outsider_web.get(reverse("reviews:team", kwargs={"slug": team.slug})).content.decode()
    assert restricted_review.postmortem.title not in body and "zq7secretpulse" not in body
    # The team's own members see both.
    assert selectors.pulse_for_team(team, user=author).responses == 1
    assert list(selectors.team_reviews(team, user=author)) == [restricted_review]
    assert list(selectors.team_reviews(team, user=outsider)) == []


def test_an_outsider_cannot_schedule_or_plan_a_review_of_a_restricted_post_mortem(
    ready_pm, outsider_web, outsider_api, facilitator
):
    _restrict(ready_pm)
    page = outsider_web.get(reverse("reviews:schedule", kwargs={"key": ready_pm.key}))
    assert page.status_code == 404
    body = {
        "postmortem": ready_pm.pk,
        "scheduled_at": soon().isoformat(),
        "facilitator": facilitator.username,
    }
    secret = outsider_api.post("/api/v1/reviews/", body, format="json")
    missing = outsider_api.post("/api/v1/reviews/", {**body, "postmortem": 999_999}, format="json")
    assert secret.status_code == missing.status_code == 400
    assert secret.json()["postmortem"] == [
        message.replace("999999", str(ready_pm.pk)) for message in missing.json()["postmortem"]
    ]


def test_a_deleted_post_mortems_review_vanishes_for_everyone(scheduled_review, author, team):
    lead = UserFactory(username="lena-admin", is_staff=True)
    postmortem_delete(user=lead, postmortem=scheduled_review.postmortem)
    client = Client()
    client.force_login(author)
    assert client.get(reverse("reviews:review", kwargs={"pk": scheduled_review.pk})).status_code == 404
    api = api_client(author)
    assert api.get(f"/api/v1/reviews/{scheduled_review.pk}/").status_code == 404
    listed = api.get("/api/v1/reviews/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert rows == []
    assert list(selectors.team_reviews(team, user=lead)) == []
