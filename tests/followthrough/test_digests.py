"""Daily digests, escalations and the Slack team digest, with a frozen clock.

Monday 2 March 2026, 07:00 UTC. Alice owns items of a SEV2 post-mortem of the
Payments team; Bob facilitated it and Lena leads the team.
"""

from __future__ import annotations

import datetime as dt
import re
import smtplib

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core import mail
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction

from followthrough import services
from followthrough.models import Digest, DigestRun, NudgeOptOut, TeamDigest
from followthrough.tasks import send_daily_digests, send_owner_digest
from postmortems.models import ActionItem
from tests.factories import ActionItemFactory, PostMortemFactory, UserFactory

NOW = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)
TODAY = NOW.date()


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def pm(team, teammate):
    return PostMortemFactory(team=team, facilitator=teammate, title="Checkout timeouts")


def due(days_from_today: int) -> dt.date:
    return TODAY + dt.timedelta(days=days_from_today)


@pytest.fixture
def items(pm, author):
    """Alice's items: keyed by what the digest should make of them."""
    return {
        "overdue_8": ActionItemFactory(
            postmortem=pm, owner=author, due_date=due(-8), text="Alert on timeouts"
        ),
        "overdue_7": ActionItemFactory(
            postmortem=pm, owner=author, due_date=due(-7), text="Runbook for <timeouts>"
        ),
        "overdue_2": ActionItemFactory(postmortem=pm, owner=author, due_date=due(-2), text="Contract test"),
        "today": ActionItemFactory(postmortem=pm, owner=author, due_date=due(0), text="Config schema"),
        "in_3": ActionItemFactory(postmortem=pm, owner=author, due_date=due(3), text="Canary check"),
        "in_4": ActionItemFactory(postmortem=pm, owner=author, due_date=due(4), text="Later work"),
        "done": ActionItemFactory(
            postmortem=pm, owner=author, due_date=due(-5), status=ActionItem.Status.DONE, text="Done already"
        ),
    }


def outbox_to(address: str) -> list:
    return [m for m in mail.outbox if m.to == [address]]


def test_an_owner_gets_one_digest_of_overdue_and_soon_due_items(items, lead):
    result = send_daily_digests.delay().get()

    assert result == {"owners": 1, "escalations": 2, "teams": 0}
    [digest] = outbox_to("alice@example.com")
    assert digest.subject == "Your action items: 3 overdue, 2 due soon (02 Mar)"
    for key in ("overdue_8", "overdue_7", "overdue_2", "today", "in_3"):
        assert items[key].key in digest.body
    assert items["in_4"].key not in digest.body and items["done"].key not in digest.body
    assert "Runbook for <timeouts>" in digest.body  # plain text: not HTML-escaped
    assert "8 days overdue (now escalated to the facilitator and team lead)" in digest.body
    assert "(today)" in digest.body and "(in 3 days)" in digest.body
    link = f"{django_settings.SITE_URL}/postmortems/{items['today'].postmortem.key}/#{items['today'].key}"
    assert link in digest.body
    assert digest.extra_headers["Auto-Submitted"] == "auto-generated"
    record = Digest.objects.get(user__username="alice")
    assert (record.kind, record.day, record.status, record.attempts) == ("owner", TODAY, "sent", 1)
    assert sorted(record.item_ids) == sorted(
        items[k].pk for k in ("overdue_8", "overdue_7", "overdue_2", "today", "in_3")
    )


def test_items_overdue_more_than_seven_days_escalate_to_the_facilitator_and_team_lead(items, lead):
    send_daily_digests.delay()

    for address in ("bob@example.com", "lena-lead@example.com"):
        [escalation] = outbox_to(address)
        assert escalation.subject == "Escalation: 1 action item long overdue (02 Mar)"
        assert items["overdue_8"].key in escalation.body
        assert items["overdue_7"].key not in escalation.body  # 7 days is not "more than 7"
        assert "owner" in escalation.body and "8 days overdue" in escalation.body
    assert len(outbox_to("alice@example.com")) == 1  # the owner gets no escalation
    assert Digest.objects.filter(kind="escalation").count() == 2


def test_an_owner_who_is_also_the_lead_is_not_escalated_to_about_their_own_item(team, author, items):
    author.team_memberships.update(role="lead")

    send_daily_digests.delay()

    assert [m.subject.split(":")[0] for m in outbox_to("alice@example.com")] == ["Your action items"]


