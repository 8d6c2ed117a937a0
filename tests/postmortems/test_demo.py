"""The demo organisation that ``make run`` loads (``manage.py load_demo``)."""

from __future__ import annotations

import datetime as dt
import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import escape

from postmortems.management.commands import load_demo as load_demo_command
from postmortems.management.commands.load_demo import (
    DEMO_ANCHOR,
    DEMO_PASSWORD,
    demo_files,
    demo_shift_days,
    written_start_dates,
)
from postmortems.models import (
    ActionItem,
    DeclinedChange,
    FixPullRequest,
    PostMortem,
    Service,
    Team,
    TeamMembership,
    TimelineEntry,
)
from postmortems.selectors import action_items_overdue

SECTIONS = ("what_happened", "why_it_happened", "what_we_change", "what_we_dont_change")
BLAME_PHRASES = re.compile(r"human error|should have|be more careful|forgot", re.IGNORECASE)


def load_demo() -> str:
    out = StringIO()
    call_command("load_demo", stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def demo(db) -> str:
    """Load the demo once for the test; returns what the command printed."""
    return load_demo()


def demo_postmortems():
    return PostMortem.objects.filter(external_id__startswith="demo-")


def row_counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (
            PostMortem,
            TimelineEntry,
            ActionItem,
            DeclinedChange,
            FixPullRequest,
            Team,
            TeamMembership,
            Service,
            get_user_model(),
        )
    }


def test_load_demo_creates_postmortems_with_items_and_factors_in_several_teams(demo):
    docs = demo_postmortems()
    assert docs.count() == len(demo_files()) >= 20
    assert docs.values("team").distinct().count() >= 4
    for pm in docs:
        assert pm.action_items.exists(), pm.external_id
        assert pm.factors.exists(), pm.external_id
        assert pm.services.exists(), pm.external_id
    assert set(docs.values_list("severity", flat=True)) == {"SEV1", "SEV2", "SEV3", "SEV4"}
    assert set(docs.values_list("status", flat=True)) == {"draft", "in_review", "reviewed", "published"}


def test_every_demo_postmortem_has_four_sections_timeline_and_owned_items(demo):
    for pm in demo_postmortems():
        for section in SECTIONS:
            assert getattr(pm, section).strip(), (pm.external_id, section)
        assert pm.timeline.count() >= 4, pm.external_id
        assert pm.declined_changes.exists(), pm.external_id
        items = list(pm.action_items.all())
        assert len(items) >= 2, pm.external_id
        assert all(item.owner_id and item.due_date for item in items), pm.external_id
        assert pm.started_at <= pm.detected_at <= pm.resolved_at, pm.external_id
        assert all(pm.started_at <= e.at <= pm.resolved_at for e in pm.timeline.all())


def test_demo_action_items_mix_overdue_done_and_not_doing_with_reasons(demo):
    items = ActionItem.objects.filter(postmortem__in=demo_postmortems())
    assert action_items_overdue(items).count() >= 3
    done = items.filter(status=ActionItem.Status.DONE)
    assert done.count() >= 10
    assert not done.filter(completed_at__isnull=True).exists()
    assert items.filter(status=ActionItem.Status.IN_PROGRESS).exists()
    not_doing = items.filter(status=ActionItem.Status.NOT_DOING)
    assert not_doing.count() >= 2
    assert all(item.not_doing_reason.strip() for item in not_doing)
    assert FixPullRequest.objects.filter(postmortem__in=demo_postmortems()).exists()


def test_demo_dates_are_moved_so_the_anchor_day_reads_as_today(demo):
    shift = dt.timedelta(days=demo_shift_days())
    for external_id, written in written_start_dates().items():
        pm = PostMortem.objects.get(external_id=external_id)
        assert timezone.localdate(pm.started_at, dt.UTC) == written + shift
    # No done item was completed in the future, and the newest incident is
    # as recent relative to today as it was to the anchor.
    items = ActionItem.objects.filter(postmortem__in=demo_postmortems())
    assert not items.filter(completed_at__gt=timezone.now()).exists()
    newest = max(written_start_dates().values())
    assert demo_postmortems().first().started_at.date() == newest + shift


def test_load_demo_twice_changes_nothing(demo):
    before = row_counts()
    dates_before = sorted(demo_postmortems().values_list("external_id", "started_at", "resolved_at"))
    due_before = sorted(
        ActionItem.objects.filter(postmortem__in=demo_postmortems()).values_list(
            "postmortem__external_id", "text", "due_date", "status"
        )
    )

    load_demo()

    assert row_counts() == before
    assert sorted(demo_postmortems().values_list("external_id", "started_at", "resolved_at")) == dates_before
    assert (
        sorted(
            ActionItem.objects.filter(postmortem__in=demo_postmortems()).values_list(
                "postmortem__external_id", "text", "due_date", "status"
            )
        )
        == due_before
    )


def test_demo_teams_have_names_descriptions_and_one_lead(demo):
    teams = Team.objects.filter(postmortems__in=demo_postmortems()).distinct()
    assert teams.count() == 5
    for team in teams:
        assert team.name and team.description, team.slug
        assert team.memberships.filter(role=TeamMembership.Role.LEAD).count() == 1, team.slug
        assert team.services.count() >= 3, team.slug


