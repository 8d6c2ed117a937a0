"""A small organisation whose every insights figure is computed by hand below.

"Now" is Monday 2026-06-15 12:00 UTC; the range is 2026-01-01 … 2026-06-15
(so May and June have no post-mortem, and due dates count up to 2026-06-14).

Post-mortems (TTD/TTM/TTR in minutes after the start; "–" = unknown):

===  ========  ====  ========================  ============  =====================  =============  =========
pm   team      sev   started (UTC)             TTD/TTM/TTR   services               factors        status
===  ========  ====  ========================  ============  =====================  =============  =========
A    payments  SEV1  Sat 2026-01-10 10:00      10/60/240     checkout               config,        published
                                                                                    missing-test
B    payments  SEV2  Tue 2026-01-20 10:00      20/30/120     checkout               config         reviewed
C    payments  SEV3  Thu 2026-03-05 10:00      5/–/–         checkout, payments-api retry-storm    draft
D    payments  –     Thu 2026-04-02 10:00      40/50/60      –                      –              in_review
E    payments  SEV2  no start time (undated)   –             –                      –              draft
F    payments  SEV2  2025-12-20 (before)       10/20/30      checkout               config         published
G    platform  SEV2  Sat 2026-02-14 10:00      30/90/300     gateway                config         published
H    platform  SEV4  Fri 2026-06-12 12:00      15/–/60       –                      –              draft
===  ========  ====  ========================  ============  =====================  =============  =========

Team "search" has no post-mortem at all.

Review proxy (updated_at) for the reviewed/published ones: A 2026-01-15 10:00 (resolved
Sat 01-10 14:00: 5 calendar days, target ends Fri 01-16 → within; 4.8333 days),
B 2026-02-03 12:00 (resolved Tue 01-20 12:00: 14 days, target ends Tue 01-27 → late),
G 2026-02-20 15:00 (resolved Sat 02-14 15:00: 6 days, target ends Fri 02-20 → within,
on the last day). D (in review, resolved Thu 04-02, target ended 04-09) → late;
H (draft, resolved Fri 06-12, target ends 06-19) → pending; C has no resolution → unresolved.

Action items (created at 12:00 UTC on the given day):

====  ==  =====  ==========  ==========  ========================  =====================================
item  pm  owner  created     due         status (completed)        notes
====  ==  =====  ==========  ==========  ========================  =====================================
i1    A   alice  2026-01-11  2026-02-01  done (01-30 12:00)        on time; 19 days to close
i2    A   bob    2026-01-11  2026-02-01  done (02-05 12:00)        late; 25 days to close
i3    B   alice  2026-01-21  2026-03-01  open                      overdue 106 d (SEV2: severe); age 145
i4    B   bob    2026-01-21  2026-06-01  not doing                 left out of the rate
i5    C   alice  2026-03-06  2026-07-01  in progress               not yet due; age 101
i6    C   bob    2026-03-06  2026-06-15  open                      due today: not overdue; age 101
i7    A   alice  2026-01-11  2026-06-01  open                      overdue 14 d (SEV1: severe); age 155
i8    D   bob    2026-04-03  2026-05-01  done (no completion)      due, not on time
j1    G   carol  2026-02-15  2026-06-10  open                      overdue 5 d (SEV2, in grace); age 120
j2    G   carol  2026-02-15  2026-03-01  done (03-01 23:30)        on time (same day); 14.479 d to close
====  ==  =====  ==========  ==========  ========================  =====================================
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from insights.selectors import InsightsScope
from postmortems.models import ActionItem, PostMortem
from tests.factories import (
    ActionItemFactory,
    PostMortemFactory,
    ServiceFactory,
    TeamFactory,
    TeamMembershipFactory,
    UserFactory,
    factor,
)

UTC = dt.UTC
NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
START, END = dt.date(2026, 1, 1), dt.date(2026, 6, 15)


def at(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def _pm(team, started, minutes, **fields) -> PostMortem:
    detect, mitigate, resolve = minutes
    times = {"started_at": started}
    for name, value in (("detected_at", detect), ("mitigated_at", mitigate), ("resolved_at", resolve)):
        times[name] = started + dt.timedelta(minutes=value) if started and value is not None else None
    pm = PostMortemFactory(team=team, **times, **fields)
    created = (started or at(2026, 5, 1)) + dt.timedelta(days=1)
    PostMortem.objects.filter(pk=pm.pk).update(created_at=created, updated_at=created)
    return pm


def _item(pm, owner, created, due, status=ActionItem.Status.OPEN, completed=None, **fields) -> ActionItem:
    item = ActionItemFactory(
        postmortem=pm, owner=owner, due_date=due, status=status, completed_at=completed, **fields
    )
    ActionItem.objects.filter(pk=item.pk).update(created_at=created)
    return item


@pytest.fixture(autouse=True)
def no_kept_figures(settings):
    """Figures computed fresh in every test (test_caching.py turns keeping on)."""
    settings.INSIGHTS_CACHE_SECONDS = 0


@pytest.fixture
def now():
    return NOW


@pytest.fixture
def org(team, author, teammate):
    """The organisation of the module docstring (``team`` is Payments, ``author`` alice)."""
    platform = TeamFactory(slug="platform", name="Platform")
    search = TeamFactory(slug="search", name="Search")
    carol = UserFactory(username="carol")
    TeamMembershipFactory(team=platform, user=carol)
    checkout = ServiceFactory(slug="checkout", name="Checkout", team=team)
    payments_api = ServiceFactory(slug="payments-api", name="Payments API", team=team)
    gateway = ServiceFactory(slug="gateway", name="Gateway", team=platform)
    config, missing_test, retry = factor("config-change"), factor("missing-test"), factor("retry-storm")
    S = PostMortem.Severity
    St = PostMortem.Status

    pms = SimpleNamespace()
    pms.A = _pm(
        team,
        at(2026, 1, 10, 10),
        (10, 60, 240),
        severity=S.SEV1,
        status=St.PUBLISHED,
        services=[checkout],
        factors=[config, missing_test],
        authors=[author],
        facilitator=author,
    )
    pms.B = _pm(
        team,
        at(2026, 1, 20, 10),
        (20, 30, 120),
        severity=S.SEV2,
        status=St.REVIEWED,
        services=[checkout],
        factors=[config],
        authors=[teammate],
    )
    pms.C = _pm(
        team,
        at(2026, 3, 5, 10),
        (5, None, None),
        severity=S.SEV3,
        status=St.DRAFT,
        services=[checkout, payments_api],
        factors=[retry],
        authors=[author],
        facilitator=author,
    )
    pms.D = _pm(team, at(2026, 4, 2, 10), (40, 50, 60), severity="", status=St.IN_REVIEW, facilitator=author)
    pms.E = _pm(team, None, (None, None, None), severity=S.SEV2, status=St.DRAFT, authors=[author])
    pms.F = _pm(
        team,
        at(2025, 12, 20, 10),
        (10, 20, 30),
        severity=S.SEV2,
        status=St.PUBLISHED,
        services=[checkout],
        factors=[config],
        authors=[author],
    )
    pms.G = _pm(
        platform,
        at(2026, 2, 14, 10),
        (30, 90, 300),
        severity=S.SEV2,
        status=St.PUBLISHED,
        services=[gateway],
        factors=[config],
        authors=[carol],
        facilitator=author,
    )
    pms.H = _pm(platform, at(2026, 6, 12, 12), (15, None, 60), severity=S.SEV4, status=St.DRAFT)
    reviews = ((pms.A, at(2026, 1, 15, 10)), (pms.B, at(2026, 2, 3, 12)), (pms.G, at(2026, 2, 20, 15)))
    for pm, reviewed in reviews:
        PostMortem.objects.filter(pk=pm.pk).update(updated_at=reviewed)

    A = ActionItem.Status
    items = SimpleNamespace()
    items.i1 = _item(pms.A, author, at(2026, 1, 11), dt.date(2026, 2, 1), A.DONE, at(2026, 1, 30))
    items.i2 = _item(pms.A, teammate, at(2026, 1, 11), dt.date(2026, 2, 1), A.DONE, at(2026, 2, 5))
    items.i3 = _item(pms.B, author, at(2026, 1, 21), dt.date(2026, 3, 1))
    items.i4 = _item(
        pms.B,
        teammate,
        at(2026, 1, 21),
        dt.date(2026, 6, 1),
        A.NOT_DOING,
        not_doing_reason="The vendor retired the API.",
    )
    items.i5 = _item(pms.C, author, at(2026, 3, 6), dt.date(2026, 7, 1), A.IN_PROGRESS)
    items.i6 = _item(pms.C, teammate, at(2026, 3, 6), dt.date(2026, 6, 15))
    items.i7 = _item(pms.A, author, at(2026, 1, 11), dt.date(2026, 6, 1))
    items.i8 = _item(pms.D, teammate, at(2026, 4, 3), dt.date(2026, 5, 1), A.DONE, None)
    items.j1 = _item(pms.G, carol, at(2026, 2, 15), dt.date(2026, 6, 10))
    items.j2 = _item(pms.G, carol, at(2026, 2, 15), dt.date(2026, 3, 1), A.DONE, at(2026, 3, 1, 23, 30))
    return SimpleNamespace(
        payments=team,
        platform=platform,
        search=search,
        alice=author,
        bob=teammate,
        carol=carol,
        pms=pms,
        items=items,
        checkout=checkout,
        payments_api=payments_api,
        gateway=gateway,
    )


@pytest.fixture
def scope(org):
    """The organisation-wide scope of the fixture: 2026-01-01 … 2026-06-15, now 06-15 12:00,
    seen by alice (every fixture document is an organisation one) unless ``viewer`` says."""

    def make(team=None, start=START, end=END, viewer=None):
        return InsightsScope(start=start, end=end, team=team, now=NOW, viewer=viewer or org.alice)

    return make
