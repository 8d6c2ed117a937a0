"""Two screens acting at the same moment (PostgreSQL row locks): a section is
never overwritten silently, no quick-added item is lost, and two "next" clicks
move the agenda once."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from postmortems.models import ActionItem, PostMortem
from reviews import services
from reviews.models import Review

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="row-lock races need PostgreSQL (the SQLite test database is one shared in-memory file)",
    ),
    # "taxonomy" puts back the contributing factors that a flush removed.
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("taxonomy"),
]


def _race(*calls):
    """Run the calls in threads released together; return what each returned or raised."""
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            outcomes[index] = call()
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test inspects
            outcomes[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_two_editors_of_one_section_never_both_win(running_review, facilitator, note_taker, ready_pm):
    rounds = 10
    for round_no in range(rounds):
        read = PostMortem.objects.get(pk=ready_pm.pk)

        def edit(user, label, read=read, round_no=round_no):
            return services.review_section_save(
                review=Review.objects.get(pk=running_review.pk),
                user=user,
                section="why_it_happened",
                text=f"{label} {round_no}",
                version=read.version,
                base_text=read.why_it_happened,
            )

        outcomes = _race(lambda: edit(facilitator, "mine"), lambda: edit(note_taker, "theirs"))
        saved = [o for o in outcomes if isinstance(o, PostMortem)]
        conflicts = [o for o in outcomes if isinstance(o, services.SectionConflict)]
        assert (len(saved), len(conflicts)) == (1, 1), outcomes
        stored = PostMortem.objects.get(pk=ready_pm.pk)
        assert stored.why_it_happened == saved[0].why_it_happened
        assert conflicts[0].theirs == stored.why_it_happened and conflicts[0].yours != stored.why_it_happened
        assert stored.version == read.version + 1


def test_two_screens_adding_items_at_once_keep_both(
    running_review, facilitator, note_taker, teammate, ready_pm
):
    due = timezone.localdate() + dt.timedelta(days=5)

    def add(user, text):
        return services.review_action_item_add(
            review=Review.objects.get(pk=running_review.pk),
            user=user,
            text=text,
            owner=teammate,
            due_date=due,
        )

    outcomes = _race(lambda: add(facilitator, "From screen A"), lambda: add(note_taker, "From screen B"))
    assert all(isinstance(o, ActionItem) for o in outcomes), outcomes
    texts = set(ActionItem.objects.filter(postmortem=ready_pm).values_list("text", flat=True))
    assert {"From screen A", "From screen B"} <= texts and len(texts) == 5


def test_two_next_clicks_move_the_agenda_once(running_review, facilitator):
    def click():
        return services.review_next_step(
            review=Review.objects.get(pk=running_review.pk), user=facilitator, from_step=0
        )

    outcomes = _race(click, click)
    assert all(isinstance(o, Review) for o in outcomes), outcomes
    assert Review.objects.get(pk=running_review.pk).current_step == 1
    assert running_review.step_times.count() == 2
