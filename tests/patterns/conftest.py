"""Helpers for the patterns tests: post-mortems at given times with given factors."""

from __future__ import annotations

import datetime as dt

import pytest

from postmortems.models import TeamMembership
from tests.factories import PostMortemFactory, TeamFactory, TeamMembershipFactory, UserFactory, factor

T0 = dt.datetime(2024, 1, 1, 9, 0, tzinfo=dt.UTC)


def day(n: float) -> dt.datetime:
    """``T0`` plus ``n`` days."""
    return T0 + dt.timedelta(days=n)


def pm_at(team, when, *slugs, **fields):
    """A post-mortem of ``team`` started at ``when`` (None: unknown) with factor slugs."""
    if when is None:
        fields.update(started_at=None, detected_at=None, mitigated_at=None, resolved_at=None)
    else:
        fields["started_at"] = when
    return PostMortemFactory(team=team, factors=[factor(s) for s in slugs], **fields)


@pytest.fixture
def lead(team):
    """The Payments team lead (may curate the team's DoD)."""
    user = UserFactory(username="lena")
    TeamMembershipFactory(team=team, user=user, role=TeamMembership.Role.LEAD)
    return user


@pytest.fixture
def search_team(db):
    return TeamFactory(slug="search", name="Search")
