"""Issue 9 in follow-through: digests never carry a deleted document's items,
and a restricted document's title reaches only its readers.

Monday 2 March 2026, 07:00 UTC, as in ``test_digests``.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.template.loader import render_to_string

from followthrough import selectors, services
from followthrough.tasks import send_daily_digests
from postmortems.access import can_view
from postmortems.models import PostMortem
from postmortems.services import postmortem_delete
from tests.factories import ActionItemFactory, PostMortemFactory, UserFactory

NOW = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
SECRET_TITLE = "Vault token exfiltrated zq7secret"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def secret_pm(team, teammate):
    return PostMortemFactory(
        team=team, facilitator=teammate, title=SECRET_TITLE, visibility=PostMortem.Visibility.RESTRICTED
    )


@pytest.fixture
def contractor(db):
    """Owns an item of the restricted document (which makes them a reader of it)."""
    return UserFactory(username="carl")


def _to(address: str) -> list:
    return [m for m in mail.outbox if m.to == [address]]


def test_a_digest_row_names_only_documents_its_recipient_may_read(secret_pm, contractor, outsider):
    """Owners of a restricted document's items are among its readers
    (``postmortems.access``), so their digest names it; should a digest ever
    reach someone who is not a reader, the row keeps the item but drops the
    document's key, title and URL."""
    item = ActionItemFactory(
        postmortem=secret_pm, owner=contractor, due_date=TODAY - dt.timedelta(days=2), text="Rotate keys"
    )
    assert can_view(contractor, secret_pm) and not can_view(outsider, secret_pm)
    services.owner_digest_send(user_id=contractor.pk, day=TODAY)
    [digest] = _to("carl@example.com")
    assert SECRET_TITLE in digest.body

    found = selectors.owner_nudges(user_id=contractor.pk, day=TODAY)
    body = render_to_string("followthrough/email/owner_digest.txt", services._context(found, outsider, TODAY))
    assert item.key in body and "Rotate keys" in body and "(a restricted post-mortem)" in body
    assert SECRET_TITLE not in body and secret_pm.key not in body.replace(item.key, "")


def test_an_owner_who_reads_the_document_gets_its_title(secret_pm, author):
    ActionItemFactory(postmortem=secret_pm, owner=author, due_date=TODAY, text="Rotate keys")
    services.owner_digest_send(user_id=author.pk, day=TODAY)
    [digest] = _to("alice@example.com")
    assert SECRET_TITLE in digest.body and secret_pm.key in digest.body


def test_escalations_of_a_restricted_document_reach_only_its_readers(secret_pm, contractor, lead):
    ActionItemFactory(postmortem=secret_pm, owner=contractor, due_date=TODAY - dt.timedelta(days=9))

    send_daily_digests.delay()

    escalated = [m for m in mail.outbox if m.subject.startswith("Escalation")]
    recipients = sorted(m.to[0] for m in escalated)
    assert recipients == ["bob@example.com", "lena-lead@example.com"]  # the facilitator and the lead
    User = type(lead)
    for address in recipients:
        reader = User.objects.get(email=address)
        assert can_view(reader, secret_pm)
        assert SECRET_TITLE in _to(address)[0].body
    # An outsider made facilitator of nothing and lead of nothing gets nothing, even when asked directly.
    assert selectors.escalation_nudges(user_id=contractor.pk, day=TODAY) == []


def test_the_slack_digest_never_quotes_a_restricted_documents_items(secret_pm, team, author, slack):
    services.policy_update(team=team, data={"slack_webhook_url": slack.url})
    public = PostMortemFactory(team=team, title="Checkout timeouts")
    ActionItemFactory(postmortem=public, owner=author, due_date=TODAY, text="Config schema")
    hidden = ActionItemFactory(
        postmortem=secret_pm, owner=author, due_date=TODAY, text="Rotate zq7secret keys"
    )

    assert services.team_digest_send(team_id=team.pk, day=TODAY) == "sent"

    [post] = slack.posts
    text = post["body"]["text"]
    assert "Config schema" in text and "2 due soon" in text
    assert "zq7secret" not in text and f"|{hidden.key}>" not in text and secret_pm.key not in text
    assert "an item of a restricted post-mortem — alice, due today" in text


def test_items_of_a_deleted_document_are_in_no_digest(team, author, teammate, lead, slack):
    services.policy_update(team=team, data={"slack_webhook_url": slack.url})
    gone = PostMortemFactory(team=team, facilitator=teammate, title="Deleted one")
    ActionItemFactory(postmortem=gone, owner=author, due_date=TODAY - dt.timedelta(days=9), text="Gone item")
    postmortem_delete(user=lead, postmortem=gone)

    assert selectors.nudges(day=TODAY) == []
    plan = selectors.digest_plan(day=TODAY)
    assert (plan.owner_ids, plan.escalation_ids, plan.team_ids) == ([], [], [])
    assert send_daily_digests.delay().get() == {"owners": 0, "escalations": 0, "teams": 0}
    assert mail.outbox == [] and slack.posts == []
    assert services.owner_digest_send(user_id=author.pk, day=TODAY) == "nothing"
    assert services.team_digest_send(team_id=team.pk, day=TODAY) == "nothing"
