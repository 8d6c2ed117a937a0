"""The end-of-review summary to each owner: after commit, at most once, retried on failure."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from reviews import services, summaries
from reviews.models import ReviewOwnerNotice
from reviews.tasks import send_owner_summary, sweep_owner_summaries


def test_summary_is_sent_once_however_often_the_task_runs(ended_review):
    notice = ReviewOwnerNotice.objects.get(review=ended_review, owner__username="bob")
    mail.outbox.clear()
    assert send_owner_summary.run(notice.pk) is True
    assert send_owner_summary.run(notice.pk) is False
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["bob@example.com"]
    assert ended_review.postmortem.key in message.subject
    assert f"/postmortems/{ended_review.postmortem.key}/" in message.body
    notice.refresh_from_db()
    assert notice.sent_at is not None


def test_a_failed_send_releases_the_claim(ended_review, monkeypatch):
    notice = ReviewOwnerNotice.objects.get(review=ended_review, owner__username="bob")

    def broken(*args, **kwargs):
        raise OSError("SMTP server unreachable")

    monkeypatch.setattr("reviews.summaries.send_mail", broken)
    with pytest.raises(OSError):
        send_owner_summary.run(notice.pk)
    notice.refresh_from_db()
    assert notice.sent_at is None


def test_no_mail_without_an_address_or_open_items(ended_review):
    notice = ReviewOwnerNotice.objects.get(review=ended_review, owner__username="bob")
    notice.owner.email = ""
    notice.owner.save()
    mail.outbox.clear()
    assert send_owner_summary.run(notice.pk) is False
    assert send_owner_summary.run(987654) is False
    assert mail.outbox == []


def test_the_sweep_sends_what_an_outage_left_behind(ended_review):
    ReviewOwnerNotice.objects.update(created_at=timezone.now() - dt.timedelta(minutes=10))
    mail.outbox.clear()
    assert sweep_owner_summaries.run() == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "bob@example.com"]
    assert summaries.owner_summaries_sweep() == 0


def test_ending_survives_a_broker_outage(
    running_review, facilitator, monkeypatch, django_capture_on_commit_callbacks
):
    def refused(*args, **kwargs):
        raise OSError("broker down")

    monkeypatch.setattr("reviews.tasks.send_owner_summary.delay", refused)
    with django_capture_on_commit_callbacks(execute=True):
        review = services.review_end(review=running_review, user=facilitator, outcome="Done.")
    assert review.status == "ended"
    assert ReviewOwnerNotice.objects.filter(sent_at__isnull=True).count() == 2
