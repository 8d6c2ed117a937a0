"""Post-mortems in known readiness states, for the writing-aids API and page tests."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from postmortems.models import PostMortem
from tests.factories import (
    ActionItemFactory,
    DeclinedChangeFactory,
    PostMortemFactory,
    TimelineEntryFactory,
    factor,
)

CONCRETE_ACTIONS = (
    "Add a schema check that rejects a missing payment timeout",
    "Add a contract test for the gateway client timeouts",
    "Alert when checkout 5xx exceeds 2% for 5 minutes",
)


def ready_draft(**overrides) -> PostMortem:
    """A draft that passes every readiness check (sections, timeline, two specific
    factors, three action items due in 20 days, a declined change with a rationale,
    neutral wording)."""
    pm = PostMortemFactory(
        status=PostMortem.Status.DRAFT,
        factors=[factor("config-change"), factor("missing-test")],
        **overrides,
    )
    TimelineEntryFactory(postmortem=pm)
    future = timezone.localdate() + dt.timedelta(days=20)
    for text in CONCRETE_ACTIONS:
        ActionItemFactory(postmortem=pm, text=text, due_date=future)
    DeclinedChangeFactory(postmortem=pm)
    return pm


def blaming_draft(**overrides) -> PostMortem:
    """A draft that fails the readiness check: it blames a person in "why it
    happened", has one action item only, and that item is vague."""
    pm = PostMortemFactory(
        status=PostMortem.Status.DRAFT,
        why_it_happened="The on-call forgot to renew the certificate.",
        **overrides,
    )
    ActionItemFactory(postmortem=pm, text="Be more careful with certificates")
    return pm
