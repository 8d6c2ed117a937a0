"""Background work: owner notifications run after commit, exactly once per owner.

Without REDIS_URL tasks run in-process (eager). With REDIS_URL the suite also
runs a real Celery worker against Redis (``test_real_worker_delivers_through_redis``).
"""

import time

import pytest
from django.conf import settings
from django.core import mail

from postmortems.models import ActionItem
from postmortems.services import postmortem_save
from postmortems.tasks import notify_action_item_owner
from tests.factories import ActionItemFactory, PostMortemFactory, UserFactory


def test_notification_is_sent_once_however_often_the_task_runs(db):
    item = ActionItemFactory()
    assert notify_action_item_owner.run(item.pk) is True
    assert notify_action_item_owner.run(item.pk) is False
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [item.owner.email]
    assert item.key in message.subject and item.postmortem.key in message.subject
    assert f"{settings.SITE_URL}/postmortems/{item.postmortem.key}/#{item.key}" in message.body
    item.refresh_from_db()
    assert item.notified_owner_id == item.owner_id


def test_a_new_owner_is_told_too(db):
    item = ActionItemFactory(owner=UserFactory(username="firstowner"))
    notify_action_item_owner.run(item.pk)
    item.owner = UserFactory(username="newowner")
    item.save()
    assert notify_action_item_owner.run(item.pk) is True
    assert len(mail.outbox) == 2
    assert mail.outbox[0].to == ["firstowner@example.com"]
    assert mail.outbox[1].to == ["newowner@example.com"]


def test_a_multi_line_item_text_still_makes_a_one_line_subject(db):
    # Found by the stored-XSS corpus (tests/reliability): a newline in the text
    # made send_mail raise BadHeaderError, so the owner was never told.
    item = ActionItemFactory(text="Add a check\n\n[r]: javascript:alert(1)\r\nBcc: x@example.com")
    assert notify_action_item_owner.run(item.pk) is True
    (message,) = mail.outbox
    assert "\n" not in message.subject and "\r" not in message.subject
    assert message.subject.endswith("is yours: Add a check [r]: javascript:alert(1) Bcc: x@example.com")
    assert message.bcc == []


def test_missing_item_or_address_sends_nothing(db):
    assert notify_action_item_owner.run(987654) is False
    item = ActionItemFactory(owner=UserFactory(email=""))
    assert notify_action_item_owner.run(item.pk) is False
    assert mail.outbox == []


def test_failed_send_releases_the_claim(db, monkeypatch):
    item = ActionItemFactory()

    def broken_send(*args, **kwargs):
        raise OSError("SMTP server unreachable")

    monkeypatch.setattr("postmortems.tasks.send_mail", broken_send)
    with pytest.raises(OSError):
        notify_action_item_owner.run(item.pk)
    item.refresh_from_db()
    assert item.notified_owner_id is None  # a retry can still send


def test_enqueue_waits_for_commit(db, django_capture_on_commit_callbacks):
    pm = PostMortemFactory()
    owner = UserFactory()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        postmortem_save(
            postmortem=pm,
            detect_patterns=False,
            fields={},
            action_items=[
                {
                    "text": "Add a test",
                    "kind": "test",
                    "owner": owner,
                    "due_date": pm.started_at.date(),
                    "status": "open",
                }
            ],
        )
    assert len(callbacks) == 1
    assert mail.outbox == []


@pytest.mark.skipif(bool(settings.REDIS_URL), reason="eager mode is the embedded default without REDIS_URL")
def test_without_redis_tasks_run_in_process(db, django_capture_on_commit_callbacks):
    assert settings.CELERY_TASK_ALWAYS_EAGER is True
    pm = PostMortemFactory()
    with django_capture_on_commit_callbacks(execute=True):
        postmortem_save(
            postmortem=pm,
            fields={},
            action_items=[
                {
                    "text": "Add a test",
                    "kind": "test",
                    "owner": UserFactory(),
                    "due_date": pm.started_at.date(),
                    "status": "open",
                }
            ],
        )
    assert len(mail.outbox) == 1


def test_broker_outage_does_not_break_the_save(db, django_capture_on_commit_callbacks, monkeypatch):
    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(notify_action_item_owner, "delay", refuse)
    pm = PostMortemFactory()
    with django_capture_on_commit_callbacks(execute=True):
        postmortem_save(
            postmortem=pm,
            fields={},
            action_items=[
                {
                    "text": "Add a test",
                    "kind": "test",
                    "owner": UserFactory(),
                    "due_date": pm.started_at.date(),
                    "status": "open",
                }
            ],
        )
    assert ActionItem.objects.filter(postmortem=pm).count() == 1


@pytest.mark.redis
@pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL (the PostgreSQL + Redis run sets it)")
def test_real_worker_delivers_through_redis(transactional_db):
    from celery.contrib.testing.worker import start_worker

    from kb.celery import app

    assert app.conf.task_always_eager is False
    pm = PostMortemFactory()
    owner = UserFactory(username="redis-owner")
    app.control.purge()
    with start_worker(app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
        postmortem_save(  # autocommit: on_commit fires at once, publishing to Redis
            postmortem=pm,
            fields={},
            action_items=[
                {
                    "text": "Add a test",
                    "kind": "test",
                    "owner": owner,
                    "due_date": pm.started_at.date(),
                    "status": "open",
                }
            ],
        )
        deadline = time.monotonic() + 20
        while not mail.outbox and time.monotonic() < deadline:
            time.sleep(0.1)
    assert [m.to for m in mail.outbox] == [["redis-owner@example.com"]]
    assert ActionItem.objects.get(postmortem=pm).notified_owner_id == owner.pk
