"""Where detection runs: the ``detect_patterns`` command, the nightly Celery task
(and its beat entry), the after-save task and its on-commit enqueue helper."""

from __future__ import annotations

from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from patterns import tasks
from patterns.models import DoDProposal
from tests.factories import TeamFactory
from tests.patterns.conftest import day, pm_at

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command("detect_patterns", *args, stdout=out)
    return out.getvalue()


def test_command_prints_what_it_found_and_opens_proposals(team):
    for d in (0, 30, 60):
        pm_at(team, day(d), "config-change")
    output = run()
    assert "opened     team payments: config-change — 3 incident(s)" in output
    assert "1 recurring pattern(s): opened 1" in output
    assert DoDProposal.objects.count() == 1
    assert "unchanged 1" in run()


def test_command_dry_run_writes_nothing(team):
    for d in (0, 30, 60):
        pm_at(team, day(d), "config-change")
    output = run("--dry-run")
    assert output.startswith("Dry run: nothing was written.")
    assert "would open 1" in output
    assert not DoDProposal.objects.exists()


def test_command_for_one_team(team):
    other = TeamFactory(slug="search")
    for t in (team, other):
        for d in (0, 30, 60):
            pm_at(t, day(d), "config-change")
    assert "team search" in run("--team", "search")
    assert list(DoDProposal.objects.values_list("team__slug", flat=True)) == ["search"]
    with pytest.raises(CommandError, match="No team with slug 'nope'"):
        run("--team", "nope")


def test_nightly_task_is_named_scheduled_and_idempotent(team):
    for d in (0, 30, 60):
        pm_at(team, day(d), "config-change")
    assert tasks.detect_all.name == "patterns.detect_all"
    assert settings.CELERY_BEAT_SCHEDULE["patterns-detect-nightly"]["task"] == "patterns.detect_all"
    assert tasks.detect_all.apply().get() == {"findings": 1, "opened": 1, "extended": 0}
    assert tasks.detect_all.apply().get() == {"findings": 1, "opened": 0, "extended": 0}
    assert DoDProposal.objects.count() == 1


def test_after_save_task_runs_for_the_postmortems_team_and_factors(team):
    other = TeamFactory(slug="search")
    for d in (0, 30):
        pm_at(team, day(d), "config-change", "capacity")
    for d in (0, 30, 60):
        pm_at(other, day(d), "capacity")
    saved = pm_at(team, day(60), "config-change")

    assert tasks.detect_for_postmortem.name == "patterns.detect_for_postmortem"
    result = tasks.detect_for_postmortem.apply(args=[saved.pk]).get()

    # Its team and factor (config-change), not the other team's capacity pattern.
    assert result == {"findings": 1, "opened": 1, "extended": 0}
    assert list(DoDProposal.objects.values_list("team__slug", "factor__slug")) == [
        ("payments", "config-change")
    ]
    assert tasks.detect_for_postmortem.apply(args=[999_999]).get() == {
        "findings": 0,
        "opened": 0,
        "extended": 0,
    }


def test_enqueue_happens_only_after_the_transaction_commits(
    team, monkeypatch, django_capture_on_commit_callbacks
):
    sent: list[int] = []
    monkeypatch.setattr(tasks.detect_for_postmortem, "delay", sent.append)
    saved = pm_at(team, day(60), "config-change")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        tasks.enqueue_detection_for_postmortem(saved.pk)
        assert sent == []
    assert len(callbacks) == 1 and sent == [saved.pk]


def test_a_broker_outage_never_fails_the_save(team, monkeypatch, django_capture_on_commit_callbacks):
    def down(*args):
        raise OSError("broker down")

    monkeypatch.setattr(tasks.detect_for_postmortem, "delay", down)
    saved = pm_at(team, day(60), "config-change")
    with django_capture_on_commit_callbacks(execute=True):
        tasks.enqueue_detection_for_postmortem(saved.pk)  # robust=True: logged, not raised