def test_demo_users_have_names_emails_and_alice_is_admin(demo):
    users = get_user_model().objects.filter(email__endswith="@fernhill.example")
    assert users.count() >= 8
    assert all(u.first_name and u.last_name and u.teams.exists() for u in users)
    alice = users.get(username="alice")
    assert alice.is_staff and alice.is_superuser
    assert not users.exclude(username="alice").filter(is_superuser=True).exists()


def test_demo_user_logs_in_with_demo_password_and_sees_the_list(demo, client):
    assert "Log in at http://127.0.0.1:8000/ as alice / " + DEMO_PASSWORD in demo
    assert "demo password" in demo.lower()
    # django-axes checks every authenticate() call against its lockouts, so it needs the request.
    assert client.login(request=HttpRequest(), username="bob", password=DEMO_PASSWORD)
    assert client.login(request=HttpRequest(), username="alice", password=DEMO_PASSWORD)

    response = client.get("/postmortems/")

    assert response.status_code == 200
    newest = demo_postmortems().filter(status=PostMortem.Status.PUBLISHED).first()
    assert escape(newest.title) in response.content.decode()


def test_demo_list_refuses_anonymous_visitors(demo, client):
    response = client.get("/postmortems/")

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_demo_shows_recurring_contributing_factors(demo):
    docs = demo_postmortems()
    # config-change recurs in one team within 90 days (pattern detection demo).
    config = sorted(
        docs.filter(factors__slug="config-change", team__slug="payments").values_list("started_at", flat=True)
    )
    assert len(config) >= 4 and config[3] - config[0] <= dt.timedelta(days=90)
    assert docs.filter(factors__slug="expired-credential").values("team").distinct().count() >= 2
    assert docs.filter(factors__slug="retry-storm").count() >= 2
    assert docs.filter(factors__slug="missing-test").count() >= 8


def test_demo_documents_use_blameless_language(demo):
    for path in demo_files():
        text = path.read_text(encoding="utf-8")
        assert not BLAME_PHRASES.search(text), (path.name, BLAME_PHRASES.search(text))
    for pm in demo_postmortems():
        for section in SECTIONS:
            assert not BLAME_PHRASES.search(getattr(pm, section)), (pm.external_id, section)


def test_demo_shift_is_whole_days_from_the_anchor():
    assert demo_shift_days(DEMO_ANCHOR) == 0
    assert demo_shift_days(DEMO_ANCHOR + dt.timedelta(days=20)) == 20
    assert demo_shift_days(DEMO_ANCHOR - dt.timedelta(days=3)) == -3


def test_load_demo_reports_a_broken_demo_file_and_refuses_to_finish(db, tmp_path, monkeypatch):
    good = demo_files()[0]
    (tmp_path / good.name).write_text(good.read_text(encoding="utf-8"), encoding="utf-8")
    broken = good.read_text(encoding="utf-8").replace("factors: [", "factors: [operator-slip, ", 1)
    broken = broken.replace("external_id: demo-", "external_id: demo-broken-", 1)
    (tmp_path / "zz-broken.md").write_text(broken, encoding="utf-8")
    monkeypatch.setattr(load_demo_command, "DEMO_DIR", tmp_path)
    err = StringIO()

    with pytest.raises(CommandError, match="could not be imported"):
        call_command("load_demo", stdout=StringIO(), stderr=err)

    assert "zz-broken.md" in err.getvalue() and "operator-slip" in err.getvalue()
    assert not PostMortem.objects.filter(external_id__startswith="demo-broken-").exists()


def test_load_demo_refuses_an_empty_demo_folder(db, tmp_path, monkeypatch):
    monkeypatch.setattr(load_demo_command, "DEMO_DIR", tmp_path)

    with pytest.raises(CommandError, match="No demo documents"):
        call_command("load_demo", stdout=StringIO(), stderr=StringIO())

    assert not PostMortem.objects.exists()


def test_demo_security_incident_is_restricted_to_its_team_and_named_readers(demo):
    users = {u.username: u for u in get_user_model().objects.filter(email__endswith="@fernhill.example")}
    pm = PostMortem.objects.get(external_id="demo-platform-006")
    assert pm.visibility == PostMortem.Visibility.RESTRICTED
    assert list(pm.restricted_to.values_list("username", flat=True)) == ["grace"]
    assert f"{pm.key} is restricted" in demo
    readers = set(PostMortem.objects.filter(pk=pm.pk).values_list("pk", flat=True))
    for name, may_read in {
        "dave": True,
        "erin": True,
        "grace": True,
        "alice": True,
        "ivan": False,
        "judy": False,
    }.items():
        visible = set(
            PostMortem.objects.visible_to(users[name]).filter(pk=pm.pk).values_list("pk", flat=True)
        )
        assert (visible == readers) is may_read, name
    # Loading again keeps it restricted without restricting it a second time.
    load_demo()
    pm.refresh_from_db()
    assert pm.visibility == PostMortem.Visibility.RESTRICTED
    reasons = PostMortem.history.filter(id=pm.pk).values_list("history_change_reason", flat=True)
    assert list(reasons).count("demo: restricted (security incident)") == 1
