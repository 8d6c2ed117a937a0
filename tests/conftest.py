"""Shared fixtures. Permission tests read like sentences with three people:
an author, a teammate and an outsider (Healthchecks' ``hc/test.py`` habit)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories import TeamFactory, TeamMembershipFactory, UserFactory


@pytest.fixture
def team(db):
    return TeamFactory(slug="payments", name="Payments")


@pytest.fixture
def author(team):
    user = UserFactory(username="alice")
    TeamMembershipFactory(team=team, user=user)
    return user


@pytest.fixture
def teammate(team):
    user = UserFactory(username="bob")
    TeamMembershipFactory(team=team, user=user)
    return user


@pytest.fixture
def outsider(db):
    return UserFactory(username="mallory")


@pytest.fixture
def api(author):
    """An API client signed in as the author."""
    client = APIClient()
    client.force_authenticate(author)
    return client


@pytest.fixture
def anon_api():
    return APIClient()


@pytest.fixture
def web(client, author):
    """A Django test client logged in as the author."""
    client.force_login(author)
    return client


@pytest.fixture(autouse=True)
def _seeded_taxonomy(request):
    """Put the contributing-factor taxonomy back when a flush emptied it.

    The data migration seeds the factors once; every transactional test (live
    server, worker processes, races) ends with a flush that empties all tables,
    so the tests after it would find no factors. Re-running the migration's own
    functions keeps one source for the rows. (``serialized_rollback`` is not
    used: after another transactional test has flushed it fails on duplicate
    content types.)
    """
    marker = request.node.get_closest_marker("django_db")
    names = set(request.fixturenames)
    if marker is None and not names & {"db", "transactional_db", "live_server"}:
        return
    transactional = bool(marker and marker.kwargs.get("transaction")) or bool(
        names & {"transactional_db", "live_server"}
    )
    request.getfixturevalue("transactional_db" if transactional else "db")

    from importlib import import_module

    from django.apps import apps

    from postmortems.models import ContributingFactor

    if not ContributingFactor.objects.exists():
        import_module("postmortems.migrations.0002_seed_contributing_factors").seed(apps, None)
        import_module("postmortems.migrations.0004_blameless_review").mark_broad_factors(apps, None)
