"""Two writers holding the same version: exactly one wins (PostgreSQL row locks)."""

import threading

import pytest
from django.db import connection, connections

from postmortems.models import PostMortem
from postmortems.services import StaleVersionError, postmortem_save
from tests.factories import PostMortemFactory

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row-lock race needs PostgreSQL (the SQLite test database is one shared in-memory file)",
)


@pytest.mark.django_db(transaction=True)
def test_concurrent_saves_with_the_same_version_never_lose_an_update():
    pm = PostMortemFactory(status="draft")
    rounds, lost, both_won = 20, 0, 0
    for round_no in range(rounds):
        version = PostMortem.objects.get(pk=pm.pk).version
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def write(label: str, round_no=round_no, version=version, barrier=barrier, outcomes=outcomes) -> None:
            try:
                barrier.wait()
                postmortem_save(
                    postmortem=PostMortem.objects.get(pk=pm.pk),
                    fields={"title": f"round {round_no} by {label}"},
                    expected_version=version,
                )
                outcomes.append("saved")
            except StaleVersionError:
                outcomes.append("stale")
            finally:
                connections.close_all()

        threads = [threading.Thread(target=write, args=(name,)) for name in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        both_won += outcomes.count("saved") == 2
        lost += sorted(outcomes) != ["saved", "stale"]
        assert PostMortem.objects.get(pk=pm.pk).version == version + 1
    assert (lost, both_won) == (0, 0)
    assert PostMortem.objects.get(pk=pm.pk).version == 1 + rounds