def test_running_twice_and_two_beats_never_send_a_digest_twice(items, lead):
    send_daily_digests.delay()
    sent = len(mail.outbox)

    send_daily_digests.delay()  # the same beat again
    send_daily_digests.delay(TODAY.isoformat())  # a second beat process
    send_owner_digest.delay(items["today"].owner_id, TODAY.isoformat())  # a re-delivered task

    assert sent == 3 and len(mail.outbox) == 3
    assert Digest.objects.count() == 3
    assert Digest.objects.get(kind="owner").attempts == 2  # the re-delivered task found the claim
    assert DigestRun.objects.get().day == TODAY


def test_the_database_refuses_a_second_digest_for_a_person_on_a_day(author):
    Digest.objects.create(user=author, day=TODAY, kind="owner", claimed_at=NOW)

    with pytest.raises(IntegrityError), transaction.atomic():
        Digest.objects.create(user=author, day=TODAY, kind="owner", claimed_at=NOW)
    Digest.objects.create(user=author, day=TODAY, kind="escalation", claimed_at=NOW)  # another kind is fine
    Digest.objects.create(user=author, day=due(1), kind="owner", claimed_at=NOW)  # another day too


def test_the_next_day_brings_a_new_digest(items, frozen):
    send_daily_digests.delay()
    frozen.move_to(NOW + dt.timedelta(days=1))

    send_daily_digests.delay()

    subjects = [m.subject for m in outbox_to("alice@example.com")]
    assert subjects == [
        "Your action items: 3 overdue, 2 due soon (02 Mar)",
        "Your action items: 4 overdue, 2 due soon (03 Mar)",  # "in_4" is due in 3 days now
    ]


def test_a_person_who_opted_out_gets_nothing_until_they_opt_back_in(items, author, frozen):
    services.nudge_opt_out_set(user=author, opted_out=True)

    send_daily_digests.delay()
    assert outbox_to("alice@example.com") == []
    assert not Digest.objects.filter(user=author).exists()

    services.nudge_opt_out_set(user=author, opted_out=False)
    send_daily_digests.delay()
    assert len(outbox_to("alice@example.com")) == 1
    assert not NudgeOptOut.objects.exists()


def test_inactive_people_and_people_without_an_address_get_nothing(pm):
    gone = UserFactory(username="gone", is_active=False)
    silent = UserFactory(username="silent", email="")
    for owner in (gone, silent):
        ActionItemFactory(postmortem=pm, owner=owner, due_date=due(-1))

    assert send_daily_digests.delay().get() == {"owners": 0, "escalations": 0, "teams": 0}
    assert mail.outbox == [] and Digest.objects.count() == 0


def test_a_team_can_turn_nudges_off(items, team, lead):
    services.policy_update(team=team, data={"nudges_enabled": False})

    assert send_daily_digests.delay().get() == {"owners": 0, "escalations": 0, "teams": 0}
    assert mail.outbox == []


def test_a_team_sets_its_own_horizon_and_escalation_limit(items, team, lead):
    services.policy_update(team=team, data={"due_soon_days": 4, "escalate_after_days": 1})

    send_daily_digests.delay()

    [digest] = outbox_to("alice@example.com")
    assert items["in_4"].key in digest.body
    [escalation] = outbox_to("lena-lead@example.com")
    assert all(items[k].key in escalation.body for k in ("overdue_8", "overdue_7", "overdue_2"))


def test_a_team_can_keep_digests_but_stop_escalations(items, team, lead):
    services.policy_update(team=team, data={"escalation_enabled": False})

    send_daily_digests.delay()

    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert "escalated" not in mail.outbox[0].body


# --- failures ------------------------------------------------------------------------------


