"""Fixtures for reviews: a post-mortem that passes the readiness check, the
people of a review (author, facilitator, note-taker, an outsider) and reviews
in each state, made through the services. Tasks run in-process here."""

from __future__ import annotations

import datetime as dt
from importlib import import_module

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from postmortems.models import ActionItem
from reviews import scheduling, services
from tests.factories import (
    ActionItemFactory,
    DeclinedChangeFactory,
    PostMortemFactory,
    TimelineEntryFactory,
    UserFactory,
    factor,
)


@pytest.fixture(autouse=True)
def tasks_in_process():
    """Run ``.delay()`` in-process, also in the Redis run of the suite."""
    from kb.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture
def taxonomy():
    """Put the contributing-factor taxonomy back for transactional tests.

    The data migration seeds it once; the flush that ends every transactional
    test (this app's or another's) empties the table. Re-running the
    migration's own functions keeps one source for the rows. (Not
    ``serialized_rollback``: after another app's transactional test has
    flushed, it fails on duplicate content types.)
    """
    from django.apps import apps

    import_module("postmortems.migrations.0002_seed_contributing_factors").seed(apps, None)
    import_module("postmortems.migrations.0004_blameless_review").mark_broad_factors(apps, None)


def make_ready_postmortem(*, team, authors, owners, status="draft"):
    """A post-mortem that passes ``readiness_check``: four sections, a timeline,
    two specific factors, three action items due in the future, a declined change."""
    pm = PostMortemFactory(
        team=team,
        status=status,
        authors=authors,
        factors=[factor("config-change"), factor("missing-test")],
    )
    TimelineEntryFactory(postmortem=pm, text="Error-rate alert fired for checkout.")
    TimelineEntryFactory(postmortem=pm, text="Config change reverted; errors stop.")
    due = timezone.localdate() + dt.timedelta(days=14)
    for owner, text, kind in zip(
        owners,
        (
            "Add a contract test for the payment timeout setting",
            "Alert when the checkout error rate exceeds 2% for 5 minutes",
            "Add a schema check for payment configuration values",
        ),
        (ActionItem.Kind.TEST, ActionItem.Kind.CHECK, ActionItem.Kind.CHECK),
        strict=False,
    ):
        ActionItemFactory(postmortem=pm, owner=owner, text=text, kind=kind, due_date=due)
    DeclinedChangeFactory(postmortem=pm)
    return pm


@pytest.fixture
def facilitator(db):
    return UserFactory(username="fran", first_name="Fran", last_name="Ojo")


@pytest.fixture
def note_taker(db):
    return UserFactory(username="nina", first_name="Nina", last_name="Berg")


@pytest.fixture
def ready_pm(team, author, teammate):
    return make_ready_postmortem(team=team, authors=[author], owners=[teammate, teammate, author])


def soon() -> dt.datetime:
    return timezone.now() + dt.timedelta(hours=2)


@pytest.fixture
def scheduled_review(ready_pm, author, facilitator, note_taker, teammate):
    return scheduling.review_schedule(
        user=author,
        postmortem=ready_pm,
        scheduled_at=soon(),
        facilitator=facilitator,
        note_taker=note_taker,
        invitees=[author, teammate],
        location="Room 4, https://meet.example/abc",
    )


@pytest.fixture
def running_review(scheduled_review, facilitator):
    return services.review_start(review=scheduled_review, user=facilitator)


@pytest.fixture
def ended_review(running_review, facilitator, author, teammate):
    services.review_attendance_set(
        review=running_review, user=facilitator, attendees=[author, teammate, facilitator]
    )
    return services.review_end(review=running_review, user=facilitator, outcome="Three changes agreed.")


def api_client(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def facilitator_api(facilitator):
    return api_client(facilitator)


@pytest.fixture
def note_taker_api(note_taker):
    return api_client(note_taker)


@pytest.fixture
def outsider_api(outsider):
    return api_client(outsider)
