"""Who to invite, warnings about the facilitator, the clock and pulse summaries."""

from __future__ import annotations

import datetime as dt

from reviews import selectors, services
from reviews.models import PulseResponse
from tests.factories import TeamMembershipFactory, TimelineEntryFactory, UserFactory


def test_suggestions_are_authors_owners_and_people_named_in_the_timeline(ready_pm, team):
    dave = UserFactory(username="dave", first_name="Dave", last_name="Kowalski")
    TeamMembershipFactory(team=team, user=dave)
    erin = UserFactory(username="erin", first_name="Erin", last_name="Walsh")
    TeamMembershipFactory(team=team, user=erin)
    UserFactory(username="ghost", first_name="Ghost", last_name="Writer")  # in no team: not a candidate
    TimelineEntryFactory(postmortem=ready_pm, text="Dave Kowalski paged the payments on-call; @erin joined.")
    suggestions = selectors.invitee_suggestions(ready_pm)
    assert [(s.user.username, s.reasons) for s in suggestions] == [
        ("alice", ["author", "action-item owner"]),
        ("bob", ["action-item owner"]),
        ("dave", ["named in the timeline"]),
        ("erin", ["named in the timeline"]),
    ]


def test_names_match_as_words_only():
    sam = UserFactory.build(username="sam", first_name="Sam", last_name="Lee")
    assert selectors.is_named_in(sam, ["Sam restarted the pod"])
    assert selectors.is_named_in(sam, ["restarted by @sam"])
    assert selectors.is_named_in(sam, ["SAM restarted the pod"])  # username, any case
    assert not selectors.is_named_in(sam, ["the same samples were used"])
    assert selectors.is_named_in(sam, ["sam@example.com sent it"])  # an address names them too
    assert not selectors.is_named_in(sam, ["deploy-sam-2 ran"])
    lee = UserFactory.build(username="al", first_name="Al", last_name="")
    assert not selectors.is_named_in(lee, ["Al fixed it", "al"])  # too short to tell from a word


def test_facilitator_warnings(ready_pm, author, teammate, facilitator):
    assert selectors.facilitator_warnings(ready_pm, facilitator) == []
    assert "is an author" in selectors.facilitator_warnings(ready_pm, author)[0]
    assert "owns an action item" in selectors.facilitator_warnings(ready_pm, teammate)[0]
    TimelineEntryFactory(postmortem=ready_pm, text="Fran Ojo rolled the config back.")
    assert any("named in the timeline" in w for w in selectors.facilitator_warnings(ready_pm, facilitator))


def test_clock_counts_down_from_stored_times(running_review, facilitator):
    start = running_review.started_at
    review = services.review_next_step(
        review=running_review, user=facilitator, from_step=0, now=start + dt.timedelta(minutes=3, seconds=30)
    )
    review = selectors.review_detail(user=facilitator).get(pk=review.pk)
    clock = selectors.review_clock(review, now=start + dt.timedelta(minutes=5))
    assert clock["step"] == "timeline" and clock["current_step"] == 1
    assert clock["step_remaining_seconds"] == 12 * 60 - 90
    assert clock["meeting_remaining_seconds"] == 25 * 60
    assert [s["state"] for s in clock["steps"]] == ["done", "current", "next", "next", "next"]
    assert clock["steps"][0]["seconds"] == 210
    over = selectors.review_clock(review, now=start + dt.timedelta(minutes=40))
    assert over["step_remaining_seconds"] < 0 and over["meeting_remaining_seconds"] == -10 * 60


def test_clock_before_the_start(scheduled_review):
    clock = selectors.review_clock(
        selectors.review_detail(user=scheduled_review.facilitator).get(pk=scheduled_review.pk)
    )
    assert clock["status"] == "scheduled" and clock["step_remaining_seconds"] is None
    assert clock["planned_minutes"] == 30 and clock["elapsed_seconds"] is None


def test_pulse_summary(ended_review, author, teammate, facilitator, team):
    services.pulse_submit(review=ended_review, user=author, learned=5, come_again=True, what_should_change="")
    services.pulse_submit(
        review=ended_review, user=teammate, learned=2, come_again=False, what_should_change="Shorter"
    )
    summary = selectors.pulse_for_postmortem(ended_review.postmortem)
    assert (summary.responses, summary.reviews, summary.learned_average) == (2, 1, 3.5)
    assert summary.learned_counts == {1: 0, 2: 1, 3: 0, 4: 0, 5: 1}
    assert (summary.come_again, summary.come_again_share) == (1, 0.5)
    assert summary.changes == ["Shorter"]
    assert selectors.pulse_for_team(team, user=author).as_dict()["learned_counts"]["5"] == 1
    empty = selectors.pulse_summary(PulseResponse.objects.none())
    assert (empty.responses, empty.learned_average, empty.come_again_share) == (0, None, None)
