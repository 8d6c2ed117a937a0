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
