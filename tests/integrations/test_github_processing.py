"""Reading payloads and keys, processing once, and catching up after a broker outage."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from integrations.github import services
from integrations.github.models import WebhookDelivery
from integrations.github.payloads import MAX_KEYS, PayloadError, find_keys, pull_request_event
from integrations.github.tasks import process_delivery, sweep_deliveries
from postmortems.models import ActionItem, FixPullRequest
from tests.factories import ActionItemFactory, PostMortemFactory
from tests.integrations.conftest import deliver, pr_payload

# --- keys ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "body", "branch", "pms", "ais", "closing"),
    [
        ("PM-12: fix", "", "", (12,), (), ()),
        ("", "Fixes AI-34", "", (), (34,), (34,)),
        ("", "fixes ai-34, closes AI-35 and resolves: AI-36", "", (), (34, 35, 36), (34, 35, 36)),
        ("", "", "fix/ai-34_timeout", (), (34,), ()),  # branches never close
        ("", "prefixes AI-3; suffixAI-4; AI-05", "", (), (3,), ()),  # glued or zero-padded: no
        ("", "See PM-7 and PM-7 again, AI-1", "", (7,), (1,), ()),
        ("", "Fixes #12 and fixes PM-3", "", (3,), (), ()),  # only action items close
        ("", "AI-123456789012345678901", "", (), (), ()),  # longer than any id
    ],
)
def test_find_keys(title, body, branch, pms, ais, closing):
    keys = find_keys(title=title, body=body, branch=branch)
    assert (keys.postmortem_ids, keys.action_item_ids, keys.closing_action_item_ids) == (pms, ais, closing)


def test_at_most_max_keys_of_each_kind_are_used():
    body = " ".join(f"fixes AI-{n}" for n in range(1, 100))
    keys = find_keys(title="", body=body, branch="")
    assert len(keys.action_item_ids) == len(keys.closing_action_item_ids) == MAX_KEYS


# --- payloads --------------------------------------------------------------------------------


def test_pull_request_event_reads_githubs_shape(settings):
    payload = pr_payload("closed", merged=True, branch="fix/x")
    payload["pull_request"]["body"] = None  # GitHub sends null for an empty description

    event = pull_request_event(payload)

    assert (event.repository, event.number, event.state, event.merged) == ("acme/shop", 42, "merged", True)
    assert (event.branch, event.body, event.host) == ("fix/x", "", "github.com")
    assert event.updated_at == dt.datetime(2026, 3, 3, 10, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.pop("pull_request"),
        lambda p: p.pop("action"),
        lambda p: p["pull_request"].update(title=["not", "text"]),
        lambda p: p["pull_request"].update(html_url=None),
        lambda p: p["pull_request"].update(number=43),
        lambda p: p.update(pull_request="a string"),
    ],
)
def test_damaged_payloads_are_refused(damage):
    payload = pr_payload()
    damage(payload)
    with pytest.raises(PayloadError):
        pull_request_event(payload)


def test_an_enterprise_host_can_be_allowed(settings):
    settings.GITHUB_HOSTS = ["github.com", "git.acme.example"]
    payload = pr_payload()
    payload["pull_request"]["html_url"] = "https://git.acme.example/acme/shop/pull/42"

    assert pull_request_event(payload).host == "git.acme.example"


# --- processing once -----------------------------------------------------------------------------


def _pending(payload, **kwargs) -> WebhookDelivery:
    """Store a delivery as the view would, without running its task."""
    return WebhookDelivery.objects.create(
        guid=kwargs.pop("guid", "g-1"),
        event="pull_request",
        action=payload["action"],
        payload=payload,
        repository="acme/shop",
        pr_number=payload["pull_request"]["number"],
        **kwargs,
    )


def test_a_delivery_is_processed_once_however_often_its_task_runs(db):
    pm = PostMortemFactory()
    delivery = _pending(pr_payload(title=pm.key))

    assert process_delivery.run(delivery.pk) == "processed"
    assert process_delivery.run(delivery.pk) == "skipped"
    assert process_delivery.run(987654) == "skipped"

    delivery.refresh_from_db()
    assert delivery.attempts == 1 and delivery.status == "processed"
    assert FixPullRequest.objects.filter(postmortem=pm).count() == 1


def test_a_failing_attempt_keeps_the_delivery_pending_for_a_retry(db, monkeypatch):
    pm = PostMortemFactory()
    delivery = _pending(pr_payload(title=pm.key))

    def broken(**kwargs):
        raise OSError("database hiccup")

    monkeypatch.setattr(services, "pull_request_apply", broken)
    with pytest.raises(OSError):
        services.delivery_process(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert "database hiccup" in delivery.note
    assert FixPullRequest.objects.count() == 0

    monkeypatch.undo()
    assert services.delivery_process(delivery_id=delivery.pk) == "processed"
    assert FixPullRequest.objects.filter(postmortem=pm).count() == 1


def test_broker_down_at_receive_time_the_sweep_catches_up(
    client, db, settings, monkeypatch, django_capture_on_commit_callbacks
):
    """The delivery row is the durable record: a failed enqueue loses nothing."""
    item = ActionItemFactory()

    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("Redis is down")

    monkeypatch.setattr(process_delivery, "delay", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(client, pr_payload("closed", merged=True, body=f"Fixes {item.key}"))
    assert response.status_code == 202  # robust on_commit: the outage is logged, not raised
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and delivery.attempts == 0

    monkeypatch.undo()
    settings.SWEEP_GRACE_SECONDS = 0
    assert sweep_deliveries.run() == {"enqueued": 1, "failed": 0, "deleted": 0}

    delivery.refresh_from_db()
    item.refresh_from_db()
    assert delivery.status == "processed" and item.status == ActionItem.Status.DONE


def test_the_sweep_waits_for_the_grace_period_and_gives_up_after_max_attempts(db, settings):
    settings.SWEEP_GRACE_SECONDS = 60
    settings.GITHUB_DELIVERY_MAX_ATTEMPTS = 3
    fresh = _pending(pr_payload(title="nothing"), guid="fresh")
    tired = _pending(pr_payload(title="nothing"), guid="tired", attempts=3)

    assert services.deliveries_sweep() == {"enqueued": 0, "failed": 1, "deleted": 0}
    fresh.refresh_from_db()
    tired.refresh_from_db()
    assert fresh.status == "pending"
    assert (tired.status, tired.note) == ("failed", "gave up after 3 attempts")

    later = timezone.now() + dt.timedelta(seconds=61)
    assert services.deliveries_sweep(now=later)["enqueued"] == 1
    fresh.refresh_from_db()
    assert fresh.status == "processed"


def test_finished_deliveries_are_kept_past_githubs_redelivery_window(db, settings):
    settings.GITHUB_DELIVERY_RETENTION_DAYS = 30
    now = timezone.now()
    for days, guid in ((3, "three-days"), (29, "a-month-nearly"), (31, "old")):
        WebhookDelivery.objects.create(
            guid=guid, event="ping", status="ignored", received_at=now - dt.timedelta(days=days)
        )

    assert services.deliveries_sweep(now=now)["deleted"] == 1
    assert set(WebhookDelivery.objects.values_list("guid", flat=True)) == {"three-days", "a-month-nearly"}


def test_the_admin_can_process_a_failed_delivery_again(db, django_capture_on_commit_callbacks):
    pm = PostMortemFactory()
    delivery = _pending(pr_payload(title=pm.key), status="failed", attempts=5)

    with django_capture_on_commit_callbacks(execute=True):
        services.delivery_retry(delivery=delivery)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("processed", 1)
    assert FixPullRequest.objects.filter(postmortem=pm).count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL")
def test_concurrent_copies_of_one_delivery_are_stored_once(transactional_db):
    pm = PostMortemFactory()
    payload = pr_payload(title=pm.key)
    barrier = threading.Barrier(10)
    codes: list[int] = []

    def send():
        barrier.wait()
        codes.append(deliver(Client(), payload, guid="concurrent-guid").status_code)
        connection.close()

    threads = [threading.Thread(target=send) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(codes) == [200] * 9 + [202]
    assert WebhookDelivery.objects.count() == 1
    assert FixPullRequest.objects.filter(postmortem=pm).count() == 1
