"""The sweep: follow-up work that a broker outage left in the database is done
later, and the beat schedule and ``make worker`` that run it."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core import mail

from followthrough import services
from followthrough.models import DigestRun
from followthrough.tasks import sweep
from kb.celery import app
from postmortems.models import ActionItem
from postmortems.services import postmortem_save
from postmortems.tasks import notify_action_item_owner
from tests.factories import ActionItemFactory, PostMortemFactory, UserFactory

NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def _save_with_broker_down(monkeypatch, django_capture_on_commit_callbacks, owner):
    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("Redis is down")

    monkeypatch.setattr(notify_action_item_owner, "delay", refuse)
    pm = PostMortemFactory()
    with django_capture_on_commit_callbacks(execute=True):
        postmortem_save(
            postmortem=pm,
            fields={},
            action_items=[
                {"text": "Add a test", "kind": "test", "owner": owner, "due_date": dt.date(2026, 4, 1)}
            ],
        )
    monkeypatch.undo()
    return ActionItem.objects.get(postmortem=pm)


def test_an_owner_notice_lost_to_a_broker_outage_is_sent_by_the_sweep(
    db, monkeypatch, django_capture_on_commit_callbacks, frozen, settings
):
    settings.FOLLOWTHROUGH_DIGEST_HOUR = 23
    item = _save_with_broker_down(
        monkeypatch, django_capture_on_commit_callbacks, UserFactory(username="olga")
    )
    assert item.notified_owner_id is None and mail.outbox == []  # the save succeeded, the notice did not

    assert services.pending_work_sweep() == {"owner_notices": 0, "digests_started": 0}  # within the grace

    frozen.move_to(NOW + dt.timedelta(seconds=django_settings.SWEEP_GRACE_SECONDS + 1))
    assert sweep.delay().get() == {"owner_notices": 1, "digests_started": 0}
    assert [m.to for m in mail.outbox] == [["olga@example.com"]]
    item.refresh_from_db()
    assert item.notified_owner_id == item.owner_id

    assert sweep.delay().get()["owner_notices"] == 0  # nothing left, nothing twice
    assert len(mail.outbox) == 1


def test_the_sweep_leaves_closed_items_and_owners_without_address_alone(db, frozen, settings):
    settings.FOLLOWTHROUGH_DIGEST_HOUR = 23
    ActionItemFactory(status=ActionItem.Status.DONE)
    ActionItemFactory(owner=UserFactory(email=""))
    frozen.move_to(NOW + dt.timedelta(hours=1))

    assert services.pending_work_sweep()["owner_notices"] == 0


def test_the_sweep_starts_a_days_digests_that_beat_could_not(db, frozen, settings):
    settings.FOLLOWTHROUGH_DIGEST_HOUR = 7
    owner = UserFactory(username="pia")
    ActionItemFactory(owner=owner, notified_owner=owner, due_date=dt.date(2026, 3, 1))

    frozen.move_to(dt.datetime(2026, 3, 2, 6, 59, tzinfo=dt.UTC))
    assert services.pending_work_sweep()["digests_started"] == 0  # before the digest hour

    frozen.move_to(NOW)
    assert services.pending_work_sweep()["digests_started"] == 1
    assert DigestRun.objects.filter(day=NOW.date()).exists()
    assert [m.to for m in mail.outbox] == [["pia@example.com"]]

    assert services.pending_work_sweep()["digests_started"] == 0  # the day's run is recorded
    assert len(mail.outbox) == 1


@pytest.fixture
def discovered():
    """Import every app's tasks module, as a worker does at start."""
    app.loader.import_default_modules()


def test_beat_runs_the_digest_daily_and_the_sweeps_often(discovered):
    schedule = django_settings.CELERY_BEAT_SCHEDULE
    tasks = {entry["task"] for entry in schedule.values()}

    assert {
        "followthrough.send_daily_digests",
        "followthrough.sweep",
        "integrations.github.sweep_deliveries",
    } <= tasks
    assert tasks <= set(app.tasks)  # every scheduled name is a registered task
    digest = schedule["followthrough-daily-digests"]["schedule"]
    assert digest.hour == {django_settings.FOLLOWTHROUGH_DIGEST_HOUR} and digest.minute == {0}
    assert schedule["followthrough-sweep"]["schedule"] == float(django_settings.SWEEP_INTERVAL_SECONDS)


def test_tasks_are_acknowledged_late_and_retry_with_backoff(discovered):
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.task_time_limit < app.conf.broker_transport_options["visibility_timeout"]
    for name in (
        "followthrough.send_owner_digest",
        "followthrough.send_escalation_digest",
        "followthrough.send_team_digest",
        "integrations.github.process_delivery",
    ):
        task = app.tasks[name]
        assert OSError in task.autoretry_for and task.retry_backoff and task.max_retries == 5
        assert task.retry_backoff_max <= app.conf.broker_transport_options["visibility_timeout"]


def test_make_worker_starts_a_worker_and_one_beat_against_redis_url():
    makefile = (Path(django_settings.BASE_DIR) / "Makefile").read_text()
    target = re.search(r"^worker:.*?(?=^\S|\Z)", makefile, re.MULTILINE | re.DOTALL).group(0)

    assert "REDIS_URL" in target
    assert target.count("celery -A kb beat") == 1 and "celery -A kb worker" in target
