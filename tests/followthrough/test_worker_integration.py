"""End to end with real processes: Redis, a ``celery -A kb worker`` process, a
beat, and a local SMTP server (aiosmtpd) that receives the e-mail.

1. The daily digests reach the owner, the facilitator and the team lead, once,
   even when the fan-out runs twice.
2. A post-mortem saved while Redis is stopped is saved; the owner's notice goes
   out after Redis is back (the sweep finds it in the database). This test
   starts its own redis-server on another port and stops that one, never the
   shared Redis.
3. A worker child killed in the middle of sending a digest (the SMTP server has
   the message but has not answered) does not lead to a second e-mail when the
   task is delivered again (late acknowledgement + the digest row's claim).

They run in the PostgreSQL + Redis run only: the worker must share the test
database, and an in-memory SQLite test database cannot be shared.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import time

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from followthrough.models import Digest
from followthrough.tasks import send_daily_digests, send_owner_digest
from kb.celery import app
from postmortems.models import ActionItem, TeamMembership
from tests.factories import (
    ActionItemFactory,
    PostMortemFactory,
    TeamFactory,
    TeamMembershipFactory,
    UserFactory,
)
from tests.followthrough import processes
from tests.followthrough.conftest import free_port

pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL (the PostgreSQL + Redis run sets it)"),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the worker process must share the test database (PostgreSQL)",
    ),
]


def wait_until(condition, timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def people(transactional_db):
    team = TeamFactory(slug="checkout", name="Checkout")
    owner = UserFactory(username="owen")
    facilitator = UserFactory(username="fay")
    lead = UserFactory(username="leo")
    TeamMembershipFactory(team=team, user=owner)
    TeamMembershipFactory(team=team, user=lead, role=TeamMembership.Role.LEAD)
    return team, owner, facilitator, lead


@pytest.fixture
def processes_to_stop():
    started: list[processes.Process] = []
    yield started
    for process in reversed(started):
        process.stop()


def test_a_real_worker_delivers_the_daily_nudges(people, smtp_server, tmp_path, processes_to_stop):
    team, owner, facilitator, lead = people
    inbox, port = smtp_server
    today = timezone.localdate()
    pm = PostMortemFactory(team=team, facilitator=facilitator)
    late = ActionItemFactory(
        postmortem=pm, owner=owner, notified_owner=owner, due_date=today - dt.timedelta(days=10)
    )
    soon = ActionItemFactory(
        postmortem=pm, owner=owner, notified_owner=owner, due_date=today + dt.timedelta(days=1)
    )
    app.control.purge()  # nothing left over from other tests on this Redis database
    env = processes.environment(redis_url=settings.REDIS_URL, smtp_port=port)
    worker = processes.start_worker(env=env, log=tmp_path / "worker.log")
    processes_to_stop.append(worker)

    send_daily_digests.delay(today.isoformat())
    wait_until(lambda: len(inbox.messages) == 3, what="three e-mails")
    wait_until(lambda: Digest.objects.filter(status="sent").count() == 3, what="three digests marked sent")

    assert inbox.recipients() == ["fay@example.com", "leo@example.com", "owen@example.com"]
    digest = next(m for m in inbox.messages if m["To"] == "owen@example.com")
    assert digest["Subject"].startswith("Your action items: 1 overdue, 1 due soon")
    body = digest.get_content()
    assert (
        late.key in body and soon.key in body and f"http://kb.test/postmortems/{pm.key}/#{late.key}" in body
    )
    escalation = next(m for m in inbox.messages if m["To"] == "leo@example.com")
    assert late.key in escalation.get_content() and soon.key not in escalation.get_content()

    # A second beat, and a re-delivered task: nothing is sent twice.
    send_daily_digests.delay(today.isoformat())
    send_owner_digest.delay(owner.pk, today.isoformat())
    wait_until(
        lambda: Digest.objects.get(user=owner).attempts == 2
        and worker.output().count("followthrough.send_daily_digests[") >= 4,  # received + succeeded, twice
        what="the second run to finish",
    )
    assert len(inbox.messages) == 3


@pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="needs redis-server (Debian package redis-server)"
)
def test_a_save_while_redis_is_down_succeeds_and_the_work_is_done_after_it_returns(
    people, smtp_server, tmp_path, processes_to_stop
):
    team, owner, _, _ = people
    inbox, smtp_port = smtp_server
    redis_port = free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    env = processes.environment(
        redis_url=redis_url, smtp_port=smtp_port, SWEEP_INTERVAL_SECONDS="1", SWEEP_GRACE_SECONDS="0"
    )
    redis = processes.start_redis(port=redis_port, log=tmp_path / "redis-1.log")
    processes_to_stop.append(redis)
    worker = processes.start_worker(env=env, log=tmp_path / "worker.log")
    processes_to_stop.append(worker)
    beat = processes.start_beat(env=env, log=tmp_path / "beat.log", schedule=tmp_path / "beat-schedule")
    processes_to_stop.append(beat)

    redis.stop()  # Redis goes away
    saved = processes.save_postmortem(env=env, team_id=team.pk, owner_id=owner.pk)

    item = ActionItem.objects.get(pk=saved["item"])
    assert item.postmortem_id == saved["pm"]  # the save succeeded and is committed
    assert saved["seconds"] < 3  # a refused broker costs well under a second or two, not a hang
    assert item.notified_owner_id is None and inbox.messages == []

    redis = processes.start_redis(port=redis_port, log=tmp_path / "redis-2.log")  # Redis is back (empty)
    processes_to_stop.append(redis)
    wait_until(lambda: len(inbox.messages) >= 1, timeout=45, what="the owner's notice after Redis returned")

    time.sleep(2)  # a few more sweeps: still one notice
    assert [m["To"] for m in inbox.messages] == ["owen@example.com"]
    assert item.key in inbox.messages[0]["Subject"]
    item.refresh_from_db()
    assert item.notified_owner_id == owner.pk


def test_killing_the_worker_mid_send_does_not_duplicate_the_email(
    people, smtp_server, tmp_path, processes_to_stop
):
    team, owner, _, _ = people
    inbox, port = smtp_server
    today = timezone.localdate()
    pm = PostMortemFactory(team=team)
    ActionItemFactory(postmortem=pm, owner=owner, notified_owner=owner, due_date=today - dt.timedelta(days=1))
    app.control.purge()
    worker = processes.start_worker(
        env=processes.environment(redis_url=settings.REDIS_URL, smtp_port=port), log=tmp_path / "worker.log"
    )
    processes_to_stop.append(worker)
    [child] = worker.children()
    inbox.hold = __import__("threading").Event()  # the server takes the message but does not answer yet

    send_owner_digest.delay(owner.pk, today.isoformat())
    assert inbox.received.wait(30), worker.output()[-3000:]
    os.kill(child, signal.SIGKILL)  # the child dies between "sent" and "marked sent"
    inbox.hold.set()

    # Late ack + reject_on_worker_lost: the message goes back to the queue and a
    # new child runs the task again; the claimed digest row stops a second send.
    wait_until(lambda: Digest.objects.get(user=owner).attempts == 2, what="the task to run again")
    time.sleep(0.5)
    assert len(inbox.messages) == 1
    record = Digest.objects.get(user=owner)
    assert record.status == "sending"  # at most once: the send was not confirmed, and is not repeated
    assert "WorkerLostError" in worker.output() or "SIGKILL" in worker.output()
    assert worker.children() and worker.children() != [child]