def test_a_transient_smtp_error_is_retried_and_the_digest_sent_once(items, monkeypatch):
    real_send = EmailMessage.send
    calls = {"n": 0}

    def flaky(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return real_send(self, *args, **kwargs)

    monkeypatch.setattr(EmailMessage, "send", flaky)

    # throw=False: let Celery's eager retry run instead of re-raising its Retry.
    result = send_owner_digest.apply(args=(items["today"].owner_id, TODAY.isoformat()), throw=False)

    assert result.get() == "sent"
    assert calls["n"] == 2 and len(mail.outbox) == 1
    record = Digest.objects.get()
    assert (record.status, record.attempts, record.error) == ("sent", 2, "")


def test_a_failed_send_is_recorded_and_reclaimed_by_the_next_run(items, monkeypatch):
    def down(self, *args, **kwargs):
        raise ConnectionRefusedError("SMTP server down")

    monkeypatch.setattr(EmailMessage, "send", down)
    with pytest.raises(ConnectionRefusedError):
        services.owner_digest_send(user_id=items["today"].owner_id, day=TODAY)
    record = Digest.objects.get()
    assert record.status == "failed" and "SMTP server down" in record.error

    monkeypatch.undo()
    assert services.owner_digest_send(user_id=items["today"].owner_id, day=TODAY) == "sent"
    assert len(mail.outbox) == 1
    record.refresh_from_db()
    assert (record.status, record.attempts) == ("sent", 2)


def test_a_permanent_smtp_refusal_is_not_retried(items, monkeypatch):
    def refuse(self, *args, **kwargs):
        raise smtplib.SMTPRecipientsRefused({"alice@example.com": (550, b"5.1.1 No such user")})

    monkeypatch.setattr(EmailMessage, "send", refuse)

    assert services.owner_digest_send(user_id=items["today"].owner_id, day=TODAY) == "failed"
    record = Digest.objects.get()
    assert record.status == "failed" and "No such user" in record.error


def test_digest_links_only_point_at_site_url(items, lead):
    send_daily_digests.delay()

    urls = {url for message in mail.outbox for url in re.findall(r"https?://[^\s)>]+", message.body)}
    assert urls and all(url.startswith(django_settings.SITE_URL + "/") for url in urls)


# --- a real SMTP server ----------------------------------------------------------------------


def test_digests_reach_a_real_smtp_server(items, lead, smtp_settings):
    inbox = smtp_settings

    send_daily_digests.delay()

    assert inbox.recipients() == ["alice@example.com", "bob@example.com", "lena-lead@example.com"]
    owner = next(m for m in inbox.messages if m["To"] == "alice@example.com")
    assert owner["Subject"] == "Your action items: 3 overdue, 2 due soon (02 Mar)"
    assert owner["Auto-Submitted"] == "auto-generated"
    assert items["overdue_8"].key in owner.get_content()
    assert Digest.objects.filter(status="sent").count() == 3


# --- Slack ------------------------------------------------------------------------------------


def test_the_team_digest_is_posted_to_slack_once_a_day(items, team, slack):
    services.policy_update(team=team, data={"slack_webhook_url": slack.url})

    assert send_daily_digests.delay().get()["teams"] == 1
    send_daily_digests.delay()

    [post] = slack.posts
    assert post["content_type"] == "application/json"
    text = post["body"]["text"]
    assert text.startswith("*Payments* action items on 02 Mar 2026: 3 overdue, 2 due soon")
    assert f"|{items['overdue_8'].key}>" in text and "8 d overdue" in text and "due in 3 d" in text
    assert "Runbook for &lt;timeouts&gt;" in text  # Slack's mrkdwn escaping
    assert items["in_4"].key not in text
    record = TeamDigest.objects.get()
    assert (record.team, record.status, record.attempts) == (team, "sent", 1)  # the plan skips claimed teams


def test_a_slack_5xx_is_retried_and_a_4xx_is_given_up(items, team, slack):
    services.policy_update(team=team, data={"slack_webhook_url": slack.url})
    slack.status = 503
    with pytest.raises(OSError):
        services.team_digest_send(team_id=team.pk, day=TODAY)
    assert TeamDigest.objects.get().status == "failed"

    slack.status = 404
    assert services.team_digest_send(team_id=team.pk, day=TODAY) == "failed"
    assert "404" in TeamDigest.objects.get().error

    slack.status = 200
    assert services.team_digest_send(team_id=team.pk, day=TODAY) == "sent"
    assert len(slack.posts) == 3 and TeamDigest.objects.get().attempts == 3


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/services/x",
        "http://hooks.slack.com/services/x",
        "https://hooks.slack.com.evil.example/x",
        "ftp://hooks.slack.com/x",
    ],
)
def test_slack_urls_off_the_allowed_hosts_are_refused(team, url):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        services.policy_update(team=team, data={"slack_webhook_url": url})

    assert "slack_webhook_url" in caught.value.message_dict
    assert not team.__class__.objects.filter(followup_policy__slack_webhook_url=url).exists()


def test_a_stored_url_that_is_no_longer_allowed_is_not_called(items, team, slack, settings):
    services.policy_update(team=team, data={"slack_webhook_url": slack.url})
    settings.SLACK_WEBHOOK_HOSTS = ["hooks.slack.com"]

    assert services.team_digest_send(team_id=team.pk, day=TODAY) == "failed"
    assert slack.posts == []
